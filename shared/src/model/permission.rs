//! Permissions a flow can offer and what each means on the target.
//!
//! Elasticsearch: `read`, `write`, `manage` and named custom levels defined on the integration,
//! each a list of index privileges. Elastic Cloud: the organization's role ids.

use serde::{Deserialize, Serialize};

/// Index privilege names Elasticsearch 8.x/9.x accepts (`GET /_security/privilege/_builtin`).
pub const ES_INDEX_PRIVILEGES: &[&str] = &[
    "all",
    "auto_configure",
    "create",
    "create_doc",
    "create_index",
    "cross_cluster_replication",
    "cross_cluster_replication_internal",
    "delete",
    "delete_index",
    "index",
    "maintenance",
    "manage",
    "manage_data_stream_lifecycle",
    "manage_failure_store",
    "manage_follow_index",
    "manage_ilm",
    "manage_leader_index",
    "monitor",
    "none",
    "read",
    "read_cross_cluster",
    "read_failure_store",
    "view_index_metadata",
    "write",
];

/// Elastic Cloud role ids, with the scope each applies to.
pub const CLOUD_ROLE_IDS: &[(&str, CloudRoleScope)] = &[
    ("organization-admin", CloudRoleScope::Organization),
    ("billing-admin", CloudRoleScope::Organization),
    ("deployment-admin", CloudRoleScope::Deployment),
    ("deployment-editor", CloudRoleScope::Deployment),
    ("deployment-viewer", CloudRoleScope::Deployment),
    ("elasticsearch-admin", CloudRoleScope::ElasticsearchProject),
    (
        "elasticsearch-developer",
        CloudRoleScope::ElasticsearchProject,
    ),
    ("elasticsearch-viewer", CloudRoleScope::ElasticsearchProject),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloudRoleScope {
    Organization,
    Deployment,
    ElasticsearchProject,
}

/// What a permission name resolves to on a given integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResolvedPermission {
    EsIndex {
        /// On the resources the request names.
        privileges: Vec<String>,
        /// Fixed by the permission: remote clusters' indices.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        remote_indices: Vec<super::RemoteIndexGrant>,
        /// Fixed by the permission: which documents (may use the requester's attributes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<serde_json::Map<String, serde_json::Value>>,
        /// Fixed by the permission: which fields.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field_security: Option<super::FieldSecurity>,
        /// Fixed by the permission: Kibana spaces and features.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        kibana: Vec<super::KibanaGrant>,
    },
    CloudRole {
        role_id: String,
        scope: CloudRoleScope,
    },
}

impl ResolvedPermission {
    /// Does it carry more than index privileges on the requested names (remote indices,
    /// a document query, field security, Kibana privileges)?
    pub fn carries_role_template(&self) -> bool {
        match self {
            Self::EsIndex {
                remote_indices,
                query,
                field_security,
                kibana,
                ..
            } => {
                !remote_indices.is_empty()
                    || query.is_some()
                    || field_security.is_some()
                    || !kibana.is_empty()
            }
            Self::CloudRole { .. } => false,
        }
    }
}

pub(crate) fn builtin_es_permission(name: &str) -> Option<Vec<String>> {
    let privileges: &[&str] = match name {
        "read" => &["read", "view_index_metadata"],
        "write" => &["read", "write", "view_index_metadata"],
        "manage" => &["all"],
        _ => return None,
    };
    Some(privileges.iter().map(|p| (*p).to_string()).collect())
}

pub(crate) fn cloud_role(name: &str) -> Option<CloudRoleScope> {
    CLOUD_ROLE_IDS
        .iter()
        .find(|(id, _)| *id == name)
        .map(|(_, scope)| *scope)
}
