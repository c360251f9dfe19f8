//! Extending an active grant: its end, its expiry schedule and, in `api_key` mode, its
//! credential move later without interrupting access.
//!
//! Racing expiry is settled by time, not by a lock: an extension is refused once the grant is
//! within [`EXTEND_CUTOFF`] of its end, and the revoke function acts on an expiry only within a
//! minute of the end it reads. An extension's write lands within its invocation (30 s), long
//! before that minute, so a revoke that acts has read the end the extension left, and an
//! extension that lands has moved an end no revoke was acting on.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::credentials;
use crate::driver::{GrantPlan, PrincipalPlan, RevokePlan};
use crate::grants::{GrantError, Grants, grant_secret_name, principal_name};
use crate::model::{
    AccessFlow, AccessRequest, AuditEvent, AuditSubject, CredentialMode, ExtensionAllowance,
    ExtensionPolicy, KeyRenewal, RENEWAL_LEASE, RequestStatus, TargetObject, format_duration,
};
use crate::secrets::{AWSCURRENT, SecretValue};
use crate::store::StoreError;

/// How often one extension moves the expiry schedule after finding the recorded end moved
/// again: each move answers one later extension, and a grant has few.
const MAX_SCHEDULE_MOVES: usize = 4;

/// How close to its end a grant may still be extended: any closer and its expiry may already
/// be under way.
pub const EXTEND_CUTOFF: Duration = Duration::minutes(5);
/// Writes tried when something other than an extension changed the grant meanwhile.
const CHANGE_ATTEMPTS: usize = 3;

/// What the requester asks for.
#[derive(Debug, Clone)]
pub struct ExtendAsk {
    /// Who asks (the audit actor).
    pub by: String,
    /// How much to add to the grant's current end.
    pub add: StdDuration,
    pub justification: Option<String>,
    /// The approved extension request this applies, if it needed approval.
    pub request: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExtendError {
    #[error("{0}")]
    NotOffered(String),
    #[error("the request is {0}; only an active grant can be extended")]
    NotActive(RequestStatus),
    #[error(
        "the grant has ended or ends within {} and can no longer be extended; request access \
         again",
        format_duration(EXTEND_CUTOFF.to_std().unwrap_or_default())
    )]
    Ending,
    #[error("this grant was already extended {0} times, the most its flow allows")]
    LimitReached(u32),
    #[error("{0}")]
    TooLong(String),
    #[error(
        "this grant already reaches the most its flow allows in all ({0} after it started); \
         request access again"
    )]
    TotalReached(String),
    #[error("the grant changed while it was being extended; read it and try again")]
    Changed,
    #[error("an extension of this grant is being applied; try again in a minute")]
    InProgress,
    #[error("the extension's API key could not be issued: {0}")]
    Target(String),
    #[error(transparent)]
    Grant(#[from] GrantError),
}

impl From<StoreError> for ExtendError {
    fn from(e: StoreError) -> Self {
        Self::Grant(GrantError::Store(e))
    }
}

impl From<ExtendError> for crate::api::ApiError {
    fn from(e: ExtendError) -> Self {
        use crate::api::ApiError;
        let msg = e.to_string();
        match e {
            ExtendError::NotOffered(_) => ApiError::new(409, "extension_not_offered", msg),
            ExtendError::NotActive(_) | ExtendError::Ending => {
                ApiError::new(409, "grant_not_active", msg)
            }
            ExtendError::LimitReached(_) | ExtendError::TotalReached(_) => {
                ApiError::new(409, "extension_limit_reached", msg)
            }
            ExtendError::TooLong(_) => ApiError::bad_request("extension_too_long", msg),
            ExtendError::Changed => ApiError::new(409, "grant_changed", msg),
            ExtendError::InProgress => ApiError::new(409, "extension_in_progress", msg),
            ExtendError::Target(_) => ApiError::new(502, "key_renewal_failed", msg),
            ExtendError::Grant(g) => g.into(),
        }
    }
}

/// The flow's extension policy, if the grant's flow still offers extensions.
pub fn policy_of(flow: Option<&AccessFlow>) -> Result<&ExtensionPolicy, ExtendError> {
    let flow = flow.ok_or_else(|| {
        ExtendError::NotOffered("the grant's access flow no longer exists".into())
    })?;
    flow.spec.extension.as_ref().ok_or_else(|| {
        ExtendError::NotOffered(format!(
            "access flow {} does not offer extensions; request access again",
            flow.name
        ))
    })
}

/// What `grant` may still be extended by under `policy` (none unless it is active).
pub fn allowance(grant: &AccessRequest, policy: &ExtensionPolicy) -> Option<ExtensionAllowance> {
    match (grant.status, grant.starts_at, grant.ends_at) {
        (RequestStatus::Active, Some(start), Some(end)) => {
            Some(policy.allowance(start, end, grant.extensions))
        }
        _ => None,
    }
}

/// The grant's new end if `add` may be added to it now, or why not.
pub fn check(
    grant: &AccessRequest,
    policy: &ExtensionPolicy,
    add: StdDuration,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ExtendError> {
    let (Some(end), Some(a)) = (grant.ends_at, allowance(grant, policy)) else {
        return Err(ExtendError::NotActive(grant.status));
    };
    if end <= now + EXTEND_CUTOFF {
        return Err(ExtendError::Ending);
    }
    if a.remaining == 0 {
        return Err(ExtendError::LimitReached(grant.extensions));
    }
    // Nothing left before the flow's total: no length would do, so it is a limit (409), not
    // a request too long (400).
    if a.max_extension_secs == 0 {
        return Err(ExtendError::TotalReached(
            policy.max_total_duration.to_string(),
        ));
    }
    let most = StdDuration::from_secs(a.max_extension_secs);
    if add > most || add.is_zero() {
        return Err(ExtendError::TooLong(format!(
            "an extension may add at most {} now (each at most {}, and the grant may not end \
             after {}, {} after it started)",
            format_duration(most),
            policy.length,
            a.latest_end.to_rfc3339(),
            policy.max_total_duration
        )));
    }
    let add = Duration::from_std(add).map_err(|_| ExtendError::TooLong("too long".into()))?;
    Ok(end + add)
}

/// Does the grant hand out API keys (its end then moves with a new key)?
fn has_api_key(grant: &AccessRequest) -> bool {
    grant
        .created_objects
        .iter()
        .any(|o| matches!(o, TargetObject::EsApiKey { .. }))
}

impl Grants<'_> {
    /// Extend `grant` (active, read at its current version) by `ask.add` at once. Exactly one of
    /// two concurrent extensions applies: the other is [`ExtendError::Changed`].
    pub async fn extend(
        &self,
        grant: AccessRequest,
        ask: &ExtendAsk,
    ) -> Result<AccessRequest, ExtendError> {
        let flow = self.store.get_flow(&grant.flow).await?;
        let policy = policy_of(flow.as_ref())?;
        let mut grant = grant;
        for _ in 0..CHANGE_ATTEMPTS {
            let now = self.clock.now();
            let new_end = check(&grant, policy, ask.add, now)?;
            if let Some(r) = &grant.key_renewal
                && r.started_at + RENEWAL_LEASE > now
            {
                return Err(ExtendError::InProgress);
            }
            let done = if has_api_key(&grant) || grant.key_renewal.is_some() {
                self.extend_with_key(grant.clone(), new_end, ask).await
            } else {
                self.move_end(grant.clone(), new_end, ask, None).await
            };
            match done {
                Err(ExtendError::Changed) => grant = self.unless_extended(&grant).await?,
                other => return other,
            }
        }
        Err(ExtendError::Changed)
    }

    /// Apply an approved extension request (`extends`) to its grant, and record the request's
    /// outcome: `applied` with the grant's new end, or `failed` with the reason (the grant
    /// ended meanwhile, the flow's limits no longer allow it, ...), the grant unchanged.
    /// Nothing is provisioned for the request itself.
    pub async fn apply_extension_request(
        &self,
        mut ext: AccessRequest,
    ) -> Result<AccessRequest, GrantError> {
        let Some(grant_id) = ext.extends.clone() else {
            return Ok(ext);
        };
        let ask = ExtendAsk {
            by: ext.requester.display(),
            add: StdDuration::from_secs(ext.duration_secs),
            justification: ext.justification.clone(),
            request: Some(ext.id.clone()),
        };
        let outcome = match self.store.get_request(&grant_id).await? {
            // The link is checked again: an extension only ever moves its requester's grant.
            Some(g) if g.requester.same_person(&ext.requester) => self.extend(g, &ask).await,
            _ => Err(ExtendError::NotActive(RequestStatus::Expired)),
        };
        let now = self.clock.now();
        let expected = ext.version;
        let (status, action, reason, details) = match outcome {
            Ok(grant) => (
                RequestStatus::Applied,
                "request.applied",
                format!(
                    "grant {grant_id} now ends at {}",
                    grant.ends_at.map(|e| e.to_rfc3339()).unwrap_or_default()
                ),
                json!({ "grant": grant_id, "ends_at": grant.ends_at }),
            ),
            Err(ExtendError::Grant(e)) => return Err(e),
            Err(e) => {
                let code = crate::api::ApiError::from(e).code;
                let reason = format!("{code}: the extension was not applied");
                (
                    RequestStatus::Failed,
                    "request.extension_failed",
                    reason,
                    json!({ "grant": grant_id, "code": code }),
                )
            }
        };
        if ext.transition(status, now).is_err() {
            return Ok(ext);
        }
        ext.status_reason = Some(reason);
        let audit = AuditEvent::new(
            now,
            "system:provision",
            action,
            AuditSubject::Request(ext.id.clone()),
        )
        .with_integration(&ext.integration)
        .with_details(details);
        Ok(self.store.update_request(&ext, expected, &[audit]).await?)
    }

    /// The grant as it is now, if what changed since `seen` was not its end or an extension
    /// (the sweep's reminder, say): then the extension is tried again on it. Otherwise another
    /// extension or the end won, and this one does not apply.
    async fn unless_extended(&self, seen: &AccessRequest) -> Result<AccessRequest, ExtendError> {
        let current = self
            .store
            .get_request(&seen.id)
            .await?
            .ok_or(ExtendError::Changed)?;
        let same = current.status == RequestStatus::Active
            && current.ends_at == seen.ends_at
            && current.extensions == seen.extensions
            && current.key_renewal == seen.key_renewal;
        if same {
            Ok(current)
        } else {
            Err(ExtendError::Changed)
        }
    }

    /// Record the new end (and the extension's key) in one conditional write with its audit
    /// event, then move the expiry schedule. A schedule left at the old end fires a revoke that
    /// finds the grant not yet due and does nothing; the sweep then ends it at the new end.
    async fn move_end(
        &self,
        grant: AccessRequest,
        new_end: DateTime<Utc>,
        ask: &ExtendAsk,
        key: Option<TargetObject>,
    ) -> Result<AccessRequest, ExtendError> {
        let now = self.clock.now();
        let expected = grant.version;
        let mut next = grant;
        let from = next.ends_at;
        next.ends_at = Some(new_end);
        next.extensions += 1;
        // The reminder is about the old end: the new one gets its own.
        next.expiry_warned_at = None;
        next.key_renewal = None;
        next.updated_at = now;
        let key_id = key.as_ref().and_then(|k| match k {
            TargetObject::EsApiKey { id, .. } => Some(id.clone()),
            _ => None,
        });
        next.created_objects.extend(key);
        let audit = AuditEvent::new(
            now,
            ask.by.clone(),
            "grant.extended",
            AuditSubject::Request(next.id.clone()),
        )
        .with_integration(&next.integration)
        .with_details(json!({
            "from": from,
            "to": new_end,
            "added_secs": ask.add.as_secs(),
            "extension": next.extensions,
            "justification": ask.justification,
            "api_key_id": key_id,
            "extension_request": ask.request,
        }));
        let stored = match self
            .store
            .update_request(&next, expected, std::slice::from_ref(&audit))
            .await
        {
            Ok(s) => s,
            Err(StoreError::Conflict { .. }) => return Err(ExtendError::Changed),
            Err(e) => match self
                .applied(&next.id, expected, RequestStatus::Active, &audit.id)
                .await
            {
                // Only the answer was lost.
                Some(s) => s,
                None => return Err(e.into()),
            },
        };
        self.move_schedule(&stored.id, new_end).await;
        tracing::info!(grant_id = %stored.id, extension = stored.extensions, "grant extended");
        Ok(stored)
    }

    /// Move the expiry schedule to `end`. Two extensions in quick succession record their
    /// ends in order but may reach Scheduler out of order (the earlier end last): whoever
    /// finds the record at another end than it just scheduled moves the schedule again, so
    /// the last schedule written always follows the last end recorded.
    async fn move_schedule(&self, grant_id: &str, end: DateTime<Utc>) {
        let mut at = end;
        for _ in 0..MAX_SCHEDULE_MOVES {
            if let Err(e) = self.scheduler.schedule_expiry(grant_id, at).await {
                tracing::warn!(grant_id, error = %e, "expiry schedule not moved; the sweep ends the grant at its new end");
                return;
            }
            match self.store.get_request(grant_id).await {
                Ok(Some(r)) if r.status == RequestStatus::Active => match r.ends_at {
                    Some(recorded) if recorded != at => at = recorded,
                    _ => return,
                },
                // Ended meanwhile (its revoke deletes the schedule), or unreadable: the
                // sweep is the backstop either way.
                _ => return,
            }
        }
    }

    /// `api_key` mode: record the new key's name, issue it expiring at the new end, store it
    /// as the grant's credential, then record it with the new end. The old key keeps working
    /// until its own expiration, so access is never interrupted. A step cut short leaves the
    /// grant at its old end with the key's name on record: revoke invalidates keys of that
    /// name, and a later attempt (after [`RENEWAL_LEASE`]) takes over.
    async fn extend_with_key(
        &self,
        grant: AccessRequest,
        new_end: DateTime<Utc>,
        ask: &ExtendAsk,
    ) -> Result<AccessRequest, ExtendError> {
        let now = self.clock.now();
        let base = grant
            .created_objects
            .iter()
            .find_map(|o| match o {
                TargetObject::EsApiKey { name, .. } => Some(name.clone()),
                _ => None,
            })
            .ok_or_else(|| ExtendError::Target("the grant has no API key on record".into()))?;
        let name = format!("{base}_ext{}", grant.extensions + 1);
        let expected = grant.version;
        let mut pending = grant;
        pending.key_renewal = Some(KeyRenewal {
            name: name.clone(),
            ends_at: new_end,
            started_at: now,
            by: ask.by.clone(),
            justification: ask.justification.clone(),
        });
        pending.updated_at = now;
        let audit = AuditEvent::new(
            now,
            ask.by.clone(),
            "grant.extension_started",
            AuditSubject::Request(pending.id.clone()),
        )
        .with_integration(&pending.integration)
        .with_details(json!({ "to": new_end, "key_name": name }));
        let pending = match self
            .store
            .update_request(&pending, expected, &[audit])
            .await
        {
            Ok(s) => s,
            Err(StoreError::Conflict { .. }) => return Err(ExtendError::Changed),
            Err(e) => return Err(e.into()),
        };
        let integration = self
            .store
            .get_integration(&pending.integration)
            .await?
            .ok_or_else(|| ExtendError::Target("the integration no longer exists".into()))?;
        let permission = integration
            .resolve_permission(&pending.permission)
            .ok_or_else(|| {
                ExtendError::Target(format!(
                    "permission {:?} is no longer offered",
                    pending.permission
                ))
            })?;
        let account =
            principal_name(&integration, &pending.requester).map_err(ExtendError::Target)?;
        let principal = self
            .store
            .get_principal(&integration.name, &account)
            .await?
            .filter(|p| p.is_owned_by(&pending.requester.person()))
            .ok_or_else(|| ExtendError::Target("the grant's account is not on record".into()))?;
        let password = credentials::password_of(
            &self
                .secrets
                .get(
                    principal
                        .credential_secret_arn
                        .as_deref()
                        .unwrap_or_default(),
                    AWSCURRENT,
                )
                .await
                .map_err(GrantError::from)?,
        )
        .map_err(GrantError::from)?;
        let driver = self
            .targets
            .driver(&integration)
            .await
            .map_err(|e| ExtendError::Target(e.to_string()))?;
        let plan = GrantPlan {
            grant_id: pending.id.clone(),
            integration: integration.name.clone(),
            requester: pending.requester.clone(),
            resources: pending.resources.clone(),
            permission,
            mode: CredentialMode::ApiKey,
            ends_at: new_end,
            now: self.clock.now(),
            principal: PrincipalPlan {
                name: account,
                exists: true,
                roles_after: principal.roles.clone(),
                password: Some(password),
            },
        };
        let key = driver
            .renew_api_key(&plan, &name)
            .await
            .map_err(|e| ExtendError::Target(e.to_string()))?;
        let object = TargetObject::EsApiKey {
            id: key.id.clone(),
            name,
        };
        let drop_key = |why: String| async {
            let plan = RevokePlan {
                grant_id: pending.id.clone(),
                objects: vec![object.clone()],
                principal: None,
                key_names: vec![],
            };
            if let Err(e) = driver.revoke(&plan).await {
                tracing::warn!(grant_id = %pending.id, error = %e, "unrecorded extension key not invalidated; revoke invalidates it by name");
            }
            why
        };
        let secret = grant_secret_name(&self.cfg.secret_prefix, &integration.name, &pending.id);
        let value =
            SecretValue::new(json!({"api_key": key.encoded.expose(), "id": key.id}).to_string());
        if let Err(e) = self.secrets.put(&secret, &value, None, &[AWSCURRENT]).await {
            let why = drop_key(format!("cannot store the new API key: {e}")).await;
            return Err(ExtendError::Target(why));
        }
        let mut current = pending.clone();
        for _ in 0..CHANGE_ATTEMPTS {
            match self
                .move_end(current.clone(), new_end, ask, Some(object.clone()))
                .await
            {
                Err(ExtendError::Changed) => match self.unless_extended(&current).await {
                    Ok(again) => current = again,
                    // Revoked, or taken over by a later attempt with its own key of this name.
                    Err(e) => {
                        drop_key(String::new()).await;
                        return Err(e);
                    }
                },
                other => return other,
            }
        }
        drop_key(String::new()).await;
        Err(ExtendError::Changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ExtensionApproval, Identity};

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(minutes)
    }

    fn grant(status: RequestStatus, ends_in: i64, extensions: u32) -> AccessRequest {
        serde_json::from_value(json!({
            "id": "g-1", "integration": "prod", "flow": "logs",
            "requester": Identity { sub: "s".into(), issuer: None, email: None, email_verified: false, groups: vec![] },
            "resources": ["logs-1"], "permission": "read", "duration_secs": 3600,
            "status": status, "created_at": t(0), "updated_at": t(0), "approval_expires_at": t(60),
            "starts_at": t(0), "ends_at": t(ends_in), "extensions": extensions, "version": 3
        }))
        .unwrap()
    }

    fn policy() -> ExtensionPolicy {
        ExtensionPolicy {
            max_extensions: 2,
            length: "1h".into(),
            approval: ExtensionApproval::Automatic,
            max_total_duration: "3h".into(),
        }
    }

    const H: StdDuration = StdDuration::from_secs(3600);

    #[test]
    fn an_extension_adds_to_the_current_end() {
        let end = check(&grant(RequestStatus::Active, 60, 0), &policy(), H, t(10)).unwrap();
        assert_eq!(end, t(120));
    }

    #[test]
    fn each_limit_has_its_own_refusal() {
        let p = policy();
        let active = grant(RequestStatus::Active, 60, 0);
        for status in [
            RequestStatus::Pending,
            RequestStatus::Expired,
            RequestStatus::RevokeFailed,
        ] {
            assert!(matches!(
                check(&grant(status, 60, 0), &p, H, t(10)),
                Err(ExtendError::NotActive(s)) if s == status
            ));
        }
        // Its last five minutes, or past its end by the clock: too late.
        assert!(matches!(
            check(&active, &p, H, t(55)),
            Err(ExtendError::Ending)
        ));
        assert!(matches!(
            check(&active, &p, H, t(61)),
            Err(ExtendError::Ending)
        ));
        assert!(check(&active, &p, H, t(54)).is_ok());
        assert!(matches!(
            check(&grant(RequestStatus::Active, 60, 2), &p, H, t(10)),
            Err(ExtendError::LimitReached(2))
        ));
        assert!(matches!(
            check(&active, &p, H + StdDuration::from_secs(1), t(10)),
            Err(ExtendError::TooLong(_))
        ));
        assert!(matches!(
            check(&active, &p, StdDuration::ZERO, t(10)),
            Err(ExtendError::TooLong(_))
        ));
        // Only the room up to the total is left: 3 h from the start.
        let late = grant(RequestStatus::Active, 150, 1);
        assert!(check(&late, &p, StdDuration::from_secs(1800), t(10)).is_ok());
        let Err(ExtendError::TooLong(m)) = check(&late, &p, H, t(10)) else {
            panic!("beyond the total");
        };
        assert!(m.contains("at most 30m"), "{m}");
        // At the total already: a limit, whatever the length asked.
        let full = grant(RequestStatus::Active, 180, 1);
        assert!(matches!(
            check(&full, &p, StdDuration::from_secs(60), t(10)),
            Err(ExtendError::TotalReached(_))
        ));
    }

    #[test]
    fn refusals_are_stable_api_codes() {
        let code = |e: ExtendError| crate::api::ApiError::from(e);
        let cases = [
            (code(ExtendError::Ending), 409, "grant_not_active"),
            (
                code(ExtendError::LimitReached(2)),
                409,
                "extension_limit_reached",
            ),
            (
                code(ExtendError::TooLong("x".into())),
                400,
                "extension_too_long",
            ),
            (
                code(ExtendError::TotalReached("3h".into())),
                409,
                "extension_limit_reached",
            ),
            (code(ExtendError::Changed), 409, "grant_changed"),
            (code(ExtendError::InProgress), 409, "extension_in_progress"),
            (
                code(ExtendError::NotOffered("x".into())),
                409,
                "extension_not_offered",
            ),
            (
                code(ExtendError::Target("x".into())),
                502,
                "key_renewal_failed",
            ),
        ];
        for (e, status, c) in cases {
            assert_eq!((e.status, e.code), (status, c));
        }
    }
}
