//! The DynamoDB implementation of the store traits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, KeysAndAttributes, Put, PutRequest, TransactWriteItem,
    WriteRequest,
};
use backon::BackoffBuilder;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::keys::{
    FLOW_PK, INTEGRATION_PK, REQUEST_SK, audit_pk, idempotency_pk, principals_pk, request_pk,
    resources_pk, time_key, time_upper_bound,
};
use super::schema::{DUE_INDEX, REQUESTER_INDEX, TABLE};
use super::{
    AuditStore, Created, Cursor, FlowStore, IntegrationStore, Page, PrincipalStore, RequestStore,
    ResourceStore, StoreError,
};
use crate::model::{
    AccessFlow, AccessRequest, AuditEvent, AuditSubject, Integration, PRINCIPAL_IDLE,
    PrincipalState, Resource,
};

type Item = HashMap<String, AttributeValue>;

static AUDIT_SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// How long finished records are kept before DynamoDB's TTL may remove them.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub table: String,
    pub request_retention: Duration,
    pub audit_retention: Duration,
    pub idempotency_window: Duration,
}

impl StoreConfig {
    pub fn new(table: impl Into<String>) -> Self {
        Self {
            table: table.into(),
            request_retention: Duration::days(90),
            audit_retention: Duration::days(400),
            idempotency_window: Duration::hours(24),
        }
    }
}

pub struct DynamoStore {
    client: Client,
    cfg: StoreConfig,
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

    fn audit_items(&self, events: &[AuditEvent]) -> Result<Vec<TransactWriteItem>, StoreError> {
        events
            .iter()
            .map(|e| {
                let mut item = to_item(e, "audit", &e.id)?;
                item.insert("pk".into(), s(audit_pk(&e.subject.key())));
                // Events of one invocation often share a millisecond: a process-wide sequence
                // keeps them in the order they happened.
                let seq = AUDIT_SEQUENCE.fetch_add(1, Ordering::Relaxed);
                item.insert(
                    "sk".into(),
                    s(time_key(e.at, &format!("{seq:012}#{}", e.id))),
                );
                item.insert("entity".into(), s("audit"));
                item.insert(
                    TABLE.ttl_attribute.into(),
                    n((e.at + self.cfg.audit_retention).timestamp()),
                );
                self.put(item, Some(&Expect::Absent))
            })
            .collect()
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
        let out = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(err) => {
                let first_failed = err
                    .as_service_error()
                    .and_then(|e| match e {
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => {
                            c.cancellation_reasons().first().map(|r| r.code() == Some("ConditionalCheckFailed"))
                        }
                        _ => None,
                    })
                    .unwrap_or(false);
                if first_failed {
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
                } else {
                    Err(StoreError::from_sdk("TransactWriteItems", &err))
                }
            }
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
            let (items, next) = self
                .query_page(
                    None,
                    "pk",
                    hash_value,
                    "sk",
                    None,
                    true,
                    1000,
                    cursor.as_ref(),
                )
                .await?;
            all.extend(items);
            match next {
                Some(c) => cursor = Some(c),
                None => return Ok(all),
            }
        }
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

    fn request_item(&self, r: &AccessRequest) -> Result<Item, StoreError> {
        let mut item = to_item(r, "request", &r.id)?;
        item.insert("pk".into(), s(request_pk(&r.id)));
        item.insert("sk".into(), s(REQUEST_SK));
        item.insert("entity".into(), s("request"));
        item.insert(REQUESTER_INDEX.hash_key.into(), s(r.requester.person_key()));
        item.insert(
            REQUESTER_INDEX.range_key.into(),
            s(time_key(r.created_at, &r.id)),
        );
        if let Some(due) = r.due_at() {
            item.insert(DUE_INDEX.hash_key.into(), s(r.status.as_str()));
            item.insert(DUE_INDEX.range_key.into(), s(time_key(due, &r.id)));
        }
        if r.status.is_terminal() {
            let ended = r.ended_at.unwrap_or(r.updated_at);
            item.insert(
                TABLE.ttl_attribute.into(),
                self.expires_at(ended, self.cfg.request_retention),
            );
        }
        Ok(item)
    }

    fn principal_item(&self, p: &PrincipalState) -> Result<Item, StoreError> {
        let id = format!("{}/{}", p.integration, p.name);
        let mut item = to_item(p, "principal", &id)?;
        item.insert("pk".into(), s(principals_pk(&p.integration)));
        item.insert("sk".into(), s(&p.name));
        item.insert("entity".into(), s("principal"));
        if let Some((status, at)) = p.due() {
            item.insert(DUE_INDEX.hash_key.into(), s(status));
            item.insert(DUE_INDEX.range_key.into(), s(time_key(at, &id)));
        }
        Ok(item)
    }
}

/// A request's own events travel on its item; anything else is written beside it.
fn split_audit(request_id: &str, audit: &[AuditEvent]) -> (Vec<AuditEvent>, Vec<AuditEvent>) {
    audit
        .iter()
        .cloned()
        .partition(|e| e.subject == AuditSubject::Request(request_id.to_string()))
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

#[async_trait]
impl IntegrationStore for DynamoStore {
    async fn get_integration(&self, name: &str) -> Result<Option<Integration>, StoreError> {
        self.get_item(INTEGRATION_PK.into(), name.into())
            .await?
            .map(|i| from_item(i, "integration"))
            .transpose()
    }

    async fn list_integrations(&self) -> Result<Vec<Integration>, StoreError> {
        self.query_all(INTEGRATION_PK)
            .await?
            .into_iter()
            .map(|i| from_item(i, "integration"))
            .collect()
    }

    async fn save_integration(
        &self,
        integration: &Integration,
        expected_version: Option<u64>,
        audit: &[AuditEvent],
    ) -> Result<Integration, StoreError> {
        let stored = with_version(integration, |i| i.version = next_version(expected_version));
        let mut item = to_item(&stored, "integration", &stored.name)?;
        item.insert("pk".into(), s(INTEGRATION_PK));
        item.insert("sk".into(), s(&stored.name));
        item.insert("entity".into(), s("integration"));
        self.save(item, expected_version, audit, "integration", &stored.name)
            .await?;
        Ok(stored)
    }

    async fn delete_integration(
        &self,
        name: &str,
        expected_version: u64,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let mut writes = vec![self.delete(INTEGRATION_PK.into(), name.into(), expected_version)?];
        writes.extend(self.audit_items(audit)?);
        self.commit(writes, "integration", name, false).await
    }
}

#[async_trait]
impl FlowStore for DynamoStore {
    async fn get_flow(&self, name: &str) -> Result<Option<AccessFlow>, StoreError> {
        self.get_item(FLOW_PK.into(), name.into())
            .await?
            .map(|i| from_item(i, "flow"))
            .transpose()
    }

    async fn list_flows(&self) -> Result<Vec<AccessFlow>, StoreError> {
        self.query_all(FLOW_PK)
            .await?
            .into_iter()
            .map(|i| from_item(i, "flow"))
            .collect()
    }

    async fn save_flow(
        &self,
        flow: &AccessFlow,
        expected_version: Option<u64>,
        audit: &[AuditEvent],
    ) -> Result<AccessFlow, StoreError> {
        let stored = with_version(flow, |f| f.version = next_version(expected_version));
        let mut item = to_item(&stored, "flow", &stored.name)?;
        item.insert("pk".into(), s(FLOW_PK));
        item.insert("sk".into(), s(&stored.name));
        item.insert("entity".into(), s("flow"));
        self.save(item, expected_version, audit, "flow", &stored.name)
            .await?;
        Ok(stored)
    }

    async fn delete_flow(
        &self,
        name: &str,
        expected_version: u64,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let mut writes = vec![self.delete(FLOW_PK.into(), name.into(), expected_version)?];
        writes.extend(self.audit_items(audit)?);
        self.commit(writes, "flow", name, false).await
    }
}

#[async_trait]
impl ResourceStore for DynamoStore {
    async fn put_resources(&self, resources: &[Resource]) -> Result<(), StoreError> {
        let writes = resources
            .iter()
            .map(|r| {
                let mut item = to_item(r, "resource", &r.name)?;
                item.insert("pk".into(), s(resources_pk(&r.integration)));
                item.insert("sk".into(), s(&r.name));
                item.insert("entity".into(), s("resource"));
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| StoreError::backend("BatchWriteItem", e.to_string(), false))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.batch_write(writes).await
    }

    async fn list_resources(
        &self,
        integration: &str,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Resource>, StoreError> {
        let (items, next) = self
            .query_page(
                None,
                "pk",
                &resources_pk(integration),
                "sk",
                None,
                true,
                limit,
                cursor,
            )
            .await?;
        typed_page(items, next, "resource")
    }

    async fn all_resources(&self, integration: &str) -> Result<Vec<Resource>, StoreError> {
        self.query_all(&resources_pk(integration))
            .await?
            .into_iter()
            .map(|i| from_item(i, "resource"))
            .collect()
    }

    async fn get_resources(
        &self,
        integration: &str,
        names: &[String],
    ) -> Result<Vec<Resource>, StoreError> {
        let mut unique: Vec<&String> = names.iter().collect();
        unique.sort();
        unique.dedup();
        let mut found = Vec::new();
        for chunk in unique.chunks(100) {
            let mut keys = KeysAndAttributes::builder().consistent_read(true);
            for name in chunk {
                keys = keys.keys(HashMap::from([
                    ("pk".to_string(), s(resources_pk(integration))),
                    ("sk".to_string(), s(name.as_str())),
                ]));
            }
            let mut request = keys
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
                    for item in items {
                        found.push(from_item::<Resource>(item, "resource")?);
                    }
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
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    async fn delete_resources(
        &self,
        integration: &str,
        names: &[String],
    ) -> Result<(), StoreError> {
        let writes = names
            .iter()
            .map(|name| {
                let del = DeleteRequest::builder()
                    .key("pk", s(resources_pk(integration)))
                    .key("sk", s(name.as_str()))
                    .build()
                    .map_err(|e| StoreError::backend("BatchWriteItem", e.to_string(), false))?;
                Ok(WriteRequest::builder().delete_request(del).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.batch_write(writes).await
    }
}

#[async_trait]
impl RequestStore for DynamoStore {
    async fn get_request(&self, id: &str) -> Result<Option<AccessRequest>, StoreError> {
        self.get_item(request_pk(id), REQUEST_SK.into())
            .await?
            .map(|i| from_item(i, "request"))
            .transpose()
    }

    async fn create_request(
        &self,
        request: &AccessRequest,
        idempotency: Option<(&str, &str)>,
        audit: &[AuditEvent],
    ) -> Result<Created, StoreError> {
        let (own, other) = split_audit(&request.id, audit);
        let stored = with_version(request, |r| {
            r.version = 1;
            r.history.extend(own);
        });
        let item = self.request_item(&stored)?;
        if idempotency.is_none() && other.is_empty() {
            self.put_single(item, Expect::Absent, "request", &request.id, true)
                .await?;
            return Ok(Created::New(stored));
        }
        let mut writes = Vec::new();
        if let Some((sub, key)) = idempotency {
            let now = request.created_at;
            let item = HashMap::from([
                ("pk".to_string(), s(idempotency_pk(sub))),
                ("sk".to_string(), s(key)),
                ("entity".to_string(), s("idempotency")),
                ("request_id".to_string(), s(&request.id)),
                (
                    TABLE.ttl_attribute.to_string(),
                    self.expires_at(now, self.cfg.idempotency_window),
                ),
            ]);
            // A key whose window has passed may be used again even before TTL removes it.
            let put = Put::builder()
                .table_name(&self.cfg.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk) OR #e < :now")
                .expression_attribute_names("#e", TABLE.ttl_attribute)
                .expression_attribute_values(":now", n(now.timestamp()))
                .build()
                .map_err(|e| StoreError::backend("TransactWriteItems", e.to_string(), false))?;
            writes.push(TransactWriteItem::builder().put(put).build());
        }
        writes.push(self.put(item, Some(&Expect::Absent))?);
        writes.extend(self.audit_items(&other)?);
        match self.commit(writes, "request", &request.id, true).await {
            Ok(()) => Ok(Created::New(stored)),
            Err(StoreError::AlreadyExists { .. }) if idempotency.is_some() => {
                let (sub, key) = idempotency.unwrap_or_default();
                let item = self
                    .get_item(idempotency_pk(sub), key.to_string())
                    .await?
                    .ok_or_else(|| StoreError::Conflict {
                        entity: "idempotency key",
                        id: key.to_string(),
                    })?;
                let id = item
                    .get("request_id")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                let existing = self.get_request(&id).await?.ok_or(StoreError::NotFound {
                    entity: "request",
                    id,
                })?;
                Ok(Created::Existing(existing))
            }
            Err(e) => Err(e),
        }
    }

    async fn update_request(
        &self,
        request: &AccessRequest,
        expected_version: u64,
        audit: &[AuditEvent],
    ) -> Result<AccessRequest, StoreError> {
        let (own, other) = split_audit(&request.id, audit);
        let stored = with_version(request, |r| {
            r.version = expected_version + 1;
            r.history.extend(own);
        });
        let item = self.request_item(&stored)?;
        if other.is_empty() {
            self.put_single(
                item,
                Expect::Version(expected_version),
                "request",
                &request.id,
                false,
            )
            .await?;
        } else {
            let mut writes = vec![self.put(item, Some(&Expect::Version(expected_version)))?];
            writes.extend(self.audit_items(&other)?);
            self.commit(writes, "request", &request.id, false).await?;
        }
        Ok(stored)
    }

    async fn requests_of(
        &self,
        requester_sub: &str,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<AccessRequest>, StoreError> {
        let (items, next) = self
            .query_page(
                Some(REQUESTER_INDEX.name),
                REQUESTER_INDEX.hash_key,
                requester_sub,
                REQUESTER_INDEX.range_key,
                None,
                false,
                limit,
                cursor,
            )
            .await?;
        typed_page(items, next, "request")
    }

    async fn due_requests(
        &self,
        status: &str,
        now: Option<DateTime<Utc>>,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<AccessRequest>, StoreError> {
        let (items, next) = self
            .query_page(
                Some(DUE_INDEX.name),
                DUE_INDEX.hash_key,
                status,
                DUE_INDEX.range_key,
                now.map(time_upper_bound),
                true,
                limit,
                cursor,
            )
            .await?;
        typed_page(items, next, "request")
    }
}

#[async_trait]
impl PrincipalStore for DynamoStore {
    async fn get_principal(
        &self,
        integration: &str,
        name: &str,
    ) -> Result<Option<PrincipalState>, StoreError> {
        self.get_item(principals_pk(integration), name.into())
            .await?
            .map(|i| from_item(i, "principal"))
            .transpose()
    }

    async fn save_principal(
        &self,
        principal: &PrincipalState,
        expected_version: Option<u64>,
        audit: &[AuditEvent],
    ) -> Result<PrincipalState, StoreError> {
        let stored = with_version(principal, |p| p.version = next_version(expected_version));
        let item = self.principal_item(&stored)?;
        let id = format!("{}/{}", stored.integration, stored.name);
        self.save(item, expected_version, audit, "principal", &id)
            .await?;
        Ok(stored)
    }

    async fn delete_principal(
        &self,
        integration: &str,
        name: &str,
        expected_version: u64,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let mut writes =
            vec![self.delete(principals_pk(integration), name.into(), expected_version)?];
        writes.extend(self.audit_items(audit)?);
        self.commit(writes, "principal", &format!("{integration}/{name}"), false)
            .await
    }

    async fn principals_of(
        &self,
        integration: &str,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<PrincipalState>, StoreError> {
        let (items, next) = self
            .query_page(
                None,
                "pk",
                &principals_pk(integration),
                "sk",
                None,
                true,
                limit,
                cursor,
            )
            .await?;
        typed_page(items, next, "principal")
    }

    async fn due_principals(
        &self,
        now: DateTime<Utc>,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<PrincipalState>, StoreError> {
        let (items, next) = self
            .query_page(
                Some(DUE_INDEX.name),
                DUE_INDEX.hash_key,
                PRINCIPAL_IDLE,
                DUE_INDEX.range_key,
                Some(time_upper_bound(now)),
                true,
                limit,
                cursor,
            )
            .await?;
        typed_page(items, next, "principal")
    }
}

#[async_trait]
impl AuditStore for DynamoStore {
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        // Transactions hold at most 100 writes; each chunk is all-or-nothing.
        let items = self.audit_items(events)?;
        for chunk in items.chunks(100) {
            self.commit(chunk.to_vec(), "audit event", "batch", true)
                .await?;
        }
        Ok(())
    }

    async fn audit_of(
        &self,
        subject: &AuditSubject,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<AuditEvent>, StoreError> {
        if let (AuditSubject::Request(id), None) = (subject, cursor) {
            let mut events = self
                .get_request(id)
                .await?
                .map(|r| r.history)
                .unwrap_or_default();
            let (items, _) = self
                .query_page(
                    None,
                    "pk",
                    &audit_pk(&subject.key()),
                    "sk",
                    None,
                    true,
                    1000,
                    None,
                )
                .await?;
            for i in items {
                events.push(from_item(i, "audit event")?);
            }
            events.sort_by_key(|e| e.at);
            return Ok(Page {
                items: events,
                next: None,
            });
        }
        let (items, next) = self
            .query_page(
                None,
                "pk",
                &audit_pk(&subject.key()),
                "sk",
                None,
                true,
                limit,
                cursor,
            )
            .await?;
        typed_page(items, next, "audit event")
    }
}
