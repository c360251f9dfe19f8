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

/// Discover through `driver` and store the result.
pub async fn discover<S: ResourceStore + ?Sized>(
    store: &S,
    driver: &dyn Driver,
    integration: &str,
    now: DateTime<Utc>,
) -> Result<DiscoverySummary, DiscoveryError> {
    let found = driver.discover().await?;
    let existing = store.all_resources(integration).await?;
    let (writes, summary) = plan(integration, &found, &existing, now);
    store.put_resources(&writes).await?;
    Ok(summary)
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
