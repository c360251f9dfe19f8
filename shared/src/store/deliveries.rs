//! Delivery markers: one record per (event, channel, recipient) a notification was sent to, so
//! a stream batch delivered twice (Lambda's event source mappings deliver at least once, and
//! retry a failed batch whole) reaches each person once.
//!
//! A delivery is claimed before it is sent (a conditional write: absent, or an abandoned claim
//! whose lease ran out), marked sent after, and released when sending failed so the retry may
//! claim it again. The one window left is a function that dies after the provider accepted a
//! message and before the marker says so: when the lease runs out the retry sends it again. That
//! duplicate is chosen over the alternative (marking first, and losing the message if the send
//! then fails): a person told twice is better than an approver never told.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use super::StoreError;

/// How long markers are kept (DynamoDB's TTL removes them after this); a stream keeps records
/// for 24 hours, so a replay after this cannot happen.
pub const DELIVERY_RETENTION: Duration = Duration::days(7);

/// One delivery: an event, a channel (`slack`, `email`, `webhook`), a recipient (a Slack user
/// or channel, an address, a webhook URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryKey {
    pub event: String,
    pub channel: &'static str,
    pub recipient: String,
}

impl DeliveryKey {
    /// The marker's sort key: the recipient is hashed, so a webhook URL (which may carry a
    /// token in its query) is never written to the table.
    pub fn sort_key(&self) -> String {
        let digest = hex::encode(Sha256::digest(self.recipient.as_bytes()));
        format!("{}#{}", self.channel, &digest[..32])
    }
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Ours to send now.
    Claimed,
    /// Already sent; `detail` is what the sender recorded (e.g. a Slack channel and message ts).
    Sent { detail: Option<String> },
    /// Another invocation holds a live claim (it sends, or releases on failure).
    InFlight,
}

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Claim `key` for `lease` (absent, or an earlier claim whose lease has run out).
    async fn claim_delivery(
        &self,
        key: &DeliveryKey,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Claim, StoreError>;
    /// Record that `key` was sent, with what the sender wants to find again.
    async fn complete_delivery(
        &self,
        key: &DeliveryKey,
        now: DateTime<Utc>,
        detail: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Give up a claim after a failed send, so a retry may claim it at once.
    async fn release_delivery(&self, key: &DeliveryKey) -> Result<(), StoreError>;
    /// The `detail` recorded for a sent delivery, if any.
    async fn sent_detail(&self, key: &DeliveryKey) -> Result<Option<String>, StoreError>;
}
