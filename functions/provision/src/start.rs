//! Scheduled starts: the one-time schedule made when a request becomes `scheduled`, and what
//! the provision function does when it fires (`{source: "elastic-jit.start", grant_id}`).
//!
//! The schedule invokes this very function. Its ARN cannot be in its own environment (the
//! template would refer to the function from inside it), so it is learned from the invocation
//! context; `PROVISION_FUNCTION_ARN` may name it instead (the local stack does).

use std::sync::OnceLock;

use serde_json::{Value, json};
use shared::model::{AccessRequest, AuditEvent, AuditSubject, RequestStatus};
use shared::policy::{grant_resources, no_longer_allowed};
use shared::scheduled_start::EARLY_START;
use shared::scheduler::{START_SOURCE, StartEvent};
use shared::store::StoreError;

use crate::App;

/// How far ahead a start schedule is set, at least.
const ARM_AHEAD: chrono::Duration = chrono::Duration::seconds(5);

/// Attempts to take a request out of `scheduled` when other writers race with it.
const ATTEMPTS: usize = 4;

/// The provision function's own ARN, the target of start schedules.
#[derive(Debug, Default)]
pub struct StartTarget(OnceLock<String>);

impl StartTarget {
    /// A target known up front (configuration, tests).
    pub fn fixed(arn: impl Into<String>) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(arn.into());
        Self(cell)
    }

    /// From `PROVISION_FUNCTION_ARN` when set, else learned from the first invocation.
    pub fn from_env() -> Self {
        match std::env::var("PROVISION_FUNCTION_ARN") {
            Ok(arn) if !arn.trim().is_empty() => Self::fixed(arn.trim()),
            _ => Self::default(),
        }
    }

    /// Remember the invoked ARN (the first one wins; every invocation names the same
    /// function, at most with a version or alias qualifier, which Scheduler invokes as well).
    pub fn learn(&self, invoked_arn: &str) {
        if !invoked_arn.is_empty() {
            let _ = self.0.set(unqualified(invoked_arn).to_string());
        }
    }

    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// `arn:aws:lambda:<region>:<account>:function:<name>` without a `:<version or alias>`: the
/// template lets Scheduler invoke the function itself, not a qualified version of it.
fn unqualified(arn: &str) -> &str {
    match arn.match_indices(':').nth(6) {
        Some((i, _)) => &arn[..i],
        None => arn,
    }
}

/// Is this direct invocation a start schedule firing?
pub fn is_start_event(event: &Value) -> bool {
    event.get("source").and_then(Value::as_str) == Some(START_SOURCE)
}

/// Create the start schedule of a request that just became `scheduled`. A schedule that
/// could not be made is not an error of the decision: the sweep arms it again after the start.
pub async fn arm(app: &App, r: &AccessRequest) {
    let Some(at) = r.starts_at else { return };
    let Some(target) = app.start_target.get() else {
        tracing::warn!(grant_id = %r.id, "own function ARN not known yet; the sweep will arm the start");
        return;
    };
    // A start that is (nearly) now still gets a schedule a moment ahead: Scheduler does not
    // run a one-time schedule set in the past.
    let at = at.max(app.services.clock.now() + ARM_AHEAD);
    if let Err(e) = app.services.starts.schedule_start(&r.id, at, target).await {
        tracing::warn!(grant_id = %r.id, error = %e, "start schedule not created; the sweep will arm the start");
    }
}

/// A start schedule fired: move the request from `scheduled` to `approved` (a conditional
/// write, so a schedule and the sweep's re-armed one, or a retried delivery, start it once, and
/// a cancel that won leaves nothing to start), then provision it as any approved request.
pub async fn fire(app: &App, event: Value) -> Result<Value, lambda_runtime::Error> {
    let event: StartEvent = serde_json::from_value(event)
        .map_err(|_| "a start event is {source: \"elastic-jit.start\", grant_id}")?;
    let id = event.grant_id;
    if id.is_empty() || id.len() > 64 {
        return Err("a start event names a grant id of 1 to 64 characters".into());
    }
    for _ in 0..ATTEMPTS {
        let Some(current) = app.services.store.get_request(&id).await? else {
            return Ok(json!({ "grant_id": id, "outcome": "unknown" }));
        };
        let now = app.services.clock.now();
        // Anything else already happened: started, cancelled, or never scheduled.
        let (RequestStatus::Scheduled, Some(start)) = (current.status, current.starts_at) else {
            return Ok(json!({ "grant_id": id, "outcome": "unchanged", "status": current.status }));
        };
        // An early event (a misfired or forged invocation) starts nothing: the real one follows.
        if now + EARLY_START < start {
            tracing::warn!(grant_id = %id, "start event before the start; ignored");
            return Ok(json!({ "grant_id": id, "outcome": "not_yet", "starts_at": start }));
        }
        // A bundle's child whose bundle was revoked meanwhile never starts. (A revoke that
        // lands after this read finds the child `approved` or active; the cleanup sweep then
        // revokes it, as the revoke recorded on the parent asks.)
        if let Some(parent) = &current.parent
            && let Some(by) = app
                .services
                .store
                .get_request(parent)
                .await?
                .and_then(|p| p.revoke_requested_by)
        {
            let mut next = current.clone();
            next.transition(RequestStatus::Cancelled, now)?;
            next.status_reason = Some(format!("the bundle was revoked by {by}"));
            let audit = AuditEvent::new(
                now,
                by,
                "request.cancelled",
                AuditSubject::Request(id.clone()),
            )
            .with_integration(&next.integration)
            .with_details(json!({ "was": current.status, "bundle": parent }));
            match app
                .services
                .store
                .update_request(&next, current.version, &[audit])
                .await
            {
                Ok(stored) => {
                    return Ok(
                        json!({ "grant_id": id, "outcome": "cancelled", "status": stored.status }),
                    );
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let mut next = current.clone();
        // The approval may be weeks old: the flow as it is now must still allow the grant.
        let flow = app.services.store.get_flow(&current.flow).await?;
        let known = grant_resources(app.services.store.as_ref(), &current).await?;
        let refused = no_longer_allowed(flow.as_ref(), &current, &known);
        let audit = match &refused {
            None => {
                next.transition(RequestStatus::Approved, now)?;
                AuditEvent::new(
                    now,
                    "system:provision",
                    "request.started",
                    AuditSubject::Request(id.clone()),
                )
                .with_details(json!({ "starts_at": start }))
            }
            Some(why) => {
                next.transition(RequestStatus::Failed, now)?;
                next.status_reason = Some(format!("not started: {why}"));
                AuditEvent::new(
                    now,
                    "system:provision",
                    "request.start_refused",
                    AuditSubject::Request(id.clone()),
                )
                .failed()
                .with_details(json!({ "starts_at": start, "reason": why }))
            }
        }
        .with_integration(&next.integration);
        match app
            .services
            .store
            .update_request(&next, current.version, &[audit])
            .await
        {
            Ok(stored) if refused.is_some() => {
                tracing::warn!(grant_id = %id, reason = ?refused, "scheduled start refused: the flow no longer allows it");
                return Ok(
                    json!({ "grant_id": id, "outcome": "refused", "status": stored.status }),
                );
            }
            Ok(stored) => {
                let done = app.services.grants().provision(stored).await?;
                return Ok(json!({ "grant_id": id, "outcome": "started", "status": done.status }));
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(format!("request {id} kept changing while it was being started; retried").into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_qualified_invocation_arn_targets_the_function_itself() {
        let f = "arn:aws:lambda:us-east-1:123456789012:function:elastic-jit-provision";
        assert_eq!(super::unqualified(f), f);
        assert_eq!(super::unqualified(&format!("{f}:live")), f);
        assert_eq!(super::unqualified(&format!("{f}:7")), f);
        assert_eq!(super::unqualified("not-an-arn"), "not-an-arn");
    }
}
