//! The DynamoDB implementation of the store traits: the table plumbing every record kind
//! shares (conditional writes, transactions, paged queries, batches) lives here; each record
//! kind's trait implementation lives in its own module.

mod audit;
mod bundles;
mod deliveries;
mod flows;
mod group_proofs;
mod integrations;
mod principals;
mod request_index;
mod requests;
mod resources;
mod reviews;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, TransactWriteItem, WriteRequest,
};
use backon::BackoffBuilder;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Cursor, Page, StoreError};
use crate::model::AuditEvent;

type Item = HashMap<String, AttributeValue>;

pub use request_index::{MAX_APPROVER_KEYS, is_open};

pub const DEFAULT_MAX_OPEN_REQUESTS: u32 = 20;

/// How long finished records are kept before DynamoDB's TTL may remove them.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub table: String,
    pub request_retention: Duration,
    pub audit_retention: Duration,
    pub idempotency_window: Duration,
    /// How many requests one requester may have pending, scheduled, approved or active at once.
    pub max_open_requests: u32,
}

impl StoreConfig {
    /// `MAX_OPEN_REQUESTS` (default 20, at least 1) beside the defaults of [`Self::new`].
    pub fn from_env(table: impl Into<String>) -> Result<Self, crate::config::ConfigError> {
        let max = crate::config::number("MAX_OPEN_REQUESTS", DEFAULT_MAX_OPEN_REQUESTS)?;
        if max == 0 {
            return Err(crate::config::ConfigError::Invalid {
                name: "MAX_OPEN_REQUESTS",
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self {
            max_open_requests: max,
            ..Self::new(table)
        })
    }

    pub fn new(table: impl Into<String>) -> Self {
        Self {
            table: table.into(),
            request_retention: Duration::days(90),
            audit_retention: Duration::days(400),
            idempotency_window: Duration::hours(24),
            max_open_requests: DEFAULT_MAX_OPEN_REQUESTS,
        }
    }
}

pub struct DynamoStore {
    client: Client,
    cfg: StoreConfig,
}

/// Why a transaction did not apply.
enum Cancelled {
    /// Per write, in order: whether its condition failed.
    Conditions(Vec<bool>),
    Other(StoreError),
}

/// What must hold for a write to apply.
enum Expect {
    Absent,
    Version(u64),
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self::with_config(client, StoreConfig::new(table))
    }

    pub fn with_config(client: Client, cfg: StoreConfig) -> Self {
        Self { client, cfg }
    }

    pub fn table(&self) -> &str {
        &self.cfg.table
    }

    fn put(&self, item: Item, expect: Option<&Expect>) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder()
            .table_name(&self.cfg.table)
            .set_item(Some(item));
        put = match expect {
            Some(Expect::Absent) => put.condition_expression("attribute_not_exists(pk)"),
            Some(Expect::Version(v)) => put
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
            None => put,
        };
        let put = put
            .build()
            .map_err(|e| StoreError::backend("TransactWriteItems", e.to_string(), false))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn delete(
        &self,
        pk: String,
        sk: String,
        version: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.cfg.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
            .build()
            .map_err(|e| StoreError::backend("TransactWriteItems", e.to_string(), false))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Commit writes atomically. The first write is the record the caller cares about: if its
    /// condition fails the result is a conflict (or "already exists" for a create).
    async fn commit(
        &self,
        writes: Vec<TransactWriteItem>,
        entity: &'static str,
        id: &str,
        creating: bool,
    ) -> Result<(), StoreError> {
        match self.transact(writes).await {
            Ok(()) => Ok(()),
            Err(Cancelled::Conditions(failed)) if failed.first() == Some(&true) => {
                Err(if creating {
                    StoreError::AlreadyExists {
                        entity,
                        id: id.to_string(),
                    }
                } else {
                    StoreError::Conflict {
                        entity,
                        id: id.to_string(),
                    }
                })
            }
            Err(Cancelled::Conditions(_)) => Err(StoreError::backend(
                "TransactWriteItems",
                "TransactionCanceledException",
                true,
            )),
            Err(Cancelled::Other(e)) => Err(e),
        }
    }

    /// One transaction; when it is cancelled, which writes' conditions failed (by position).
    async fn transact(&self, writes: Vec<TransactWriteItem>) -> Result<(), Cancelled> {
        self.transact_with(writes, false).await
    }

    /// [`Self::transact`], where `contention_fails` counts a write another transaction was
    /// changing at that moment (`TransactionConflict`) like a failed condition: for writes whose
    /// callers retry a conflict (two approvals taking one account's lease at once).
    async fn transact_with(
        &self,
        writes: Vec<TransactWriteItem>,
        contention_fails: bool,
    ) -> Result<(), Cancelled> {
        let out = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        let Err(err) = out else { return Ok(()) };
        let failed = err.as_service_error().and_then(|e| match e {
            TransactWriteItemsError::TransactionCanceledException(c) => Some(
                c.cancellation_reasons()
                    .iter()
                    .map(|r| {
                        r.code() == Some("ConditionalCheckFailed")
                            || (contention_fails && r.code() == Some("TransactionConflict"))
                    })
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        });
        match failed {
            Some(f) if f.iter().any(|x| *x) => Err(Cancelled::Conditions(f)),
            _ => Err(Cancelled::Other(StoreError::from_sdk(
                "TransactWriteItems",
                &err,
            ))),
        }
    }

    async fn save(
        &self,
        item: Item,
        expected_version: Option<u64>,
        audit: &[AuditEvent],
        entity: &'static str,
        id: &str,
    ) -> Result<(), StoreError> {
        let expect = match expected_version {
            None => Expect::Absent,
            Some(v) => Expect::Version(v),
        };
        // A single-item save is one conditional PutItem: a one-item transaction does the same
        // and DynamoDB bills it twice.
        if audit.is_empty() {
            return self
                .put_single(item, expect, entity, id, expected_version.is_none())
                .await;
        }
        let mut writes = vec![self.put(item, Some(&expect))?];
        writes.extend(self.audit_items(audit)?);
        self.commit(writes, entity, id, expected_version.is_none())
            .await
    }

    /// One conditional PutItem: cheaper than a transaction when nothing else must commit with it.
    async fn put_single(
        &self,
        item: Item,
        expect: Expect,
        entity: &'static str,
        id: &str,
        creating: bool,
    ) -> Result<(), StoreError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.cfg.table)
            .set_item(Some(item));
        put = match expect {
            Expect::Absent => put.condition_expression("attribute_not_exists(pk)"),
            Expect::Version(v) => put
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(if creating {
                    StoreError::AlreadyExists {
                        entity,
                        id: id.to_string(),
                    }
                } else {
                    StoreError::Conflict {
                        entity,
                        id: id.to_string(),
                    }
                })
            }
            Err(e) => Err(StoreError::from_sdk("PutItem", &e)),
        }
    }

    async fn get_item(&self, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.cfg.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("GetItem", &e))?;
        Ok(out.item)
    }

    /// One page of a table partition, in sort-key order.
    async fn partition(
        &self,
        pk: &str,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<(Vec<Item>, Option<Cursor>), StoreError> {
        self.query_page(None, "pk", pk, "sk", None, true, limit, cursor)
            .await
    }

    /// One page of a query on the table or an index.
    #[allow(clippy::too_many_arguments)]
    async fn query_page(
        &self,
        index: Option<&str>,
        hash_attr: &str,
        hash_value: &str,
        range_attr: &str,
        range_upper: Option<String>,
        forward: bool,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<(Vec<Item>, Option<Cursor>), StoreError> {
        let mut req = self
            .client
            .query()
            .table_name(&self.cfg.table)
            .set_index_name(index.map(str::to_string))
            .expression_attribute_names("#h", hash_attr)
            .expression_attribute_values(":h", s(hash_value))
            .scan_index_forward(forward)
            .limit(limit.clamp(1, 1000));
        req = match range_upper {
            Some(upper) => req
                .key_condition_expression("#h = :h AND #r <= :r")
                .expression_attribute_names("#r", range_attr)
                .expression_attribute_values(":r", s(upper)),
            None => req.key_condition_expression("#h = :h"),
        };
        if let Some(c) = cursor {
            req = req.set_exclusive_start_key(Some(c.to_key(hash_attr, hash_value)?));
        }
        let out = req.send().await.map_err(|e| {
            if e.as_service_error().map(|s| s.meta().code()) == Some(Some("ValidationException"))
                && cursor.is_some()
            {
                StoreError::InvalidCursor
            } else {
                StoreError::from_sdk("Query", &e)
            }
        })?;
        let next = out
            .last_evaluated_key()
            .filter(|k| !k.is_empty())
            .and_then(Cursor::from_key);
        Ok((out.items.unwrap_or_default(), next))
    }

    async fn query_all(&self, hash_value: &str) -> Result<Vec<Item>, StoreError> {
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let (items, next) = self.partition(hash_value, 1000, cursor.as_ref()).await?;
            all.extend(items);
            match next {
                Some(c) => cursor = Some(c),
                None => return Ok(all),
            }
        }
    }

    /// Read items by key (duplicates read once), in any order; missing ones are skipped.
    async fn batch_get(&self, keys: Vec<(String, String)>) -> Result<Vec<Item>, StoreError> {
        self.batch_get_with(keys, true).await
    }

    /// [`Self::batch_get`], strongly consistent or not (half the read cost where a read a
    /// moment old is safe).
    async fn batch_get_with(
        &self,
        mut keys: Vec<(String, String)>,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        keys.sort();
        keys.dedup();
        let mut found = Vec::new();
        for chunk in keys.chunks(100) {
            let mut wanted = KeysAndAttributes::builder().consistent_read(consistent);
            for (pk, sk) in chunk {
                wanted = wanted.keys(HashMap::from([
                    ("pk".to_string(), s(pk.as_str())),
                    ("sk".to_string(), s(sk.as_str())),
                ]));
            }
            let mut request = wanted
                .build()
                .map_err(|e| StoreError::backend("BatchGetItem", e.to_string(), false))?;
            let mut delays = backon::ExponentialBuilder::default()
                .with_jitter()
                .with_max_times(8)
                .build();
            loop {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.cfg.table, request)
                    .send()
                    .await
                    .map_err(|e| StoreError::from_sdk("BatchGetItem", &e))?;
                if let Some(items) = out.responses.and_then(|mut r| r.remove(&self.cfg.table)) {
                    found.extend(items);
                }
                match out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.cfg.table))
                {
                    Some(rest) if !rest.keys().is_empty() => match delays.next() {
                        Some(d) => {
                            tokio::time::sleep(d).await;
                            request = rest;
                        }
                        None => {
                            return Err(StoreError::backend(
                                "BatchGetItem",
                                "keys stayed unprocessed after retries",
                                true,
                            ));
                        }
                    },
                    _ => break,
                }
            }
        }
        Ok(found)
    }

    async fn batch_write(&self, mut pending: Vec<WriteRequest>) -> Result<(), StoreError> {
        while !pending.is_empty() {
            let rest = pending.split_off(pending.len().min(25));
            let mut chunk = std::mem::replace(&mut pending, rest);
            let mut delays = backon::ExponentialBuilder::default()
                .with_jitter()
                .with_max_times(8)
                .build();
            loop {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.cfg.table, chunk)
                    .send()
                    .await
                    .map_err(|e| StoreError::from_sdk("BatchWriteItem", &e))?;
                let unprocessed = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.cfg.table))
                    .unwrap_or_default();
                if unprocessed.is_empty() {
                    break;
                }
                match delays.next() {
                    Some(d) => tokio::time::sleep(d).await,
                    None => {
                        return Err(StoreError::backend(
                            "BatchWriteItem",
                            "items stayed unprocessed after retries",
                            true,
                        ));
                    }
                }
                chunk = unprocessed;
            }
        }
        Ok(())
    }

    fn expires_at(&self, at: DateTime<Utc>, keep: Duration) -> AttributeValue {
        n((at + keep).timestamp())
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn to_item<T: Serialize>(record: &T, entity: &'static str, id: &str) -> Result<Item, StoreError> {
    serde_dynamo::to_item(record).map_err(|e| StoreError::Corrupt {
        entity,
        id: id.to_string(),
        reason: e.to_string(),
    })
}

fn from_item<T: DeserializeOwned>(item: Item, entity: &'static str) -> Result<T, StoreError> {
    let id = ["pk", "sk"]
        .iter()
        .filter_map(|k| item.get(*k).and_then(|v| v.as_s().ok()).cloned())
        .collect::<Vec<_>>()
        .join("/");
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
        entity,
        id,
        reason: e.to_string(),
    })
}

fn typed_page<T: DeserializeOwned>(
    items: Vec<Item>,
    next: Option<Cursor>,
    entity: &'static str,
) -> Result<Page<T>, StoreError> {
    Ok(Page {
        items: items
            .into_iter()
            .map(|i| from_item(i, entity))
            .collect::<Result<_, _>>()?,
        next,
    })
}

fn with_version<T: Clone>(record: &T, set: impl FnOnce(&mut T)) -> T {
    let mut copy = record.clone();
    set(&mut copy);
    copy
}

fn next_version(expected: Option<u64>) -> u64 {
    expected.map_or(1, |v| v + 1)
}
