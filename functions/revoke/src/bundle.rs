//! `POST /requests/{id}/revoke` on a bundle's parent: every child's grant ends. The intent is
//! recorded on the parent first; then each child is revoked as any grant is (its own audit,
//! its own retries), and a child not started yet is cancelled so that it never starts
//! ([`shared::revocation::Revoker::end_bundle`]). Every step is idempotent: a retry finishes
//! what an interrupted call began, and until every child is settled the parent stays due for
//! the cleanup sweep, which finishes it (a child that a racing start made active included).

use serde_json::{Value, json};
use shared::api::{ApiError, Caller};
use shared::model::{AccessRequest, AuditEvent, AuditSubject, RequestStatus, child_summary};
use shared::revocation::RevokeError;
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
    let (parent, ended) = match app.revoker().end_bundle(parent, reason).await {
        Ok(done) => done,
        Err(RevokeError::Store(StoreError::Conflict { .. })) => {
            return Err(ApiError::new(
                409,
                "conflict",
                "a grant of the bundle is changing too quickly; retry",
            ));
        }
        Err(RevokeError::Store(e)) => return Err(e.into()),
        Err(RevokeError::Grant(e)) => return Err(e.into()),
        Err(RevokeError::NotFound(id)) => return Err(ApiError::not_found("request", &id)),
        Err(RevokeError::NotActive(s)) => {
            return Err(ApiError::new(
                409,
                "not_active",
                format!("the bundle is {s}"),
            ));
        }
    };
    let mut all_done = true;
    let mut provisioning = false;
    let mut children = Vec::new();
    for child in &ended {
        match child.status {
            RequestStatus::Approved => provisioning = true,
            RequestStatus::RevokeFailed => all_done = false,
            _ => {}
        }
        children.push(child_summary(child));
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
