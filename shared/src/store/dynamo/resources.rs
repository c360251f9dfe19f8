//! Discovered resources: one partition per integration, written and read in batches.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};

use super::{DynamoStore, from_item, s, to_item, typed_page};
use crate::model::Resource;
use crate::store::keys::resources_pk;
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

    async fn resources_with_prefix(
        &self,
        integration: &str,
        prefix: &str,
    ) -> Result<Vec<Resource>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.cfg.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(resources_pk(integration)))
                .expression_attribute_values(":prefix", s(prefix))
                .set_exclusive_start_key(start)
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
}
