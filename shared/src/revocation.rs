//! Revoking a grant: remove exactly what it made, under the account's lease, and record the
//! outcome. Idempotent (a replay or a revoke of a revoked grant changes nothing), retried with
//! backoff inside the invocation, and never forgotten: a revoke that keeps failing leaves the
//! grant `revoke_failed` with its next attempt time for the cleanup sweep.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::driver::http::time_left;
use crate::driver::{Driver, DriverError, PrincipalAfterRevoke, RevokePlan};
use crate::grants::{GrantError, Grants, grant_secret_name, principal_name};
use crate::metrics;
use crate::model::{
    AccessRequest, AuditEvent, AuditSubject, Integration, IntegrationKind, PrincipalState,
    RequestStatus, TargetObject,
};
use crate::secrets::SecretsError;
use crate::store::StoreError;

/// Why a grant is being revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// `POST /requests/{id}/revoke` by this person.
    Manual { by: String, reason: Option<String> },
    /// Its end time came (expiry schedule, or the sweep's backstop).
    Expiry,
    /// The sweep retrying an earlier failure.
    Retry,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The grant's access is gone; the request as stored.
    Done(Box<AccessRequest>),
    /// Nothing to do: already revoked or expired (or never active).
    Unchanged(Box<AccessRequest>),
    /// The target kept failing: recorded as `revoke_failed`, to be retried at `next_attempt_at`.
    Failed(Box<AccessRequest>),
}

#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("request {0} does not exist")]
    NotFound(String),
    #[error("the request is {0}; only active grants can be revoked")]
    NotActive(RequestStatus),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Grant(#[from] crate::grants::GrantError),
}

/// Attempts inside one invocation, and the pause before each retry.
#[derive(Debug, Clone, Copy)]
pub struct RevokeRetry {
    pub attempts: u32,
    pub first_delay: StdDuration,
}

impl Default for RevokeRetry {
    fn default() -> Self {
        Self {
            attempts: 3,
            first_delay: StdDuration::from_millis(500),
        }
    }
}

/// Next attempt after `attempts` failed ones: 1, 2, 4 … minutes, at most an hour.
/// How long a revoke waits for its expiry schedule's delete before recording the end anyway.
const CANCEL_SCHEDULE_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

pub fn backoff(attempts: u32) -> Duration {
    Duration::minutes(1i64 << attempts.saturating_sub(1).min(6)).min(Duration::hours(1))
}

pub struct Revoker<'a> {
    pub grants: Grants<'a>,
    pub retry: RevokeRetry,
    /// Name of the function, for logs and metrics.
    pub function: &'static str,
}

/// Passes a revocation makes when the grant keeps changing under it.
const REVOKE_PASSES: usize = 3;

impl Revoker<'_> {
    pub async fn revoke(&self, id: &str, cause: Cause) -> Result<Outcome, RevokeError> {
        let req = self
            .grants
            .store
            .get_request(id)
            .await?
            .ok_or_else(|| RevokeError::NotFound(id.into()))?;
        self.revoke_request(req, cause, None).await
    }

    /// Revoke `req` (already loaded, e.g. by a sweep). `driver` may be shared across calls.
    pub async fn revoke_request(
        &self,
        req: AccessRequest,
        cause: Cause,
        driver: Option<Arc<dyn Driver>>,
    ) -> Result<Outcome, RevokeError> {
        self.revoke_with(req, cause, None, driver).await
    }

    /// [`Self::revoke_request`] with the grant's integration already read (a sweep reads each
    /// integration once per run): `None` reads it. A grant that changed while it was being
    /// revoked (an extension moved its end and made a new key) is revoked again as it is now, so
    /// nothing the change added outlives the revocation.
    pub async fn revoke_with(
        &self,
        req: AccessRequest,
        cause: Cause,
        integration: Option<Integration>,
        driver: Option<Arc<dyn Driver>>,
    ) -> Result<Outcome, RevokeError> {
        let id = req.id.clone();
        let mut outcome = self
            .revoke_once(req, cause.clone(), integration.clone(), driver.clone())
            .await;
        for _ in 1..REVOKE_PASSES {
            let Err(RevokeError::Store(StoreError::Conflict { .. })) = &outcome else {
                break;
            };
            let current = self
                .grants
                .store
                .get_request(&id)
                .await?
                .ok_or_else(|| RevokeError::NotFound(id.clone()))?;
            if !matches!(
                current.status,
                RequestStatus::Active | RequestStatus::RevokeFailed
            ) {
                return Ok(Outcome::Unchanged(Box::new(current)));
            }
            tracing::warn!(grant_id = %id, "the grant changed while it was being revoked; revoking it again as it is now");
            outcome = self
                .revoke_once(current, cause.clone(), integration.clone(), driver.clone())
                .await;
        }
        outcome
    }

    async fn revoke_once(
        &self,
        mut req: AccessRequest,
        cause: Cause,
        integration: Option<Integration>,
        driver: Option<Arc<dyn Driver>>,
    ) -> Result<Outcome, RevokeError> {
        let now = self.grants.clock.now();
        match req.status {
            RequestStatus::Revoked | RequestStatus::Expired => {
                return Ok(Outcome::Unchanged(Box::new(req)));
            }
            RequestStatus::Active | RequestStatus::RevokeFailed => {}
            other if cause == Cause::Expiry || cause == Cause::Retry => {
                tracing::info!(grant_id = %req.id, status = %other, "nothing to revoke");
                return Ok(Outcome::Unchanged(Box::new(req)));
            }
            other => return Err(RevokeError::NotActive(other)),
        }
        // A schedule delivered early (clock skew) or for a grant that is not yet due is ignored;
        // the real expiry or the sweep comes later.
        if cause == Cause::Expiry
            && req
                .ends_at
                .is_some_and(|end| end > now + Duration::seconds(60))
        {
            tracing::warn!(grant_id = %req.id, "expiry event before the grant's end; ignored");
            return Ok(Outcome::Unchanged(Box::new(req)));
        }
        // Whatever fails from here is recorded for the sweep, which must still finish it as a
        // manual revoke (`revoked`, by whom), not as an expiry.
        if let Cause::Manual { by, .. } = &cause {
            req.revoke_requested_by.get_or_insert(by.clone());
        }
        let integration = match integration {
            Some(i) => Some(i),
            // Configuration a moment old is safe here (eventually consistent): the outcome is
            // written conditionally on the request's and the account's versions.
            None => {
                self.grants
                    .store
                    .grant_records(&req.integration, None, None)
                    .await?
                    .integration
            }
        };
        let Some(integration) = integration else {
            return self
                .record_failure(req, "the integration no longer exists".into(), now)
                .await;
        };
        let driver = match driver {
            Some(d) => d,
            None => match self.grants.targets.driver(&integration).await {
                Ok(d) => Arc::from(d),
                Err(e) => return self.record_failure(req, e.to_string(), now).await,
            },
        };
        let name = principal_name(&integration, &req.requester).ok();
        // Only an existing account is locked: a revoke never creates one. The lease is one
        // conditional update that returns the account, so it is not read before.
        let principal = match &name {
            Some(n) => {
                let holder = format!("revoke-{}-{}", req.id, uuid::Uuid::new_v4().simple());
                match self
                    .grants
                    .lease_existing(&integration.name, n, &holder)
                    .await
                {
                    Ok(p) => p,
                    // Another change holds the account past our time: recorded, not dropped,
                    // so the sweep finishes this revocation.
                    Err(e @ GrantError::PrincipalBusy(_)) => {
                        return self.record_failure(req, e.to_string(), now).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            None => None,
        };
        let (plan, principal_after) = plan(&req, &integration, principal.as_ref(), now);
        let result = self.remove_with_retry(driver.as_ref(), &plan).await;
        match result {
            Ok(()) => {
                self.finish(req, &integration, cause, now, principal_after)
                    .await
            }
            Err(e) => {
                if let Some(p) = principal {
                    self.grants.unlock_principal(p, &[]).await?;
                }
                self.record_failure(req, e.to_string(), now).await
            }
        }
    }

    async fn remove_with_retry(
        &self,
        driver: &dyn Driver,
        plan: &RevokePlan,
    ) -> Result<(), DriverError> {
        let mut delay = self.retry.first_delay;
        let mut attempt = 1;
        loop {
            match driver.revoke(plan).await {
                Ok(()) => return Ok(()),
                // No retry that could not finish before the invocation's deadline: the failure
                // is recorded instead and the sweep takes over.
                Err(e)
                    if attempt < self.retry.attempts
                        && time_left().is_none_or(|left| left > delay * 2) =>
                {
                    tracing::warn!(grant_id = %plan.grant_id, attempt, error = %e, "revoke attempt failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Release the account (its state after the revoke) on its own, when the outcome cannot
    /// commit with it.
    async fn release(&self, after: &mut Option<PrincipalState>) -> Result<(), RevokeError> {
        if let Some(p) = after.take() {
            self.grants.unlock_principal(p, &[]).await?;
        }
        Ok(())
    }

    /// Record the outcome; the account's state after the revoke (`after`, still leased) is
    /// released in the same transaction.
    async fn finish(
        &self,
        mut req: AccessRequest,
        integration: &Integration,
        cause: Cause,
        now: DateTime<Utc>,
        mut after: Option<PrincipalState>,
    ) -> Result<Outcome, RevokeError> {
        // The grant's key secret goes before the record says the grant ended: a secret left
        // behind by a failed delete would be a credential no record accounts for, so the
        // failure is recorded and the sweep retries the (idempotent) revoke until it is gone.
        let has_key = req.key_renewal.is_some()
            || req.created_objects.iter().any(|o| {
                matches!(
                    o,
                    TargetObject::EsApiKey { .. } | TargetObject::ProxyCredential { .. }
                )
            });
        let key_secret = has_key
            .then(|| grant_secret_name(&self.grants.cfg.secret_prefix, &integration.name, &req.id));
        if let Some(name) = &key_secret {
            match self.grants.secrets.delete(name, true).await {
                Ok(()) | Err(SecretsError::NotFound { .. }) => {}
                Err(e) => {
                    let error = format!("the grant's key secret could not be deleted: {e}");
                    self.release(&mut after).await?;
                    return self.record_failure(req, error, now).await;
                }
            }
        }
        // The expiry schedule too, before the record: a revoke killed after recording would
        // otherwise leave it (a redelivery finds the grant ended and does nothing). A schedule
        // that cannot be deleted only fires a revoke that finds nothing to do, then deletes
        // itself (ActionAfterCompletion DELETE).
        // Bounded: the access is already removed, and the record must still be written.
        match tokio::time::timeout(
            CANCEL_SCHEDULE_BUDGET,
            self.grants.scheduler.cancel_expiry(&req.id),
        )
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(grant_id = %req.id, error = %e, "expiry schedule not deleted");
            }
            Err(_) => {
                tracing::warn!(grant_id = %req.id, "expiry schedule delete too slow; left to fire once and delete itself")
            }
        }
        let expected = req.version;
        let manual_by = match &cause {
            Cause::Manual { by, .. } => Some(by.clone()),
            _ => req.revoke_requested_by.clone(),
        };
        let (status, action) = match manual_by {
            Some(_) => (RequestStatus::Revoked, "grant.revoked"),
            None => (RequestStatus::Expired, "grant.expired"),
        };
        // The record as read, to tell a concurrent lifecycle change from bookkeeping below.
        let read = req.clone();
        if req.transition(status, now).is_err() {
            self.release(&mut after).await?;
            return Ok(Outcome::Unchanged(Box::new(req)));
        }
        req.revoke_requested_by = manual_by.clone();
        req.next_attempt_at = None;
        req.last_error = None;
        if let Cause::Manual { reason, .. } = &cause {
            req.status_reason = reason.clone().or(req.status_reason.take());
        }
        let audit = AuditEvent::new(
            now,
            manual_by.unwrap_or_else(|| format!("system:{}", self.function)),
            action,
            AuditSubject::Request(req.id.clone()),
        )
        .with_integration(&integration.name)
        .with_details(json!({ "objects": req.created_objects, "reason": req.status_reason }));
        let mut recorded = None;
        if let Some(p) = &after {
            let mut released = p.clone();
            released.lock_owner = None;
            released.lock_until = None;
            released.updated_at = self.grants.clock.now();
            let together = self
                .grants
                .store
                .update_request_and_principal(
                    &req,
                    expected,
                    &released,
                    Some(p.version),
                    std::slice::from_ref(&audit),
                )
                .await;
            match together {
                Ok((stored, _)) => recorded = Some(Ok(stored)),
                // The transaction may have applied with only its answer lost.
                Err(e) => {
                    recorded = self
                        .grants
                        .applied(&req.id, expected, status, &audit.id)
                        .await
                        .map(Ok);
                    if recorded.is_some() {
                        after = None;
                    } else {
                        tracing::warn!(grant_id = %req.id, error = %e, "outcome and account not recorded together; recording them one by one");
                    }
                }
            }
        }
        let recorded = match recorded {
            Some(r) => r,
            None => {
                self.release(&mut after).await?;
                self.grants
                    .store
                    .update_request(&req, expected, std::slice::from_ref(&audit))
                    .await
            }
        };
        let recorded = match recorded {
            Err(StoreError::Conflict { .. }) => {
                let current = self
                    .grants
                    .store
                    .get_request(&req.id)
                    .await?
                    .ok_or_else(|| RevokeError::NotFound(req.id.clone()))?;
                // Another revocation (a schedule racing a manual revoke) finished first.
                if current.status.is_terminal() {
                    return Ok(Outcome::Unchanged(Box::new(current)));
                }
                // Only bookkeeping changed meanwhile (a break-glass review, the expiry
                // warning): the access is gone, so the outcome is recorded over it, keeping it.
                if only_bookkeeping_changed(&read, &current) {
                    req.break_glass = current.break_glass.clone();
                    req.expiry_warned_at = current.expiry_warned_at;
                    req.history = current.history.clone();
                    self.grants
                        .store
                        .update_request(&req, current.version, &[audit])
                        .await
                } else {
                    Err(StoreError::Conflict {
                        entity: "request",
                        id: req.id.clone(),
                    })
                }
            }
            other => other,
        };
        match recorded {
            Ok(stored) => Ok(Outcome::Done(Box::new(stored))),
            Err(e) => Err(e.into()),
        }
    }

    async fn record_failure(
        &self,
        mut req: AccessRequest,
        error: String,
        now: DateTime<Utc>,
    ) -> Result<Outcome, RevokeError> {
        let expected = req.version;
        if req.transition(RequestStatus::RevokeFailed, now).is_err() {
            return Ok(Outcome::Unchanged(Box::new(req)));
        }
        req.revoke_attempts += 1;
        let next = now + backoff(req.revoke_attempts);
        req.next_attempt_at = Some(next);
        req.last_error = Some(error.clone());
        let audit = AuditEvent::new(
            now,
            format!("system:{}", self.function),
            "grant.revoke_failed",
            AuditSubject::Request(req.id.clone()),
        )
        .failed()
        .with_integration(&req.integration)
        .with_details(
            json!({ "error": error, "attempts": req.revoke_attempts, "next_attempt_at": next }),
        );
        tracing::error!(grant_id = %req.id, attempts = req.revoke_attempts, error = %error, "revocation failed; will retry");
        metrics::count("RevokeFailed", self.function, 1);
        match self
            .grants
            .store
            .update_request(&req, expected, &[audit])
            .await
        {
            Ok(stored) => Ok(Outcome::Failed(Box::new(stored))),
            Err(StoreError::Conflict { .. }) => {
                let current = self
                    .grants
                    .store
                    .get_request(&req.id)
                    .await?
                    .ok_or_else(|| RevokeError::NotFound(req.id.clone()))?;
                Ok(Outcome::Unchanged(Box::new(current)))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Did only fields outside the grant's lifecycle change between `read` and `current` (a
/// review, the expiry warning)? A change to its state, end, objects or attempts is a concurrent
/// lifecycle change the revocation must not write over. (`revoke_requested_by` is not
/// compared: this revocation sets it itself.)
fn only_bookkeeping_changed(read: &AccessRequest, current: &AccessRequest) -> bool {
    read.status == current.status
        && read.starts_at == current.starts_at
        && read.ends_at == current.ends_at
        && read.created_objects == current.created_objects
        && read.revoke_attempts == current.revoke_attempts
        && read.next_attempt_at == current.next_attempt_at
        && read.resources == current.resources
        && read.permission == current.permission
        && read.duration_secs == current.duration_secs
        && read.extensions == current.extensions
        && read.key_renewal == current.key_renewal
}

/// An extension's key that was being issued: it may exist without its id on record.
fn renewal_key(req: &AccessRequest) -> Vec<String> {
    req.key_renewal.iter().map(|k| k.name.clone()).collect()
}

/// What to remove, and the account as it will be once removed.
fn plan(
    req: &AccessRequest,
    integration: &Integration,
    principal: Option<&PrincipalState>,
    now: DateTime<Utc>,
) -> (RevokePlan, Option<PrincipalState>) {
    let mut objects: Vec<TargetObject> = req
        .created_objects
        .iter()
        .filter(|o| {
            !matches!(
                o,
                TargetObject::EsUser { .. } | TargetObject::CloudRoleAssignment { .. }
            )
        })
        .cloned()
        .collect();
    let Some(p) = principal else {
        // No account state: remove what the grant recorded (assignments included).
        objects.extend(
            req.created_objects
                .iter()
                .filter(|o| matches!(o, TargetObject::CloudRoleAssignment { .. }))
                .cloned(),
        );
        return (
            RevokePlan {
                grant_id: req.id.clone(),
                objects,
                principal: None,
                key_names: renewal_key(req),
            },
            None,
        );
    };
    let mut after = p.clone();
    after.active_grants.retain(|g| g != &req.id);
    let grant_roles: Vec<String> = req
        .created_objects
        .iter()
        .filter_map(|o| match o {
            TargetObject::EsRole { name } => Some(name.clone()),
            _ => None,
        })
        .collect();
    after.roles.retain(|r| !grant_roles.contains(r));
    // Cloud assignments go only when no other active grant still needs them.
    for shared in &mut after.shared_objects {
        shared.grants.retain(|g| g != &req.id);
    }
    let (released, kept): (Vec<_>, Vec<_>) = after
        .shared_objects
        .drain(..)
        .partition(|s| s.grants.is_empty());
    after.shared_objects = kept;
    // An invitation whose roles another active grant still needs stays (once accepted, its
    // roles are that grant's access too); one no grant needs any more goes.
    objects.retain(|o| !after.shared_objects.iter().any(|s| &s.object == o));
    for s in released {
        if !objects.contains(&s.object) {
            objects.push(s.object);
        }
    }
    let idle = after.active_grants.is_empty();
    if p.active_grants.contains(&req.id) && idle {
        after.enabled = integration.kind() != IntegrationKind::Elasticsearch;
        after.last_grant_ended_at = Some(now);
        after.cleanup_due_at = integration
            .spec
            .user_cleanup_days
            .map(|d| now + Duration::days(i64::from(d)));
    }
    let es_account =
        (integration.kind() == IntegrationKind::Elasticsearch && p.provisioned).then(|| {
            PrincipalAfterRevoke {
                name: p.name.clone(),
                integration: integration.name.clone(),
                owner: req.requester.clone(),
                roles_after: after.roles.clone(),
                disable: idle,
            }
        });
    (
        RevokePlan {
            grant_id: req.id.clone(),
            objects,
            principal: es_account,
            key_names: renewal_key(req),
        },
        Some(after),
    )
}

/// Attempts at a conditional write on a bundle's child that other writers race with.
const BUNDLE_ATTEMPTS: usize = 4;

/// Is a child of a revoked bundle settled: nothing of it is live or about to be (its grant
/// ended, it never started, or its revocation is `revoke_failed` and retried by the sweep)?
pub fn bundle_child_settled(child: &AccessRequest) -> bool {
    !matches!(
        child.status,
        RequestStatus::Scheduled | RequestStatus::Approved | RequestStatus::Active
    )
}

impl Revoker<'_> {
    /// End every child of a bundle whose revocation is recorded on it (`revoke_requested_by`):
    /// each grant is revoked as any grant is (its own audit, its own retries), and a child not
    /// started yet is cancelled so that it never starts. A child being provisioned right now
    /// (`approved`) is left as it is. Once every child is settled, the parent's `ended_at`
    /// records it in one write with its audit, and the parent leaves the sweep's due index;
    /// until then the sweep calls this again (a child that a racing start made active is
    /// revoked then). Returns the parent and its children as they are afterwards.
    pub async fn end_bundle(
        &self,
        parent: AccessRequest,
        reason: Option<String>,
    ) -> Result<(AccessRequest, Vec<AccessRequest>), RevokeError> {
        let Some(by) = parent.revoke_requested_by.clone() else {
            return Err(RevokeError::NotActive(parent.status));
        };
        let mut children = Vec::new();
        for id in parent.child_ids() {
            if let Some(child) = self.end_bundle_child(&id, &by, reason.clone()).await? {
                children.push(child);
            }
        }
        if parent.ended_at.is_some() || !children.iter().all(bundle_child_settled) {
            return Ok((parent, children));
        }
        let now = self.grants.clock.now();
        let mut next = parent.clone();
        next.ended_at = Some(now);
        next.updated_at = now;
        let audit = AuditEvent::new(
            now,
            format!("system:{}", self.function),
            "bundle.revoked",
            AuditSubject::Request(parent.id.clone()),
        )
        .with_details(json!({
            "revoked_by": by,
            "children": children
                .iter()
                .map(|c| json!({ "id": c.id, "status": c.status }))
                .collect::<Vec<_>>(),
        }));
        match self
            .grants
            .store
            .update_request(&next, parent.version, &[audit])
            .await
        {
            Ok(stored) => Ok((stored, children)),
            // Another caller finished it (or is about to): nothing is lost, the sweep looks
            // again while it is not.
            Err(StoreError::Conflict { .. }) => Ok((parent, children)),
            Err(e) => Err(e.into()),
        }
    }

    /// End one child of a revoked bundle: revoke its grant, or cancel it if it has not
    /// started. Returns the child as it is afterwards (`None` if it does not exist).
    async fn end_bundle_child(
        &self,
        id: &str,
        by: &str,
        reason: Option<String>,
    ) -> Result<Option<AccessRequest>, RevokeError> {
        let store = self.grants.store;
        for _ in 0..BUNDLE_ATTEMPTS {
            let Some(child) = store.get_request(id).await? else {
                return Ok(None);
            };
            match child.status {
                RequestStatus::Active | RequestStatus::RevokeFailed => {
                    let cause = Cause::Manual {
                        by: by.to_string(),
                        reason: reason.clone(),
                    };
                    return match self.revoke_request(child, cause, None).await {
                        Ok(Outcome::Done(r) | Outcome::Unchanged(r) | Outcome::Failed(r)) => {
                            Ok(Some(*r))
                        }
                        Err(e @ (RevokeError::Store(_) | RevokeError::Grant(_))) => Err(e),
                        // It changed under us (ended, or not active after all): look again.
                        Err(_) => continue,
                    };
                }
                RequestStatus::Scheduled => {
                    let now = self.grants.clock.now();
                    let mut next = child.clone();
                    if next.transition(RequestStatus::Cancelled, now).is_err() {
                        return Ok(Some(child));
                    }
                    next.status_reason = Some(format!("the bundle was revoked by {by}"));
                    let audit = AuditEvent::new(
                        now,
                        by.to_string(),
                        "request.cancelled",
                        AuditSubject::Request(id.into()),
                    )
                    .with_integration(&next.integration)
                    .with_details(
                        json!({ "reason": reason, "was": child.status, "bundle": child.parent }),
                    );
                    // Its start schedule, if one was armed, finds it cancelled and starts
                    // nothing.
                    match store.update_request(&next, child.version, &[audit]).await {
                        Ok(stored) => return Ok(Some(stored)),
                        Err(StoreError::Conflict { .. }) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                _ => return Ok(Some(child)),
            }
        }
        Err(RevokeError::Store(StoreError::Conflict {
            entity: "request",
            id: id.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::minutes(1));
        assert_eq!(backoff(2), Duration::minutes(2));
        assert_eq!(backoff(4), Duration::minutes(8));
        assert_eq!(backoff(30), Duration::hours(1));
    }
}
