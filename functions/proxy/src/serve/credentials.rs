//! Authenticating a request: `Authorization: Basic` or `Authorization: ApiKey` against the proxy
//! credential on the grant's record, read through a short cache.
//!
//! Every failure is the same 401 (no oracle for which part was wrong). Secrets are compared by
//! HMAC verification, in constant time. A credential authenticates only while its grant is
//! `active`, before its `ends_at` (checked here, on every request, whatever the cache holds or
//! any revoke did), and only at the proxy of the grant's own integration.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use lru::LruCache;
use shared::model::{AccessRequest, MAX_BUNDLE_ITEMS, RequestStatus};
use shared::proxy_credentials::{grant_of_username, verify};
use shared::store::{RequestStore, StoreError};

use crate::authz::{Grant, GrantEntry};

/// The longest a revoke can go unnoticed: the brief's "within seconds".
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(5);
/// Grant records kept (real grants only: an id nobody issued never enters this cache).
pub const MAX_KNOWN: usize = 10_000;
/// Ids found to name no record. A flood of made-up ids evicts only the oldest of these, one at
/// a time: it can neither grow memory nor flush the cache for everyone else.
pub const MAX_UNKNOWN: usize = 10_000;

/// What authentication reads of the store: one grant record by id (a seam narrower than
/// [`RequestStore`], so the caches can be tested by counting reads).
pub trait GrantRecords: Send + Sync {
    fn grant_record<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<AccessRequest>, StoreError>>;
}

/// The request store, read through [`GrantRecords`].
pub struct StoreRecords(pub Arc<dyn RequestStore>);

impl GrantRecords for StoreRecords {
    fn grant_record<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<AccessRequest>, StoreError>> {
        self.0.get_request(id)
    }
}

/// The credential a request presents.
pub enum Presented {
    Basic { username: String, password: String },
    ApiKey { id: String, secret: String },
}

/// Why a request is not authenticated (all answered 401 alike).
#[derive(Debug, PartialEq, Eq)]
pub enum AuthnFailure {
    Missing,
    /// The user named (a Basic username, as Elasticsearch names it in its 401).
    BadUser(String),
    BadApiKey,
    /// The grant could not be read: answered 503, never let through.
    Unavailable,
}

/// The `Authorization` header, parsed. `None` when absent; an unreadable header fails like a
/// wrong credential.
pub fn presented(header: Option<&str>) -> Result<Option<Presented>, AuthnFailure> {
    let Some(h) = header else {
        return Ok(None);
    };
    let (scheme, rest) = h.trim().split_once(' ').ok_or(AuthnFailure::BadApiKey)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    if scheme.eq_ignore_ascii_case("basic") {
        let text = decoded.ok_or(AuthnFailure::BadUser(String::new()))?;
        let (u, p) = text
            .split_once(':')
            .ok_or(AuthnFailure::BadUser(String::new()))?;
        Ok(Some(Presented::Basic {
            username: u.to_string(),
            password: p.to_string(),
        }))
    } else if scheme.eq_ignore_ascii_case("apikey") {
        let text = decoded.ok_or(AuthnFailure::BadApiKey)?;
        let (id, secret) = text.split_once(':').ok_or(AuthnFailure::BadApiKey)?;
        Ok(Some(Presented::ApiKey {
            id: id.to_string(),
            secret: secret.to_string(),
        }))
    } else {
        // Bearer tokens and other schemes: this proxy has no realm for them.
        Err(AuthnFailure::BadApiKey)
    }
}

/// An authenticated request's principal and grant.
pub struct Session {
    pub grant_id: String,
    pub username: String,
    /// The requester, as the audit lines name them (their email, else `sub:<sub>`).
    pub requester: String,
    pub api_key_id: Option<String>,
    pub resources: Vec<String>,
    pub privileges: Vec<String>,
    pub role: String,
}

impl Session {
    /// The engine's view of the grant: one `indices` entry, as the native role would hold.
    pub fn grant(&self) -> Result<Grant, crate::authz::GrantError> {
        let names: Vec<&str> = self.resources.iter().map(String::as_str).collect();
        let privileges: Vec<&str> = self.privileges.iter().map(String::as_str).collect();
        Ok(Grant {
            user: self.username.clone(),
            roles: vec![self.role.clone()],
            api_key_id: self.api_key_id.clone(),
            entries: vec![GrantEntry::new(&names, &privileges)?],
        })
    }
}

/// Records found and ids not found, each bounded on its own, each entry valid for `ttl`.
struct Caches {
    known: LruCache<String, (Instant, Arc<AccessRequest>)>,
    unknown: LruCache<String, Instant>,
}

pub struct Authenticator {
    store: Arc<dyn GrantRecords>,
    integration: String,
    ttl: Duration,
    caches: Mutex<Caches>,
}

impl Authenticator {
    /// For the integration named `integration`.
    pub fn new(store: Arc<dyn RequestStore>, integration: &str, ttl: Duration) -> Self {
        Self::with_records(
            Arc::new(StoreRecords(store)),
            integration,
            ttl,
            (MAX_KNOWN, MAX_UNKNOWN),
        )
    }

    /// `capacity` is (records kept, unknown ids kept).
    pub fn with_records(
        store: Arc<dyn GrantRecords>,
        integration: &str,
        ttl: Duration,
        capacity: (usize, usize),
    ) -> Self {
        let cap = |n: usize| NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN);
        Self {
            store,
            integration: integration.to_string(),
            ttl: ttl.min(MAX_CACHE_TTL),
            caches: Mutex::new(Caches {
                known: LruCache::new(cap(capacity.0)),
                unknown: LruCache::new(cap(capacity.1)),
            }),
        }
    }

    /// `user_prefix` is the integration's as last read (usernames are `<prefix>proxy_<grant>`).
    pub async fn authenticate(
        &self,
        presented: &Presented,
        now: DateTime<Utc>,
        user_prefix: &str,
    ) -> Result<Session, AuthnFailure> {
        let (grant_id, fail) = match presented {
            Presented::Basic { username, .. } => (
                grant_of_username(user_prefix, username),
                AuthnFailure::BadUser(username.clone()),
            ),
            Presented::ApiKey { id, .. } => (Some(id.as_str()), AuthnFailure::BadApiKey),
        };
        // Grant ids are as issued (a uuid, or a bundle child's `<uuid>-b<n>`): anything else is
        // not looked up, nor cached, at all.
        let Some(grant_id) = grant_id.filter(|id| issued_id(id)) else {
            return Err(fail);
        };
        let record = self.record(grant_id).await?.ok_or(fail)?;
        let fail = || match presented {
            Presented::Basic { username, .. } => AuthnFailure::BadUser(username.clone()),
            Presented::ApiKey { .. } => AuthnFailure::BadApiKey,
        };
        let usable = record.integration == self.integration
            && record.status == RequestStatus::Active
            && record.ends_at.is_some_and(|end| now < end);
        let Some(cred) = record.proxy_credential.as_ref().filter(|_| usable) else {
            return Err(fail());
        };
        let api_key_id = match presented {
            Presented::Basic { username, password } => {
                if *username != cred.username || !verify(&cred.password, password) {
                    return Err(fail());
                }
                None
            }
            Presented::ApiKey { id, secret } => {
                if *id != cred.key_id || !verify(&cred.key, secret) {
                    return Err(fail());
                }
                Some(id.clone())
            }
        };
        Ok(Session {
            grant_id: record.id.clone(),
            username: cred.username.clone(),
            requester: record.requester.display(),
            api_key_id,
            resources: record.resources.clone(),
            privileges: cred.privileges.clone(),
            role: format!("{user_prefix}grant_{}", record.id),
        })
    }

    /// The grant's record, at most `ttl` old (absent records are cached too, so a flood of
    /// made-up ids reaches DynamoDB once per id per `ttl`).
    async fn record(&self, id: &str) -> Result<Option<Arc<AccessRequest>>, AuthnFailure> {
        if let Some(hit) = self.cached(id) {
            return Ok(hit);
        }
        let record = self.store.grant_record(id).await.map_err(|e| {
            tracing::warn!(error = %e, "the grant's record could not be read");
            AuthnFailure::Unavailable
        })?;
        let record = record.map(Arc::new);
        let mut caches = self.caches.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match &record {
            Some(r) => {
                caches.unknown.pop(id);
                caches.known.put(id.to_string(), (now, r.clone()));
            }
            None => {
                caches.known.pop(id);
                caches.unknown.put(id.to_string(), now);
            }
        }
        Ok(record)
    }

    /// `Some(record or None)` when a fresh entry is cached. `peek` leaves the order alone:
    /// entries leave oldest-written first, however often an attacker repeats an id.
    fn cached(&self, id: &str) -> Option<Option<Arc<AccessRequest>>> {
        let caches = self.caches.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, r)) = caches.known.peek(id) {
            return (at.elapsed() < self.ttl).then(|| Some(r.clone()));
        }
        caches
            .unknown
            .peek(id)
            .filter(|at| at.elapsed() < self.ttl)
            .map(|_| None)
    }
}

/// An id as provisioning issues it: a lowercase hyphenated uuid (`Uuid::to_string`), or a
/// bundle child's `<uuid>-b<n>`. Other spellings of the same uuid (upper case, braces, `urn:`)
/// are refused, so one grant has one cache key.
pub fn issued_id(id: &str) -> bool {
    let (base, child) = match id.get(36..) {
        Some("") => (id, None),
        Some(rest) => (&id[..36], rest.strip_prefix("-b")),
        None => return false,
    };
    let canonical = uuid::Uuid::try_parse(base).is_ok_and(|u| u.hyphenated().to_string() == base);
    let child_ok = match child {
        None => id.len() == 36,
        Some(n) => {
            !n.starts_with('0')
                && n.parse::<usize>()
                    .is_ok_and(|n| (1..=MAX_BUNDLE_ITEMS).contains(&n))
        }
    };
    canonical && child_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(scheme: &str, raw: &str) -> String {
        format!(
            "{scheme} {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    #[test]
    fn authorization_headers_parse_or_fail_closed() {
        assert!(matches!(presented(None), Ok(None)));
        assert!(matches!(
            presented(Some(&header("Basic", "u:p:with:colons"))),
            Ok(Some(Presented::Basic { username, password })) if username == "u" && password == "p:with:colons"
        ));
        assert!(matches!(
            presented(Some(&header("ApiKey", "id:secret"))),
            Ok(Some(Presented::ApiKey { id, secret })) if id == "id" && secret == "secret"
        ));
        for bad in [
            "Bearer abc".to_string(),
            "Basic".to_string(),
            "Basic !!!".to_string(),
            header("Basic", "no-colon"),
            header("ApiKey", "no-colon"),
        ] {
            assert!(presented(Some(&bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_ids_as_issued_are_looked_up() {
        let id = uuid::Uuid::new_v4().to_string();
        assert!(issued_id(&id));
        assert!(issued_id(&shared::model::child_id(&id, 0)));
        assert!(issued_id(&shared::model::child_id(
            &id,
            MAX_BUNDLE_ITEMS - 1
        )));
        let u = uuid::Uuid::parse_str(&id).unwrap();
        for bad in [
            String::new(),
            "a/b".to_string(),
            "x".repeat(36),
            id.to_uppercase(),
            u.simple().to_string(),
            u.braced().to_string(),
            u.urn().to_string(),
            format!("{id}-b0"),
            format!("{id}-b01"),
            format!("{id}-b{}", MAX_BUNDLE_ITEMS + 1),
            format!("{id}-b"),
            format!("{id}x"),
            format!("{id}-b1-b1"),
            format!(" {id}"),
            id[..35].to_string(),
        ] {
            assert!(!issued_id(&bad), "{bad:?}");
        }
    }

    /// Counts reads; knows one record.
    struct Counting {
        reads: std::sync::atomic::AtomicUsize,
        known: AccessRequest,
    }

    impl GrantRecords for Counting {
        fn grant_record<'a>(
            &'a self,
            id: &'a str,
        ) -> BoxFuture<'a, Result<Option<AccessRequest>, StoreError>> {
            self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let found = (id == self.known.id).then(|| self.known.clone());
            Box::pin(async move { Ok(found) })
        }
    }

    impl Counting {
        fn reads(&self) -> usize {
            self.reads.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    fn record(id: &str) -> AccessRequest {
        serde_json::from_value(serde_json::json!({
            "id": id, "integration": "prod-search", "flow": "f", "requester": {"sub": "dev"},
            "resources": ["logs"], "permission": "read", "duration_secs": 3600,
            "status": "active", "created_at": "2026-11-01T00:00:00Z",
            "updated_at": "2026-11-01T00:00:00Z", "approval_expires_at": "2026-11-01T00:00:00Z",
            "version": 1
        }))
        .unwrap()
    }

    fn key(id: &str) -> Presented {
        Presented::ApiKey {
            id: id.to_string(),
            secret: "wrong".into(),
        }
    }

    #[tokio::test]
    async fn a_spray_of_made_up_ids_evicts_only_the_oldest_unknown_ones() {
        let real = uuid::Uuid::new_v4().to_string();
        let store = Arc::new(Counting {
            reads: Default::default(),
            known: record(&real),
        });
        let authn = Authenticator::with_records(
            store.clone(),
            "prod-search",
            Duration::from_secs(5),
            (4, 8),
        );
        let now = Utc::now();
        // The real grant is read once (a wrong secret still fails, after the lookup).
        assert!(authn.authenticate(&key(&real), now, "ejit_").await.is_err());
        assert_eq!(store.reads(), 1);
        let sprayed: Vec<String> = (0..100).map(|_| uuid::Uuid::new_v4().to_string()).collect();
        for id in &sprayed {
            assert_eq!(
                authn.authenticate(&key(id), now, "ejit_").await.err(),
                Some(AuthnFailure::BadApiKey)
            );
        }
        assert_eq!(store.reads(), 101);
        // The real grant's record survived the spray: no new read.
        let _ = authn.authenticate(&key(&real), now, "ejit_").await;
        assert_eq!(store.reads(), 101, "the spray flushed the known grant");
        // The newest 8 unknown ids are still cached; the oldest went, one by one.
        for id in &sprayed[92..] {
            let _ = authn.authenticate(&key(id), now, "ejit_").await;
        }
        assert_eq!(store.reads(), 101, "the newest unknown ids were flushed");
        let _ = authn.authenticate(&key(&sprayed[0]), now, "ejit_").await;
        assert_eq!(store.reads(), 102);
    }

    #[tokio::test]
    async fn ids_not_as_issued_never_reach_the_store() {
        let store = Arc::new(Counting {
            reads: Default::default(),
            known: record(&uuid::Uuid::new_v4().to_string()),
        });
        let authn = Authenticator::with_records(
            store.clone(),
            "prod-search",
            Duration::from_secs(5),
            (4, 4),
        );
        let u = uuid::Uuid::new_v4();
        for id in [
            u.to_string().to_uppercase(),
            u.braced().to_string(),
            "../../etc".to_string(),
            "a".repeat(64),
        ] {
            assert!(
                authn
                    .authenticate(&key(&id), Utc::now(), "ejit_")
                    .await
                    .is_err()
            );
            let basic = Presented::Basic {
                username: format!("ejit_proxy_{id}"),
                password: "p".into(),
            };
            assert!(
                authn
                    .authenticate(&basic, Utc::now(), "ejit_")
                    .await
                    .is_err()
            );
        }
        assert_eq!(store.reads(), 0);
    }
}
