//! What is sent to the cluster: the path with the RESOLVED index names in place of what the
//! client wrote (the engine's contract: wildcards and date math are resolved once, here), and a
//! short allowlist of headers. The client's `Authorization` never goes on: the proxy reaches
//! the cluster with the connector's.

use http::HeaderMap;
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use crate::authz::{Allowed, IndexExpr, Origin, Request};

/// Request headers passed on; everything else (cookies, `Authorization`, method overrides,
/// `Host`, hop-by-hop and forwarding headers) stays behind.
pub const REQUEST_HEADERS: [&str; 6] = [
    "content-type",
    "accept",
    "user-agent",
    "x-opaque-id",
    "traceparent",
    "x-elastic-client-meta",
];

/// Response headers passed back (the Python and Java clients check `x-elastic-product`).
pub const RESPONSE_HEADERS: [&str; 5] = [
    "content-type",
    "content-encoding",
    "x-elastic-product",
    "warning",
    "x-opaque-id",
];

/// Characters a name is escaped for in a path segment (`,` separates names and stays).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'+');

/// Where a path carries its index expression.
#[derive(Debug, PartialEq, Eq)]
enum Slot {
    /// Segment `n` is the expression.
    At(usize),
    /// The API defaults to all indices; the names go in as a new segment `n`.
    Insert(usize),
    /// No index in the path (info, multi-target bodies, scroll).
    None,
}

fn slot(segs: &[String]) -> Slot {
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    match s.as_slice() {
        [] => Slot::None,
        ["_resolve", "index", _] | ["_cat", "indices" | "count", _] => Slot::At(2),
        ["_cat", "indices" | "count"] => Slot::Insert(2),
        ["_data_stream", _] => Slot::At(1),
        ["_data_stream"] => Slot::Insert(1),
        [
            "_search" | "_count" | "_field_caps" | "_validate" | "_mapping" | "_settings"
            | "_stats" | "_refresh" | "_alias" | "_aliases",
            ..,
        ] if !(s.len() > 1 && s[0] == "_search") => Slot::Insert(0),
        [first, ..] if first.starts_with('_') && *first != "_all" => Slot::None,
        _ => Slot::At(0),
    }
}

/// Why an allowed request still cannot be forwarded faithfully.
#[derive(Debug, PartialEq, Eq)]
pub struct NotForwardable(pub String);

/// The path to send. Body-borne targets (bulk lines, msearch headers, mget docs, lookups) are
/// forwarded as written, so each must be a plain name (which the engine authorized exactly);
/// wildcards or date math there would need the body rewritten, which the proxy does not do.
pub fn path(raw: &str, req: &Request, allowed: &Allowed) -> Result<String, NotForwardable> {
    for t in req.targets.iter().filter(|t| t.origin != Origin::Path) {
        if let Some(e) = t.indices.iter().find(|e| !matches!(e, IndexExpr::Name(_))) {
            return Err(NotForwardable(format!(
                "index expression [{}] in the request body: name indices explicitly there \
                 (wildcards, _all and date math are resolved only in the URL path)",
                show(e)
            )));
        }
    }
    let raw_segs: Vec<&str> = raw
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let decoded: Vec<String> = raw_segs
        .iter()
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let path_targets: Vec<&Vec<String>> = allowed
        .targets
        .iter()
        .filter(|t| t.origin == Origin::Path)
        .map(|t| &t.indices)
        .collect();
    let mut out: Vec<String> = raw_segs.iter().map(|s| (*s).to_string()).collect();
    let Some(first) = path_targets.first() else {
        return Ok(join(&out));
    };
    // Several path targets (a by-query write and its search) forward what all of them allow.
    let names: Vec<&String> = first
        .iter()
        .filter(|n| path_targets.iter().all(|t| t.contains(n)))
        .collect();
    let expr = if names.is_empty() {
        // ES security's "no indices" expression: matches nothing.
        "*,-*".to_string()
    } else {
        names
            .iter()
            .map(|n| utf8_percent_encode(n, SEGMENT).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    match slot(&decoded) {
        Slot::At(n) => out[n] = expr,
        Slot::Insert(n) => {
            if decoded.first().map(String::as_str) == Some("_aliases") {
                out[0] = "_alias".into();
            }
            out.insert(n, expr);
        }
        Slot::None => {
            return Err(NotForwardable(
                "the request's indices have no place in its path".into(),
            ));
        }
    }
    Ok(join(&out))
}

fn join(segs: &[String]) -> String {
    format!("/{}", segs.join("/"))
}

fn show(e: &IndexExpr) -> String {
    match e {
        IndexExpr::Name(n) | IndexExpr::Wildcard(n) => n.clone(),
        IndexExpr::Exclude(n) => format!("-{n}"),
        IndexExpr::All => "_all".into(),
        IndexExpr::DateMath(d) => format!("<{d}>"),
    }
}

/// The allowlisted request headers.
pub fn request_headers(from: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in REQUEST_HEADERS {
        for v in from.get_all(name) {
            out.append(name, v.clone());
        }
    }
    out
}

/// Whether the query asks for a scroll (`scroll=`): scroll ids are not bound to grants, so the
/// proxy refuses scrolls from the start rather than break them half-way.
pub fn asks_for_scroll(query: &str) -> bool {
    query.split(['&', ';']).any(|pair| {
        let k = pair.split_once('=').map_or(pair, |(k, _)| k);
        percent_decode_str(k).decode_utf8_lossy() == "scroll"
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::{Decision, Grant, GrantEntry, IndexCatalog, authorize, classify};

    fn forward(method: &str, raw: &str, body: &str) -> Result<String, NotForwardable> {
        let grant = Grant {
            user: "u".into(),
            roles: vec!["r".into()],
            api_key_id: None,
            entries: vec![GrantEntry::new(&["logs-*"], &["read", "write", "monitor"]).unwrap()],
        };
        let catalog = IndexCatalog::new(chrono::Utc::now())
            .index("logs-a")
            .index("logs-b")
            .index("secret");
        let req = classify(method, raw, "", body.as_bytes()).unwrap();
        let Decision::Allow(allowed) = authorize(&req, &grant, &catalog) else {
            panic!("{raw} not allowed");
        };
        path(raw, &req, &allowed)
    }

    #[test]
    fn paths_carry_the_resolved_names_never_the_expression() {
        for (method, raw, body, want) in [
            ("GET", "/logs-*/_search", "", "/logs-a,logs-b/_search"),
            ("GET", "/_search", "", "/logs-a,logs-b/_search"),
            ("GET", "/_all/_count", "", "/logs-a,logs-b/_count"),
            ("GET", "/nomatch*/_search", "", "/*,-*/_search"),
            ("GET", "/_cat/indices", "", "/_cat/indices/logs-a,logs-b"),
            ("GET", "/logs-a/_doc/1", "", "/logs-a/_doc/1"),
            ("GET", "/", "", "/"),
            (
                "POST",
                "/logs-*/_delete_by_query",
                "{}",
                "/logs-a,logs-b/_delete_by_query",
            ),
        ] {
            assert_eq!(forward(method, raw, body).unwrap(), want, "{method} {raw}");
        }
        let bulk = "{\"index\":{\"_index\":\"logs-a\"}}\n{}\n";
        assert_eq!(forward("POST", "/_bulk", bulk).unwrap(), "/_bulk");
        let msearch = "{\"index\":\"logs-*\"}\n{}\n";
        assert!(
            forward("POST", "/_msearch", msearch).is_err(),
            "a wildcard in a body"
        );
        let msearch = "{\"index\":\"logs-a\"}\n{}\n";
        assert_eq!(forward("POST", "/_msearch", msearch).unwrap(), "/_msearch");
        let inherited = "{}\n{}\n";
        assert!(forward("POST", "/logs-*/_msearch", inherited).is_err());
    }

    #[test]
    fn only_allowlisted_headers_go_on() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Basic abc".parse().unwrap());
        h.insert("cookie", "a=b".parse().unwrap());
        h.insert("x-http-method-override", "DELETE".parse().unwrap());
        h.insert("host", "evil".parse().unwrap());
        h.insert("content-type", "application/json".parse().unwrap());
        let out = request_headers(&h);
        assert_eq!(out.len(), 1);
        assert!(out.contains_key("content-type"));
        assert!(asks_for_scroll("size=1&scroll=1m"));
        assert!(asks_for_scroll("%73croll=1m"));
        assert!(!asks_for_scroll("scroll_size=1"));
    }
}
