//! Access requests: one item each, indexed by requester and (sparsely) by due time. A
//! request's own audit events travel on its item, and a copy of each goes to the day's audit
//! log right after the write (see `copy_to_audit_log`), or in the same transaction when the
//! write is one anyway (`update_request_and_principal`).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, Select, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::bundles::open_places;
use super::request_index::{caller_keys, is_open};
use super::{
    Cancelled, DynamoStore, Expect, Item, from_item, n, s, to_item, typed_page, with_version,
};
use crate::model::{
    AccessRequest, AuditEvent, AuditSubject, Identity, PrincipalState, RequestStatus,
};
use crate::store::keys::{
    REQUEST_SK, approver_pk, idempotency_pk, request_pk, time_key, time_upper_bound,
};
use crate::store::schema::{DUE_INDEX, OPEN_INDEX, REQUESTER_INDEX, TABLE};
use crate::store::{ApproverQueue, Created, Cursor, Page, RequestStore, StoreError};

impl DynamoStore {
    /// The requests `ids` names, in that order, in batches (an index item naming a request
    /// that is gone is skipped).
    pub(super) async fn requests_in_order(
        &self,
        ids: &[String],
    ) -> Result<Vec<AccessRequest>, StoreError> {
        let keys = ids
            .iter()
            .map(|id| (request_pk(id), REQUEST_SK.to_string()))
            .collect();
        let mut items: Vec<AccessRequest> = self
            .batch_get(keys)
            .await?
            .into_iter()
            .map(|i| from_item(i, "request"))
            .collect::<Result<_, _>>()?;
        items.sort_by_key(|r| ids.iter().position(|id| id == &r.id));
        Ok(items)
    }

    /// The request an idempotency key created, if the key is known and its window is open.
    async fn idempotent_replay(
        &self,
        sub: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AccessRequest>, StoreError> {
        let Some(item) = self.get_item(idempotency_pk(sub), key.to_string()).await? else {
            return Ok(None);
        };
        let live = item
            .get(TABLE.ttl_attribute)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .is_none_or(|expires| expires >= now.timestamp());
        let id = item.get("request_id").and_then(|v| v.as_s().ok());
        match (live, id) {
            (true, Some(id)) => self.get_request(id).await,
            _ => Ok(None),
        }
    }

    fn idempotency_put(
        &self,
        sub: &str,
        key: &str,
        request: &AccessRequest,
    ) -> Result<TransactWriteItem, StoreError> {
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
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Refuse a new open request when the requester already has the maximum, counted on the
    /// sparse open-requester index (which holds only open requests, so this reads at most the
    /// cap). The index is eventually consistent and two creates can race: the cap is a bound
    /// on a runaway requester, not an exact quota.
    async fn check_open_cap(&self, requester: &str, needed: u32) -> Result<(), StoreError> {
        let limit = self.cfg.max_open_requests;
        if needed > limit {
            return Err(StoreError::TooManyOpen { limit });
        }
        let out = self
            .client
            .query()
            .table_name(&self.cfg.table)
            .index_name(OPEN_INDEX.name)
            .key_condition_expression("#h = :h")
            .expression_attribute_names("#h", OPEN_INDEX.hash_key)
            .expression_attribute_values(":h", s(requester))
            .select(Select::Count)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("Query", &e))?;
        let open = u32::try_from(out.count()).unwrap_or(u32::MAX);
        if open.saturating_add(needed) > limit {
            return Err(StoreError::TooManyOpen { limit });
        }
        Ok(())
    }

    pub(super) fn request_item(&self, r: &AccessRequest) -> Result<Item, StoreError> {
        let mut item = to_item(r, "request", &r.id)?;
        item.insert("pk".into(), s(request_pk(&r.id)));
        item.insert("sk".into(), s(REQUEST_SK));
        item.insert("entity".into(), s("request"));
        item.insert(REQUESTER_INDEX.hash_key.into(), s(r.requester.person_key()));
        item.insert(
            REQUESTER_INDEX.range_key.into(),
            s(time_key(r.created_at, &r.id)),
        );
        if is_open(r.status) {
            item.insert(OPEN_INDEX.hash_key.into(), s(r.requester.person_key()));
        }
        if let Some(due) = r.due_at() {
            item.insert(DUE_INDEX.hash_key.into(), s(r.status.as_str()));
            item.insert(DUE_INDEX.range_key.into(), s(time_key(due, &r.id)));
        }
        // A break-glass grant waiting for its review stays until an owner has reviewed it.
        if r.status.is_terminal() && !r.review_pending() {
            // A review recorded long after the grant ended is kept as long as any record.
            let reviewed = r
                .break_glass
                .as_ref()
                .and_then(|b| b.review.as_ref())
                .map(|v| v.at);
            let ended = r
                .ended_at
                .unwrap_or(r.updated_at)
                .max(reviewed.unwrap_or_default());
            item.insert(
                TABLE.ttl_attribute.into(),
                self.expires_at(ended, self.cfg.request_retention),
            );
        }
        Ok(item)
    }
}

/// Leaving `pending` removes the request's approver-index items in the same transaction.
/// (`ends_at` is set only once a grant is active, so an active grant's expiry is not a
/// departure from `pending`. A scheduled request's start or cancel repeats the delete, a
/// harmless no-op.)
pub(super) fn leaves_pending(r: &AccessRequest) -> bool {
    matches!(
        r.status,
        RequestStatus::Approved
            | RequestStatus::Scheduled
            | RequestStatus::Rejected
            | RequestStatus::Expired
            | RequestStatus::Cancelled
            | RequestStatus::Bundled
    ) && r.ends_at.is_none()
}

/// A request's own events travel on its item; anything else is written beside it.
pub(super) fn split_audit(
    request_id: &str,
    audit: &[AuditEvent],
) -> (Vec<AuditEvent>, Vec<AuditEvent>) {
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

    async fn replayed_request(
        &self,
        sub: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AccessRequest>, StoreError> {
        self.idempotent_replay(sub, key, now).await
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
            r.history.extend(own.iter().cloned());
        });
        // A replay returns the first request, whatever has happened since (the cap included).
        if let Some((sub, key)) = idempotency
            && let Some(existing) = self.idempotent_replay(sub, key, request.created_at).await?
        {
            return Ok(Created::Existing(existing));
        }
        // A request is made pending, or approved when its flow approves automatically: that is
        // when the cap applies. (Records written in other states are imports and test set-ups.)
        if matches!(
            stored.status,
            RequestStatus::Pending | RequestStatus::Scheduled | RequestStatus::Approved
        ) {
            self.check_open_cap(&stored.requester.person_key(), open_places(&stored))
                .await?;
        }
        let item = self.request_item(&stored)?;
        let mut side = Vec::new();
        if let Some((sub, key)) = idempotency {
            side.push(self.idempotency_put(sub, key, request)?);
        }
        if stored.status == RequestStatus::Pending {
            side.extend(self.approver_puts(&stored)?);
            side.extend(self.slot_puts(&stored)?);
        }
        // A break-glass grant is listed for its review from the moment it exists.
        if stored.review_pending() {
            side.push(self.review_put(&stored)?);
        }
        side.extend(self.audit_items(&other)?);
        if side.is_empty() {
            self.put_single(item, Expect::Absent, "request", &request.id, true)
                .await?;
            self.copy_to_audit_log(&own, &request.integration).await;
            return Ok(Created::New(stored));
        }
        let mut writes = vec![self.put(item, Some(&Expect::Absent))?];
        writes.extend(side);
        match self.transact(writes).await {
            Ok(()) => {
                self.copy_to_audit_log(&own, &request.integration).await;
                Ok(Created::New(stored))
            }
            Err(Cancelled::Other(e)) => Err(e),
            Err(Cancelled::Conditions(failed)) => {
                // The key was taken between the replay check and this write.
                if let Some((sub, key)) = idempotency.filter(|_| failed.get(1) == Some(&true))
                    && let Some(existing) =
                        self.idempotent_replay(sub, key, request.created_at).await?
                {
                    return Ok(Created::Existing(existing));
                }
                Err(StoreError::AlreadyExists {
                    entity: "request",
                    id: request.id.clone(),
                })
            }
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
            r.history.extend(own.iter().cloned());
        });
        let item = self.request_item(&stored)?;
        let mut side = Vec::new();
        side.extend(self.pending_leftovers(&stored)?);
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
        self.copy_to_audit_log(&own, &request.integration).await;
        Ok(stored)
    }

    async fn update_request_indexing_approvers(
        &self,
        request: &AccessRequest,
        expected_version: u64,
        audit: &[AuditEvent],
    ) -> Result<AccessRequest, StoreError> {
        // Index items are only ever added here: a request leaving `pending` must go through
        // `update_request`, which removes them.
        if request.status != RequestStatus::Pending {
            return Err(StoreError::backend(
                "TransactWriteItems",
                format!(
                    "request {} is {}, not pending: its approvers are not indexed",
                    request.id, request.status
                ),
                false,
            ));
        }
        let (own, other) = split_audit(&request.id, audit);
        let stored = with_version(request, |r| {
            r.version = expected_version + 1;
            r.history.extend(own.iter().cloned());
        });
        let mut writes = vec![self.put(
            self.request_item(&stored)?,
            Some(&Expect::Version(expected_version)),
        )?];
        // Every key is put again (a put of an existing index item changes nothing).
        writes.extend(self.approver_puts(&stored)?);
        writes.extend(self.audit_items(&other)?);
        writes.extend(self.audit_log_items(&own, Some(&request.integration))?);
        self.commit(writes, "request", &request.id, false).await?;
        Ok(stored)
    }

    async fn update_request_and_principal(
        &self,
        request: &AccessRequest,
        expected_version: u64,
        principal: &PrincipalState,
        principal_expected: Option<u64>,
        audit: &[AuditEvent],
    ) -> Result<(AccessRequest, PrincipalState), StoreError> {
        let (own, other) = split_audit(&request.id, audit);
        let stored = with_version(request, |r| {
            r.version = expected_version + 1;
            r.history.extend(own.iter().cloned());
        });
        let account = with_version(principal, |p| {
            p.version = principal_expected.map_or(1, |v| v + 1);
        });
        let principal_expect = match principal_expected {
            None => Expect::Absent,
            Some(v) => Expect::Version(v),
        };
        let mut writes = vec![
            self.put(
                self.request_item(&stored)?,
                Some(&Expect::Version(expected_version)),
            )?,
            self.put(self.principal_item(&account)?, Some(&principal_expect))?,
        ];
        writes.extend(self.pending_leftovers(&stored)?);
        writes.extend(self.audit_items(&other)?);
        // Already a transaction: the request's own events reach the day's audit log in it,
        // at no extra call (unlike `update_request`'s single put, which copies after).
        writes.extend(self.audit_log_items(&own, Some(&request.integration))?);
        match self.transact_with(writes, true).await {
            Ok(()) => Ok((stored, account)),
            Err(Cancelled::Conditions(failed)) if failed.first() == Some(&true) => {
                Err(StoreError::Conflict {
                    entity: "request",
                    id: request.id.clone(),
                })
            }
            Err(Cancelled::Conditions(failed)) if failed.get(1) == Some(&true) => {
                Err(StoreError::Conflict {
                    entity: "principal",
                    id: format!("{}/{}", account.integration, account.name),
                })
            }
            Err(Cancelled::Conditions(_)) => Err(StoreError::backend(
                "TransactWriteItems",
                "TransactionCanceledException",
                true,
            )),
            Err(Cancelled::Other(e)) => Err(e),
        }
    }

    async fn create_bundle(
        &self,
        parent: &AccessRequest,
        children: &[AccessRequest],
        idempotency: Option<(&str, &str)>,
        audit: &[AuditEvent],
    ) -> Result<Created, StoreError> {
        if let Some((sub, key)) = idempotency
            && let Some(existing) = self.idempotent_replay(sub, key, parent.created_at).await?
        {
            return Ok(Created::Existing(existing));
        }
        self.check_open_cap(&parent.requester.person_key(), open_places(parent))
            .await?;
        let mut side = Vec::new();
        if let Some((sub, key)) = idempotency {
            side.push(self.idempotency_put(sub, key, parent)?);
        }
        match self
            .commit_bundle(parent, None, children, audit, side)
            .await
        {
            Ok((stored, _)) => Ok(Created::New(stored)),
            Err(StoreError::Conflict { .. }) if idempotency.is_some() => {
                // The key was taken between the replay check and this write.
                let (sub, key) = idempotency.unwrap_or_default();
                match self.idempotent_replay(sub, key, parent.created_at).await? {
                    Some(existing) => Ok(Created::Existing(existing)),
                    None => Err(StoreError::AlreadyExists {
                        entity: "request",
                        id: parent.id.clone(),
                    }),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn bundle_request(
        &self,
        parent: &AccessRequest,
        expected_version: u64,
        children: &[AccessRequest],
        audit: &[AuditEvent],
    ) -> Result<(AccessRequest, Vec<AccessRequest>), StoreError> {
        self.commit_bundle(parent, Some(expected_version), children, audit, vec![])
            .await
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
        let mut items = self.requests_in_order(&order).await?;
        items.retain(|r| r.status == RequestStatus::Pending);
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
