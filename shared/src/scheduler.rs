//! Per-grant expiry: a one-time EventBridge Scheduler schedule at the grant's end that invokes
//! the revoke function with the grant id and deletes itself after it runs. The 5-minute sweep
//! is the backstop when a schedule is missing or did not fire.

use async_trait::async_trait;
use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::error::ProvideErrorMetadata;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod start;
pub use start::{START_SOURCE, StartEvent, StartScheduler, start_expression, start_schedule_name};

/// What the revoke function receives from an expiry schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryEvent {
    pub source: String,
    pub grant_id: String,
}

pub const EXPIRY_SOURCE: &str = "elastic-jit.expiry";

#[derive(Debug, thiserror::Error)]
#[error("EventBridge Scheduler {op} failed: {code}")]
pub struct SchedulerError {
    pub op: &'static str,
    pub code: String,
}

#[async_trait]
pub trait ExpiryScheduler: Send + Sync {
    /// Create (or, when it exists, update) the grant's expiry schedule.
    async fn schedule_expiry(
        &self,
        grant_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), SchedulerError>;
    /// Delete it; one that is already gone counts as deleted.
    async fn cancel_expiry(&self, grant_id: &str) -> Result<(), SchedulerError>;
}

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    pub group: String,
    /// ARN of the revoke function.
    pub target_arn: String,
    /// Role EventBridge Scheduler assumes to invoke it.
    pub role_arn: String,
}

impl SchedulerConfig {
    /// For functions that only delete expiry schedules (revoke, cleanup): no target or role.
    pub fn deleting_only(group: String) -> Self {
        Self {
            group,
            target_arn: String::new(),
            role_arn: String::new(),
        }
    }
}

pub struct EventBridgeScheduler {
    client: Client,
    cfg: SchedulerConfig,
}

/// `ejit-<grant id>`: unique per grant, within Scheduler's 64-character limit for uuids.
pub fn schedule_name(grant_id: &str) -> String {
    format!("ejit-{grant_id}")
}

/// Scheduler's one-time form: `at(yyyy-mm-ddThh:mm:ss)`, interpreted in UTC.
pub fn at_expression(at: DateTime<Utc>) -> String {
    format!("at({})", at.format("%Y-%m-%dT%H:%M:%S"))
}

impl EventBridgeScheduler {
    pub fn new(client: Client, cfg: SchedulerConfig) -> Self {
        Self { client, cfg }
    }

    fn target(&self, grant_id: &str) -> Result<Target, SchedulerError> {
        let input = serde_json::to_string(&ExpiryEvent {
            source: EXPIRY_SOURCE.into(),
            grant_id: grant_id.into(),
        })
        .unwrap_or_default();
        Target::builder()
            .arn(&self.cfg.target_arn)
            .role_arn(&self.cfg.role_arn)
            .input(input)
            .build()
            .map_err(|e| SchedulerError {
                op: "CreateSchedule",
                code: e.to_string(),
            })
    }
}

fn window() -> Result<FlexibleTimeWindow, SchedulerError> {
    FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(|e| SchedulerError {
            op: "CreateSchedule",
            code: e.to_string(),
        })
}

impl EventBridgeScheduler {
    /// Create the one-time schedule `name` firing `target` at `expression`, or move it when it
    /// exists already; it deletes itself after it ran.
    pub(crate) async fn put_one_time(
        &self,
        name: &str,
        expression: String,
        target: Target,
        description: &str,
    ) -> Result<(), SchedulerError> {
        let created = self
            .client
            .create_schedule()
            .name(name)
            .group_name(&self.cfg.group)
            .schedule_expression(&expression)
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window()?)
            .action_after_completion(ActionAfterCompletion::Delete)
            .target(target.clone())
            .description(description)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConflictException") => self
                .client
                .update_schedule()
                .name(name)
                .group_name(&self.cfg.group)
                .schedule_expression(expression)
                .schedule_expression_timezone("UTC")
                .flexible_time_window(window()?)
                .action_after_completion(ActionAfterCompletion::Delete)
                .target(target)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| SchedulerError {
                    op: "UpdateSchedule",
                    code: e.code().unwrap_or("dispatch").into(),
                }),
            Err(e) => Err(SchedulerError {
                op: "CreateSchedule",
                code: e.code().unwrap_or("dispatch").into(),
            }),
        }
    }

    /// Delete the schedule `name`; one that is already gone counts as deleted.
    pub(crate) async fn delete_one_time(&self, name: &str) -> Result<(), SchedulerError> {
        match self
            .client
            .delete_schedule()
            .name(name)
            .group_name(&self.cfg.group)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(SchedulerError {
                op: "DeleteSchedule",
                code: e.code().unwrap_or("dispatch").into(),
            }),
        }
    }
}

#[async_trait]
impl ExpiryScheduler for EventBridgeScheduler {
    async fn schedule_expiry(
        &self,
        grant_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), SchedulerError> {
        self.put_one_time(
            &schedule_name(grant_id),
            at_expression(at),
            self.target(grant_id)?,
            "elastic-jit grant expiry",
        )
        .await
    }

    async fn cancel_expiry(&self, grant_id: &str) -> Result<(), SchedulerError> {
        self.delete_one_time(&schedule_name(grant_id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_expressions() {
        let at = DateTime::parse_from_rfc3339("2026-11-23T18:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(at_expression(at), "at(2026-11-23T18:00:00)");
        assert_eq!(
            schedule_name("0f8b1e2c-1111-2222-3333-444455556666").len(),
            41
        );
    }
}
