//! Indices named in request bodies: `_bulk` action lines, `_msearch` headers, `_mget` /
//! `_mtermvectors` docs, and lookups inside queries.
//!
//! Line formats follow ES's `BulkRequestParser` and `MultiSearchRequest.readMultiLineFormat`
//! (Bulk API and Multi search API reference pages): a bulk action line is followed by exactly one
//! source line except for `delete`; msearch lines alternate header, body. Unknown keys are refused,
//! as ES refuses them, so the proxy and the cluster never read a body differently.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::classify::{Expand, Origin, Request, Target};
use super::expr::{self, IndexExpr};
use super::refusal::{Refusal, RefusalCode};

fn malformed(why: impl Into<String>) -> Refusal {
    Refusal::new(RefusalCode::Malformed, why)
}

/// The body's lines without their `\r\n` / `\n`; a final newline ends the last line.
fn lines(b: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.split(|c| *c == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
}

/// Parses JSON refusing duplicate keys. ES's parser refuses them too
/// (`STRICT_DUPLICATE_DETECTION`), but a proxy that kept the last `_index` while a cluster kept
/// the first would authorize one index and write another: never let the two readings differ.
pub(crate) fn strict(b: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Strict>(b).ok().map(|s| s.0)
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = a.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = a.next_key::<String>()? {
            let Strict(v) = a.next_value()?;
            if out.contains_key(&k) {
                return Err(de::Error::custom(format_args!("duplicate key [{k}]")));
            }
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

fn object(line: &[u8], n: usize) -> Result<Map<String, Value>, Refusal> {
    match strict(line) {
        Some(Value::Object(o)) => Ok(o),
        _ => Err(malformed(format!(
            "line [{n}] is not a JSON object (or repeats a key)"
        ))),
    }
}

pub(crate) fn index_name(v: &Value, what: &str) -> Result<Vec<IndexExpr>, Refusal> {
    let raw = v
        .as_str()
        .ok_or_else(|| malformed(format!("{what} must be a string")))?;
    let list = expr::parse_list(raw).map_err(|e| malformed(e.to_string()))?;
    match list.as_slice() {
        [e] if e.is_concrete() => Ok(list),
        _ => Err(malformed(format!(
            "{what} [{raw}] must name exactly one index, alias or data stream"
        ))),
    }
}

const BULK_META: &[&str] = &[
    "_index",
    "_id",
    "routing",
    "version",
    "version_type",
    "if_seq_no",
    "if_primary_term",
    "require_alias",
    "require_data_stream",
    "retry_on_conflict",
    "dynamic_templates",
    "list_executed_pipelines",
];

/// `_bulk`: one target per item, `indices:data/write/bulk[s]` plus the item's own action.
pub(crate) fn bulk(default: Option<Vec<IndexExpr>>, b: &[u8]) -> Result<Request, Refusal> {
    let mut targets = Vec::new();
    let mut it = lines(b);
    while let Some((n, line)) = it.next() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let o = object(line, n)?;
        let (op, meta) = match o.iter().next() {
            Some((op, Value::Object(meta))) if o.len() == 1 => (op.as_str(), meta),
            _ => {
                return Err(malformed(format!(
                    "bulk line [{n}] must be one action with a metadata object"
                )));
            }
        };
        let item_action = match op {
            "index" if meta.contains_key("_id") => "indices:data/write/index:op_type/index",
            "index" | "create" => "indices:data/write/index:op_type/create",
            "update" => "indices:data/write/update",
            "delete" => "indices:data/write/delete",
            _ => {
                return Err(malformed(format!(
                    "bulk line [{n}] has unknown action [{op}]"
                )));
            }
        };
        for k in meta.keys() {
            if k == "pipeline" {
                return Err(Refusal::new(
                    RefusalCode::NotPermitted,
                    format!("bulk line [{n}]: [pipeline] is not permitted through the proxy"),
                ));
            }
            if !BULK_META.contains(&k.as_str()) {
                return Err(malformed(format!(
                    "bulk line [{n}] has unknown parameter [{k}]"
                )));
            }
        }
        let indices = match (meta.get("_index"), &default) {
            (Some(v), _) => index_name(v, &format!("bulk line [{n}] _index"))?,
            (None, Some(d)) => d.clone(),
            (None, None) => {
                return Err(malformed(format!(
                    "bulk line [{n}] has no _index and the path names none"
                )));
            }
        };
        targets.push(Target {
            action: "indices:data/write/bulk[s]",
            item_action: Some(item_action),
            indices,
            expand: Expand::default(),
            origin: Origin::Line(n),
        });
        if op != "delete" && it.next().is_none() {
            return Err(malformed(format!("bulk line [{n}] has no source line")));
        }
    }
    if targets.is_empty() {
        return Err(malformed("bulk request has no actions"));
    }
    Ok(Request {
        action: "indices:data/write/bulk",
        targets,
    })
}

const MSEARCH_HEADER: &[&str] = &[
    "index",
    "indices",
    "expand_wildcards",
    "ignore_unavailable",
    "allow_no_indices",
    "ignore_throttled",
    "search_type",
    "request_cache",
    "preference",
    "routing",
    "ccs_minimize_roundtrips",
    "allow_partial_search_results",
];

/// `_msearch`: one search target per header, plus any lookups in each search body.
pub(crate) fn msearch(
    default: Option<Vec<IndexExpr>>,
    expand: Expand,
    b: &[u8],
) -> Result<Request, Refusal> {
    let mut targets = Vec::new();
    let mut it = lines(b).peekable();
    // ES accepts one leading empty line.
    if it.peek().is_some_and(|(_, l)| l.is_empty()) {
        it.next();
    }
    while let Some((n, line)) = it.next() {
        let header = object(line, n)?;
        let mut indices = None;
        let mut item_expand = expand;
        for (k, v) in &header {
            if !MSEARCH_HEADER.contains(&k.as_str()) {
                return Err(malformed(format!(
                    "msearch header line [{n}] has unknown key [{k}]"
                )));
            }
            match k.as_str() {
                "index" | "indices" => {
                    if indices.is_some() {
                        return Err(malformed(format!(
                            "msearch header line [{n}] names its indices twice"
                        )));
                    }
                    indices = Some(header_indices(v, n)?);
                }
                "expand_wildcards" => {
                    item_expand = v.as_str().and_then(Expand::parse).ok_or_else(|| {
                        malformed(format!(
                            "msearch header line [{n}] has an invalid expand_wildcards"
                        ))
                    })?;
                }
                _ => {}
            }
        }
        let indices = indices
            .or_else(|| default.clone())
            .unwrap_or_else(|| vec![IndexExpr::All]);
        targets.push(Target {
            action: "indices:data/read/search",
            item_action: None,
            indices,
            expand: item_expand,
            origin: Origin::Line(n),
        });
        let (_, search) = it
            .next()
            .ok_or_else(|| malformed(format!("msearch header line [{n}] has no body line")))?;
        lookups(search, &mut targets)?;
    }
    if targets.is_empty() {
        return Err(malformed("msearch request has no searches"));
    }
    Ok(Request {
        action: "indices:data/read/msearch",
        targets,
    })
}

fn header_indices(v: &Value, n: usize) -> Result<Vec<IndexExpr>, Refusal> {
    let joined;
    let raw = match v {
        Value::String(s) => s.as_str(),
        Value::Array(a) => {
            let names: Option<Vec<&str>> = a.iter().map(Value::as_str).collect();
            joined = names
                .ok_or_else(|| {
                    malformed(format!("msearch header line [{n}] index must be strings"))
                })?
                .join(",");
            &joined
        }
        _ => {
            return Err(malformed(format!(
                "msearch header line [{n}] index must be a string or list"
            )));
        }
    };
    expr::parse_list(raw).map_err(|e| malformed(e.to_string()))
}

/// `_mget` / `_mtermvectors`: each `docs[]` entry's `_index`, or the path's index.
pub(crate) fn mget(
    default: Option<Vec<IndexExpr>>,
    b: &[u8],
    action: &'static str,
) -> Result<Request, Refusal> {
    let body: Map<String, Value> = match strict(b) {
        Some(Value::Object(o)) => o,
        _ => {
            return Err(malformed(
                "multi-get body must be a JSON object without repeated keys",
            ));
        }
    };
    let mut targets = Vec::new();
    for (k, v) in &body {
        match (k.as_str(), v) {
            ("docs", Value::Array(docs)) => {
                for (i, doc) in docs.iter().enumerate() {
                    let doc = doc
                        .as_object()
                        .ok_or_else(|| malformed(format!("docs[{i}] must be an object")))?;
                    let indices = match (doc.get("_index"), &default) {
                        (Some(v), _) => index_name(v, &format!("docs[{i}]._index"))?,
                        (None, Some(d)) => d.clone(),
                        (None, None) => {
                            return Err(malformed(format!(
                                "docs[{i}] has no _index and the path names none"
                            )));
                        }
                    };
                    targets.push(Target {
                        action,
                        item_action: None,
                        indices,
                        expand: Expand::default(),
                        origin: Origin::Doc(i),
                    });
                }
            }
            ("ids", Value::Array(_)) => {
                let d = default
                    .clone()
                    .ok_or_else(|| malformed("ids need an index in the path"))?;
                targets.push(Target {
                    action,
                    item_action: None,
                    indices: d,
                    expand: Expand::default(),
                    origin: Origin::Path,
                });
            }
            // Per-request defaults for `_mtermvectors` docs carry no index.
            ("parameters", Value::Object(_)) if action == "indices:data/read/mtv" => {}
            _ => {
                return Err(malformed(format!(
                    "multi-get body has unexpected key [{k}]"
                )));
            }
        }
    }
    if targets.is_empty() {
        return Err(malformed("multi-get body names no documents"));
    }
    Ok(Request { action, targets })
}

/// Indices named inside a query body: any object holding a string `index`/`_index` beside an
/// `id`/`_id` (terms lookup, `more_like_this` `like`, `geo_shape` `indexed_shape`, `percolate`,
/// `pinned` docs). ES fetches those documents as the caller, so each needs `read` on its index.
/// A plain field named `index` in a `term` query has no `id` beside it and is left alone.
pub(crate) fn lookups(b: &[u8], out: &mut Vec<Target>) -> Result<(), Refusal> {
    if b.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let v =
        strict(b).ok_or_else(|| malformed("request body is not valid JSON (or repeats a key)"))?;
    lookups_in(&v, out)
}

/// [`lookups`] of a body already parsed.
pub(crate) fn lookups_in(v: &Value, out: &mut Vec<Target>) -> Result<(), Refusal> {
    walk(v, out, 0)
}

/// Where `geo_shape`/`shape` queries fetch an `indexed_shape` that names no index.
const DEFAULT_SHAPES_INDEX: &str = "shapes";

fn walk(v: &Value, out: &mut Vec<Target>, depth: usize) -> Result<(), Refusal> {
    // serde_json already stops at 128 levels; this keeps our own recursion bounded too.
    if depth > 128 {
        return Err(malformed("request body nests too deeply"));
    }
    match v {
        Value::Object(o) => {
            let named = o.get("index").or_else(|| o.get("_index"));
            if let Some(name) = named.filter(|n| n.is_string())
                && (o.contains_key("id") || o.contains_key("_id"))
            {
                out.push(Target {
                    action: "indices:data/read/get",
                    item_action: None,
                    indices: index_name(name, "lookup index")?,
                    expand: Expand::default(),
                    origin: Origin::Lookup,
                });
            }
            // A `lookup` runtime field (8.2+) searches `target_index` for every hit and returns
            // what it finds, as the caller: a read of that index, wherever the field is defined
            // (`runtime_mappings` of a search, of each msearch body, or a mapping).
            if o.get("type").and_then(Value::as_str) == Some("lookup") {
                let target = o.get("target_index").ok_or_else(|| {
                    malformed("a lookup runtime field must name its target_index")
                })?;
                out.push(Target {
                    action: "indices:data/read/search",
                    item_action: None,
                    indices: index_name(target, "lookup target_index")?,
                    expand: Expand::default(),
                    origin: Origin::Lookup,
                });
            }
            for (key, child) in o {
                // An indexed shape without `index` is fetched from Elasticsearch's default
                // index for them, `shapes`.
                if key == "indexed_shape"
                    && let Value::Object(shape) = child
                    && !shape.contains_key("index")
                    && !shape.contains_key("_index")
                {
                    out.push(Target {
                        action: "indices:data/read/get",
                        item_action: None,
                        indices: index_name(&Value::from(DEFAULT_SHAPES_INDEX), "shape index")?,
                        expand: Expand::default(),
                        origin: Origin::Lookup,
                    });
                }
                walk(child, out, depth + 1)?;
            }
        }
        Value::Array(a) => {
            for child in a {
                walk(child, out, depth + 1)?;
            }
        }
        _ => {}
    }
    Ok(())
}
