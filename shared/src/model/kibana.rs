//! Kibana privileges on a custom permission: "read logs-* and Discover in the space
//! `payments`". Kibana keeps its privileges in Elasticsearch as application privileges of the
//! application `kibana-.kibana` (Kibana's default `kibana.index`), on resources `space:<id>`:
//! `space_all` and `space_read` (Kibana's base privileges `all` and `read` in that space) and
//! `feature_<feature id>.<privilege>` (`all`, `read`, `minimal_all`, `minimal_read` or a
//! sub-feature privilege). The grant's role carries them in `applications`, so the same
//! account that reads the indices logs in to Kibana with exactly those spaces and features.
//!
//! Spaces are typed by the administrator (discovery does not read Kibana). No wildcard space
//! and no global privilege (`all`, `read` on `*`): either would reach spaces created after the
//! approval.

use serde::{Deserialize, Serialize};

use crate::validation::ValidationErrors;

/// Kibana's application for the default `kibana.index`.
pub const KIBANA_APPLICATION: &str = "kibana-.kibana";
pub const MAX_KIBANA_ENTRIES: usize = 10;
const MAX_SPACES: usize = 20;
const MAX_PRIVILEGES: usize = 20;

/// One entry of a custom permission's `kibana`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KibanaGrant {
    /// Space ids (as in the space's URL `/s/<id>/`).
    pub spaces: Vec<String>,
    /// `space_read`, `space_all` or `feature_<id>.<privilege>`.
    pub privileges: Vec<String>,
}

impl KibanaGrant {
    /// The role's `applications` entry.
    pub fn resources(&self) -> Vec<String> {
        self.spaces.iter().map(|s| format!("space:{s}")).collect()
    }
}

/// Kibana space ids: lowercase letters, digits, `_` and `-` (the spaces API's rule).
pub fn is_space_id(id: &str) -> bool {
    (1..=255).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn token_ok(t: &str) -> bool {
    (1..=100).contains(&t.len())
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn privilege_ok(p: &str) -> bool {
    match p {
        "space_all" | "space_read" => true,
        _ => p
            .strip_prefix("feature_")
            .and_then(|rest| rest.split_once('.'))
            .is_some_and(|(feature, level)| token_ok(feature) && token_ok(level)),
    }
}

pub(crate) fn check_kibana(e: &mut ValidationErrors, field: &str, grants: &[KibanaGrant]) {
    if grants.len() > MAX_KIBANA_ENTRIES {
        e.push(
            "too_many_kibana_entries",
            field,
            format!("{field} may have at most {MAX_KIBANA_ENTRIES} entries"),
        );
    }
    for (i, g) in grants.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if g.spaces.is_empty() || g.spaces.len() > MAX_SPACES {
            e.push(
                "invalid_kibana_spaces",
                format!("{f}.spaces"),
                format!("{f}.spaces needs 1 to {MAX_SPACES} space ids"),
            );
        }
        for (j, s) in g.spaces.iter().enumerate() {
            if !is_space_id(s) {
                e.push(
                    "invalid_kibana_space",
                    format!("{f}.spaces[{j}]"),
                    format!(
                        "{f}.spaces[{j}] must be one space id: lowercase letters, digits, '_' or \
                         '-'; no wildcard, which would reach spaces created later (got {s:?})"
                    ),
                );
            }
        }
        if g.privileges.is_empty() || g.privileges.len() > MAX_PRIVILEGES {
            e.push(
                "invalid_kibana_privileges",
                format!("{f}.privileges"),
                format!("{f}.privileges needs 1 to {MAX_PRIVILEGES} privileges"),
            );
        }
        for (j, p) in g.privileges.iter().enumerate() {
            if !privilege_ok(p) {
                e.push(
                    "unknown_kibana_privilege",
                    format!("{f}.privileges[{j}]"),
                    format!(
                        "{f}.privileges[{j}] must be space_read, space_all or \
                         feature_<feature id>.<privilege> such as feature_discover.read \
                         (got {p:?})"
                    ),
                );
            }
        }
    }
}

/// A Kibana space as Kibana lists it to the connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KibanaSpace {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(spaces: &[&str], privileges: &[&str]) -> Vec<&'static str> {
        let mut e = ValidationErrors::default();
        check_kibana(
            &mut e,
            "kibana",
            &[KibanaGrant {
                spaces: spaces.iter().map(|s| s.to_string()).collect(),
                privileges: privileges.iter().map(|s| s.to_string()).collect(),
            }],
        );
        e.codes()
    }

    #[test]
    fn spaces_are_exact_ids_and_privileges_space_or_feature_ones() {
        assert!(codes(&["payments", "ops_2-b"], &["space_read"]).is_empty());
        assert!(
            codes(
                &["payments"],
                &["feature_discover.read", "feature_dashboard_v2.minimal_all"]
            )
            .is_empty()
        );
        for bad in ["*", "Payments", "pay ments", "", "space:payments"] {
            assert_eq!(
                codes(&[bad], &["space_read"]),
                ["invalid_kibana_space"],
                "{bad}"
            );
        }
        for bad in [
            "all",
            "read",
            "reserved_ml_user",
            "feature_discover",
            "feature_.read",
            "feature_a.b.c",
            "login:",
        ] {
            assert_eq!(
                codes(&["payments"], &[bad]),
                ["unknown_kibana_privilege"],
                "{bad}"
            );
        }
        assert_eq!(codes(&[], &["space_read"]), ["invalid_kibana_spaces"]);
        assert_eq!(codes(&["a"], &[]), ["invalid_kibana_privileges"]);
    }

    #[test]
    fn resources_name_the_spaces() {
        let g = KibanaGrant {
            spaces: vec!["payments".into(), "ops".into()],
            privileges: vec!["space_read".into()],
        };
        assert_eq!(g.resources(), ["space:payments", "space:ops"]);
    }
}
