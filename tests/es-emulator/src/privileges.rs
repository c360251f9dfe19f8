//! Named cluster and index privileges as sets of transport-action patterns.
//!
//! Authorization works on action names (the ones that appear in 403 messages), so a
//! privilege is defined by the action patterns it grants, minus the ones it excludes.
//! The tables are ordered from least to most privileged, which is the order Elasticsearch
//! lists "this action is granted by the … privileges [..]".

use crate::glob;

pub struct PrivilegeDef {
    pub name: &'static str,
    include: &'static [&'static str],
    exclude: &'static [&'static str],
}

const fn p(
    name: &'static str,
    include: &'static [&'static str],
    exclude: &'static [&'static str],
) -> PrivilegeDef {
    PrivilegeDef {
        name,
        include,
        exclude,
    }
}

/// Pseudo-action suffix for the "own API keys only" variant of an API-key action;
/// `manage_own_api_key` grants only these.
pub const OWN: &str = ":own";

const SECURITY: &str = "cluster:admin/xpack/security/*";

pub static CLUSTER: &[PrivilegeDef] = &[
    p("none", &[], &[]),
    p("cancel_task", &["cluster:admin/tasks/cancel"], &[]),
    p(
        "create_snapshot",
        &[
            "cluster:admin/snapshot/create",
            "cluster:admin/snapshot/status*",
            "cluster:admin/snapshot/get",
            "cluster:admin/repository/get",
        ],
        &[],
    ),
    p(
        "delegate_pki",
        &["cluster:admin/xpack/security/delegate_pki"],
        &[],
    ),
    p(
        "monitor_enrich",
        &[
            "cluster:admin/xpack/enrich/get",
            "cluster:admin/xpack/enrich/stats",
        ],
        &[],
    ),
    p("monitor_ml", &["cluster:monitor/xpack/ml/*"], &[]),
    p("monitor_rollup", &["cluster:monitor/xpack/rollup/*"], &[]),
    p(
        "monitor_snapshot",
        &[
            "cluster:admin/snapshot/status*",
            "cluster:admin/snapshot/get",
            "cluster:admin/repository/get",
        ],
        &[],
    ),
    p("monitor_stats", &["cluster:monitor/stats*"], &[]),
    p(
        "monitor_text_structure",
        &["cluster:monitor/text_structure/*"],
        &[],
    ),
    p(
        "monitor_transform",
        &[
            "cluster:monitor/transform/*",
            "cluster:monitor/data_frame/*",
        ],
        &[],
    ),
    p(
        "monitor_data_frame_transforms",
        &[
            "cluster:monitor/transform/*",
            "cluster:monitor/data_frame/*",
        ],
        &[],
    ),
    p("monitor_watcher", &["cluster:monitor/xpack/watcher/*"], &[]),
    p(
        "monitor_inference",
        &["cluster:monitor/xpack/inference*"],
        &[],
    ),
    p(
        "monitor_connector",
        &[
            "cluster:admin/xpack/connector/get",
            "cluster:admin/xpack/connector/list",
        ],
        &[],
    ),
    p(
        "monitor_data_stream_global_retention",
        &["cluster:monitor/data_stream/global_retention/*"],
        &[],
    ),
    p("monitor_esql", &["cluster:monitor/xpack/esql/*"], &[]),
    p("monitor", &["cluster:monitor/*"], &[]),
    p(
        "read_ccr",
        &["cluster:monitor/state", "cluster:monitor/xpack/info"],
        &[],
    ),
    p(
        "read_ilm",
        &[
            "cluster:admin/ilm/get",
            "cluster:admin/ilm/operation_mode/get",
        ],
        &[],
    ),
    p(
        "read_slm",
        &["cluster:admin/slm/get", "cluster:admin/slm/status"],
        &[],
    ),
    p(
        "read_pipeline",
        &[
            "cluster:admin/ingest/pipeline/get",
            "cluster:admin/ingest/pipeline/simulate",
        ],
        &[],
    ),
    p(
        "read_connector_secrets",
        &["cluster:admin/xpack/connector/secret/get"],
        &[],
    ),
    p(
        "write_connector_secrets",
        &[
            "cluster:admin/xpack/connector/secret/post",
            "cluster:admin/xpack/connector/secret/put",
            "cluster:admin/xpack/connector/secret/delete",
        ],
        &[],
    ),
    p(
        "read_fleet_secrets",
        &["cluster:admin/fleet/secrets/get"],
        &[],
    ),
    p(
        "write_fleet_secrets",
        &[
            "cluster:admin/fleet/secrets/post",
            "cluster:admin/fleet/secrets/delete",
        ],
        &[],
    ),
    p(
        "post_behavioral_analytics_event",
        &["cluster:admin/xpack/application/analytics/post_event"],
        &[],
    ),
    p(
        "transport_client",
        &["cluster:monitor/nodes/liveness", "cluster:monitor/state"],
        &[],
    ),
    p(
        "cross_cluster_search",
        &[
            "cluster:internal/remote_cluster/handshake",
            "cluster:internal/remote_cluster/nodes",
            "cluster:monitor/xpack/info",
        ],
        &[],
    ),
    p(
        "cross_cluster_replication",
        &[
            "cluster:internal/remote_cluster/handshake",
            "cluster:internal/remote_cluster/nodes",
            "cluster:monitor/state",
        ],
        &[],
    ),
    p(
        "read_security",
        &[
            "cluster:admin/xpack/security/*/get",
            "cluster:admin/xpack/security/*/query",
            "cluster:admin/xpack/security/user/has_privileges",
            "cluster:admin/xpack/security/user/list_privileges",
            "cluster:admin/xpack/security/api_key/get*",
            "cluster:admin/xpack/security/api_key/query*",
        ],
        &[],
    ),
    p(
        "manage_own_api_key",
        &[
            "cluster:admin/xpack/security/api_key/create",
            "cluster:admin/xpack/security/api_key/get:own",
            "cluster:admin/xpack/security/api_key/query:own",
            "cluster:admin/xpack/security/api_key/invalidate:own",
            "cluster:admin/xpack/security/api_key/update:own",
        ],
        &[],
    ),
    p(
        "grant_api_key",
        &["cluster:admin/xpack/security/api_key/grant"],
        &[],
    ),
    p(
        "manage_api_key",
        &["cluster:admin/xpack/security/api_key/*"],
        &[],
    ),
    p(
        "manage_token",
        &[
            "cluster:admin/xpack/security/token/*",
            "cluster:admin/xpack/security/refresh_token/*",
        ],
        &[],
    ),
    p(
        "manage_service_account",
        &["cluster:admin/xpack/security/service_account/*"],
        &[],
    ),
    p(
        "manage_user_profile",
        &["cluster:admin/xpack/security/profile/*"],
        &[],
    ),
    p(
        "manage_saml",
        &[
            "cluster:admin/xpack/security/saml/*",
            "cluster:admin/xpack/security/token/*",
        ],
        &[],
    ),
    p("manage_oidc", &["cluster:admin/xpack/security/oidc/*"], &[]),
    p("manage_autoscaling", &["cluster:admin/autoscaling/*"], &[]),
    p(
        "manage_behavioral_analytics",
        &["cluster:admin/xpack/application/analytics/*"],
        &[],
    ),
    p(
        "manage_ccr",
        &["cluster:admin/xpack/ccr/*", "cluster:monitor/state"],
        &[],
    ),
    p(
        "manage_connector",
        &["cluster:admin/xpack/connector/*"],
        &[],
    ),
    p(
        "manage_data_frame_transforms",
        &[
            "cluster:admin/transform/*",
            "cluster:admin/data_frame/*",
            "cluster:monitor/transform/*",
            "cluster:monitor/data_frame/*",
        ],
        &[],
    ),
    p(
        "manage_transform",
        &[
            "cluster:admin/transform/*",
            "cluster:admin/data_frame/*",
            "cluster:monitor/transform/*",
            "cluster:monitor/data_frame/*",
        ],
        &[],
    ),
    p(
        "manage_data_stream_global_retention",
        &[
            "cluster:admin/data_stream/global_retention/*",
            "cluster:monitor/data_stream/global_retention/*",
        ],
        &[],
    ),
    p("manage_enrich", &["cluster:admin/xpack/enrich/*"], &[]),
    p("manage_ilm", &["cluster:admin/ilm/*"], &[]),
    p(
        "manage_index_templates",
        &[
            "indices:admin/template/*",
            "indices:admin/index_template/*",
            "cluster:admin/component_template/*",
        ],
        &[],
    ),
    p(
        "manage_inference",
        &[
            "cluster:admin/xpack/inference/*",
            "cluster:monitor/xpack/inference*",
        ],
        &[],
    ),
    p(
        "manage_ingest_pipelines",
        &["cluster:admin/ingest/pipeline/*"],
        &[],
    ),
    p("manage_pipeline", &["cluster:admin/ingest/pipeline/*"], &[]),
    p(
        "manage_logstash_pipelines",
        &["cluster:admin/logstash/pipeline/*"],
        &[],
    ),
    p(
        "manage_ml",
        &["cluster:admin/xpack/ml/*", "cluster:monitor/xpack/ml/*"],
        &[],
    ),
    p(
        "manage_rollup",
        &[
            "cluster:admin/xpack/rollup/*",
            "cluster:monitor/xpack/rollup/*",
        ],
        &[],
    ),
    p(
        "manage_search_application",
        &["cluster:admin/xpack/application/search_application/*"],
        &[],
    ),
    p(
        "manage_search_query_rules",
        &["cluster:admin/xpack/query_rules/*"],
        &[],
    ),
    p("manage_search_synonyms", &["cluster:admin/synonyms/*"], &[]),
    p("manage_slm", &["cluster:admin/slm/*"], &[]),
    p(
        "manage_watcher",
        &[
            "cluster:admin/xpack/watcher/*",
            "cluster:monitor/xpack/watcher/*",
        ],
        &[],
    ),
    p(
        "manage_esql",
        &["cluster:admin/xpack/esql/*", "cluster:monitor/xpack/esql/*"],
        &[],
    ),
    p("manage_security", &[SECURITY], &[]),
    p(
        "manage",
        &[
            "cluster:*",
            "indices:admin/template/*",
            "indices:admin/index_template/*",
        ],
        &[SECURITY, "cluster:internal/*"],
    ),
    p(
        "all",
        &[
            "cluster:*",
            "indices:admin/template/*",
            "indices:admin/index_template/*",
        ],
        &[],
    ),
];

pub static INDEX: &[PrivilegeDef] = &[
    p("none", &[], &[]),
    p(
        "create_doc",
        &[
            "indices:data/write/index",
            "indices:data/write/index[*",
            "indices:data/write/index:op_type/create",
            "indices:data/write/bulk*",
            "indices:admin/mapping/auto_put",
        ],
        &[],
    ),
    p(
        "create",
        &[
            "indices:data/write/index*",
            "indices:data/write/bulk*",
            "indices:admin/mapping/auto_put",
            "indices:admin/mapping/put",
        ],
        &[],
    ),
    p(
        "index",
        &[
            "indices:data/write/index*",
            "indices:data/write/update*",
            "indices:data/write/bulk*",
            "indices:admin/mapping/auto_put",
            "indices:admin/mapping/put",
        ],
        &[],
    ),
    p(
        "delete",
        &["indices:data/write/delete*", "indices:data/write/bulk*"],
        &[],
    ),
    p(
        "write",
        &[
            "indices:data/write/*",
            "indices:admin/mapping/auto_put",
            "indices:admin/mapping/put",
        ],
        &[],
    ),
    p(
        "read",
        &["indices:data/read/*", "indices:admin/resolve/index"],
        &[],
    ),
    p(
        "read_cross_cluster",
        &[
            "internal:transport/proxy/indices:data/read/*",
            "indices:admin/shards/search_shards",
        ],
        &[],
    ),
    p(
        "read_failure_store",
        &["indices:data/read/failure_store*"],
        &[],
    ),
    p(
        "view_index_metadata",
        &[
            "indices:admin/aliases/get",
            "indices:admin/get",
            "indices:admin/mappings/fields/get*",
            "indices:admin/mappings/get",
            "indices:admin/shards/search_shards",
            "indices:admin/validate/query*",
            "indices:monitor/settings/get",
            "indices:admin/ilm/explain",
            "indices:admin/data_stream/lifecycle/get",
            "indices:admin/data_stream/lifecycle/explain",
            "indices:admin/data_stream/get",
            "indices:admin/resolve/index",
            "indices:data/read/field_caps*",
        ],
        &[],
    ),
    p(
        "monitor",
        &[
            "indices:monitor/*",
            "indices:admin/data_stream/lifecycle/explain",
        ],
        &[],
    ),
    p(
        "maintenance",
        &[
            "indices:admin/refresh*",
            "indices:admin/flush*",
            "indices:admin/synced_flush",
            "indices:admin/forcemerge*",
        ],
        &[],
    ),
    p(
        "auto_configure",
        &[
            "indices:admin/auto_create",
            "indices:admin/mapping/auto_put",
            "indices:admin/data_stream/create",
        ],
        &[],
    ),
    p(
        "create_index",
        &[
            "indices:admin/create",
            "indices:admin/auto_create",
            "indices:admin/data_stream/create",
        ],
        &[],
    ),
    p(
        "delete_index",
        &["indices:admin/delete", "indices:admin/data_stream/delete"],
        &[],
    ),
    p(
        "manage_follow_index",
        &[
            "indices:admin/xpack/ccr/*",
            "indices:admin/close*",
            "indices:admin/rollover",
        ],
        &[],
    ),
    p(
        "manage_leader_index",
        &[
            "indices:admin/xpack/ccr/forget_follower*",
            "indices:monitor/stats",
        ],
        &[],
    ),
    p("manage_ilm", &["indices:admin/ilm/*"], &[]),
    p(
        "manage_data_stream_lifecycle",
        &["indices:admin/data_stream/lifecycle/*"],
        &[],
    ),
    p(
        "manage_failure_store",
        &["indices:admin/failure_store/*"],
        &[],
    ),
    p(
        "cross_cluster_replication",
        &["indices:data/read/xpack/ccr/*", "indices:monitor/stats"],
        &[],
    ),
    p(
        "cross_cluster_replication_internal",
        &["indices:internal/admin/ccr/*"],
        &[],
    ),
    p(
        "manage",
        &[
            "indices:monitor/*",
            "indices:admin/*",
            "indices:data/read/field_caps*",
        ],
        &[],
    ),
    p(
        "all",
        &["indices:*", "internal:transport/proxy/indices:*"],
        &[],
    ),
];

fn grants(def: &PrivilegeDef, action: &str) -> bool {
    def.include.iter().any(|pat| glob::matches(pat, action))
        && !def.exclude.iter().any(|pat| glob::matches(pat, action))
}

fn find<'a>(table: &'a [PrivilegeDef], name: &str) -> Option<&'a PrivilegeDef> {
    let lower = name.to_ascii_lowercase();
    table.iter().find(|d| d.name == lower)
}

/// Raw action patterns are accepted where a role names a privilege.
fn is_cluster_action_pattern(name: &str) -> bool {
    name.starts_with("cluster:")
        || name.starts_with("indices:admin/template/")
        || name.starts_with("indices:admin/index_template/")
}

pub fn cluster_privilege_grants(name: &str, action: &str) -> bool {
    if is_cluster_action_pattern(name) {
        return glob::matches(name, action);
    }
    find(CLUSTER, name).is_some_and(|d| grants(d, action))
}

pub fn index_privilege_grants(name: &str, action: &str) -> bool {
    if name.starts_with("indices:") {
        return glob::matches(name, action);
    }
    find(INDEX, name).is_some_and(|d| grants(d, action))
}

pub fn is_valid_cluster_privilege(name: &str) -> bool {
    is_cluster_action_pattern(name) || find(CLUSTER, name).is_some()
}

pub fn is_valid_index_privilege(name: &str) -> bool {
    name.starts_with("indices:") || find(INDEX, name).is_some()
}

fn sorted_names(table: &[PrivilegeDef]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = table.iter().map(|d| d.name).collect();
    names.sort_unstable();
    names
}

pub fn unknown_cluster_privilege(name: &str) -> String {
    format!(
        "unknown cluster privilege [{}]. a privilege must be either one of the predefined cluster privilege names [{}] or a pattern over one of the available cluster actions",
        name.to_ascii_lowercase(),
        sorted_names(CLUSTER).join(",")
    )
}

pub fn unknown_index_privilege(name: &str) -> String {
    format!(
        "unknown index privilege [{}]. a privilege must be either one of the predefined fixed indices privileges [{}] or a pattern over one of the available index actions",
        name.to_ascii_lowercase(),
        sorted_names(INDEX).join(",")
    )
}

/// The privileges named in a denial message, least privileged first.
pub fn cluster_privileges_granting(action: &str) -> Vec<&'static str> {
    CLUSTER
        .iter()
        .filter(|d| grants(d, action))
        .map(|d| d.name)
        .collect()
}

pub fn index_privileges_granting(action: &str) -> Vec<&'static str> {
    INDEX
        .iter()
        .filter(|d| grants(d, action))
        .map(|d| d.name)
        .collect()
}

/// Every action the emulator knows of; a privilege is held when every known action it
/// grants is granted. This approximates Elasticsearch's automaton subset test.
pub static KNOWN_CLUSTER_ACTIONS: &[&str] = &[
    "cluster:monitor/main",
    "cluster:monitor/health",
    "cluster:monitor/state",
    "cluster:monitor/stats",
    "cluster:monitor/nodes/info",
    "cluster:monitor/nodes/liveness",
    "cluster:monitor/xpack/info",
    "cluster:monitor/xpack/ml/job/get",
    "cluster:monitor/xpack/watcher/watch/get",
    "cluster:monitor/transform/get",
    "cluster:admin/settings/update",
    "cluster:admin/reroute",
    "cluster:admin/tasks/cancel",
    "cluster:admin/snapshot/create",
    "cluster:admin/snapshot/get",
    "cluster:admin/repository/get",
    "cluster:admin/ingest/pipeline/get",
    "cluster:admin/ingest/pipeline/put",
    "cluster:admin/ilm/get",
    "cluster:admin/ilm/put",
    "cluster:admin/slm/get",
    "cluster:admin/slm/put",
    "cluster:admin/xpack/ml/job/put",
    "cluster:admin/xpack/watcher/watch/put",
    "cluster:admin/transform/put",
    "cluster:admin/xpack/enrich/put",
    "cluster:admin/xpack/ccr/auto_follow_pattern/put",
    "cluster:admin/component_template/put",
    "indices:admin/index_template/put",
    "cluster:admin/xpack/security/user/put",
    "cluster:admin/xpack/security/user/get",
    "cluster:admin/xpack/security/user/query",
    "cluster:admin/xpack/security/user/delete",
    "cluster:admin/xpack/security/user/set_enabled",
    "cluster:admin/xpack/security/user/change_password",
    "cluster:admin/xpack/security/role/put",
    "cluster:admin/xpack/security/role/get",
    "cluster:admin/xpack/security/role/query",
    "cluster:admin/xpack/security/role/delete",
    "cluster:admin/xpack/security/api_key/create",
    "cluster:admin/xpack/security/api_key/get",
    "cluster:admin/xpack/security/api_key/get:own",
    "cluster:admin/xpack/security/api_key/grant",
    "cluster:admin/xpack/security/api_key/invalidate",
    "cluster:admin/xpack/security/api_key/invalidate:own",
    "cluster:admin/xpack/security/api_key/query",
    "cluster:admin/xpack/security/api_key/query:own",
    "cluster:admin/xpack/security/api_key/update",
    "cluster:admin/xpack/security/api_key/update:own",
    "cluster:admin/xpack/security/token/create",
    "cluster:admin/xpack/security/service_account/get",
    "cluster:admin/xpack/security/profile/get",
    "cluster:admin/xpack/security/saml/authenticate",
    "cluster:admin/xpack/security/oidc/authenticate",
];

pub static KNOWN_INDEX_ACTIONS: &[&str] = &[
    "indices:data/read/search",
    "indices:data/read/get",
    "indices:data/read/mget",
    "indices:data/read/field_caps",
    "indices:data/write/index",
    "indices:data/write/index:op_type/create",
    "indices:data/write/index:op_type/index",
    "indices:data/write/update",
    "indices:data/write/delete",
    "indices:data/write/bulk",
    "indices:admin/mapping/auto_put",
    "indices:admin/mapping/put",
    "indices:admin/create",
    "indices:admin/auto_create",
    "indices:admin/delete",
    "indices:admin/get",
    "indices:admin/mappings/get",
    "indices:admin/aliases/get",
    "indices:admin/aliases",
    "indices:admin/resolve/index",
    "indices:admin/data_stream/get",
    "indices:admin/data_stream/create",
    "indices:admin/refresh",
    "indices:admin/forcemerge",
    "indices:admin/close",
    "indices:admin/settings/update",
    "indices:monitor/stats",
    "indices:monitor/settings/get",
    "internal:transport/proxy/indices:data/read/search",
];

/// Actions a requested privilege name stands for in `_has_privileges`.
pub fn cluster_representatives(name: &str) -> Vec<String> {
    if is_cluster_action_pattern(name) {
        let reps: Vec<String> = KNOWN_CLUSTER_ACTIONS
            .iter()
            .filter(|a| glob::matches(name, a))
            .map(|a| a.to_string())
            .collect();
        return if reps.is_empty() {
            vec![name.to_string()]
        } else {
            reps
        };
    }
    match find(CLUSTER, name) {
        Some(def) => KNOWN_CLUSTER_ACTIONS
            .iter()
            .filter(|a| grants(def, a))
            .map(|a| a.to_string())
            .collect(),
        None => vec![format!("unknown-privilege:{name}")],
    }
}

pub fn index_representatives(name: &str) -> Vec<String> {
    if name.starts_with("indices:") {
        let reps: Vec<String> = KNOWN_INDEX_ACTIONS
            .iter()
            .filter(|a| glob::matches(name, a))
            .map(|a| a.to_string())
            .collect();
        return if reps.is_empty() {
            vec![name.to_string()]
        } else {
            reps
        };
    }
    match find(INDEX, name) {
        Some(def) => KNOWN_INDEX_ACTIONS
            .iter()
            .filter(|a| grants(def, a))
            .map(|a| a.to_string())
            .collect(),
        None => vec![format!("unknown-privilege:{name}")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denial_lists_match_elasticsearch() {
        assert_eq!(
            cluster_privileges_granting("cluster:monitor/main"),
            ["monitor", "manage", "all"]
        );
        assert_eq!(
            cluster_privileges_granting("cluster:admin/xpack/security/api_key/invalidate"),
            ["manage_api_key", "manage_security", "all"]
        );
        assert_eq!(
            cluster_privileges_granting("cluster:admin/xpack/security/user/put"),
            ["manage_security", "all"]
        );
        assert_eq!(
            index_privileges_granting("indices:data/read/search"),
            ["read", "all"]
        );
        assert_eq!(
            index_privileges_granting("indices:data/write/index"),
            ["create_doc", "create", "index", "write", "all"]
        );
    }
}
