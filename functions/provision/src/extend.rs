//! `POST /requests/{id}/extend`: the requester moves their active grant's end, within what its
//! flow's `extension` allows.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use serde::Deserialize;
use serde_json::json;
use shared::api::{ApiError, ApiRequest, Caller, json_response};
use shared::extension::{EXTEND_CUTOFF, ExtendAsk, check, policy_of};
use shared::model::{
    AccessFlow, AccessRequest, AuditEvent, AuditSubject, ExtensionApproval, parse_duration,
};
use shared::store::Created;
use shared::validation::{TextKind, ValidationErrors, check_text};

use crate::{App, requests, views};

const MAX_JUSTIFICATION: usize = 1000;
const MIN_ADD: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtendBody {
    /// How much to add to the grant's current end.
    duration: String,
    #[serde(default)]
    justification: Option<String>,
}

pub async fn extend(
    app: &App,
    caller: &Caller,
    id: &str,
    req: &ApiRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let body: ExtendBody = req.json()?;
    let mut e = ValidationErrors::default();
    check_text(&mut e, "duration", &body.duration, TextKind::Label);
    let justification = body
        .justification
        .map(|j| j.trim().to_string())
        .filter(|j| !j.is_empty());
    if let Some(j) = &justification {
        check_text(&mut e, "justification", j, TextKind::FreeText);
    }
    e.into_result().map_err(ApiError::from)?;
    if justification
        .as_ref()
        .is_some_and(|j| j.chars().count() > MAX_JUSTIFICATION)
    {
        return Err(ApiError::bad_request(
            "justification_too_long",
            format!("justification may be at most {MAX_JUSTIFICATION} characters"),
        ));
    }
    let add = parse_duration(&body.duration).map_err(|e| {
        ApiError::bad_request("invalid_duration", format!("duration is not valid: {e}"))
    })?;
    if add < MIN_ADD {
        return Err(ApiError::bad_request(
            "invalid_duration",
            "an extension adds at least 1m",
        ));
    }
    let grant = requests::load(app, id).await?;
    // Only the requester, by person: an approver or an administrator who may read the grant is
    // told so; anyone else is told it does not exist.
    if !grant.requester.same_person(&caller.identity) {
        if requests::visible(&grant, caller) {
            return Err(ApiError::new(
                403,
                "forbidden",
                "only the requester may extend their grant",
            ));
        }
        return Err(ApiError::not_found("request", id));
    }
    // A bundle's grants end together; the bundle is asked for again, never stretched.
    crate::bundles::refuse_child(&grant, "ask again for")?;
    if grant.bundle.is_some() {
        return Err(ApiError::new(
            409,
            "extension_not_offered",
            "a bundle is not extended: ask for it again",
        ));
    }
    let flow = app.services.store.get_flow(&grant.flow).await?;
    // Emergency access is asked for again, never stretched.
    if grant.break_glass.is_some() {
        return Err(ApiError::new(
            409,
            "extension_not_offered",
            "break-glass access is not extended: ask for it again",
        ));
    }
    // The flow as it is now must still grant this access to this requester.
    let known = shared::policy::grant_resources(app.services.store.as_ref(), &grant).await?;
    if grant.status == shared::model::RequestStatus::Active
        && let Some(why) = shared::policy::no_longer_offered(flow.as_ref(), &grant, &known)
    {
        return Err(ApiError::new(
            409,
            "extension_not_offered",
            format!("this grant can no longer be extended: {why}"),
        ));
    }
    let policy = policy_of(flow.as_ref())?;
    if flow.as_ref().is_some_and(|f| f.spec.require_justification) && justification.is_none() {
        return Err(ApiError::bad_request(
            "justification_required",
            "this access flow requires a justification for an extension",
        ));
    }
    if policy.approval == ExtensionApproval::Required {
        let flow = flow
            .as_ref()
            .ok_or_else(|| ApiError::internal("flow", &"gone"))?;
        return ask_approval(app, caller, grant, flow, add, justification).await;
    }
    let ask = ExtendAsk {
        by: caller.actor(),
        add,
        justification,
        request: None,
    };
    let policy = policy.clone();
    let stored = app.services.grants().extend(grant, &ask).await?;
    Ok(json_response(
        200,
        &views::request_with_extension(&stored, &caller.identity, Some(&policy)),
    ))
}

/// An extension that needs approval: a new pending request linked to the grant (`extends`),
/// with the grant's own approval steps, decided through the same routes (and Slack buttons) as
/// any request. The grant keeps its end until the extension is approved, so a pending
/// extension never shortens access; it waits at most until the grant could no longer be
/// extended.
async fn ask_approval(
    app: &App,
    caller: &Caller,
    grant: AccessRequest,
    flow: &AccessFlow,
    add: std::time::Duration,
    justification: Option<String>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let now = app.services.clock.now();
    let policy = policy_of(Some(flow))?;
    check(&grant, policy, add, now)?;
    if grant.approval_steps.is_empty() {
        return Err(ApiError::new(
            409,
            "extension_not_offered",
            "the grant has no approvers to approve an extension; request access again",
        ));
    }
    let window = chrono::Duration::from_std(flow.spec.approval_window())
        .unwrap_or(chrono::Duration::hours(24));
    let last_chance = grant.ends_at.unwrap_or(now) - EXTEND_CUTOFF;
    let mut steps = grant.approval_steps.clone();
    // Decided afresh: nothing the grant's own approval gave carries over (a quorum counts
    // again from nobody).
    for s in &mut steps {
        s.approved_by = None;
        s.approved_at = None;
        s.approvals.clear();
    }
    let request = AccessRequest {
        integration: grant.integration.clone(),
        flow: grant.flow.clone(),
        resources: grant.resources.clone(),
        requested_resources: grant.requested_resources.clone(),
        permission: grant.permission.clone(),
        duration_secs: add.as_secs(),
        justification,
        status_reason: Some(format!("extends grant {}", grant.id)),
        approval_steps: steps,
        approval_expires_at: (now + window).min(last_chance),
        approval_reason_required: grant.approval_reason_required,
        extends: Some(grant.id.clone()),
        ..AccessRequest::fresh(
            uuid::Uuid::new_v4().to_string(),
            caller.identity.clone(),
            now,
        )
    };
    let audit = AuditEvent::new(
        now,
        caller.actor(),
        "request.created",
        AuditSubject::Request(request.id.clone()),
    )
    .with_integration(&request.integration)
    .with_details(json!({
        "flow": request.flow,
        "extends": grant.id,
        "resources": request.resources,
        "permission": request.permission,
        "duration_secs": request.duration_secs,
        "justification": request.justification,
        "auto_approved": false,
    }));
    let created = app
        .services
        .store
        .create_request(&request, None, &[audit])
        .await
        .map_err(requests::create_error)?;
    let stored = match created {
        Created::New(r) | Created::Existing(r) => r,
    };
    Ok(json_response(
        202,
        &views::request(&stored, &caller.identity),
    ))
}
