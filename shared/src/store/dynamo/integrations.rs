//! Integrations: one partition, one item per integration.

use async_trait::async_trait;

use super::{DynamoStore, from_item, next_version, s, to_item, with_version};
use crate::model::{AuditEvent, Integration};
use crate::store::keys::{FLOW_PK, INTEGRATION_PK, principals_pk};
use crate::store::{GrantRecords, IntegrationStore, StoreError};

#[async_trait]
impl IntegrationStore for DynamoStore {
    async fn get_integration(&self, name: &str) -> Result<Option<Integration>, StoreError> {
        self.get_item(INTEGRATION_PK.into(), name.into())
            .await?
            .map(|i| from_item(i, "integration"))
            .transpose()
    }

    async fn grant_records(
        &self,
        integration: &str,
        flow: Option<&str>,
        principal: Option<&str>,
    ) -> Result<GrantRecords, StoreError> {
        let mut keys = vec![(INTEGRATION_PK.to_string(), integration.to_string())];
        if let Some(f) = flow {
            keys.push((FLOW_PK.to_string(), f.to_string()));
        }
        if let Some(p) = principal {
            keys.push((principals_pk(integration), p.to_string()));
        }
        let mut records = GrantRecords::default();
        for item in self.batch_get_with(keys, principal.is_some()).await? {
            match item
                .get("pk")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
            {
                Some(INTEGRATION_PK) => records.integration = Some(from_item(item, "integration")?),
                Some(FLOW_PK) => records.flow = Some(from_item(item, "flow")?),
                _ => records.principal = Some(from_item(item, "principal")?),
            }
        }
        Ok(records)
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
