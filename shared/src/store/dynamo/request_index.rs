//! The approver index: one item per (approver key, pending request), written in the same
//! transaction as the request, so `GET /requests` reads only the caller's own partitions
//! instead of every pending request in the system. Items are deleted in the transaction that
//! takes the request out of `pending`. (A GSI cannot do this: a request has many approvers.)

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

use super::{DynamoStore, Item, n, s};
use crate::model::{
    AccessRequest, Identity, PrincipalKind, PrincipalRef, RequestStatus, fold_email,
};
use crate::store::StoreError;
use crate::store::keys::{approver_pk, time_key};
use crate::store::schema::TABLE;

/// Whether a request in `status` counts against its requester's open-request cap (and so
/// carries the sparse open-requester index key).
pub fn is_open(status: RequestStatus) -> bool {
    matches!(
        status,
        RequestStatus::Pending
            | RequestStatus::Scheduled
            | RequestStatus::Approved
            | RequestStatus::Active
    )
}

/// The index key of a configured approver, folded as [`Identity::matches`] compares: a user
/// value with `@` is an email (case-insensitive, matched only by a trusted email), any other
/// user value is a `sub` (exact), group names are exact.
fn approver_key(p: &PrincipalRef) -> String {
    match p.kind {
        PrincipalKind::User if p.value.contains('@') => email_key(&p.value),
        PrincipalKind::User => format!("sub:{}", p.value),
        PrincipalKind::Group => format!("group:{}", p.value),
    }
}

fn email_key(email: &str) -> String {
    format!("email:{}", fold_email(email))
}

/// Every approver key of a request, without repeats.
pub fn request_keys(r: &AccessRequest) -> BTreeSet<String> {
    r.approval_steps
        .iter()
        .flat_map(|s| s.approvers.iter().map(approver_key))
        .collect()
}

/// The keys under which a caller may find requests to decide: their `sub`, their trusted
/// email (an [`Identity`] carries no other), each of their groups. A key only narrows the
/// search; whether they may decide is checked on the request itself.
pub fn caller_keys(who: &Identity) -> BTreeSet<String> {
    let mut keys = BTreeSet::from([format!("sub:{}", who.sub)]);
    if let Some(email) = &who.email {
        keys.insert(email_key(email));
    }
    keys.extend(who.groups.iter().map(|g| format!("group:{g}")));
    keys
}

/// Requests may need at most this many distinct approvers, so that a request, its index
/// items and its audit events fit in one transaction (100 writes).
pub const MAX_APPROVER_KEYS: usize = 64;

impl DynamoStore {
    pub(super) fn approver_puts(
        &self,
        r: &AccessRequest,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let keys = request_keys(r);
        if keys.len() > MAX_APPROVER_KEYS {
            return Err(StoreError::backend(
                "TransactWriteItems",
                format!("a request may have at most {MAX_APPROVER_KEYS} distinct approvers"),
                false,
            ));
        }
        keys.iter()
            .map(|key| {
                let item: Item = [
                    ("pk", s(approver_pk(key))),
                    ("sk", s(time_key(r.created_at, &r.id))),
                    ("entity", s("approver_index")),
                    ("request_id", s(&r.id)),
                    // A backstop only: the item is deleted when the request stops pending.
                    (
                        TABLE.ttl_attribute,
                        n((r.approval_expires_at + chrono::Duration::days(1)).timestamp()),
                    ),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                let put = Put::builder()
                    .table_name(&self.cfg.table)
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| StoreError::backend("TransactWriteItems", e.to_string(), false))?;
                Ok(TransactWriteItem::builder().put(put).build())
            })
            .collect()
    }

    pub(super) fn approver_deletes(
        &self,
        r: &AccessRequest,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        request_keys(r)
            .iter()
            .map(|key| {
                let delete = Delete::builder()
                    .table_name(&self.cfg.table)
                    .key("pk", s(approver_pk(key)))
                    .key("sk", s(time_key(r.created_at, &r.id)))
                    .build()
                    .map_err(|e| StoreError::backend("TransactWriteItems", e.to_string(), false))?;
                Ok(TransactWriteItem::builder().delete(delete).build())
            })
            .collect()
    }
}
