//! The cluster's names (`_resolve/index/*?expand_wildcards=all`), read with the connector's
//! credentials and kept briefly: wildcards expand against it, so a new index shows up within
//! the refresh interval, and an explicit name is authorized whether or not it exists yet.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::upstream::Upstream;
use crate::authz::IndexCatalog;

pub const DEFAULT_CATALOG_TTL: Duration = Duration::from_secs(5);

struct Snapshot {
    at: Instant,
    /// The upstream generation it was read through (a new cluster URL invalidates it).
    generation: u64,
    catalog: IndexCatalog,
}

pub struct Catalog {
    ttl: Duration,
    current: Mutex<Option<Snapshot>>,
    /// One refresh at a time; others wait for it rather than all asking the cluster.
    refreshing: tokio::sync::Mutex<()>,
}

#[derive(Debug, thiserror::Error)]
#[error("the cluster's index catalog could not be read")]
pub struct CatalogUnavailable;

impl Catalog {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            current: Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    fn is_fresh(&self, generation: u64) -> bool {
        let cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        cur.as_ref()
            .is_some_and(|s| s.generation == generation && s.at.elapsed() < self.ttl)
    }

    /// Refreshes the snapshot when it is older than the TTL or was read through another
    /// upstream generation.
    pub async fn refresh(
        &self,
        upstream: &Upstream,
        generation: u64,
    ) -> Result<(), CatalogUnavailable> {
        if self.is_fresh(generation) {
            return Ok(());
        }
        let _one = self.refreshing.lock().await;
        if self.is_fresh(generation) {
            return Ok(());
        }
        let body = upstream
            .json("/_resolve/index/*?expand_wildcards=all")
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "catalog refresh failed");
                CatalogUnavailable
            })?;
        let catalog = IndexCatalog::from_resolve_index(&body, DateTime::<Utc>::UNIX_EPOCH)
            .map_err(|e| {
                tracing::warn!(error = %e, "catalog unreadable");
                CatalogUnavailable
            })?;
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(Snapshot {
            at: Instant::now(),
            generation,
            catalog,
        });
        Ok(())
    }

    /// Runs `f` on the snapshot with its clock at `now` (for date math). Authorization is a
    /// few microseconds of pure computation, so holding the lock for it costs nothing.
    pub fn with<R>(
        &self,
        now: DateTime<Utc>,
        f: impl FnOnce(&IndexCatalog) -> R,
    ) -> Result<R, CatalogUnavailable> {
        let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let snap = cur.as_mut().ok_or(CatalogUnavailable)?;
        snap.catalog.now = now;
        Ok(f(&snap.catalog))
    }
}
