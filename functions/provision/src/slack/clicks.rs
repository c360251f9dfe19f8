//! Slack clicks through a queue: `POST /slack/interactions` verifies a click and sends it to the
//! `SlackClickQueue` (SQS), answering Slack within its three seconds; this function, subscribed
//! to that queue, decides the click and updates the message through its `response_url`.
//! Failures the next delivery may fix (Slack or the table unreachable) are reported as batch
//! item failures, so SQS hands the click out again; on delivery [`TELL_ON_ATTEMPT`] the member is
//! told what happened whatever it is. The queue's `maxReceiveCount` is higher, so deliveries
//! lost to a timeout or a throttled invocation still leave room for that; a click that fails
//! even then (the function crashing) goes to the dead-letter queue, whose alarm the template
//! declares.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use shared::slack::interactions::{self, ClickQueue, QueueError, QueuedClick, Settled};

use super::AsPerson;
use crate::App;

/// The delivery of a click on which its outcome is reported whatever it is (below the
/// template's `maxReceiveCount` for the queue, which a contract test checks).
pub const TELL_ON_ATTEMPT: u32 = 3;

/// What the route may spend queueing a click: Slack gives the whole answer three seconds, and
/// a cold start and the first TLS connection come out of them too.
const ENQUEUE_BUDGET: Duration = Duration::from_millis(1200);

/// Kept back from the invocation's deadline: a click still deciding then is reported as a
/// failure (delivered again) rather than lost with the whole batch to a timeout.
const ANSWER_RESERVE: Duration = Duration::from_secs(2);

/// The click queue in SQS.
pub struct SqsClickQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsClickQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: String) -> Self {
        Self { client, url }
    }
}

#[async_trait]
impl ClickQueue for SqsClickQueue {
    async fn enqueue(&self, click: &QueuedClick) -> Result<(), QueueError> {
        let body = serde_json::to_string(click).map_err(|e| QueueError(e.to_string()))?;
        let send = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send();
        match tokio::time::timeout(ENQUEUE_BUDGET, send).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(QueueError(
                aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
            )),
            Err(_) => Err(QueueError(format!(
                "SQS did not answer within {} ms",
                ENQUEUE_BUDGET.as_millis()
            ))),
        }
    }
}

/// Whether a direct invocation is an SQS event source's batch.
pub fn is_sqs_batch(event: &serde_json::Value) -> bool {
    event["Records"]
        .as_array()
        .and_then(|r| r.first())
        .is_some_and(|r| r["eventSource"] == "aws:sqs")
}

/// Decide a batch of queued clicks before `deadline` (the invocation's); the ones to deliver
/// again.
pub async fn consume(app: &App, batch: SqsEvent, deadline: Instant) -> SqsBatchResponse {
    let until = deadline
        .checked_sub(ANSWER_RESERVE)
        .unwrap_or(deadline)
        .into();
    let settled = futures::future::join_all(batch.records.iter().map(|m| async move {
        tokio::time::timeout_at(until, settle_one(app, m))
            .await
            .unwrap_or_else(|_| {
                tracing::warn!(message = ?m.message_id, "a Slack click ran out of time; it will come back");
                true
            })
    }))
    .await;
    let mut answer = SqsBatchResponse::default();
    answer.set_failures(
        batch
            .records
            .iter()
            .zip(settled)
            .filter(|(_, retry)| *retry)
            .map(|(m, _)| m.message_id.clone().unwrap_or_default()),
    );
    answer
}

/// Whether `message` should be delivered again.
async fn settle_one(app: &App, message: &SqsMessage) -> bool {
    let Some(slack) = &app.slack else {
        // Clicks queued while Slack was configured, read by a function that cannot reach
        // Slack (its secret unreadable): let them fail into the dead-letter queue, whose alarm
        // tells the operator.
        tracing::error!("a Slack click arrived but Slack is not configured here");
        return true;
    };
    let queued: QueuedClick = match message
        .body
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
    {
        Ok(Some(q)) => q,
        _ => {
            tracing::warn!(message = ?message.message_id, "dropped a queue message that is not a click");
            return false;
        }
    };
    let attempt = message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(1);
    let settled = interactions::settle(
        &slack.cfg,
        &slack.client,
        &AsPerson(app),
        &queued,
        app.services.clock.now().timestamp(),
        attempt >= TELL_ON_ATTEMPT,
    )
    .await;
    settled == Settled::Retry
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_an_sqs_batch_is_taken_for_clicks() {
        assert!(is_sqs_batch(
            &json!({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]})
        ));
        assert!(!is_sqs_batch(
            &json!({"Records": [{"eventSource": "aws:dynamodb"}]})
        ));
        assert!(!is_sqs_batch(&json!({"Records": []})));
        assert!(!is_sqs_batch(&json!({"request_id": "r1"})));
    }

    #[test]
    fn the_sample_batch_is_a_queued_click() {
        let batch: serde_json::Value = serde_json::from_str(include_str!(
            "../../../../events/provision/slack-click-batch.json"
        ))
        .unwrap();
        assert!(is_sqs_batch(&batch));
        let event: SqsEvent = serde_json::from_value(batch).unwrap();
        let queued: QueuedClick =
            serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
        assert!(queued.click.contains("\"kind\":\"approve\""));
    }
}
