//! The cluster's names (`_resolve/index/*?expand_wildcards=all`), read with the connector's
//! credentials and kept briefly: wildcards expand against it, so a new index shows up within
//! the refresh interval. An explicit name is authorized whether or not it exists, except that a
//! write to a name the snapshot lacks needs the right to create it: the snapshot is read again
//! before such a refusal.

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

    /// Forget the snapshot if it was read more than `age` ago, so the next
    /// [`Catalog::refresh`] reads the cluster again (a name created since must not be judged
    /// missing); whether it did.
    pub fn invalidate_if_older(&self, age: Duration) -> bool {
        let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if cur.as_ref().is_some_and(|s| s.at.elapsed() > age) {
            *cur = None;
            return true;
        }
        false
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

#[cfg(test)]
mod recheck_tests {
    use super::*;

    #[test]
    fn only_a_snapshot_older_than_the_recheck_age_is_forgotten() {
        let c = Catalog::new(DEFAULT_CATALOG_TTL);
        assert!(!c.invalidate_if_older(Duration::ZERO), "nothing to forget");
        *c.current.lock().unwrap() = Some(Snapshot {
            at: Instant::now(),
            generation: 1,
            catalog: IndexCatalog::new(DateTime::<Utc>::UNIX_EPOCH),
        });
        assert!(!c.invalidate_if_older(Duration::from_secs(60)));
        assert!(c.is_fresh(1));
        assert!(c.invalidate_if_older(Duration::ZERO));
        assert!(!c.is_fresh(1));
    }
}
