//! Rotating the connector's own password (the Secrets Manager rotation steps' target side).

use reqwest::Method;
use serde_json::json;

use super::client::{ConnectorCredentials, EsClient};
use crate::driver::DriverError;
use crate::password::generate_password;
use crate::secrets::SecretValue;

/// Why an API-key connector is refused: Elasticsearch lets an API key create only keys with
/// no privileges ("derived" keys), so a key cannot mint its own privileged successor.
pub const API_KEY_ROTATION_REFUSED: &str = "the connector authenticates with an API key; \
Elasticsearch lets an API key create only keys without privileges, so it cannot create its own \
successor. Create a new key as the connector user (or an administrator), store it in the secret, \
then invalidate the old key — see the README section \"Rotating an API-key connector\"";

pub fn username_of(current: &ConnectorCredentials) -> Result<&str, DriverError> {
    match current {
        ConnectorCredentials::Basic { username, .. } => Ok(username),
        ConnectorCredentials::ApiKey { .. } => Err(DriverError::Refused {
            reason: API_KEY_ROTATION_REFUSED.into(),
        }),
    }
}

pub fn next_secret(current: &ConnectorCredentials) -> Result<SecretValue, DriverError> {
    let username = username_of(current)?;
    let password = generate_password();
    Ok(SecretValue::new(
        json!({"username": username, "password": password.expose()}).to_string(),
    ))
}

/// Change the connector's password as the connector itself. If the current password no longer
/// works, an earlier attempt may already have set the pending one: accept that.
pub async fn set(
    current: &EsClient,
    pending: &EsClient,
    pending_secret: &SecretValue,
) -> Result<(), DriverError> {
    let creds = ConnectorCredentials::from_secret(pending_secret)?;
    let ConnectorCredentials::Basic { password, .. } = &creds else {
        return Err(DriverError::Refused {
            reason: API_KEY_ROTATION_REFUSED.into(),
        });
    };
    match current
        .json(
            Method::POST,
            "/_security/user/_password",
            Some(&json!({ "password": password.expose() })),
            true,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(DriverError::Unauthorized { .. }) => pending
            .json(Method::GET, "/_security/_authenticate", None, true)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    }
}
