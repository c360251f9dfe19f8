//! `/requests` routes: create, list, read, approve, reject.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use serde::Deserialize;
use serde_json::json;
use shared::api::{ApiError, ApiRequest, Caller, json_response};
use shared::grants::{ACCOUNT_DETAIL, GrantError, principal_name};
use shared::model::{
    AccessFlow, AccessRequest, ApprovalStep, AuditEvent, AuditSubject, BreakGlass, DecisionKind,
    Escalation, Identity, Integration, IntegrationKind, PrincipalRef, RequestStatus, Resource,
};
use shared::policy::{
    NewRequest, ViaAliases, alias_targets, approval_steps, can_decide, check_scope, concrete,
    decide, escalation_tier, expand, match_flow,
};
use shared::scheduled_start::{INVALID_START, approval_deadline, check_start, parse_start};
use shared::store::{Created, StoreError};
use shared::validation::{TextKind, ValidationErrors, check_name, check_text};

use crate::{App, views};

const MAX_IDEMPOTENCY_KEY: usize = 128;
/// The most requests `to_decide` lists (newest first); `to_decide_truncated` says if more wait.
const MAX_TO_DECIDE: i32 = 100;
/// Attempts to apply a decision when other decisions race with it.
const DECISION_ATTEMPTS: usize = 8;

pub(crate) fn idempotency_key(req: &ApiRequest) -> Result<Option<String>, ApiError> {
    match req.header("idempotency-key") {
        None => Ok(None),
        Some(k)
            if !k.is_empty()
                && k.len() <= MAX_IDEMPOTENCY_KEY
                && k.chars().all(|c| c.is_ascii_graphic()) =>
        {
            Ok(Some(k.to_string()))
        }
        Some(_) => Err(ApiError::bad_request(
            "invalid_idempotency_key",
            format!(
                "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters"
            ),
        )),
    }
}

/// The account `caller` would be granted on `integration`, refused now when it belongs to
/// another person rather than failed at provisioning (which checks again under the lease).
pub(crate) async fn account_for(
    app: &App,
    integration: &Integration,
    caller: &Caller,
) -> Result<String, ApiError> {
    let account = principal_name(integration, &caller.identity)
        .map_err(|m| ApiError::bad_request("identity_not_mappable", m))?;
    if let Some(p) = app
        .services
        .store
        .get_principal(&integration.name, &account)
        .await?
        && !p.is_owned_by(&caller.identity.person())
    {
        return Err(GrantError::AccountOwned(account).into());
    }
    Ok(account)
}

/// What `POST /requests` decides before it writes anything: the checks, the concrete resources
/// (patterns expanded, aliases replaced), the flow, and who must approve. A preview answers with
/// it; a create stores it.
struct Plan {
    integration: Integration,
    flow: AccessFlow,
    resources: Vec<Resource>,
    via_aliases: ViaAliases,
    steps: Vec<ApprovalStep>,
    /// Who joins the open steps if the request waits too long (empty: no escalation).
    escalation_to: Vec<PrincipalRef>,
    duration: std::time::Duration,
    /// The requested start, when it is far enough ahead to be scheduled.
    starts_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The account the grant would use on the target.
    account: String,
}

async fn plan(app: &App, caller: &Caller, body: &NewRequest) -> Result<Plan, ApiError> {
    check_text_fields(body)?;
    let duration = body.check()?;
    let requested_start = body.starts_at.as_deref().map(parse_start).transpose()?;
    // Checked before the lookup: DynamoDB refuses an empty key value (found by API fuzzing).
    let mut e = ValidationErrors::default();
    check_name(&mut e, "integration", &body.integration);
    e.into_result().map_err(ApiError::from)?;
    let integration = app
        .services
        .store
        .get_integration(&body.integration)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(
                "unknown_integration",
                format!("integration {:?} does not exist", body.integration),
            )
        })?;
    if integration.resolve_permission(&body.permission).is_none() {
        return Err(ApiError::bad_request(
            "unknown_permission",
            format!(
                "integration {:?} offers no permission {:?}",
                integration.name, body.permission
            ),
        ));
    }
    let (resources, via_aliases, _) = resolve(app, &integration, &body.resources).await?;
    check_scope(&integration, &body.permission, &resources)?;
    let flows = app.services.store.list_flows().await?;
    let flow = match_flow(&flows, &caller.identity, body, &resources, duration)?;
    // Checked when the flow was saved, but the integration's owners may have been removed
    // since: nobody would review the grant.
    if flow.spec.break_glass && integration.spec.integration_owners.is_empty() {
        return Err(ApiError::new(
            409,
            "no_reviewers",
            "break-glass access is reviewed by the integration's owners, and it has none now",
        ));
    }
    let account = account_for(app, &integration, caller).await?;
    let starts_at = match requested_start {
        Some(at) => check_start(at, app.services.clock.now(), flow.spec.schedule_horizon())?,
        None => None,
    };
    if flow.spec.break_glass && starts_at.is_some() {
        return Err(ApiError::bad_request(
            "invalid_start",
            "break-glass access starts at once: it cannot be scheduled",
        ));
    }
    let steps = approval_steps(flow, &integration, &resources, &caller.identity)?;
    let escalation_to = escalation_tier(flow, &integration);
    Ok(Plan {
        escalation_to,
        starts_at,
        flow: flow.clone(),
        integration,
        resources,
        via_aliases,
        steps,
        duration,
        account,
    })
}

/// The concrete resources `requested` (names and patterns) denotes on `integration` now:
/// patterns expanded, aliases replaced by what they point to. Also what was read to decide it
/// (a flow's coverage of an alias is judged on the indices behind it).
pub(crate) async fn resolve(
    app: &App,
    integration: &Integration,
    requested: &[String],
) -> Result<(Vec<Resource>, ViaAliases, Vec<Resource>), ApiError> {
    // Exact names are read directly, and on Elasticsearch a pattern reads only the names
    // that start with its literal prefix; a pattern with none, and names that are display
    // names (Cloud deployments are known by id, and patterns match display names too), need
    // the integration's whole list.
    let mut known = Vec::new();
    let exact: Vec<String> = requested
        .iter()
        .filter(|r| !r.contains('*'))
        .cloned()
        .collect();
    let prefixes: Vec<&str> = requested
        .iter()
        .filter(|r| r.contains('*'))
        .map(|r| &r[..r.find(['*', '?']).unwrap_or(r.len())])
        .collect();
    let by_prefix = integration.kind() == IntegrationKind::Elasticsearch
        && prefixes.iter().all(|p| !p.is_empty());
    if prefixes.is_empty() || by_prefix {
        if !exact.is_empty() {
            known = app
                .services
                .store
                .get_resources(&integration.name, &exact)
                .await?;
        }
        for prefix in prefixes.iter().filter(|_| by_prefix) {
            for r in app
                .services
                .store
                .resources_with_prefix(&integration.name, prefix)
                .await?
            {
                if !known.iter().any(|k| k.name == r.name) {
                    known.push(r);
                }
            }
        }
    }
    let read_all = !(prefixes.is_empty() || by_prefix);
    if read_all || exact.iter().any(|r| !known.iter().any(|k| &k.name == r)) {
        known = app.services.store.all_resources(&integration.name).await?;
    }
    let resources = expand(requested, &known)?;
    // An alias is granted as what it points to now: read those resources, then replace it.
    let behind: Vec<String> = alias_targets(&resources)
        .into_iter()
        .filter(|t| !known.iter().any(|k| &k.name == t))
        .collect();
    if !behind.is_empty() {
        known.extend(
            app.services
                .store
                .get_resources(&integration.name, &behind)
                .await?,
        );
    }
    let (resources, via_aliases) = concrete(resources, &known)?;
    Ok((resources, via_aliases, known))
}

/// `POST /requests/preview`: what `POST /requests` with this body would decide (the concrete
/// resources, the flow and who must approve) with nothing stored, so a form can say who will
/// approve before it is sent. Every check of a create applies, except that a missing
/// justification is not refused: it does not change the approvers, and the create checks it.
pub async fn preview(
    app: &App,
    caller: &Caller,
    req: &ApiRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    if let Some(flow) = crate::bundles::bundle_flow_of(app, req).await? {
        return crate::bundles::preview(app, caller, req, flow).await;
    }
    let mut body: NewRequest = req.json()?;
    if body
        .justification
        .as_deref()
        .is_none_or(|j| j.trim().is_empty())
    {
        body.justification = Some("(not checked by a preview)".into());
    }
    let plan = plan(app, caller, &body).await?;
    let now = app.services.clock.now();
    let window = chrono::Duration::from_std(plan.flow.spec.approval_window())
        .unwrap_or(chrono::Duration::hours(24));
    let escalation = escalation(&plan.flow, plan.escalation_to, now)
        .map(|e| e.no_later_than_lead_before(approval_deadline(now, window, plan.starts_at), now));
    let mut preview = json!({
            "integration": plan.integration.name,
            "flow": plan.flow.name,
            "resources": plan.resources.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
            "via_aliases": plan.via_aliases,
            "duration": shared::model::format_duration(plan.duration),
            "starts_at": plan.starts_at,
            "ends_at": plan.starts_at.map(|s| s + chrono::Duration::from_std(plan.duration).unwrap_or_default()),
            "auto_approve": plan.flow.spec.auto_approve,
            "break_glass": plan.flow.spec.break_glass,
            "approval_steps": plan.steps,
            "approval_reason_required": reason_required(&plan.flow),
    });
    if let Some(e) = escalation {
        preview["escalation"] = json!(e);
    }
    Ok(json_response(200, &preview))
}

pub async fn create(
    app: &App,
    caller: &Caller,
    req: &ApiRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    if let Some(flow) = crate::bundles::bundle_flow_of(app, req).await? {
        return crate::bundles::create(app, caller, req, flow).await;
    }
    let body: NewRequest = req.json()?;
    let key = idempotency_key(req)?;
    let planned = match plan(app, caller, &body).await {
        // A retry of a create that landed, arriving after the start it named: the start is
        // past now, but the request it made is the answer, not a refusal.
        Err(e) if e.code == INVALID_START && key.is_some() => {
            let person = caller.identity.person_key();
            let now = app.services.clock.now();
            match app
                .services
                .store
                .replayed_request(&person, key.as_deref().unwrap_or_default(), now)
                .await?
            {
                Some(r) if replays(&r, &caller.identity, &body) => {
                    return Ok(json_response(200, &views::request(&r, &caller.identity)));
                }
                _ => return Err(e),
            }
        }
        other => other?,
    };
    let Plan {
        integration,
        flow,
        resources,
        via_aliases,
        steps,
        escalation_to,
        duration,
        starts_at,
        account,
    } = planned;

    let now = app.services.clock.now();
    let window = chrono::Duration::from_std(flow.spec.approval_window())
        .unwrap_or(chrono::Duration::hours(24));
    let initial = match (flow.spec.grants_at_once(), starts_at) {
        (false, _) => RequestStatus::Pending,
        (true, Some(_)) => RequestStatus::Scheduled,
        (true, None) => RequestStatus::Approved,
    };
    let request = AccessRequest {
        integration: integration.name.clone(),
        flow: flow.name.clone(),
        resources: resources.iter().map(|r| r.name.clone()).collect(),
        requested_resources: body.resources.clone(),
        permission: body.permission.clone(),
        duration_secs: duration.as_secs(),
        justification: body.justification.clone().filter(|j| !j.trim().is_empty()),
        status: initial,
        status_reason: if flow.spec.break_glass {
            Some(format!(
                "break-glass access through flow {}: granted without approval, to be reviewed by the integration owners",
                flow.name
            ))
        } else {
            flow.spec
                .auto_approve
                .then(|| format!("approved automatically by flow {}", flow.name))
        },
        approval_steps: steps,
        approval_expires_at: approval_deadline(now, window, starts_at),
        approval_reason_required: reason_required(&flow),
        escalation: escalation(&flow, escalation_to, now)
            .map(|e| e.no_later_than_lead_before(approval_deadline(now, window, starts_at), now)),
        break_glass: flow.spec.break_glass.then(BreakGlass::default),
        starts_at,
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
    .with_integration(&integration.name)
    .with_details(json!({
        "flow": flow.name,
        "resources": request.resources,
        "requested": request.requested_resources,
        "via_aliases": via_aliases,
        "permission": request.permission,
        "duration_secs": request.duration_secs,
        "starts_at": request.starts_at,
        REQUESTED_START: body.starts_at.as_deref().and_then(|t| parse_start(t).ok()),
        "justification": request.justification,
        "auto_approved": flow.spec.auto_approve,
        "break_glass": flow.spec.break_glass,
        ACCOUNT_DETAIL: account,
    }));
    let person = caller.identity.person_key();
    let created = app
        .services
        .store
        .create_request(
            &request,
            key.as_deref().map(|k| (person.as_str(), k)),
            &[audit],
        )
        .await
        .map_err(create_error)?;
    let stored = match created {
        Created::Existing(r) if replays(&r, &caller.identity, &body) => {
            return Ok(json_response(200, &views::request(&r, &caller.identity)));
        }
        Created::Existing(_) => {
            return Err(ApiError::new(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was already used for a different request; use a new key",
            ));
        }
        Created::New(r) => r,
    };
    let result = match stored.status {
        RequestStatus::Approved => app.services.grants().provision(stored).await?,
        RequestStatus::Scheduled => {
            crate::start::arm(app, &stored).await;
            stored
        }
        _ => stored,
    };
    Ok(json_response(
        201,
        &views::request(&result, &caller.identity),
    ))
}

pub(crate) fn reason_required(flow: &AccessFlow) -> bool {
    !flow.spec.auto_approve
        && flow
            .spec
            .approval
            .as_ref()
            .is_some_and(|a| a.require_reason)
}

/// When and to whom a request made now under `flow` escalates, if the flow asks for it.
pub(crate) fn escalation(
    flow: &AccessFlow,
    to: Vec<PrincipalRef>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Escalation> {
    let after = flow.spec.approval.as_ref()?.escalation.as_ref()?.after()?;
    if flow.spec.grants_at_once() || to.is_empty() {
        return None;
    }
    Some(Escalation {
        at: now + chrono::Duration::from_std(after).ok()?,
        to,
        escalated_at: None,
    })
}

/// A request's create refused by the store: the open-request cap is the requester's to hear
/// about (429); anything else as the store said.
pub(crate) fn create_error(e: StoreError) -> ApiError {
    match e {
        StoreError::TooManyOpen { limit } => ApiError::new(
            429,
            "too_many_open_requests",
            format!(
                "you already have {limit} open requests (pending, scheduled, approved or active); \
                 wait until one is decided or ends before asking again"
            ),
        ),
        e => e.into(),
    }
}

/// Free text and every name a requester sends, refused when it holds control characters.
fn check_text_fields(body: &NewRequest) -> Result<(), ApiError> {
    let mut e = ValidationErrors::default();
    check_text(&mut e, "integration", &body.integration, TextKind::Label);
    check_text(&mut e, "permission", &body.permission, TextKind::Label);
    check_text(&mut e, "duration", &body.duration, TextKind::Label);
    for (i, r) in body.resources.iter().enumerate() {
        check_text(&mut e, &format!("resources[{i}]"), r, TextKind::Label);
    }
    if let Some(f) = &body.flow {
        check_text(&mut e, "flow", f, TextKind::Label);
    }
    if let Some(j) = &body.justification {
        check_text(&mut e, "justification", j, TextKind::FreeText);
    }
    e.into_result().map_err(ApiError::from)
}

/// Is the stored request the one this body (from the same person, with the same
/// Idempotency-Key) asks for? A retry must not receive the answer to another request.
/// Does `body`, sent by `requester`, ask again for exactly what `stored` was created from?
fn replays(stored: &AccessRequest, requester: &Identity, body: &NewRequest) -> bool {
    stored.requester.same_person(requester)
        && stored.integration == body.integration
        && stored.requested_resources == body.resources
        && stored.permission == body.permission
        && body
            .check()
            .is_ok_and(|d| stored.duration_secs == d.as_secs())
        && stored.justification == body.justification.clone().filter(|j| !j.trim().is_empty())
        // A start that does not parse is no start asked again: never equal to "none".
        && body
            .starts_at
            .as_deref()
            .map(parse_start)
            .transpose()
            .is_ok_and(|start| requested_start(stored) == start)
        && body.flow.as_ref().is_none_or(|f| *f == stored.flow)
}

/// The detail of `request.created` that holds the start as the requester sent it (one within
/// a minute of now is not scheduled, so `starts_at` alone cannot say what a retry must repeat).
const REQUESTED_START: &str = "requested_start";

/// The start a stored request was asked with.
fn requested_start(r: &AccessRequest) -> Option<chrono::DateTime<chrono::Utc>> {
    r.history
        .iter()
        .find(|e| e.action == "request.created")
        .and_then(|e| e.details.get(REQUESTED_START))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    #[serde(default)]
    reason: Option<String>,
}

pub(crate) fn decision_body(req: &ApiRequest, required: bool) -> Result<Option<String>, ApiError> {
    let body: DecisionBody = match req.json() {
        Ok(b) => b,
        Err(e) if e.code == "missing_body" && !required => DecisionBody::default(),
        Err(e) => return Err(e),
    };
    let reason = body
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if let Some(r) = &reason {
        let mut e = ValidationErrors::default();
        check_text(&mut e, "reason", r, TextKind::FreeText);
        e.into_result().map_err(ApiError::from)?;
    }
    if let Some(r) = &reason
        && r.chars().count() > 1000
    {
        return Err(ApiError::bad_request(
            "reason_too_long",
            "reason may be at most 1000 characters",
        ));
    }
    if required && reason.is_none() {
        return Err(ApiError::bad_request(
            "reason_required",
            "a reason is required to reject a request",
        ));
    }
    Ok(reason)
}

pub(crate) async fn load(app: &App, id: &str) -> Result<AccessRequest, ApiError> {
    if id.len() > 64 || id.is_empty() {
        return Err(ApiError::not_found("request", id));
    }
    app.services
        .store
        .get_request(id)
        .await?
        .ok_or_else(|| ApiError::not_found("request", id))
}

/// Requesters, approvers (current or past) and admins may read a request; others are told it
/// does not exist. The requester and past deciders are recognised by person, never by a label.
pub(crate) fn visible(r: &AccessRequest, caller: &Caller) -> bool {
    caller.is_admin
        || r.requester.same_person(&caller.identity)
        || r.approval_steps
            .iter()
            .any(|s| caller.identity.matches_any(&s.approvers))
        || r.decisions.iter().any(|d| d.is_by(&caller.identity))
}

pub async fn get(
    app: &App,
    caller: &Caller,
    id: &str,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let r = load(app, id).await?;
    if !visible(&r, caller) && !crate::reviews::sees_as_reviewer(app, caller, &r).await? {
        return Err(ApiError::not_found("request", id));
    }
    // The requester is told how far they may extend an active grant.
    let flow = if r.status == RequestStatus::Active && r.requester.same_person(&caller.identity) {
        app.services.store.get_flow(&r.flow).await?
    } else {
        None
    };
    let policy = flow.as_ref().and_then(|f| f.spec.extension.as_ref());
    let mut view = views::request_with_extension(&r, &caller.identity, policy);
    if r.bundle.is_some() {
        view["children"] = json!(crate::bundles::children_view(app, &r).await?);
    }
    view["grant_allows"] = crate::grant_view::grant_allows(app, caller, &r).await?;
    Ok(json_response(200, &view))
}

pub async fn list(
    app: &App,
    caller: &Caller,
    req: &ApiRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let limit = req.limit(50, 200)?;
    let cursor = req.cursor()?;
    let mine = app
        .services
        .store
        .requests_of(&caller.identity.person_key(), limit, cursor.as_ref())
        .await?;
    // Pending requests come from the approver index: only this caller's own keys are read.
    let queue = app
        .services
        .store
        .pending_for_approver(&caller.identity, MAX_TO_DECIDE)
        .await?;
    let to_decide: Vec<&AccessRequest> = queue
        .items
        .iter()
        .filter(|r| can_decide(r, &caller.identity))
        .collect();
    Ok(json_response(
        200,
        &json!({
            "requests": mine.items.iter().map(|r| views::request(r, &caller.identity)).collect::<Vec<_>>(),
            "next_cursor": mine.next.map(|c| c.to_string()),
            "to_decide": to_decide.iter().map(|r| views::request(r, &caller.identity)).collect::<Vec<_>>(),
            "to_decide_truncated": queue.truncated,
        }),
    ))
}

/// Grants whose revocation failed, for administrators (the portal's admin page): read from the
/// sparse due-time index, oldest retry first. A retry now is `POST /requests/{id}/revoke`.
pub async fn failed_revocations(
    app: &App,
    caller: &Caller,
    req: &ApiRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    caller.require_admin()?;
    let limit = req.limit(50, 200)?;
    let cursor = req.cursor()?;
    let page = app
        .services
        .store
        .due_requests(
            RequestStatus::RevokeFailed.as_str(),
            None,
            limit,
            cursor.as_ref(),
        )
        .await?;
    Ok(json_response(
        200,
        &json!({
            "requests": page.items.iter().map(|r| views::request(r, &caller.identity)).collect::<Vec<_>>(),
            "next_cursor": page.next.map(|c| c.to_string()),
        }),
    ))
}

pub async fn approve(
    app: &App,
    caller: &Caller,
    id: &str,
    req: &ApiRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let reason = decision_body(req, false)?;
    decide_with_retry(app, caller, id, DecisionKind::Approve, reason).await
}

pub async fn reject(
    app: &App,
    caller: &Caller,
    id: &str,
    req: &ApiRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let reason = decision_body(req, true)?;
    decide_with_retry(app, caller, id, DecisionKind::Reject, reason).await
}

async fn decide_with_retry(
    app: &App,
    caller: &Caller,
    id: &str,
    kind: DecisionKind,
    reason: Option<String>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let result = decide_as(app, caller, id, kind, reason).await?;
    Ok(json_response(
        200,
        &crate::bundles::view(app, &result, caller).await?,
    ))
}

/// Apply a decision on the latest version; a concurrent decision makes us re-read and retry,
/// so exactly one decision moves the request to approved and only it provisions. Every door
/// (the API, Slack buttons) decides through here.
pub(crate) async fn decide_as(
    app: &App,
    caller: &Caller,
    id: &str,
    kind: DecisionKind,
    reason: Option<String>,
) -> Result<AccessRequest, ApiError> {
    for _ in 0..DECISION_ATTEMPTS {
        let current = load(app, id).await?;
        if !visible(&current, caller) {
            return Err(ApiError::not_found("request", id));
        }
        crate::bundles::refuse_child(&current, "approve or reject")?;
        let now = app.services.clock.now();
        let mut next = current.clone();
        if let Err(e) = decide(&mut next, &caller.identity, kind, reason.clone(), now) {
            if e.code == "approval_window_elapsed" {
                expire_pending(app, current).await?;
            }
            return Err(e);
        }
        let action = match (kind, next.status) {
            (DecisionKind::Reject, _) => "request.rejected",
            // Approved before its start: the same decision, and the request waits, scheduled.
            (
                DecisionKind::Approve,
                RequestStatus::Approved | RequestStatus::Scheduled | RequestStatus::Bundled,
            ) => "request.approved",
            (DecisionKind::Approve, _) => "request.approval_recorded",
        };
        let audit = AuditEvent::new(
            now,
            caller.actor(),
            action,
            AuditSubject::Request(id.into()),
        )
        .with_integration(&next.integration)
        .with_details(match next.status {
            RequestStatus::Scheduled => json!({ "reason": reason, "starts_at": next.starts_at }),
            _ => json!({ "reason": reason }),
        });
        let (event_id, status) = (audit.id.clone(), next.status);
        // The approval that makes the request approved commits with the account's lease; the
        // one that completes a bundle commits with its children.
        let decided = if next.status == RequestStatus::Bundled {
            crate::bundles::grant(app, next, current.version, audit)
                .await
                .map_err(GrantError::from)
        } else if next.status == RequestStatus::Approved {
            app.services
                .grants()
                .approve_and_provision(next, current.version, &[audit])
                .await
        } else {
            app.services
                .store
                .update_request(&next, current.version, &[audit])
                .await
                .map_err(GrantError::from)
        };
        match decided {
            Ok(stored) => {
                if stored.status == RequestStatus::Scheduled {
                    crate::start::arm(app, &stored).await;
                }
                return Ok(stored);
            }
            Err(GrantError::Store(StoreError::Conflict {
                entity: "request", ..
            })) => {
                // The write may have landed with its answer lost: an attempt timed out and the
                // SDK's retry found the request already moved, by this very decision. Then it
                // is done, and what follows it is done here, not refused as "not pending".
                if let Some(stored) = app
                    .services
                    .grants()
                    .applied(id, current.version, status, &event_id)
                    .await
                {
                    return after_landed_decision(app, stored).await;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(
        409,
        "conflict",
        "the request is changing too quickly; retry",
    ))
}

/// What follows a decision whose write landed but whose answer was lost: an approved request
/// is provisioned (its account's lease, if the write took it, is this request's own), a
/// bundle's children are started, a scheduled start is armed.
async fn after_landed_decision(
    app: &App,
    stored: AccessRequest,
) -> Result<AccessRequest, ApiError> {
    match stored.status {
        RequestStatus::Approved => Ok(app.services.grants().provision(stored).await?),
        RequestStatus::Bundled => {
            crate::bundles::start_children(app, &stored).await;
            Ok(stored)
        }
        RequestStatus::Scheduled => {
            crate::start::arm(app, &stored).await;
            Ok(stored)
        }
        _ => Ok(stored),
    }
}

async fn expire_pending(app: &App, mut r: AccessRequest) -> Result<(), ApiError> {
    let now = app.services.clock.now();
    let expected = r.version;
    if r.transition(RequestStatus::Expired, now).is_ok() {
        r.status_reason = Some("the approval window elapsed".into());
        let audit = AuditEvent::new(
            now,
            "system:provision",
            "request.expired",
            AuditSubject::Request(r.id.clone()),
        )
        .with_integration(&r.integration);
        match app
            .services
            .store
            .update_request(&r, expected, &[audit])
            .await
        {
            Ok(_) | Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
