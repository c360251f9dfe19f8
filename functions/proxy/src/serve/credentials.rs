//! Authenticating a request: `Authorization: Basic` or `Authorization: ApiKey` against the proxy
//! credential on the grant's record, read through a short cache.
//!
//! Every failure is the same 401 (no oracle for which part was wrong). Secrets are compared by
//! HMAC verification, in constant time. A credential authenticates only while its grant is
//! `active`, before its `ends_at` (checked here, on every request, whatever the cache holds or
//! any revoke did), and only at the proxy of the grant's own integration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{DateTime, Utc};
use shared::model::{AccessRequest, Integration, RequestStatus};
use shared::proxy_credentials::{grant_of_username, verify};
use shared::store::RequestStore;

use crate::authz::{Grant, GrantEntry};

/// The longest a revoke can go unnoticed: the brief's "within seconds".
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(5);
/// Beyond this many cached grants the cache starts afresh (a flood of made-up ids must not grow
/// memory without bound).
const MAX_ENTRIES: usize = 10_000;

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

struct Cached {
    at: Instant,
    record: Option<Arc<AccessRequest>>,
}

pub struct Authenticator {
    store: Arc<dyn RequestStore>,
    integration: String,
    user_prefix: String,
    ttl: Duration,
    cache: Mutex<HashMap<String, Cached>>,
}

impl Authenticator {
    pub fn new(store: Arc<dyn RequestStore>, integration: &Integration, ttl: Duration) -> Self {
        Self {
            store,
            integration: integration.name.clone(),
            user_prefix: integration.user_prefix().to_string(),
            ttl: ttl.min(MAX_CACHE_TTL),
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub async fn authenticate(
        &self,
        presented: &Presented,
        now: DateTime<Utc>,
    ) -> Result<Session, AuthnFailure> {
        let (grant_id, fail) = match presented {
            Presented::Basic { username, .. } => (
                grant_of_username(&self.user_prefix, username),
                AuthnFailure::BadUser(username.clone()),
            ),
            Presented::ApiKey { id, .. } => (Some(id.as_str()), AuthnFailure::BadApiKey),
        };
        // Grant ids are uuids: anything else is not looked up at all.
        let Some(grant_id) = grant_id.filter(|id| plausible_id(id)) else {
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
            role: format!("{}grant_{}", self.user_prefix, record.id),
        })
    }

    /// The grant's record, at most `ttl` old (absent records are cached too, so a flood of
    /// made-up ids reaches DynamoDB once per id per `ttl`).
    async fn record(&self, id: &str) -> Result<Option<Arc<AccessRequest>>, AuthnFailure> {
        if let Some(hit) = self.cached(id) {
            return Ok(hit);
        }
        let record = self.store.get_request(id).await.map_err(|e| {
            tracing::warn!(error = %e, "the grant's record could not be read");
            AuthnFailure::Unavailable
        })?;
        let record = record.map(Arc::new);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_ENTRIES {
            cache.clear();
        }
        cache.insert(
            id.to_string(),
            Cached {
                at: Instant::now(),
                record: record.clone(),
            },
        );
        Ok(record)
    }

    fn cached(&self, id: &str) -> Option<Option<Arc<AccessRequest>>> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(id)
            .filter(|c| c.at.elapsed() < self.ttl)
            .map(|c| c.record.clone())
    }
}

fn plausible_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
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
        assert!(plausible_id("0b6f6a1e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"));
        assert!(!plausible_id("a/b") && !plausible_id("") && !plausible_id(&"a".repeat(65)));
    }
}
