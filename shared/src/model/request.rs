//! Access requests and the grants they become, with the one state machine both follow:
//!
//! ```text
//! pending ──▶ approved ──▶ active ──▶ revoked | expired
//!    │            │           │
//!    ├▶ rejected  ├▶ failed   └▶ revoke_failed ──▶ revoked | expired (retried by cleanup)
//!    │            └▶ applied (an extension request: its grant's end moved)
//!    └▶ expired (approval window elapsed)
//! ```

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
    /// An approved extension request whose grant's end moved (`extends`).
    Applied,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 9] = [
        Self::Pending,
        Self::Approved,
        Self::Active,
        Self::Revoked,
        Self::Expired,
        Self::Rejected,
        Self::Failed,
        Self::RevokeFailed,
        Self::Applied,
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
            Self::Applied => "applied",
        }
    }

    /// The only transitions the system may make. `revoke_failed → revoke_failed` records
    /// another failed attempt and moves its next attempt time.
    pub fn can_become(self, next: RequestStatus) -> bool {
        use RequestStatus::*;
        matches!(
            (self, next),
            (Pending, Approved | Rejected | Expired)
                | (Approved, Active | Failed | Applied)
                | (Active, Revoked | Expired | RevokeFailed)
                | (RevokeFailed, Revoked | Expired | RevokeFailed)
        )
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Revoked | Self::Expired | Self::Rejected | Self::Failed | Self::Applied
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

/// One set of people whose approval is required. Each distinct owner set must approve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalStep {
    /// Why this step exists, e.g. `flow approvers`, `owner of logs-2026.11`, `integration owners`.
    pub label: String,
    pub approvers: Vec<PrincipalRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<DateTime<Utc>>,
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
/// After this, no AWS call a failed provision made can still land (the SDK gives up on a call
/// after 10 s), so what it may have left can be removed for good.
pub const SETTLE_AFTER_FAILURE: Duration = Duration::minutes(2);

impl AccessRequest {
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
        if next.is_terminal() && self.ended_at.is_none() {
            self.ended_at = Some(now);
        }
        Ok(())
    }

    /// When the sweeps must look at this request again, if ever (feeds the due-time index).
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        match self.status {
            RequestStatus::Pending => Some(self.approval_expires_at),
            RequestStatus::Approved => Some(self.updated_at + PROVISIONING_GRACE),
            RequestStatus::Active => self.ends_at,
            RequestStatus::RevokeFailed => self.next_attempt_at.or(Some(self.updated_at)),
            RequestStatus::Failed if self.key_secret_unsettled => self
                .next_attempt_at
                .or(Some(self.updated_at + SETTLE_AFTER_FAILURE)),
            _ => None,
        }
    }

    pub fn all_steps_approved(&self) -> bool {
        self.approval_steps.iter().all(|s| s.approved_by.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn sample(status: RequestStatus) -> AccessRequest {
        let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        AccessRequest {
            id: "r-1".into(),
            integration: "prod".into(),
            flow: "logs".into(),
            requester: Identity {
                sub: "u-1".into(),
                issuer: Some("https://idp.example.com".into()),
                email: Some("dev@example.com".into()),
                email_verified: true,
                groups: vec![],
            },
            resources: vec!["logs-2026.11".into()],
            requested_resources: vec!["logs-*".into()],
            permission: "read".into(),
            duration_secs: 3600,
            justification: None,
            status,
            status_reason: None,
            approval_steps: vec![],
            decisions: vec![],
            created_at: now,
            updated_at: now,
            approval_expires_at: now + Duration::hours(24),
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
            history: vec![],
            version: 1,
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
    fn exactly_twelve_transitions_are_allowed() {
        let allowed = RequestStatus::ALL
            .iter()
            .flat_map(|a| RequestStatus::ALL.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a.can_become(*b))
            .count();
        assert_eq!(allowed, 12);
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
}
