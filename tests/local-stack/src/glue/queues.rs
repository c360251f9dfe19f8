//! SQS queue consumers: what a Lambda event source mapping does for a function subscribed to a
//! queue (the template's `Type: SQS` events). Each poll receives up to the subscription's batch
//! size of visible messages (`ReceiveMessage`, no long polling, every system and message
//! attribute), invokes the function with the Lambda SQS event ([`lambda_event`]), then deletes
//! the messages that succeeded ([`succeeded`]):
//!
//! - the invocation failed (the function returned an error, or did not answer): none; the whole
//!   batch comes back once its visibility timeout ends;
//! - with `ReportBatchItemFailures`, every message but those the answer names in
//!   `batchItemFailures`; an answer Lambda cannot read (an item without `itemIdentifier`, an
//!   empty one, a message id not in the batch, a `batchItemFailures` that is not a list) fails the
//!   whole batch, as on AWS;
//! - without it, the whole batch.
//!
//! Messages left in the queue become visible again after its visibility timeout and are
//! delivered again; SQS itself (moto too, on the receive after the last allowed one) moves a
//! message received `maxReceiveCount` times to the queue's dead-letter queue. Nothing here
//! counts attempts.
//!
//! [`create_queues`] creates the template's queues (dead-letter queues first) for the stack.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::{Fired, FiredLog, Trigger};
use crate::invoke::Invoker;
use crate::template::SqsQueue;

/// A function subscribed to a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConsumer {
    pub queue_url: String,
    pub function: String,
    /// At most this many messages per invocation (one `ReceiveMessage`, so at most 10).
    pub batch_size: u32,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`.
    pub report_failures: bool,
}

/// The queue's name: the last segment of its URL.
pub fn queue_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

#[derive(Default)]
pub struct Queues {
    /// Queue URL → its ARN (the records' `eventSourceARN`).
    arns: HashMap<String, String>,
}

fn sdk_error(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> String {
    format!("{what}: {}", aws_sdk_sqs::error::DisplayErrorContext(e))
}

/// The queue's ARN (`GetQueueAttributes QueueArn`).
pub async fn queue_arn(sqs: &Client, url: &str) -> Result<String, String> {
    let got = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sdk_error("GetQueueAttributes", e))?;
    got.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| format!("the queue {url} has no QueueArn"))
}

/// The Lambda SQS event for `messages` of the queue `queue_arn`: `{"Records": [...]}`, each
/// record as Lambda's SQS event source mapping delivers it (`messageId`, `receiptHandle`, `body`,
/// the system `attributes`, the `messageAttributes` with lower-case keys, `md5OfBody`, and
/// `md5OfMessageAttributes` when there are any, `eventSource`, `eventSourceARN`, `awsRegion`).
pub fn lambda_event(queue_arn: &str, messages: &[Message]) -> Value {
    // arn:aws:sqs:<region>:<account>:<name>
    let region = queue_arn.split(':').nth(3).unwrap_or("us-east-1");
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: Map<String, Value> = m
                .attributes()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str().to_string(), json!(v)))
                .collect();
            let message_attributes: Map<String, Value> = m
                .message_attributes()
                .into_iter()
                .flatten()
                .map(|(k, v)| {
                    let mut a = json!({
                        "stringListValues": v.string_list_values(),
                        "binaryListValues": v
                            .binary_list_values()
                            .iter()
                            .map(|b| STANDARD.encode(b.as_ref()))
                            .collect::<Vec<_>>(),
                        "dataType": v.data_type(),
                    });
                    if let Some(s) = v.string_value() {
                        a["stringValue"] = json!(s);
                    }
                    if let Some(b) = v.binary_value() {
                        a["binaryValue"] = json!(STANDARD.encode(b.as_ref()));
                    }
                    (k.clone(), a)
                })
                .collect();
            let mut r = json!({
                "messageId": m.message_id().unwrap_or_default(),
                "receiptHandle": m.receipt_handle().unwrap_or_default(),
                "body": m.body().unwrap_or_default(),
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": m.md5_of_body().unwrap_or_default(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            });
            if let Some(md5) = m.md5_of_message_attributes() {
                r["md5OfMessageAttributes"] = json!(md5);
            }
            r
        })
        .collect();
    json!({ "Records": records })
}

/// The message ids of a batch (`ids`, in the batch's order) that succeeded, given the
/// invocation's `outcome`, as Lambda's SQS event source mapping decides it; `Err` says why the
/// whole batch failed (then nothing is deleted).
///
/// With `report_failures`, an answer that is `null`, has no `batchItemFailures` or a `null` or
/// empty one means every message succeeded; every `batchItemFailures` item must be
/// `{"itemIdentifier": "<a message id of the batch>"}`. An answer that is not an object (Lambda
/// cannot read it as a batch response) fails the batch.
pub fn succeeded(
    ids: &[String],
    outcome: &Result<Value, String>,
    report_failures: bool,
) -> Result<Vec<String>, String> {
    let answer = outcome
        .as_ref()
        .map_err(|e| format!("the invocation failed: {e}"))?;
    if !report_failures {
        return Ok(ids.to_vec());
    }
    let failures = match answer {
        Value::Null => return Ok(ids.to_vec()),
        Value::Object(o) => o.get("batchItemFailures").unwrap_or(&Value::Null),
        other => return Err(format!("not a batch response: {other}")),
    };
    let failures = match failures {
        Value::Null => return Ok(ids.to_vec()),
        Value::Array(a) => a,
        other => return Err(format!("batchItemFailures is not a list: {other}")),
    };
    let mut failed = Vec::with_capacity(failures.len());
    for item in failures {
        match item.get("itemIdentifier").and_then(Value::as_str) {
            Some(id) if !id.is_empty() && ids.iter().any(|m| m == id) => failed.push(id),
            _ => {
                return Err(format!(
                    "batchItemFailures names no message of the batch: {item}"
                ));
            }
        }
    }
    Ok(ids
        .iter()
        .filter(|id| !failed.contains(&id.as_str()))
        .cloned()
        .collect())
}

impl Queues {
    pub async fn tick(
        &mut self,
        sqs: &Client,
        consumers: &[QueueConsumer],
        invoker: &dyn Invoker,
        log: &FiredLog,
    ) {
        for c in consumers {
            if let Err(e) = self.poll(sqs, c, invoker, log).await {
                tracing::warn!(queue = %c.queue_url, error = %e, "polling the queue");
            }
        }
    }

    async fn poll(
        &mut self,
        sqs: &Client,
        c: &QueueConsumer,
        invoker: &dyn Invoker,
        log: &FiredLog,
    ) -> Result<(), String> {
        let arn = match self.arns.get(&c.queue_url) {
            Some(a) => a.clone(),
            None => {
                let a = queue_arn(sqs, &c.queue_url).await?;
                self.arns.insert(c.queue_url.clone(), a.clone());
                a
            }
        };
        let got = sqs
            .receive_message()
            .queue_url(&c.queue_url)
            .max_number_of_messages(i32::try_from(c.batch_size.clamp(1, 10)).unwrap_or(10))
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| sdk_error("ReceiveMessage", e))?;
        let messages = got.messages();
        if messages.is_empty() {
            return Ok(());
        }
        let event = lambda_event(&arn, messages);
        let mut outcome = invoker
            .invoke(&c.function, &event)
            .await
            .map_err(|e| e.to_string());
        let ids: Vec<String> = messages
            .iter()
            .map(|m| m.message_id().unwrap_or_default().to_string())
            .collect();
        let done = succeeded(&ids, &outcome, c.report_failures);
        if let (Ok(_), Err(why)) = (&outcome, &done) {
            // The function ran, but its answer fails the batch: shown as a failure.
            outcome = Err(why.clone());
        }
        log.push(Fired {
            at: Utc::now(),
            trigger: Trigger::Queue {
                queue: queue_name(&c.queue_url).to_string(),
                messages: messages.len(),
            },
            function: c.function.clone(),
            outcome,
        });
        let Ok(done) = done else {
            return Ok(());
        };
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| done.iter().any(|d| Some(d.as_str()) == m.message_id()))
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
                    .ok()
            })
            .collect();
        if entries.is_empty() {
            return Ok(());
        }
        let deleted = sqs
            .delete_message_batch()
            .queue_url(&c.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| sdk_error("DeleteMessageBatch", e))?;
        if !deleted.failed().is_empty() {
            return Err(format!(
                "DeleteMessageBatch: {} not deleted: {:?}",
                deleted.failed().len(),
                deleted.failed()
            ));
        }
        Ok(())
    }
}

/// A queue created for the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedQueue {
    pub name: String,
    pub url: String,
    pub arn: String,
}

/// Create the template's queues (`declared`, by logical id) as it declares them, each named
/// `name(<logical id>)`: `VisibilityTimeout` (at most `max_visibility` seconds, when given),
/// `MessageRetentionPeriod` and `RedrivePolicy`, a dead-letter queue before the queues that use
/// it. The created queues by logical id.
pub async fn create_queues(
    sqs: &Client,
    declared: &BTreeMap<String, SqsQueue>,
    name: impl Fn(&str) -> String,
    max_visibility: Option<u32>,
) -> Result<BTreeMap<String, CreatedQueue>, String> {
    let mut created: BTreeMap<String, CreatedQueue> = BTreeMap::new();
    while created.len() < declared.len() {
        // Those whose dead-letter queue (if any) exists already.
        let ready: Vec<(&String, &SqsQueue)> = declared
            .iter()
            .filter(|(logical, _)| !created.contains_key(*logical))
            .filter(|(_, q)| {
                q.redrive
                    .as_ref()
                    .is_none_or(|r| created.contains_key(&r.dead_letter))
            })
            .collect();
        if ready.is_empty() {
            return Err(format!(
                "the queues' dead-letter queues form a cycle or are missing: {:?}",
                declared
                    .keys()
                    .filter(|k| !created.contains_key(*k))
                    .collect::<Vec<_>>()
            ));
        }
        for (logical, q) in ready {
            let queue_name = name(logical);
            let mut req = sqs.create_queue().queue_name(&queue_name);
            let visibility = match (q.visibility_timeout, max_visibility) {
                (Some(v), Some(max)) => Some(v.min(max)),
                (None, Some(max)) => Some(max.min(30)),
                (v, None) => v,
            };
            if let Some(v) = visibility {
                req = req.attributes(QueueAttributeName::VisibilityTimeout, v.to_string());
            }
            if let Some(r) = q.message_retention {
                req = req.attributes(QueueAttributeName::MessageRetentionPeriod, r.to_string());
            }
            if let Some(r) = &q.redrive {
                let dlq = &created[&r.dead_letter];
                req = req.attributes(
                    QueueAttributeName::RedrivePolicy,
                    json!({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": r.max_receive_count})
                        .to_string(),
                );
            }
            let out = req
                .send()
                .await
                .map_err(|e| sdk_error(&format!("CreateQueue {queue_name}"), e))?;
            let url = out
                .queue_url()
                .ok_or_else(|| format!("CreateQueue {queue_name} returned no URL"))?
                .to_string();
            let arn = queue_arn(sqs, &url).await?;
            created.insert(
                logical.clone(),
                CreatedQueue {
                    name: queue_name,
                    url,
                    arn,
                },
            );
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::primitives::Blob;
    use aws_sdk_sqs::types::MessageAttributeValue;

    const ARN: &str = "arn:aws:sqs:eu-west-1:123456789012:clicks";

    fn message(id: &str, body: &str) -> Message {
        Message::builder()
            .message_id(id)
            .receipt_handle(format!("handle-{id}"))
            .body(body)
            .md5_of_body("0cc175b9c0f1b6a831c399e269772661")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "1")
            .attributes(MessageSystemAttributeName::SentTimestamp, "1545082649183")
            .attributes(
                MessageSystemAttributeName::SenderId,
                "AIDAIENQZJOLO23YVJ4VO",
            )
            .attributes(
                MessageSystemAttributeName::ApproximateFirstReceiveTimestamp,
                "1545082649185",
            )
            .build()
    }

    #[test]
    fn the_event_is_lambdas_sqs_event() {
        let event = lambda_event(ARN, &[message("m-1", "a"), message("m-2", "{\"x\":1}")]);
        assert_eq!(
            event,
            json!({"Records": [
                {
                    "messageId": "m-1",
                    "receiptHandle": "handle-m-1",
                    "body": "a",
                    "attributes": {
                        "ApproximateReceiveCount": "1",
                        "SentTimestamp": "1545082649183",
                        "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                        "ApproximateFirstReceiveTimestamp": "1545082649185"
                    },
                    "messageAttributes": {},
                    "md5OfBody": "0cc175b9c0f1b6a831c399e269772661",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": ARN,
                    "awsRegion": "eu-west-1"
                },
                {
                    "messageId": "m-2",
                    "receiptHandle": "handle-m-2",
                    "body": "{\"x\":1}",
                    "attributes": {
                        "ApproximateReceiveCount": "1",
                        "SentTimestamp": "1545082649183",
                        "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                        "ApproximateFirstReceiveTimestamp": "1545082649185"
                    },
                    "messageAttributes": {},
                    "md5OfBody": "0cc175b9c0f1b6a831c399e269772661",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": ARN,
                    "awsRegion": "eu-west-1"
                }
            ]})
        );
    }

    #[test]
    fn message_attributes_take_lambdas_lower_case_shape() {
        let m = Message::builder()
            .message_id("m-1")
            .receipt_handle("h")
            .body("b")
            .md5_of_body("x")
            .md5_of_message_attributes("y")
            .message_attributes(
                "kind",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("click")
                    .build()
                    .unwrap(),
            )
            .message_attributes(
                "raw",
                MessageAttributeValue::builder()
                    .data_type("Binary")
                    .binary_value(Blob::new(b"hi".to_vec()))
                    .build()
                    .unwrap(),
            )
            .build();
        let r = &lambda_event(ARN, &[m])["Records"][0];
        assert_eq!(
            r["messageAttributes"],
            json!({
                "kind": {"stringValue": "click", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
                "raw": {"binaryValue": "aGk=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"}
            })
        );
        assert_eq!(r["md5OfMessageAttributes"], "y");
    }

    fn ids() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    #[test]
    fn the_messages_named_in_batch_item_failures_stay_the_others_are_deleted() {
        let answer = Ok(json!({"batchItemFailures": [{"itemIdentifier": "b"}]}));
        assert_eq!(succeeded(&ids(), &answer, true).unwrap(), ["a", "c"]);
        let two =
            Ok(json!({"batchItemFailures": [{"itemIdentifier": "c"}, {"itemIdentifier": "a"}]}));
        assert_eq!(succeeded(&ids(), &two, true).unwrap(), ["b"]);
        let all = Ok(json!({"batchItemFailures": [
            {"itemIdentifier": "a"}, {"itemIdentifier": "b"}, {"itemIdentifier": "c"}
        ]}));
        assert!(succeeded(&ids(), &all, true).unwrap().is_empty());
    }

    #[test]
    fn an_empty_or_absent_failure_list_means_every_message_succeeded() {
        for answer in [
            json!({"batchItemFailures": []}),
            json!({"batchItemFailures": null}),
            json!({}),
            Value::Null,
        ] {
            assert_eq!(
                succeeded(&ids(), &Ok(answer.clone()), true).unwrap(),
                ids(),
                "{answer}"
            );
        }
    }

    #[test]
    fn a_failed_invocation_or_an_unreadable_answer_keeps_the_whole_batch() {
        let failed = Err("provision failed (200): {\"errorType\":\"Boom\"}".to_string());
        assert!(succeeded(&ids(), &failed, true).is_err());
        assert!(succeeded(&ids(), &failed, false).is_err());
        for answer in [
            json!({"batchItemFailures": [{"itemIdentifier": ""}]}),
            json!({"batchItemFailures": [{"itemIdentifier": null}]}),
            json!({"batchItemFailures": [{"itemIdentifer": "a"}]}),
            json!({"batchItemFailures": [{"itemIdentifier": "not-in-the-batch"}]}),
            json!({"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "zzz"}]}),
            json!({"batchItemFailures": "a"}),
            json!("ok"),
        ] {
            assert!(
                succeeded(&ids(), &Ok(answer.clone()), true).is_err(),
                "{answer}"
            );
        }
    }

    #[test]
    fn without_report_batch_item_failures_a_successful_invocation_consumes_the_batch() {
        let answer = Ok(json!({"batchItemFailures": [{"itemIdentifier": "b"}]}));
        assert_eq!(succeeded(&ids(), &answer, false).unwrap(), ids());
    }

    #[test]
    fn a_queue_is_named_by_its_urls_last_segment() {
        assert_eq!(
            queue_name("http://127.0.0.1:5000/123456789012/elastic-jit-demo-1-SlackClickQueue"),
            "elastic-jit-demo-1-SlackClickQueue"
        );
    }
}
