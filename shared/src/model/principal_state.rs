//! The per-principal item: one target-side account (an Elasticsearch user, an Elastic Cloud
//! member) per requester per integration. Changes to its role list go through this item's
//! version, which serializes concurrent grants for the same person.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalState {
    pub integration: String,
    /// Target-side name: the Elasticsearch username or the Elastic Cloud user id / email.
    pub name: String,
    /// The requester's `sub` this account belongs to.
    pub owner_sub: String,
    /// Ids of the grants currently active on this account.
    #[serde(default)]
    pub active_grants: Vec<String>,
    /// Target-side roles the account holds because of those grants.
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_secret_arn: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_grant_ended_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_rotated_at: Option<DateTime<Utc>>,
    /// When an idle account is to be deleted (`user_cleanup_days` after its last grant ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_due_at: Option<DateTime<Utc>>,
    pub version: u64,
}

pub const PRINCIPAL_IDLE: &str = "principal_idle";

impl PrincipalState {
    /// Idle accounts with a cleanup date are swept; accounts in use never are.
    pub fn due(&self) -> Option<(&'static str, DateTime<Utc>)> {
        if self.active_grants.is_empty() {
            self.cleanup_due_at.map(|at| (PRINCIPAL_IDLE, at))
        } else {
            None
        }
    }
}
