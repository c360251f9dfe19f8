//! The cleanup function, every 5 minutes: the expiry backstop, retries of failed revocations,
//! stale pending and stuck approved requests, idle-account deletion after `user_cleanup_days`,
//! and removal of orphaned objects marked as managed by elastic-jit. Every phase reads the
//! due-time index (no Scan), works a few items at a time, and stops before the deadline,
//! leaving the rest for the next run.
#![forbid(unsafe_code)]

mod accounts;
mod connectors;
mod orphans;
mod requests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use shared::config::required;
use shared::driver::Driver;
use shared::model::Integration;
use shared::revocation::{RevokeRetry, Revoker};
use shared::scheduler::SchedulerConfig;
use shared::services::Services;
use shared::store::StoreError;
use shared::targets::TargetError;

pub struct App {
    pub services: Services,
    pub retry: RevokeRetry,
    /// How many items are worked on at once.
    pub concurrency: usize,
    /// Stop starting work this long before the deadline.
    pub margin: Duration,
    /// The provision function, which start schedules invoke (`PROVISION_FUNCTION_ARN`).
    pub start_target: String,
}

pub use shared::services::time_left;

/// What one run did; `complete` is false when it stopped for the deadline.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub expired: usize,
    pub retried: usize,
    pub still_failing: usize,
    pub pending_expired: usize,
    /// Pending requests whose next approver tier was added (their flow's escalation).
    pub escalated: usize,
    pub stuck_failed: usize,
    /// Scheduled requests past their start whose start schedule was armed again.
    pub starts_armed: usize,
    /// Scheduled requests whose whole window passed before they could start, ended `failed`.
    pub starts_missed: usize,
    /// Failed provisions whose key secret (if their create landed) is now deleted.
    pub key_secrets_settled: usize,
    /// Requesters told their grant ends within 15 minutes.
    pub expiry_warnings: usize,
    pub accounts_deleted: usize,
    pub orphans_removed: usize,
    /// Replaced connector credentials retired now, and those still failing (retried later).
    pub connector_keys_retired: usize,
    pub connector_retires_failing: usize,
    /// Revoked bundles whose every child the sweep settled (one had raced the revoke).
    pub bundles_revoked: usize,
    pub errors: usize,
    pub complete: bool,
}

/// Shared by the phases of one run.
pub(crate) struct Run<'a> {
    pub app: &'a App,
    pub deadline: Instant,
    /// Held while a driver is built, so items worked on at once wait for the one read of the
    /// connector secret instead of each reading it.
    drivers: tokio::sync::Mutex<HashMap<String, Arc<dyn Driver>>>,
    /// Integrations read this run (`None`: it no longer exists), each read once.
    integrations: tokio::sync::Mutex<HashMap<String, Option<Integration>>>,
    /// Every integration, listed once a phase needs them all.
    listed: tokio::sync::Mutex<Option<Vec<Integration>>>,
}

impl Run<'_> {
    pub fn out_of_time(&self) -> bool {
        Instant::now() + self.app.margin >= self.deadline
    }

    /// Run one chunk of work, cut off halfway through the margin if it is still going, so the
    /// invocation always answers before its deadline. Cut work is safe to leave: every step is
    /// idempotent, leases expire, and the next run picks the item up again.
    pub async fn bounded<T>(&self, work: impl std::future::Future<Output = T>) -> Option<T> {
        let hard_stop = self
            .deadline
            .checked_sub(self.app.margin / 2)
            .unwrap_or(self.deadline);
        tokio::time::timeout_at(hard_stop.into(), work).await.ok()
    }

    /// Every integration, listed once per run (the connector and orphan phases both walk
    /// them; a list a moment old is safe, every write the sweep makes is conditional).
    /// `Ok(None)` when the listing was cut.
    pub async fn all_integrations(&self) -> Result<Option<Vec<Integration>>, StoreError> {
        let mut listed = self.listed.lock().await;
        if let Some(all) = listed.as_ref() {
            return Ok(Some(all.clone()));
        }
        let Some(all) = self
            .listing(self.app.services.store.list_integrations())
            .await?
        else {
            return Ok(None);
        };
        *listed = Some(all.clone());
        Ok(Some(all))
    }

    /// A read that lists the next work, cut like a chunk: on a slow store a listing started
    /// just before the margin must not carry the run past its deadline. `Ok(None)` when cut.
    pub async fn listing<T, E>(
        &self,
        read: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<Option<T>, E> {
        self.bounded(read).await.transpose()
    }

    /// One driver per integration per run: the connector secret is read once.
    pub async fn driver(&self, integration: &Integration) -> Result<Arc<dyn Driver>, TargetError> {
        let mut drivers = self.drivers.lock().await;
        if let Some(d) = drivers.get(&integration.name) {
            return Ok(d.clone());
        }
        let d: Arc<dyn Driver> = Arc::from(self.app.services.targets.driver(integration).await?);
        drivers.insert(integration.name.clone(), d.clone());
        Ok(d)
    }

    /// The integration, read once per run (eventually consistent: a sweep acting on
    /// configuration a moment old is safe, every write it makes is conditional).
    pub async fn integration(&self, name: &str) -> Result<Option<Integration>, StoreError> {
        let mut known = self.integrations.lock().await;
        if let Some(i) = known.get(name) {
            return Ok(i.clone());
        }
        let read = self
            .app
            .services
            .store
            .grant_records(name, None, None)
            .await?
            .integration;
        known.insert(name.to_string(), read.clone());
        Ok(read)
    }
}

impl App {
    /// Environment: TABLE_NAME, CREDENTIAL_SECRET_PREFIX, SCHEDULE_GROUP, CLEANUP_CONCURRENCY.
    pub async fn from_env() -> Result<Self, lambda_runtime::Error> {
        Ok(Self {
            // Expiry schedules are only deleted here; start schedules are armed again, through
            // the role Scheduler assumes to invoke the provision function.
            services: Services::from_env(SchedulerConfig {
                role_arn: required("SCHEDULER_ROLE_ARN")?,
                ..SchedulerConfig::deleting_only(required("SCHEDULE_GROUP")?)
            })
            .await?,
            retry: RevokeRetry::default(),
            concurrency: shared::config::number("CLEANUP_CONCURRENCY", 8)?,
            margin: Duration::from_secs(15),
            start_target: required("PROVISION_FUNCTION_ARN")?,
        })
    }

    pub fn revoker(&self) -> Revoker<'_> {
        self.services.revoker(self.retry, "cleanup")
    }

    /// One sweep, stopping before `deadline`.
    pub async fn handle(
        &self,
        _event: serde_json::Value,
        deadline: Instant,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        let run = Run {
            app: self,
            deadline,
            drivers: tokio::sync::Mutex::new(HashMap::new()),
            integrations: tokio::sync::Mutex::new(HashMap::new()),
            listed: tokio::sync::Mutex::new(None),
        };
        let mut report = Report::default();
        // No invocation-wide target deadline here: `bounded` cuts a chunk short instead, and an
        // item cut short stays due for the next run rather than counting as a failed attempt.
        let finished = requests::expire_active(&run, &mut report).await?
            && requests::finish_bundle_revocations(&run, &mut report).await?
            && requests::warn_expiring(&run, &mut report).await?
            && requests::retry_failed(&run, &mut report).await?
            && requests::expire_pending(&run, &mut report).await?
            && requests::arm_starts(&run, &mut report).await?
            && requests::fail_stuck(&run, &mut report).await?
            && requests::settle_failed(&run, &mut report).await?
            && connectors::retire(&run, &mut report).await?
            && accounts::delete_idle(&run, &mut report).await?
            && orphans::remove(&run, &mut report).await?;
        report.complete = finished;
        tracing::info!(?report, "sweep finished");
        Ok(serde_json::to_value(report)?)
    }
}
