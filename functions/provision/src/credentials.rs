//! `GET /requests/{id}/credentials`: only the requester, only while the grant is active.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use serde_json::{Value, json};
use shared::api::{ApiError, Caller, json_response};
use shared::credentials::password_of;
use shared::grants::{GrantError, grant_secret_name, principal_name};
use shared::model::{IntegrationKind, RequestStatus, TargetObject};
use shared::secrets::{AWSCURRENT, AWSPREVIOUS, SecretValue};

use crate::App;

pub async fn get(
    app: &App,
    caller: &Caller,
    id: &str,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let r = app
        .services
        .store
        .get_request(id)
        .await?
        .ok_or_else(|| ApiError::not_found("request", id))?;
    if !r.requester.same_person(&caller.identity) {
        return Err(ApiError::forbidden(
            "only the requester can read a grant's credentials",
        ));
    }
    let now = app.services.clock.now();
    if r.status != RequestStatus::Active || r.ends_at.is_none_or(|end| end <= now) {
        return Err(ApiError::new(
            409,
            "grant_not_active",
            format!(
                "the request is {}; credentials exist only while its grant is active",
                r.status
            ),
        ));
    }
    let integration = app
        .services
        .store
        .get_integration(&r.integration)
        .await?
        .ok_or_else(|| {
            ApiError::new(409, "grant_not_active", "the integration no longer exists")
        })?;
    let account = principal_name(&integration, &r.requester)
        .map_err(|m| ApiError::bad_request("identity_not_mappable", m))?;
    let mut body = json!({
        "request_id": r.id,
        "integration": integration.name,
        "kind": integration.kind().as_str(),
        "resources": r.resources,
        "permission": r.permission,
        "expires_at": r.ends_at,
        "custom_access_details": integration.spec.custom_access_details,
    });
    let proxy = r
        .created_objects
        .iter()
        .any(|o| matches!(o, TargetObject::ProxyCredential { .. }));
    match integration.kind() {
        IntegrationKind::Elasticsearch if proxy => {
            // The proxy's address, never the cluster's: the cluster has no security of its own.
            body["url"] = json!(integration.spec.proxy_url);
            let stored = grant_secret(app, &integration.name, &r.id).await?;
            body["mode"] = json!("proxy");
            body["username"] = stored["username"].clone();
            body["password"] = stored["password"].clone();
            body["api_key_id"] = stored["id"].clone();
            body["api_key"] = stored["api_key"].clone();
            body["authorization_header"] = json!(format!(
                "ApiKey {}",
                stored["api_key"].as_str().unwrap_or_default()
            ));
        }
        IntegrationKind::Elasticsearch => {
            body["url"] = json!(integration.spec.url);
            // The newest key: an extension adds one that ends with the grant.
            let recorded: Vec<&str> = r
                .created_objects
                .iter()
                .filter_map(|o| match o {
                    TargetObject::EsApiKey { id, .. } => Some(id.as_str()),
                    _ => None,
                })
                .collect();
            if let Some(key_id) = recorded.last() {
                let name =
                    grant_secret_name(&app.services.config.secret_prefix, &integration.name, &r.id);
                let stored = recorded_key(app, &name, &recorded).await?;
                body["mode"] = json!("api_key");
                body["api_key_id"] = stored.get("id").cloned().unwrap_or(json!(key_id));
                body["api_key"] = stored["api_key"].clone();
                body["authorization_header"] = json!(format!(
                    "ApiKey {}",
                    stored["api_key"].as_str().unwrap_or_default()
                ));
            } else {
                let principal = app
                    .services
                    .store
                    .get_principal(&integration.name, &account)
                    .await?
                    .ok_or_else(|| {
                        ApiError::internal("credentials", &"grant without its account state")
                    })?;
                // The account must be this person's: a name two identities map to is never a
                // way into someone else's password.
                if !principal.is_owned_by(&caller.identity.person()) {
                    return Err(GrantError::AccountOwned(account).into());
                }
                let arn = principal.credential_secret_arn.ok_or_else(|| {
                    ApiError::internal("credentials", &"account without a credential secret")
                })?;
                let secret = read(app, &arn).await?;
                let password = password_of(&secret)
                    .map_err(|e| ApiError::internal("credential secret", &e))?;
                body["mode"] = json!("user");
                body["username"] = json!(account);
                body["password"] = json!(password.expose());
            }
        }
        IntegrationKind::ElasticCloud => {
            body["email"] = json!(account);
            body["login_url"] = json!("https://cloud.elastic.co/login");
            let invitation = r
                .created_objects
                .iter()
                .any(|o| matches!(o, TargetObject::CloudInvitation { .. }));
            body["how"] = json!(if invitation {
                "accept the Elastic Cloud invitation sent to your email, then log in; the role ends at expires_at"
            } else {
                "log in to Elastic Cloud with your usual account; the role is on it until expires_at"
            });
        }
    }
    tracing::info!(request_id = %r.id, "credentials handed to the requester");
    Ok(json_response(200, &body))
}

/// The grant's own secret (its API key, or its proxy credential), as stored JSON.
async fn grant_secret(app: &App, integration: &str, id: &str) -> Result<Value, ApiError> {
    let name = grant_secret_name(&app.services.config.secret_prefix, integration, id);
    read(app, &name)
        .await?
        .parse_json()
        .map_err(|e| ApiError::internal("grant secret", &e))
}

async fn read(app: &App, id: &str) -> Result<SecretValue, ApiError> {
    read_stage(app, id, AWSCURRENT).await
}

async fn read_stage(app: &App, id: &str, stage: &str) -> Result<SecretValue, ApiError> {
    app.services
        .secrets
        .get(id, stage)
        .await
        .map_err(|e| ApiError::internal("credential secret", &e))
}

/// The grant's current API key from its secret. An extension stores its new key before it
/// records it: when that record did not land, the key was invalidated and the stored value
/// is ahead of the grant, so the key before it (AWSPREVIOUS, still the grant's) is the one
/// to hand out. The secret never holds a key the grant has not recorded for long: a retried
/// extension stores its own.
async fn recorded_key(app: &App, name: &str, recorded: &[&str]) -> Result<Value, ApiError> {
    let parse = |secret: SecretValue| -> Result<Value, ApiError> {
        secret
            .parse_json()
            .map_err(|e| ApiError::internal("grant secret", &e))
    };
    let is_recorded = |v: &Value| v["id"].as_str().is_some_and(|id| recorded.contains(&id));
    let current = parse(read(app, name).await?)?;
    if is_recorded(&current) {
        return Ok(current);
    }
    if let Ok(previous) = read_stage(app, name, AWSPREVIOUS).await {
        let previous = parse(previous)?;
        if is_recorded(&previous) {
            tracing::warn!(secret = %name, "the grant secret holds an unrecorded extension key; handing out the recorded one");
            return Ok(previous);
        }
    }
    Ok(current)
}
