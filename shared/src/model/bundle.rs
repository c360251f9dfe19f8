//! Bundles: several grants, possibly on different integrations, requested and approved as one.
//!
//! A flow with `bundle` names its items. A request through it is one *parent* request that is
//! approved (or rejected, cancelled, expired) as a whole; the write that fully approves it
//! creates one *child* request per item in the same transaction, each an ordinary grant on its
//! own integration with its own account, credentials and expiry schedule. A child's id is
//! derived from its parent's and its item's position, so a retried approval can never make a
//! second set.

use serde::{Deserialize, Serialize};

use super::integration::{Integration, IntegrationKind, check_patterns};
use crate::validation::{ValidationErrors, check_name};

/// A bundle names at least this many items (one item is an ordinary flow).
pub const MIN_BUNDLE_ITEMS: usize = 2;
/// And at most this many: children, their index items and the parent commit in one
/// transaction (100 writes).
pub const MAX_BUNDLE_ITEMS: usize = 10;

/// The stable code of a decision, cancel or extension aimed at a bundle's child: children are
/// decided only through their parent.
pub const BUNDLE_CHILD: &str = "bundle_child";
/// The stable code of a flow setting that a bundle flow cannot have.
pub const BUNDLE_CONFLICT: &str = "bundle_conflict";

/// One item of a bundle flow, validated as a single flow's integration, resources and one of
/// its permissions are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleItem {
    pub integration: String,
    /// Names or `*` patterns, expanded to the live resources when a request is made.
    pub resources: Vec<String>,
    pub permission: String,
}

/// One item of a bundle request, as resolved when it was made: what its child will grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundlePart {
    pub integration: String,
    /// The concrete resources (patterns expanded, aliases replaced by what they point to).
    pub resources: Vec<String>,
    /// The item's resources as the flow names them.
    pub requested_resources: Vec<String>,
    pub permission: String,
}

/// The id of a bundle's child for its item at `index` (0-based): the parent's id and the
/// item's position, so every attempt at creating it names the same record.
pub fn child_id(parent: &str, index: usize) -> String {
    format!("{parent}-b{}", index + 1)
}

/// What a bundle parent's reader learns of each child: what it grants, where, and how it
/// stands (its credentials are read from the child itself, by its requester alone).
pub fn child_summary(c: &super::AccessRequest) -> serde_json::Value {
    serde_json::json!({
        "id": c.id,
        "integration": c.integration,
        "resources": c.resources,
        "permission": c.permission,
        "status": c.status,
        "status_reason": c.status_reason,
        "starts_at": c.starts_at,
        "ends_at": c.ends_at,
    })
}

/// Check a bundle flow's items. `integrations[i]` is the stored integration item `i` names,
/// if it exists.
pub(crate) fn check_items(
    e: &mut ValidationErrors,
    items: &[BundleItem],
    integrations: &[Option<Integration>],
) {
    if !(MIN_BUNDLE_ITEMS..=MAX_BUNDLE_ITEMS).contains(&items.len()) {
        e.push(
            "invalid_bundle",
            "bundle",
            format!(
                "a bundle names {MIN_BUNDLE_ITEMS} to {MAX_BUNDLE_ITEMS} items (got {}); one \
                 item is an ordinary flow",
                items.len()
            ),
        );
    }
    for (n, item) in items.iter().enumerate() {
        let field = format!("bundle[{n}]");
        check_name(e, &format!("{field}.integration"), &item.integration);
        if item.resources.is_empty() {
            e.push(
                "empty_resource_patterns",
                format!("{field}.resources"),
                "each bundle item needs at least one name or wildcard pattern",
            );
        }
        check_patterns(e, &format!("{field}.resources"), &item.resources, false);
        match integrations.get(n).and_then(Option::as_ref) {
            None => e.push(
                "unknown_integration",
                format!("{field}.integration"),
                format!("integration {:?} does not exist", item.integration),
            ),
            Some(i) if i.resolve_permission(&item.permission).is_none() => e.push(
                "unknown_permission",
                format!("{field}.permission"),
                format!(
                    "{:?} is not a permission of integration {:?}",
                    item.permission, i.name
                ),
            ),
            Some(_) => {}
        }
    }
    // Two identical items would be two grants of the same thing under one approval.
    for (n, item) in items.iter().enumerate() {
        if items[..n].contains(item) {
            e.push(
                "invalid_bundle",
                format!("bundle[{n}]"),
                format!("bundle[{n}] repeats an earlier item"),
            );
        }
    }
}

/// Does any item name an Elastic Cloud integration (where `credential_mode` has no meaning)?
pub(crate) fn has_cloud_item(integrations: &[Option<Integration>]) -> bool {
    integrations
        .iter()
        .flatten()
        .any(|i| i.kind() == IntegrationKind::ElasticCloud)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_ids_are_derived_from_the_parent_and_the_position() {
        let parent = "0b9f0b8e-4f8a-4a59-9c43-2f1d3f0d6a11";
        assert_eq!(child_id(parent, 0), format!("{parent}-b1"));
        assert_eq!(child_id(parent, 9), format!("{parent}-b10"));
        assert_ne!(child_id(parent, 0), child_id(parent, 1));
        // Fits the 64 characters a request id may have (and a schedule name's limit).
        assert!(child_id(parent, MAX_BUNDLE_ITEMS - 1).len() <= 40);
    }
}
