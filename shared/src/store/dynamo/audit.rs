//! The append-only audit trail: one partition per subject, in the order events happened.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::NaiveDate;

use super::{DynamoStore, Expect, Item, from_item, n, s, to_item, typed_page};
use crate::model::{AuditEvent, AuditSubject};
use crate::store::keys::{
    audit_log_day, audit_log_pk, audit_pk, time_key, time_lower_bound, time_upper_bound,
};
use crate::store::schema::TABLE;
use crate::store::{AuditQuery, AuditStore, Cursor, Page, RequestStore, StoreError};

static AUDIT_SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Queries behind one page of the audit log: a selective filter over a long window answers
/// a short page with a cursor rather than reading the whole window in one invocation.
const LOG_QUERIES_PER_PAGE: usize = 8;
/// Items read per query of the audit log (before the filter).
const LOG_READ: i32 = 300;

/// Events of one invocation often share a millisecond: a process-wide sequence keeps them in
/// the order they happened.
fn ordered_key(e: &AuditEvent) -> String {
    let seq = AUDIT_SEQUENCE.fetch_add(1, Ordering::Relaxed);
    time_key(e.at, &format!("{seq:012}#{}", e.id))
}

impl DynamoStore {
    /// Each event under its subject, and its copy in the day's audit log.
    pub(super) fn audit_items(
        &self,
        events: &[AuditEvent],
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut writes = Vec::with_capacity(events.len() * 2);
        for e in events {
            let mut item = to_item(e, "audit", &e.id)?;
            item.insert("pk".into(), s(audit_pk(&e.subject.key())));
            item.insert("sk".into(), s(ordered_key(e)));
            item.insert("entity".into(), s("audit"));
            item.insert(
                TABLE.ttl_attribute.into(),
                n((e.at + self.cfg.audit_retention).timestamp()),
            );
            writes.push(self.put(item, Some(&Expect::Absent))?);
        }
        writes.extend(self.audit_log_items(events, None)?);
        Ok(writes)
    }

    /// The copies of `events` in the audit log of their day, which an administrator lists
    /// across subjects. `integration` names the integration of events that do not say (a
    /// request's own events: the request knows it), so the log can be filtered by it.
    pub(super) fn audit_log_items(
        &self,
        events: &[AuditEvent],
        integration: Option<&str>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        self.audit_log_records(events, integration)?
            .into_iter()
            .map(|item| self.put(item, Some(&Expect::Absent)))
            .collect()
    }

    /// A request's own events, copied to the audit log right after the request's write. Not in
    /// its transaction: that keeps a request's change one conditional put (a transaction costs
    /// twice the writes on DynamoDB, and moto copies the whole table for each). If the function
    /// dies between the two, the event stays in the request's own trail (`history`), the record
    /// of truth, and is missing from the day's log; a failure here is logged, never the
    /// change's.
    pub(super) async fn copy_to_audit_log(&self, events: &[AuditEvent], integration: &str) {
        if events.is_empty() {
            return;
        }
        // One PutItem per event (usually one): every function that writes requests may
        // PutItem, and a retried put of the same copy is harmless.
        let result = async {
            for item in self.audit_log_records(events, Some(integration))? {
                self.client
                    .put_item()
                    .table_name(&self.cfg.table)
                    .set_item(Some(item))
                    .send()
                    .await
                    .map_err(|e| StoreError::from_sdk("PutItem", &e))?;
            }
            Ok::<(), StoreError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "copying a request's audit events to the audit log");
        }
    }

    fn audit_log_records(
        &self,
        events: &[AuditEvent],
        integration: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        events
            .iter()
            .map(|e| {
                let mut e = e.clone();
                if e.integration.is_none() {
                    e.integration = match &e.subject {
                        AuditSubject::Integration(name) => Some(name.clone()),
                        _ => integration.map(str::to_string),
                    };
                }
                let mut item = to_item(&e, "audit", &e.id)?;
                item.insert("pk".into(), s(audit_log_pk(e.at.date_naive())));
                item.insert("sk".into(), s(ordered_key(&e)));
                item.insert("entity".into(), s("audit_log"));
                item.insert(
                    TABLE.ttl_attribute.into(),
                    n((e.at + self.cfg.audit_retention).timestamp()),
                );
                Ok(item)
            })
            .collect()
    }

    /// One query of one day of the audit log, newest first, from `start` (exclusive).
    async fn audit_log_day_page(
        &self,
        day: NaiveDate,
        query: &AuditQuery,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let mut names = vec![("#h", "pk"), ("#r", "sk")];
        let mut values = vec![
            (":h", s(audit_log_pk(day))),
            (":lo", s(time_lower_bound(query.since))),
            (":hi", s(time_upper_bound(query.until))),
        ];
        let mut filters = Vec::new();
        if let Some(i) = &query.integration {
            names.push(("#i", "integration"));
            values.push((":i", s(i.as_str())));
            filters.push("#i = :i");
        }
        if let Some(a) = &query.actor {
            names.push(("#a", "actor"));
            values.push((":a", s(a.as_str())));
            filters.push("#a = :a");
        }
        if let Some(v) = &query.action {
            names.push(("#v", "action"));
            values.push((":v", s(v.as_str())));
            filters.push(if v.ends_with('.') {
                "begins_with(#v, :v)"
            } else {
                "#v = :v"
            });
        }
        let start_given = start.is_some();
        let mut req = self
            .client
            .query()
            .table_name(&self.cfg.table)
            .key_condition_expression("#h = :h AND #r BETWEEN :lo AND :hi")
            .scan_index_forward(false)
            .limit(LOG_READ)
            .set_exclusive_start_key(start);
        for (k, v) in names {
            req = req.expression_attribute_names(k, v);
        }
        for (k, v) in values {
            req = req.expression_attribute_values(k, v);
        }
        if !filters.is_empty() {
            req = req.filter_expression(filters.join(" AND "));
        }
        let resumed = start_given;
        let out = req.send().await.map_err(|e| {
            // Whatever slipped past the checks of a client's cursor is its fault, not ours.
            if resumed
                && e.as_service_error().map(|s| s.meta().code())
                    == Some(Some("ValidationException"))
            {
                StoreError::InvalidCursor
            } else {
                StoreError::from_sdk("Query", &e)
            }
        })?;
        let next = out.last_evaluated_key().filter(|k| !k.is_empty()).cloned();
        Ok((out.items.unwrap_or_default(), next))
    }
}

/// Where a page of the audit log resumes: a day, and the last item shown on it (`None`: from
/// the day's newest event).
fn log_position(
    query: &AuditQuery,
    cursor: Option<&Cursor>,
) -> Result<(NaiveDate, Option<Item>), StoreError> {
    let (first, last) = (query.until.date_naive(), query.since.date_naive());
    let Some(c) = cursor else {
        return Ok((first, None));
    };
    let pk = c.value_of("pk")?;
    let day = audit_log_day(&pk).ok_or(StoreError::InvalidCursor)?;
    // A cursor of another window (or another list) is refused, not followed; so is a day
    // written any way but the one this listing writes (DynamoDB would refuse a start key
    // outside the partition queried).
    if day > first || day < last || pk != audit_log_pk(day) {
        return Err(StoreError::InvalidCursor);
    }
    let key = c.to_key("pk", &pk)?;
    match key.len() {
        1 => Ok((day, None)),
        2 => {
            // The start key must lie inside the key condition's range, or DynamoDB refuses it.
            let sk = key
                .get("sk")
                .and_then(|v| v.as_s().ok())
                .ok_or(StoreError::InvalidCursor)?;
            let (lo, hi) = (time_lower_bound(query.since), time_upper_bound(query.until));
            if sk.as_str() < lo.as_str() || sk.as_str() > hi.as_str() {
                return Err(StoreError::InvalidCursor);
            }
            Ok((day, Some(key)))
        }
        _ => Err(StoreError::InvalidCursor),
    }
}

fn key_of(item: &Item) -> Item {
    ["pk", "sk"]
        .iter()
        .filter_map(|k| item.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect()
}

#[async_trait]
impl AuditStore for DynamoStore {
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        // Transactions hold at most 100 writes, two per event (its subject's and the log's);
        // each chunk is all-or-nothing, so an event and its log copy land together.
        for chunk in events.chunks(50) {
            let items = self.audit_items(chunk)?;
            match self.commit(items, "audit event", "batch", true).await {
                // Every key names a fresh event id and sequence number, so only an earlier
                // attempt of this very write can have made it: an SDK retry after an attempt
                // that timed out but landed (DynamoDB's idempotency token covers this; moto
                // does not). The events are written.
                Ok(()) | Err(StoreError::AlreadyExists { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn audit_log(
        &self,
        query: &AuditQuery,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let limit = limit.clamp(1, 1000);
        let (mut day, mut start) = log_position(query, cursor)?;
        let last_day = query.since.date_naive();
        let mut events = Vec::new();
        for _ in 0..LOG_QUERIES_PER_PAGE {
            let (items, next) = self.audit_log_day_page(day, query, start.take()).await?;
            for item in items {
                let key = key_of(&item);
                events.push(from_item(item, "audit event")?);
                if events.len() == limit {
                    return Ok(Page {
                        items: events,
                        next: Cursor::from_key(&key),
                    });
                }
            }
            match next {
                Some(k) => start = Some(k),
                None if day > last_day => {
                    day = day.pred_opt().ok_or(StoreError::InvalidCursor)?;
                }
                None => {
                    return Ok(Page {
                        items: events,
                        next: None,
                    });
                }
            }
        }
        // Out of reads for this page: resume where the reading stopped.
        let resume: Item = match start {
            Some(k) => k,
            None => [("pk".to_string(), AttributeValue::S(audit_log_pk(day)))].into(),
        };
        Ok(Page {
            items: events,
            next: Cursor::from_key(&resume),
        })
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
