//! The notify function: request and grant changes, read from the table's DynamoDB stream, told
//! to the people they concern over Slack, email and signed webhooks.
//!
//! Delivery is decoupled from the request path: the API writes the request and returns; this
//! function hears about it from the stream. A Slack or SES outage fails this function's batch,
//! which the event source mapping retries (bisecting a failing batch, then sending the record
//! to the on-failure queue), while requests, approvals and revokes carry on untouched.
//!
//! Each (event, channel, recipient) is claimed in the table before it is sent and marked sent
//! after (see [`shared::store::deliveries`]), so a replayed batch tells nobody twice.
#![forbid(unsafe_code)]

pub mod channels;
pub mod events;
pub mod plan;
pub mod render;

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::dynamodb::{Event as StreamEvent, EventRecord};
use serde_json::{Value, json};
use shared::clock::{Clock, SystemClock};
use shared::config::{flag, optional, required};
use shared::store::deliveries::{Claim, DeliveryKey, DeliveryStore};
use shared::store::{DynamoStore, FlowStore, IntegrationStore, StoreConfig};

use crate::channels::{Email, SendError, Slack, Webhooks};
use crate::events::{Event, Kind};
use crate::plan::{Channels, Delivery, Target};

/// What this function reads and writes in the table.
pub trait NotifyStore: DeliveryStore + FlowStore + IntegrationStore {}
impl<T: DeliveryStore + FlowStore + IntegrationStore> NotifyStore for T {}

pub const FUNCTION: &str = "notify";

pub struct NotifyConfig {
    /// The stack's public URL: links point at `<public_url>/portal/#/requests/<id>`.
    pub public_url: String,
    pub ops_slack_channel: Option<String>,
    pub ops_emails: Vec<String>,
    /// Show approve/reject buttons (only when the Slack interactions route is set up).
    pub slack_buttons: bool,
    /// How long a claimed delivery is held before another invocation may take it over.
    pub lease: chrono::Duration,
}

pub struct App {
    pub store: Arc<dyn NotifyStore>,
    pub clock: Arc<dyn Clock>,
    pub slack: Option<Slack>,
    pub email: Option<Email>,
    pub webhooks: Webhooks,
    pub cfg: NotifyConfig,
}

/// One delivery that did not go out.
#[derive(Debug)]
struct Failed {
    transient: bool,
}

impl App {
    /// Environment: TABLE_NAME, PUBLIC_URL; SLACK_SECRET_ARN (`{"bot_token", "signing_secret"}`)
    /// and SLACK_API_URL to use Slack; EMAIL_FROM (a verified SES identity) to send email;
    /// OPS_SLACK_CHANNEL, OPS_EMAILS (comma-separated) for failures; SLACK_BUTTONS;
    /// ALLOW_LOOPBACK_WEBHOOKS (local use only).
    pub async fn from_env() -> Result<Self, lambda_runtime::Error> {
        let table = required("TABLE_NAME")?;
        let aws = shared::config::aws_sdk_config().await;
        let secrets: Arc<dyn shared::secrets::SecretStore> = Arc::new(
            shared::secrets::SecretsManager::new(aws_sdk_secretsmanager::Client::new(&aws)),
        );
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        let slack = match std::env::var("SLACK_SECRET_ARN")
            .ok()
            .filter(|v| !v.is_empty())
        {
            Some(arn) => {
                let token = shared::slack::client::slack_secret(secrets.as_ref(), &arn)
                    .await?
                    .bot_token;
                Some(Slack {
                    client: shared::slack::SlackClient::new(
                        http.clone(),
                        &optional("SLACK_API_URL", shared::slack::client::DEFAULT_API_URL),
                        token,
                    )?,
                })
            }
            None => None,
        };
        let email = std::env::var("EMAIL_FROM")
            .ok()
            .filter(|v| !v.is_empty())
            .map(|from| Email {
                client: aws_sdk_sesv2::Client::new(&aws),
                from,
            });
        Ok(Self {
            store: Arc::new(DynamoStore::with_config(
                aws_sdk_dynamodb::Client::new(&aws),
                StoreConfig::from_env(table)?,
            )),
            clock: Arc::new(SystemClock),
            slack,
            email,
            webhooks: Webhooks {
                secrets,
                allow_loopback: flag("ALLOW_LOOPBACK_WEBHOOKS")?,
                timeout: Duration::from_secs(5),
            },
            cfg: NotifyConfig {
                public_url: required("PUBLIC_URL")?,
                ops_slack_channel: std::env::var("OPS_SLACK_CHANNEL")
                    .ok()
                    .filter(|v| !v.is_empty()),
                ops_emails: optional("OPS_EMAILS", "")
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
                    .collect(),
                slack_buttons: flag("SLACK_BUTTONS")?,
                lease: chrono::Duration::minutes(2),
            },
        })
    }

    /// Handle `event` within the invocation's `deadline`.
    pub async fn handle_within(
        &self,
        event: Value,
        deadline: std::time::Instant,
    ) -> Result<Value, lambda_runtime::Error> {
        // Boxed: the delivery future is deep enough to overflow the compiler's layout query limit.
        shared::services::within_invocation(deadline, Box::pin(self.handle(event))).await
    }

    /// A batch of stream records. Records are handled in order; the first that cannot be
    /// delivered now is reported as the batch's failure (`ReportBatchItemFailures`), so the
    /// event source mapping retries from it and nothing after it is lost or reordered.
    pub async fn handle(&self, event: Value) -> Result<Value, lambda_runtime::Error> {
        let batch: StreamEvent = serde_json::from_value(event)
            .map_err(|_| "notify accepts DynamoDB stream events only")?;
        for record in &batch.records {
            if let Err(()) = self.record(record).await {
                let id = record.change.sequence_number.clone().unwrap_or_default();
                shared::metrics::count("NotificationFailures", FUNCTION, 1);
                return Ok(json!({"batchItemFailures": [{"itemIdentifier": id}]}));
            }
        }
        Ok(json!({"batchItemFailures": []}))
    }

    async fn record(&self, record: &EventRecord) -> Result<(), ()> {
        let events = match events::from_record(record) {
            Ok(e) => e,
            Err(e) => {
                // Retrying cannot make a record readable: skip it, loudly.
                tracing::error!(error = %e, "skipping an unreadable stream record");
                shared::metrics::count("NotificationsDropped", FUNCTION, 1);
                return Ok(());
            }
        };
        let mut ok = true;
        for event in &events {
            ok &= self.event(event).await;
        }
        if ok { Ok(()) } else { Err(()) }
    }

    fn channels(&self) -> Channels {
        Channels {
            slack: self.slack.is_some(),
            email: self.email.is_some(),
            ops_slack_channel: self.cfg.ops_slack_channel.clone(),
            ops_emails: self.cfg.ops_emails.clone(),
        }
    }

    async fn integration_of(
        &self,
        event: &Event,
    ) -> Result<Option<shared::model::Integration>, shared::store::StoreError> {
        if event.integration.is_empty() {
            return Ok(None);
        }
        self.store.get_integration(&event.integration).await
    }

    /// Send `event` to everyone; false when a delivery failed for now (the record is retried).
    async fn event(&self, event: &Event) -> bool {
        let flow = match &event.request {
            Some(r) => match self.store.get_flow(&r.flow).await {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the flow");
                    return false;
                }
            },
            None => None,
        };
        // A bundle's parent names no integration of its own (its items do).
        let integration = match self.integration_of(event).await {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, "reading the integration");
                return false;
            }
        };
        // Approvers are told what the grant allows, not only the permission's name.
        let allows = match (&event.request, &integration) {
            (Some(r), Some(i)) => shared::grant_scope::GrantScope::of(r, i)
                .map(|s| s.in_words().to_vec())
                .unwrap_or_default(),
            _ => vec![],
        };
        let event = &Event {
            allows,
            ..event.clone()
        };
        let deliveries =
            plan::deliveries(event, flow.as_ref(), integration.as_ref(), &self.channels());
        let mut ok = true;
        for d in &deliveries {
            if let Err(f) = self.deliver(event, d).await {
                ok &= !f.transient;
            }
        }
        if matches!(
            event.kind,
            Kind::Approved
                | Kind::Scheduled
                | Kind::Rejected
                | Kind::ApprovalExpired
                | Kind::Cancelled
        ) {
            self.close_buttons(event, flow.as_ref(), integration.as_ref())
                .await;
        }
        ok
    }

    /// Once a request is decided (from Slack, the portal or the API) or expires, the Slack
    /// messages that asked for a decision are updated in place to say so, buttons gone. Best
    /// effort: a click on a stale button is refused harmlessly anyway.
    async fn close_buttons(
        &self,
        event: &Event,
        flow: Option<&shared::model::AccessFlow>,
        integration: Option<&shared::model::Integration>,
    ) {
        let (Some(slack), Some(r)) = (&self.slack, &event.request) else {
            return;
        };
        let outcome = shared::slack::interactions::outcome_message(r, &self.cfg.public_url);
        let text = outcome["text"].as_str().unwrap_or_default();
        // The messages that asked: when the request was made, and when it escalated.
        let asked_by = |kind: Kind| Event {
            id: format!("request:{}:{}", r.id, kind.as_str()),
            kind,
            ..event.clone()
        };
        let escalated = r
            .escalation
            .as_ref()
            .is_some_and(|e| e.escalated_at.is_some());
        let mut asks = vec![asked_by(Kind::Created)];
        if escalated {
            asks.push(asked_by(Kind::Escalated));
        }
        for (asked, d) in asks.iter().flat_map(|asked| {
            plan::deliveries(asked, flow, integration, &self.channels())
                .into_iter()
                .map(move |d| (asked, d))
        }) {
            if d.target.channel() != "slack" {
                continue;
            }
            let key = DeliveryKey {
                event: asked.id.clone(),
                channel: "slack",
                recipient: d.target.recipient(),
            };
            let Ok(Some(detail)) = self.store.sent_detail(&key).await else {
                continue;
            };
            let Some((channel, ts)) = detail.split_once(' ') else {
                continue;
            };
            if let Err(e) = slack
                .client
                .update_message(channel, ts, text, &outcome["blocks"])
                .await
            {
                tracing::warn!(error = %e, "updating a decided request's Slack message");
            }
        }
    }

    async fn deliver(&self, event: &Event, d: &Delivery) -> Result<(), Failed> {
        let key = DeliveryKey {
            event: event.id.clone(),
            channel: d.target.channel(),
            recipient: d.target.recipient(),
        };
        let now = self.clock.now();
        match self.store.claim_delivery(&key, now, self.cfg.lease).await {
            Ok(Claim::Claimed) => {}
            // Sent before (a replayed batch), or being sent by a concurrent invocation, whose
            // batch is retried if it fails: either way not ours to send.
            Ok(Claim::Sent { .. } | Claim::InFlight) => return Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "claiming a delivery");
                return Err(Failed { transient: true });
            }
        }
        let sent = self.send(event, d).await;
        let done = match &sent {
            Ok(detail) => {
                self.store
                    .complete_delivery(&key, self.clock.now(), Some(detail))
                    .await
            }
            Err(SendError::Permanent(reason)) => {
                // Retrying cannot help (no such member, a refused address): recorded as done,
                // counted, and logged without the recipient.
                tracing::warn!(event = %event.id, channel = key.channel, reason = %reason, "notification dropped");
                shared::metrics::count("NotificationsDropped", FUNCTION, 1);
                self.store
                    .complete_delivery(&key, self.clock.now(), Some("dropped"))
                    .await
            }
            Err(SendError::Transient(reason)) => {
                tracing::warn!(event = %event.id, channel = key.channel, reason = %reason, "notification failed; will retry");
                if let Err(e) = self.store.release_delivery(&key).await {
                    tracing::warn!(error = %e, "releasing a delivery (its lease will run out)");
                }
                return Err(Failed { transient: true });
            }
        };
        if let Err(e) = done {
            // Sent but not marked: a retry after the lease may send it again (see the module doc).
            tracing::warn!(error = %e, "marking a delivery sent");
            return Err(Failed { transient: true });
        }
        match sent {
            Ok(_) => {
                shared::metrics::count("NotificationsSent", FUNCTION, 1);
                Ok(())
            }
            Err(_) => Err(Failed { transient: false }),
        }
    }

    async fn send(&self, event: &Event, d: &Delivery) -> Result<String, SendError> {
        let m = render::message(event, &d.role, &self.cfg.public_url);
        let request_id = event.request.as_ref().map(|r| r.id.as_str());
        match &d.target {
            Target::SlackPerson { email } => {
                let slack = self
                    .slack
                    .as_ref()
                    .ok_or_else(|| SendError::Permanent("Slack is not configured".into()))?;
                let blocks = render::slack_blocks(&m, request_id, self.cfg.slack_buttons);
                slack
                    .to_person(email, &shared::slack::escape(&m.text), &blocks)
                    .await
            }
            Target::SlackChannel { channel } => {
                let slack = self
                    .slack
                    .as_ref()
                    .ok_or_else(|| SendError::Permanent("Slack is not configured".into()))?;
                let blocks = render::slack_blocks(&m, request_id, self.cfg.slack_buttons);
                slack
                    .to_channel(channel, &shared::slack::escape(&m.text), &blocks)
                    .await
            }
            Target::Email { address } => {
                let email = self
                    .email
                    .as_ref()
                    .ok_or_else(|| SendError::Permanent("email is not configured".into()))?;
                email.send(address, &m.subject, &m.text).await
            }
            Target::Webhook { url, secret_arn } => {
                let body = render::webhook_body(event, &self.cfg.public_url);
                self.webhooks
                    .send(
                        url,
                        secret_arn,
                        &event.id,
                        &body,
                        self.clock.now().timestamp(),
                    )
                    .await
            }
        }
    }
}
