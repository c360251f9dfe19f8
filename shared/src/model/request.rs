//! Access requests and the grants they become, with the one state machine both follow:
//!
//! ```text
//! pending ──▶ approved ──▶ active ──▶ revoked | expired
//!    │            ▲  │          │
//!    │            │  ├▶ failed  └▶ revoke_failed ──▶ revoked | expired (retried by cleanup)
//!    │            │  └▶ applied (an extension request: its grant's end moved)
//!    ├▶ scheduled ┘ (fully approved before a requested start; approved at the start)
//!    │      ├▶ cancelled (by the requester or an administrator)
//!    │      └▶ failed (the flow no longer allows it at the start, or its window passed)
//!    ├▶ rejected
//!    ├▶ cancelled (by the requester)
//!    ├▶ expired (approval window elapsed)
//!    └▶ bundled (a bundle's parent, fully approved: its children carry the grants)
//! ```
//!
//! A bundle's children are created `scheduled` (to start at once) in the same write that makes
//! their parent `bundled`, and from there follow the machine like any request.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::audit::AuditEvent;
use super::principal::{Identity, PrincipalRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    Approved,
    Active,
    Revoked,
    Expired,
    Rejected,
    Failed,
    RevokeFailed,
    /// Fully approved, waiting for its requested start (a one-time schedule provisions it).
    Scheduled,
    /// Withdrawn by its requester before anything was provisioned.
    Cancelled,
    /// An approved extension request whose grant's end moved (`extends`).
    Applied,
    /// A bundle's parent once fully approved: one child request per item carries each grant.
    Bundled,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 12] = [
        Self::Pending,
        Self::Approved,
        Self::Active,
        Self::Revoked,
        Self::Expired,
        Self::Rejected,
        Self::Failed,
        Self::RevokeFailed,
        Self::Scheduled,
        Self::Cancelled,
        Self::Applied,
        Self::Bundled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::RevokeFailed => "revoke_failed",
            Self::Scheduled => "scheduled",
            Self::Cancelled => "cancelled",
            Self::Applied => "applied",
            Self::Bundled => "bundled",
        }
    }

    /// The only transitions the system may make. `revoke_failed → revoke_failed` records
    /// another failed attempt and moves its next attempt time.
    pub fn can_become(self, next: RequestStatus) -> bool {
        use RequestStatus::*;
        matches!(
            (self, next),
            (
                Pending,
                Approved | Scheduled | Rejected | Expired | Cancelled | Bundled
            ) | (Scheduled, Approved | Cancelled | Failed)
                | (Approved, Active | Failed | Applied)
                | (Active, Revoked | Expired | RevokeFailed)
                | (RevokeFailed, Revoked | Expired | RevokeFailed)
        )
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Revoked
                | Self::Expired
                | Self::Rejected
                | Self::Failed
                | Self::Cancelled
                | Self::Applied
                | Self::Bundled
        )
    }
}

impl std::fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a request cannot go from {from} to {to}")]
pub struct TransitionError {
    pub from: RequestStatus,
    pub to: RequestStatus,
}

/// One set of people whose approval is required. Each step must be approved; a step is
/// approved once `required` different people among its approvers have approved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalStep {
    /// Why this step exists, e.g. `flow approvers`, `owner of logs-2026.11`, `integration owners`.
    pub label: String,
    pub approvers: Vec<PrincipalRef>,
    /// How many different people must approve (a quorum); 1 unless the flow asks for more.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub required: u32,
    /// Each approval given to this step so far (one per person).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<StepApproval>,
    /// Who gave the approval that completed the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<DateTime<Utc>>,
    /// A bundle's step: the items (0-based) it approves. A child carries only the steps of
    /// its own item. Empty on any other request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<usize>,
    /// Who an escalation adds to this step, when that is not the request's whole tier: a
    /// bundle's step escalates only to its own items' tier (an owner of one integration never
    /// approves another's item). `None` (every single request, and older records): the
    /// escalation's `to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_to: Option<Vec<PrincipalRef>>,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

impl ApprovalStep {
    /// A step that one approval among `approvers` completes.
    pub fn new(label: impl Into<String>, approvers: Vec<PrincipalRef>) -> Self {
        Self {
            label: label.into(),
            approvers,
            required: 1,
            approvals: vec![],
            approved_by: None,
            approved_at: None,
            items: vec![],
            escalate_to: None,
        }
    }

    /// Has `who` (under this identity or another of the same human) approved this step?
    pub fn approved_by_human(&self, who: &Identity) -> bool {
        self.approvals.iter().any(|a| a.is_by_human(who))
    }
}

/// One person's approval of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepApproval {
    /// The approver's label ([`Identity::display`]: the trusted email, else `sub:<sub>`).
    pub by: String,
    /// The approver's person key ([`Identity::person_key`]).
    pub by_person: String,
    pub at: DateTime<Utc>,
}

impl StepApproval {
    /// The same person, or the same trusted email under another identity: a quorum counts
    /// humans, so one human with two identities counts once.
    pub fn is_by_human(&self, who: &Identity) -> bool {
        self.by_person == who.person_key()
            || who
                .email
                .as_deref()
                .is_some_and(|e| crate::model::fold_email(e) == crate::model::fold_email(&self.by))
    }
}

/// What an owner found when they reviewed a break-glass grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOutcome {
    /// The emergency was real and the access fitted it.
    Justified,
    /// It was not (the note says why; follow-up is the organisation's).
    NotJustified,
}

/// The after-the-fact review of a break-glass grant, recorded once by an integration owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The reviewer's label ([`Identity::display`]).
    pub by: String,
    pub by_person: String,
    pub outcome: ReviewOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

/// A grant made at once through a break-glass flow, without approval, and reviewed afterwards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlass {
    /// Absent until an owner has reviewed it; until then the grant is listed for review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
}

/// Who is added to a request's open approval steps when nobody completed them in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// When the request escalates if it is still pending.
    pub at: DateTime<Utc>,
    /// The next approver tier (the flow's escalation approvers, else the integration owners
    /// when the request was made).
    pub to: Vec<PrincipalRef>,
    /// When it escalated (then `to` joined every open step's approvers; a step with its own
    /// `escalate_to`, a bundle's, got that tier only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated_at: Option<DateTime<Utc>>,
}

impl Escalation {
    /// Escalate no later than [`super::flow::ESCALATION_LEAD`] before `deadline` (and never
    /// before `now`): a request whose approval must come by an early start would otherwise
    /// end before its escalation fires, and the next tier would never hear of it.
    pub fn no_later_than_lead_before(
        mut self,
        deadline: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        let lead = chrono::Duration::from_std(super::flow::ESCALATION_LEAD).unwrap_or_default();
        self.at = self.at.min(deadline - lead).max(now);
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    Approve,
    Reject,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The decider's label ([`Identity::display`]).
    pub by: String,
    /// The decider's person key ([`Identity::person_key`]): who decided, as opposed to the
    /// label, which two people may share. Absent on decisions recorded before it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_person: Option<String>,
    pub kind: DecisionKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

impl Decision {
    /// Was this decision made by `who`? Decided by person; a decision recorded before persons
    /// were is matched only on `who`'s trusted email, never on a `sub`.
    pub fn is_by(&self, who: &Identity) -> bool {
        match &self.by_person {
            Some(p) => *p == who.person_key(),
            None => who
                .email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(&self.by)),
        }
    }
}

/// Something a grant made on the target, recorded so revoke removes exactly that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TargetObject {
    EsUser {
        username: String,
    },
    EsRole {
        name: String,
    },
    EsApiKey {
        id: String,
        name: String,
    },
    CloudRoleAssignment {
        user_id: String,
        role_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resource_id: Option<String>,
    },
    /// An invitation carrying the grant's role; once accepted, the invitee is a member with
    /// that role, which revoke then removes.
    CloudInvitation {
        token: String,
        email: String,
        role_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resource_id: Option<String>,
    },
    /// A proxy credential (`authorization: proxy` integrations): nothing exists on the cluster;
    /// the hashes live on the grant's record ([`AccessRequest::proxy_credential`]).
    ProxyCredential {
        username: String,
        key_id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessRequest {
    pub id: String,
    pub integration: String,
    pub flow: String,
    pub requester: Identity,
    /// The concrete resources granted (patterns in the request expanded at request time).
    pub resources: Vec<String>,
    /// What the requester asked for, patterns included.
    #[serde(default)]
    pub requested_resources: Vec<String>,
    pub permission: String,
    pub duration_secs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    pub status: RequestStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    #[serde(default)]
    pub approval_steps: Vec<ApprovalStep>,
    #[serde(default)]
    pub decisions: Vec<Decision>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When a pending request stops waiting for approvals.
    pub approval_expires_at: DateTime<Utc>,
    /// Approving needs a reason too (the flow's `approval.require_reason` when the request was
    /// made).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approval_reason_required: bool,
    /// The escalation the flow asked for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
    /// Set on a break-glass grant (granted without approval), with its review once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<BreakGlass>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub created_objects: Vec<TargetObject>,
    #[serde(default)]
    pub revoke_attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Who asked for a manual revoke (a retried revoke then ends `revoked`, not `expired`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_requested_by: Option<String>,
    /// A provision that failed may have created the grant's key secret anyway (a create that
    /// timed out can still land seconds later): the sweep deletes it once that can no longer
    /// happen, then clears this.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub key_secret_unsettled: bool,
    /// When the requester was told the grant ends soon (set once by the sweep; the
    /// notifications read the change from the table's stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_warned_at: Option<DateTime<Utc>>,
    /// How many extensions moved this grant's end.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub extensions: u32,
    /// An extension's API key being issued (api_key mode): known by name before it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_renewal: Option<super::KeyRenewal>,
    /// An extension request's grant: approving the request moves that grant's end instead of
    /// provisioning a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    /// A bundle's parent: its items as resolved when it was requested (child `i` grants item
    /// `i`, see [`super::child_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<Vec<super::BundlePart>>,
    /// A bundle's child: its parent request, through which alone it is decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The proxy credential's hashes while the grant is active (`authorization: proxy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_credential: Option<super::ProxyCredential>,
    /// The request's audit trail, appended in the same conditional write as each change, so a
    /// change and its record can never come apart.
    #[serde(default)]
    pub history: Vec<AuditEvent>,
    /// Optimistic-concurrency version: every write is conditional on it.
    pub version: u64,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// How long an `approved` request may sit before cleanup treats its provisioning as stuck.
pub const PROVISIONING_GRACE: Duration = Duration::minutes(15);
/// How long after its start a `scheduled` request waits for its start schedule before the
/// sweep arms the start again: the schedule fires at the start, the sweep is the backstop.
pub const START_GRACE: Duration = Duration::minutes(2);
/// After this, no AWS call a failed provision made can still land (the SDK gives up on a call
/// after 10 s), so what it may have left can be removed for good.
pub const SETTLE_AFTER_FAILURE: Duration = Duration::minutes(2);

/// Fields kept for the stack's own readers (the proxy reads the credential's hashes): never
/// part of any API answer, whichever function gives it.
pub const STORE_ONLY_FIELDS: [&str; 1] = ["proxy_credential"];

impl AccessRequest {
    /// A request as it is first stored: pending, nothing asked, decided, granted or ended yet,
    /// at version 0. Each route sets what it decides with struct update syntax, so a field
    /// added later gets its fresh value here once, not once per route.
    pub fn fresh(id: String, requester: Identity, now: DateTime<Utc>) -> Self {
        AccessRequest {
            id,
            integration: String::new(),
            flow: String::new(),
            requester,
            resources: vec![],
            requested_resources: vec![],
            permission: String::new(),
            duration_secs: 0,
            justification: None,
            status: RequestStatus::Pending,
            status_reason: None,
            approval_steps: vec![],
            decisions: vec![],
            created_at: now,
            updated_at: now,
            approval_expires_at: now,
            approval_reason_required: false,
            escalation: None,
            break_glass: None,
            starts_at: None,
            ends_at: None,
            ended_at: None,
            created_objects: vec![],
            revoke_attempts: 0,
            next_attempt_at: None,
            last_error: None,
            revoke_requested_by: None,
            key_secret_unsettled: false,
            expiry_warned_at: None,
            extensions: 0,
            key_renewal: None,
            extends: None,
            bundle: None,
            parent: None,
            proxy_credential: None,
            history: vec![],
            version: 0,
        }
    }

    /// The record as API views start from it: everything but [`STORE_ONLY_FIELDS`]. Every view
    /// of a request builds on this, so a hash cannot leave the store through one view
    /// forgetting it.
    pub fn view_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            for f in STORE_ONLY_FIELDS {
                m.remove(f);
            }
        }
        v
    }

    pub fn duration(&self) -> Duration {
        Duration::seconds(i64::try_from(self.duration_secs).unwrap_or(i64::MAX))
    }

    /// Move to `next`, or refuse a transition the state machine does not allow.
    pub fn transition(
        &mut self,
        next: RequestStatus,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        if !self.status.can_become(next) {
            return Err(TransitionError {
                from: self.status,
                to: next,
            });
        }
        self.status = next;
        self.updated_at = now;
        // The proxy accepts a credential only on an active grant; dropping the hashes in the
        // same write makes a revoke final even for a proxy that ignored the status.
        if next != RequestStatus::Active {
            self.proxy_credential = None;
        }
        // A bundle's parent ends its own part there; its grants (its children) go on.
        if next.is_terminal() && next != RequestStatus::Bundled && self.ended_at.is_none() {
            self.ended_at = Some(now);
        }
        Ok(())
    }

    /// When the sweeps must look at this request again, if ever (feeds the due-time index).
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        match self.status {
            RequestStatus::Pending => Some(match self.escalation_due() {
                Some(at) => at.min(self.approval_expires_at),
                None => self.approval_expires_at,
            }),
            RequestStatus::Scheduled => self.starts_at.map(|s| s + START_GRACE),
            RequestStatus::Approved => Some(self.updated_at + PROVISIONING_GRACE),
            RequestStatus::Active => self.ends_at,
            RequestStatus::RevokeFailed => self.next_attempt_at.or(Some(self.updated_at)),
            // A bundle whose revocation is recorded but not yet settled on every child (one
            // was being started, or the revoke died half-way): the sweep finishes it.
            RequestStatus::Bundled
                if self.revoke_requested_by.is_some() && self.ended_at.is_none() =>
            {
                Some(self.updated_at)
            }
            RequestStatus::Failed if self.key_secret_unsettled => self
                .next_attempt_at
                .or(Some(self.updated_at + SETTLE_AFTER_FAILURE)),
            _ => None,
        }
    }

    /// A break-glass grant that no owner has reviewed yet.
    pub fn review_pending(&self) -> bool {
        self.break_glass
            .as_ref()
            .is_some_and(|b| b.review.is_none())
    }

    /// When this pending request escalates, unless it already did.
    pub fn escalation_due(&self) -> Option<DateTime<Utc>> {
        self.escalation
            .as_ref()
            .filter(|e| e.escalated_at.is_none() && !e.to.is_empty())
            .map(|e| e.at)
    }

    /// Add the escalation tier to every step still open (a step that names its own tier gets
    /// that one only). Returns false (and changes nothing) when there is nothing to escalate.
    pub fn escalate(&mut self, now: DateTime<Utc>) -> bool {
        if self.status != RequestStatus::Pending || self.escalation_due().is_none() {
            return false;
        }
        let Some(e) = self.escalation.as_mut() else {
            return false;
        };
        for step in self
            .approval_steps
            .iter_mut()
            .filter(|s| s.approved_by.is_none())
        {
            for p in step.escalate_to.as_ref().unwrap_or(&e.to) {
                if !step.approvers.contains(p) {
                    step.approvers.push(p.clone());
                }
            }
        }
        e.escalated_at = Some(now);
        self.updated_at = now;
        true
    }

    /// May the requester still withdraw it? Only while nothing can have been provisioned.
    pub fn is_cancellable(&self) -> bool {
        matches!(
            self.status,
            RequestStatus::Pending | RequestStatus::Scheduled
        )
    }

    /// The ids of a bundle's children (none for any other request).
    pub fn child_ids(&self) -> Vec<String> {
        let n = self.bundle.as_ref().map_or(0, Vec::len);
        (0..n).map(|i| super::child_id(&self.id, i)).collect()
    }

    pub fn all_steps_approved(&self) -> bool {
        self.approval_steps.iter().all(|s| s.approved_by.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_escalation_fires_before_an_early_approval_deadline() {
        let at = |m: i64| DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::minutes(m);
        let e = |m| Escalation {
            at: at(m),
            to: vec![],
            escalated_at: None,
        };
        // The window's own end leaves room: unchanged.
        assert_eq!(e(60).no_later_than_lead_before(at(240), at(0)).at, at(60));
        // A start in 40 minutes ends the approval then: escalate 10 minutes before it.
        assert_eq!(e(60).no_later_than_lead_before(at(40), at(0)).at, at(30));
        // A start too close for any lead: escalate now (the next sweep).
        assert_eq!(e(60).no_later_than_lead_before(at(5), at(0)).at, at(0));
    }

    pub(super) fn sample(status: RequestStatus) -> AccessRequest {
        let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let requester = Identity {
            sub: "u-1".into(),
            issuer: Some("https://idp.example.com".into()),
            email: Some("dev@example.com".into()),
            email_verified: true,
            groups: vec![],
        };
        AccessRequest {
            integration: "prod".into(),
            flow: "logs".into(),
            resources: vec!["logs-2026.11".into()],
            requested_resources: vec!["logs-*".into()],
            permission: "read".into(),
            duration_secs: 3600,
            status,
            approval_expires_at: now + Duration::hours(24),
            version: 1,
            ..AccessRequest::fresh("r-1".into(), requester, now)
        }
    }

    #[test]
    fn the_full_happy_path_is_allowed() {
        let mut r = sample(RequestStatus::Pending);
        let now = r.created_at;
        for next in [
            RequestStatus::Approved,
            RequestStatus::Active,
            RequestStatus::RevokeFailed,
            RequestStatus::RevokeFailed,
            RequestStatus::Revoked,
        ] {
            r.transition(next, now).unwrap();
        }
        assert_eq!(r.status, RequestStatus::Revoked);
        assert_eq!(r.ended_at, Some(now));
        assert_eq!(r.due_at(), None);
    }

    #[test]
    fn exactly_eighteen_transitions_are_allowed() {
        let allowed = RequestStatus::ALL
            .iter()
            .flat_map(|a| RequestStatus::ALL.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a.can_become(*b))
            .count();
        assert_eq!(allowed, 18);
    }

    /// One test per forbidden transition, so a regression names the exact pair.
    macro_rules! forbidden {
        ($($name:ident: $from:ident => $to:ident,)*) => {$(
            #[test]
            fn $name() {
                let mut r = sample(RequestStatus::$from);
                let err = r.transition(RequestStatus::$to, r.created_at).unwrap_err();
                assert_eq!(err, TransitionError { from: RequestStatus::$from, to: RequestStatus::$to });
                assert_eq!(r.status, RequestStatus::$from, "a refused transition changes nothing");
            }
        )*};
    }

    forbidden! {
        pending_to_pending: Pending => Pending,
        pending_to_active: Pending => Active,
        pending_to_revoked: Pending => Revoked,
        pending_to_failed: Pending => Failed,
        pending_to_revoke_failed: Pending => RevokeFailed,
        approved_to_pending: Approved => Pending,
        approved_to_approved: Approved => Approved,
        approved_to_revoked: Approved => Revoked,
        approved_to_expired: Approved => Expired,
        approved_to_rejected: Approved => Rejected,
        approved_to_revoke_failed: Approved => RevokeFailed,
        active_to_pending: Active => Pending,
        active_to_approved: Active => Approved,
        active_to_active: Active => Active,
        active_to_rejected: Active => Rejected,
        active_to_failed: Active => Failed,
        revoked_to_pending: Revoked => Pending,
        revoked_to_approved: Revoked => Approved,
        revoked_to_active: Revoked => Active,
        revoked_to_revoked: Revoked => Revoked,
        revoked_to_expired: Revoked => Expired,
        revoked_to_rejected: Revoked => Rejected,
        revoked_to_failed: Revoked => Failed,
        revoked_to_revoke_failed: Revoked => RevokeFailed,
        expired_to_pending: Expired => Pending,
        expired_to_approved: Expired => Approved,
        expired_to_active: Expired => Active,
        expired_to_revoked: Expired => Revoked,
        expired_to_expired: Expired => Expired,
        expired_to_rejected: Expired => Rejected,
        expired_to_failed: Expired => Failed,
        expired_to_revoke_failed: Expired => RevokeFailed,
        rejected_to_pending: Rejected => Pending,
        rejected_to_approved: Rejected => Approved,
        rejected_to_active: Rejected => Active,
        rejected_to_revoked: Rejected => Revoked,
        rejected_to_expired: Rejected => Expired,
        rejected_to_rejected: Rejected => Rejected,
        rejected_to_failed: Rejected => Failed,
        rejected_to_revoke_failed: Rejected => RevokeFailed,
        failed_to_pending: Failed => Pending,
        failed_to_approved: Failed => Approved,
        failed_to_active: Failed => Active,
        failed_to_revoked: Failed => Revoked,
        failed_to_expired: Failed => Expired,
        failed_to_rejected: Failed => Rejected,
        failed_to_failed: Failed => Failed,
        failed_to_revoke_failed: Failed => RevokeFailed,
        revoke_failed_to_pending: RevokeFailed => Pending,
        revoke_failed_to_approved: RevokeFailed => Approved,
        revoke_failed_to_active: RevokeFailed => Active,
        revoke_failed_to_rejected: RevokeFailed => Rejected,
        revoke_failed_to_failed: RevokeFailed => Failed,
        revoke_failed_to_scheduled: RevokeFailed => Scheduled,
        revoke_failed_to_cancelled: RevokeFailed => Cancelled,
        scheduled_to_scheduled: Scheduled => Scheduled,
        scheduled_to_pending: Scheduled => Pending,
        scheduled_to_active: Scheduled => Active,
        scheduled_to_revoked: Scheduled => Revoked,
        scheduled_to_expired: Scheduled => Expired,
        scheduled_to_rejected: Scheduled => Rejected,
        scheduled_to_revoke_failed: Scheduled => RevokeFailed,
        approved_to_scheduled: Approved => Scheduled,
        approved_to_cancelled: Approved => Cancelled,
        active_to_scheduled: Active => Scheduled,
        active_to_cancelled: Active => Cancelled,
        revoked_to_scheduled: Revoked => Scheduled,
        revoked_to_cancelled: Revoked => Cancelled,
        expired_to_scheduled: Expired => Scheduled,
        expired_to_cancelled: Expired => Cancelled,
        rejected_to_scheduled: Rejected => Scheduled,
        rejected_to_cancelled: Rejected => Cancelled,
        failed_to_scheduled: Failed => Scheduled,
        failed_to_cancelled: Failed => Cancelled,
        cancelled_to_pending: Cancelled => Pending,
        cancelled_to_approved: Cancelled => Approved,
        cancelled_to_active: Cancelled => Active,
        cancelled_to_revoked: Cancelled => Revoked,
        cancelled_to_expired: Cancelled => Expired,
        cancelled_to_rejected: Cancelled => Rejected,
        cancelled_to_failed: Cancelled => Failed,
        cancelled_to_revoke_failed: Cancelled => RevokeFailed,
        cancelled_to_scheduled: Cancelled => Scheduled,
        cancelled_to_cancelled: Cancelled => Cancelled,
        pending_to_applied: Pending => Applied,
        active_to_applied: Active => Applied,
        revoked_to_applied: Revoked => Applied,
        expired_to_applied: Expired => Applied,
        rejected_to_applied: Rejected => Applied,
        failed_to_applied: Failed => Applied,
        revoke_failed_to_applied: RevokeFailed => Applied,
        scheduled_to_applied: Scheduled => Applied,
        cancelled_to_applied: Cancelled => Applied,
        applied_to_pending: Applied => Pending,
        applied_to_approved: Applied => Approved,
        applied_to_active: Applied => Active,
        applied_to_revoked: Applied => Revoked,
        applied_to_expired: Applied => Expired,
        applied_to_rejected: Applied => Rejected,
        applied_to_failed: Applied => Failed,
        applied_to_revoke_failed: Applied => RevokeFailed,
        applied_to_scheduled: Applied => Scheduled,
        applied_to_cancelled: Applied => Cancelled,
        applied_to_applied: Applied => Applied,
        approved_to_bundled: Approved => Bundled,
        active_to_bundled: Active => Bundled,
        revoked_to_bundled: Revoked => Bundled,
        expired_to_bundled: Expired => Bundled,
        rejected_to_bundled: Rejected => Bundled,
        failed_to_bundled: Failed => Bundled,
        revoke_failed_to_bundled: RevokeFailed => Bundled,
        scheduled_to_bundled: Scheduled => Bundled,
        cancelled_to_bundled: Cancelled => Bundled,
        applied_to_bundled: Applied => Bundled,
        bundled_to_pending: Bundled => Pending,
        bundled_to_approved: Bundled => Approved,
        bundled_to_active: Bundled => Active,
        bundled_to_revoked: Bundled => Revoked,
        bundled_to_expired: Bundled => Expired,
        bundled_to_rejected: Bundled => Rejected,
        bundled_to_failed: Bundled => Failed,
        bundled_to_revoke_failed: Bundled => RevokeFailed,
        bundled_to_scheduled: Bundled => Scheduled,
        bundled_to_cancelled: Bundled => Cancelled,
        bundled_to_applied: Bundled => Applied,
        bundled_to_bundled: Bundled => Bundled,
    }

    #[test]
    fn a_bundle_parent_is_bundled_once_and_keeps_no_end_of_its_own() {
        let mut r = sample(RequestStatus::Pending);
        let now = r.created_at;
        r.transition(RequestStatus::Bundled, now).unwrap();
        assert!(r.status.is_terminal(), "the parent is decided for good");
        assert_eq!(r.ended_at, None, "its grants, the children, go on");
        assert_eq!(r.due_at(), None, "no sweep looks at it again");
        assert!(!r.is_cancellable());
        assert!(r.child_ids().is_empty(), "not a bundle: no children");
        r.bundle = Some(vec![]);
        assert!(r.child_ids().is_empty());
    }

    #[test]
    fn a_scheduled_start_is_approved_then_provisioned_or_cancelled() {
        let mut r = sample(RequestStatus::Pending);
        let now = r.created_at;
        r.starts_at = Some(now + Duration::days(2));
        r.transition(RequestStatus::Scheduled, now).unwrap();
        assert!(r.is_cancellable());
        assert_eq!(
            r.due_at(),
            Some(now + Duration::days(2) + START_GRACE),
            "the sweep looks again just after the start"
        );
        let mut cancelled = r.clone();
        cancelled.transition(RequestStatus::Cancelled, now).unwrap();
        assert!(cancelled.status.is_terminal());
        assert_eq!(cancelled.ended_at, Some(now));
        assert_eq!(cancelled.due_at(), None);
        assert!(!cancelled.is_cancellable());
        r.transition(RequestStatus::Approved, now).unwrap();
        assert!(!r.is_cancellable(), "provisioning may have begun");
        r.transition(RequestStatus::Active, now).unwrap();
    }

    #[test]
    fn only_pending_and_scheduled_requests_are_cancellable() {
        for s in RequestStatus::ALL {
            let want = matches!(s, RequestStatus::Pending | RequestStatus::Scheduled);
            assert_eq!(sample(s).is_cancellable(), want, "{s}");
            assert_eq!(s.can_become(RequestStatus::Cancelled), want, "{s}");
        }
    }

    #[test]
    fn a_failed_request_is_due_only_while_its_key_secret_is_unsettled() {
        let mut r = sample(RequestStatus::Failed);
        assert_eq!(r.due_at(), None);
        r.key_secret_unsettled = true;
        assert_eq!(r.due_at(), Some(r.updated_at + SETTLE_AFTER_FAILURE));
        let later = r.updated_at + Duration::hours(1);
        r.next_attempt_at = Some(later);
        assert_eq!(r.due_at(), Some(later), "a failed delete backs off");
        let stored = serde_json::to_value(&r).unwrap();
        assert_eq!(stored["key_secret_unsettled"], true);
        r.key_secret_unsettled = false;
        let stored = serde_json::to_value(&r).unwrap();
        assert!(
            stored.get("key_secret_unsettled").is_none(),
            "absent unless set"
        );
    }

    #[test]
    fn a_step_with_its_own_tier_escalates_to_that_tier_only() {
        let mut r = sample(RequestStatus::Pending);
        let now = r.created_at;
        let es = PrincipalRef::group("search-admins");
        let cloud = PrincipalRef::group("cloud-admins");
        let mut own = ApprovalStep::new("prod-search: owner", vec![PrincipalRef::user("a@x")]);
        own.items = vec![0];
        own.escalate_to = Some(vec![es.clone()]);
        let plain = ApprovalStep::new("owner", vec![PrincipalRef::user("b@x")]);
        r.approval_steps = vec![own, plain];
        r.escalation = Some(Escalation {
            at: now,
            to: vec![es.clone(), cloud.clone()],
            escalated_at: None,
        });
        assert!(r.escalate(now));
        assert!(r.approval_steps[0].approvers.contains(&es));
        assert!(!r.approval_steps[0].approvers.contains(&cloud));
        // A step without its own tier (every older record) gets the escalation's `to`.
        assert!(r.approval_steps[1].approvers.contains(&cloud));
        assert!(r.approval_steps[1].approvers.contains(&es));
        // Older records deserialise: neither field is needed.
        let old: ApprovalStep =
            serde_json::from_value(serde_json::json!({"label": "l", "approvers": []})).unwrap();
        assert_eq!((old.items.len(), old.escalate_to), (0, None));
    }

    #[test]
    fn a_revoked_bundle_is_due_until_its_revocation_is_settled() {
        let mut r = sample(RequestStatus::Pending);
        let now = r.created_at;
        r.transition(RequestStatus::Bundled, now).unwrap();
        assert_eq!(r.due_at(), None);
        r.revoke_requested_by = Some("bob@example.com".into());
        assert_eq!(r.due_at(), Some(r.updated_at));
        r.ended_at = Some(now);
        assert_eq!(r.due_at(), None);
    }
}
