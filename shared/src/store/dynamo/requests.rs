//! Access requests: one item each, indexed by requester and (sparsely) by due time. A
//! request's own audit events travel on its item.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::{DynamoStore, Expect, Item, from_item, n, s, to_item, typed_page, with_version};
use crate::model::{AccessRequest, AuditEvent, AuditSubject};
use crate::store::keys::{REQUEST_SK, idempotency_pk, request_pk, time_key, time_upper_bound};
use crate::store::schema::{DUE_INDEX, REQUESTER_INDEX, TABLE};
use crate::store::{Created, Cursor, Page, RequestStore, StoreError};

impl DynamoStore {
    pub(super) fn request_item(&self, r: &AccessRequest) -> Result<Item, StoreError> {
        let mut item = to_item(r, "request", &r.id)?;
        item.insert("pk".into(), s(request_pk(&r.id)));
        item.insert("sk".into(), s(REQUEST_SK));
        item.insert("entity".into(), s("request"));
        item.insert(REQUESTER_INDEX.hash_key.into(), s(&r.requester.sub));
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
}

/// A request's own events travel on its item; anything else is written beside it.
fn split_audit(request_id: &str, audit: &[AuditEvent]) -> (Vec<AuditEvent>, Vec<AuditEvent>) {
    audit
        .iter()
        .cloned()
        .partition(|e| e.subject == AuditSubject::Request(request_id.to_string()))
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
