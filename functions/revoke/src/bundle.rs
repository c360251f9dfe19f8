//! `POST /requests/{id}/revoke` on a bundle's parent: every child's grant ends. The intent is
//! recorded on the parent first; then each child is revoked as any grant is (its own audit,
//! its own retries), and a child not started yet is cancelled so that it never starts. Every
//! step is idempotent: a retry finishes what an interrupted call began.

use serde_json::{Value, json};
use shared::api::{ApiError, Caller};
use shared::model::{AccessRequest, AuditEvent, AuditSubject, RequestStatus, child_summary};
use shared::revocation::{Cause, Outcome};
use shared::store::StoreError;

use crate::App;

/// Attempts at a conditional write that other writers race with.
const ATTEMPTS: usize = 4;

/// What happened to the bundle: the parent's view with its children, and whether every grant
/// is gone (else the answer is 202, or 409 while a child is still being provisioned).
pub struct BundleRevocation {
    pub view: Value,
    pub all_done: bool,
    pub provisioning: bool,
}

pub async fn revoke(
    app: &App,
    parent: AccessRequest,
    caller: &Caller,
    reason: Option<String>,
) -> Result<BundleRevocation, ApiError> {
    if parent.status != RequestStatus::Bundled {
        return Err(ApiError::new(
            409,
            "not_active",
            format!(
                "the bundle is {}; only an approved bundle's grants can be revoked (cancel or \
                 reject a pending one)",
                parent.status
            ),
        ));
    }
    let parent = record_intent(app, parent, caller, reason.as_deref()).await?;
    let mut all_done = true;
    let mut provisioning = false;
    let mut children = Vec::new();
    for id in parent.child_ids() {
        let Some(child) = end_child(app, &id, caller, reason.clone()).await? else {
            continue;
        };
        match child.status {
            RequestStatus::Approved => provisioning = true,
            RequestStatus::RevokeFailed => all_done = false,
            _ => {}
        }
        children.push(child_summary(&child));
    }
    let mut view = crate::view(&parent);
    view["children"] = json!(children);
    Ok(BundleRevocation {
        view,
        all_done,
        provisioning,
    })
}

/// The parent's trail says who revoked the bundle, before any child changes.
async fn record_intent(
    app: &App,
    mut parent: AccessRequest,
    caller: &Caller,
    reason: Option<&str>,
) -> Result<AccessRequest, ApiError> {
    for _ in 0..ATTEMPTS {
        if parent.revoke_requested_by.is_some() {
            return Ok(parent);
        }
        let now = app.services.clock.now();
        let expected = parent.version;
        let mut next = parent.clone();
        next.revoke_requested_by = Some(caller.actor());
        next.updated_at = now;
        let audit = AuditEvent::new(
            now,
            caller.actor(),
            "bundle.revoke_requested",
            AuditSubject::Request(parent.id.clone()),
        )
        .with_details(json!({ "reason": reason, "children": parent.child_ids() }));
        match app
            .services
            .store
            .update_request(&next, expected, &[audit])
            .await
        {
            Ok(stored) => return Ok(stored),
            Err(StoreError::Conflict { .. }) => {
                parent = app
                    .services
                    .store
                    .get_request(&parent.id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("request", &parent.id))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(
        409,
        "conflict",
        "the bundle is changing too quickly; retry",
    ))
}

/// End one child: revoke its grant, or cancel it if it has not started. Returns the child as
/// it is afterwards (`None` if it does not exist).
async fn end_child(
    app: &App,
    id: &str,
    caller: &Caller,
    reason: Option<String>,
) -> Result<Option<AccessRequest>, ApiError> {
    for _ in 0..ATTEMPTS {
        let Some(child) = app.services.store.get_request(id).await? else {
            return Ok(None);
        };
        match child.status {
            RequestStatus::Active | RequestStatus::RevokeFailed => {
                let cause = Cause::Manual {
                    by: caller.actor(),
                    reason: reason.clone(),
                };
                return match app.revoker().revoke_request(child, cause, None).await {
                    Ok(Outcome::Done(r) | Outcome::Unchanged(r) | Outcome::Failed(r)) => {
                        Ok(Some(*r))
                    }
                    Err(shared::revocation::RevokeError::Store(e)) => Err(e.into()),
                    Err(shared::revocation::RevokeError::Grant(e)) => Err(e.into()),
                    // It changed under us (ended, or not active after all): look again.
                    Err(_) => continue,
                };
            }
            RequestStatus::Scheduled => {
                let now = app.services.clock.now();
                let mut next = child.clone();
                next.transition(RequestStatus::Cancelled, now)
                    .map_err(|e| ApiError::new(409, "conflict", e.to_string()))?;
                next.status_reason = Some(format!("the bundle was revoked by {}", caller.actor()));
                let audit = AuditEvent::new(
                    now,
                    caller.actor(),
                    "request.cancelled",
                    AuditSubject::Request(id.into()),
                )
                .with_integration(&next.integration)
                .with_details(
                    json!({ "reason": reason, "was": child.status, "bundle": child.parent }),
                );
                // Its start schedule, if one was armed, finds it cancelled and starts nothing.
                match app
                    .services
                    .store
                    .update_request(&next, child.version, &[audit])
                    .await
                {
                    Ok(stored) => return Ok(Some(stored)),
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            _ => return Ok(Some(child)),
        }
    }
    Err(ApiError::new(
        409,
        "conflict",
        "a grant of the bundle is changing too quickly; retry",
    ))
}
