//! Read-only index metadata APIs: `_resolve/index`, `_mapping`, `_data_stream`, `_alias`,
//! `_cat/indices` and `GET /{index}`. Wildcards expand only to what the caller may see;
//! explicitly named targets the caller may not see are refused with 403.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::authz::deny_index;
use crate::catalog::{IndicesOptions, Kind, ResolveError};
use crate::ctx::Ctx;
use crate::errors::{ApiResponse, ApiResult, index_not_found};
use crate::glob;

const INDICES_OPTION_PARAMS: &[&str] = &[
    "expand_wildcards",
    "ignore_unavailable",
    "allow_no_indices",
    "ignore_throttled",
    "local",
    "master_timeout",
];

/// Resolves `expr` for `action`, authorizing each abstraction by its own name; backing
/// indices are also reachable through their data stream's name.
pub fn resolve_authorized(
    ctx: &Ctx,
    expr: &str,
    action: &str,
    opts: IndicesOptions,
    data_streams: bool,
) -> Result<Vec<(String, Kind)>, ApiResponse> {
    let catalog = &ctx.state.catalog;
    let perm = &ctx.principal.permission;
    let authorized = |name: &str, kind: Kind| -> bool {
        if perm.index(action, name) {
            return true;
        }
        kind == Kind::Index
            && catalog
                .indices
                .get(name)
                .and_then(|ix| ix.data_stream.as_deref())
                .is_some_and(|ds| perm.index(action, ds))
    };
    catalog
        .resolve(expr, opts, data_streams, &authorized)
        .map_err(|e| match e {
            ResolveError::NotFound(n) => index_not_found(&n),
            ResolveError::Unauthorized(names) => deny_index(ctx.principal, action, &names),
        })
}

pub fn resolve_index(ctx: &mut Ctx, expr: &str) -> ApiResult {
    let mut allowed = INDICES_OPTION_PARAMS.to_vec();
    allowed.push("mode");
    ctx.req.allow_params(&allowed)?;
    let opts = IndicesOptions::from_request(ctx.req, "open", true, false)?;
    let resolved = resolve_authorized(ctx, expr, "indices:admin/resolve/index", opts, true)?;
    let catalog = &ctx.state.catalog;
    let mut indices = Vec::new();
    let mut aliases = Vec::new();
    let mut data_streams = Vec::new();
    let mut sorted = resolved;
    sorted.sort();
    for (name, kind) in sorted {
        match kind {
            Kind::Index => {
                let Some(ix) = catalog.indices.get(&name) else {
                    continue;
                };
                let mut attributes = vec![if ix.closed { "closed" } else { "open" }];
                if ix.hidden || ix.data_stream.is_some() {
                    attributes.push("hidden");
                }
                if ix.system {
                    attributes.push("system");
                }
                attributes.sort_unstable();
                let mut o = Map::new();
                o.insert("name".into(), json!(name));
                if !ix.aliases.is_empty() {
                    o.insert(
                        "aliases".into(),
                        json!(ix.aliases.keys().collect::<Vec<_>>()),
                    );
                }
                o.insert("attributes".into(), json!(attributes));
                if let Some(ds) = &ix.data_stream {
                    o.insert("data_stream".into(), json!(ds));
                }
                o.insert("mode".into(), json!("standard"));
                indices.push(Value::Object(o));
            }
            Kind::Alias => {
                let members: Vec<&String> = catalog
                    .aliases
                    .get(&name)
                    .map(|s| s.iter().collect())
                    .unwrap_or_default();
                aliases.push(json!({"name": name, "indices": members}));
            }
            Kind::DataStream => {
                if let Some(ds) = catalog.data_streams.get(&name) {
                    data_streams.push(json!({
                        "name": name,
                        "backing_indices": ds.backing,
                        "timestamp_field": "@timestamp"
                    }));
                }
            }
        }
    }
    Ok(ApiResponse::ok(json!({
        "indices": indices,
        "aliases": aliases,
        "data_streams": data_streams
    })))
}

pub fn get_mapping(ctx: &mut Ctx, expr: Option<&str>) -> ApiResult {
    ctx.req.allow_params(INDICES_OPTION_PARAMS)?;
    let opts = IndicesOptions::from_request(ctx.req, "open", true, false)?;
    let resolved = resolve_authorized(
        ctx,
        expr.unwrap_or("_all"),
        "indices:admin/mappings/get",
        opts,
        true,
    )?;
    let catalog = &ctx.state.catalog;
    let mut out = Map::new();
    for name in catalog.concrete(&resolved) {
        if let Some(ix) = catalog.indices.get(&name) {
            out.insert(name, json!({"mappings": ix.mappings}));
        }
    }
    Ok(ApiResponse::ok(Value::Object(out)))
}

pub fn get_index(ctx: &mut Ctx, expr: &str) -> ApiResult {
    let mut allowed = INDICES_OPTION_PARAMS.to_vec();
    allowed.extend(["flat_settings", "include_defaults", "features"]);
    ctx.req.allow_params(&allowed)?;
    // `GetIndexRequest` defaults to `IndicesOptions.strictExpandOpen()` (elastic/elasticsearch
    // `server/.../action/support/master/info/ClusterInfoRequest.java`): a wildcard that matches
    // nothing is an empty answer, a missing concrete name is 404.
    let opts = IndicesOptions::from_request(ctx.req, "open", true, false)?;
    let resolved = resolve_authorized(ctx, expr, "indices:admin/get", opts, true);
    if ctx.req.method == "HEAD" {
        return Ok(match resolved {
            Ok(r) if !r.is_empty() => ApiResponse::empty(200),
            Ok(_) => ApiResponse::empty(404),
            Err(e) => ApiResponse::empty(e.status),
        });
    }
    let resolved = resolved?;
    let catalog = &ctx.state.catalog;
    let mut out = Map::new();
    for name in catalog.concrete(&resolved) {
        if let Some(ix) = catalog.indices.get(&name) {
            let aliases: Map<String, Value> = ix
                .aliases
                .iter()
                .map(|(a, p)| (a.clone(), p.to_json()))
                .collect();
            let mut o = Map::new();
            o.insert("aliases".into(), Value::Object(aliases));
            o.insert("mappings".into(), Value::Object(ix.mappings.clone()));
            o.insert(
                "settings".into(),
                json!({"index": {
                    "creation_date": ix.creation_date.to_string(),
                    "number_of_shards": "1",
                    "number_of_replicas": "1",
                    "uuid": ix.uuid,
                    "hidden": ix.hidden.to_string(),
                    "provided_name": ix.name,
                    "version": {"created": "9009000"}
                }}),
            );
            if let Some(ds) = &ix.data_stream {
                o.insert("data_stream".into(), json!(ds));
            }
            out.insert(name, Value::Object(o));
        }
    }
    Ok(ApiResponse::ok(Value::Object(out)))
}

pub fn get_data_streams(ctx: &mut Ctx, expr: Option<&str>) -> ApiResult {
    let mut allowed = INDICES_OPTION_PARAMS.to_vec();
    allowed.extend(["include_defaults", "verbose"]);
    ctx.req.allow_params(&allowed)?;
    let opts = IndicesOptions::from_request(ctx.req, "open", true, false)?;
    let resolved = resolve_authorized(
        ctx,
        expr.unwrap_or("*"),
        "indices:admin/data_stream/get",
        opts,
        true,
    )?;
    let catalog = &ctx.state.catalog;
    let explicit: Vec<&str> = expr
        .unwrap_or("*")
        .split(',')
        .filter(|e| !glob::has_wildcard(e) && *e != "_all" && !e.is_empty())
        .collect();
    for e in &explicit {
        if !catalog.data_streams.contains_key(*e) {
            return Err(index_not_found(e));
        }
    }
    let mut out = Vec::new();
    for (name, kind) in resolved {
        if kind != Kind::DataStream {
            continue;
        }
        let Some(ds) = catalog.data_streams.get(&name) else {
            continue;
        };
        let indices: Vec<Value> = ds
            .backing
            .iter()
            .map(|b| {
                let uuid = catalog.indices.get(b).map(|i| i.uuid.clone()).unwrap_or_default();
                json!({"index_name": b, "index_uuid": uuid, "prefer_ilm": true, "managed_by": "Unmanaged"})
            })
            .collect();
        let mut o = Map::new();
        o.insert("name".into(), json!(name));
        o.insert("timestamp_field".into(), json!({"name": "@timestamp"}));
        o.insert("indices".into(), Value::Array(indices));
        o.insert("generation".into(), json!(ds.generation));
        if let Some(m) = &ds.meta {
            o.insert("_meta".into(), Value::Object(m.clone()));
        }
        o.insert("status".into(), json!("GREEN"));
        o.insert("template".into(), json!(format!("{name}-template")));
        o.insert("next_generation_managed_by".into(), json!("Unmanaged"));
        o.insert("prefer_ilm".into(), json!(true));
        o.insert("hidden".into(), json!(ds.hidden));
        o.insert("system".into(), json!(ds.system));
        o.insert("allow_custom_routing".into(), json!(false));
        o.insert("replicated".into(), json!(false));
        o.insert("rollover_on_write".into(), json!(false));
        // 9.x answers carry the stream's own index settings (empty unless set on the stream).
        o.insert("settings".into(), json!({}));
        out.push(Value::Object(o));
    }
    out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(ApiResponse::ok(json!({"data_streams": out})))
}

/// `GET /_alias[/{name}]` and `GET /{index}/_alias[/{name}]`.
pub fn get_aliases(ctx: &mut Ctx, index_expr: Option<&str>, alias_expr: Option<&str>) -> ApiResult {
    ctx.req.allow_params(INDICES_OPTION_PARAMS)?;
    let opts = IndicesOptions::from_request(ctx.req, "all", true, false)?;
    let action = "indices:admin/aliases/get";
    let resolved = resolve_authorized(ctx, index_expr.unwrap_or("_all"), action, opts, true)?;
    let catalog = &ctx.state.catalog;
    let alias_patterns: Option<Vec<&str>> =
        alias_expr.filter(|a| *a != "_all" && *a != "*").map(|a| {
            a.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        });
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    let mut found_aliases: Vec<String> = Vec::new();
    for name in catalog.concrete(&resolved) {
        let Some(ix) = catalog.indices.get(&name) else {
            continue;
        };
        let mut aliases = Map::new();
        for (a, props) in &ix.aliases {
            let wanted = alias_patterns
                .as_ref()
                .is_none_or(|pats| pats.iter().any(|p| glob::matches(p, a)));
            if wanted {
                aliases.insert(a.clone(), props.to_json());
                found_aliases.push(a.clone());
            }
        }
        // Without an alias filter every index is listed, even with no aliases.
        if alias_patterns.is_none() || !aliases.is_empty() {
            out.insert(name, json!({"aliases": aliases}));
        }
    }
    let mut body: Map<String, Value> = out.into_iter().collect();
    if let Some(pats) = &alias_patterns {
        let missing: Vec<&str> = pats
            .iter()
            .copied()
            .filter(|p| !glob::has_wildcard(p) && !found_aliases.iter().any(|a| a == p))
            .collect();
        if !missing.is_empty() {
            let msg = if missing.len() == 1 {
                format!("alias [{}] missing", missing[0])
            } else {
                format!("aliases [{}] missing", missing.join(","))
            };
            let mut err = Map::new();
            err.insert("error".into(), json!(msg));
            err.insert("status".into(), json!(404));
            err.extend(body);
            return Ok(ApiResponse::new(404, Value::Object(err)));
        }
    }
    body = body.into_iter().collect();
    Ok(ApiResponse::ok(Value::Object(body)))
}

fn human_size(bytes: usize) -> String {
    if bytes < 1024 {
        format!("{bytes}b")
    } else if bytes < 1024 * 1024 {
        format!("{:.1}kb", bytes as f64 / 1024.0)
    } else {
        format!("{:.1}mb", bytes as f64 / (1024.0 * 1024.0))
    }
}

const CAT_COLUMNS: &[(&str, &[&str])] = &[
    ("health", &["h"]),
    ("status", &["s"]),
    ("index", &["i", "idx"]),
    ("uuid", &["id", "uuid"]),
    ("pri", &["p", "shards.primary", "shardsPrimary"]),
    ("rep", &["r", "shards.replica", "shardsReplica"]),
    ("docs.count", &["dc", "docsCount"]),
    ("docs.deleted", &["dd", "docsDeleted"]),
    ("store.size", &["ss", "storeSize"]),
    ("pri.store.size", &[]),
    ("dataset.size", &[]),
];

fn canonical_column(c: &str) -> Option<&'static str> {
    CAT_COLUMNS
        .iter()
        .find(|(name, aliases)| *name == c || aliases.contains(&c))
        .map(|(name, _)| *name)
}

pub fn cat_indices(ctx: &mut Ctx, expr: Option<&str>) -> ApiResult {
    let mut allowed = INDICES_OPTION_PARAMS.to_vec();
    allowed.extend([
        "h",
        "s",
        "v",
        "help",
        "bytes",
        "health",
        "pri",
        "time",
        "include_unloaded_segments",
    ]);
    ctx.req.allow_params(&allowed)?;
    let opts = IndicesOptions::from_request(ctx.req, "all", true, false)?;
    let resolved = resolve_authorized(
        ctx,
        expr.unwrap_or("_all"),
        "indices:monitor/stats",
        opts,
        true,
    )?;
    let catalog = &ctx.state.catalog;
    let columns: Vec<&'static str> = match ctx.req.param("h") {
        Some(h) if !h.is_empty() => h
            .split(',')
            .filter_map(|c| canonical_column(c.trim()))
            .collect(),
        _ => CAT_COLUMNS.iter().map(|(n, _)| *n).collect(),
    };
    let mut rows: Vec<Map<String, Value>> = Vec::new();
    for name in catalog.concrete(&resolved) {
        let Some(ix) = catalog.indices.get(&name) else {
            continue;
        };
        let size: usize = ix.docs.values().map(|d| d.source.to_string().len()).sum();
        let full: Vec<(&str, String)> = vec![
            (
                "health",
                if ix.closed {
                    String::new()
                } else {
                    "green".into()
                },
            ),
            (
                "status",
                if ix.closed {
                    "close".into()
                } else {
                    "open".into()
                },
            ),
            ("index", name.clone()),
            ("uuid", ix.uuid.clone()),
            ("pri", "1".into()),
            ("rep", "0".into()),
            ("docs.count", ix.docs.len().to_string()),
            ("docs.deleted", "0".into()),
            ("store.size", human_size(size)),
            ("pri.store.size", human_size(size)),
            ("dataset.size", human_size(size)),
        ];
        let mut row = Map::new();
        for c in &columns {
            if let Some((_, v)) = full.iter().find(|(k, _)| k == c) {
                row.insert(c.to_string(), json!(v));
            }
        }
        rows.push(row);
    }
    if let Some(s) = ctx.req.param("s").filter(|s| !s.is_empty()) {
        let (col, desc) = match s.split_once(':') {
            Some((c, o)) => (c, o == "desc"),
            None => (s, false),
        };
        let col = canonical_column(col).unwrap_or("index");
        rows.sort_by(|a, b| {
            let (x, y) = (
                a.get(col).and_then(Value::as_str),
                b.get(col).and_then(Value::as_str),
            );
            let ord = match (
                x.and_then(|v| v.parse::<f64>().ok()),
                y.and_then(|v| v.parse::<f64>().ok()),
            ) {
                (Some(p), Some(q)) => p.partial_cmp(&q).unwrap_or(std::cmp::Ordering::Equal),
                _ => x.cmp(&y),
            };
            if desc { ord.reverse() } else { ord }
        });
    }
    if ctx.req.param("format") == Some("json") {
        return Ok(ApiResponse::ok(Value::Array(
            rows.into_iter().map(Value::Object).collect(),
        )));
    }
    let mut text = String::new();
    if ctx.req.bool_param("v", false)? {
        text.push_str(&columns.join(" "));
        text.push('\n');
    }
    for row in rows {
        let cells: Vec<&str> = columns
            .iter()
            .map(|c| row.get(*c).and_then(Value::as_str).unwrap_or(""))
            .collect();
        text.push_str(&cells.join(" "));
        text.push('\n');
    }
    let mut resp = ApiResponse::ok(Value::String(text));
    resp.plain_text = true;
    Ok(resp)
}
