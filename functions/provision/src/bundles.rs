//! Bundles (see [`shared::model::BundleItem`]): `POST /requests` on a bundle flow, the
//! approval that creates the children, and starting them.
//!
//! Every item is checked exactly as a single request's integration, resources and permission
//! are (resources expanded and covered by the item's patterns, the Cloud role's scope, the
//! account's owner). The parent's approval steps are the union of its items' steps: owner
//! steps stay one per owner set and item, never merged; the flow's approvers are one step.
//!
//! The children are created `scheduled` to start at once, in the same transaction as the
//! decision that approves the parent, and started right after it. If this function dies in
//! between, each child is still `scheduled`: the cleanup sweep arms its start schedule after
//! the start grace, and the start provisions it. Every child ends at the same time (its start
//! is the approval), and each succeeds or fails on its own; the parent lists them all.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::api::{ApiError, ApiRequest, Caller, json_response};
use shared::grants::ACCOUNT_DETAIL;
use shared::model::{
    AccessFlow, AccessRequest, ApprovalStep, AuditEvent, AuditSubject, BundlePart, Decision,
    PrincipalRef, RequestStatus, child_id,
};
use shared::policy::{
    ViaAliases, approval_steps, check_duration, check_justification, check_scope, escalation_tier,
    offers,
};
use shared::scheduler::START_SOURCE;
use shared::store::{Created, MAX_APPROVER_KEYS, StoreError};
use shared::validation::{TextKind, ValidationErrors, check_name, check_text};

use crate::{App, views};

/// The stable code of a body that names items for a bundle flow (the flow fixes them).
pub const BUNDLE_ITEMS_FIXED: &str = "bundle_items_fixed";

/// The detail of a bundle parent's `request.created` event listing each item's account.
const BUNDLE_ACCOUNTS_DETAIL: &str = "accounts";

/// The body of `POST /requests` on a bundle flow: the flow fixes everything else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBundleRequest {
    flow: String,
    duration: String,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    starts_at: Option<String>,
}

/// The bundle flow a `POST /requests` (or preview) body names, if it names one. Anything else,
/// including a body that does not parse, goes the ordinary way (which says what is wrong).
pub async fn bundle_flow_of(app: &App, req: &ApiRequest) -> Result<Option<AccessFlow>, ApiError> {
    let Ok(body) = req.json::<Value>() else {
        return Ok(None);
    };
    let Some(name) = body.get("flow").and_then(Value::as_str) else {
        return Ok(None);
    };
    let mut e = ValidationErrors::default();
    check_name(&mut e, "flow", name);
    if !e.is_empty() {
        return Ok(None);
    }
    Ok(app
        .services
        .store
        .get_flow(name)
        .await?
        .filter(|f| f.spec.bundle.is_some()))
}

/// Everything `POST /requests` on a bundle flow decides before it writes anything.
struct BundlePlan {
    parts: Vec<BundlePart>,
    via_aliases: Vec<ViaAliases>,
    accounts: Vec<String>,
    steps: Vec<ApprovalStep>,
    escalation_to: Vec<PrincipalRef>,
    duration: std::time::Duration,
    justification: Option<String>,
}

async fn plan(
    app: &App,
    caller: &Caller,
    flow: &AccessFlow,
    req: &ApiRequest,
    preview: bool,
) -> Result<BundlePlan, ApiError> {
    let spec = &flow.spec;
    let refused = |reason: String| {
        ApiError::new(
            403,
            "no_matching_flow",
            "no access flow allows this request",
        )
        .with_details(json!({ "flows": [{ "flow": flow.name, "reason": reason }] }))
    };
    // Before anything else: someone who may not use the flow learns nothing more of it.
    if !caller.identity.matches_any(&spec.requesters) {
        return Err(refused("you are not one of its requesters".into()));
    }
    let raw: Value = req.json()?;
    // The requester chooses the flow, the duration and why; the items are the flow's.
    let forged: Vec<&str> = ["integration", "resources", "permission"]
        .into_iter()
        .filter(|k| raw.get(*k).is_some())
        .collect();
    if !forged.is_empty() {
        return Err(ApiError::bad_request(
            BUNDLE_ITEMS_FIXED,
            format!(
                "flow {} is a bundle: it fixes its integrations, resources and permissions; \
                 leave out {}",
                flow.name,
                forged.join(", ")
            ),
        ));
    }
    let body: NewBundleRequest = req.json()?;
    let mut e = ValidationErrors::default();
    check_text(&mut e, "flow", &body.flow, TextKind::Label);
    check_text(&mut e, "duration", &body.duration, TextKind::Label);
    if let Some(j) = &body.justification {
        check_text(&mut e, "justification", j, TextKind::FreeText);
    }
    e.into_result().map_err(ApiError::from)?;
    if body.starts_at.is_some() {
        return Err(ApiError::bad_request(
            shared::scheduled_start::INVALID_START,
            "a bundle starts when it is approved: leave out starts_at",
        ));
    }
    let justification = check_justification(body.justification.as_deref())?;
    let duration = check_duration(&body.duration)?;
    if duration > spec.max_duration() {
        return Err(refused(format!(
            "duration exceeds its maximum of {}",
            shared::model::format_duration(spec.max_duration())
        )));
    }
    if spec.needs_justification() && justification.is_none() && !preview {
        return Err(ApiError::bad_request(
            "justification_required",
            "this access flow requires a justification",
        ));
    }
    // Checked when the flow was saved; refused again, should a stored flow say otherwise.
    if spec.break_glass {
        return Err(ApiError::new(
            409,
            shared::model::BUNDLE_CONFLICT,
            "a bundle cannot be break-glass access",
        ));
    }
    let items = spec.bundle.clone().unwrap_or_default();
    // An escalation without `to` reaches each item's integration owners: then even the
    // flow's approvers are one step per integration, each escalating to its own owners.
    let tier_by_integration = spec
        .approval
        .as_ref()
        .and_then(|a| a.escalation.as_ref())
        .is_some_and(|e| e.to.is_empty());
    let mut out = BundlePlan {
        parts: Vec::with_capacity(items.len()),
        via_aliases: Vec::with_capacity(items.len()),
        accounts: Vec::with_capacity(items.len()),
        steps: vec![],
        escalation_to: vec![],
        duration,
        justification,
    };
    for (n, item) in items.iter().enumerate() {
        let unavailable = |what: String| {
            ApiError::new(
                409,
                "bundle_unavailable",
                format!(
                    "item {} of bundle {} cannot be granted now: {what}",
                    n + 1,
                    flow.name
                ),
            )
        };
        let integration = app
            .services
            .store
            .get_integration(&item.integration)
            .await?
            .ok_or_else(|| {
                unavailable(format!(
                    "integration {:?} no longer exists",
                    item.integration
                ))
            })?;
        if integration.resolve_permission(&item.permission).is_none() {
            return Err(unavailable(format!(
                "integration {:?} no longer offers permission {:?}",
                integration.name, item.permission
            )));
        }
        let (resources, via, known) =
            crate::requests::resolve(app, &integration, &item.resources).await?;
        // The item's own patterns, judged as a single flow's are (an alias only when every
        // index behind it is covered).
        let mut item_flow = flow.clone();
        item_flow.spec.integration = item.integration.clone();
        item_flow.spec.resources = item.resources.clone();
        item_flow.spec.permissions = vec![item.permission.clone()];
        if let Some(r) = resources.iter().find(|r| !offers(&item_flow, r, &known)) {
            return Err(unavailable(format!(
                "resource {:?} is outside the item's patterns",
                r.name
            )));
        }
        check_scope(&integration, &item.permission, &resources)?;
        let account = crate::requests::account_for(app, &integration, caller).await?;
        // Each step escalates to its own item's tier only: the owners of one integration
        // never join (and so never approve) another integration's item.
        let tier = escalation_tier(&item_flow, &integration);
        for mut step in approval_steps(&item_flow, &integration, &resources, &caller.identity)? {
            // Owner steps name their item's integration (an owner of `logs` on one cluster is
            // not the owner of `logs` on another); the flow's approvers are one step, unless
            // its escalation reaches each integration's own owners.
            if spec.approvers.is_empty() || tier_by_integration {
                step.label = format!("{}: {}", integration.name, step.label);
            }
            if !tier.is_empty() {
                step.escalate_to = Some(tier.clone());
            }
            // The same step serving another item as well is one step naming both items.
            match out.steps.iter_mut().find(|s| {
                s.label == step.label
                    && s.approvers == step.approvers
                    && s.required == step.required
                    && s.escalate_to == step.escalate_to
            }) {
                Some(same) => {
                    if !same.items.contains(&n) {
                        same.items.push(n);
                    }
                }
                None => {
                    step.items = vec![n];
                    out.steps.push(step);
                }
            }
        }
        for p in tier {
            if !out.escalation_to.contains(&p) {
                out.escalation_to.push(p);
            }
        }
        out.parts.push(BundlePart {
            integration: integration.name.clone(),
            resources: resources.iter().map(|r| r.name.clone()).collect(),
            requested_resources: item.resources.clone(),
            permission: item.permission.clone(),
        });
        out.via_aliases.push(via);
        out.accounts.push(account);
    }
    // The parent, its index items, its children and their audit commit in one transaction.
    let distinct: std::collections::BTreeSet<&PrincipalRef> = out
        .steps
        .iter()
        .flat_map(|s| s.approvers.iter())
        .chain(out.escalation_to.iter())
        .collect();
    let room = MAX_APPROVER_KEYS - 2 * shared::model::MAX_BUNDLE_ITEMS;
    if distinct.len() > room {
        return Err(ApiError::bad_request(
            "too_many_approvers",
            format!(
                "this bundle would need {} different approvers; at most {room} are possible",
                distinct.len()
            ),
        ));
    }
    Ok(out)
}

/// `POST /requests/preview` on a bundle flow: its items as they resolve now and who approves.
pub async fn preview(
    app: &App,
    caller: &Caller,
    req: &ApiRequest,
    flow: AccessFlow,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let p = plan(app, caller, &flow, req, true).await?;
    Ok(json_response(
        200,
        &json!({
            "integration": "",
            "flow": flow.name,
            "resources": [],
            "via_aliases": {},
            "bundle": p.parts,
            "duration": shared::model::format_duration(p.duration),
            "starts_at": null,
            "ends_at": null,
            "auto_approve": flow.spec.auto_approve,
            "break_glass": false,
            "approval_steps": p.steps,
            "approval_reason_required": crate::requests::reason_required(&flow),
        }),
    ))
}

/// `POST /requests` on a bundle flow: one parent request, pending until approved as a whole
/// (or, on an auto-approving flow, bundled at once with its children).
pub async fn create(
    app: &App,
    caller: &Caller,
    req: &ApiRequest,
    flow: AccessFlow,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let key = crate::requests::idempotency_key(req)?;
    let p = plan(app, caller, &flow, req, false).await?;
    let now = app.services.clock.now();
    let window = chrono::Duration::from_std(flow.spec.approval_window())
        .unwrap_or(chrono::Duration::hours(24));
    let at_once = flow.spec.grants_at_once();
    // A parent grants nothing itself (no integration, resources or permission): its children
    // name their integrations.
    let parent = AccessRequest {
        flow: flow.name.clone(),
        duration_secs: p.duration.as_secs(),
        justification: p.justification.clone(),
        approval_steps: p.steps,
        approval_expires_at: now + window,
        approval_reason_required: crate::requests::reason_required(&flow),
        escalation: crate::requests::escalation(&flow, p.escalation_to, now),
        bundle: Some(p.parts),
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
        AuditSubject::Request(parent.id.clone()),
    )
    .with_details(json!({
        "flow": flow.name,
        "bundle": parent.bundle,
        "via_aliases": p.via_aliases,
        "duration_secs": parent.duration_secs,
        "justification": parent.justification,
        "auto_approved": at_once,
        // One account per item, in item order; each child's own `request.created` records
        // its item's (the `account` detail every grant reads is a string).
        BUNDLE_ACCOUNTS_DETAIL: p.accounts,
    }));
    let person = caller.identity.person_key();
    let idempotency = key.as_deref().map(|k| (person.as_str(), k));
    let created = if at_once {
        let mut bundled = parent.clone();
        bundled.status_reason = Some(format!("approved automatically by flow {}", flow.name));
        bundled
            .transition(RequestStatus::Bundled, now)
            .map_err(|e| ApiError::new(409, "not_pending", e.to_string()))?;
        let granted = AuditEvent::new(
            now,
            "system:provision",
            "request.approved",
            AuditSubject::Request(parent.id.clone()),
        )
        .with_details(json!({ "children": bundled.child_ids() }));
        let children = children_of(&bundled, now);
        app.services
            .store
            .create_bundle(&bundled, &children, idempotency, &[audit, granted])
            .await
    } else {
        app.services
            .store
            .create_request(&parent, idempotency, &[audit])
            .await
    }
    .map_err(crate::requests::create_error)?;
    let stored = match created {
        Created::Existing(r) if same_bundle(&r, &parent) => {
            return Ok(json_response(200, &view(app, &r, caller).await?));
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
    if stored.status == RequestStatus::Bundled {
        start_children(app, &stored).await;
    }
    Ok(json_response(201, &view(app, &stored, caller).await?))
}

/// A retry with the same Idempotency-Key must ask for the same bundle.
fn same_bundle(stored: &AccessRequest, new: &AccessRequest) -> bool {
    stored.requester.same_person(&new.requester)
        && stored.flow == new.flow
        && stored.bundle.is_some()
        && stored.duration_secs == new.duration_secs
        && stored.justification == new.justification
}

/// The steps (with their approvals) and the decisions of a bundle's parent that concern item
/// `i`: its own item's steps and the approvals given to them. An approver of one item never
/// reads or revokes another item's grant through its child (the parent is theirs to revoke).
/// A parent recorded before steps named their items gives every child every step.
pub fn item_approvals(parent: &AccessRequest, i: usize) -> (Vec<ApprovalStep>, Vec<Decision>) {
    let steps: Vec<ApprovalStep> = parent
        .approval_steps
        .iter()
        .filter(|s| s.items.is_empty() || s.items.contains(&i))
        .cloned()
        .collect();
    let decisions = parent
        .decisions
        .iter()
        .filter(|d| {
            d.by_person.as_ref().is_some_and(|p| {
                steps
                    .iter()
                    .any(|s| s.approvals.iter().any(|a| &a.by_person == p))
            })
        })
        .cloned()
        .collect();
    (steps, decisions)
}

/// The children of a parent that has just become `bundled`: one per item, `scheduled` to
/// start now, carrying its own item's approvals (so those approvers see it) and its own
/// creation in its trail.
pub fn children_of(parent: &AccessRequest, now: DateTime<Utc>) -> Vec<AccessRequest> {
    let accounts: Vec<Option<String>> = parent
        .history
        .iter()
        .find(|e| e.action == "request.created")
        .and_then(|e| e.details.get(BUNDLE_ACCOUNTS_DETAIL))
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let parts = parent.bundle.clone().unwrap_or_default();
    let total = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let id = child_id(&parent.id, i);
            let (approval_steps, decisions) = item_approvals(parent, i);
            let mut created = AuditEvent::new(
                now,
                "system:provision",
                "request.created",
                AuditSubject::Request(id.clone()),
            )
            .with_integration(&part.integration)
            .with_details(json!({
                "parent": parent.id,
                "item": i + 1,
                "flow": parent.flow,
                "resources": part.resources,
                "requested": part.requested_resources,
                "permission": part.permission,
                "duration_secs": parent.duration_secs,
            }));
            if let (Some(Some(account)), Some(d)) =
                (accounts.get(i), created.details.as_object_mut())
            {
                d.insert(ACCOUNT_DETAIL.into(), json!(account));
            }
            // The parent's requester, flow, duration and justification; its item's
            // approvals and target; its own life from here.
            AccessRequest {
                id,
                approval_steps,
                decisions,
                integration: part.integration,
                resources: part.resources,
                requested_resources: part.requested_resources,
                permission: part.permission,
                status: RequestStatus::Scheduled,
                status_reason: Some(format!(
                    "item {} of {total} of bundle {}, approved with it",
                    i + 1,
                    parent.id
                )),
                created_at: now,
                updated_at: now,
                approval_expires_at: now,
                approval_reason_required: false,
                escalation: None,
                // Every child starts (and so ends) with the approval, however late it is
                // provisioned.
                starts_at: Some(now),
                ends_at: None,
                ended_at: None,
                revoke_requested_by: None,
                bundle: None,
                parent: Some(parent.id.clone()),
                history: vec![created],
                version: 0,
                ..parent.clone()
            }
        })
        .collect()
}

/// The decision that fully approved a bundle's parent: the parent becomes `bundled` and its
/// children exist, in one write, then each child is started. The loser of a race gets the
/// store's conflict (the caller reads again and finds the parent decided).
pub async fn grant(
    app: &App,
    bundled: AccessRequest,
    expected: u64,
    audit: AuditEvent,
) -> Result<AccessRequest, StoreError> {
    let now = app.services.clock.now();
    let children = children_of(&bundled, now);
    let mut audit = audit;
    match audit.details.as_object_mut() {
        Some(d) => {
            d.insert("children".into(), json!(bundled.child_ids()));
        }
        None => audit.details = json!({ "children": bundled.child_ids() }),
    }
    let (stored, _) = app
        .services
        .store
        .bundle_request(&bundled, expected, &children, &[audit])
        .await?;
    start_children(app, &stored).await;
    Ok(stored)
}

/// Start every child that is still `scheduled`, one at a time (children on one integration
/// share the requester's account, whose changes are serialized anyway). A child that cannot
/// be started now stays `scheduled`: the sweep arms its start.
pub async fn start_children(app: &App, parent: &AccessRequest) {
    for id in parent.child_ids() {
        let event = json!({ "source": START_SOURCE, "grant_id": id });
        if let Err(e) = crate::start::fire(app, event).await {
            tracing::warn!(grant_id = %id, error = %e, "bundle child not started; the sweep arms its start");
        }
    }
}

/// The children as the parent's view lists them (a child that does not exist yet is absent).
pub async fn children_view(app: &App, parent: &AccessRequest) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    for id in parent.child_ids() {
        if let Some(c) = app.services.store.get_request(&id).await? {
            out.push(shared::model::child_summary(&c));
        }
    }
    Ok(out)
}

/// The request as its reader sees it, with a bundle parent's children.
pub async fn view(app: &App, r: &AccessRequest, caller: &Caller) -> Result<Value, ApiError> {
    let mut v = views::request(r, &caller.identity);
    if r.bundle.is_some() {
        v["children"] = json!(children_view(app, r).await?);
    }
    Ok(v)
}

/// A decision, cancel or extension aimed at a child: children are decided only through their
/// parent.
pub fn refuse_child(r: &AccessRequest, what: &str) -> Result<(), ApiError> {
    match &r.parent {
        Some(parent) => Err(ApiError::new(
            409,
            shared::model::BUNDLE_CHILD,
            format!(
                "this request is part of bundle {parent}; {what} the bundle itself \
                 (POST /requests/{parent}/...)"
            ),
        )),
        None => Ok(()),
    }
}
