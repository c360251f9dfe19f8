//! Target-side principals (an ES user, a Cloud member): one partition per integration; idle
//! ones carry a due time so the cleanup sweep finds them without a scan.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};

use super::{
    DynamoStore, Expect, Item, from_item, n, next_version, s, to_item, typed_page, with_version,
};
use crate::model::{AuditEvent, PRINCIPAL_IDLE, PrincipalState};
use crate::store::keys::{principals_pk, time_key, time_upper_bound};
use crate::store::schema::DUE_INDEX;
use crate::store::{Cursor, Lease, Page, PrincipalStore, StoreError};

/// The lease's end in epoch milliseconds beside `lock_until`, so a condition can compare it
/// (the timestamp string's fractional seconds do not sort).
const LEASE_UNTIL_MS: &str = "lease_until_ms";

impl DynamoStore {
    pub(super) fn principal_item(&self, p: &PrincipalState) -> Result<Item, StoreError> {
        let id = format!("{}/{}", p.integration, p.name);
        let mut item = to_item(p, "principal", &id)?;
        item.insert("pk".into(), s(principals_pk(&p.integration)));
        item.insert("sk".into(), s(&p.name));
        item.insert("entity".into(), s("principal"));
        if let Some(until) = p.lock_until {
            item.insert(LEASE_UNTIL_MS.into(), n(until.timestamp_millis()));
        }
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

    async fn lease_principal(
        &self,
        integration: &str,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Lease, StoreError> {
        let id = format!("{integration}/{name}");
        let until_text =
            serde_dynamo::to_attribute_value(until).map_err(|e| StoreError::Corrupt {
                entity: "principal",
                id: id.clone(),
                reason: e.to_string(),
            })?;
        let out = self
            .client
            .update_item()
            .table_name(&self.cfg.table)
            .key("pk", s(principals_pk(integration)))
            .key("sk", s(name))
            .update_expression("SET #o = :h, #u = :u, #ms = :ms, #v = #v + :one")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(#o) OR #o = :h OR #ms < :now)",
            )
            .expression_attribute_names("#o", "lock_owner")
            .expression_attribute_names("#u", "lock_until")
            .expression_attribute_names("#ms", LEASE_UNTIL_MS)
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":h", s(holder))
            .expression_attribute_values(":u", until_text)
            .expression_attribute_values(":ms", n(until.timestamp_millis()))
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match out {
            Ok(o) => {
                return Ok(Lease::Taken(from_item(
                    o.attributes.unwrap_or_default(),
                    "principal",
                )?));
            }
            Err(e) => e,
        };
        let Some(failed) = err
            .as_service_error()
            .filter(|e| e.is_conditional_check_failed_exception())
        else {
            return Err(StoreError::from_sdk("UpdateItem", &err));
        };
        let old = match failed {
            aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => {
                c.item().cloned()
            }
            _ => None,
        };
        let Some(old) = old.filter(|i| !i.is_empty()) else {
            return Ok(Lease::Absent);
        };
        let current: PrincipalState = from_item(old, "principal")?;
        if current.is_locked_by_other(holder, now) {
            return Ok(Lease::Held(current));
        }
        // A lease recorded without its millisecond end (written before it was) that has run
        // out: taken with a write conditional on the version instead.
        let mut next = current.clone();
        next.lock_owner = Some(holder.to_string());
        next.lock_until = Some(until);
        next.version = current.version + 1;
        let item = self.principal_item(&next)?;
        self.put_single(
            item,
            Expect::Version(current.version),
            "principal",
            &id,
            false,
        )
        .await?;
        Ok(Lease::Taken(next))
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
