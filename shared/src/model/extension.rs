//! Extending an active grant: what a flow allows (its `extension` object) and what a grant has
//! used of it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::duration::parse_duration;
use crate::validation::ValidationErrors;

/// The most extensions a flow may allow per grant.
pub const MAX_EXTENSIONS: u32 = 100;
const MIN_LENGTH: Duration = Duration::from_secs(5 * 60);
const MAX_TOTAL: Duration = Duration::from_secs(90 * 86400);

/// How an extension is approved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtensionApproval {
    /// Applied at once, within the flow's limits (which the administrator who wrote the flow
    /// approved in advance).
    #[default]
    Automatic,
    /// A new pending request linked to the grant (`extends`), approved by the grant's approval
    /// steps like any request; approving it moves the grant's end.
    Required,
}

/// A flow's `extension` object. Absent: grants of the flow cannot be extended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionPolicy {
    /// How many times one grant may be extended.
    pub max_extensions: u32,
    /// The most one extension may add.
    pub length: String,
    #[serde(default)]
    pub approval: ExtensionApproval,
    /// The longest a grant may last from its start, extensions included.
    pub max_total_duration: String,
}

impl ExtensionPolicy {
    pub fn length(&self) -> Duration {
        parse_duration(&self.length).unwrap_or(MIN_LENGTH)
    }

    pub fn max_total(&self) -> Duration {
        parse_duration(&self.max_total_duration).unwrap_or(MIN_LENGTH)
    }

    /// `max_duration` is the flow's: a grant's own length never counts against extensions,
    /// so the total must leave room for at least the longest grant.
    pub fn validate(&self, e: &mut ValidationErrors, field: &str, max_duration: Duration) {
        if self.max_extensions == 0 || self.max_extensions > MAX_EXTENSIONS {
            e.push(
                "invalid_extension",
                format!("{field}.max_extensions"),
                format!("max_extensions must be between 1 and {MAX_EXTENSIONS}"),
            );
        }
        let bounds = |min: Duration| format!("between {} and 90d", super::format_duration(min));
        match parse_duration(&self.length) {
            Ok(d) if (MIN_LENGTH..=MAX_TOTAL).contains(&d) => {}
            _ => e.push(
                "invalid_extension",
                format!("{field}.length"),
                format!(
                    "length must be a duration {} (got {:?})",
                    bounds(MIN_LENGTH),
                    self.length
                ),
            ),
        }
        match parse_duration(&self.max_total_duration) {
            Ok(d) if d >= max_duration && d <= MAX_TOTAL => {}
            _ => e.push(
                "invalid_extension",
                format!("{field}.max_total_duration"),
                format!(
                    "max_total_duration must be a duration {}, at least the flow's max_duration \
                     (got {:?})",
                    bounds(max_duration),
                    self.max_total_duration
                ),
            ),
        }
    }
}

/// What a grant may still be extended by, as the requester is told it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtensionAllowance {
    pub approval: ExtensionApproval,
    /// Extensions left (the flow's `max_extensions` less the ones applied).
    pub remaining: u32,
    /// The most one extension may add now, in seconds (0 when nothing may be added).
    pub max_extension_secs: u64,
    /// The latest end any extension can reach.
    pub latest_end: DateTime<Utc>,
}

impl ExtensionPolicy {
    /// What a grant that started at `starts_at`, ends at `ends_at` and was extended `used`
    /// times may still be extended by.
    pub fn allowance(
        &self,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        used: u32,
    ) -> ExtensionAllowance {
        let total = chrono::Duration::from_std(self.max_total()).unwrap_or(chrono::Duration::MAX);
        let latest_end = starts_at + total;
        let room = (latest_end - ends_at).num_seconds().max(0) as u64;
        let remaining = self.max_extensions.saturating_sub(used);
        let max_extension_secs = if remaining == 0 {
            0
        } else {
            room.min(self.length().as_secs())
        };
        ExtensionAllowance {
            approval: self.approval,
            remaining,
            max_extension_secs,
            latest_end,
        }
    }
}

/// An API key being issued for an extension (api_key mode), recorded before the key is asked
/// for, so a key whose grant or record never landed is still known by name to revoke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRenewal {
    /// The key's name on the target (the same for every attempt at this extension).
    pub name: String,
    /// The grant's end once the extension applies (the key's expiration).
    pub ends_at: DateTime<Utc>,
    /// When the attempt began; after [`RENEWAL_LEASE`] another attempt may take over.
    pub started_at: DateTime<Utc>,
    /// Who asked, and why (for the audit event of the extension).
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

/// How long a key renewal is left to its own attempt before another may take over.
pub const RENEWAL_LEASE: chrono::Duration = chrono::Duration::seconds(60);

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max: u32, length: &str, total: &str) -> ExtensionPolicy {
        ExtensionPolicy {
            max_extensions: max,
            length: length.into(),
            approval: ExtensionApproval::Automatic,
            max_total_duration: total.into(),
        }
    }

    fn errors(p: &ExtensionPolicy, max_duration: Duration) -> Vec<String> {
        let mut e = ValidationErrors::default();
        p.validate(&mut e, "extension", max_duration);
        e.into_result()
            .err()
            .map(|e| e.0.into_iter().map(|f| f.field).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_sound_policy_is_accepted() {
        assert!(errors(&policy(2, "1h", "24h"), Duration::from_secs(8 * 3600)).is_empty());
    }

    #[test]
    fn each_bad_field_is_named() {
        let h8 = Duration::from_secs(8 * 3600);
        assert_eq!(
            errors(&policy(0, "1h", "24h"), h8),
            ["extension.max_extensions"]
        );
        assert_eq!(
            errors(&policy(101, "1h", "24h"), h8),
            ["extension.max_extensions"]
        );
        assert_eq!(errors(&policy(1, "1m", "24h"), h8), ["extension.length"]);
        assert_eq!(errors(&policy(1, "soon", "24h"), h8), ["extension.length"]);
        assert_eq!(errors(&policy(1, "91d", "24h"), h8), ["extension.length"]);
        assert_eq!(
            errors(&policy(1, "1h", "4h"), h8),
            ["extension.max_total_duration"],
            "the total may not be shorter than the flow's max_duration"
        );
        assert_eq!(
            errors(&policy(1, "1h", "91d"), h8),
            ["extension.max_total_duration"]
        );
    }

    #[test]
    fn the_allowance_is_bounded_by_length_total_and_count() {
        let start = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let p = policy(2, "1h", "3h");
        let a = p.allowance(start, start + chrono::Duration::hours(1), 0);
        assert_eq!(a.remaining, 2);
        assert_eq!(a.max_extension_secs, 3600);
        assert_eq!(a.latest_end, start + chrono::Duration::hours(3));
        let a = p.allowance(start, start + chrono::Duration::minutes(150), 1);
        assert_eq!(a.max_extension_secs, 1800, "only the room up to the total");
        let a = p.allowance(start, start + chrono::Duration::hours(2), 2);
        assert_eq!((a.remaining, a.max_extension_secs), (0, 0));
    }
}
