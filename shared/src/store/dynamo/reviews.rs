//! The review index: one item per break-glass grant that no owner has reviewed yet, in its
//! integration's partition, written in the transaction that creates the request and deleted in
//! the one that records its review, so an integration's grants waiting for review are one
//! query away however many requests the table holds, and a caller reads only the partitions of
//! the integrations they may review.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

use super::{DynamoStore, Expect, Item, s, with_version};
use crate::model::{AccessRequest, AuditEvent};
use crate::store::keys::{review_pk, time_key};
use crate::store::{ReviewQueue, ReviewStore, StoreError};

impl DynamoStore {
    pub(super) fn review_put(&self, r: &AccessRequest) -> Result<TransactWriteItem, StoreError> {
        let item: Item = [
            ("pk", s(review_pk(&r.integration))),
            ("sk", s(time_key(r.created_at, &r.id))),
            ("entity", s("review_index")),
            ("request_id", s(&r.id)),
            ("integration", s(&r.integration)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let put = Put::builder()
            .table_name(&self.cfg.table)
            .set_item(Some(item))
            .build()
            .map_err(|e| StoreError::backend("TransactWriteItems", e.to_string(), false))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn review_delete(&self, r: &AccessRequest) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.cfg.table)
            .key("pk", s(review_pk(&r.integration)))
            .key("sk", s(time_key(r.created_at, &r.id)))
            .build()
            .map_err(|e| StoreError::backend("TransactWriteItems", e.to_string(), false))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

#[async_trait]
impl ReviewStore for DynamoStore {
    async fn record_review(
        &self,
        request: &AccessRequest,
        expected_version: u64,
        audit: &[AuditEvent],
    ) -> Result<AccessRequest, StoreError> {
        let (own, other) = super::requests::split_audit(&request.id, audit);
        let stored = with_version(request, |r| {
            r.version = expected_version + 1;
            r.history.extend(own.iter().cloned());
        });
        let mut writes = vec![self.put(
            self.request_item(&stored)?,
            Some(&Expect::Version(expected_version)),
        )?];
        writes.push(self.review_delete(&stored)?);
        writes.extend(self.audit_items(&other)?);
        writes.extend(self.audit_log_items(&own, Some(&request.integration))?);
        self.commit(writes, "request", &request.id, false).await?;
        Ok(stored)
    }

    async fn pending_reviews(
        &self,
        integrations: &[String],
        limit: i32,
    ) -> Result<ReviewQueue, StoreError> {
        let limit = limit.clamp(1, 1000);
        let mut found: Vec<(String, String)> = Vec::new();
        let mut truncated = false;
        for integration in integrations {
            let (items, next) = self
                .query_page(
                    None,
                    "pk",
                    &review_pk(integration),
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
        // Newest first across the integrations.
        found.sort_by(|a, b| b.cmp(a));
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        truncated |= found.len() > limit;
        found.truncate(limit);
        let order: Vec<String> = found.into_iter().map(|(_, id)| id).collect();
        let mut items = self.requests_in_order(&order).await?;
        items.retain(AccessRequest::review_pending);
        Ok(ReviewQueue { items, truncated })
    }
}
