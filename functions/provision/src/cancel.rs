//! `POST /requests/{id}/cancel`: the requester withdraws a request that is still pending or
//! scheduled. Nothing was provisioned for it, so nothing is undone on a target; its start
//! schedule, if any, is deleted, and it stops counting against the requester's open requests.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use serde_json::json;
use shared::api::{ApiError, ApiRequest, Caller, json_response};
use shared::model::{AuditEvent, AuditSubject, RequestStatus};
use shared::store::StoreError;

use crate::requests::{decision_body, load, visible};
use crate::{App, views};

/// Attempts when decisions or a start race with the cancel.
const ATTEMPTS: usize = 8;

/// The stable code of a request that is past cancelling (approved, active or finished).
pub const NOT_CANCELLABLE: &str = "not_cancellable";

pub async fn cancel(
    app: &App,
    caller: &Caller,
    id: &str,
    req: &ApiRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let reason = decision_body(req, false)?;
    for _ in 0..ATTEMPTS {
        let current = load(app, id).await?;
        if !visible(&current, caller) {
            return Err(ApiError::not_found("request", id));
        }
        // By person: an approver who can see the request may not withdraw it (they reject a
        // pending one), and neither may a second identity sharing only an email. An
        // administrator may: a scheduled request can otherwise only be stopped once it starts.
        crate::bundles::refuse_child(&current, "cancel")?;
        let by_requester = current.requester.same_person(&caller.identity);
        if !by_requester && !caller.is_admin {
            return Err(ApiError::forbidden(
                "only the requester or an administrator may cancel a request",
            ));
        }
        if !current.is_cancellable() {
            return Err(ApiError::new(
                409,
                NOT_CANCELLABLE,
                format!(
                    "the request is {}; only pending or scheduled requests can be cancelled \
                     (revoke an active grant instead)",
                    current.status
                ),
            ));
        }
        let now = app.services.clock.now();
        let mut next = current.clone();
        next.transition(RequestStatus::Cancelled, now)
            .map_err(|e| ApiError::new(409, NOT_CANCELLABLE, e.to_string()))?;
        next.status_reason = Some(reason.clone().unwrap_or_else(|| {
            if by_requester {
                "cancelled by the requester".into()
            } else {
                format!("cancelled by administrator {}", caller.actor())
            }
        }));
        let audit = AuditEvent::new(
            now,
            caller.actor(),
            "request.cancelled",
            AuditSubject::Request(id.into()),
        )
        .with_integration(&next.integration)
        .with_details(json!({ "reason": reason, "was": current.status }));
        let event_id = audit.id.clone();
        let saved = match app
            .services
            .store
            .update_request(&next, current.version, &[audit])
            .await
        {
            // The write may have landed with its answer lost (the SDK's retry then meets it):
            // then this cancel is done.
            Err(StoreError::Conflict { .. }) => app
                .services
                .grants()
                .applied(id, current.version, RequestStatus::Cancelled, &event_id)
                .await
                .ok_or(StoreError::Conflict {
                    entity: "request",
                    id: id.to_string(),
                }),
            other => other,
        };
        match saved {
            Ok(stored) => {
                if current.status == RequestStatus::Scheduled
                    && let Err(e) = app.services.starts.cancel_start(id).await
                {
                    // Harmless if it fires: the start finds the request cancelled.
                    tracing::warn!(grant_id = %id, error = %e, "cannot delete a cancelled request's start schedule");
                }
                return Ok(json_response(
                    200,
                    &views::request(&stored, &caller.identity),
                ));
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(
        409,
        "conflict",
        "the request is changing too quickly; retry",
    ))
}
