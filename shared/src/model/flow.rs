//! Access flows: who may ask for what, for how long, and who approves.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::duration::parse_duration;
use super::integration::{Integration, IntegrationKind, check_patterns};
use super::principal::{PrincipalRef, check_principals};
use crate::validation::{ValidationErrors, check_name};

pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(8 * 3600);
pub const DEFAULT_APPROVAL_WINDOW: Duration = Duration::from_secs(24 * 3600);
const MIN_MAX_DURATION: Duration = Duration::from_secs(5 * 60);
const MAX_MAX_DURATION: Duration = Duration::from_secs(90 * 86400);
const MAX_APPROVAL_WINDOW: Duration = Duration::from_secs(30 * 86400);

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

/// What an administrator PUTs to `/flows/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessFlowSpec {
    pub integration: String,
    pub requesters: Vec<PrincipalRef>,
    pub resources: Vec<String>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who else hears about this flow's requests (Slack channel, addresses, webhooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<crate::notifications::NotificationSettings>,
    /// Whether and how far grants of this flow may be extended (absent: they may not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<super::ExtensionPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessFlow {
    pub name: String,
    pub spec: AccessFlowSpec,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AccessFlowSpec {
    pub fn max_duration(&self) -> Duration {
        self.max_duration
            .as_deref()
            .and_then(|d| parse_duration(d).ok())
            .unwrap_or(DEFAULT_MAX_DURATION)
    }

    pub fn approval_window(&self) -> Duration {
        self.approval_window
            .as_deref()
            .and_then(|d| parse_duration(d).ok())
            .unwrap_or(DEFAULT_APPROVAL_WINDOW)
    }

    /// `integration` is the stored integration the flow names, or `None` when there is none.
    pub fn validate(
        &self,
        name: &str,
        integration: Option<&Integration>,
    ) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::default();
        check_name(&mut e, "name", name);
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
        if self.requesters.is_empty() {
            e.push(
                "empty_requesters",
                "requesters",
                "requesters needs at least one user or group who may request access",
            );
        }
        check_principals(&mut e, "requesters", &self.requesters);
        if self.resources.is_empty() {
            e.push(
                "empty_resource_patterns",
                "resources",
                "resources needs at least one name or wildcard pattern",
            );
        }
        check_patterns(&mut e, "resources", &self.resources, false);
        if self.permissions.is_empty() {
            e.push(
                "empty_permissions",
                "permissions",
                "permissions needs at least one permission",
            );
        }
        check_bounded_duration(
            &mut e,
            "max_duration",
            self.max_duration.as_deref(),
            MIN_MAX_DURATION,
            MAX_MAX_DURATION,
            "invalid_max_duration",
        );
        check_bounded_duration(
            &mut e,
            "approval_window",
            self.approval_window.as_deref(),
            MIN_MAX_DURATION,
            MAX_APPROVAL_WINDOW,
            "invalid_approval_window",
        );
        check_principals(&mut e, "approvers", &self.approvers);
        if let Some(x) = &self.extension {
            x.validate(&mut e, "extension", self.max_duration());
        }
        if let Some(n) = &self.notifications {
            n.validate(&mut e, "notifications");
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
        e.into_result()
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
