//! Access policy: which flow a request falls under, who must approve it, and whether a caller
//! may decide it.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use wildmatch::WildMatch;

use crate::api::ApiError;
use crate::driver::cloud::roles::{applies_to, kind_label};
use crate::model::{
    AccessFlow, AccessFlowSpec, AccessRequest, ApprovalRule, ApprovalStep, Decision, DecisionKind,
    Identity, Integration, OwnerAttribute, PrincipalKind, PrincipalRef, RequestStatus,
    ResolvedPermission, Resource, StepApproval, parse_duration,
};

pub const MAX_RESOURCES: usize = 100;
pub const MAX_JUSTIFICATION: usize = 1000;
/// The shortest grant a request may ask for. Short break-glass grants are safe: the grant's
/// expiry schedule fires at its end, exact to the minute, and the 5-minute cleanup sweep is the
/// backstop, so access never outlives its grant by more than the sweep's interval.
pub const MIN_DURATION: Duration = Duration::from_secs(60);

/// The body of `POST /requests`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    pub integration: String,
    pub resources: Vec<String>,
    pub permission: String,
    pub duration: String,
    #[serde(default)]
    pub justification: Option<String>,
    /// Optional: the flow to use when several could apply.
    #[serde(default)]
    pub flow: Option<String>,
    /// Optional: when access should start (RFC 3339), up to the flow's `schedule_horizon`
    /// ahead; approval may come before it. Absent: as soon as the request is approved.
    #[serde(default)]
    pub starts_at: Option<String>,
}

impl NewRequest {
    /// Shape checks that need no state.
    pub fn check(&self) -> Result<Duration, ApiError> {
        if self.resources.is_empty() || self.resources.len() > MAX_RESOURCES {
            return Err(ApiError::bad_request(
                "invalid_resources",
                format!("resources must list 1 to {MAX_RESOURCES} resource names"),
            ));
        }
        if self.resources.iter().any(|r| {
            r.is_empty() || r.len() > 255 || r.contains(',') || r.chars().any(char::is_whitespace)
        }) {
            return Err(ApiError::bad_request(
                "invalid_resources",
                "resources must be names or `*` patterns of 1 to 255 characters without commas or spaces",
            ));
        }
        check_justification(self.justification.as_deref())?;
        check_duration(&self.duration)
    }

    fn justified(&self) -> bool {
        self.justification
            .as_deref()
            .is_some_and(|j| !j.trim().is_empty())
    }
}

/// A justification as sent: trimmed, `None` when blank, refused when too long.
pub fn check_justification(text: Option<&str>) -> Result<Option<String>, ApiError> {
    let j = text.map(str::trim).filter(|j| !j.is_empty());
    if j.is_some_and(|j| j.chars().count() > MAX_JUSTIFICATION) {
        return Err(ApiError::bad_request(
            "justification_too_long",
            format!("justification may be at most {MAX_JUSTIFICATION} characters"),
        ));
    }
    Ok(j.map(str::to_string))
}

/// A grant's requested duration: at least [`MIN_DURATION`] (its flow bounds it from above).
pub fn check_duration(text: &str) -> Result<Duration, ApiError> {
    let d = parse_duration(text).map_err(|e| {
        ApiError::bad_request("invalid_duration", format!("duration is not valid: {e}"))
    })?;
    if d < MIN_DURATION {
        return Err(ApiError::bad_request(
            "invalid_duration",
            "duration must be at least 1m",
        ));
    }
    Ok(d)
}

/// The most resources one request may expand to.
pub const MAX_EXPANDED: usize = 1000;

/// Expand names and `*` patterns to the live discovered resources they denote. A plain name
/// must exist; a pattern must match at least one. Matching is on name or display name. A
/// pattern never picks up an alias: an alias can reach indices the pattern does not, so it is
/// granted only when named exactly (and then as what it points to, see [`concrete`]).
pub fn expand(requested: &[String], known: &[Resource]) -> Result<Vec<Resource>, ApiError> {
    let mut out: Vec<Resource> = Vec::new();
    let mut unknown = Vec::new();
    let mut gone = Vec::new();
    for r in requested {
        let pattern = r.contains('*');
        let m = WildMatch::new(r);
        let hits: Vec<&Resource> = known
            .iter()
            .filter(|k| !(pattern && k.is_alias()))
            .filter(|k| {
                m.matches(&k.name) || k.display_name.as_deref().is_some_and(|d| m.matches(d))
            })
            .collect();
        let live: Vec<&Resource> = hits.iter().copied().filter(|k| !k.is_gone()).collect();
        if live.is_empty() {
            if hits.is_empty() {
                unknown.push(r.clone())
            } else {
                gone.push(r.clone())
            }
        }
        for k in live {
            if !out.iter().any(|o| o.name == k.name) {
                out.push(k.clone());
            }
        }
    }
    if !unknown.is_empty() {
        return Err(ApiError::bad_request(
            "unknown_resource",
            format!(
                "not found among the integration's discovered resources: {}",
                unknown.join(", ")
            ),
        )
        .with_details(json!({ "resources": unknown })));
    }
    if !gone.is_empty() {
        return Err(ApiError::bad_request(
            "resource_gone",
            format!("no longer present on the target: {}", gone.join(", ")),
        )
        .with_details(json!({ "resources": gone })));
    }
    check_size(out.len())?;
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn check_size(n: usize) -> Result<(), ApiError> {
    if n > MAX_EXPANDED {
        return Err(ApiError::bad_request(
            "too_many_resources",
            format!("the request covers {n} resources; the limit is {MAX_EXPANDED}"),
        ));
    }
    Ok(())
}

/// Names behind the aliases among `resources` (to be read before [`concrete`]).
pub fn alias_targets(resources: &[Resource]) -> Vec<String> {
    let mut names: Vec<String> = resources
        .iter()
        .filter(|r| r.is_alias())
        .flat_map(|r| r.targets.iter().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Each alias a request named, and the names it was resolved to.
pub type ViaAliases = BTreeMap<String, Vec<String>>;

/// What a grant names: each alias replaced by the indices or data streams it pointed to when
/// the request was made, so the grant reaches exactly what the flow check and the approvers
/// saw, even if the alias is re-pointed later. Every target must be a live discovered
/// resource of the integration (`known`), or the request is refused. Also returns, per alias,
/// what it was resolved to (for the request's record).
pub fn concrete(
    resources: Vec<Resource>,
    known: &[Resource],
) -> Result<(Vec<Resource>, ViaAliases), ApiError> {
    fn push(out: &mut Vec<Resource>, r: Resource) {
        if !out.iter().any(|o| o.name == r.name) {
            out.push(r);
        }
    }
    let mut out: Vec<Resource> = Vec::new();
    let mut via = BTreeMap::new();
    let mut unavailable = Vec::new();
    for r in resources {
        if !r.is_alias() {
            push(&mut out, r);
            continue;
        }
        if r.targets.is_empty() {
            unavailable.push(format!("{} (points to nothing)", r.name));
        }
        for t in &r.targets {
            match known
                .iter()
                .find(|k| &k.name == t && !k.is_gone() && !k.is_alias())
            {
                Some(k) => push(&mut out, k.clone()),
                None => unavailable.push(format!("{t} (behind alias {})", r.name)),
            }
        }
        via.insert(r.name.clone(), r.targets.clone());
    }
    if !unavailable.is_empty() {
        return Err(ApiError::bad_request(
            "alias_target_unavailable",
            format!(
                "an alias is granted as the indices behind it, and these are not discovered \
                 resources of the integration: {}",
                unavailable.join(", ")
            ),
        )
        .with_details(json!({ "resources": unavailable })));
    }
    check_size(out.len())?;
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((out, via))
}

fn covers(patterns: &[String], r: &Resource) -> bool {
    patterns.iter().any(|p| {
        let m = WildMatch::new(p);
        m.matches(&r.name) || r.display_name.as_deref().is_some_and(|d| m.matches(d))
    })
}

/// Does a flow offer this resource? An alias only when the flow covers every index or data
/// stream behind it (`known` holds them): its own name matching proves nothing.
pub fn offers(flow: &AccessFlow, r: &Resource, known: &[Resource]) -> bool {
    if !r.is_alias() {
        return covers(&flow.spec.resources, r);
    }
    !r.targets.is_empty()
        && r.targets.iter().all(|t| {
            known
                .iter()
                .find(|k| &k.name == t && !k.is_alias())
                .is_some_and(|k| covers(&flow.spec.resources, k))
        })
}

/// An Elastic Cloud role applies to one kind of resource only (see
/// [`crate::driver::cloud::roles::applies_to`]): refuse the others with a clear 400 before
/// anything is stored or sent.
pub fn check_scope(
    integration: &Integration,
    permission: &str,
    resources: &[Resource],
) -> Result<(), ApiError> {
    let Some(ResolvedPermission::CloudRole { role_id, scope }) =
        integration.resolve_permission(permission)
    else {
        return Ok(());
    };
    let kind = applies_to(scope);
    let wrong: Vec<&str> = resources
        .iter()
        .filter(|r| r.kind != kind)
        .map(|r| r.name.as_str())
        .collect();
    if wrong.is_empty() {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "permission_scope_mismatch",
        format!(
            "role {role_id} applies only to {}; not to {}",
            kind_label(kind),
            wrong.join(", ")
        ),
    )
    .with_details(json!({ "permission": role_id, "resources": wrong })))
}

/// Cloud roles a flow offers that none of its resource patterns can ever be used with, given
/// what discovery found: such a flow is a mistake, refused when it is saved.
pub fn unusable_roles(
    flow: &AccessFlowSpec,
    integration: &Integration,
    known: &[Resource],
) -> Vec<String> {
    flow.permissions
        .iter()
        .filter(|p| match integration.resolve_permission(p) {
            Some(ResolvedPermission::CloudRole { scope, .. }) => {
                let kind = applies_to(scope);
                !known
                    .iter()
                    .any(|r| r.kind == kind && !r.is_gone() && covers(&flow.resources, r))
            }
            _ => false,
        })
        .cloned()
        .collect()
}

/// The first flow (by name) that allows this request, or why none does.
pub fn match_flow<'a>(
    flows: &'a [AccessFlow],
    who: &Identity,
    req: &NewRequest,
    resources: &[Resource],
    duration: Duration,
) -> Result<&'a AccessFlow, ApiError> {
    let mut reasons = Vec::new();
    let mut only_justification = false;
    // A break-glass flow is used only when the request names it: an ordinary request never
    // becomes emergency access (no approval, owners paged) because a break-glass flow sorts
    // first.
    for f in flows.iter().filter(|f| {
        f.spec.integration == req.integration
            && match &req.flow {
                Some(n) => n == &f.name,
                None => !f.spec.break_glass,
            }
    }) {
        let s = &f.spec;
        let reason = if !who.matches_any(&s.requesters) {
            Some("you are not one of its requesters".to_string())
        } else if let Some(r) = resources.iter().find(|r| !covers(&s.resources, r)) {
            Some(format!(
                "resource {:?} is outside its resource patterns",
                r.name
            ))
        } else if !s.permissions.contains(&req.permission) {
            Some(format!("it does not offer permission {:?}", req.permission))
        } else if duration > s.max_duration() {
            Some(format!(
                "duration exceeds its maximum of {}",
                crate::model::format_duration(s.max_duration())
            ))
        } else if s.needs_justification() && !req.justified() {
            only_justification = true;
            Some("it requires a justification".to_string())
        } else {
            None
        };
        match reason {
            None => return Ok(f),
            Some(r) => reasons.push(json!({"flow": f.name, "reason": r})),
        }
    }
    if only_justification && reasons.len() == 1 {
        return Err(ApiError::bad_request(
            "justification_required",
            "this access flow requires a justification",
        ));
    }
    Err(ApiError::new(
        403,
        "no_matching_flow",
        "no access flow allows this request",
    )
    .with_details(json!({ "flows": reasons })))
}

/// Does `flow` (as it is now) still allow the approved request `r`, whose start has come? A
/// request may wait weeks for its start: the flow's requesters, resources, permissions, longest
/// grant and integration are checked again against what was approved (as the requester was
/// when they asked: their groups are not known again until they sign in). `None` when it does,
/// else why not.
pub fn no_longer_allowed(
    flow: Option<&AccessFlow>,
    r: &AccessRequest,
    known: &[Resource],
) -> Option<String> {
    no_longer_offered(flow, r, known).or_else(|| {
        let max = flow.map(|f| f.spec.max_duration()).unwrap_or_default();
        (r.duration() > chrono::Duration::from_std(max).unwrap_or_default())
            .then(|| format!("the duration now exceeds flow {}'s maximum", r.flow))
    })
}

/// [`no_longer_allowed`] without the duration (an extension is held to the flow's extension
/// limits instead). `known` holds the grant's resources as last discovered (see
/// [`grant_resources`]): a Cloud deployment is granted by id, and a flow may name it by its
/// display name.
pub fn no_longer_offered(
    flow: Option<&AccessFlow>,
    r: &AccessRequest,
    known: &[Resource],
) -> Option<String> {
    let Some(flow) = flow else {
        return Some(format!("the access flow {} no longer exists", r.flow));
    };
    if r.parent.is_some() {
        return no_longer_offered_in_bundle(flow, r, known);
    }
    let s = &flow.spec;
    if s.bundle.is_some() {
        Some(format!("the access flow {} is now a bundle", flow.name))
    } else if s.integration != r.integration {
        Some(format!(
            "the access flow {} now serves another integration",
            flow.name
        ))
    } else if s.break_glass {
        Some(format!(
            "the access flow {} is now a break-glass flow",
            flow.name
        ))
    } else if !r.requester.matches_any(&s.requesters) {
        Some(format!(
            "the requester is no longer one of flow {}'s requesters",
            flow.name
        ))
    } else if !s.permissions.contains(&r.permission) {
        Some(format!(
            "flow {} no longer offers permission {:?}",
            flow.name, r.permission
        ))
    } else {
        outside(&s.resources, &r.resources, known).map(|why| why.of(&flow.name))
    }
}

/// Why a grant's resource is no longer within a flow's (or bundle item's) patterns.
enum Outside<'a> {
    /// A grant names no alias (see [`concrete`]): a granted name that is one now (its index
    /// deleted, an alias made under its name) reaches indices nobody approved, and a request
    /// for it would be judged on those (see [`offers`]), not on its own name.
    Alias(&'a str),
    Patterns(&'a str),
}

impl Outside<'_> {
    fn of(&self, flow: &str) -> String {
        match self {
            Outside::Alias(name) => {
                format!(
                    "resource {name:?} is now an alias: the grant would reach whatever it points to"
                )
            }
            Outside::Patterns(name) => {
                format!("resource {name:?} is now outside flow {flow}'s resource patterns")
            }
        }
    }
}

/// The first of `names` (what a grant grants) whose record says it is an alias now.
fn now_an_alias<'a>(names: &[String], known: &'a [Resource]) -> Option<&'a str> {
    known
        .iter()
        .find(|k| k.is_alias() && names.contains(&k.name))
        .map(|k| k.name.as_str())
}

/// The first of `names` (what a grant grants) that `patterns` no longer cover, judged as the
/// request was ([`covers`] on its record, so a Cloud deployment granted by id counts by its
/// display name too; by name alone without a record), or that is now an alias.
fn outside<'a>(
    patterns: &[String],
    names: &'a [String],
    known: &'a [Resource],
) -> Option<Outside<'a>> {
    if let Some(alias) = now_an_alias(names, known) {
        return Some(Outside::Alias(alias));
    }
    names
        .iter()
        .find(|n| match known.iter().find(|k| &k.name == *n) {
            Some(k) => !covers(patterns, k),
            None => !patterns.iter().any(|p| WildMatch::new(p).matches(n)),
        })
        .map(|n| Outside::Patterns(n))
}

/// The stored records of what `r` grants, for [`no_longer_offered`]: none for a bundle's
/// parent (it grants nothing itself).
pub async fn grant_resources(
    store: &dyn crate::store::Store,
    r: &AccessRequest,
) -> Result<Vec<Resource>, crate::store::StoreError> {
    if r.bundle.is_some() || r.resources.is_empty() {
        return Ok(vec![]);
    }
    store.get_resources(&r.integration, &r.resources).await
}

/// [`no_longer_offered`] for a bundle's child: the flow must still be a bundle with an item on
/// the child's integration and permission whose patterns cover every resource it grants.
fn no_longer_offered_in_bundle(
    flow: &AccessFlow,
    r: &AccessRequest,
    known: &[Resource],
) -> Option<String> {
    let s = &flow.spec;
    let Some(items) = &s.bundle else {
        return Some(format!(
            "the access flow {} is no longer a bundle",
            flow.name
        ));
    };
    if s.break_glass {
        return Some(format!(
            "the access flow {} is now a break-glass flow",
            flow.name
        ));
    }
    if !r.requester.matches_any(&s.requesters) {
        return Some(format!(
            "the requester is no longer one of flow {}'s requesters",
            flow.name
        ));
    }
    if let Some(alias) = now_an_alias(&r.resources, known) {
        return Some(Outside::Alias(alias).of(&flow.name));
    }
    // The item must still name what it named when the bundle was asked for, and still cover
    // what that was resolved to: a pattern matching the old pattern's text proves little
    // (`logs-?` matches the text `logs-*`, not `logs-2026.11`).
    let covered = items.iter().any(|i| {
        i.integration == r.integration
            && i.permission == r.permission
            && !r.requested_resources.is_empty()
            && r.requested_resources.iter().all(|q| {
                i.resources.contains(q) || i.resources.iter().any(|p| WildMatch::new(p).matches(q))
            })
            && outside(&i.resources, &r.resources, known).is_none()
    });
    (!covered).then(|| {
        format!(
            "bundle {} no longer offers {} on {} for {}",
            flow.name,
            r.permission,
            r.integration,
            r.resources.join(", ")
        )
    })
}

/// Who must approve, by the flow's rule (see [`ApprovalRule`]): the flow's approvers (one
/// step), or else one step per distinct owner set (each resource's owner, its tag value read
/// as a user or group; the integration owners for resources without one). Owner steps are
/// never merged: the owner of one resource never approves another's. A quorum applies to
/// each step.
pub fn approval_steps(
    flow: &AccessFlow,
    integration: &Integration,
    resources: &[Resource],
    requester: &Identity,
) -> Result<Vec<ApprovalStep>, ApiError> {
    if flow.spec.grants_at_once() {
        return Ok(vec![]);
    }
    let rule = flow.spec.approval_rule();
    let mut steps = if flow.spec.approvers.is_empty() {
        owner_steps(integration, resources)?
    } else {
        vec![ApprovalStep::new(
            "flow approvers",
            flow.spec.approvers.clone(),
        )]
    };
    if rule == ApprovalRule::Quorum {
        let n = flow
            .spec
            .approval
            .as_ref()
            .and_then(|a| a.quorum)
            .unwrap_or(2);
        for s in &mut steps {
            s.required = n;
            s.label = format!("{n} of {}", s.label);
        }
    }
    let escalation_to = escalation_tier(flow, integration);
    // Every approver is indexed in the request's own transaction, which has room for so many.
    let distinct: std::collections::BTreeSet<&PrincipalRef> = steps
        .iter()
        .flat_map(|s| s.approvers.iter())
        .chain(escalation_to.iter())
        .collect();
    if distinct.len() > crate::store::MAX_APPROVER_KEYS {
        return Err(ApiError::bad_request(
            "too_many_approvers",
            format!(
                "this request would need {} different approvers; at most {} are possible: \
                 ask for fewer resources at once",
                distinct.len(),
                crate::store::MAX_APPROVER_KEYS
            ),
        ));
    }
    // A step only the requester could approve would wait forever: refuse it now. Matching is
    // by `sub` or trusted email (never a `sub` standing in for an email), like `decide`. A
    // quorum of named people must be reachable without the requester.
    for s in &steps {
        let only_users = s.approvers.iter().all(|a| a.kind == PrincipalKind::User);
        let others: Vec<PrincipalRef> = s
            .approvers
            .iter()
            .filter(|a| !requester.matches(a))
            .cloned()
            .collect();
        let others = crate::model::distinct_users(&others);
        if only_users && others == 0 {
            return Err(ApiError::new(
                409,
                "no_eligible_approver",
                format!(
                    "the only approver for {} is you, and nobody may approve their own request",
                    s.label
                ),
            ));
        }
        if only_users && others < s.required as usize {
            return Err(ApiError::new(
                409,
                "no_eligible_approver",
                format!(
                    "{} needs {} approvals, and only {others} approvers besides you can give one",
                    s.label, s.required
                ),
            ));
        }
    }
    Ok(steps)
}

/// The next approver tier of a flow with an escalation: its `to`, else the integration owners.
pub fn escalation_tier(flow: &AccessFlow, integration: &Integration) -> Vec<PrincipalRef> {
    match flow
        .spec
        .approval
        .as_ref()
        .and_then(|a| a.escalation.as_ref())
    {
        None => vec![],
        Some(e) if !e.to.is_empty() => e.to.clone(),
        Some(_) => integration.spec.integration_owners.clone(),
    }
}

/// One step per distinct owner set: each resource's owner, and the integration owners for
/// resources without one.
fn owner_steps(
    integration: &Integration,
    resources: &[Resource],
) -> Result<Vec<ApprovalStep>, ApiError> {
    let mut steps = Vec::new();
    let mut by_owner: BTreeMap<PrincipalRef, Vec<&str>> = BTreeMap::new();
    let mut unowned = Vec::new();
    for r in resources {
        match (&integration.spec.resource_owner, &r.owner) {
            (Some(cfg), Some(owner)) => {
                let kind = match cfg.attribute {
                    OwnerAttribute::User => PrincipalKind::User,
                    OwnerAttribute::Group => PrincipalKind::Group,
                };
                by_owner
                    .entry(PrincipalRef {
                        kind,
                        value: owner.clone(),
                    })
                    .or_default()
                    .push(&r.name);
            }
            _ => unowned.push(r.name.as_str()),
        }
    }
    for (owner, names) in by_owner {
        steps.push(ApprovalStep::new(
            format!("owner of {}", names.join(", ")),
            vec![owner],
        ));
    }
    if !unowned.is_empty() {
        if integration.spec.integration_owners.is_empty() {
            return Err(ApiError::new(
                409,
                "no_approvers",
                format!(
                    "nobody can approve access to {}: they have no owner and the integration has no owners",
                    unowned.join(", ")
                ),
            ));
        }
        steps.push(ApprovalStep::new(
            format!("integration owners (for {})", unowned.join(", ")),
            integration.spec.integration_owners.clone(),
        ));
    }
    Ok(steps)
}

/// The code a decision gets when the requester withdrew the request first.
pub const REQUEST_CANCELLED: &str = "request_cancelled";

/// Apply a decision by `who`. The approval that completes the request makes it `approved`, or
/// `scheduled` when its requested start is still ahead.
pub fn decide(
    request: &mut AccessRequest,
    who: &Identity,
    kind: DecisionKind,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if request.status == RequestStatus::Cancelled {
        return Err(ApiError::new(
            409,
            REQUEST_CANCELLED,
            "the requester cancelled this request; no decision is needed any more",
        ));
    }
    if request.status != RequestStatus::Pending {
        return Err(ApiError::new(
            409,
            "not_pending",
            format!("the request is {}, not pending", request.status),
        ));
    }
    if now >= request.approval_expires_at {
        return Err(ApiError::new(
            409,
            "approval_window_elapsed",
            "the request waited longer than its approval window and has expired",
        ));
    }
    if is_own_request(request, who) {
        return Err(ApiError::forbidden(
            "nobody may approve or reject their own request",
        ));
    }
    // A step this human already approved (under any identity) is not theirs to approve again:
    // a quorum counts people.
    let mine: Vec<usize> = request
        .approval_steps
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s.approved_by.is_none() && who.matches_any(&s.approvers) && !s.approved_by_human(who)
        })
        .map(|(i, _)| i)
        .collect();
    if mine.is_empty() {
        let already = request
            .decisions
            .iter()
            .any(|d| d.kind == DecisionKind::Approve && d.is_by(who))
            || request
                .approval_steps
                .iter()
                .any(|s| s.approved_by_human(who));
        return Err(if already {
            ApiError::new(
                409,
                "already_decided",
                "you have already approved this request",
            )
        } else {
            ApiError::forbidden("you are not an approver of this request")
        });
    }
    if kind == DecisionKind::Approve && request.approval_reason_required && reason.is_none() {
        return Err(ApiError::bad_request(
            "reason_required",
            "this flow asks approvers for a reason: say why you approve",
        ));
    }
    request.decisions.push(Decision {
        by: who.display(),
        by_person: Some(who.person_key()),
        kind,
        reason: reason.clone(),
        at: now,
    });
    match kind {
        DecisionKind::Approve => {
            for i in mine {
                let step = &mut request.approval_steps[i];
                step.approvals.push(StepApproval {
                    by: who.display(),
                    by_person: who.person_key(),
                    at: now,
                });
                if step.approvals.len() >= step.required.max(1) as usize {
                    step.approved_by = Some(who.display());
                    step.approved_at = Some(now);
                }
            }
            request.updated_at = now;
            if request.all_steps_approved() {
                // Approved before its requested start: it waits, scheduled, until then. A
                // bundle's parent grants nothing itself: its children are made with it.
                let to = if request.bundle.is_some() {
                    RequestStatus::Bundled
                } else if request.starts_at.is_some_and(|s| s > now) {
                    RequestStatus::Scheduled
                } else {
                    RequestStatus::Approved
                };
                request
                    .transition(to, now)
                    .map_err(|e| ApiError::new(409, "not_pending", e.to_string()))?;
            }
        }
        DecisionKind::Reject => {
            request.status_reason = reason;
            request
                .transition(RequestStatus::Rejected, now)
                .map_err(|e| ApiError::new(409, "not_pending", e.to_string()))?;
        }
    }
    Ok(())
}

/// May `who` decide this request now?
pub fn can_decide(request: &AccessRequest, who: &Identity) -> bool {
    request.status == RequestStatus::Pending
        && !is_own_request(request, who)
        && request.approval_steps.iter().any(|s| {
            s.approved_by.is_none() && who.matches_any(&s.approvers) && !s.approved_by_human(who)
        })
}

/// Is `who` the requester, under this identity or another one (the same person, or the same
/// trusted email)? Nobody decides their own request.
pub fn is_own_request(request: &AccessRequest, who: &Identity) -> bool {
    who.may_be_same_human(&request.requester)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored flow `name` whose spec is `spec` with the group `developers` as its requesters
    /// and a 4 h maximum.
    fn flow_of(name: &str, mut spec: serde_json::Value) -> AccessFlow {
        spec["requesters"] = json!([{"type": "group", "value": "developers"}]);
        spec["max_duration"] = json!("4h");
        serde_json::from_value(json!({
            "name": name,
            "spec": spec,
            "version": 1,
            "created_at": "2026-11-23T10:00:00Z",
            "updated_at": "2026-11-23T10:00:00Z",
        }))
        .unwrap()
    }

    /// A one-hour grant of `permission` on `resources` of `integration` through `flow`, asked
    /// for as `requested` by a developer.
    fn grant_of(
        (integration, flow, permission): (&str, &str, &str),
        resources: &[&str],
        requested: &[&str],
    ) -> AccessRequest {
        let requester = Identity {
            sub: "u-1".into(),
            groups: vec!["developers".into()],
            ..Identity::default()
        };
        AccessRequest {
            integration: integration.into(),
            flow: flow.into(),
            resources: resources.iter().map(|r| r.to_string()).collect(),
            requested_resources: requested.iter().map(|r| r.to_string()).collect(),
            permission: permission.into(),
            duration_secs: 3600,
            ..AccessRequest::fresh("r-1".into(), requester, chrono::Utc::now())
        }
    }

    fn asking_for(duration: &str) -> NewRequest {
        NewRequest {
            integration: "prod".into(),
            resources: vec!["logs-*".into()],
            permission: "read".into(),
            duration: duration.into(),
            justification: None,
            flow: None,
            starts_at: None,
        }
    }

    /// A scheduled or extended Cloud grant whose flow names its deployment by display name:
    /// the grant holds the deployment's id, which no pattern names.
    #[test]
    fn a_deployment_named_by_its_display_name_is_still_offered() {
        let flow = |resources: serde_json::Value| {
            flow_of(
                "cloud-view",
                json!({"integration": "cloud", "resources": resources,
                       "permissions": ["deployment-viewer"]}),
            )
        };
        let grant = grant_of(
            ("cloud", "cloud-view", "deployment-viewer"),
            &["3f6c1a9e2b"],
            &["staging-logs"],
        );
        let known: Vec<Resource> = serde_json::from_value(json!([{
            "integration": "cloud",
            "name": "3f6c1a9e2b",
            "kind": "deployment",
            "display_name": "staging-logs",
            "discovered_at": "2026-11-23T10:00:00Z",
        }]))
        .unwrap();
        for offered in [
            json!(["staging-*"]),
            json!(["staging-logs"]),
            json!(["3f6c1a9e2b"]),
        ] {
            assert_eq!(
                no_longer_allowed(Some(&flow(offered.clone())), &grant, &known),
                None,
                "{offered}"
            );
        }
        let why = no_longer_allowed(Some(&flow(json!(["prod-*"]))), &grant, &known)
            .expect("a flow that no longer names it refuses");
        assert!(why.contains("outside"), "{why}");
        // Without the record, only the id counts (a resource no longer discovered).
        assert!(no_longer_allowed(Some(&flow(json!(["staging-logs"]))), &grant, &[]).is_some());
    }

    /// A granted index deleted and an alias made under its name before the grant starts (or is
    /// extended): the name still matches the flow's pattern, but the role would reach what the
    /// alias points to, which the flow does not offer (the request's own check, [`offers`],
    /// would refuse the alias).
    #[test]
    fn a_granted_index_that_is_now_an_alias_is_no_longer_offered() {
        let flow = flow_of(
            "team-logs",
            json!({"integration": "prod", "resources": ["team-*"], "permissions": ["read"]}),
        );
        let grant = grant_of(("prod", "team-logs", "read"), &["team-tmp"], &["team-tmp"]);
        let record = |kind: &str, targets: &[&str]| -> Vec<Resource> {
            serde_json::from_value(json!([{
                "integration": "prod",
                "name": "team-tmp",
                "kind": kind,
                "targets": targets,
                "discovered_at": "2026-11-23T10:00:00Z",
            }]))
            .unwrap()
        };
        assert_eq!(
            no_longer_allowed(Some(&flow), &grant, &record("index", &[])),
            None
        );
        let why = no_longer_allowed(Some(&flow), &grant, &record("alias", &["payroll"]))
            .expect("an alias under a granted name is refused");
        assert!(why.contains("\"team-tmp\" is now an alias"), "{why}");
        assert!(!why.contains("payroll"), "{why}");
    }

    /// A bundle's child is started after the bundle's approval, maybe days after it was asked
    /// for: the item as it is then must still cover what the child grants, as the request's
    /// check did (not merely match the text of the pattern it was asked with), and none of it
    /// may have become an alias.
    #[test]
    fn a_bundle_child_is_judged_on_what_it_grants() {
        let flow = |pattern: &str| {
            flow_of(
                "oncall-kit",
                json!({"bundle": [{"integration": "prod", "resources": [pattern], "permission": "read"}]}),
            )
        };
        let child = AccessRequest {
            parent: Some("b-1".into()),
            ..grant_of(
                ("prod", "oncall-kit", "read"),
                &["logs-2026.10", "logs-2026.11"],
                &["logs-*"],
            )
        };
        let records = |last: &str| -> Vec<Resource> {
            serde_json::from_value(json!([
                {"integration": "prod", "name": "logs-2026.10", "kind": "index",
                 "discovered_at": "2026-11-23T10:00:00Z"},
                {"integration": "prod", "name": "logs-2026.11", "kind": last,
                 "targets": if last == "alias" { json!(["payroll"]) } else { json!([]) },
                 "discovered_at": "2026-11-23T10:00:00Z"},
            ]))
            .unwrap()
        };
        let indices = records("index");
        assert_eq!(
            no_longer_allowed(Some(&flow("logs-*")), &child, &indices),
            None
        );
        // `logs-?` matches the text `logs-*`, but neither index.
        let why = no_longer_allowed(Some(&flow("logs-?")), &child, &indices)
            .expect("an item that no longer covers the child refuses it");
        assert!(why.contains("no longer offers read on prod"), "{why}");
        let why = no_longer_allowed(Some(&flow("logs-*")), &child, &records("alias"))
            .expect("an alias under a granted name is refused");
        assert!(why.contains("\"logs-2026.11\" is now an alias"), "{why}");
    }

    #[test]
    fn a_grant_may_be_as_short_as_one_minute() {
        for ok in ["1m", "60s", "2m", "5m", "8h"] {
            assert!(asking_for(ok).check().is_ok(), "{ok}");
        }
        assert_eq!(
            asking_for("2m").check().ok(),
            Some(Duration::from_secs(120))
        );
        for short in ["59s", "1s"] {
            let e = asking_for(short).check().expect_err(short);
            assert_eq!((e.status, e.code), (400, "invalid_duration"), "{short}");
            assert!(e.message.contains("at least 1m"), "{}", e.message);
        }
    }
}
