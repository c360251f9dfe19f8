//! Access flows: one partition, one item per flow.

use async_trait::async_trait;

use super::{DynamoStore, from_item, next_version, s, to_item, with_version};
use crate::model::{AccessFlow, AuditEvent};
use crate::store::keys::FLOW_PK;
use crate::store::{FlowStore, StoreError};

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
