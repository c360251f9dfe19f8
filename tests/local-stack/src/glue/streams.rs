//! DynamoDB stream consumers: what a Lambda event source mapping does for a function subscribed to
//! a table's stream. The table's latest stream is read from its first record on (`TRIM_HORIZON`),
//! shard by shard; each non-empty batch invokes the function with `{"Records": [...]}`, the
//! records as `GetRecords` returns them plus `eventSourceARN` (the shape Lambda delivers). A
//! failed batch is retried on the next polls, at most [`MAX_ATTEMPTS`] times, then skipped (an
//! event source mapping with a retry limit and no destination does the same).
//!
//! The calls use the DynamoDB Streams JSON protocol directly (`X-Amz-Target:
//! DynamoDBStreams_20120810.*`) because the records must reach the function in that wire format;
//! the local endpoints (moto, LocalStack) do not check request signatures.

use std::collections::HashMap;

use chrono::Utc;
use serde_json::{Value, json};

use super::{Fired, FiredLog, Trigger};
use crate::invoke::Invoker;

pub const MAX_ATTEMPTS: u32 = 3;

/// A function subscribed to a table's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConsumer {
    pub table: String,
    pub function: String,
    pub batch_size: u32,
}

struct Shard {
    iterator: Option<String>,
    attempts: u32,
}

#[derive(Default)]
pub struct Streams {
    /// Per (table, shard id): where reading continues.
    shards: HashMap<(String, String), Shard>,
}

async fn call(
    http: &reqwest::Client,
    endpoint: &str,
    service: &str,
    target: &str,
    body: &Value,
) -> Result<Value, String> {
    let r = http
        .post(endpoint)
        .header("X-Amz-Target", target)
        .header("Content-Type", "application/x-amz-json-1.0")
        .header(
            "Authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=testing/20261123/us-east-1/{service}/aws4_request, \
                 SignedHeaders=host, Signature=0"
            ),
        )
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("{target}: {e}"))?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(format!("{target}: {status} {v}"));
    }
    Ok(v)
}

impl Streams {
    pub async fn tick(
        &mut self,
        http: &reqwest::Client,
        endpoint: &str,
        consumers: &[StreamConsumer],
        invoker: &dyn Invoker,
        log: &FiredLog,
    ) {
        for c in consumers {
            if let Err(e) = self.poll(http, endpoint, c, invoker, log).await {
                tracing::warn!(table = %c.table, error = %e, "polling the table's stream");
            }
        }
    }

    async fn poll(
        &mut self,
        http: &reqwest::Client,
        endpoint: &str,
        c: &StreamConsumer,
        invoker: &dyn Invoker,
        log: &FiredLog,
    ) -> Result<(), String> {
        let table = call(
            http,
            endpoint,
            "dynamodb",
            "DynamoDB_20120810.DescribeTable",
            &json!({"TableName": c.table}),
        )
        .await?;
        let Some(stream_arn) = table["Table"]["LatestStreamArn"].as_str() else {
            return Err("the table has no stream".into());
        };
        let streams = |op: &str| format!("DynamoDBStreams_20120810.{op}");
        let desc = call(
            http,
            endpoint,
            "dynamodb",
            &streams("DescribeStream"),
            &json!({"StreamArn": stream_arn}),
        )
        .await?;
        let shard_ids: Vec<String> = desc["StreamDescription"]["Shards"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["ShardId"].as_str().map(str::to_string))
            .collect();
        for shard_id in shard_ids {
            let key = (c.table.clone(), shard_id.clone());
            if !self.shards.contains_key(&key) {
                let it = call(
                    http,
                    endpoint,
                    "dynamodb",
                    &streams("GetShardIterator"),
                    &json!({"StreamArn": stream_arn, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON"}),
                )
                .await?;
                self.shards.insert(
                    key.clone(),
                    Shard {
                        iterator: it["ShardIterator"].as_str().map(str::to_string),
                        attempts: 0,
                    },
                );
            }
            let Some(shard) = self.shards.get_mut(&key) else {
                continue;
            };
            let Some(iterator) = shard.iterator.clone() else {
                // A closed shard, read to its end.
                continue;
            };
            let got = call(
                http,
                endpoint,
                "dynamodb",
                &streams("GetRecords"),
                &json!({"ShardIterator": iterator, "Limit": c.batch_size}),
            )
            .await?;
            let records: Vec<Value> = got["Records"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|mut r| {
                    r["eventSourceARN"] = json!(stream_arn);
                    r
                })
                .collect();
            let next = got["NextShardIterator"].as_str().map(str::to_string);
            if records.is_empty() {
                shard.iterator = next;
                continue;
            }
            let outcome = invoker
                .invoke(&c.function, &json!({ "Records": records }))
                .await
                .map_err(|e| e.to_string());
            let ok = outcome.is_ok();
            log.push(Fired {
                at: Utc::now(),
                trigger: Trigger::Stream {
                    table: c.table.clone(),
                    records: records.len(),
                },
                function: c.function.clone(),
                outcome,
            });
            shard.attempts += 1;
            if ok || shard.attempts >= MAX_ATTEMPTS {
                if !ok {
                    tracing::warn!(table = %c.table, "a stream batch failed {MAX_ATTEMPTS} times; skipped");
                }
                shard.iterator = next;
                shard.attempts = 0;
            }
        }
        Ok(())
    }
}
