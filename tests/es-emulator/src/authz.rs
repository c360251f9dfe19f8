//! Authorization: a principal's permission as layers of role descriptors, and the 403
//! messages of `AuthorizationDenialMessages`.

use crate::authn::Principal;
use crate::catalog::is_restricted;
use crate::errors::{ApiResponse, forbidden};
use crate::glob;
use crate::privileges;
use crate::roles::{IndicesPrivileges, RoleDescriptor};

/// An action is allowed when every layer allows it. A user has one layer (their roles);
/// an API key has its own role descriptors (when any) and its owner's snapshot, which is
/// how Elasticsearch intersects a key's privileges with its `limited_by` roles.
#[derive(Debug, Clone, Default)]
pub struct Permission {
    pub layers: Vec<Vec<RoleDescriptor>>,
}

fn grant_covers_name(ip: &IndicesPrivileges, name: &str) -> bool {
    (!is_restricted(name) || ip.allow_restricted_indices)
        && ip.names.iter().any(|n| glob::role_pattern_matches(n, name))
}

impl Permission {
    pub fn cluster(&self, action: &str) -> bool {
        self.layers.iter().all(|layer| {
            layer.iter().any(|rd| {
                rd.cluster
                    .iter()
                    .any(|p| privileges::cluster_privilege_grants(p, action))
            })
        })
    }

    pub fn index(&self, action: &str, name: &str) -> bool {
        self.layers.iter().all(|layer| {
            layer.iter().any(|rd| {
                rd.indices.iter().any(|ip| {
                    ip.privileges
                        .iter()
                        .any(|p| privileges::index_privilege_grants(p, action))
                        && grant_covers_name(ip, name)
                })
            })
        })
    }

    /// `_has_privileges` for a cluster privilege or action pattern.
    pub fn has_cluster_privilege(&self, name: &str) -> bool {
        privileges::cluster_representatives(name)
            .iter()
            .all(|a| self.cluster(a))
    }

    /// `_has_privileges` for an index privilege over a name that may be a pattern: the
    /// pattern must be covered by grants of that privilege in every layer.
    pub fn has_index_privilege(
        &self,
        pattern: &str,
        privilege: &str,
        allow_restricted: bool,
    ) -> bool {
        let reps = privileges::index_representatives(privilege);
        // A pattern that can reach restricted indices needs restricted grants only when the
        // caller asked to include them.
        let needs_restricted = allow_restricted
            && (is_restricted(pattern) || pattern.starts_with('*') || pattern.starts_with('?'));
        reps.iter().all(|action| {
            self.layers.iter().all(|layer| {
                layer.iter().any(|rd| {
                    rd.indices.iter().any(|ip| {
                        ip.privileges
                            .iter()
                            .any(|p| privileges::index_privilege_grants(p, action))
                            && (!needs_restricted || ip.allow_restricted_indices)
                            && (!is_restricted(pattern) || ip.allow_restricted_indices)
                            && ip.names.iter().any(|n| glob::covers(n, pattern))
                    })
                })
            })
        })
    }
}

/// `user [x] with effective roles [..]` or `API key id [..] of user [..]`.
fn principal_part(p: &Principal) -> String {
    if let Some(key) = &p.api_key {
        return format!("API key id [{}] of user [{}]", key.id, p.username);
    }
    let mut s = format!(
        "user [{}] with effective roles [{}]",
        p.username,
        p.effective_roles.join(",")
    );
    if !p.missing_roles.is_empty() {
        s.push_str(&format!(
            " (assigned roles [{}] were not found)",
            p.missing_roles.join(",")
        ));
    }
    s
}

pub fn deny_cluster(p: &Principal, action: &str) -> ApiResponse {
    let granting = privileges::cluster_privileges_granting(action);
    let mut msg = format!(
        "action [{action}] is unauthorized for {}",
        principal_part(p)
    );
    if !granting.is_empty() {
        msg.push_str(&format!(
            ", this action is granted by the cluster privileges [{}]",
            granting.join(",")
        ));
    }
    forbidden(&msg)
}

pub fn deny_index(p: &Principal, action: &str, names: &[String]) -> ApiResponse {
    let granting = privileges::index_privileges_granting(action);
    let restricted = !names.is_empty() && names.iter().all(|n| is_restricted(n));
    let mut msg = format!(
        "action [{action}] is unauthorized for {}",
        principal_part(p)
    );
    if !names.is_empty() {
        let what = if restricted {
            "restricted indices"
        } else {
            "indices"
        };
        msg.push_str(&format!(" on {what} [{}]", names.join(",")));
    }
    if !granting.is_empty() {
        msg.push_str(&format!(
            ", this action is granted by the index privileges [{}]",
            granting.join(",")
        ));
    }
    forbidden(&msg)
}

pub fn require_cluster(p: &Principal, action: &str) -> Result<(), ApiResponse> {
    if p.permission.cluster(action) {
        Ok(())
    } else {
        Err(deny_cluster(p, action))
    }
}

/// How much of an API-key action a principal may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScope {
    All,
    Own,
}

/// Full access through `manage_api_key`/`manage_security`/…, or own keys only through
/// `manage_own_api_key`.
pub fn api_key_scope(p: &Principal, action: &str) -> Option<KeyScope> {
    if p.permission.cluster(action) {
        Some(KeyScope::All)
    } else if p
        .permission
        .cluster(&format!("{action}{}", privileges::OWN))
    {
        Some(KeyScope::Own)
    } else {
        None
    }
}
