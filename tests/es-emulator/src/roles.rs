//! Role descriptors: parsing with Elasticsearch's strictness, validation, JSON output and
//! the reserved (built-in) roles.

use serde_json::{Map, Value, json};

use crate::errors::{ApiResponse, parse_exception};
use crate::privileges;
use crate::validation;

#[derive(Debug, Clone, PartialEq)]
pub struct IndicesPrivileges {
    pub names: Vec<String>,
    pub privileges: Vec<String>,
    pub field_security: Option<Value>,
    /// Kept as the JSON string Elasticsearch returns it as.
    pub query: Option<String>,
    pub allow_restricted_indices: bool,
}

/// `RemoteIndicesPrivileges`: an `indices` entry that also names the remote clusters.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteIndicesPrivileges {
    pub clusters: Vec<String>,
    pub indices: IndicesPrivileges,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoleDescriptor {
    pub cluster: Vec<String>,
    pub indices: Vec<IndicesPrivileges>,
    pub applications: Vec<Value>,
    pub run_as: Vec<String>,
    pub metadata: Map<String, Value>,
    pub description: Option<String>,
    pub global: Option<Value>,
    pub remote_indices: Vec<RemoteIndicesPrivileges>,
    pub remote_cluster: Vec<Value>,
    pub restriction: Option<Value>,
}

impl RoleDescriptor {
    /// A descriptor that grants nothing, as derived API keys must carry.
    pub fn has_privileges(&self) -> bool {
        !self.cluster.is_empty()
            || !self.indices.is_empty()
            || !self.applications.is_empty()
            || !self.run_as.is_empty()
            || !self.remote_indices.is_empty()
            || !self.remote_cluster.is_empty()
            || self
                .global
                .as_ref()
                .is_some_and(|g| g.as_object().is_some_and(|o| !o.is_empty()))
    }

    pub fn to_json(&self) -> Value {
        let indices: Vec<Value> = self.indices.iter().map(indices_json).collect();
        let mut o = Map::new();
        o.insert("cluster".into(), json!(self.cluster));
        o.insert("indices".into(), Value::Array(indices));
        o.insert(
            "applications".into(),
            Value::Array(self.applications.clone()),
        );
        o.insert("run_as".into(), json!(self.run_as));
        o.insert("metadata".into(), Value::Object(self.metadata.clone()));
        o.insert("transient_metadata".into(), json!({"enabled": true}));
        if let Some(d) = &self.description {
            o.insert("description".into(), json!(d));
        }
        if let Some(g) = &self.global {
            o.insert("global".into(), g.clone());
        }
        if !self.remote_indices.is_empty() {
            // `RemoteIndicesPrivileges.toXContent`: the indices fields, then `clusters`.
            let remote = self
                .remote_indices
                .iter()
                .map(|r| {
                    let mut v = indices_json(&r.indices);
                    v["clusters"] = json!(r.clusters);
                    v
                })
                .collect();
            o.insert("remote_indices".into(), Value::Array(remote));
        }
        if !self.remote_cluster.is_empty() {
            o.insert(
                "remote_cluster".into(),
                Value::Array(self.remote_cluster.clone()),
            );
        }
        if let Some(r) = &self.restriction {
            o.insert("restriction".into(), r.clone());
        }
        Value::Object(o)
    }

    /// `RoleDescriptor.isUsingDocumentOrFieldLevelSecurity`.
    pub fn uses_document_security(&self) -> bool {
        self.indices
            .iter()
            .chain(self.remote_indices.iter().map(|r| &r.indices))
            .any(|ip| ip.query.is_some() || ip.field_security.is_some())
    }

    /// `DLSRoleQueryValidator.validateQueryField`: each non-template query must parse (here:
    /// as the emulator's query subset); templates need the user and are checked at search.
    pub fn check_role_queries(&self) -> Result<(), ApiResponse> {
        for (i, ip) in self.indices.iter().enumerate() {
            let Some(q) = &ip.query else { continue };
            let parsed: Option<Value> = serde_json::from_str(q).ok();
            let ok = match &parsed {
                Some(v) if v.get("template").is_some() => true,
                Some(v) => crate::query::matches(v, &json!({})).is_ok(),
                None => false,
            };
            if !ok {
                return Err(parse_exception(&format!(
                    "failed to parse field 'query' for indices [{}] at index privilege [{i}] of role descriptor",
                    ip.names.join(",")
                )));
            }
        }
        Ok(())
    }

    /// The checks `RoleDescriptorRequestValidator` makes; each entry is one numbered
    /// validation error.
    pub fn validation_errors(&self) -> Vec<String> {
        let mut errors = Vec::new();
        for c in &self.cluster {
            if !privileges::is_valid_cluster_privilege(c) {
                errors.push(privileges::unknown_cluster_privilege(c));
            }
        }
        for ip in &self.indices {
            for p in &ip.privileges {
                if !privileges::is_valid_index_privilege(p) {
                    errors.push(privileges::unknown_index_privilege(p));
                }
            }
        }
        if self.metadata.keys().any(|k| k.starts_with('_')) {
            errors.push("role descriptor metadata keys may not start with [_]".into());
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 1000)
        {
            errors.push("Role description must be less than 1000 characters.".into());
        }
        // `RoleDescriptorRequestValidator`: each remote entry's alias list, then its index
        // privileges as for `indices`.
        for ri in &self.remote_indices {
            if ri.clusters.iter().any(String::is_empty) {
                errors.push("remote index cluster alias cannot be an empty string".into());
            }
            for p in &ri.indices.privileges {
                if !privileges::is_valid_index_privilege(p) {
                    errors.push(privileges::unknown_index_privilege(p));
                }
            }
        }
        errors
    }
}

fn indices_json(ip: &IndicesPrivileges) -> Value {
    let mut o = Map::new();
    o.insert("names".into(), json!(ip.names));
    o.insert("privileges".into(), json!(ip.privileges));
    if let Some(fs) = &ip.field_security {
        o.insert("field_security".into(), fs.clone());
    }
    if let Some(q) = &ip.query {
        o.insert("query".into(), json!(q));
    }
    o.insert(
        "allow_restricted_indices".into(),
        json!(ip.allow_restricted_indices),
    );
    Value::Object(o)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "VALUE_NULL",
        Value::Bool(_) => "VALUE_BOOLEAN",
        Value::Number(_) => "VALUE_NUMBER",
        Value::String(_) => "VALUE_STRING",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
    }
}

fn string_array(role: &str, field: &str, v: &Value) -> Result<Vec<String>, ApiResponse> {
    let err = || {
        parse_exception(&format!(
            "failed to parse role [{role}]. expected field [{field}] value to be an array of strings, but found [{}] instead",
            type_name(v)
        ))
    };
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(err))
            .collect(),
        _ => Err(err()),
    }
}

fn parse_indices(
    role: &str,
    field: &str,
    v: &Value,
) -> Result<Vec<IndicesPrivileges>, ApiResponse> {
    let Value::Array(_) = v else {
        return Err(parse_exception(&format!(
            "failed to parse indices privileges for role [{role}]. expected field [{field}] value to be an array, but found [{}] instead",
            type_name(v)
        )));
    };
    Ok(parse_index_entries(role, field, v, false)?
        .into_iter()
        .map(|(ip, _)| ip)
        .collect())
}

/// `RoleDescriptor.parseRemoteIndices`: the `indices` entry parser with `clusters` allowed,
/// and required.
fn parse_remote_indices(
    role: &str,
    field: &str,
    v: &Value,
) -> Result<Vec<RemoteIndicesPrivileges>, ApiResponse> {
    let Value::Array(_) = v else {
        return Err(parse_exception(&format!(
            "failed to parse remote indices privileges for role [{role}]. expected field [{field}] value to be an array, but found [{}] instead",
            type_name(v)
        )));
    };
    parse_index_entries(role, field, v, true)?
        .into_iter()
        .map(|(indices, clusters)| {
            let clusters = clusters.ok_or_else(|| {
                parse_exception(&format!(
                    "failed to parse remote indices privileges for role [{role}]. missing required [clusters] field"
                ))
            })?;
            Ok(RemoteIndicesPrivileges { clusters, indices })
        })
        .collect()
}

/// An `indices` entry and, in `remote_indices`, its `clusters`.
type EntryWithClusters = (IndicesPrivileges, Option<Vec<String>>);

/// `parseIndexWithOptionalRemoteClusters`: each entry, with its `clusters` when allowed.
fn parse_index_entries(
    role: &str,
    field: &str,
    v: &Value,
    allow_clusters: bool,
) -> Result<Vec<EntryWithClusters>, ApiResponse> {
    let entries = v.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut out = Vec::new();
    for entry in entries {
        let Value::Object(obj) = entry else {
            return Err(parse_exception(&format!(
                "failed to parse indices privileges for role [{role}]. expected field [{field}] value to be an array of objects, but found an array element of type [{}]",
                type_name(entry)
            )));
        };
        let mut names = None;
        let mut privs = None;
        let mut field_security = None;
        let mut query = None;
        let mut allow_restricted = false;
        let mut clusters = None;
        for (k, val) in obj {
            match k.as_str() {
                "clusters" if allow_clusters => clusters = Some(string_array(role, k, val)?),
                "names" => {
                    names = Some(match val {
                        Value::String(s) => vec![s.clone()],
                        Value::Array(_) => string_array(role, "names", val)?,
                        _ => {
                            return Err(parse_exception(&format!(
                                "failed to parse indices privileges for role [{role}]. expected field [names] value to be a string or an array of strings, but found [{}] instead",
                                type_name(val)
                            )));
                        }
                    })
                }
                "privileges" => privs = Some(string_array(role, "privileges", val)?),
                "field_security" => field_security = Some(val.clone()),
                "query" => {
                    query = match val {
                        Value::Null => None,
                        Value::String(s) => Some(s.clone()),
                        Value::Object(_) => Some(val.to_string()),
                        _ => {
                            return Err(parse_exception(&format!(
                                "failed to parse indices privileges for role [{role}]. expected field [query] value to be null, a string, an array, or an object, but found [{}] instead",
                                type_name(val)
                            )));
                        }
                    }
                }
                "allow_restricted_indices" => {
                    allow_restricted = val.as_bool().ok_or_else(|| {
                        parse_exception(&format!(
                            "failed to parse indices privileges for role [{role}]. expected field [allow_restricted_indices] value to be a boolean, but found [{}] instead",
                            type_name(val)
                        ))
                    })?
                }
                other => {
                    return Err(parse_exception(&format!(
                        "failed to parse indices privileges for role [{role}]. unexpected field [{other}]"
                    )));
                }
            }
        }
        let names = names.ok_or_else(|| {
            parse_exception(&format!(
                "failed to parse indices privileges for role [{role}]. missing required [names] field"
            ))
        })?;
        let privileges = privs.ok_or_else(|| {
            parse_exception(&format!(
                "failed to parse indices privileges for role [{role}]. missing required [privileges] field"
            ))
        })?;
        out.push((
            IndicesPrivileges {
                names,
                privileges,
                field_security,
                query,
                allow_restricted_indices: allow_restricted,
            },
            clusters,
        ));
    }
    Ok(out)
}

fn object_array(role: &str, field: &str, v: &Value) -> Result<Vec<Value>, ApiResponse> {
    match v {
        Value::Array(a) if a.iter().all(Value::is_object) => Ok(a.clone()),
        _ => Err(parse_exception(&format!(
            "failed to parse role [{role}]. expected field [{field}] value to be an array of objects, but found [{}] instead",
            type_name(v)
        ))),
    }
}

/// Parses a role body. `allow_restriction` is set for API-key role descriptors, the only
/// place `restriction` is accepted.
pub fn parse_role(
    role: &str,
    body: &Value,
    allow_restriction: bool,
) -> Result<RoleDescriptor, ApiResponse> {
    let Value::Object(obj) = body else {
        return Err(parse_exception(&format!(
            "failed to parse role [{role}]. expected an object but found [{}] instead",
            type_name(body)
        )));
    };
    let mut rd = RoleDescriptor::default();
    for (k, v) in obj {
        match k.as_str() {
            "cluster" => rd.cluster = string_array(role, "cluster", v)?,
            "indices" | "index" => rd.indices = parse_indices(role, k, v)?,
            "applications" | "application" => rd.applications = object_array(role, k, v)?,
            "run_as" => rd.run_as = string_array(role, "run_as", v)?,
            "metadata" => match v {
                Value::Object(m) => rd.metadata = m.clone(),
                Value::Null => {}
                _ => {
                    return Err(parse_exception(&format!(
                        "expected field [metadata] to be of type object, but found [{}] instead",
                        type_name(v)
                    )));
                }
            },
            // Accepted and ignored on input: Elasticsearch computes it.
            "transient_metadata" => {}
            "description" => match v {
                Value::String(s) => rd.description = Some(s.clone()),
                Value::Null => {}
                _ => {
                    return Err(parse_exception(&format!(
                        "failed to parse role [{role}]. expected field [description] value to be a string, but found [{}] instead",
                        type_name(v)
                    )));
                }
            },
            "global" => rd.global = Some(v.clone()),
            "remote_indices" => rd.remote_indices = parse_remote_indices(role, k, v)?,
            "remote_cluster" => rd.remote_cluster = object_array(role, k, v)?,
            "restriction" if allow_restriction => rd.restriction = Some(v.clone()),
            other => {
                return Err(parse_exception(&format!(
                    "failed to parse role [{role}]. unexpected field [{other}]"
                )));
            }
        }
    }
    Ok(rd)
}

fn idx(names: &[&str], privileges: &[&str], allow_restricted: bool) -> IndicesPrivileges {
    IndicesPrivileges {
        names: names.iter().map(|s| s.to_string()).collect(),
        privileges: privileges.iter().map(|s| s.to_string()).collect(),
        field_security: None,
        query: None,
        allow_restricted_indices: allow_restricted,
    }
}

fn reserved_meta() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("_reserved".into(), Value::Bool(true));
    m
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The built-in roles. Index patterns that Elasticsearch writes as regular expressions
/// (viewer's "everything but dot-indices") are approximated with `*`.
pub fn reserved_role(name: &str) -> Option<RoleDescriptor> {
    let mut rd = RoleDescriptor {
        metadata: reserved_meta(),
        ..RoleDescriptor::default()
    };
    match name {
        "superuser" => {
            rd.cluster = strings(&["all"]);
            rd.indices = vec![
                idx(&["*"], &["all"], false),
                idx(
                    &["*"],
                    &[
                        "monitor",
                        "read",
                        "view_index_metadata",
                        "read_cross_cluster",
                    ],
                    true,
                ),
            ];
            rd.applications =
                vec![json!({"application": "*", "privileges": ["*"], "resources": ["*"]})];
            rd.run_as = strings(&["*"]);
        }
        "viewer" => {
            rd.indices = vec![idx(&["*"], &["read", "view_index_metadata"], false)];
            rd.applications = vec![
                json!({"application": "kibana-.kibana", "privileges": ["read"], "resources": ["*"]}),
            ];
        }
        "editor" => {
            rd.indices = vec![
                idx(&["*"], &["read", "view_index_metadata"], false),
                idx(
                    &[
                        "observability-annotations",
                        ".siem-signals*",
                        ".lists-*",
                        ".items-*",
                        ".alerts*",
                        ".preview.alerts*",
                        ".internal.preview.alerts*",
                    ],
                    &["read", "view_index_metadata", "write", "maintenance"],
                    false,
                ),
            ];
            rd.applications = vec![
                json!({"application": "kibana-.kibana", "privileges": ["all"], "resources": ["*"]}),
            ];
        }
        "kibana_system" => {
            rd.cluster = strings(&[
                "monitor",
                "manage_index_templates",
                "cluster:admin/xpack/monitoring/bulk",
                "manage_saml",
                "manage_token",
                "manage_oidc",
                "manage_enrich",
                "manage_pipeline",
                "manage_ilm",
                "manage_transform",
                "grant_api_key",
                "manage_own_api_key",
                "cluster:admin/xpack/security/api_key/invalidate",
            ]);
            rd.indices = vec![
                idx(&[".kibana*", ".reporting-*"], &["all"], false),
                idx(&[".monitoring-*"], &["read", "read_cross_cluster"], false),
                idx(
                    &[".management-beats"],
                    &["create_index", "read", "write"],
                    false,
                ),
            ];
        }
        "kibana_admin" => {
            rd.applications = vec![
                json!({"application": "kibana-.kibana", "privileges": ["all"], "resources": ["*"]}),
            ];
        }
        "kibana_user" => {
            rd.applications = vec![
                json!({"application": "kibana-.kibana", "privileges": ["all"], "resources": ["*"]}),
            ];
            rd.metadata.insert("_deprecated".into(), json!(true));
        }
        "monitoring_user" => {
            rd.cluster = strings(&["cluster:monitor/main", "cluster:monitor/xpack/info"]);
            rd.indices = vec![idx(
                &[".monitoring-*", "metrics-*"],
                &["read", "read_cross_cluster"],
                false,
            )];
        }
        "remote_monitoring_agent" => {
            rd.cluster = strings(&[
                "manage_index_templates",
                "manage_ingest_pipelines",
                "monitor",
                "cluster:monitor/xpack/watcher/watch/get",
            ]);
            rd.indices = vec![
                idx(&[".monitoring-*"], &["all"], false),
                idx(&["metricbeat-*"], &["index", "create_index"], false),
            ];
        }
        "remote_monitoring_collector" => {
            rd.cluster = strings(&["monitor"]);
            rd.indices = vec![
                idx(&["*"], &["monitor"], false),
                idx(&[".kibana*"], &["read"], false),
            ];
        }
        "logstash_system" | "beats_system" | "apm_system" => {
            rd.cluster = strings(&["monitor", "cluster:admin/xpack/monitoring/bulk"]);
        }
        "logstash_admin" => {
            rd.cluster = strings(&["manage_logstash_pipelines"]);
            rd.indices = vec![idx(
                &[".logstash*"],
                &["create", "delete", "index", "manage", "read"],
                true,
            )];
        }
        "ingest_admin" => {
            rd.cluster = strings(&["manage_index_templates", "manage_pipeline"]);
        }
        "transport_client" => {
            rd.cluster = strings(&["transport_client"]);
        }
        "machine_learning_admin" => {
            rd.cluster = strings(&["manage_ml"]);
        }
        "machine_learning_user" => {
            rd.cluster = strings(&["monitor_ml"]);
        }
        "watcher_admin" => {
            rd.cluster = strings(&["manage_watcher"]);
        }
        "watcher_user" => {
            rd.cluster = strings(&["monitor_watcher"]);
        }
        "reporting_user" => {
            rd.metadata.insert("_deprecated".into(), json!(true));
        }
        "snapshot_user" => {
            rd.cluster = strings(&["create_snapshot", "monitor_snapshot"]);
        }
        "enrich_user" => {
            rd.cluster = strings(&["manage_enrich", "manage_ingest_pipelines", "monitor"]);
        }
        "rollup_admin" => {
            rd.cluster = strings(&["manage_rollup"]);
        }
        "rollup_user" => {
            rd.cluster = strings(&["monitor_rollup"]);
        }
        _ => return None,
    }
    Some(rd)
}

pub static RESERVED_ROLE_NAMES: &[&str] = &[
    "apm_system",
    "beats_system",
    "editor",
    "enrich_user",
    "ingest_admin",
    "kibana_admin",
    "kibana_system",
    "kibana_user",
    "logstash_admin",
    "logstash_system",
    "machine_learning_admin",
    "machine_learning_user",
    "monitoring_user",
    "remote_monitoring_agent",
    "remote_monitoring_collector",
    "reporting_user",
    "rollup_admin",
    "rollup_user",
    "snapshot_user",
    "superuser",
    "transport_client",
    "viewer",
    "watcher_admin",
    "watcher_user",
];

pub fn is_reserved_role(name: &str) -> bool {
    RESERVED_ROLE_NAMES.contains(&name)
}

/// `Validation.Roles.validateRoleName(name, allowReserved)`.
pub fn role_name_error(name: &str, allow_reserved: bool) -> Option<String> {
    if !validation::is_valid_name(name) {
        return Some(validation::name_rule_message("Role names"));
    }
    if !allow_reserved && is_reserved_role(name) {
        return Some(format!("Role [{name}] is reserved and may not be used."));
    }
    None
}
