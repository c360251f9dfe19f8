//! The append-only audit trail: every decision and every call that changed a target.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Success,
    Failure,
}

/// What an event is about; events are listed per subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum AuditSubject {
    Integration(String),
    Flow(String),
    Request(String),
    Principal(String),
}

impl AuditSubject {
    pub fn key(&self) -> String {
        match self {
            Self::Integration(id) => format!("integration#{id}"),
            Self::Flow(id) => format!("flow#{id}"),
            Self::Request(id) => format!("request#{id}"),
            Self::Principal(id) => format!("principal#{id}"),
        }
    }
}

/// One audit record. `details` holds names and ids, never a secret value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: String,
    pub at: DateTime<Utc>,
    /// Who caused it: an identity's email/sub, or `system:<function>`.
    pub actor: String,
    /// A stable verb such as `integration.registered`, `request.approved`, `grant.revoked`.
    pub action: String,
    pub subject: AuditSubject,
    pub outcome: AuditOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration: Option<String>,
    #[serde(default)]
    pub details: serde_json::Value,
}

impl AuditEvent {
    pub fn new(
        at: DateTime<Utc>,
        actor: impl Into<String>,
        action: impl Into<String>,
        subject: AuditSubject,
    ) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            at,
            actor: actor.into(),
            action: action.into(),
            subject,
            outcome: AuditOutcome::Success,
            integration: None,
            details: serde_json::Value::Null,
        }
    }

    pub fn failed(mut self) -> Self {
        self.outcome = AuditOutcome::Failure;
        self
    }

    /// The integration the event concerns; none for an empty name (a bundle's parent names no
    /// integration: each child names its own).
    pub fn with_integration(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.integration = (!name.is_empty()).then_some(name);
        self
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_names_no_empty_integration() {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let e = |name: &str| {
            AuditEvent::new(
                at,
                "system:provision",
                "request.approved",
                AuditSubject::Request("r-1".into()),
            )
            .with_integration(name)
            .integration
        };
        assert_eq!(e("prod-search"), Some("prod-search".to_string()));
        assert_eq!(e(""), None);
    }
}
