//! Requester credential rotation (`user` mode): every `credential_rotation_days` an
//! Elasticsearch user's password is replaced and its credential secret updated, never while
//! the user has an active grant (then at the start of the next grant: the provision function
//! calls [`rotation_due`] and [`rotate_principal`] before it adds the grant).
//!
//! The order never leaves the user without a stored, working password: the new password is
//! staged as AWSPENDING on the user's credential secret, set on the target, promoted to
//! AWSCURRENT, and only then recorded on the principal. A run that stops half-way is finished
//! by the next one, which reuses the staged password instead of making another.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::credentials;
use crate::driver::{Driver, DriverError};
use crate::model::{AuditEvent, AuditSubject, Integration, IntegrationKind, PrincipalState};
use crate::password::generate_password;
use crate::secrets::{AWSCURRENT, AWSPENDING, SecretStore, SecretValue, SecretsError};
use crate::store::{AuditStore, PrincipalStore, StoreError};

/// The actor recorded in the audit trail.
pub const ACTOR: &str = "system:rotate";
/// How often the final principal write is retried after losing a race.
const SAVE_ATTEMPTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum RequesterRotationError {
    /// Not an error of the system: the account is in use, rotation waits for the next grant.
    #[error("{integration}/{name} has active grants; its password is rotated at its next grant")]
    ActiveGrants { integration: String, name: String },
    /// Another change holds the account's lease; the next run (or grant) tries again.
    #[error("{integration}/{name} is being changed by {holder}; rotation will be tried again")]
    Busy {
        integration: String,
        name: String,
        holder: String,
    },
    #[error("{integration}/{name} has no credential secret to rotate")]
    NoCredentialSecret { integration: String, name: String },
    /// The stored account now belongs to another person than the one this rotation was
    /// started for (it was deleted and re-created meanwhile): leave it to its owner's next run.
    #[error("{integration}/{name} changed owner since this rotation was started")]
    OwnerChanged { integration: String, name: String },
    #[error("{integration}/{name} is not known to the state store")]
    UnknownPrincipal { integration: String, name: String },
    #[error("integration {integration} has no requester passwords to rotate")]
    NotSupported { integration: String },
    #[error("credential secret: {0}")]
    Secrets(#[from] SecretsError),
    #[error("target: {0}")]
    Driver(#[from] DriverError),
    #[error("state store: {0}")]
    Store(#[from] StoreError),
}

impl RequesterRotationError {
    /// The rotation was declined by rule (in use, nothing to rotate), not failed.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::ActiveGrants { .. }
                | Self::Busy { .. }
                | Self::OwnerChanged { .. }
                | Self::NoCredentialSecret { .. }
                | Self::NotSupported { .. }
        )
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::ActiveGrants { .. } => "principal_active",
            Self::Busy { .. } => "principal_busy",
            Self::OwnerChanged { .. } => crate::grants::ACCOUNT_OWNED,
            Self::NoCredentialSecret { .. } => "no_credential_secret",
            Self::UnknownPrincipal { .. } => "unknown_principal",
            Self::NotSupported { .. } => "not_supported",
            Self::Secrets(_) => "secrets_error",
            Self::Driver(e) => e.code(),
            Self::Store(_) => "state_error",
        }
    }
}

/// Does this integration rotate requester passwords at all? (Elasticsearch with
/// `credential_rotation_days` set.)
pub fn rotates_requesters(integration: &Integration) -> bool {
    integration.kind() == IntegrationKind::Elasticsearch
        && integration
            .spec
            .credential_rotation_days
            .is_some_and(|d| d > 0)
}

/// Is the principal's password older than `credential_rotation_days` (counted from its last
/// rotation, else from the account's creation)? Says nothing about whether it is in use: the
/// caller checks `active_grants` (the schedule skips active accounts; provision asks before it
/// adds the new grant).
pub fn rotation_due(p: &PrincipalState, integration: &Integration, now: DateTime<Utc>) -> bool {
    if !rotates_requesters(integration) {
        return false;
    }
    let Some(days) = integration.spec.credential_rotation_days else {
        return false;
    };
    let since = p.password_rotated_at.unwrap_or(p.created_at);
    since + Duration::days(i64::from(days)) <= now
}

fn subject(p: &PrincipalState) -> AuditSubject {
    AuditSubject::Principal(format!("{}/{}", p.integration, p.name))
}

/// Replace the principal's password on the target and in its credential secret, and record
/// `password_rotated_at = now`. Refuses (changes nothing) while the principal has active
/// grants, and while another holder has the account's lease: a caller that holds the lease
/// (provision, at the start of a grant) passes the principal carrying its `lock_owner`.
/// `driver` must be the integration's driver (built from the connector secret).
///
/// Returns the stored principal with its new version.
pub async fn rotate_principal<S>(
    store: &S,
    secrets: &dyn SecretStore,
    driver: &dyn Driver,
    integration: &Integration,
    principal: &PrincipalState,
    now: DateTime<Utc>,
) -> Result<PrincipalState, RequesterRotationError>
where
    S: PrincipalStore + AuditStore + ?Sized,
{
    let result = rotate(store, secrets, driver, integration, principal, now).await;
    if let Err(e) = &result
        && !e.is_refusal()
    {
        tracing::warn!(
            integration = %principal.integration,
            principal = %principal.name,
            code = e.code(),
            error = %e,
            "requester password rotation failed"
        );
        let event = AuditEvent::new(
            now,
            ACTOR,
            "principal.password_rotation_failed",
            subject(principal),
        )
        .failed()
        .with_integration(&principal.integration)
        .with_details(json!({ "code": e.code(), "error": e.to_string() }));
        if let Err(a) = store.append_audit(&[event]).await {
            tracing::error!(error = %a, "cannot write audit event");
        }
    }
    result
}

async fn rotate<S>(
    store: &S,
    secrets: &dyn SecretStore,
    driver: &dyn Driver,
    integration: &Integration,
    principal: &PrincipalState,
    now: DateTime<Utc>,
) -> Result<PrincipalState, RequesterRotationError>
where
    S: PrincipalStore + AuditStore + ?Sized,
{
    if integration.kind() != IntegrationKind::Elasticsearch {
        return Err(RequesterRotationError::NotSupported {
            integration: integration.name.clone(),
        });
    }
    // Decide on the stored record, not on a possibly stale copy.
    let fresh = store
        .get_principal(&principal.integration, &principal.name)
        .await?
        .ok_or_else(|| RequesterRotationError::UnknownPrincipal {
            integration: principal.integration.clone(),
            name: principal.name.clone(),
        })?;
    // An account belongs to one person: a password is only ever replaced for the owner the
    // caller read, never for whoever holds the name now.
    if !fresh.is_owned_by(&principal.owner()) {
        return Err(RequesterRotationError::OwnerChanged {
            integration: fresh.integration.clone(),
            name: fresh.name.clone(),
        });
    }
    if !fresh.active_grants.is_empty() {
        return Err(RequesterRotationError::ActiveGrants {
            integration: fresh.integration.clone(),
            name: fresh.name.clone(),
        });
    }
    let holder = principal.lock_owner.as_deref().unwrap_or(ACTOR);
    if fresh.is_locked_by_other(holder, now) {
        return Err(RequesterRotationError::Busy {
            integration: fresh.integration.clone(),
            name: fresh.name.clone(),
            holder: fresh.lock_owner.clone().unwrap_or_default(),
        });
    }
    let secret_id = fresh.credential_secret_arn.clone().ok_or_else(|| {
        RequesterRotationError::NoCredentialSecret {
            integration: fresh.integration.clone(),
            name: fresh.name.clone(),
        }
    })?;

    // 1. Stage the new password (or take up the one an interrupted run staged).
    let desc = secrets.describe(&secret_id).await?;
    let current = desc
        .versions_to_stages
        .iter()
        .find(|(_, s)| s.iter().any(|x| x == AWSCURRENT))
        .map(|(v, _)| v.clone());
    let staged = desc
        .versions_to_stages
        .iter()
        .find(|(v, s)| s.iter().any(|x| x == AWSPENDING) && Some(*v) != current.as_ref())
        .map(|(v, _)| v.clone());
    let (pending_version, pending, resumed) = match staged {
        Some(v) => {
            let value = secrets.get_version(&secret_id, &v, AWSPENDING).await?;
            (v, value, true)
        }
        None => {
            let value = credentials::encode(&fresh.name, &generate_password());
            let token = uuid::Uuid::new_v4().to_string();
            let v = secrets
                .put(&secret_id, &value, Some(&token), &[AWSPENDING])
                .await?;
            let v = if v.is_empty() { token } else { v };
            (v, value, false)
        }
    };
    let password: SecretValue = credentials::password_of(&pending)?;

    // 2. Make it the account's password on the target (setting the same one twice is harmless).
    driver
        .set_principal_password(&fresh.name, &password)
        .await?;

    // 3. Promote it; the old version becomes AWSPREVIOUS.
    secrets
        .move_stage(&secret_id, AWSCURRENT, &pending_version, current.as_deref())
        .await?;
    if let Err(e) = secrets
        .remove_stage(&secret_id, AWSPENDING, &pending_version)
        .await
    {
        // Harmless: a pending label on the current version is never taken up again.
        tracing::info!(principal = %fresh.name, error = %e, "AWSPENDING label left on the promoted version");
    }

    // 4. Record it, with the audit event in the same write.
    let event = AuditEvent::new(now, ACTOR, "principal.password_rotated", subject(&fresh))
        .with_integration(&fresh.integration)
        .with_details(json!({
            "credential_secret_arn": secret_id,
            "version_id": pending_version,
            "previous_rotation_at": fresh.password_rotated_at,
            "resumed": resumed,
        }));
    let mut record = fresh;
    for attempt in 1..=SAVE_ATTEMPTS {
        let mut updated = record.clone();
        updated.password_rotated_at = Some(now);
        updated.updated_at = now;
        match store
            .save_principal(&updated, Some(record.version), std::slice::from_ref(&event))
            .await
        {
            Ok(saved) => return Ok(saved),
            Err(e) if e.is_conflict() && attempt < SAVE_ATTEMPTS => {
                // Another change (e.g. a grant starting) won: the password is already rotated
                // and stored, so reapply the date to the newer record.
                record = store
                    .get_principal(&record.integration, &record.name)
                    .await?
                    .ok_or_else(|| RequesterRotationError::UnknownPrincipal {
                        integration: record.integration.clone(),
                        name: record.name.clone(),
                    })?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(RequesterRotationError::Store(StoreError::Conflict {
        entity: "principal",
        id: format!("{}/{}", record.integration, record.name),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::IntegrationSpec;

    fn integration(days: Option<u32>) -> Integration {
        let spec: IntegrationSpec = serde_json::from_value(json!({
            "kind": "elasticsearch",
            "url": "https://es.example.com:9200",
            "secret_arn": "conn",
            "credential_rotation_days": days,
        }))
        .unwrap();
        let t = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        Integration {
            name: "prod".into(),
            spec,
            version: 1,
            created_at: t,
            updated_at: t,
            last_discovery_at: None,
            last_discovery_error: None,
            pending_retires: vec![],
            managed_by: None,
        }
    }

    fn principal(created: &str, rotated: Option<&str>) -> PrincipalState {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let mut p = PrincipalState::new("prod", "ejit_alice", "u-1", at(created));
        p.credential_secret_arn = Some("cred".into());
        p.password_rotated_at = rotated.map(at);
        p.version = 1;
        p
    }

    #[test]
    fn due_after_the_configured_days_from_rotation_or_creation() {
        let now = DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let i = integration(Some(30));
        assert!(rotation_due(
            &principal("2026-01-01T00:00:00Z", None),
            &i,
            now
        ));
        assert!(!rotation_due(
            &principal("2026-02-15T00:00:00Z", None),
            &i,
            now
        ));
        assert!(!rotation_due(
            &principal("2026-01-01T00:00:00Z", Some("2026-02-10T00:00:00Z")),
            &i,
            now
        ));
        assert!(rotation_due(
            &principal("2026-01-01T00:00:00Z", Some("2026-01-30T00:00:00Z")),
            &i,
            now
        ));
        assert!(!rotation_due(
            &principal("2020-01-01T00:00:00Z", None),
            &integration(None),
            now
        ));
    }
}
