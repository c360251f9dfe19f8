//! The per-principal item: one target-side account (an Elasticsearch user, an Elastic Cloud
//! member) per requester per integration. Changes to its role list go through this item's
//! version, which serializes concurrent grants for the same person.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Person, TargetObject};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalState {
    pub integration: String,
    /// Target-side name: the Elasticsearch username or the Elastic Cloud user id / email.
    pub name: String,
    /// The person this account belongs to: the `sub` and issuer of their tokens. Records
    /// written before the issuer was recorded have only `owner_sub`.
    pub owner_sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_issuer: Option<String>,
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
    /// Whether the account exists on the target (false while the first grant is being made).
    #[serde(default)]
    pub provisioned: bool,
    /// Target objects several grants may rely on (Elastic Cloud role assignments that
    /// elastic-jit added), with the active grants that still need each; removed when none do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_objects: Vec<SharedObject>,
    /// A lease serializing changes to this account: the holder's id and its expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_until: Option<DateTime<Utc>>,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedObject {
    pub object: TargetObject,
    pub grants: Vec<String>,
}

pub const PRINCIPAL_IDLE: &str = "principal_idle";

impl PrincipalState {
    /// Idle accounts with a cleanup date are swept; accounts in use never are.
    pub fn new(integration: &str, name: &str, owner_sub: &str, now: DateTime<Utc>) -> Self {
        Self {
            integration: integration.into(),
            name: name.into(),
            owner_sub: owner_sub.into(),
            owner_issuer: None,
            active_grants: vec![],
            roles: vec![],
            enabled: false,
            credential_secret_arn: None,
            created_at: now,
            updated_at: now,
            last_grant_ended_at: None,
            password_rotated_at: None,
            cleanup_due_at: None,
            provisioned: false,
            shared_objects: vec![],
            lock_owner: None,
            lock_until: None,
            version: 0,
        }
    }

    /// A new account owned by `owner`.
    pub fn owned_by(integration: &str, name: &str, owner: &Person, now: DateTime<Utc>) -> Self {
        let mut p = Self::new(integration, name, &owner.sub, now);
        p.owner_issuer = owner.issuer.clone();
        p
    }

    /// The person the account belongs to.
    pub fn owner(&self) -> Person {
        Person {
            issuer: self.owner_issuer.clone(),
            sub: self.owner_sub.clone(),
        }
    }

    /// Is this account `who`'s? An account belongs to exactly one person.
    pub fn is_owned_by(&self, who: &Person) -> bool {
        self.owner().same_as(who)
    }

    pub fn is_locked_by_other(&self, holder: &str, now: DateTime<Utc>) -> bool {
        self.lock_owner.as_deref().is_some_and(|o| o != holder)
            && self.lock_until.is_some_and(|until| until > now)
    }

    pub fn due(&self) -> Option<(&'static str, DateTime<Utc>)> {
        if self.active_grants.is_empty() {
            self.cleanup_due_at.map(|at| (PRINCIPAL_IDLE, at))
        } else {
            None
        }
    }
}
