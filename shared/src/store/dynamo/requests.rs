//! Access requests: one item each, indexed by requester and (sparsely) by due time. A
//! request's own audit events travel on its item.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::request_index::{caller_keys, is_open};
use super::{
    Cancelled, DynamoStore, Expect, Item, from_item, n, s, to_item, typed_page, with_version,
};
use crate::model::{AccessRequest, AuditEvent, AuditSubject, Identity, RequestStatus};
use crate::store::keys::{
    REQUEST_SK, approver_pk, idempotency_pk, request_pk, time_key, time_upper_bound,
};
use crate::store::schema::{DUE_INDEX, REQUESTER_INDEX, TABLE};
use crate::store::{ApproverQueue, Created, Cursor, Page, RequestStore, StoreError};

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
        let request_at = writes.len();
        writes.push(self.put(item, Some(&Expect::Absent))?);
        let open_at = is_open(stored.status).then_some(writes.len());
        if open_at.is_some() {
            writes.push(self.open_add(&stored)?);
        }
        if stored.status == RequestStatus::Pending {
            writes.extend(self.approver_puts(&stored)?);
        }
        writes.extend(self.audit_items(&other)?);
        let failed = match self.transact(writes).await {
            Ok(()) => return Ok(Created::New(stored)),
            Err(Cancelled::Other(e)) => return Err(e),
            Err(Cancelled::Conditions(failed)) => failed,
        };
        let failed_at = |i: Option<usize>| i.is_some_and(|i| failed.get(i) == Some(&true));
        if let Some((sub, key)) = idempotency.filter(|_| failed_at(Some(0))) {
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
            return Ok(Created::Existing(existing));
        }
        if failed_at(Some(request_at)) {
            return Err(StoreError::AlreadyExists {
                entity: "request",
                id: request.id.clone(),
            });
        }
        if failed_at(open_at) {
            return Err(StoreError::TooManyOpen {
                limit: self.cfg.max_open_requests,
            });
        }
        Err(StoreError::backend(
            "TransactWriteItems",
            "TransactionCanceledException",
            true,
        ))
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
        // Leaving `pending` or the open states updates the indexes in the same transaction,
        // so an index never names a request that is not there. Repeats are harmless no-ops.
        let mut side = Vec::new();
        if !is_open(stored.status) {
            side.push(self.open_remove(&stored)?);
        }
        if matches!(
            stored.status,
            RequestStatus::Approved | RequestStatus::Rejected | RequestStatus::Expired
        ) {
            side.extend(self.approver_deletes(&stored)?);
        }
        side.extend(self.audit_items(&other)?);
        if side.is_empty() {
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
            writes.extend(side);
            self.commit(writes, "request", &request.id, false).await?;
        }
        Ok(stored)
    }

    async fn pending_for_approver(
        &self,
        who: &Identity,
        limit: i32,
    ) -> Result<ApproverQueue, StoreError> {
        let limit = limit.clamp(1, 1000);
        let mut found: Vec<(String, String)> = Vec::new();
        let mut truncated = false;
        for key in caller_keys(who) {
            let (items, next) = self
                .query_page(
                    None,
                    "pk",
                    &approver_pk(&key),
                    "sk",
                    None,
                    false,
                    limit,
                    None,
                )
                .await?;
            truncated |= next.is_some();
            for item in items {
                let sk = item.get("sk").and_then(|v| v.as_s().ok()).cloned();
                let id = item.get("request_id").and_then(|v| v.as_s().ok()).cloned();
                if let (Some(sk), Some(id)) = (sk, id) {
                    found.push((sk, id));
                }
            }
        }
        // Newest first across the caller's keys, each request once.
        found.sort_by(|a, b| b.cmp(a));
        found.dedup_by(|a, b| a.1 == b.1);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        truncated |= found.len() > limit;
        found.truncate(limit);
        let order: Vec<String> = found.into_iter().map(|(_, id)| id).collect();
        let keys = order
            .iter()
            .map(|id| (request_pk(id), REQUEST_SK.to_string()))
            .collect();
        let mut items: Vec<AccessRequest> = self
            .batch_get(keys)
            .await?
            .into_iter()
            .map(|i| from_item(i, "request"))
            .collect::<Result<_, _>>()?;
        items.retain(|r| r.status == RequestStatus::Pending);
        items.sort_by_key(|r| order.iter().position(|id| id == &r.id));
        Ok(ApproverQueue { items, truncated })
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
