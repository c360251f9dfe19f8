//! Bundles in the table: a pending bundle holds one open-request place per item (its own item
//! and one *slot* item per further item, all on the open-requester index), and the write that
//! makes it `bundled` creates its children and frees the slots at once, so a requester's open
//! count never dips or doubles: a bundle of five counts five from the moment it is asked for.

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};

use super::requests::{leaves_pending, split_audit};
use super::{Cancelled, DynamoStore, Expect, Item, n, s, with_version};
use crate::model::{AccessRequest, AuditEvent, RequestStatus};
use crate::store::StoreError;
use crate::store::keys::{request_pk, time_key};
use crate::store::schema::{OPEN_INDEX, TABLE};

/// The sort key of a pending bundle's `k`-th extra open place (1-based).
fn slot_sk(k: usize) -> String {
    format!("OPEN_SLOT#{k}")
}

/// How many open places a request takes: one, or one per bundle item.
pub(super) fn open_places(r: &AccessRequest) -> u32 {
    r.bundle
        .as_ref()
        .map_or(1, |b| u32::try_from(b.len().max(1)).unwrap_or(u32::MAX))
}

impl DynamoStore {
    /// The extra open places of a pending bundle (none for anything else).
    pub(super) fn slot_puts(
        &self,
        r: &AccessRequest,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        if r.status != RequestStatus::Pending {
            return Ok(vec![]);
        }
        let extra = r.bundle.as_ref().map_or(0, |b| b.len().saturating_sub(1));
        (1..=extra)
            .map(|k| {
                let item: Item = [
                    ("pk", s(request_pk(&r.id))),
                    ("sk", s(slot_sk(k))),
                    ("entity", s("open_slot")),
                    ("request_id", s(&r.id)),
                    (OPEN_INDEX.hash_key, s(r.requester.person_key())),
                    (
                        OPEN_INDEX.range_key,
                        s(format!("{}#{k}", time_key(r.created_at, &r.id))),
                    ),
                    // A backstop only: the slots are deleted when the bundle stops pending.
                    (
                        TABLE.ttl_attribute,
                        n((r.approval_expires_at + chrono::Duration::days(1)).timestamp()),
                    ),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                self.put(item, None)
            })
            .collect()
    }

    /// What leaving `pending` removes beside the request: its approver-index items, and a
    /// bundle's extra open places.
    pub(super) fn pending_leftovers(
        &self,
        r: &AccessRequest,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        if !leaves_pending(r) {
            return Ok(vec![]);
        }
        let mut writes = self.approver_deletes(r)?;
        let extra = r.bundle.as_ref().map_or(0, |b| b.len().saturating_sub(1));
        for k in 1..=extra {
            let delete = Delete::builder()
                .table_name(&self.cfg.table)
                .key("pk", s(request_pk(&r.id)))
                .key("sk", s(slot_sk(k)))
                .build()
                .map_err(|e| StoreError::backend("TransactWriteItems", e.to_string(), false))?;
            writes.push(TransactWriteItem::builder().delete(delete).build());
        }
        Ok(writes)
    }

    /// The parent (if still at `expected_version`; `None`: created now) with its children
    /// (each created, never overwritten) in one transaction. A child that exists already means
    /// another attempt made the set: the parent's own condition fails first in that case.
    pub(super) async fn commit_bundle(
        &self,
        parent: &AccessRequest,
        expected_version: Option<u64>,
        children: &[AccessRequest],
        audit: &[AuditEvent],
        side: Vec<TransactWriteItem>,
    ) -> Result<(AccessRequest, Vec<AccessRequest>), StoreError> {
        let (own, other) = split_audit(&parent.id, audit);
        let stored = with_version(parent, |r| {
            r.version = expected_version.map_or(1, |v| v + 1);
            r.history.extend(own.iter().cloned());
        });
        let expect = match expected_version {
            None => Expect::Absent,
            Some(v) => Expect::Version(v),
        };
        let mut writes = vec![self.put(self.request_item(&stored)?, Some(&expect))?];
        writes.extend(side);
        if expected_version.is_some() {
            writes.extend(self.pending_leftovers(&stored)?);
        }
        let mut made = Vec::with_capacity(children.len());
        for c in children {
            let child = with_version(c, |r| r.version = 1);
            writes.push(self.put(self.request_item(&child)?, Some(&Expect::Absent))?);
            made.push(child);
        }
        writes.extend(self.audit_items(&other)?);
        writes.extend(self.audit_log_items(&own, Some(&parent.integration))?);
        match self.transact(writes).await {
            Ok(()) => {
                for c in &made {
                    self.copy_to_audit_log(&c.history, &c.integration).await;
                }
                Ok((stored, made))
            }
            Err(Cancelled::Conditions(failed)) if failed.first() == Some(&true) => {
                Err(match expected_version {
                    None => StoreError::AlreadyExists {
                        entity: "request",
                        id: parent.id.clone(),
                    },
                    Some(_) => StoreError::Conflict {
                        entity: "request",
                        id: parent.id.clone(),
                    },
                })
            }
            Err(Cancelled::Conditions(_)) => Err(StoreError::Conflict {
                entity: "request",
                id: parent.id.clone(),
            }),
            Err(Cancelled::Other(e)) => Err(e),
        }
    }
}
