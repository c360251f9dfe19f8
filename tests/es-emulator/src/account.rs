//! `_authenticate`, `_has_privileges`, the built-in privilege list, `GET /` and
//! cluster health.

use serde_json::{Map, Value, json};

use crate::authz::require_cluster;
use crate::ctx::Ctx;
use crate::errors::{ApiResponse, ApiResult, action_validation, illegal_argument, parse_exception};
use crate::glob;
use crate::privileges;

pub const VERSION: &str = "9.1.0";

pub fn authenticate(ctx: &mut Ctx) -> ApiResult {
    ctx.req.allow_params(&[])?;
    Ok(ApiResponse::ok(ctx.principal.authenticate_json()))
}

fn string_list(what: &str, v: &Value) -> Result<Vec<String>, ApiResponse> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str().map(str::to_string).ok_or_else(|| {
                    parse_exception(&format!("failed to parse privileges check. expected field [{what}] value to be an array of strings"))
                })
            })
            .collect(),
        _ => Err(parse_exception(&format!(
            "failed to parse privileges check. expected field [{what}] value to be an array of strings"
        ))),
    }
}

pub fn has_privileges(ctx: &mut Ctx, user: Option<&str>) -> ApiResult {
    ctx.req.allow_params(&[])?;
    let p = ctx.principal;
    let body = ctx.req.json_object()?;
    let mut cluster = Vec::new();
    let mut index: Vec<(Vec<String>, Vec<String>, bool)> = Vec::new();
    let mut application = Vec::new();
    for (k, v) in &body {
        match k.as_str() {
            "cluster" => cluster = string_list("cluster", v)?,
            "index" | "indices" => {
                let entries = v.as_array().ok_or_else(|| {
                    parse_exception(&format!("failed to parse privileges check [{}]. expected field [index] value to be an array", p.username))
                })?;
                for e in entries {
                    let o = e.as_object().ok_or_else(|| {
                        parse_exception("failed to parse privileges check. expected an object")
                    })?;
                    let mut names = Vec::new();
                    let mut privs = Vec::new();
                    let mut allow_restricted = false;
                    for (ik, iv) in o {
                        match ik.as_str() {
                            "names" => names = string_list("names", iv)?,
                            "privileges" => privs = string_list("privileges", iv)?,
                            "allow_restricted_indices" => {
                                allow_restricted = iv.as_bool().unwrap_or(false)
                            }
                            other => {
                                return Err(parse_exception(&format!(
                                    "failed to parse indices privileges for role [{}]. unexpected field [{other}]",
                                    p.username
                                )));
                            }
                        }
                    }
                    index.push((names, privs, allow_restricted));
                }
            }
            "application" => application = v.as_array().cloned().unwrap_or_default(),
            other => {
                return Err(parse_exception(&format!(
                    "failed to parse privileges check [{}]. unexpected field [{other}]",
                    p.username
                )));
            }
        }
    }
    if cluster.is_empty() && index.is_empty() && application.is_empty() {
        return Err(action_validation(&[
            "must specify at least one privilege".into()
        ]));
    }
    if user.is_some_and(|u| u != p.username) {
        return Err(illegal_argument(
            "users may only check the privileges of their own account",
        ));
    }
    for c in &cluster {
        if !privileges::is_valid_cluster_privilege(c) {
            return Err(illegal_argument(&privileges::unknown_cluster_privilege(c)));
        }
    }
    for (_, privs, _) in &index {
        for ip in privs {
            if !privileges::is_valid_index_privilege(ip) {
                return Err(illegal_argument(&privileges::unknown_index_privilege(ip)));
            }
        }
    }
    let mut all = true;
    let mut cluster_out = Map::new();
    for c in &cluster {
        let has = p.permission.has_cluster_privilege(c);
        all &= has;
        cluster_out.insert(c.clone(), json!(has));
    }
    let mut index_out = Map::new();
    for (names, privs, allow_restricted) in &index {
        for n in names {
            let entry = index_out.entry(n.clone()).or_insert_with(|| json!({}));
            for pr in privs {
                let has = p.permission.has_index_privilege(n, pr, *allow_restricted);
                all &= has;
                entry[pr.as_str()] = json!(has);
            }
        }
    }
    let mut app_out = Map::new();
    for a in &application {
        let app = a["application"].as_str().unwrap_or_default().to_string();
        let resources = a["resources"].as_array().cloned().unwrap_or_default();
        let privs = a["privileges"].as_array().cloned().unwrap_or_default();
        let app_entry = app_out.entry(app.clone()).or_insert_with(|| json!({}));
        for r in resources {
            let r = r.as_str().unwrap_or_default().to_string();
            let mut m = Map::new();
            for pr in &privs {
                let pr = pr.as_str().unwrap_or_default();
                let has = has_application_privilege(p, &app, pr, &r);
                all &= has;
                m.insert(pr.to_string(), json!(has));
            }
            app_entry[r.as_str()] = Value::Object(m);
        }
    }
    Ok(ApiResponse::ok(json!({
        "username": p.username,
        "has_all_requested": all,
        "cluster": cluster_out,
        "index": index_out,
        "application": app_out,
    })))
}

/// Application privileges are matched by name only (no privilege-to-action mapping).
fn has_application_privilege(
    p: &crate::authn::Principal,
    app: &str,
    privilege: &str,
    resource: &str,
) -> bool {
    application_grants(p, app, resource, &|x| x == "*" || x == privilege)
}

/// Does every layer hold some privilege of `app` on `resource` that `wanted` accepts?
pub fn application_grants(
    p: &crate::authn::Principal,
    app: &str,
    resource: &str,
    wanted: &dyn Fn(&str) -> bool,
) -> bool {
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    p.permission.layers.iter().all(|layer| {
        layer.iter().any(|rd| {
            rd.applications.iter().any(|a| {
                glob::matches(a["application"].as_str().unwrap_or_default(), app)
                    && strs(&a["privileges"]).iter().any(|x| wanted(x))
                    && strs(&a["resources"])
                        .iter()
                        .any(|x| glob::matches(x, resource))
            })
        })
    })
}

pub fn builtin_privileges(ctx: &mut Ctx) -> ApiResult {
    ctx.req.allow_params(&[])?;
    require_cluster(
        ctx.principal,
        "cluster:admin/xpack/security/privilege/builtin/get",
    )?;
    let mut cluster: Vec<&str> = privileges::CLUSTER.iter().map(|d| d.name).collect();
    cluster.sort_unstable();
    let mut index: Vec<&str> = privileges::INDEX.iter().map(|d| d.name).collect();
    index.sort_unstable();
    Ok(ApiResponse::ok(json!({
        "cluster": cluster,
        "index": index,
        "remote_cluster": ["monitor_enrich", "monitor_stats"],
    })))
}

pub fn info(ctx: &mut Ctx) -> ApiResult {
    ctx.req.allow_params(&[])?;
    require_cluster(ctx.principal, "cluster:monitor/main")?;
    if ctx.req.method == "HEAD" {
        return Ok(ApiResponse::empty(200));
    }
    Ok(ApiResponse::ok(json!({
        "name": "es-emulator-0",
        "cluster_name": "es-emulator",
        "cluster_uuid": ctx.state.cluster_uuid,
        "version": {
            "number": VERSION,
            "build_flavor": "default",
            "build_type": "docker",
            "build_hash": "es-emulator",
            "build_date": "2025-07-09T22:10:13.578182715Z",
            "build_snapshot": false,
            "lucene_version": "10.2.2",
            "minimum_wire_compatibility_version": "8.19.0",
            "minimum_index_compatibility_version": "8.0.0"
        },
        "tagline": "You Know, for Search"
    })))
}

pub fn cluster_health(ctx: &mut Ctx) -> ApiResult {
    ctx.req.allow_params(&[
        "level",
        "local",
        "master_timeout",
        "timeout",
        "wait_for_active_shards",
        "wait_for_events",
        "wait_for_no_initializing_shards",
        "wait_for_no_relocating_shards",
        "wait_for_nodes",
        "wait_for_status",
        "expand_wildcards",
    ])?;
    require_cluster(ctx.principal, "cluster:monitor/health")?;
    let shards = ctx.state.catalog.indices.len();
    Ok(ApiResponse::ok(json!({
        "cluster_name": "es-emulator",
        "status": "green",
        "timed_out": false,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": shards,
        "active_shards": shards,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": 0,
        "unassigned_primary_shards": 0,
        "delayed_unassigned_shards": 0,
        "number_of_pending_tasks": 0,
        "number_of_in_flight_fetch": 0,
        "task_max_waiting_in_queue_millis": 0,
        "active_shards_percent_as_number": 100.0
    })))
}
