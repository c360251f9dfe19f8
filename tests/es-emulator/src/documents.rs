//! Index creation and deletion, single-document APIs and `_search`.

use serde_json::{Map, Value, json};

use crate::authz::deny_index;
use crate::catalog::{Doc, Index, IndicesOptions, Kind, invalid_index_name};
use crate::ctx::Ctx;
use crate::discovery::resolve_authorized;
use crate::errors::{
    ApiResponse, ApiResult, action_validation, es_error, illegal_argument, index_not_found,
    parse_exception,
};
use crate::ids;
use crate::query;

fn invalid_name(name: &str, why: &str) -> ApiResponse {
    let mut extra = Map::new();
    extra.insert("index_uuid".into(), json!("_na_"));
    extra.insert("index".into(), json!(name));
    es_error(
        400,
        "invalid_index_name_exception",
        &format!("Invalid index name [{name}], {why}"),
        extra,
    )
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

/// A fresh index, as `PUT /{index}` or auto-creation makes it.
pub fn new_index(name: &str, mappings: Map<String, Value>, hidden: bool, now: i64) -> Index {
    Index {
        name: name.to_string(),
        uuid: ids::random_id(22),
        mappings,
        hidden,
        system: false,
        closed: false,
        aliases: Default::default(),
        docs: Default::default(),
        data_stream: None,
        creation_date: now,
        next_seq_no: 0,
    }
}

pub fn create_index(ctx: &mut Ctx, name: &str) -> ApiResult {
    ctx.req
        .allow_params(&["wait_for_active_shards", "timeout", "master_timeout"])?;
    let body = ctx.req.optional_object()?;
    let mut mappings = Map::new();
    let mut hidden = false;
    let mut aliases: Vec<(String, Value)> = Vec::new();
    for (k, v) in &body {
        match k.as_str() {
            "mappings" => {
                mappings = v.as_object().cloned().ok_or_else(|| {
                    parse_exception("Failed to parse mapping: mappings must be an object")
                })?
            }
            "settings" => {
                let s = v.as_object().cloned().unwrap_or_default();
                hidden = truthy(s.get("index.hidden"))
                    || truthy(s.get("hidden"))
                    || truthy(s.get("index").and_then(|i| i.get("hidden")));
            }
            "aliases" => {
                aliases = v
                    .as_object()
                    .map(|o| o.clone().into_iter().collect())
                    .unwrap_or_default()
            }
            other => {
                return Err(parse_exception(&format!(
                    "unknown key [{other}] for create index"
                )));
            }
        }
    }
    let action = "indices:admin/create";
    if !ctx.principal.permission.index(action, name) {
        return Err(deny_index(ctx.principal, action, &[name.to_string()]));
    }
    if let Some(why) = invalid_index_name(name) {
        return Err(invalid_name(name, &why));
    }
    let catalog = &mut ctx.state.catalog;
    match catalog.kind_of(name) {
        Some(Kind::Index) => {
            let uuid = catalog
                .indices
                .get(name)
                .map(|i| i.uuid.clone())
                .unwrap_or_default();
            let mut extra = Map::new();
            extra.insert("index_uuid".into(), json!(uuid));
            extra.insert("index".into(), json!(name));
            return Err(es_error(
                400,
                "resource_already_exists_exception",
                &format!("index [{name}/{uuid}] already exists"),
                extra,
            ));
        }
        Some(_) => return Err(invalid_name(name, "already exists as alias")),
        None => {}
    }
    let now = ctx.state.now_millis();
    ctx.state
        .catalog
        .add_index(new_index(name, mappings, hidden, now));
    for (alias, def) in aliases {
        let props = crate::catalog::AliasProps {
            is_write_index: def.get("is_write_index").and_then(Value::as_bool),
            is_hidden: def.get("is_hidden").and_then(Value::as_bool),
        };
        ctx.state.catalog.add_alias(&alias, name, props);
    }
    Ok(ApiResponse::ok(
        json!({"acknowledged": true, "shards_acknowledged": true, "index": name}),
    ))
}

pub fn delete_index(ctx: &mut Ctx, expr: &str) -> ApiResult {
    ctx.req.allow_params(&[
        "expand_wildcards",
        "ignore_unavailable",
        "allow_no_indices",
        "timeout",
        "master_timeout",
    ])?;
    if expr.contains('*') || expr == "_all" {
        return Err(illegal_argument(
            "Wildcard expressions or all indices are not allowed",
        ));
    }
    let opts = IndicesOptions::from_request(ctx.req, "open,closed", false, false)?;
    let resolved = resolve_authorized(ctx, expr, "indices:admin/delete", opts, false)?;
    for (name, kind) in &resolved {
        if *kind != Kind::Index {
            return Err(illegal_argument(&format!(
                "The provided expression [{name}] matches an alias, specify the corresponding concrete indices instead."
            )));
        }
    }
    for (name, _) in resolved {
        ctx.state.catalog.remove_index(&name);
    }
    Ok(ApiResponse::ok(json!({"acknowledged": true})))
}

/// Where a write to `target` lands: an index, an alias's write index or a data stream's
/// newest backing index.
fn write_index(ctx: &Ctx, target: &str, op_create: bool) -> Result<Option<String>, ApiResponse> {
    let catalog = &ctx.state.catalog;
    match catalog.kind_of(target) {
        Some(Kind::Index) => Ok(Some(target.to_string())),
        Some(Kind::Alias) => {
            let members = catalog.aliases.get(target).cloned().unwrap_or_default();
            let explicit: Vec<&String> = members
                .iter()
                .filter(|i| {
                    catalog
                        .indices
                        .get(*i)
                        .and_then(|ix| ix.aliases.get(target))
                        .and_then(|p| p.is_write_index)
                        == Some(true)
                })
                .collect();
            match (explicit.first(), members.len()) {
                (Some(w), _) => Ok(Some((*w).clone())),
                (None, 1) => Ok(members.into_iter().next()),
                _ => Err(illegal_argument(&format!(
                    "no write index is defined for alias [{target}]. The write index may be explicitly disabled using is_write_index=false or the alias points to multiple indices without one being designated as a write index"
                ))),
            }
        }
        Some(Kind::DataStream) => {
            if !op_create {
                return Err(illegal_argument(
                    "only write ops with an op_type of create are allowed in data streams",
                ));
            }
            Ok(catalog
                .data_streams
                .get(target)
                .and_then(|ds| ds.backing.last().cloned()))
        }
        None => Ok(None),
    }
}

const DOC_WRITE_PARAMS: &[&str] = &[
    "refresh",
    "op_type",
    "routing",
    "pipeline",
    "timeout",
    "version",
    "version_type",
    "if_seq_no",
    "if_primary_term",
    "wait_for_active_shards",
    "require_alias",
    "require_data_stream",
];

/// `PUT|POST /{index}/_doc/{id}`, `POST /{index}/_doc`, `PUT|POST /{index}/_create/{id}`.
pub fn index_doc(ctx: &mut Ctx, target: &str, id: Option<&str>, force_create: bool) -> ApiResult {
    ctx.req.allow_params(DOC_WRITE_PARAMS)?;
    let op_create = force_create
        || id.is_none()
        || match ctx.req.param("op_type") {
            None | Some("index") => false,
            Some("create") => true,
            Some(other) => {
                return Err(illegal_argument(&format!(
                    "opType must be 'create' or 'index', found: [{other}]"
                )));
            }
        };
    let source = match ctx.req.json()? {
        None => {
            return Err(action_validation(&[
                "source is missing".into(),
                "content type is missing".into(),
            ]));
        }
        Some(Value::Object(o)) => Value::Object(o),
        Some(_) => return Err(parse_exception("request body must be a JSON object")),
    };
    let p = ctx.principal;
    let action = "indices:data/write/index";
    if !p.permission.index(action, target) {
        return Err(deny_index(p, action, &[target.to_string()]));
    }
    let op_action = if op_create {
        "indices:data/write/index:op_type/create"
    } else {
        "indices:data/write/index:op_type/index"
    };
    if !p.permission.index(op_action, target) {
        return Err(deny_index(
            p,
            "indices:data/write/bulk[s]",
            &[target.to_string()],
        ));
    }
    let concrete = match write_index(ctx, target, op_create)? {
        Some(c) => c,
        None => {
            let auto = "indices:admin/auto_create";
            if !p.permission.index(auto, target) {
                return Err(deny_index(p, auto, &[target.to_string()]));
            }
            if let Some(why) = invalid_index_name(target) {
                return Err(invalid_name(target, &why));
            }
            let now = ctx.state.now_millis();
            ctx.state
                .catalog
                .add_index(new_index(target, Map::new(), false, now));
            target.to_string()
        }
    };
    let id = id.map(str::to_string).unwrap_or_else(|| ids::random_id(20));
    let Some(ix) = ctx.state.catalog.indices.get_mut(&concrete) else {
        return Err(index_not_found(target));
    };
    let existing = ix.docs.get(&id).map(|d| d.version);
    if op_create && let Some(v) = existing {
        let mut extra = Map::new();
        extra.insert("index_uuid".into(), json!(ix.uuid));
        extra.insert("shard".into(), json!("0"));
        extra.insert("index".into(), json!(concrete));
        return Err(es_error(
            409,
            "version_conflict_engine_exception",
            &format!("[{id}]: version conflict, document already exists (current version [{v}])"),
            extra,
        ));
    }
    let version = existing.map(|v| v + 1).unwrap_or(1);
    let seq_no = ix.next_seq_no;
    ix.next_seq_no += 1;
    ix.docs.insert(
        id.clone(),
        Doc {
            source,
            version,
            seq_no,
        },
    );
    let created = existing.is_none();
    Ok(ApiResponse::new(
        if created { 201 } else { 200 },
        json!({
            "_index": concrete,
            "_id": id,
            "_version": version,
            "result": if created { "created" } else { "updated" },
            "_shards": {"total": 2, "successful": 1, "failed": 0},
            "_seq_no": seq_no,
            "_primary_term": 1
        }),
    ))
}

/// The single concrete index a document read or delete addresses.
fn single_index(ctx: &Ctx, target: &str, action: &str) -> Result<String, ApiResponse> {
    let p = ctx.principal;
    if !p.permission.index(action, target) {
        return Err(deny_index(p, action, &[target.to_string()]));
    }
    let catalog = &ctx.state.catalog;
    match catalog.kind_of(target) {
        Some(Kind::Index) => Ok(target.to_string()),
        Some(Kind::Alias) => {
            let members = catalog.aliases.get(target).cloned().unwrap_or_default();
            if members.len() == 1 {
                Ok(members.into_iter().next().unwrap_or_default())
            } else {
                Err(illegal_argument(&format!(
                    "alias [{target}] has more than one index associated with it [{}], can't execute a single index op",
                    members.into_iter().collect::<Vec<_>>().join(", ")
                )))
            }
        }
        _ => Err(index_not_found(target)),
    }
}

pub fn get_doc(ctx: &mut Ctx, target: &str, id: &str) -> ApiResult {
    ctx.req.allow_params(&[
        "_source",
        "_source_includes",
        "_source_excludes",
        "routing",
        "preference",
        "realtime",
        "refresh",
        "stored_fields",
        "version",
        "version_type",
    ])?;
    let concrete = single_index(ctx, target, "indices:data/read/get")?;
    let ix = ctx
        .state
        .catalog
        .indices
        .get(&concrete)
        .ok_or_else(|| index_not_found(target))?;
    match ix.docs.get(id) {
        Some(d) => {
            let mut o = json!({
                "_index": concrete,
                "_id": id,
                "_version": d.version,
                "_seq_no": d.seq_no,
                "_primary_term": 1,
                "found": true,
            });
            if ctx.req.param("_source") != Some("false") {
                o["_source"] = d.source.clone();
            }
            let status = if ctx.req.method == "HEAD" {
                return Ok(ApiResponse::empty(200));
            } else {
                200
            };
            Ok(ApiResponse::new(status, o))
        }
        None => {
            if ctx.req.method == "HEAD" {
                return Ok(ApiResponse::empty(404));
            }
            Ok(ApiResponse::new(
                404,
                json!({"_index": concrete, "_id": id, "found": false}),
            ))
        }
    }
}

pub fn delete_doc(ctx: &mut Ctx, target: &str, id: &str) -> ApiResult {
    ctx.req.allow_params(DOC_WRITE_PARAMS)?;
    let concrete = single_index(ctx, target, "indices:data/write/delete")?;
    let ix = ctx
        .state
        .catalog
        .indices
        .get_mut(&concrete)
        .ok_or_else(|| index_not_found(target))?;
    let seq_no = ix.next_seq_no;
    ix.next_seq_no += 1;
    let removed = ix.docs.remove(id);
    let found = removed.is_some();
    Ok(ApiResponse::new(
        if found { 200 } else { 404 },
        json!({
            "_index": concrete,
            "_id": id,
            "_version": removed.map(|d| d.version + 1).unwrap_or(1),
            "result": if found { "deleted" } else { "not_found" },
            "_shards": {"total": 2, "successful": 1, "failed": 0},
            "_seq_no": seq_no,
            "_primary_term": 1
        }),
    ))
}

/// `q=field:value` as a term query, `q=value` as match_all over any field.
fn query_from_q(q: &str) -> Value {
    match q.split_once(':') {
        Some((f, v)) => json!({"match": {f: v}}),
        None if q == "*" || q.is_empty() => json!({"match_all": {}}),
        None => json!({"match": {"_all_fields": q}}),
    }
}

pub fn search(ctx: &mut Ctx, expr: Option<&str>) -> ApiResult {
    ctx.req.allow_params(&[
        "expand_wildcards",
        "ignore_unavailable",
        "allow_no_indices",
        "ignore_throttled",
        "q",
        "size",
        "from",
        "sort",
        "_source",
        "track_total_hits",
        "rest_total_hits_as_int",
        "typed_keys",
        "search_type",
        "request_cache",
        "preference",
        "routing",
        "timeout",
        "allow_partial_search_results",
        "seq_no_primary_term",
        "version",
    ])?;
    let body = ctx.req.optional_object()?;
    let mut query_v = json!({"match_all": {}});
    let mut size = ctx
        .req
        .param("size")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10usize);
    let mut from = ctx
        .req
        .param("from")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0usize);
    let mut sort = Vec::new();
    let mut source_enabled = true;
    if let Some(q) = ctx.req.param("q") {
        query_v = query_from_q(q);
    }
    for (k, v) in &body {
        match k.as_str() {
            "query" => query_v = v.clone(),
            "size" => size = v.as_u64().unwrap_or(10) as usize,
            "from" => from = v.as_u64().unwrap_or(0) as usize,
            "sort" => sort = query::parse_sort(v),
            "_source" => source_enabled = v.as_bool().unwrap_or(true),
            "track_total_hits"
            | "aggs"
            | "aggregations"
            | "timeout"
            | "version"
            | "seq_no_primary_term"
            | "fields"
            | "highlight"
            | "search_after"
            | "pit"
            | "runtime_mappings"
            | "stored_fields"
            | "docvalue_fields" => {}
            other => {
                return Err(es_error(
                    400,
                    "parsing_exception",
                    &format!("Unknown key for a {} in [{other}].", json_token(v)),
                    Map::new(),
                ));
            }
        }
    }
    let opts = IndicesOptions::from_request(ctx.req, "open", true, false)?;
    let resolved = resolve_authorized(
        ctx,
        expr.unwrap_or("_all"),
        "indices:data/read/search",
        opts,
        true,
    )?;
    let catalog = &ctx.state.catalog;
    let concrete = catalog.concrete(&resolved);
    let mut hits: Vec<(Value, Value)> = Vec::new();
    for name in &concrete {
        let Some(ix) = catalog.indices.get(name) else {
            continue;
        };
        // Document- and field-level security of the roles that let this index be read.
        let mut granted_as = vec![name.as_str()];
        granted_as.extend(ix.data_stream.as_deref());
        let control =
            crate::dls::ReadControl::of(ctx.principal, "indices:data/read/search", &granted_as)?;
        for (id, d) in &ix.docs {
            // The search sees only the fields field-level security leaves; the role's own
            // query sees the whole document.
            let visible = control.filter_source(&d.source);
            let with_id = |mut v: Value| {
                if let Value::Object(o) = &mut v {
                    o.entry("_id").or_insert(json!(id));
                }
                v
            };
            let matched = if query_v
                .get("match")
                .and_then(|m| m.get("_all_fields"))
                .is_some()
            {
                let needle = query_v["match"]["_all_fields"]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase();
                visible.to_string().to_lowercase().contains(&needle)
            } else {
                query::matches(&query_v, &with_id(visible.clone()))?
            };
            if matched && control.allows(&with_id(d.source.clone()))? {
                let mut hit = json!({"_index": name, "_id": id, "_score": 1.0});
                if source_enabled {
                    hit["_source"] = visible;
                }
                hits.push((hit, d.source.clone()));
            }
        }
    }
    if !sort.is_empty() {
        hits.sort_by(|a, b| query::compare_docs(&a.1, &b.1, &sort));
    }
    let total = hits.len();
    let page: Vec<Value> = hits
        .into_iter()
        .skip(from)
        .take(size)
        .map(|(h, _)| h)
        .collect();
    let max_score = if total > 0 { json!(1.0) } else { Value::Null };
    // `rest_total_hits_as_int=true`: `hits.total` is a plain number (elastic/elasticsearch-
    // specification `specification/_global/search/SearchRequest.ts`, `rest_total_hits_as_int`:
    // "Indicates whether hits.total should be rendered as an integer or an object").
    let total_json = if ctx.req.bool_param("rest_total_hits_as_int", false)? {
        json!(total)
    } else {
        json!({"value": total, "relation": "eq"})
    };
    Ok(ApiResponse::ok(json!({
        "took": 1,
        "timed_out": false,
        "_shards": {"total": concrete.len(), "successful": concrete.len(), "skipped": 0, "failed": 0},
        "hits": {
            "total": total_json,
            "max_score": max_score,
            "hits": page
        }
    })))
}

fn json_token(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "START_OBJECT",
        Value::Array(_) => "START_ARRAY",
        Value::String(_) => "VALUE_STRING",
        Value::Number(_) => "VALUE_NUMBER",
        Value::Bool(_) => "VALUE_BOOLEAN",
        Value::Null => "VALUE_NULL",
    }
}

/// Writes are visible immediately, so refresh only authorizes and acknowledges.
pub fn refresh(ctx: &mut Ctx, expr: &str) -> ApiResult {
    ctx.req
        .allow_params(&["expand_wildcards", "ignore_unavailable", "allow_no_indices"])?;
    let opts = IndicesOptions::from_request(ctx.req, "open", true, false)?;
    let resolved = resolve_authorized(ctx, expr, "indices:admin/refresh", opts, true)?;
    let n = ctx.state.catalog.concrete(&resolved).len();
    Ok(ApiResponse::ok(
        json!({"_shards": {"total": n * 2, "successful": n, "failed": 0}}),
    ))
}
