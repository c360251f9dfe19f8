//! API-key hygiene: the live API keys on a cluster that never expire, or that live longer than
//! the integration's `api_key_max_lifetime_days`, reported for the operators (Elasticsearch has
//! no maximum lifetime setting of its own, elastic/elasticsearch#65658). Reporting only: keys
//! elastic-jit made are removed with their grants (by revoke, and by the orphan sweep once their
//! grant is no longer live); anyone else's key is the cluster owner's to judge.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The most keys each finding lists (the counts are complete).
pub const MAX_LISTED: usize = 100;

/// One live API key as the report lists it (never its secret, which the cluster does not return).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyFinding {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub creation: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<DateTime<Utc>>,
    /// Whether its metadata says elastic-jit made it (then `grant_id` names the grant).
    pub managed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
}

impl KeyFinding {
    fn lifetime_days(&self) -> Option<i64> {
        self.expiration.map(|e| (e - self.creation).num_days())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Findings {
    pub count: usize,
    /// The first [`MAX_LISTED`], oldest first.
    pub keys: Vec<KeyFinding>,
}

impl Findings {
    fn add(&mut self, k: KeyFinding) {
        self.count += 1;
        if self.keys.len() < MAX_LISTED {
            self.keys.push(k);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeyReport {
    pub read_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_lifetime_days: Option<u32>,
    /// Live (not invalidated, not expired) keys read.
    pub keys_checked: usize,
    /// False when the cluster holds more live keys than one report reads (see the README).
    pub complete: bool,
    pub never_expire: Findings,
    pub over_max_lifetime: Findings,
}

impl ApiKeyReport {
    pub fn new(read_at: DateTime<Utc>, max_lifetime_days: Option<u32>) -> Self {
        Self {
            read_at,
            max_lifetime_days,
            keys_checked: 0,
            complete: true,
            never_expire: Findings::default(),
            over_max_lifetime: Findings::default(),
        }
    }

    /// Judge one live key.
    pub fn judge(&mut self, k: KeyFinding) {
        self.keys_checked += 1;
        match (k.lifetime_days(), self.max_lifetime_days) {
            (None, _) => self.never_expire.add(k),
            (Some(days), Some(max)) if days > i64::from(max) => self.over_max_lifetime.add(k),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(days: Option<i64>) -> KeyFinding {
        let creation = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        KeyFinding {
            id: "k".into(),
            name: "n".into(),
            username: None,
            creation,
            expiration: days.map(|d| creation + chrono::Duration::days(d)),
            managed: false,
            grant_id: None,
        }
    }

    #[test]
    fn keys_are_judged_by_their_whole_lifetime() {
        let mut r = ApiKeyReport::new(Utc::now(), Some(90));
        for d in [None, Some(90), Some(91), Some(1)] {
            r.judge(key(d));
        }
        assert_eq!(r.keys_checked, 4);
        assert_eq!(r.never_expire.count, 1);
        assert_eq!(r.over_max_lifetime.count, 1, "90 days is within, 91 is not");
        let mut r = ApiKeyReport::new(Utc::now(), None);
        r.judge(key(Some(10_000)));
        assert_eq!(
            r.over_max_lifetime.count, 0,
            "no maximum: only never-expiring keys"
        );
        for _ in 0..MAX_LISTED + 5 {
            r.judge(key(None));
        }
        assert_eq!(
            (r.never_expire.count, r.never_expire.keys.len()),
            (MAX_LISTED + 5, MAX_LISTED)
        );
    }
}
