//! Cross-cluster search: a custom permission may also grant index privileges on a remote
//! cluster's indices, each written as `<cluster alias>:<index pattern>` (`eu-cluster:logs-*`),
//! as a search request names them. Discovery cannot list a remote cluster's indices, so the
//! administrator types them; a requester only picks the permission, never the remote names.
//!
//! The role gets one `remote_indices` entry per cluster alias (`{clusters, names,
//! privileges}`, Elasticsearch's `RemoteIndicesPrivileges`, role API 8.14+), which the remote
//! cluster enforces under the API-key-based remote cluster security model.

use serde::{Deserialize, Serialize};

use crate::validation::ValidationErrors;

pub const MAX_REMOTE_ENTRIES: usize = 10;
pub const MAX_REMOTE_RESOURCES: usize = 20;
const MAX_ALIAS_LEN: usize = 64;

/// One entry of a custom permission's `remote_indices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteIndexGrant {
    /// `<cluster alias>:<index name or pattern>`.
    pub resources: Vec<String>,
    /// Index privileges on them (`read` and `read_cross_cluster` for a search).
    pub privileges: Vec<String>,
}

/// A resource split at its first `:` into cluster alias and index pattern.
pub fn split_remote(resource: &str) -> Option<(&str, &str)> {
    resource
        .split_once(':')
        .filter(|(alias, pattern)| !alias.is_empty() && !pattern.is_empty())
}

/// A cluster alias as written in `cluster.remote.<alias>.*`: no wildcard, so a grant can never
/// reach a cluster connected after it was approved, and nothing Elasticsearch would read as an
/// expression (`*`, `,`, `-` exclusions, `_local`-style reserved names).
fn alias_ok(alias: &str) -> bool {
    (1..=MAX_ALIAS_LEN).contains(&alias.len())
        && !alias.starts_with(['-', '_', '.'])
        && alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// An index name or pattern on the remote cluster: `*` wildcards allowed, but no second `:`
/// (another alias), no exclusion or date-math prefix, no commas, spaces or control characters.
fn pattern_ok(pattern: &str) -> bool {
    (1..=255).contains(&pattern.len())
        && !pattern.starts_with(['-', '+', '_', '<'])
        && !pattern
            .chars()
            .any(|c| ":,\"\\/|<>?#".contains(c) || c.is_whitespace() || c.is_control())
}

pub(crate) fn check_remote_indices(
    e: &mut ValidationErrors,
    field: &str,
    grants: &[RemoteIndexGrant],
) {
    if grants.len() > MAX_REMOTE_ENTRIES {
        e.push(
            "too_many_remote_indices",
            field,
            format!("{field} may have at most {MAX_REMOTE_ENTRIES} entries"),
        );
    }
    for (i, g) in grants.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if g.resources.is_empty() || g.resources.len() > MAX_REMOTE_RESOURCES {
            e.push(
                "invalid_remote_resources",
                format!("{f}.resources"),
                format!(
                    "{f}.resources needs 1 to {MAX_REMOTE_RESOURCES} names like eu-cluster:logs-*"
                ),
            );
        }
        for (j, r) in g.resources.iter().enumerate() {
            let rf = format!("{f}.resources[{j}]");
            match split_remote(r) {
                None => e.push(
                    "invalid_remote_resource",
                    rf.clone(),
                    format!(
                        "{rf} must be <cluster alias>:<index pattern>, e.g. eu-cluster:logs-* \
                         (got {r:?})"
                    ),
                ),
                Some((alias, pattern)) => {
                    if !alias_ok(alias) {
                        e.push(
                            "invalid_cluster_alias",
                            rf.clone(),
                            format!(
                                "{rf}: the cluster alias must be the exact name of one remote \
                                 cluster, 1 to {MAX_ALIAS_LEN} letters, digits, '-', '_' or '.' \
                                 not starting with '-', '_' or '.'; wildcards are refused, since \
                                 they would reach clusters connected later (got {alias:?})"
                            ),
                        );
                    }
                    if !pattern_ok(pattern) {
                        e.push(
                            "invalid_pattern",
                            rf.clone(),
                            format!(
                                "{rf}: the index part must be a name or '*' pattern of 1 to 255 \
                                 characters without ':', commas, spaces or a leading '-', '+', \
                                 '_' or '<' (got {pattern:?})"
                            ),
                        );
                    }
                }
            }
        }
        if g.privileges.is_empty() {
            e.push(
                "empty_privileges",
                format!("{f}.privileges"),
                "remote indices need at least one index privilege",
            );
        }
        for p in &g.privileges {
            if !super::ES_INDEX_PRIVILEGES.contains(&p.as_str()) {
                e.push(
                    "unknown_privilege",
                    format!("{f}.privileges"),
                    format!("{p:?} is not an Elasticsearch index privilege"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(resources: &[&str], privileges: &[&str]) -> Vec<&'static str> {
        let mut e = ValidationErrors::default();
        check_remote_indices(
            &mut e,
            "remote_indices",
            &[RemoteIndexGrant {
                resources: resources.iter().map(|s| s.to_string()).collect(),
                privileges: privileges.iter().map(|s| s.to_string()).collect(),
            }],
        );
        e.codes()
    }

    #[test]
    fn a_remote_resource_names_one_exact_cluster_and_a_pattern() {
        assert!(check(&["eu-cluster:logs-*", "us.east_1:metrics"], &["read"]).is_empty());
        assert_eq!(split_remote("eu:logs-*"), Some(("eu", "logs-*")));
        for bad_alias in ["*:logs", "eu-*:logs", "-eu:logs", "_local:logs", "e u:logs"] {
            assert_eq!(
                check(&[bad_alias], &["read"]),
                ["invalid_cluster_alias"],
                "{bad_alias}"
            );
        }
        for bad_pattern in [
            "eu:logs:x",
            "eu:a,b",
            "eu:-logs",
            "eu:<logs-{now/d}>",
            "eu:_all",
        ] {
            assert_eq!(
                check(&[bad_pattern], &["read"]),
                ["invalid_pattern"],
                "{bad_pattern}"
            );
        }
        for not_remote in ["logs-*", ":logs", "eu:"] {
            assert_eq!(
                check(&[not_remote], &["read"]),
                ["invalid_remote_resource"],
                "{not_remote}"
            );
        }
    }

    #[test]
    fn privileges_are_index_privileges_and_entries_are_bounded() {
        assert_eq!(check(&["eu:logs"], &[]), ["empty_privileges"]);
        assert_eq!(
            check(&["eu:logs"], &["manage_security"]),
            ["unknown_privilege"]
        );
        assert_eq!(check(&[], &["read"]), ["invalid_remote_resources"]);
        let mut e = ValidationErrors::default();
        let one = RemoteIndexGrant {
            resources: vec!["eu:logs".into()],
            privileges: vec!["read".into()],
        };
        check_remote_indices(&mut e, "r", &vec![one; MAX_REMOTE_ENTRIES + 1]);
        assert_eq!(e.codes(), ["too_many_remote_indices"]);
    }
}
