//! The AWS glue moto does not run (moto stores schedules and rotation requests but never acts on
//! them):
//!
//! - [`one_time`]: EventBridge Scheduler one-time schedules (`at(...)`) in the stack's group fire
//!   their target function with their input at their time, then are deleted when their
//!   `ActionAfterCompletion` is `DELETE`;
//! - [`rules`]: the template's `rate(...)`/`cron(...)` schedule triggers fire their function with
//!   an EventBridge "Scheduled Event", on a clock that can run faster for demos;
//! - [`rotation`]: a rotation requested on a secret whose rotation Lambda is the stack's rotate
//!   function (an `AWSPENDING` version appears) delivers `createSecret`, `setSecret`,
//!   `testSecret` and `finishSecret` to it, then clears `AWSPENDING` as Secrets Manager does;
//! - [`streams`]: a function subscribed to a table's DynamoDB stream (the template's `DynamoDB`
//!   events: notify) gets its records in batches, as a Lambda event source mapping delivers them;
//! - [`queues`]: a function subscribed to an SQS queue (the template's `SQS` events: provision,
//!   on the Slack click queue) gets its messages in batches as Lambda's SQS event source mapping
//!   delivers them; the messages it does not report in `batchItemFailures` are deleted, the others
//!   come back after the queue's visibility timeout (and SQS moves them to the dead-letter queue
//!   after `maxReceiveCount` receives).
//!
//! Everything fired is recorded ([`Fired`]) and broadcast, so the demo can show it and tests can
//! wait for it. Deliveries are at least once, as on AWS: the functions are idempotent.

pub mod one_time;
pub mod queues;
pub mod rotation;
pub mod rules;
pub mod streams;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::invoke::Invoker;
use crate::template::ScheduleRule;

/// What triggered an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A one-time Scheduler schedule, by name.
    OneTime { schedule: String },
    /// A template schedule rule, by its event name.
    Rule { name: String },
    /// One step of a secret's rotation.
    Rotation {
        secret: String,
        token: String,
        step: String,
    },
    /// A batch of a table's stream records.
    Stream { table: String, records: usize },
    /// A batch of an SQS queue's messages, by the queue's name.
    Queue { queue: String, messages: usize },
}

#[derive(Debug, Clone)]
pub struct Fired {
    pub at: DateTime<Utc>,
    pub trigger: Trigger,
    pub function: String,
    /// The function's result, or why the invocation failed.
    pub outcome: Result<Value, String>,
}

impl std::fmt::Display for Fired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match &self.trigger {
            Trigger::OneTime { schedule } => format!("one-time schedule {schedule}"),
            Trigger::Rule { name } => format!("schedule rule {name}"),
            Trigger::Rotation { secret, step, .. } => format!("rotation of {secret}: {step}"),
            Trigger::Stream { table, records } => {
                format!("{records} stream record(s) of table {table}")
            }
            Trigger::Queue { queue, messages } => {
                format!("{messages} message(s) of queue {queue}")
            }
        };
        let outcome = match &self.outcome {
            Ok(v) => format!("ok {v}"),
            Err(e) => format!("FAILED {e}"),
        };
        write!(
            f,
            "{} {what} -> {}: {outcome}",
            self.at.format("%H:%M:%S"),
            self.function
        )
    }
}

#[derive(Debug, Clone)]
pub struct GlueConfig {
    /// How often moto is polled.
    pub poll: Duration,
    /// The Scheduler group whose one-time schedules fire (None: none do).
    pub schedule_group: Option<String>,
    /// Target ARN → function name (`cargo lambda watch` serves functions by name).
    pub targets: HashMap<String, String>,
    /// The template's schedule rules.
    pub rules: Vec<ScheduleRule>,
    /// How much faster than real time the rules' clock runs (1 = real time).
    pub speedup: f64,
    /// The rotation Lambda ARN that stands for the rotate function (None: rotation not watched).
    pub rotation_lambda_arn: Option<String>,
    pub rotation_function: String,
    /// Functions subscribed to DynamoDB streams, and the endpoint that serves the streams.
    pub streams: Vec<streams::StreamConsumer>,
    pub aws_endpoint: Option<String>,
    /// Functions subscribed to SQS queues.
    pub queues: Vec<queues::QueueConsumer>,
}

impl Default for GlueConfig {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(500),
            schedule_group: None,
            targets: HashMap::new(),
            rules: Vec::new(),
            speedup: 1.0,
            rotation_lambda_arn: None,
            rotation_function: "rotate".into(),
            streams: Vec::new(),
            aws_endpoint: None,
            queues: Vec::new(),
        }
    }
}

/// Shared record of what fired, with a broadcast for live watchers.
#[derive(Clone)]
pub struct FiredLog {
    all: Arc<Mutex<Vec<Fired>>>,
    tx: tokio::sync::broadcast::Sender<Fired>,
}

impl FiredLog {
    fn new() -> Self {
        Self {
            all: Arc::new(Mutex::new(Vec::new())),
            tx: tokio::sync::broadcast::channel(256).0,
        }
    }

    pub(crate) fn push(&self, f: Fired) {
        match &f.outcome {
            Ok(_) => tracing::info!(fired = %f, "glue"),
            Err(_) => tracing::warn!(fired = %f, "glue"),
        }
        // Nobody listening is fine.
        let _ = self.tx.send(f.clone());
        self.all
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(f);
    }

    pub fn snapshot(&self) -> Vec<Fired> {
        self.all
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Fired> {
        self.tx.subscribe()
    }

    /// Wait (bounded) until something matching `pred` has fired; the first such record.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(&Fired) -> bool,
    ) -> Option<Fired> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(f) = self.snapshot().into_iter().find(|f| pred(f)) {
                return Some(f);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The glue running in the background until dropped.
pub struct RunningGlue {
    pub log: FiredLog,
    task: tokio::task::JoinHandle<()>,
}

impl RunningGlue {
    pub fn start(aws: &SdkConfig, invoker: Arc<dyn Invoker>, cfg: GlueConfig) -> Self {
        let log = FiredLog::new();
        let scheduler = aws_sdk_scheduler::Client::new(aws);
        let secrets = aws_sdk_secretsmanager::Client::new(aws);
        let sqs = aws_sdk_sqs::Client::new(aws);
        let task_log = log.clone();
        let task = tokio::spawn(async move {
            let mut clock = rules::RuleClock::new(&cfg.rules, cfg.speedup);
            let mut one_time = one_time::OneTime::default();
            let mut rotations = rotation::Rotations::default();
            let mut streams = streams::Streams::default();
            let mut queues = queues::Queues::default();
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default();
            loop {
                if let Some(group) = &cfg.schedule_group {
                    one_time
                        .tick(&scheduler, group, &cfg.targets, invoker.as_ref(), &task_log)
                        .await;
                }
                clock.tick(invoker.as_ref(), &task_log).await;
                if let Some(arn) = &cfg.rotation_lambda_arn {
                    rotations
                        .tick(
                            &secrets,
                            arn,
                            &cfg.rotation_function,
                            invoker.as_ref(),
                            &task_log,
                        )
                        .await;
                }
                if let Some(endpoint) = cfg.aws_endpoint.as_deref()
                    && !cfg.streams.is_empty()
                {
                    streams
                        .tick(&http, endpoint, &cfg.streams, invoker.as_ref(), &task_log)
                        .await;
                }
                if !cfg.queues.is_empty() {
                    queues
                        .tick(&sqs, &cfg.queues, invoker.as_ref(), &task_log)
                        .await;
                }
                tokio::time::sleep(cfg.poll).await;
            }
        });
        Self { log, task }
    }
}

impl Drop for RunningGlue {
    fn drop(&mut self) {
        self.task.abort();
    }
}
