//! REST request → Elasticsearch action names and target index expressions.
//!
//! Action names are the transport action names ES security authorizes (`*Action.NAME` in the ES
//! source, as listed in the "Elasticsearch privileges" reference); REST routes are those of the
//! Elasticsearch specification (`elastic/elasticsearch-specification`, `specification/_global`,
//! `indices`, `cat`). Only the routes below are recognised: anything else is refused.

use percent_encoding::percent_decode_str;

use super::body;
use super::expr::{self, IndexExpr};
use super::index_admin;
use super::refusal::{Refusal, RefusalCode};

/// Bodies above this are refused before parsing: the proxy must read `_bulk`/`_msearch`/`_mget`
/// bodies whole to authorize them. Larger than Lambda's 6 MB payload, far below ES's default
/// `http.max_content_length` (100 MB); the server mode can raise it later.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The info action (`GET /`), allowed for every grant.
pub(crate) const MAIN: &str = "cluster:monitor/main";
pub(crate) const SCROLL: &str = "indices:data/read/scroll";
pub(crate) const CLEAR_SCROLL: &str = "indices:data/read/scroll/clear";

const SEARCH: &str = "indices:data/read/search";
const GET: &str = "indices:data/read/get";

/// Where a target came from, for refusals and audit lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The URL path (or the API's default of all indices).
    Path,
    /// A `_bulk` action line or `_msearch` header line (1-based line number).
    Line(usize),
    /// An entry of `_mget` / `_mtermvectors` `docs` (0-based).
    Doc(usize),
    /// An index named inside a query (terms lookup, `more_like_this`, indexed shapes,
    /// percolator): ES runs a get on it as the caller.
    Lookup,
    /// An alias a created index joins (`aliases` of a create-index body).
    Alias,
}

/// One (action, indices) pair to authorize. A request may carry many (bulk items, msearch
/// searches, lookups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub action: &'static str,
    /// The per-item action ES also checks for bulk items (`indices:data/write/index:op_type/create`,
    /// `indices:data/write/update`, ...).
    pub item_action: Option<&'static str>,
    pub indices: Vec<IndexExpr>,
    /// Which names wildcards match (`expand_wildcards`).
    pub expand: Expand,
    pub origin: Origin,
}

/// A classified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The request's own action (for `_bulk`, `indices:data/write/bulk`; for `GET /`,
    /// `cluster:monitor/main`).
    pub action: &'static str,
    pub targets: Vec<Target>,
}

/// `expand_wildcards` (multi-target syntax): which states a wildcard matches. The default is
/// `open`, as for search; aliases and data streams count as open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expand {
    pub open: bool,
    pub closed: bool,
    pub hidden: bool,
}

impl Default for Expand {
    fn default() -> Self {
        Self {
            open: true,
            closed: false,
            hidden: false,
        }
    }
}

impl Expand {
    /// `None` for a value ES would refuse.
    pub fn parse(v: &str) -> Option<Self> {
        let mut e = Self {
            open: false,
            closed: false,
            hidden: false,
        };
        for w in v.split(',') {
            match w {
                "all" => {
                    e = Self {
                        open: true,
                        closed: true,
                        hidden: true,
                    }
                }
                "open" => e.open = true,
                "closed" => e.closed = true,
                "hidden" => e.hidden = true,
                "none" => {}
                _ => return None,
            }
        }
        Some(e)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
}

/// Maps a REST request to its action and targets. `path` is the raw (still percent-encoded)
/// path, `query` the raw query string without `?`. Headers play no part: method-override
/// headers are not honoured by Elasticsearch and must not be by the proxy.
pub fn classify(method: &str, path: &str, query: &str, body: &[u8]) -> Result<Request, Refusal> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Refusal::new(
            RefusalCode::BodyTooLarge,
            format!(
                "request body of {} bytes is over the proxy's limit of {MAX_BODY_BYTES}",
                body.len()
            ),
        ));
    }
    let m = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        _ => {
            return Err(Refusal::new(
                RefusalCode::Unrecognised,
                format!("method [{method}] is not supported"),
            ));
        }
    };
    let segs = segments(path)?;
    let params = Params::parse(query)?;
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    route(m, &s, &params, body)
}

/// Splits and percent-decodes the path. Decoded slashes, `.`/`..` segments and empty segments
/// are refused: the proxy and the cluster must see the same path.
fn segments(path: &str) -> Result<Vec<String>, Refusal> {
    let malformed =
        |why: &str| Refusal::new(RefusalCode::Malformed, format!("path [{path}] {why}"));
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| malformed("does not start with /"))?;
    if path.contains(['?', '#']) {
        return Err(malformed("contains a query or fragment"));
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    rest.split('/')
        .map(|raw| {
            let seg = percent_decode_str(raw)
                .decode_utf8()
                .map_err(|_| malformed("is not UTF-8"))?;
            if seg.is_empty() {
                return Err(malformed("has an empty segment"));
            }
            if seg == "." || seg == ".." {
                return Err(malformed("has a relative segment"));
            }
            if !slashes_only_in_date_math(&seg)
                || seg.contains('\\')
                || seg.chars().any(char::is_control)
            {
                return Err(malformed("has an encoded slash or control character"));
            }
            Ok(seg.into_owned())
        })
        .collect()
}

/// Date math needs its `/` encoded (`%3Clogs-%7Bnow%2Fd%7D%3E`); any other decoded slash would
/// let the proxy and the cluster split the path differently.
fn slashes_only_in_date_math(seg: &str) -> bool {
    let mut depth = 0usize;
    for c in seg.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            '/' if depth == 0 => return false,
            _ => {}
        }
    }
    true
}

/// The query parameters the engine interprets; all others are forwarded untouched (`pretty`,
/// `filter_path`, `routing`, `size`, ...: none of them changes which indices are touched).
struct Params {
    expand: Expand,
    op_type_create: bool,
}

impl Params {
    fn parse(query: &str) -> Result<Self, Refusal> {
        let mut p = Self {
            expand: Expand::default(),
            op_type_create: false,
        };
        let mut seen_expand = false;
        let mut seen_op = false;
        // Elasticsearch splits parameters on `;` as well as `&` (`RestUtils.decodeQueryString`):
        // `?pretty;source=...` is two parameters to it. Refused rather than parsed both ways, so
        // no parameter can hide from these checks behind a separator only the cluster honours.
        if query.contains(';') {
            return Err(Refusal::new(
                RefusalCode::Malformed,
                "a query string may not contain [;]: separate parameters with [&]",
            ));
        }
        for pair in query.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = percent_decode_str(k).decode_utf8_lossy();
            let v = percent_decode_str(v).decode_utf8_lossy();
            match k.as_ref() {
                // `source` carries a whole request body in the URL; `pipeline` runs an ingest
                // pipeline that can reroute documents to another index. Neither can be vetted.
                "source" | "pipeline" => {
                    return Err(Refusal::new(
                        RefusalCode::NotPermitted,
                        format!("query parameter [{k}] is not permitted through the proxy"),
                    ));
                }
                "expand_wildcards" => {
                    if std::mem::replace(&mut seen_expand, true) {
                        return Err(duplicate(&k));
                    }
                    p.expand = Expand::parse(&v).ok_or_else(|| {
                        Refusal::new(
                            RefusalCode::Malformed,
                            format!("invalid expand_wildcards [{v}]"),
                        )
                    })?;
                }
                "op_type" => {
                    if std::mem::replace(&mut seen_op, true) {
                        return Err(duplicate(&k));
                    }
                    p.op_type_create = match v.as_ref() {
                        "create" => true,
                        "index" => false,
                        _ => {
                            return Err(Refusal::new(
                                RefusalCode::Malformed,
                                format!("invalid op_type [{v}]"),
                            ));
                        }
                    };
                }
                _ => {}
            }
        }
        Ok(p)
    }
}

fn duplicate(k: &str) -> Refusal {
    Refusal::new(
        RefusalCode::Malformed,
        format!("query parameter [{k}] given more than once"),
    )
}

fn target(action: &'static str, indices: Vec<IndexExpr>, p: &Params) -> Target {
    Target {
        action,
        item_action: None,
        indices,
        expand: p.expand,
        origin: Origin::Path,
    }
}

fn one(action: &'static str, indices: Vec<IndexExpr>, p: &Params) -> Request {
    Request {
        action,
        targets: vec![target(action, indices, p)],
    }
}

fn all() -> Vec<IndexExpr> {
    vec![IndexExpr::All]
}

fn parse(raw: &str) -> Result<Vec<IndexExpr>, Refusal> {
    expr::parse_list(raw).map_err(|e| Refusal::new(RefusalCode::Malformed, e.to_string()))
}

/// A single concrete index (document APIs, create/delete index): ES rejects lists and
/// wildcards there, and so do we.
fn single(raw: &str) -> Result<Vec<IndexExpr>, Refusal> {
    let list = parse(raw)?;
    match list.as_slice() {
        [e] if e.is_concrete() => Ok(list),
        _ => Err(Refusal::new(
            RefusalCode::Malformed,
            format!(
                "[{raw}] must name exactly one index, alias or data stream (no wildcards or lists)"
            ),
        )),
    }
}

/// A read request whose body may name further indices (lookups).
/// An API whose body may hold lookups ES runs as the caller: in a query, or in a `lookup`
/// runtime field of a search or of a mapping (which then reads `target_index` at every search
/// of the index), or in a created index's alias filters.
fn with_lookups(
    action: &'static str,
    indices: Vec<IndexExpr>,
    p: &Params,
    b: &[u8],
) -> Result<Request, Refusal> {
    let mut req = one(action, indices, p);
    body::lookups(b, &mut req.targets)?;
    Ok(req)
}

fn route(m: Method, s: &[&str], p: &Params, b: &[u8]) -> Result<Request, Refusal> {
    use Method::*;
    let read = matches!(m, Get | Post);
    let get = matches!(m, Get | Head);
    let req = match s {
        // Info: the one cluster action a grant allows (clients call it on connect).
        [] if get => Request {
            action: MAIN,
            targets: Vec::new(),
        },

        // APIs without an index in the path: they default to all indices.
        ["_search"] | ["_count"] if read => with_lookups(SEARCH, all(), p, b)?,
        ["_msearch"] if read => body::msearch(None, p.expand, b)?,
        ["_bulk"] if matches!(m, Post | Put) => body::bulk(None, b)?,
        ["_mget"] if read => body::mget(None, b, "indices:data/read/mget")?,
        ["_mtermvectors"] if read => body::mget(None, b, "indices:data/read/mtv")?,
        ["_field_caps"] if read => with_lookups("indices:data/read/field_caps", all(), p, b)?,
        ["_validate", "query"] if read => {
            with_lookups("indices:admin/validate/query", all(), p, b)?
        }
        // Scroll continuations carry no index: ES ties a scroll to its creator
        // (`SecuritySearchOperationListener`); the proxy must do the same (see `Decision`).
        ["_search", "scroll"] | ["_search", "scroll", _] if read => Request {
            action: SCROLL,
            targets: Vec::new(),
        },
        ["_search", "scroll"] | ["_search", "scroll", _] if m == Delete => Request {
            action: CLEAR_SCROLL,
            targets: Vec::new(),
        },
        ["_mapping"] if m == Get => one("indices:admin/mappings/get", all(), p),
        ["_settings"] if m == Get => one("indices:monitor/settings/get", all(), p),
        ["_stats"] | ["_stats", _] if m == Get => one("indices:monitor/stats", all(), p),
        ["_refresh"] if read => one("indices:admin/refresh", all(), p),
        ["_alias"] | ["_aliases"] if m == Get => one("indices:admin/aliases/get", all(), p),
        ["_resolve", "index", e] if read => one("indices:admin/resolve/index", parse(e)?, p),
        ["_data_stream"] if m == Get => one("indices:admin/data_stream/get", all(), p),
        ["_data_stream", e] if m == Get => one("indices:admin/data_stream/get", parse(e)?, p),
        // `_cat/indices` and `_cat/count` show only stats/counts of the indices they name, which
        // `monitor`/`read` already reveal; other `_cat` APIs (nodes, shards, allocation, ...) are
        // cluster-level.
        ["_cat", "indices"] if m == Get => one("indices:monitor/stats", all(), p),
        ["_cat", "indices", e] if m == Get => one("indices:monitor/stats", parse(e)?, p),
        ["_cat", "count"] if m == Get => one(SEARCH, all(), p),
        ["_cat", "count", e] if m == Get => one(SEARCH, parse(e)?, p),

        [api, ..] if api.starts_with('_') && *api != "_all" => return Err(not_permitted(s)),

        // Index-scoped APIs.
        [e] => match m {
            Put => {
                let index = single(e)?;
                let mut req = one("indices:admin/create", index.clone(), p);
                index_admin::create_index(&index, b, &mut req.targets)?;
                req
            }
            // `action.destructive_requires_name` (default true since 8.0): no wildcards.
            Delete => one("indices:admin/delete", single(e)?, p),
            Get | Head => one("indices:admin/get", parse(e)?, p),
            Post => return Err(unrecognised(s)),
        },
        [e, "_search"] | [e, "_count"] if read => with_lookups(SEARCH, parse(e)?, p, b)?,
        [e, "_msearch"] if read => body::msearch(Some(parse(e)?), p.expand, b)?,
        [e, "_bulk"] if matches!(m, Post | Put) => body::bulk(Some(single(e)?), b)?,
        [e, "_mget"] if read => body::mget(Some(single(e)?), b, "indices:data/read/mget")?,
        [e, "_mtermvectors"] if read => body::mget(Some(single(e)?), b, "indices:data/read/mtv")?,
        [e, "_field_caps"] if read => {
            with_lookups("indices:data/read/field_caps", parse(e)?, p, b)?
        }
        [e, "_validate", "query"] if read => {
            with_lookups("indices:admin/validate/query", parse(e)?, p, b)?
        }
        [e, "_mapping"] if m == Get => one("indices:admin/mappings/get", parse(e)?, p),
        [e, "_mapping"] if matches!(m, Put | Post) => {
            with_lookups("indices:admin/mapping/put", parse(e)?, p, b)?
        }
        [e, "_mapping", "field", _] if m == Get => {
            one("indices:admin/mappings/fields/get", parse(e)?, p)
        }
        [e, "_settings"] | [e, "_settings", _] if m == Get => {
            one("indices:monitor/settings/get", parse(e)?, p)
        }
        [e, "_settings"] if m == Put => {
            index_admin::update_settings(b)?;
            one("indices:admin/settings/update", parse(e)?, p)
        }
        [e, "_stats"] | [e, "_stats", _] if m == Get => one("indices:monitor/stats", parse(e)?, p),
        [e, "_refresh"] if read => one("indices:admin/refresh", parse(e)?, p),
        [e, "_flush"] if read => one("indices:admin/flush", parse(e)?, p),
        [e, "_forcemerge"] if m == Post => one("indices:admin/forcemerge", parse(e)?, p),
        [e, "_open"] if m == Post => one("indices:admin/open", parse(e)?, p),
        [e, "_close"] if m == Post => one("indices:admin/close", parse(e)?, p),
        [e, "_alias"] | [e, "_alias", _] if m == Get => {
            one("indices:admin/aliases/get", parse(e)?, p)
        }

        // Document APIs. An automatically generated id makes the op type `create`
        // (`IndexRequest.autoGenerateId`), which `create_doc` allows.
        [e, "_doc"] if m == Post => doc_write(single(e)?, true),
        [e, "_doc", _] if get => one(GET, single(e)?, p),
        [e, "_doc", _] if matches!(m, Put | Post) => doc_write(single(e)?, p.op_type_create),
        [e, "_create", _] if matches!(m, Put | Post) => doc_write(single(e)?, true),
        [e, "_doc", _] if m == Delete => one("indices:data/write/delete", single(e)?, p),
        [e, "_update", _] if m == Post => one("indices:data/write/update", single(e)?, p),
        [e, "_source", _] if get => one(GET, single(e)?, p),
        [e, "_explain", _] if read => with_lookups("indices:data/read/explain", single(e)?, p, b)?,
        [e, "_termvectors"] | [e, "_termvectors", _] if read => {
            one("indices:data/read/tv", single(e)?, p)
        }
        // By-query writes also run searches as the caller, which ES authorizes separately.
        [e, op @ ("_update_by_query" | "_delete_by_query")] if m == Post => {
            let action = if *op == "_update_by_query" {
                "indices:data/write/update/byquery"
            } else {
                "indices:data/write/delete/byquery"
            };
            let indices = parse(e)?;
            let mut req = one(action, indices.clone(), p);
            req.targets.push(target(SEARCH, indices, p));
            body::lookups(b, &mut req.targets)?;
            req
        }
        _ => return Err(unrecognised(s)),
    };
    Ok(req)
}

/// Single-document index: ES authorizes `indices:data/write/index` and then the item's op type
/// (`TransportBulkAction` runs every write as a one-item bulk; `RBACEngine` checks
/// `indices:data/write/index:op_type/<type>` per item).
fn doc_write(indices: Vec<IndexExpr>, create: bool) -> Request {
    let item = if create {
        "indices:data/write/index:op_type/create"
    } else {
        "indices:data/write/index:op_type/index"
    };
    Request {
        action: "indices:data/write/index",
        targets: vec![Target {
            action: "indices:data/write/index",
            item_action: Some(item),
            indices,
            expand: Expand::default(),
            origin: Origin::Path,
        }],
    }
}

fn not_permitted(s: &[&str]) -> Refusal {
    let api = s[0];
    let why = match api {
        "_security" | "_xpack" | "_ssl" => "security APIs",
        "_snapshot" | "_slm" => "snapshot APIs",
        "_scripts" | "_script_context" | "_script_language" | "_render" => "stored script APIs",
        "_cluster" | "_nodes" | "_tasks" | "_remote" | "_license" | "_migration" | "_features" => {
            "cluster-level APIs"
        }
        "_ingest" => "ingest pipeline APIs",
        // Alias changes can point a granted name at any index.
        "_alias" | "_aliases" => "alias write APIs",
        "_cat" => "cluster-level _cat APIs",
        "_index_template" | "_template" | "_component_template" | "_ilm" => {
            "template and lifecycle APIs"
        }
        "_reindex" | "_update_by_query" | "_delete_by_query" => "cross-index write APIs",
        "_pit" | "_async_search" | "_sql" | "_query" | "_eql" | "_transform" | "_ml"
        | "_rollup" | "_watcher" => "APIs whose targets are not in the request path",
        _ => return unrecognised(s),
    };
    Refusal::new(
        RefusalCode::NotPermitted,
        format!(
            "[/{}]: {why} are not permitted through the proxy",
            s.join("/")
        ),
    )
}

fn unrecognised(s: &[&str]) -> Refusal {
    Refusal::new(
        RefusalCode::Unrecognised,
        format!(
            "[/{}] is not an API the proxy recognises; it is refused, never passed through",
            s.join("/")
        ),
    )
}
