//! Access flows: who may ask for what, for how long, and who approves.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::bundle::BUNDLE_CONFLICT;
use super::duration::parse_duration;
use super::integration::{Integration, IntegrationKind, check_patterns};
use super::principal::{PrincipalRef, check_principals};
use crate::validation::{ValidationErrors, check_name};

pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(8 * 3600);
pub const DEFAULT_APPROVAL_WINDOW: Duration = Duration::from_secs(24 * 3600);
const MIN_MAX_DURATION: Duration = Duration::from_secs(5 * 60);
const MAX_MAX_DURATION: Duration = Duration::from_secs(90 * 86400);
const MAX_APPROVAL_WINDOW: Duration = Duration::from_secs(30 * 86400);
/// How far ahead a request may ask its access to start, unless the flow says otherwise.
pub const DEFAULT_SCHEDULE_HORIZON: Duration = Duration::from_secs(14 * 86400);
const MAX_SCHEDULE_HORIZON: Duration = Duration::from_secs(90 * 86400);

/// How an Elasticsearch grant is handed to the requester.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialMode {
    /// A native user with a password (works for Kibana login).
    #[default]
    User,
    /// An API key granted for that user, expiring at the grant's end.
    ApiKey,
}

/// Who must approve a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalRule {
    /// Any one of the approvers: the flow's `approvers`, else every owner of the resources
    /// asked for (and the integration owners for resources without one).
    Any,
    /// One approval per owner set: each resource's owner, and the integration owners for
    /// resources without one. The flow names no `approvers`.
    AllOwners,
    /// `quorum` different people among the approvers (as for `any`).
    Quorum,
}

pub const MAX_QUORUM: u32 = 10;
/// The longest grant a break-glass flow may give, and its default.
pub const BREAK_GLASS_MAX_DURATION: Duration = Duration::from_secs(4 * 3600);
pub const BREAK_GLASS_DEFAULT_DURATION: Duration = Duration::from_secs(3600);
const MIN_ESCALATION: Duration = Duration::from_secs(5 * 60);
/// How long before the approval window ends an escalation must happen at the latest.
pub const ESCALATION_LEAD: Duration = Duration::from_secs(10 * 60);

/// How a flow's requests are approved. Absent: any one of `approvers`, or, when the flow
/// names none, one approval per owner set (`all_owners`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<ApprovalRule>,
    /// With `rule: quorum`: how many different people must approve (2 to 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<u32>,
    /// Approvers must give a reason to approve too (a rejection always needs one).
    #[serde(default)]
    pub require_reason: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<EscalationSpec>,
}

/// After `after` without the request being decided, `to` (else the integration owners) may
/// approve it too, and they are notified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationSpec {
    pub after: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<PrincipalRef>,
}

impl EscalationSpec {
    pub fn after(&self) -> Option<Duration> {
        parse_duration(&self.after).ok()
    }
}

/// What an administrator PUTs to `/flows/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessFlowSpec {
    /// Empty on a bundle flow (its items name their integrations).
    #[serde(default)]
    pub integration: String,
    pub requesters: Vec<PrincipalRef>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<String>,
    #[serde(default)]
    pub auto_approve: bool,
    #[serde(default)]
    pub require_justification: bool,
    #[serde(default)]
    pub approvers: Vec<PrincipalRef>,
    #[serde(default)]
    pub credential_mode: CredentialMode,
    /// How long a request may wait for its approvals before it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_window: Option<String>,
    /// How far ahead a request may name its start (`starts_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_horizon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who else hears about this flow's requests (Slack channel, addresses, webhooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<crate::notifications::NotificationSettings>,
    /// Quorum, escalation and approval reasons (absent: today's rules, see [`ApprovalPolicy`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalPolicy>,
    /// Emergency access: granted at once without approval, a justification required, the
    /// integration owners and operations told at once, the duration capped, and each grant
    /// kept for an owner's review afterwards.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub break_glass: bool,
    /// Whether and how far grants of this flow may be extended (absent: they may not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<super::ExtensionPolicy>,
    /// A bundle: several grants, each on its own integration, requested and approved as one
    /// (then `integration`, `resources` and `permissions` stay empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<Vec<super::BundleItem>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessFlow {
    pub name: String,
    pub spec: AccessFlowSpec,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The CloudFormation resource that created it (see `Integration::managed_by`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
}

impl AccessFlowSpec {
    pub fn max_duration(&self) -> Duration {
        let default = if self.break_glass {
            BREAK_GLASS_DEFAULT_DURATION
        } else {
            DEFAULT_MAX_DURATION
        };
        let d = self
            .max_duration
            .as_deref()
            .and_then(|d| parse_duration(d).ok())
            .unwrap_or(default);
        if self.break_glass {
            d.min(BREAK_GLASS_MAX_DURATION)
        } else {
            d
        }
    }

    /// Does a request under this flow need a justification?
    pub fn needs_justification(&self) -> bool {
        self.require_justification || self.break_glass
    }

    /// Is a request under this flow granted without anyone's approval?
    pub fn grants_at_once(&self) -> bool {
        self.auto_approve || self.break_glass
    }

    pub fn approval_window(&self) -> Duration {
        self.approval_window
            .as_deref()
            .and_then(|d| parse_duration(d).ok())
            .unwrap_or(DEFAULT_APPROVAL_WINDOW)
    }

    /// The rule its requests follow, spelled out.
    pub fn approval_rule(&self) -> ApprovalRule {
        match self.approval.as_ref().and_then(|a| a.rule) {
            Some(r) => r,
            None if self.approvers.is_empty() => ApprovalRule::AllOwners,
            None => ApprovalRule::Any,
        }
    }

    pub fn schedule_horizon(&self) -> Duration {
        self.schedule_horizon
            .as_deref()
            .and_then(|d| parse_duration(d).ok())
            .unwrap_or(DEFAULT_SCHEDULE_HORIZON)
    }

    /// Every integration the flow grants on: its own, or each of its bundle items'.
    pub fn integrations(&self) -> Vec<&str> {
        match &self.bundle {
            Some(items) => items.iter().map(|i| i.integration.as_str()).collect(),
            None => vec![self.integration.as_str()],
        }
    }

    /// `integration` is the stored integration the flow names, or `None` when there is none.
    pub fn validate(
        &self,
        name: &str,
        integration: Option<&Integration>,
    ) -> Result<(), ValidationErrors> {
        if self.bundle.is_some() {
            let mut e = ValidationErrors::default();
            e.push(
                BUNDLE_CONFLICT,
                "bundle",
                "a bundle flow is checked against each of its items' integrations",
            );
            return e.into_result();
        }
        let mut e = ValidationErrors::default();
        check_name(&mut e, "name", name);
        self.check_target(&mut e, integration);
        self.check_requesters(&mut e);
        self.check_offer(&mut e);
        self.check_terms(
            &mut e,
            integration.is_some_and(|i| i.spec.integration_owners.is_empty()),
        );
        if self.break_glass {
            self.check_break_glass(&mut e, integration);
        }
        if let Some(x) = &self.extension {
            x.validate(&mut e, "extension", self.max_duration());
        }
        self.check_about(&mut e);
        e.into_result()
    }

    /// A bundle flow: `integrations[i]` is the stored integration bundle item `i` names, if it
    /// exists.
    pub fn validate_bundle(
        &self,
        name: &str,
        integrations: &[Option<Integration>],
    ) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::default();
        let Some(items) = &self.bundle else {
            return self.validate(name, integrations.first().and_then(Option::as_ref));
        };
        let no_owners = !integrations.is_empty()
            && integrations
                .iter()
                .flatten()
                .all(|i| i.spec.integration_owners.is_empty());
        check_name(&mut e, "name", name);
        self.check_requesters(&mut e);
        super::bundle::check_items(&mut e, items, integrations);
        self.check_terms(&mut e, no_owners);
        self.check_about(&mut e);
        if !self.integration.is_empty()
            || !self.resources.is_empty()
            || !self.permissions.is_empty()
        {
            e.push(
                BUNDLE_CONFLICT,
                "bundle",
                "a bundle flow names its integrations, resources and permissions in its items: \
                 leave out integration, resources and permissions",
            );
        }
        if self.break_glass {
            e.push(
                BUNDLE_CONFLICT,
                "break_glass",
                "a bundle cannot be break-glass access: emergency access is granted one \
                 integration at a time",
            );
        }
        if self.extension.is_some() {
            e.push(
                BUNDLE_CONFLICT,
                "extension",
                "a bundle's grants are not extended: ask for the bundle again",
            );
        }
        if self.schedule_horizon.is_some() {
            e.push(
                BUNDLE_CONFLICT,
                "schedule_horizon",
                "a bundle starts when it is approved: it has no schedule_horizon",
            );
        }
        if self.credential_mode == CredentialMode::ApiKey
            && super::bundle::has_cloud_item(integrations)
        {
            e.push(
                "setting_not_supported",
                "credential_mode",
                "credential_mode api_key applies only to elasticsearch integrations, and an \
                 item of this bundle is on Elastic Cloud",
            );
        }
        e.into_result()
    }

    /// An ordinary (single-integration) flow's integration, and what it offers there.
    fn check_target(&self, e: &mut ValidationErrors, integration: Option<&Integration>) {
        match integration {
            None => e.push(
                "unknown_integration",
                "integration",
                format!("integration {:?} does not exist", self.integration),
            ),
            Some(i) => {
                for (n, p) in self.permissions.iter().enumerate() {
                    if i.resolve_permission(p).is_none() {
                        e.push(
                            "unknown_permission",
                            format!("permissions[{n}]"),
                            format!("{p:?} is not a permission of integration {:?}", i.name),
                        );
                    }
                }
                if i.kind() == IntegrationKind::ElasticCloud
                    && self.credential_mode == CredentialMode::ApiKey
                {
                    e.push(
                        "setting_not_supported",
                        "credential_mode",
                        "credential_mode api_key applies only to elasticsearch integrations",
                    );
                }
            }
        }
    }

    /// An ordinary flow offers some resources and permissions.
    fn check_offer(&self, e: &mut ValidationErrors) {
        if self.resources.is_empty() {
            e.push(
                "empty_resource_patterns",
                "resources",
                "resources needs at least one name or wildcard pattern",
            );
        }
        check_patterns(e, "resources", &self.resources, false);
        if self.permissions.is_empty() {
            e.push(
                "empty_permissions",
                "permissions",
                "permissions needs at least one permission",
            );
        }
    }

    fn check_requesters(&self, e: &mut ValidationErrors) {
        if self.requesters.is_empty() {
            e.push(
                "empty_requesters",
                "requesters",
                "requesters needs at least one user or group who may request access",
            );
        }
        check_principals(e, "requesters", &self.requesters);
    }

    /// Durations and approvals, as every flow has them. `no_integration_owners`: the flow's
    /// integrations have no owners (an escalation would reach nobody).
    fn check_terms(&self, e: &mut ValidationErrors, no_integration_owners: bool) {
        check_bounded_duration(
            e,
            "max_duration",
            self.max_duration.as_deref(),
            MIN_MAX_DURATION,
            MAX_MAX_DURATION,
            "invalid_max_duration",
        );
        check_bounded_duration(
            e,
            "approval_window",
            self.approval_window.as_deref(),
            MIN_MAX_DURATION,
            MAX_APPROVAL_WINDOW,
            "invalid_approval_window",
        );
        check_bounded_duration(
            e,
            "schedule_horizon",
            self.schedule_horizon.as_deref(),
            MIN_MAX_DURATION,
            MAX_SCHEDULE_HORIZON,
            "invalid_schedule_horizon",
        );
        check_principals(e, "approvers", &self.approvers);
        if let Some(a) = &self.approval {
            self.check_approval(e, a, no_integration_owners);
        }
    }

    fn check_about(&self, e: &mut ValidationErrors) {
        if let Some(n) = &self.notifications {
            n.validate(e, "notifications");
        }
        if let Some(d) = &self.description
            && d.chars().count() > 1000
        {
            e.push(
                "description_too_long",
                "description",
                "description may be at most 1000 characters",
            );
        }
    }
}

impl AccessFlowSpec {
    fn check_break_glass(&self, e: &mut ValidationErrors, integration: Option<&Integration>) {
        if self.auto_approve
            || !self.approvers.is_empty()
            || self.approval.is_some()
            || self.extension.is_some()
        {
            e.push(
                "break_glass_conflict",
                "break_glass",
                "a break-glass flow grants at once, capped, and is reviewed afterwards: it has no \
                 auto_approve, approvers, approval rules or extensions (ask again instead)",
            );
        }
        if let Some(d) = self
            .max_duration
            .as_deref()
            .and_then(|d| parse_duration(d).ok())
            && d > BREAK_GLASS_MAX_DURATION
        {
            e.push(
                "invalid_max_duration",
                "max_duration",
                format!(
                    "break-glass access is capped at {}",
                    super::format_duration(BREAK_GLASS_MAX_DURATION)
                ),
            );
        }
        if integration.is_some_and(|i| i.spec.integration_owners.is_empty()) {
            e.push(
                "no_reviewers",
                "break_glass",
                "break-glass grants are reviewed by the integration owners, and the integration has none",
            );
        }
    }

    fn check_approval(
        &self,
        e: &mut ValidationErrors,
        a: &ApprovalPolicy,
        no_integration_owners: bool,
    ) {
        if self.auto_approve {
            e.push(
                "approval_rule_conflict",
                "approval",
                "an auto_approve flow has no approvals: remove approval or auto_approve",
            );
            return;
        }
        match (a.rule, a.quorum) {
            (Some(ApprovalRule::Quorum), None) => e.push(
                "invalid_quorum",
                "approval.quorum",
                format!("rule quorum needs quorum: how many different people approve (2 to {MAX_QUORUM})"),
            ),
            (Some(ApprovalRule::Quorum), Some(n)) if !(2..=MAX_QUORUM).contains(&n) => e.push(
                "invalid_quorum",
                "approval.quorum",
                format!("quorum must be between 2 and {MAX_QUORUM} (got {n}); one approver is rule any"),
            ),
            (Some(ApprovalRule::Quorum), Some(n)) => {
                // Named people alone can be counted: a quorum they cannot reach would wait
                // forever. (A group's size is unknown here.)
                let users = super::principal::distinct_users(&self.approvers);
                if !self.approvers.is_empty()
                    && users == self.approvers.len()
                    && users < n as usize
                {
                    e.push(
                        "invalid_quorum",
                        "approval.quorum",
                        format!("quorum {n} cannot be reached by the {users} approvers named"),
                    );
                }
            }
            (_, Some(_)) => e.push(
                "invalid_quorum",
                "approval.quorum",
                "quorum applies only with rule quorum",
            ),
            _ => {}
        }
        // Without named approvers, one step merged from every owner of the resources asked for
        // would let the owner of one resource approve another's (and the requester picks the
        // resources): each owner set keeps its own step, which `any` cannot express.
        if a.rule == Some(ApprovalRule::Any) && self.approvers.is_empty() {
            e.push(
                "approval_rule_conflict",
                "approval.rule",
                "rule any chooses among the flow's approvers: name approvers, or use all_owners \
                 (each resource's owner approves)",
            );
        }
        if a.rule == Some(ApprovalRule::AllOwners) && !self.approvers.is_empty() {
            e.push(
                "approval_rule_conflict",
                "approval.rule",
                "rule all_owners asks each resource owner; remove approvers, or use rule any or quorum",
            );
        }
        let Some(esc) = &a.escalation else { return };
        check_bounded_duration(
            e,
            "approval.escalation.after",
            Some(&esc.after),
            MIN_ESCALATION,
            MAX_APPROVAL_WINDOW,
            "invalid_escalation",
        );
        // The sweep applies an escalation (every 5 minutes) and expires the request once its
        // window has passed: two sweeps' worth of time must remain.
        if esc
            .after()
            .is_some_and(|d| d + ESCALATION_LEAD > self.approval_window())
        {
            e.push(
                "invalid_escalation",
                "approval.escalation.after",
                format!(
                    "escalation.after must end at least {} before the approval window ({})",
                    super::format_duration(ESCALATION_LEAD),
                    super::format_duration(self.approval_window())
                ),
            );
        }
        check_principals(e, "approval.escalation.to", &esc.to);
        if esc.to.is_empty() && no_integration_owners {
            e.push(
                "invalid_escalation",
                "approval.escalation.to",
                "escalation.to is empty and the integration has no owners to escalate to",
            );
        }
    }
}

fn check_bounded_duration(
    e: &mut ValidationErrors,
    field: &str,
    value: Option<&str>,
    min: Duration,
    max: Duration,
    code: &'static str,
) {
    let Some(text) = value else { return };
    let bounds = format!(
        "between {} and {}",
        super::format_duration(min),
        super::format_duration(max)
    );
    match parse_duration(text) {
        Ok(d) if d >= min && d <= max => {}
        Ok(_) => e.push(
            code,
            field,
            format!("{field} must be {bounds} (got {text:?})"),
        ),
        Err(err) => e.push(
            code,
            field,
            format!("{field} is not a duration: {err}; it must be {bounds}"),
        ),
    }
}
