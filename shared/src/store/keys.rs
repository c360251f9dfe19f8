//! Where each kind of record lives in the one table.

use chrono::{DateTime, NaiveDate, Utc};

pub const INTEGRATION_PK: &str = "INTEGRATION";
pub const FLOW_PK: &str = "FLOW";
pub const REQUEST_SK: &str = "REQUEST";

pub fn resources_pk(integration: &str) -> String {
    format!("RESOURCES#{integration}")
}

/// The content hash of an integration's stored discovery (one item, sort key `HASH`).
pub fn snapshot_pk(integration: &str) -> String {
    format!("SNAPSHOT#{integration}")
}
pub const SNAPSHOT_SK: &str = "HASH";

pub fn request_pk(id: &str) -> String {
    format!("REQUEST#{id}")
}

pub fn principals_pk(integration: &str) -> String {
    format!("PRINCIPAL#{integration}")
}

pub fn audit_pk(subject_key: &str) -> String {
    format!("AUDIT#{subject_key}")
}

/// Every audit event of one UTC day, whatever its subject: the administrators' audit log.
pub fn audit_log_pk(day: NaiveDate) -> String {
    format!("{AUDIT_LOG_PREFIX}{}", day.format("%Y-%m-%d"))
}

pub const AUDIT_LOG_PREFIX: &str = "AUDITLOG#";

/// The day an audit-log partition key names, if it is one.
pub fn audit_log_day(pk: &str) -> Option<NaiveDate> {
    let day = pk.strip_prefix(AUDIT_LOG_PREFIX)?;
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// Lower bound of the time keys at or after `at`.
pub fn time_lower_bound(at: DateTime<Utc>) -> String {
    format!("{:015}#", at.timestamp_millis().max(0))
}

pub fn idempotency_pk(requester_sub: &str) -> String {
    format!("IDEMPOTENCY#{requester_sub}")
}

/// Sort key for time order: zero-padded epoch milliseconds, then a tiebreaker id.
pub fn time_key(at: DateTime<Utc>, id: &str) -> String {
    format!("{:015}#{id}", at.timestamp_millis().max(0))
}

/// Upper bound for "due at or before `now`": `~` sorts after every id character.
pub fn time_upper_bound(now: DateTime<Utc>) -> String {
    format!("{:015}#~", now.timestamp_millis().max(0))
}

/// One partition per approver key (see [`approver_key`]): the pending requests it may decide.
pub fn approver_pk(key: &str) -> String {
    format!("APPROVER#{key}")
}

/// An integration's break-glass grants waiting for their review (see the review index).
pub fn review_pk(integration: &str) -> String {
    format!("REVIEW#{integration}")
}
