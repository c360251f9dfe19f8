//! Reconciles what a target reports with the stored resources: new ones appear, changed ones
//! are updated, missing ones are marked gone (never deleted, so old grants still resolve), and
//! unchanged ones cost no write.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::driver::{DiscoveredResource, Driver, DriverError};
use crate::model::Resource;
use crate::store::{ResourceStore, StoreError};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DiscoverySummary {
    pub total: usize,
    pub added: usize,
    pub updated: usize,
    pub gone: usize,
    pub unchanged: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What would change, without writing: used to discover before anything is stored.
pub fn plan(
    integration: &str,
    found: &[DiscoveredResource],
    existing: &[Resource],
    now: DateTime<Utc>,
) -> (Vec<Resource>, DiscoverySummary) {
    let mut by_name: HashMap<&str, &Resource> =
        existing.iter().map(|r| (r.name.as_str(), r)).collect();
    let mut writes = Vec::new();
    let mut summary = DiscoverySummary {
        total: found.len(),
        ..Default::default()
    };
    for d in found {
        match by_name.remove(d.name.as_str()) {
            Some(old)
                if old.kind == d.kind
                    && old.owner == d.owner
                    && old.display_name == d.display_name
                    && old.targets == d.targets
                    && !old.is_gone() =>
            {
                summary.unchanged += 1;
            }
            old => {
                if old.is_some() {
                    summary.updated += 1;
                } else {
                    summary.added += 1;
                }
                writes.push(Resource {
                    integration: integration.to_string(),
                    name: d.name.clone(),
                    kind: d.kind,
                    display_name: d.display_name.clone(),
                    owner: d.owner.clone(),
                    targets: d.targets.clone(),
                    discovered_at: old.map_or(now, |o| o.discovered_at),
                    gone_since: None,
                });
            }
        }
    }
    for old in by_name.into_values() {
        if !old.is_gone() {
            summary.gone += 1;
            let mut gone = old.clone();
            gone.gone_since = Some(now);
            writes.push(gone);
        }
    }
    (writes, summary)
}

/// How long a recorded snapshot hash lets discovery skip the comparison: at least this often
/// the stored snapshot is compared in full, which repairs anything a race left behind.
pub const SNAPSHOT_TRUST: chrono::Duration = chrono::Duration::hours(6);

/// A content hash of what a discovery found: equal exactly when the same resources (names,
/// kinds, display names, owners, targets) were found, whatever the order.
pub fn snapshot_hash(found: &[DiscoveredResource]) -> String {
    use sha2::{Digest, Sha256};
    let mut rows: Vec<(&str, serde_json::Value)> = found
        .iter()
        .map(|d| {
            (
                d.name.as_str(),
                serde_json::json!([d.name, d.kind, d.display_name, d.owner, d.targets]),
            )
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    let mut hasher = Sha256::new();
    for (_, row) in rows {
        hasher.update(row.to_string().as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

/// Store `found` as the integration's snapshot, skipping the comparison (and every read and
/// write of the snapshot) when it hashes to what was stored last. `generation` tells apart an
/// integration deleted and registered again under the same name (its creation time).
pub async fn store_snapshot<S: ResourceStore + ?Sized>(
    store: &S,
    integration: &str,
    generation: &str,
    found: &[DiscoveredResource],
    now: DateTime<Utc>,
) -> Result<Snapshot, StoreError> {
    let hash = snapshot_hash(found);
    if store
        .snapshot_hash(integration, generation, now, SNAPSHOT_TRUST)
        .await?
        .as_deref()
        == Some(hash.as_str())
    {
        return Ok(Snapshot {
            summary: DiscoverySummary {
                total: found.len(),
                unchanged: found.len(),
                ..Default::default()
            },
            written: vec![],
        });
    }
    // Announced before writing, recorded after: a writer that began later wins, so a hash is
    // never recorded for a snapshot another discovery was rewriting meanwhile.
    let writer = uuid::Uuid::new_v4().to_string();
    store
        .begin_snapshot(integration, generation, &writer)
        .await?;
    let existing = store.snapshot_resources(integration).await?;
    let (writes, summary) = plan(integration, found, &existing, now);
    store.put_resources(&writes).await?;
    match store
        .finish_snapshot(integration, generation, &writer, &hash, now)
        .await
    {
        Ok(true) => {}
        // Another discovery began while this one ran, and its writes and this one's may have
        // interleaved: neither hash can vouch for the mix, so none stays recorded and the
        // next run compares in full.
        Ok(false) => {
            let wipe = uuid::Uuid::new_v4().to_string();
            if let Err(e) = store.begin_snapshot(integration, generation, &wipe).await {
                tracing::warn!(integration, error = %e, "forgetting the discovery's hash");
            }
        }
        // The snapshot is stored; only the next comparison will not be skipped.
        Err(e) => tracing::warn!(integration, error = %e, "recording the discovery's hash"),
    }
    Ok(Snapshot {
        summary,
        written: writes.into_iter().map(|r| r.name).collect(),
    })
}

/// What [`store_snapshot`] did.
pub struct Snapshot {
    pub summary: DiscoverySummary,
    /// The resources it wrote (added, changed or marked gone).
    pub written: Vec<String>,
}

/// Discover through `driver` and store the result.
pub async fn discover<S: ResourceStore + ?Sized>(
    store: &S,
    driver: &dyn Driver,
    integration: &str,
    generation: &str,
    now: DateTime<Utc>,
) -> Result<DiscoverySummary, DiscoveryError> {
    let found = driver.discover().await?;
    Ok(store_snapshot(store, integration, generation, &found, now)
        .await?
        .summary)
}

/// An integration's generation for [`store_snapshot`].
pub fn generation(created_at: DateTime<Utc>) -> String {
    created_at.to_rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ResourceKind;

    fn found(name: &str, owner: Option<&str>) -> DiscoveredResource {
        DiscoveredResource {
            name: name.into(),
            kind: ResourceKind::Index,
            display_name: None,
            owner: owner.map(String::from),
            targets: vec![],
        }
    }

    #[test]
    fn the_snapshot_hash_ignores_order_and_sees_every_field() {
        let a = [found("a", None), found("b", Some("x"))];
        let h = snapshot_hash(&a);
        assert_eq!(h, snapshot_hash(&[found("b", Some("x")), found("a", None)]));
        assert_ne!(h, snapshot_hash(&[found("a", None), found("b", Some("y"))]));
        assert_ne!(h, snapshot_hash(&[found("a", None)]));
        let mut alias = found("a", None);
        alias.targets = vec!["b".into()];
        assert_ne!(h, snapshot_hash(&[alias, found("b", Some("x"))]));
        // A name cannot smuggle a row boundary: rows are JSON, one per line.
        assert_ne!(
            snapshot_hash(&[found("a\"],[\"b", None)]),
            snapshot_hash(&[found("a", None), found("b", None)])
        );
    }

    #[test]
    fn new_changed_gone_and_unchanged() {
        let t0 = Utc::now();
        let (first, s) = plan("prod", &[found("a", None), found("b", Some("x"))], &[], t0);
        assert_eq!((s.added, s.total), (2, 2));
        let t1 = t0 + chrono::Duration::hours(1);
        let (writes, s) = plan(
            "prod",
            &[found("a", None), found("b", Some("y")), found("c", None)],
            &first,
            t1,
        );
        assert_eq!((s.added, s.updated, s.unchanged, s.gone), (1, 1, 1, 0));
        assert_eq!(writes.len(), 2);
        let (writes, s) = plan("prod", &[found("b", Some("x"))], &first, t1);
        assert_eq!(s.gone, 1);
        let gone = writes.iter().find(|r| r.name == "a").unwrap();
        assert_eq!(gone.gone_since, Some(t1));
        // A resource that comes back is live again.
        let (writes, s) = plan("prod", &[found("a", None)], std::slice::from_ref(gone), t1);
        assert_eq!((s.updated, writes[0].gone_since), (1, None));
    }
}
