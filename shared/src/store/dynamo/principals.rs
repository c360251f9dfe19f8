//! Target-side principals (an ES user, a Cloud member): one partition per integration; idle
//! ones carry a due time so the cleanup sweep finds them without a scan.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{DynamoStore, Item, from_item, next_version, s, to_item, typed_page, with_version};
use crate::model::{AuditEvent, PRINCIPAL_IDLE, PrincipalState};
use crate::store::keys::{principals_pk, time_key, time_upper_bound};
use crate::store::schema::DUE_INDEX;
use crate::store::{Cursor, Page, PrincipalStore, StoreError};

impl DynamoStore {
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
            .partition(&principals_pk(integration), limit, cursor)
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
