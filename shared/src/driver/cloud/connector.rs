//! The connector key: the prerequisite checks, and its rotation (the Secrets Manager rotation
//! steps' target side). Cloud keys are made server-side, so the new key is created in
//! `createSecret`, proven in `setSecret`/`testSecret`, and the old one deleted last.

use chrono::{SecondsFormat, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::{CloudClient, CloudCredentials, segment};
use crate::driver::DriverError;
use crate::secrets::SecretValue;

/// The Cloud role the connector key must hold: only Organization owners may manage members,
/// invitations, role assignments and keys.
pub const REQUIRED_ROLE: &str = "organization-admin";
pub const MISSING_OWNER_ROLE: &str = "Elastic Cloud role [organization-admin] (Organization owner)";

/// A rotated key's lifetime when the integration sets no rotation period: Elastic's default.
const DEFAULT_KEY_DAYS: u32 = 90;
/// The longest lifetime the Cloud console offers short of "never".
const MAX_KEY_DAYS: u32 = 365;

pub const OLD_KEY_WITHOUT_ID: &str = "the new connector key is in use, but the previous secret has \
no \"api_key_id\", so elastic-jit cannot tell which Cloud API key to delete: delete the old key in \
the Elastic Cloud console (Organization → API keys)";

pub const KEY_ID_REQUIRED: &str = "the connector secret has no \"api_key_id\": elastic-jit \
reads the key's own role assignments to prove it is an Organization owner's; store \
{\"api_key\": \"...\", \"api_key_id\": \"<its id from Organization → API keys>\"}";

/// Does the key authenticate, is the organization there and the key's own, and do the key's
/// own role assignments make it an Organization owner? Being able to list keys proves nothing:
/// a "Workload credentials owner" key can list and revoke its own keys without being an owner
/// (Elastic Cloud docs, "Elastic Cloud API keys"), so the key's record
/// (`GET /users/auth/keys/{api_key_id}`, cloud-sdk-go `api/apidocs-user.json`
/// `get-api-key` → `ApiKeyResponse.role_assignments`) is read instead.
pub async fn check(
    cloud: &CloudClient,
    organization_id: &str,
    key_id: Option<&str>,
) -> Result<(), DriverError> {
    organization(cloud, organization_id).await?;
    let Some(key_id) = key_id else {
        return Err(DriverError::BadConnectorSecret {
            reason: KEY_ID_REQUIRED.into(),
        });
    };
    let path = format!("/users/auth/keys/{}", segment(key_id));
    let key = match cloud.json(Method::GET, &path, None, true).await {
        Ok(key) => key,
        Err(DriverError::Api { status: 403, .. }) => {
            return Err(DriverError::MissingPrivileges {
                missing: vec![MISSING_OWNER_ROLE.into()],
            });
        }
        Err(e) if e.is_not_found() => {
            return Err(DriverError::Refused {
                reason: format!(
                    "the connector secret's api_key_id [{key_id}] is not a key this key can see \
                     in organization [{organization_id}]; store the id of the key itself"
                ),
            });
        }
        Err(e) => return Err(e),
    };
    if is_organization_owner(&key["role_assignments"], organization_id) {
        Ok(())
    } else {
        Err(DriverError::MissingPrivileges {
            missing: vec![MISSING_OWNER_ROLE.into()],
        })
    }
}

/// `RoleAssignments.organization` holds `organization-admin` for this organization.
fn is_organization_owner(assignments: &serde_json::Value, organization_id: &str) -> bool {
    assignments["organization"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|a| {
            a["role_id"].as_str() == Some(REQUIRED_ROLE)
                && a["organization_id"].as_str() == Some(organization_id)
        })
}

/// Read the organization, turning "not found" and "not yours" into errors that name it.
pub async fn organization(
    cloud: &CloudClient,
    organization_id: &str,
) -> Result<serde_json::Value, DriverError> {
    let path = format!("/organizations/{}", segment(organization_id));
    match cloud.json(Method::GET, &path, None, true).await {
        Err(DriverError::Api { status: 404, .. }) => Err(DriverError::Refused {
            reason: format!(
                "Elastic Cloud organization [{organization_id}] does not exist; check the \
                 integration's organization_id"
            ),
        }),
        Err(DriverError::Api { status: 403, .. }) => Err(DriverError::Refused {
            reason: format!(
                "the connector key does not belong to Elastic Cloud organization \
                 [{organization_id}]; create the key in that organization"
            ),
        }),
        other => other,
    }
}

#[derive(Deserialize)]
struct CreatedKey {
    id: String,
    key: String,
}

/// How long a rotated key lives: two rotation periods, so one missed rotation does not lock
/// the connector out, and never less than Elastic's default.
pub fn key_lifetime_days(rotation_days: Option<u32>) -> u32 {
    rotation_days
        .map(|d| d.saturating_mul(2))
        .unwrap_or(DEFAULT_KEY_DAYS)
        .clamp(DEFAULT_KEY_DAYS, MAX_KEY_DAYS)
}

/// Create the next connector key as the current one, holding only `organization-admin`.
pub async fn create(
    cloud: &CloudClient,
    organization_id: &str,
    integration: &str,
    rotation_days: Option<u32>,
) -> Result<SecretValue, DriverError> {
    let body = json!({
        "description": format!(
            "elastic-jit connector for {integration} (rotated {})",
            Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
        "expiration": format!("{}d", key_lifetime_days(rotation_days)),
        "role_assignments": {
            "organization": [{"role_id": REQUIRED_ROLE, "organization_id": organization_id}],
        },
    });
    // Not idempotent: a retried create after a lost answer would leave an unknown key behind.
    let answer = match cloud
        .json(Method::POST, "/users/auth/keys", Some(&body), false)
        .await
    {
        Err(DriverError::Api { status: 403, .. }) => {
            return Err(DriverError::MissingPrivileges {
                missing: vec![MISSING_OWNER_ROLE.into()],
            });
        }
        other => other?,
    };
    let created: CreatedKey = serde_json::from_value(answer).map_err(|_| {
        // The answer holds the key: never echo it.
        cloud.protocol("POST /users/auth/keys", "the answer has no id or key")
    })?;
    Ok(CloudCredentials {
        api_key: SecretValue::new(created.key),
        api_key_id: Some(created.id),
    }
    .to_secret())
}

/// Delete the old key, authenticating with the new one (the old may already be unusable).
pub async fn retire(
    new_client: &CloudClient,
    old: &CloudCredentials,
    new: &CloudCredentials,
) -> Result<(), DriverError> {
    if old.api_key.expose() == new.api_key.expose()
        || (old.api_key_id.is_some() && old.api_key_id == new.api_key_id)
    {
        // Nothing was rotated: deleting "the old key" would delete the one in use.
        return Ok(());
    }
    let Some(id) = &old.api_key_id else {
        return Err(DriverError::Refused {
            reason: OLD_KEY_WITHOUT_ID.into(),
        });
    };
    let path = format!("/users/auth/keys/{}", segment(id));
    match new_client.json(Method::DELETE, &path, None, true).await {
        Ok(_) => {
            tracing::info!(api_key_id = %id, "previous connector key deleted");
            Ok(())
        }
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_organization_admin_on_this_organization_is_an_owner() {
        let owner =
            json!({"organization": [{"role_id": "organization-admin", "organization_id": "o1"}]});
        assert!(is_organization_owner(&owner, "o1"));
        assert!(
            !is_organization_owner(&owner, "o2"),
            "another organization's owner"
        );
        for other in [
            json!({}),
            json!({"organization": [{"role_id": "workload-credentials-owner", "organization_id": "o1"}]}),
            json!({"organization": [{"role_id": "billing-admin", "organization_id": "o1"}]}),
            json!({"deployment": [{"role_id": "deployment-admin", "organization_id": "o1", "all": true}]}),
        ] {
            assert!(!is_organization_owner(&other, "o1"), "{other}");
        }
    }

    #[test]
    fn key_lifetime_covers_two_rotations_within_bounds() {
        assert_eq!(key_lifetime_days(None), 90);
        assert_eq!(key_lifetime_days(Some(30)), 90);
        assert_eq!(key_lifetime_days(Some(60)), 120);
        assert_eq!(key_lifetime_days(Some(400)), 365);
    }
}
