//! Scheduled starts: a one-time schedule at a request's start that invokes the provision
//! function with the request id, which then provisions the grant. It lives in the expiry
//! schedules' group under its own name prefix, so the two never collide, and deletes itself
//! after it runs. The 5-minute sweep arms it again when it is missing or did not fire.

use async_trait::async_trait;
use aws_sdk_scheduler::types::Target;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{EventBridgeScheduler, SchedulerError, at_expression};

pub const START_SOURCE: &str = "elastic-jit.start";

/// What the provision function receives from a start schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartEvent {
    pub source: String,
    pub grant_id: String,
}

/// `ejit-start-<grant id>`: 47 characters for a uuid, within Scheduler's 64.
pub fn start_schedule_name(grant_id: &str) -> String {
    format!("ejit-start-{grant_id}")
}

/// Scheduler fires at whole seconds: the start is rounded up, so it never fires before it.
pub fn start_expression(at: DateTime<Utc>) -> String {
    let whole = at.timestamp() + i64::from(at.timestamp_subsec_nanos() > 0);
    at_expression(DateTime::from_timestamp(whole, 0).unwrap_or(at))
}

#[async_trait]
pub trait StartScheduler: Send + Sync {
    /// Create (or, when it exists, move) the request's start schedule, invoking `target_arn`
    /// (the provision function) at `at`.
    async fn schedule_start(
        &self,
        grant_id: &str,
        at: DateTime<Utc>,
        target_arn: &str,
    ) -> Result<(), SchedulerError>;
    /// Delete it; one that is already gone (fired, or never made) counts as deleted.
    async fn cancel_start(&self, grant_id: &str) -> Result<(), SchedulerError>;
}

impl EventBridgeScheduler {
    fn start_target(&self, grant_id: &str, target_arn: &str) -> Result<Target, SchedulerError> {
        let input = serde_json::to_string(&StartEvent {
            source: START_SOURCE.into(),
            grant_id: grant_id.into(),
        })
        .unwrap_or_default();
        Target::builder()
            .arn(target_arn)
            .role_arn(&self.cfg.role_arn)
            .input(input)
            .build()
            .map_err(|e| SchedulerError {
                op: "CreateSchedule",
                code: e.to_string(),
            })
    }
}

#[async_trait]
impl StartScheduler for EventBridgeScheduler {
    async fn schedule_start(
        &self,
        grant_id: &str,
        at: DateTime<Utc>,
        target_arn: &str,
    ) -> Result<(), SchedulerError> {
        self.put_one_time(
            &start_schedule_name(grant_id),
            start_expression(at),
            self.start_target(grant_id, target_arn)?,
            "elastic-jit scheduled start",
        )
        .await
    }

    async fn cancel_start(&self, grant_id: &str) -> Result<(), SchedulerError> {
        self.delete_one_time(&start_schedule_name(grant_id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_is_never_fired_early_and_its_name_is_its_own() {
        let at = DateTime::parse_from_rfc3339("2026-11-23T18:00:00.250Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(start_expression(at), "at(2026-11-23T18:00:01)");
        let whole = DateTime::parse_from_rfc3339("2026-11-23T18:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(start_expression(whole), "at(2026-11-23T18:00:00)");
        let id = "0f8b1e2c-1111-2222-3333-444455556666";
        assert_eq!(start_schedule_name(id).len(), 47);
        assert_ne!(start_schedule_name(id), super::super::schedule_name(id));
        let event: StartEvent =
            serde_json::from_value(serde_json::json!({"source": START_SOURCE, "grant_id": id}))
                .unwrap();
        assert_eq!(event.grant_id, id);
    }
}
