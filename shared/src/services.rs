//! The clients and settings the grant-handling functions share (provision, revoke, cleanup),
//! built once per process and borrowed into each invocation.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::clock::{Clock, SystemClock};
use crate::config::{optional, required};
use crate::credentials::DEFAULT_SECRET_PREFIX;
use crate::driver::http::HttpClients;
use crate::grants::{GrantConfig, Grants};
use crate::model::DEFAULT_CONNECTOR_PREFIX;
use crate::revocation::{RevokeRetry, Revoker};
use crate::scheduler::{EventBridgeScheduler, ExpiryScheduler, SchedulerConfig, StartScheduler};
use crate::secrets::{SecretStore, SecretsManager};
use crate::store::{DynamoStore, Store, StoreConfig};
use crate::targets::{DriverFactory, Targets};

pub struct Services {
    pub store: Arc<dyn Store>,
    pub secrets: Arc<dyn SecretStore>,
    pub targets: Arc<dyn DriverFactory>,
    pub scheduler: Arc<dyn ExpiryScheduler>,
    /// Scheduled starts' one-time schedules (same group and role as the expiry schedules).
    pub starts: Arc<dyn StartScheduler>,
    pub clock: Arc<dyn Clock>,
    pub config: GrantConfig,
}

impl Services {
    /// Environment: TABLE_NAME, CREDENTIAL_SECRET_PREFIX, CONNECTOR_SECRET_PREFIX,
    /// MAX_OPEN_REQUESTS; the AWS SDK's own variables (`AWS_ENDPOINT_URL` included).
    pub async fn from_env(
        scheduler: SchedulerConfig,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let table = required("TABLE_NAME")?;
        let aws = crate::config::aws_sdk_config().await;
        let scheduler_client = aws_sdk_scheduler::Client::new(&aws);
        let secrets: Arc<dyn SecretStore> = Arc::new(SecretsManager::new(
            aws_sdk_secretsmanager::Client::new(&aws),
        ));
        Ok(Self {
            store: Arc::new(DynamoStore::with_config(
                aws_sdk_dynamodb::Client::new(&aws),
                StoreConfig::from_env(table)?,
            )),
            targets: Arc::new(
                Targets::new(HttpClients::new()?, secrets.clone()).with_connector_prefix(optional(
                    "CONNECTOR_SECRET_PREFIX",
                    DEFAULT_CONNECTOR_PREFIX,
                )),
            ),
            secrets,
            // One SDK client (a clone shares it): each one built loads its TLS roots at init.
            scheduler: Arc::new(EventBridgeScheduler::new(
                scheduler_client.clone(),
                scheduler.clone(),
            )),
            starts: Arc::new(EventBridgeScheduler::new(scheduler_client, scheduler)),
            clock: Arc::new(SystemClock),
            config: GrantConfig {
                secret_prefix: optional("CREDENTIAL_SECRET_PREFIX", DEFAULT_SECRET_PREFIX),
            },
        })
    }

    pub fn grants(&self) -> Grants<'_> {
        Grants {
            store: &*self.store,
            secrets: &*self.secrets,
            targets: &*self.targets,
            scheduler: &*self.scheduler,
            clock: &*self.clock,
            cfg: &self.config,
        }
    }

    pub fn revoker(&self, retry: RevokeRetry, function: &'static str) -> Revoker<'_> {
        Revoker {
            grants: self.grants(),
            retry,
            function,
        }
    }
}

/// Kept back from an invocation's deadline for what must happen after the target calls: the
/// conditional writes that record the outcome, and the answer.
pub const RECORD_RESERVE: Duration = Duration::from_secs(3);

/// Epoch milliseconds before this are not a deadline but a duration: local runtimes such as
/// `cargo lambda watch` send the function timeout itself.
const EPOCH_2001_MS: u64 = 1_000_000_000_000;
/// Used when the runtime gives no usable deadline.
pub const FALLBACK_BUDGET: Duration = Duration::from_secs(60);

/// Time left in this invocation, from the runtime's deadline (epoch milliseconds in Lambda).
pub fn time_left(deadline_ms: u64, now_ms: u64) -> Duration {
    if deadline_ms > now_ms {
        Duration::from_millis(deadline_ms - now_ms)
    } else if deadline_ms > 0 && deadline_ms < EPOCH_2001_MS {
        Duration::from_millis(deadline_ms)
    } else {
        FALLBACK_BUDGET
    }
}

/// The invocation's deadline as an instant, from `LambdaEvent::context.deadline`.
pub fn invocation_deadline(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Instant::now() + time_left(deadline_ms, now_ms)
}

/// Run an invocation's `work` so that its answer, and the record of what happened, come before
/// `deadline` (the invocation's): target calls get what is left minus [`RECORD_RESERVE`], and
/// whatever they could not finish is left in a state the sweep completes.
pub async fn within_invocation<F: std::future::Future>(deadline: Instant, work: F) -> F::Output {
    crate::driver::http::within_deadline(target_deadline(deadline).into(), work).await
}

/// Until when target calls may run so the outcome is still recorded before `deadline`.
pub fn target_deadline(deadline: Instant) -> Instant {
    deadline
        .checked_sub(RECORD_RESERVE)
        .filter(|d| *d > Instant::now())
        .unwrap_or_else(Instant::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_from_a_deadline_a_timeout_or_nothing() {
        let now = 1_795_400_000_000;
        assert_eq!(time_left(now + 300_000, now), Duration::from_secs(300));
        assert_eq!(
            time_left(600_000, now),
            Duration::from_secs(600),
            "a relative timeout"
        );
        assert_eq!(
            time_left(now - 5, now),
            FALLBACK_BUDGET,
            "a deadline already past"
        );
        assert_eq!(time_left(0, now), FALLBACK_BUDGET);
    }

    #[test]
    fn target_calls_stop_early_enough_to_record_the_outcome() {
        let deadline = Instant::now() + Duration::from_secs(10);
        let until = target_deadline(deadline);
        assert!(deadline - until >= RECORD_RESERVE);
        let soon = Instant::now() + Duration::from_secs(1);
        assert!(target_deadline(soon) <= Instant::now() + Duration::from_millis(10));
    }
}
