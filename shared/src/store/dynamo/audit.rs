//! The append-only audit trail: one partition per subject, in the order events happened.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::{DynamoStore, Expect, from_item, n, s, to_item, typed_page};
use crate::model::{AuditEvent, AuditSubject};
use crate::store::keys::{audit_pk, time_key};
use crate::store::schema::TABLE;
use crate::store::{AuditStore, Cursor, Page, RequestStore, StoreError};

static AUDIT_SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl DynamoStore {
    pub(super) fn audit_items(
        &self,
        events: &[AuditEvent],
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        events
            .iter()
            .map(|e| {
                let mut item = to_item(e, "audit", &e.id)?;
                item.insert("pk".into(), s(audit_pk(&e.subject.key())));
                // Events of one invocation often share a millisecond: a process-wide sequence
                // keeps them in the order they happened.
                let seq = AUDIT_SEQUENCE.fetch_add(1, Ordering::Relaxed);
                item.insert(
                    "sk".into(),
                    s(time_key(e.at, &format!("{seq:012}#{}", e.id))),
                );
                item.insert("entity".into(), s("audit"));
                item.insert(
                    TABLE.ttl_attribute.into(),
                    n((e.at + self.cfg.audit_retention).timestamp()),
                );
                self.put(item, Some(&Expect::Absent))
            })
            .collect()
    }
}

#[async_trait]
impl AuditStore for DynamoStore {
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        // Transactions hold at most 100 writes; each chunk is all-or-nothing.
        let items = self.audit_items(events)?;
        for chunk in items.chunks(100) {
            self.commit(chunk.to_vec(), "audit event", "batch", true)
                .await?;
        }
        Ok(())
    }

    async fn audit_of(
        &self,
        subject: &AuditSubject,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<AuditEvent>, StoreError> {
        if let (AuditSubject::Request(id), None) = (subject, cursor) {
            let mut events = self
                .get_request(id)
                .await?
                .map(|r| r.history)
                .unwrap_or_default();
            let (items, _) = self
                .partition(&audit_pk(&subject.key()), 1000, None)
                .await?;
            for i in items {
                events.push(from_item(i, "audit event")?);
            }
            events.sort_by_key(|e| e.at);
            return Ok(Page {
                items: events,
                next: None,
            });
        }
        let (items, next) = self
            .partition(&audit_pk(&subject.key()), limit, cursor)
            .await?;
        typed_page(items, next, "audit event")
    }
}
