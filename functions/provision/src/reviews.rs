//! Break-glass reviews: `POST /requests/{id}/review` records an integration owner's
//! after-the-fact review of a break-glass grant (once), and `GET /reviews` lists the grants
//! still waiting for one to the owners (and administrators) who may record it.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use serde::Deserialize;
use serde_json::json;
use shared::api::{ApiError, ApiRequest, Caller, json_response};
use shared::model::{
    AccessRequest, AuditEvent, AuditSubject, RequestStatus, Review, ReviewOutcome,
};
use shared::policy::is_own_request;
use shared::store::StoreError;
use shared::validation::{TextKind, ValidationErrors, check_text};

use crate::requests::load;
use crate::{App, views};

const MAX_NOTE: usize = 1000;
/// Attempts to record a review while the grant changes under it (it may be ending).
const REVIEW_ATTEMPTS: usize = 5;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    outcome: ReviewOutcome,
    #[serde(default)]
    note: Option<String>,
}

fn review_body(req: &ApiRequest) -> Result<(ReviewOutcome, Option<String>), ApiError> {
    let body: ReviewBody = req.json()?;
    let note = body
        .note
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    if let Some(n) = &note {
        let mut e = ValidationErrors::default();
        check_text(&mut e, "note", n, TextKind::FreeText);
        e.into_result().map_err(ApiError::from)?;
        if n.chars().count() > MAX_NOTE {
            return Err(ApiError::bad_request(
                "note_too_long",
                format!("note may be at most {MAX_NOTE} characters"),
            ));
        }
    }
    if body.outcome == ReviewOutcome::NotJustified && note.is_none() {
        return Err(ApiError::bad_request(
            "note_required",
            "say what was wrong: a note is required when the access was not justified",
        ));
    }
    Ok((body.outcome, note))
}

/// May `caller` review break-glass grants of `integration`? Its owners, and administrators.
async fn may_review(app: &App, caller: &Caller, integration: &str) -> Result<bool, ApiError> {
    if caller.is_admin {
        return Ok(true);
    }
    Ok(app
        .services
        .store
        .get_integration(integration)
        .await?
        .is_some_and(|i| caller.identity.matches_any(&i.spec.integration_owners)))
}

/// Is `caller` one who may see this request as its reviewer (a break-glass grant's
/// integration owner or an administrator)?
pub(crate) async fn sees_as_reviewer(
    app: &App,
    caller: &Caller,
    r: &AccessRequest,
) -> Result<bool, ApiError> {
    if r.break_glass.is_none() {
        return Ok(false);
    }
    may_review(app, caller, &r.integration).await
}

pub async fn record(
    app: &App,
    caller: &Caller,
    id: &str,
    req: &ApiRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let (outcome, note) = review_body(req)?;
    for _ in 0..REVIEW_ATTEMPTS {
        let current = load(app, id).await?;
        let reviewer = sees_as_reviewer(app, caller, &current).await?;
        if !reviewer && !crate::requests::visible(&current, caller) {
            return Err(ApiError::not_found("request", id));
        }
        if current.break_glass.is_none() {
            return Err(ApiError::new(
                409,
                "not_break_glass",
                "only break-glass grants are reviewed afterwards; this request went through approval",
            ));
        }
        if !reviewer {
            return Err(ApiError::forbidden(
                "only the integration's owners and administrators review break-glass access",
            ));
        }
        let Some(bg) = &current.break_glass else {
            return Err(ApiError::not_found("request", id));
        };
        if let Some(done) = &bg.review {
            return Err(ApiError::new(
                409,
                "already_reviewed",
                format!(
                    "{} reviewed this grant at {}",
                    done.by,
                    done.at.to_rfc3339()
                ),
            ));
        }
        // Provisioning writes the request's outcome conditionally: a review landing first
        // would make that write fail, so it waits until the grant is made.
        if current.status == RequestStatus::Approved {
            return Err(ApiError::new(
                409,
                "not_yet_granted",
                "the grant is still being made; review it once it is active",
            ));
        }
        if is_own_request(&current, &caller.identity) {
            return Err(ApiError::forbidden(
                "nobody reviews their own break-glass access",
            ));
        }
        let now = app.services.clock.now();
        let mut next = current.clone();
        next.break_glass = Some(shared::model::BreakGlass {
            review: Some(Review {
                by: caller.identity.display(),
                by_person: caller.identity.person_key(),
                outcome,
                note: note.clone(),
                at: now,
            }),
        });
        next.updated_at = now;
        let audit = AuditEvent::new(
            now,
            caller.actor(),
            "request.reviewed",
            AuditSubject::Request(id.into()),
        )
        .with_integration(&next.integration)
        .with_details(json!({ "outcome": outcome, "note": note }));
        let event_id = audit.id.clone();
        let saved = match app
            .services
            .store
            .record_review(&next, current.version, &[audit])
            .await
        {
            // The write may have landed with its answer lost (the SDK's retry then meets it):
            // then this review is recorded.
            Err(StoreError::Conflict { .. }) => app
                .services
                .grants()
                .applied(id, current.version, next.status, &event_id)
                .await
                .ok_or(StoreError::Conflict {
                    entity: "request",
                    id: id.to_string(),
                }),
            other => other,
        };
        match saved {
            Ok(stored) => {
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
        "the grant is changing too quickly; retry",
    ))
}

/// `GET /reviews`: break-glass grants waiting for a review, newest first, that the caller may
/// review (all of them for administrators; those of the integrations they own otherwise). Only
/// those integrations' partitions of the review index are read: nothing is learnt about
/// others.
pub async fn list(
    app: &App,
    caller: &Caller,
    req: &ApiRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let limit = req.limit(50, 200)?;
    let mine: Vec<String> = app
        .services
        .store
        .list_integrations()
        .await?
        .into_iter()
        .filter(|i| caller.is_admin || caller.identity.matches_any(&i.spec.integration_owners))
        .map(|i| i.name)
        .collect();
    let queue = if mine.is_empty() {
        shared::store::ReviewQueue {
            items: vec![],
            truncated: false,
        }
    } else {
        app.services.store.pending_reviews(&mine, limit).await?
    };
    Ok(json_response(
        200,
        &json!({
            "requests": queue.items.iter().map(|r| views::request(r, &caller.identity)).collect::<Vec<_>>(),
            "truncated": queue.truncated,
        }),
    ))
}
