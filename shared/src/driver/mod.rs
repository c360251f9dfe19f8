//! The driver seam: what the functions ask of a target (an Elasticsearch cluster or an
//! Elastic Cloud organization), behind one trait both targets implement. Drivers only talk to
//! the target; state, secrets and policy stay with the callers.

pub mod cloud;
pub mod elasticsearch;
mod error;
pub mod http;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use error::DriverError;

use crate::model::{CredentialMode, Identity, ResolvedPermission, ResourceKind, TargetObject};
use crate::secrets::SecretValue;

/// Marker written into the metadata of everything a driver creates.
pub const MANAGED_BY: &str = "elastic-jit";

/// A resource as the target reports it, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredResource {
    pub name: String,
    pub kind: ResourceKind,
    pub display_name: Option<String>,
    pub owner: Option<String>,
    /// What the resource stands for: an alias's indices or data streams, a data stream's
    /// backing indices (empty for everything else).
    pub targets: Vec<String>,
}

/// The target-side account a grant is attached to, as the state store knows it.
#[derive(Debug, Clone)]
pub struct PrincipalPlan {
    /// Elasticsearch username, or the Elastic Cloud member's email.
    pub name: String,
    /// Whether the account already exists on the target (known from state).
    pub exists: bool,
    /// The account's complete role list once this change is applied (Elasticsearch).
    pub roles_after: Vec<String>,
    /// The account's password: set for a new account, and for `api_key` grants (which
    /// authenticate as the account to create the key).
    pub password: Option<SecretValue>,
}

/// Everything needed to create a grant's access.
#[derive(Debug, Clone)]
pub struct GrantPlan {
    pub grant_id: String,
    pub integration: String,
    pub requester: Identity,
    pub resources: Vec<String>,
    pub permission: ResolvedPermission,
    pub mode: CredentialMode,
    pub ends_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub principal: PrincipalPlan,
}

/// A credential the target issued for a grant (an API key); kept only in Secrets Manager.
#[derive(Debug, Clone)]
pub struct IssuedCredential {
    pub id: String,
    pub encoded: SecretValue,
}

#[derive(Debug, Clone, Default)]
pub struct Provisioned {
    /// What was made, in creation order; revoke removes exactly these.
    pub objects: Vec<TargetObject>,
    pub credential: Option<IssuedCredential>,
    /// A proxy integration's credential: its plaintext goes to the grant's secret, its hashes
    /// to the grant's record.
    pub proxy: Option<crate::proxy_credentials::IssuedProxyCredential>,
}

/// A provision that failed part-way: the error, and what had already been made.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{error}")]
pub struct ProvisionFailure {
    pub error: DriverError,
    pub created: Vec<TargetObject>,
}

/// What revoking a grant must remove, and what its account looks like afterwards.
#[derive(Debug, Clone)]
pub struct RevokePlan {
    pub grant_id: String,
    /// Objects to remove (already filtered of anything another active grant still needs).
    pub objects: Vec<TargetObject>,
    /// For Elasticsearch: the account's role list after the grant's role leaves it, and
    /// whether it is left without any active grant (then it is disabled).
    pub principal: Option<PrincipalAfterRevoke>,
    /// API keys known only by name (an extension's key being issued when the grant ended):
    /// every key of that name is invalidated.
    pub key_names: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct PrincipalAfterRevoke {
    pub name: String,
    pub integration: String,
    /// The requester the account belongs to (its metadata is rewritten with the role list).
    pub owner: Identity,
    pub roles_after: Vec<String>,
    pub disable: bool,
}

/// Something on the target marked as managed by elastic-jit (for the orphan sweep).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedObject {
    pub object: TargetObject,
    /// The integration named in its metadata (several integrations may share a cluster).
    pub integration: Option<String>,
    /// The grant id in its metadata, if any (accounts are shared by grants and carry none).
    pub grant_id: Option<String>,
    /// For an account: what it holds on the target right now.
    pub account: Option<ManagedAccount>,
}

/// A managed account as the target reports it, for the orphan sweep to judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedAccount {
    pub enabled: bool,
    pub roles: Vec<String>,
    /// Kept as it is when the sweep rewrites the account.
    pub email: Option<String>,
}

#[async_trait]
pub trait Driver: Send + Sync {
    /// Can the connector do its job? A missing privilege or role is named in the error.
    async fn check_prerequisites(&self) -> Result<(), DriverError>;

    /// The integration's selected resources, with owners read from the configured tag.
    async fn discover(&self) -> Result<Vec<DiscoveredResource>, DriverError>;

    /// Create the grant's access. On failure, reports what was already made so the caller
    /// can undo it or leave it recorded for the sweep.
    async fn provision(&self, plan: &GrantPlan) -> Result<Provisioned, ProvisionFailure>;

    /// Remove exactly what the plan names. Something already gone counts as removed.
    async fn revoke(&self, plan: &RevokePlan) -> Result<(), DriverError>;

    /// Issue a further API key named `key_name` for an extended `api_key` grant, expiring at
    /// `plan.ends_at`, after invalidating any earlier key of that name (an attempt cut short).
    /// Only Elasticsearch has grant API keys.
    async fn renew_api_key(
        &self,
        plan: &GrantPlan,
        key_name: &str,
    ) -> Result<IssuedCredential, DriverError> {
        let _ = (plan, key_name);
        Err(DriverError::Refused {
            reason: "this target has no grant API keys".into(),
        })
    }

    /// What each of `names` (a grant's index and data stream names) stands for on the target
    /// now, for the people deciding the grant. Only Elasticsearch resolves names.
    async fn resolve_names(
        &self,
        names: &[String],
    ) -> Result<Vec<crate::grant_scope::ResolvedName>, DriverError> {
        let _ = names;
        Err(DriverError::Refused {
            reason: "this target has no index names to resolve".into(),
        })
    }

    /// The live API keys that never expire or outlive the integration's
    /// `api_key_max_lifetime_days`. Only Elasticsearch has cluster API keys.
    async fn api_key_report(
        &self,
        now: DateTime<Utc>,
    ) -> Result<crate::key_hygiene::ApiKeyReport, DriverError> {
        let _ = now;
        Err(DriverError::Refused {
            reason: "this target has no cluster API keys".into(),
        })
    }

    /// The Kibana spaces the connector can see (`kibana_url` set), for administrators writing
    /// custom permissions. Only Elasticsearch integrations name a Kibana.
    async fn kibana_spaces(&self) -> Result<Vec<crate::model::KibanaSpace>, DriverError> {
        Err(DriverError::Refused {
            reason: "this target has no Kibana".into(),
        })
    }

    /// Replace a requester account's password (`user` mode credential rotation).
    async fn set_principal_password(
        &self,
        name: &str,
        password: &SecretValue,
    ) -> Result<(), DriverError>;

    /// Delete a requester account (periodic user cleanup). Already gone counts as done.
    async fn delete_principal(&self, name: &str) -> Result<(), DriverError>;

    /// Everything on the target marked as managed by elastic-jit.
    async fn list_managed(&self) -> Result<Vec<ManagedObject>, DriverError>;

    /// Connector rotation, step `createSecret`: the next connector secret value. Targets
    /// whose credentials are generated server-side (API keys) create them here.
    async fn create_connector_secret(&self) -> Result<SecretValue, DriverError>;

    /// Step `setSecret`: make `pending` valid on the target, authenticating with the current
    /// credentials (or succeed if `pending` already works from an earlier attempt).
    async fn set_connector_secret(&self, pending: &SecretValue) -> Result<(), DriverError>;

    /// Step `testSecret`: `pending` authenticates and still has the required privileges.
    async fn test_connector_secret(&self, pending: &SecretValue) -> Result<(), DriverError>;

    /// After `finishSecret` promoted `new`: retire `old` (e.g. delete the old API key).
    async fn retire_connector_secret(
        &self,
        old: &SecretValue,
        new: &SecretValue,
    ) -> Result<(), DriverError>;
}
