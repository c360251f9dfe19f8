//! The integration the proxy serves and the way to its cluster, re-read every `ttl`: a changed
//! cluster URL, CA, connector secret or `authorization`, or a deleted integration, takes effect
//! within it (a long-running server must not serve yesterday's configuration). An integration
//! that is gone, no longer `proxy`, or whose secret is no longer bound to it is refused
//! outright, for every request, until it is back.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shared::driver::http::HttpClients;
use shared::model::Integration;
use shared::secrets::{AWSCURRENT, SecretStore};
use shared::store::IntegrationStore;
use shared::targets::ensure_bound;

use super::upstream::Upstream;

/// What requests are served with, as of the last read.
pub struct Current {
    pub integration: Integration,
    pub upstream: Arc<Upstream>,
    /// Changes whenever the upstream does (the catalog read through the old one is dropped).
    pub generation: u64,
}

/// Why nothing is served right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotServed {
    /// Deleted, no longer `authorization: proxy`, or its secret not bound to it.
    Withdrawn(String),
    /// Neither the integration nor its secret could be read, and what was read last is too old.
    Unavailable,
}

/// After a failed re-read the last good configuration is kept this long past its TTL (a store
/// hiccup must not take the proxy down), then requests are refused.
const STALE_LIMIT: Duration = Duration::from_secs(60);
/// A failed re-read is retried no sooner than this.
const RETRY_AFTER: Duration = Duration::from_secs(1);

enum State {
    Serving(Arc<Current>),
    Withdrawn(String),
}

struct Snapshot {
    /// When it was read (a good read), or last tried (a failed one).
    checked: Instant,
    /// When the configuration in `state` was last read successfully.
    read: Instant,
    state: State,
}

pub struct Live {
    pub name: String,
    connector_prefix: String,
    store: Arc<dyn IntegrationStore>,
    secrets: Arc<dyn SecretStore>,
    http: Arc<HttpClients>,
    upstream_timeout: Duration,
    ttl: Duration,
    snapshot: Mutex<Snapshot>,
    refreshing: tokio::sync::Mutex<()>,
}

/// Where to read the configuration from, and how long to keep it.
pub struct Sources {
    pub store: Arc<dyn IntegrationStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub http: Arc<HttpClients>,
    pub connector_prefix: String,
    pub upstream_timeout: Duration,
    pub ttl: Duration,
}

impl Live {
    /// Reads the configuration once; an integration not served is an error here (the proxy
    /// does not start for it).
    pub async fn start(name: &str, sources: Sources) -> Result<Self, String> {
        let state = read(name, &sources, None).await?;
        if let State::Withdrawn(why) = state {
            return Err(why);
        }
        let now = Instant::now();
        Ok(Self {
            name: name.to_string(),
            connector_prefix: sources.connector_prefix,
            store: sources.store,
            secrets: sources.secrets,
            http: sources.http,
            upstream_timeout: sources.upstream_timeout,
            ttl: sources.ttl,
            snapshot: Mutex::new(Snapshot {
                checked: now,
                read: now,
                state,
            }),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    /// The configuration to serve this request with, re-read first when older than the TTL.
    pub async fn current(&self) -> Result<Arc<Current>, NotServed> {
        if let Some(fresh) = self.fresh() {
            return fresh;
        }
        let _one = self.refreshing.lock().await;
        if let Some(fresh) = self.fresh() {
            return fresh;
        }
        let previous = match &self.lock().state {
            State::Serving(c) => Some(c.clone()),
            State::Withdrawn(_) => None,
        };
        let sources = Sources {
            store: self.store.clone(),
            secrets: self.secrets.clone(),
            http: self.http.clone(),
            connector_prefix: self.connector_prefix.clone(),
            upstream_timeout: self.upstream_timeout,
            ttl: self.ttl,
        };
        let outcome = read(&self.name, &sources, previous.as_deref()).await;
        let mut snap = self.lock();
        let now = Instant::now();
        match outcome {
            Ok(state) => {
                *snap = Snapshot {
                    checked: now,
                    read: now,
                    state,
                };
            }
            Err(e) => {
                tracing::warn!(integration = %self.name, error = %e, "configuration re-read failed");
                // Try again soon, not on every request.
                snap.checked = now
                    .checked_sub(self.ttl.saturating_sub(RETRY_AFTER))
                    .unwrap_or(now);
            }
        }
        answer(&snap, self.ttl)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Snapshot> {
        self.snapshot.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh(&self) -> Option<Result<Arc<Current>, NotServed>> {
        let snap = self.lock();
        (snap.checked.elapsed() < self.ttl).then(|| answer(&snap, self.ttl))
    }
}

fn answer(snap: &Snapshot, ttl: Duration) -> Result<Arc<Current>, NotServed> {
    match &snap.state {
        State::Withdrawn(why) => Err(NotServed::Withdrawn(why.clone())),
        State::Serving(_) if snap.read.elapsed() > ttl + STALE_LIMIT => Err(NotServed::Unavailable),
        State::Serving(c) => Ok(c.clone()),
    }
}

/// One read of the integration and its secret. `Err` is a failure to read (the caller keeps
/// what it had); `Withdrawn` is a definite answer.
async fn read(name: &str, s: &Sources, previous: Option<&Current>) -> Result<State, String> {
    let integration = match s.store.get_integration(name).await {
        Ok(Some(i)) => i,
        Ok(None) => {
            return Ok(State::Withdrawn(format!(
                "integration {name} does not exist"
            )));
        }
        Err(e) => return Err(format!("the integration could not be read: {e}")),
    };
    if !integration.is_proxy() {
        return Ok(State::Withdrawn(format!(
            "integration {name} does not have authorization \"proxy\""
        )));
    }
    if let Err(e) = ensure_bound(&integration, &s.connector_prefix) {
        return Ok(State::Withdrawn(e.to_string()));
    }
    let secret = s
        .secrets
        .get(&integration.spec.secret_arn, AWSCURRENT)
        .await
        .map_err(|e| format!("the connector secret could not be read: {e}"))?;
    let upstream = Upstream::new(&s.http, &integration, &secret, s.upstream_timeout)
        .map_err(|e| format!("the cluster cannot be configured: {e}"))?;
    // The same cluster, CA and credentials keep the same upstream (and the catalog read through
    // it); any change starts a new generation.
    let (upstream, generation) = match previous {
        Some(p)
            if p.upstream.same_as(&upstream)
                && p.integration.spec.tls.ca_cert == integration.spec.tls.ca_cert =>
        {
            (p.upstream.clone(), p.generation)
        }
        Some(p) => (Arc::new(upstream), p.generation + 1),
        None => (Arc::new(upstream), 0),
    };
    Ok(State::Serving(Arc::new(Current {
        integration,
        upstream,
        generation,
    })))
}
