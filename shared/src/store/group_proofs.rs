//! Group membership proven by a person's identity-provider login, kept for a while so a Slack
//! click can count it (when the operator allows it: `SLACK_TRUST_GROUPS_FOR`). Keyed by the
//! person's trusted email, the only thing a Slack member shares with their IdP identity.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;

/// What one verified token said about its holder, and when the IdP said it (`iat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupProof {
    /// Folded (see [`crate::model::fold_email`]); trusted (verified, or an authoritative IdP).
    pub email: String,
    pub issuer: Option<String>,
    pub sub: String,
    pub groups: Vec<String>,
    pub proven_at: DateTime<Utc>,
}

#[async_trait]
pub trait GroupProofStore: Send + Sync {
    /// Keep `proof` until `keep_until` unless a newer one is already kept (an older token
    /// never replaces what a newer login proved).
    async fn put_group_proof(
        &self,
        proof: &GroupProof,
        keep_until: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The newest proof kept for this (folded) email.
    async fn group_proof(&self, email: &str) -> Result<Option<GroupProof>, StoreError>;
}
