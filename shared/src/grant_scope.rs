//! What a grant allows on its target: the Elasticsearch role descriptor its role (and API key)
//! is made from, or the Elastic Cloud role it assigns, and the same in words for the people
//! who decide it. The driver builds the role from [`EsRole`], so what an approver is shown is
//! what is created.

use serde::{Deserialize, Serialize};

use serde_json::{Map, Value};

use crate::model::{
    AccessRequest, CloudRoleScope, FieldSecurity, Integration, KIBANA_APPLICATION, KibanaGrant,
    RemoteIndexGrant, ResolvedPermission, role_query, split_remote,
};

/// Document- and field-level security of an `indices` or `remote_indices` entry: put-role's
/// `query` (an object, or `{"template": {"source": …}}`) and `field_security`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentSecurity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_security: Option<FieldSecurity>,
}

impl DocumentSecurity {
    fn of(query: Option<&Map<String, Value>>, fields: Option<&FieldSecurity>) -> Self {
        Self {
            query: query.map(role_query),
            field_security: fields.cloned(),
        }
    }

    fn in_words(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(q) = &self.query {
            let (query, template) = match q.pointer("/template/source") {
                Some(source) => (source, true),
                None => (q, false),
            };
            out.push(format!(
                "only documents matching {query}{}",
                if template {
                    " ({{_user.…}} is the requester's own account)"
                } else {
                    ""
                }
            ));
        }
        if let Some(f) = &self.field_security {
            let mut s = format!("only the fields {}", f.grant.join(", "));
            if !f.except.is_empty() {
                s.push_str(&format!(" except {}", f.except.join(", ")));
            }
            out.push(s);
        }
        out
    }
}

/// One `indices` entry of a role descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexGrant {
    pub names: Vec<String>,
    pub privileges: Vec<String>,
    /// Never true: a grant does not reach `.security` and the other restricted indices.
    pub allow_restricted_indices: bool,
    #[serde(flatten)]
    pub security: DocumentSecurity,
}

/// One `remote_indices` entry: Elasticsearch's `RemoteIndicesPrivileges` (role API 8.14+),
/// one cluster alias per entry so each reads as "on cluster X".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteIndexEntry {
    pub clusters: Vec<String>,
    #[serde(flatten)]
    pub entry: IndexGrant,
}

/// One `applications` entry (`ApplicationResourcePrivileges`): Kibana's privileges on spaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationGrant {
    pub application: String,
    pub privileges: Vec<String>,
    pub resources: Vec<String>,
}

/// The role descriptor of a grant's role, without its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EsRole {
    /// Always empty: a grant gives index privileges only.
    pub cluster: Vec<String>,
    pub indices: Vec<IndexGrant>,
    /// Left out when empty: clusters before 8.14 refuse the field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote_indices: Vec<RemoteIndexEntry>,
    /// Kibana spaces and features; left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<ApplicationGrant>,
}

impl EsRole {
    /// The role naming exactly `resources` (aliases already replaced by what they pointed to).
    pub fn for_grant(resources: &[String], privileges: &[String]) -> Self {
        Self::build(resources, privileges, &[], DocumentSecurity::default(), &[])
    }

    /// The role of an Elasticsearch permission on `resources`; None for a Cloud role. The
    /// permission's document query and fields restrict every entry, remote ones included.
    pub fn for_permission(resources: &[String], permission: &ResolvedPermission) -> Option<Self> {
        let ResolvedPermission::EsIndex {
            privileges,
            remote_indices,
            query,
            field_security,
            kibana,
        } = permission
        else {
            return None;
        };
        let security = DocumentSecurity::of(query.as_ref(), field_security.as_ref());
        Some(Self::build(
            resources,
            privileges,
            remote_indices,
            security,
            kibana,
        ))
    }

    fn build(
        resources: &[String],
        privileges: &[String],
        remote: &[RemoteIndexGrant],
        security: DocumentSecurity,
        kibana: &[KibanaGrant],
    ) -> Self {
        Self {
            cluster: vec![],
            indices: vec![IndexGrant {
                names: resources.to_vec(),
                privileges: privileges.to_vec(),
                allow_restricted_indices: false,
                security: security.clone(),
            }],
            remote_indices: remote_entries(remote, &security),
            applications: kibana
                .iter()
                .map(|k| ApplicationGrant {
                    application: KIBANA_APPLICATION.into(),
                    privileges: k.privileges.clone(),
                    resources: k.resources(),
                })
                .collect(),
        }
    }

    /// Does the role restrict documents or fields (Elasticsearch's licensed feature)?
    pub fn uses_document_security(&self) -> bool {
        self.indices
            .iter()
            .any(|i| i.security != DocumentSecurity::default())
    }

    /// The role in sentences, one per entry.
    pub fn in_words(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .indices
            .iter()
            .map(|i| {
                format!(
                    "index privileges {} on {} {}: {}",
                    i.privileges.join(", "),
                    i.names.len(),
                    if i.names.len() == 1 {
                        "index or data stream"
                    } else {
                        "indices or data streams"
                    },
                    i.names.join(", ")
                )
            })
            .collect();
        out.extend(self.remote_indices.iter().map(|r| {
            format!(
                "remote index privileges {} on cluster {}: {}",
                r.entry.privileges.join(", "),
                r.clusters.join(", "),
                r.entry.names.join(", ")
            )
        }));
        if let Some(first) = self.indices.first() {
            out.extend(first.security.in_words());
        }
        out.extend(self.applications.iter().map(|a| {
            let spaces: Vec<&str> = a
                .resources
                .iter()
                .map(|r| r.strip_prefix("space:").unwrap_or(r))
                .collect();
            format!(
                "Kibana privileges {} in {} {}",
                a.privileges.join(", "),
                if spaces.len() == 1 { "space" } else { "spaces" },
                spaces.join(", ")
            )
        }));
        out.push(if self.cluster.is_empty() {
            "no cluster privileges".to_string()
        } else {
            format!("cluster privileges {}", self.cluster.join(", "))
        });
        out
    }
}

/// One entry per (permission entry, cluster alias), names in the order written. Validation
/// has refused every resource without an alias.
fn remote_entries(
    remote: &[RemoteIndexGrant],
    security: &DocumentSecurity,
) -> Vec<RemoteIndexEntry> {
    let mut out: Vec<RemoteIndexEntry> = Vec::new();
    for g in remote {
        let first = out.len();
        for (alias, pattern) in g.resources.iter().filter_map(|r| split_remote(r)) {
            match out[first..].iter_mut().find(|e| e.clusters[0] == alias) {
                Some(e) => e.entry.names.push(pattern.to_string()),
                None => out.push(RemoteIndexEntry {
                    clusters: vec![alias.to_string()],
                    entry: IndexGrant {
                        names: vec![pattern.to_string()],
                        privileges: g.privileges.clone(),
                        allow_restricted_indices: false,
                        security: security.clone(),
                    },
                }),
            }
        }
    }
    out
}

/// What a grant allows, as its target will be told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "target", rename_all = "snake_case")]
pub enum GrantScope {
    Elasticsearch {
        role_descriptor: EsRole,
        in_words: Vec<String>,
    },
    ElasticCloud {
        role_id: String,
        scope: CloudRoleScope,
        resources: Vec<String>,
        in_words: Vec<String>,
    },
}

impl GrantScope {
    pub fn in_words(&self) -> &[String] {
        match self {
            Self::Elasticsearch { in_words, .. } | Self::ElasticCloud { in_words, .. } => in_words,
        }
    }

    /// The scope of `request` on `integration`, or None when the integration no longer offers
    /// the request's permission (it would then fail to provision).
    pub fn of(request: &AccessRequest, integration: &Integration) -> Option<Self> {
        Some(match integration.resolve_permission(&request.permission)? {
            ResolvedPermission::CloudRole { role_id, scope } => Self::ElasticCloud {
                in_words: vec![format!(
                    "Elastic Cloud role {role_id} on {}",
                    match scope {
                        CloudRoleScope::Organization => "the organization".to_string(),
                        _ => request.resources.join(", "),
                    }
                )],
                role_id,
                scope,
                resources: request.resources.clone(),
            },
            es => {
                let role = EsRole::for_permission(&request.resources, &es)?;
                Self::Elasticsearch {
                    in_words: role.in_words(),
                    role_descriptor: role,
                }
            }
        })
    }
}

/// What the cluster said of a grant's names when someone deciding it looked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Resolution {
    Live {
        read_at: chrono::DateTime<chrono::Utc>,
        names: Vec<ResolvedName>,
    },
    /// Not read for this viewer or at this point of the request's life.
    NotRead { reason: String },
    /// The read failed (the reason is ours: a target's own error text is never echoed).
    Unavailable { reason: String },
}

/// What one name of a role stands for on the cluster right now (`_resolve/index`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedName {
    pub name: String,
    pub kind: ResolvedKind,
    /// `open`, `closed`, `hidden`, `system` (indices).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
    /// A data stream's backing indices, or an alias's indices: what the name reaches.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reaches: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolvedKind {
    Index,
    DataStream,
    /// A granted index name that is now an alias: a role on it reaches the alias's indices.
    Alias,
    /// Nothing of that name exists now; an index created under it later is covered.
    Missing,
    /// Not read (the name cannot be sent as an exact name, or the read's budget ran out).
    NotRead,
}

/// Can `name` be sent as one exact name of a `_resolve/index` expression? Wildcards, commas,
/// exclusions and remote-cluster prefixes would make the read reach names the grant does not.
pub fn is_exact_index_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with(['-', '+', '_'])
        && !name.contains(['*', '?', ',', ':', '/', '\\', ' ', '"', '<', '>', '|', '#'])
        && !name.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_in_words_names_every_privilege_and_name() {
        let role = EsRole::for_grant(
            &["logs-1".into(), "logs-app".into()],
            &["read".into(), "view_index_metadata".into()],
        );
        assert_eq!(
            role.in_words(),
            vec![
                "index privileges read, view_index_metadata on 2 indices or data streams: logs-1, logs-app",
                "no cluster privileges"
            ]
        );
        let v = serde_json::to_value(&role).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"cluster": [], "indices": [{"names": ["logs-1", "logs-app"], "privileges": ["read", "view_index_metadata"], "allow_restricted_indices": false}]})
        );
    }

    #[test]
    fn remote_indices_become_one_entry_per_cluster_alias() {
        let remote = vec![
            RemoteIndexGrant {
                resources: vec!["eu:logs-*".into(), "us:logs-*".into(), "eu:metrics".into()],
                privileges: vec!["read".into(), "read_cross_cluster".into()],
            },
            RemoteIndexGrant {
                resources: vec!["eu:audit".into()],
                privileges: vec!["view_index_metadata".into()],
            },
        ];
        let role = EsRole::build(
            &["logs-1".into()],
            &["read".into()],
            &remote,
            DocumentSecurity::default(),
            &[],
        );
        let v = serde_json::to_value(&role).unwrap();
        assert_eq!(
            v["remote_indices"],
            serde_json::json!([
                {"clusters": ["eu"], "names": ["logs-*", "metrics"], "privileges": ["read", "read_cross_cluster"], "allow_restricted_indices": false},
                {"clusters": ["us"], "names": ["logs-*"], "privileges": ["read", "read_cross_cluster"], "allow_restricted_indices": false},
                {"clusters": ["eu"], "names": ["audit"], "privileges": ["view_index_metadata"], "allow_restricted_indices": false}
            ])
        );
        assert_eq!(
            role.in_words()[1..4],
            [
                "remote index privileges read, read_cross_cluster on cluster eu: logs-*, metrics",
                "remote index privileges read, read_cross_cluster on cluster us: logs-*",
                "remote index privileges view_index_metadata on cluster eu: audit",
            ]
        );
        // Without remote indices the field is left out (older clusters refuse it).
        let plain =
            serde_json::to_value(EsRole::for_grant(&["a".into()], &["read".into()])).unwrap();
        assert!(plain.get("remote_indices").is_none());
    }

    #[test]
    fn kibana_privileges_become_application_privileges_on_spaces() {
        let kibana = vec![KibanaGrant {
            spaces: vec!["payments".into()],
            privileges: vec!["feature_discover.read".into()],
        }];
        let role = EsRole::build(
            &["logs-1".into()],
            &["read".into()],
            &[],
            DocumentSecurity::default(),
            &kibana,
        );
        assert_eq!(
            serde_json::to_value(&role).unwrap()["applications"],
            serde_json::json!([{"application": "kibana-.kibana", "privileges": ["feature_discover.read"], "resources": ["space:payments"]}])
        );
        assert_eq!(
            role.in_words()[1],
            "Kibana privileges feature_discover.read in space payments"
        );
        let plain =
            serde_json::to_value(EsRole::for_grant(&["a".into()], &["read".into()])).unwrap();
        assert!(plain.get("applications").is_none());
    }

    #[test]
    fn only_exact_names_are_resolved() {
        for ok in ["logs-2026.11", ".ds-logs-app-000001", "a"] {
            assert!(is_exact_index_name(ok), "{ok}");
        }
        for bad in [
            "",
            "*",
            "logs-*",
            "a,b",
            "-logs",
            "_all",
            "+x",
            "remote:logs",
            "a?b",
            "a/b",
            "a b",
        ] {
            assert!(!is_exact_index_name(bad), "{bad:?}");
        }
    }
}
