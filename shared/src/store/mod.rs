//! State in DynamoDB behind narrow traits, one per kind of record, so each handler depends
//! only on what it uses. Every state change is a conditional write on the record's version
//! (or on its absence), and an audit event written with a change commits in the same
//! transaction.

mod cursor;
pub mod deliveries;
mod dynamo;
pub mod group_proofs;
mod keys;
pub mod schema;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use chrono::{DateTime, Utc};

use crate::model::{
    AccessFlow, AccessRequest, AuditEvent, AuditSubject, Identity, Integration, PrincipalState,
    Resource,
};

pub use cursor::Cursor;
pub use dynamo::{DEFAULT_MAX_OPEN_REQUESTS, DynamoStore, MAX_APPROVER_KEYS, StoreConfig, is_open};

/// Every store trait: what a function that does a bit of everything depends on.
pub trait Store:
    IntegrationStore
    + FlowStore
    + ResourceStore
    + RequestStore
    + PrincipalStore
    + AuditStore
    + ReviewStore
    + group_proofs::GroupProofStore
{
}
impl<T> Store for T where
    T: IntegrationStore
        + FlowStore
        + ResourceStore
        + RequestStore
        + PrincipalStore
        + AuditStore
        + ReviewStore
        + group_proofs::GroupProofStore
{
}

/// One page of a list, and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} {id} was changed concurrently; reload it and retry")]
    Conflict { entity: &'static str, id: String },
    #[error("{entity} {id} already exists")]
    AlreadyExists { entity: &'static str, id: String },
    #[error("{entity} {id} does not exist")]
    NotFound { entity: &'static str, id: String },
    #[error("the page cursor is not valid for this list")]
    InvalidCursor,
    #[error("stored {entity} {id} could not be read: {reason}")]
    Corrupt {
        entity: &'static str,
        id: String,
        reason: String,
    },
    #[error(
        "at most {limit} requests may be open (pending, scheduled, approved or active) at once"
    )]
    TooManyOpen { limit: u32 },
    #[error("DynamoDB {op} failed: {code}")]
    Backend {
        op: &'static str,
        code: String,
        transient: bool,
    },
}

impl StoreError {
    pub(crate) fn backend(op: &'static str, code: impl Into<String>, transient: bool) -> Self {
        Self::Backend {
            op,
            code: code.into(),
            transient,
        }
    }

    pub(crate) fn from_sdk<E: ProvideErrorMetadata>(op: &'static str, err: &E) -> Self {
        let code = err.code().unwrap_or("dispatch").to_string();
        let transient = matches!(
            code.as_str(),
            "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "InternalServerError"
                | "ServiceUnavailable"
                | "dispatch"
        );
        Self::backend(op, code, transient)
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }

    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Backend {
                transient: true,
                ..
            }
        )
    }
}

/// Pending requests a caller may be asked to decide, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct ApproverQueue {
    pub items: Vec<AccessRequest>,
    /// More were waiting than the limit allowed.
    pub truncated: bool,
}

pub struct ReviewQueue {
    pub items: Vec<AccessRequest>,
    /// More were waiting than the limit allowed.
    pub truncated: bool,
}

/// The result of creating a request under an idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    New(AccessRequest),
    /// The key was used before: this is the request it created.
    Existing(AccessRequest),
}

/// What a grant change reads before it acts, read together in one round trip.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GrantRecords {
    pub integration: Option<Integration>,
    pub flow: Option<AccessFlow>,
    pub principal: Option<PrincipalState>,
}

/// The answer to asking for an account's lease.
#[derive(Debug, Clone, PartialEq)]
pub enum Lease {
    /// Taken: the account as stored now, leased to the caller.
    Taken(PrincipalState),
    /// Another holder's lease is still running.
    Held(PrincipalState),
    /// No such account.
    Absent,
}

#[async_trait]
pub trait IntegrationStore: Send + Sync {
    async fn get_integration(&self, name: &str) -> Result<Option<Integration>, StoreError>;
    /// The integration, and optionally a flow and an account of it, in one read. With an
    /// account the read is strongly consistent (its version is the base of the next write);
    /// without, eventually consistent: configuration a moment old is safe, because every
    /// write that follows is conditional on the request's or the account's version.
    async fn grant_records(
        &self,
        integration: &str,
        flow: Option<&str>,
        principal: Option<&str>,
    ) -> Result<GrantRecords, StoreError>;
    async fn list_integrations(&self) -> Result<Vec<Integration>, StoreError>;
    /// `expected_version` `None` creates (fails if it exists); `Some(v)` updates version `v`.
    /// Returns the stored record with its new version.
    async fn save_integration(
        &self,
        integration: &Integration,
        expected_version: Option<u64>,
        audit: &[AuditEvent],
    ) -> Result<Integration, StoreError>;
    async fn delete_integration(
        &self,
        name: &str,
        expected_version: u64,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait FlowStore: Send + Sync {
    async fn get_flow(&self, name: &str) -> Result<Option<AccessFlow>, StoreError>;
    async fn list_flows(&self) -> Result<Vec<AccessFlow>, StoreError>;
    async fn save_flow(
        &self,
        flow: &AccessFlow,
        expected_version: Option<u64>,
        audit: &[AuditEvent],
    ) -> Result<AccessFlow, StoreError>;
    async fn delete_flow(
        &self,
        name: &str,
        expected_version: u64,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait ResourceStore: Send + Sync {
    /// Upsert discovered resources (a snapshot: the newest discovery wins).
    async fn put_resources(&self, resources: &[Resource]) -> Result<(), StoreError>;
    async fn list_resources(
        &self,
        integration: &str,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Resource>, StoreError>;
    /// Every resource of an integration, all pages.
    async fn all_resources(&self, integration: &str) -> Result<Vec<Resource>, StoreError>;
    /// [`Self::all_resources`], strongly consistent: the base a discovery compares against
    /// (a read a moment old would miss the last discovery's writes and keep them missing).
    async fn snapshot_resources(&self, integration: &str) -> Result<Vec<Resource>, StoreError>;
    /// Forget the integration's discovery hash (its resources were changed or deleted
    /// outside a discovery).
    async fn forget_snapshot(&self, integration: &str) -> Result<(), StoreError>;
    /// The resources of an integration whose names start with `prefix`, all pages: what a
    /// name pattern can match, without reading the rest.
    async fn resources_with_prefix(
        &self,
        integration: &str,
        prefix: &str,
    ) -> Result<Vec<Resource>, StoreError>;
    async fn get_resources(
        &self,
        integration: &str,
        names: &[String],
    ) -> Result<Vec<Resource>, StoreError>;
    async fn delete_resources(&self, integration: &str, names: &[String])
    -> Result<(), StoreError>;
    /// The content hash of the discovery last stored in full for `integration` as created at
    /// `generation`, if it was recorded within `max_age` of `now` and no writer has begun a
    /// new snapshot since. `None`: compare in full.
    async fn snapshot_hash(
        &self,
        integration: &str,
        generation: &str,
        now: DateTime<Utc>,
        max_age: chrono::Duration,
    ) -> Result<Option<String>, StoreError>;
    /// Announce that `writer` is about to rewrite the snapshot (forgets the hash).
    async fn begin_snapshot(
        &self,
        integration: &str,
        generation: &str,
        writer: &str,
    ) -> Result<(), StoreError>;
    /// Record `hash` for the snapshot `writer` stored, unless another writer began since;
    /// whether it was recorded.
    async fn finish_snapshot(
        &self,
        integration: &str,
        generation: &str,
        writer: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// Break-glass grants and their after-the-fact reviews.
#[async_trait]
pub trait ReviewStore: Send + Sync {
    /// Write `request` (if still at `expected_version`) with its review, and take it off the
    /// review index in the same transaction, with the audit.
    async fn record_review(
        &self,
        request: &AccessRequest,
        expected_version: u64,
        audit: &[AuditEvent],
    ) -> Result<AccessRequest, StoreError>;
    /// Break-glass grants of these integrations no owner has reviewed yet, newest first, at
    /// most `limit`; `truncated` when more wait.
    async fn pending_reviews(
        &self,
        integrations: &[String],
        limit: i32,
    ) -> Result<ReviewQueue, StoreError>;
}

#[async_trait]
pub trait RequestStore: Send + Sync {
    async fn get_request(&self, id: &str) -> Result<Option<AccessRequest>, StoreError>;
    /// The request an idempotency key of `sub`'s created, if the key is known and its window
    /// still open at `now` (a retry whose own checks no longer pass, e.g. a start now past).
    async fn replayed_request(
        &self,
        sub: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AccessRequest>, StoreError>;
    /// Create a request; with `idempotency` = (requester sub, key), a second create with the
    /// same key returns the first request instead. A request that would exceed its
    /// requester's open-request cap is refused with [`StoreError::TooManyOpen`].
    async fn create_request(
        &self,
        request: &AccessRequest,
        idempotency: Option<(&str, &str)>,
        audit: &[AuditEvent],
    ) -> Result<Created, StoreError>;
    /// Create a bundle's parent already `bundled` (its flow approves automatically) with its
    /// children, in one transaction; idempotency and the open-request cap (one place per
    /// child) as for [`Self::create_request`].
    async fn create_bundle(
        &self,
        parent: &AccessRequest,
        children: &[AccessRequest],
        idempotency: Option<(&str, &str)>,
        audit: &[AuditEvent],
    ) -> Result<Created, StoreError>;
    /// Move a bundle's parent (if still at `expected_version`) out of `pending` and create its
    /// children, in one transaction: either the parent is decided and every child exists, or
    /// nothing changed. A second attempt gets [`StoreError::Conflict`].
    async fn bundle_request(
        &self,
        parent: &AccessRequest,
        expected_version: u64,
        children: &[AccessRequest],
        audit: &[AuditEvent],
    ) -> Result<(AccessRequest, Vec<AccessRequest>), StoreError>;
    /// Write `request` if the stored version is still `expected_version`; returns it with the
    /// new version. The loser of a race gets [`StoreError::Conflict`].
    async fn update_request(
        &self,
        request: &AccessRequest,
        expected_version: u64,
        audit: &[AuditEvent],
    ) -> Result<AccessRequest, StoreError>;
    /// [`Self::update_request`] for a pending request whose approvers grew (an escalation):
    /// the new approvers are indexed in the same transaction, so they find it to decide.
    async fn update_request_indexing_approvers(
        &self,
        request: &AccessRequest,
        expected_version: u64,
        audit: &[AuditEvent],
    ) -> Result<AccessRequest, StoreError>;
    /// A requester's requests, newest first.
    async fn requests_of(
        &self,
        requester_sub: &str,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<AccessRequest>, StoreError>;
    /// Pending requests `who` may be an approver of (by `sub`, email or group), newest first,
    /// at most `limit`. Reads only the caller's own approver-index partitions and the
    /// requests they name, never every pending request.
    async fn pending_for_approver(
        &self,
        who: &Identity,
        limit: i32,
    ) -> Result<ApproverQueue, StoreError>;
    /// Write `request` (if still at `expected_version`) and `principal` (if still at
    /// `principal_expected`, or absent for `None`) in one transaction, with the audit: a
    /// decision that takes an account's lease, or an outcome that releases it. The loser of a
    /// race gets [`StoreError::Conflict`] naming the record that changed.
    async fn update_request_and_principal(
        &self,
        request: &AccessRequest,
        expected_version: u64,
        principal: &PrincipalState,
        principal_expected: Option<u64>,
        audit: &[AuditEvent],
    ) -> Result<(AccessRequest, PrincipalState), StoreError>;
    /// Requests in `status` whose due time is at or before `now` (`None`: any due time),
    /// oldest due first. Served by the sparse due-time index: no scan.
    async fn due_requests(
        &self,
        status: &str,
        now: Option<DateTime<Utc>>,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<AccessRequest>, StoreError>;
}

#[async_trait]
pub trait PrincipalStore: Send + Sync {
    async fn get_principal(
        &self,
        integration: &str,
        name: &str,
    ) -> Result<Option<PrincipalState>, StoreError>;
    async fn save_principal(
        &self,
        principal: &PrincipalState,
        expected_version: Option<u64>,
        audit: &[AuditEvent],
    ) -> Result<PrincipalState, StoreError>;
    /// Lease an existing account to `holder` until `until` with the one conditional update
    /// that also returns it, unless another holder's lease runs past `now`.
    async fn lease_principal(
        &self,
        integration: &str,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Lease, StoreError>;
    async fn delete_principal(
        &self,
        integration: &str,
        name: &str,
        expected_version: u64,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError>;
    async fn principals_of(
        &self,
        integration: &str,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<PrincipalState>, StoreError>;
    /// Idle principals whose cleanup time has come.
    async fn due_principals(
        &self,
        now: DateTime<Utc>,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<PrincipalState>, StoreError>;
}

/// What an administrator's audit log listing asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// The window, both ends included.
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub integration: Option<String>,
    pub actor: Option<String>,
    /// An exact action, or a prefix ending in `.` (`request.` is every request event).
    pub action: Option<String>,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Append events; an event id is written once and never overwritten.
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError>;
    /// Events about `subject`, oldest first.
    async fn audit_of(
        &self,
        subject: &AuditSubject,
        limit: i32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<AuditEvent>, StoreError>;
    /// Every event in the query's window whatever its subject, newest first, filtered. The
    /// reads behind one page are bounded, so a page may hold fewer than `limit` events (even
    /// none) and still have a next cursor.
    async fn audit_log(
        &self,
        query: &AuditQuery,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> Result<Page<AuditEvent>, StoreError>;
}
