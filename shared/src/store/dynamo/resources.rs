//! Discovered resources: one partition per integration, written and read in batches.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use chrono::{DateTime, Utc};

use super::{DynamoStore, from_item, s, to_item, typed_page};
use crate::model::Resource;
use crate::store::keys::{SNAPSHOT_SK, resources_pk, snapshot_pk};
use crate::store::{Cursor, Page, ResourceStore, StoreError};

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
            .partition(&resources_pk(integration), limit, cursor)
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

    async fn snapshot_resources(&self, integration: &str) -> Result<Vec<Resource>, StoreError> {
        self.resource_query(integration, None, true).await
    }

    async fn forget_snapshot(&self, integration: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.cfg.table)
            .key("pk", s(snapshot_pk(integration)))
            .key("sk", s(SNAPSHOT_SK))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("DeleteItem", &e))?;
        Ok(())
    }

    async fn resources_with_prefix(
        &self,
        integration: &str,
        prefix: &str,
    ) -> Result<Vec<Resource>, StoreError> {
        self.resource_query(integration, Some(prefix), false).await
    }

    async fn get_resources(
        &self,
        integration: &str,
        names: &[String],
    ) -> Result<Vec<Resource>, StoreError> {
        let keys = names
            .iter()
            .map(|name| (resources_pk(integration), name.clone()))
            .collect();
        let mut found = self
            .batch_get(keys)
            .await?
            .into_iter()
            .map(|i| from_item::<Resource>(i, "resource"))
            .collect::<Result<Vec<_>, _>>()?;
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

    async fn snapshot_hash(
        &self,
        integration: &str,
        generation: &str,
        now: DateTime<Utc>,
        max_age: chrono::Duration,
    ) -> Result<Option<String>, StoreError> {
        let Some(item) = self
            .get_item(snapshot_pk(integration), SNAPSHOT_SK.into())
            .await?
        else {
            return Ok(None);
        };
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        let recorded = text("recorded_at")
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc));
        let fresh = recorded.is_some_and(|t| t <= now && now - t <= max_age);
        Ok(text("hash").filter(|_| fresh && text("generation").as_deref() == Some(generation)))
    }

    async fn begin_snapshot(
        &self,
        integration: &str,
        generation: &str,
        writer: &str,
    ) -> Result<(), StoreError> {
        self.snapshot_put(integration, generation, writer)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("PutItem", &e))?;
        Ok(())
    }

    async fn finish_snapshot(
        &self,
        integration: &str,
        generation: &str,
        writer: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // A PutItem conditional on the writer (the discover function may not UpdateItem).
        let out = self
            .snapshot_put(integration, generation, writer)
            .item("hash", s(hash))
            .item("recorded_at", s(now.to_rfc3339()))
            .condition_expression("writer = :w")
            .expression_attribute_values(":w", s(writer))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(StoreError::from_sdk("PutItem", &e)),
        }
    }
}

impl DynamoStore {
    /// The snapshot-hash item naming `writer` (what both announcing and recording write).
    fn snapshot_put(
        &self,
        integration: &str,
        generation: &str,
        writer: &str,
    ) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        self.client
            .put_item()
            .table_name(&self.cfg.table)
            .item("pk", s(snapshot_pk(integration)))
            .item("sk", s(SNAPSHOT_SK))
            .item("entity", s("snapshot_hash"))
            .item("generation", s(generation))
            .item("writer", s(writer))
    }

    /// Every resource of `integration` (whose name starts with `prefix`, if given), all pages.
    async fn resource_query(
        &self,
        integration: &str,
        prefix: Option<&str>,
        consistent: bool,
    ) -> Result<Vec<Resource>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.cfg.table)
                .expression_attribute_values(":pk", s(resources_pk(integration)))
                .consistent_read(consistent)
                .set_exclusive_start_key(start);
            query = match prefix {
                Some(p) => query
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", s(p)),
                None => query.key_condition_expression("pk = :pk"),
            };
            let out = query
                .send()
                .await
                .map_err(|e| StoreError::from_sdk("Query", &e))?;
            for item in out.items.unwrap_or_default() {
                found.push(from_item(item, "resource")?);
            }
            match out.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(k) => start = Some(k),
                None => return Ok(found),
            }
        }
    }
}
