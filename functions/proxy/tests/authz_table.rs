//! The proxy's authorization rules, one request shape per line (issue 20, items 2 and 5).
//!
//! Each case names a grant (below), the request, and what Elasticsearch security would do for a
//! role holding that grant: the action it authorizes, the concrete names it lets through, or the
//! action and names of its 403. Refusals before authorization carry their code.

use chrono::{TimeZone, Utc};
use proxy::authz::{Decision, Grant, GrantEntry, IndexCatalog, RefusalCode, authorize, classify};

/// What a case expects.
enum Want {
    /// Allowed: the request's action and, per target, `action=names` (names as forwarded).
    Allow(&'static str, &'static [&'static str]),
    /// ES's 403: the failing action and the names in "on indices [...]" ("" = no indices part).
    Deny(&'static str, &'static str),
    /// Refused before the grant is consulted.
    Refuse(RefusalCode),
}
use Want::*;

const SEARCH: &str = "indices:data/read/search";

/// `R`: read, view_index_metadata and monitor on `logs-*` (the common "read my logs" grant).
/// `W`: read on `logs-*`, write on `logs-app`, create_doc on `ingest-*`.
/// `M`: all on `team-*`, manage on `logs-*`.
/// `V`: view_index_metadata on `logs-*` only (no read).
/// `S`: read on data stream `logs-ds` only.
/// `C`: create_index and read on `team-*` (no manage).
fn grant(kind: &str) -> Grant {
    let e = |names: &[&str], privs: &[&str]| GrantEntry::new(names, privs).unwrap();
    let entries = match kind {
        "R" => vec![e(&["logs-*"], &["read", "view_index_metadata", "monitor"])],
        "W" => vec![
            e(&["logs-*"], &["read"]),
            e(&["logs-app"], &["write"]),
            e(&["ingest-*"], &["create_doc"]),
        ],
        "M" => vec![e(&["team-*"], &["all"]), e(&["logs-*"], &["manage"])],
        "V" => vec![e(&["logs-*"], &["view_index_metadata"])],
        "S" => vec![e(&["logs-ds"], &["read"])],
        "C" => vec![e(&["team-*"], &["create_index", "read"])],
        _ => unreachable!("unknown grant {kind}"),
    };
    Grant {
        user: "alice@example.com".into(),
        roles: vec!["jit-g1".into()],
        api_key_id: None,
        entries,
    }
}

fn catalog() -> IndexCatalog {
    IndexCatalog::new(Utc.with_ymd_and_hms(2026, 3, 7, 13, 45, 10).unwrap())
        .index("logs-2026.03.06")
        .index("logs-2026.03.07")
        .index("logs-app")
        .index("secrets")
        .index(".logs-internal")
        .index("metrics-1")
        .index("team-a")
        .index("ingest-1")
        .closed_index("logs-closed")
        // Named like the grant's pattern, points elsewhere: ES authorizes aliases by name.
        .alias("logs-view", &["secrets"])
        // Points at a granted index, but its own name is not granted.
        .alias("all-data", &["logs-app", "secrets"])
        .data_stream("logs-ds", &[".ds-logs-ds-2026.03.07-000001"])
        .data_stream("audit-ds", &[".ds-audit-ds-2026.03.07-000001"])
}

#[rustfmt::skip]
fn cases() -> Vec<(&'static str, &'static str, &'static str, &'static str, String, Want)> {
    let b = |s: &str| s.to_owned();
    let n = String::new;
    vec![
        // --- info and plain searches
        ("R", "GET", "/", "", n(), Allow("cluster:monitor/main", &[])),
        ("R", "HEAD", "/", "", n(), Allow("cluster:monitor/main", &[])),
        ("R", "GET", "/logs-app/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-app"])),
        ("R", "POST", "/logs-app/_search", "", b(r#"{"query":{"match_all":{}}}"#), Allow(SEARCH, &["indices:data/read/search=logs-app"])),
        ("R", "GET", "/logs-app/_search/", "pretty", n(), Allow(SEARCH, &["indices:data/read/search=logs-app"])),
        ("R", "GET", "/logs-app/_search", "pretty&filter_path=hits.hits&size=5&human=true", n(), Allow(SEARCH, &["indices:data/read/search=logs-app"])),
        ("R", "GET", "/logs-app/_count", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-app"])),
        ("R", "GET", "/logs-app,logs-2026.03.07/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-app,logs-2026.03.07"])),
        ("R", "GET", "/logs-app%2Clogs-2026.03.07/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-app,logs-2026.03.07"])),
        ("R", "GET", "/secrets/_search", "", n(), Deny(SEARCH, "secrets")),
        ("R", "GET", "/logs-app,secrets/_search", "", n(), Deny(SEARCH, "secrets")),
        ("R", "GET", "/does-not-exist/_search", "", n(), Deny(SEARCH, "does-not-exist")),
        ("R", "GET", "/logs-missing/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-missing"])),
        // --- wildcards narrow to what the grant may see, never fail
        ("R", "GET", "/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-2026.03.06,logs-2026.03.07,logs-app,logs-view,logs-ds"])),
        ("R", "GET", "/_all/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-2026.03.06,logs-2026.03.07,logs-app,logs-view,logs-ds"])),
        ("R", "GET", "/*/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-2026.03.06,logs-2026.03.07,logs-app,logs-view,logs-ds"])),
        ("R", "GET", "/%2A/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-2026.03.06,logs-2026.03.07,logs-app,logs-view,logs-ds"])),
        ("R", "GET", "/logs-2026*/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-2026.03.06,logs-2026.03.07"])),
        ("R", "GET", "/s*/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=*,-*"])),
        ("R", "GET", "/logs-*,-logs-app/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-2026.03.06,logs-2026.03.07,logs-view,logs-ds"])),
        ("R", "GET", "/*,-logs-2026*/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-app,logs-view,logs-ds"])),
        ("R", "GET", "/logs-*,secrets/_search", "", n(), Deny(SEARCH, "secrets")),
        ("R", "GET", "/-secrets/_search", "", n(), Refuse(RefusalCode::Malformed)),
        // hidden indices: only with expand_wildcards=hidden/all or a dot pattern
        ("R", "GET", "/_search", "expand_wildcards=all", n(), Allow(SEARCH, &["indices:data/read/search=logs-2026.03.06,logs-2026.03.07,logs-app,logs-closed,.ds-logs-ds-2026.03.07-000001,logs-view,logs-ds"])),
        // closed indices: only when asked for (naming one makes ES fail the search)
        ("R", "GET", "/logs-*/_search", "expand_wildcards=open,closed", n(), Allow(SEARCH, &["indices:data/read/search=logs-2026.03.06,logs-2026.03.07,logs-app,logs-closed,logs-view,logs-ds"])),
        ("R", "GET", "/logs-c*/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=*,-*"])),
        ("R", "GET", "/logs-closed/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-closed"])),
        ("R", "GET", "/logs-*/_search", "expand_wildcards=none", n(), Allow(SEARCH, &["indices:data/read/search=*,-*"])),
        ("R", "GET", "/logs-*/_search", "expand_wildcards=everything", n(), Refuse(RefusalCode::Malformed)),
        ("R", "POST", "/_msearch", "", b("{\"index\":\"logs-c*\",\"expand_wildcards\":\"closed\"}\n{}\n"), Allow("indices:data/read/msearch", &["indices:data/read/search=logs-closed"])),
        ("R", "POST", "/_msearch", "", b("{\"index\":\"logs-*\",\"expand_wildcards\":1}\n{}\n"), Refuse(RefusalCode::Malformed)),
        ("R", "GET", "/.*/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=.ds-logs-ds-2026.03.07-000001"])),
        ("R", "GET", "/.logs-internal/_search", "", n(), Deny(SEARCH, ".logs-internal")),
        // --- aliases: authorized by their own name only
        ("R", "GET", "/all-data/_search", "", n(), Deny(SEARCH, "all-data")),
        ("R", "GET", "/logs-view/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-view"])),
        ("W", "GET", "/all-data/_search", "", n(), Deny(SEARCH, "all-data")),
        ("R", "GET", "/all-*/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=*,-*"])),
        // --- data streams and their backing indices
        ("S", "GET", "/logs-ds/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-ds"])),
        ("S", "GET", "/.ds-logs-ds-2026.03.07-000001/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=.ds-logs-ds-2026.03.07-000001"])),
        ("S", "GET", "/.ds-audit-ds-2026.03.07-000001/_search", "", n(), Deny(SEARCH, ".ds-audit-ds-2026.03.07-000001")),
        ("S", "GET", "/audit-ds/_search", "", n(), Deny(SEARCH, "audit-ds")),
        ("S", "GET", "/*-ds/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-ds"])),
        ("S", "GET", "/.ds-*/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=.ds-logs-ds-2026.03.07-000001"])),
        ("S", "GET", "/logs-app/_search", "", n(), Deny(SEARCH, "logs-app")),
        // --- date math (clock: 2026-03-07)
        ("R", "GET", "/%3Clogs-%7Bnow%2Fd%7D%3E/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-2026.03.07"])),
        // unencoded date math splits the path (ES requires it encoded too)
        ("R", "GET", "/<logs-{now/d}>/_search", "", n(), Refuse(RefusalCode::Unrecognised)),
        ("R", "GET", "/%3Clogs-%7Bnow-1d%2Fd%7D%3E,logs-app/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-2026.03.06,logs-app"])),
        ("R", "GET", "/%3Csecrets-%7Bnow%2Fd%7D%3E/_search", "", n(), Deny(SEARCH, "secrets-2026.03.07")),
        ("R", "GET", "/%3Clogs-%7Bnow%2Fd%7Byyyy%7D%7D%3E/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=logs-2026"])),
        ("R", "GET", "/%3Clogs-%7Bnow%2Fd%7Cevil%7D%3E/_search", "", n(), Refuse(RefusalCode::Malformed)),
        // --- path traversal, encodings, odd paths
        ("R", "GET", "/logs-app/../_security/user", "", n(), Refuse(RefusalCode::Malformed)),
        ("R", "GET", "/logs-app/%2e%2e/_security/user", "", n(), Refuse(RefusalCode::Malformed)),
        ("R", "GET", "/logs-app%2F..%2F_security%2Fuser/_search", "", n(), Refuse(RefusalCode::Malformed)),
        ("R", "GET", "/logs-app%2f_search", "", n(), Refuse(RefusalCode::Malformed)),
        ("R", "GET", "/./logs-app/_search", "", n(), Refuse(RefusalCode::Malformed)),
        ("R", "GET", "//logs-app/_search", "", n(), Refuse(RefusalCode::Malformed)),
        ("R", "GET", "/logs-app%5C..%5C_security/_search", "", n(), Refuse(RefusalCode::Malformed)),
        ("R", "GET", "/logs-app%00/_search", "", n(), Refuse(RefusalCode::Malformed)),
        ("R", "GET", "/%FF/_search", "", n(), Refuse(RefusalCode::Malformed)),
        ("R", "GET", "logs-app/_search", "", n(), Refuse(RefusalCode::Malformed)),
        ("R", "GET", "/LOGS-APP/_search", "", n(), Refuse(RefusalCode::Malformed)),
        ("R", "GET", "/remote:logs-app/_search", "", n(), Refuse(RefusalCode::Malformed)),
        ("R", "GET", "/logs-app::failures/_search", "", n(), Refuse(RefusalCode::Malformed)),
        ("R", "GET", "/logs-app/_search", "source=%7B%7D&source_content_type=application/json", n(), Refuse(RefusalCode::NotPermitted)),
        ("R", "GET", "/logs-app/_search", "%73ource=%7B%7D", n(), Refuse(RefusalCode::NotPermitted)),
        ("W", "POST", "/logs-app/_doc", "%70ipeline=reroute", b("{}"), Refuse(RefusalCode::NotPermitted)),
        ("R", "GET", "/_search", "expand_wildcards=open&expand_wildcards=all", n(), Refuse(RefusalCode::Malformed)),
        ("R", "PATCH", "/logs-app/_search", "", n(), Refuse(RefusalCode::Unrecognised)),
        ("R", "OPTIONS", "/", "", n(), Refuse(RefusalCode::Unrecognised)),
        // --- cluster-level, security, snapshot, scripts, settings, nodes, ingest: never
        ("M", "GET", "/_security/user", "", n(), Refuse(RefusalCode::NotPermitted)),
        ("M", "PUT", "/_security/role/x", "", b("{}"), Refuse(RefusalCode::NotPermitted)),
        ("M", "GET", "/_xpack/security/user", "", n(), Refuse(RefusalCode::NotPermitted)),
        ("M", "PUT", "/_snapshot/repo/snap", "", n(), Refuse(RefusalCode::NotPermitted)),
        ("M", "POST", "/_scripts/painless/_execute", "", n(), Refuse(RefusalCode::NotPermitted)),
        ("M", "PUT", "/_scripts/s1", "", n(), Refuse(RefusalCode::NotPermitted)),
        ("M", "PUT", "/_cluster/settings", "", b("{}"), Refuse(RefusalCode::NotPermitted)),
        ("M", "GET", "/_cluster/health", "", n(), Refuse(RefusalCode::NotPermitted)),
        ("M", "GET", "/_nodes/stats", "", n(), Refuse(RefusalCode::NotPermitted)),
        ("M", "POST", "/_nodes/reload_secure_settings", "", n(), Refuse(RefusalCode::NotPermitted)),
        ("M", "GET", "/_tasks", "", n(), Refuse(RefusalCode::NotPermitted)),
        ("M", "PUT", "/_ingest/pipeline/p", "", b("{}"), Refuse(RefusalCode::NotPermitted)),
        ("M", "GET", "/_cat/nodes", "", n(), Refuse(RefusalCode::NotPermitted)),
        ("M", "GET", "/_cat/shards", "", n(), Refuse(RefusalCode::NotPermitted)),
        ("M", "PUT", "/_index_template/t", "", b("{}"), Refuse(RefusalCode::NotPermitted)),
        ("M", "POST", "/_reindex", "", b("{}"), Refuse(RefusalCode::NotPermitted)),
        ("M", "POST", "/_sql", "", b("{}"), Refuse(RefusalCode::NotPermitted)),
        ("M", "POST", "/team-a/_pit", "keep_alive=1m", n(), Refuse(RefusalCode::Unrecognised)),
        ("M", "GET", "/_license", "", n(), Refuse(RefusalCode::NotPermitted)),
        ("M", "GET", "/_something_new", "", n(), Refuse(RefusalCode::Unrecognised)),
        ("M", "POST", "/team-a/_unknown_api", "", n(), Refuse(RefusalCode::Unrecognised)),
        ("M", "POST", "/team-a", "", n(), Refuse(RefusalCode::Unrecognised)),
        ("M", "GET", "/team-a/_doc/1/extra", "", n(), Refuse(RefusalCode::Unrecognised)),
        // --- safe index-scoped _cat
        ("R", "GET", "/_cat/indices", "format=json", n(), Allow("indices:monitor/stats", &["indices:monitor/stats=logs-2026.03.06,logs-2026.03.07,logs-app,logs-view,logs-ds"])),
        ("R", "GET", "/_cat/indices/logs-app", "", n(), Allow("indices:monitor/stats", &["indices:monitor/stats=logs-app"])),
        ("R", "GET", "/_cat/count/secrets", "", n(), Deny(SEARCH, "secrets")),
        // --- documents
        ("R", "GET", "/logs-app/_doc/1", "", n(), Allow("indices:data/read/get", &["indices:data/read/get=logs-app"])),
        ("R", "HEAD", "/logs-app/_doc/1", "", n(), Allow("indices:data/read/get", &["indices:data/read/get=logs-app"])),
        ("R", "GET", "/logs-app/_source/1", "", n(), Allow("indices:data/read/get", &["indices:data/read/get=logs-app"])),
        ("R", "GET", "/secrets/_doc/1", "", n(), Deny("indices:data/read/get", "secrets")),
        ("R", "GET", "/logs-*/_doc/1", "", n(), Refuse(RefusalCode::Malformed)),
        ("R", "PUT", "/logs-app/_doc/1", "", b("{}"), Deny("indices:data/write/index", "")),
        ("W", "PUT", "/logs-app/_doc/1", "", b(r#"{"a":1}"#), Allow("indices:data/write/index", &["indices:data/write/index=logs-app"])),
        ("W", "POST", "/logs-app/_doc", "refresh=true", b(r#"{"a":1}"#), Allow("indices:data/write/index", &["indices:data/write/index=logs-app"])),
        ("W", "PUT", "/logs-2026.03.07/_doc/1", "", b("{}"), Deny("indices:data/write/index", "logs-2026.03.07")),
        ("W", "PUT", "/ingest-1/_create/1", "", b("{}"), Allow("indices:data/write/index", &["indices:data/write/index=ingest-1"])),
        ("W", "POST", "/ingest-1/_doc", "", b("{}"), Allow("indices:data/write/index", &["indices:data/write/index=ingest-1"])),
        ("W", "PUT", "/ingest-1/_doc/1", "", b("{}"), Deny("indices:data/write/index:op_type/index", "ingest-1")),
        ("W", "PUT", "/ingest-1/_doc/1", "op_type=create", b("{}"), Allow("indices:data/write/index", &["indices:data/write/index=ingest-1"])),
        ("W", "POST", "/logs-app/_update/1", "", b(r#"{"doc":{"a":2}}"#), Allow("indices:data/write/update", &["indices:data/write/update=logs-app"])),
        ("W", "POST", "/ingest-1/_update/1", "", b(r#"{"doc":{"a":2}}"#), Deny("indices:data/write/update", "ingest-1")),
        ("W", "DELETE", "/logs-app/_doc/1", "", n(), Allow("indices:data/write/delete", &["indices:data/write/delete=logs-app"])),
        ("W", "DELETE", "/ingest-1/_doc/1", "", n(), Deny("indices:data/write/delete", "ingest-1")),
        ("W", "PUT", "/logs-app/_doc/1", "pipeline=reroute", b("{}"), Refuse(RefusalCode::NotPermitted)),
        // A write to a missing index creates it first: ES authorizes indices:admin/auto_create,
        // which write and create_doc do not grant (create_index, auto_configure, manage, all do).
        ("W", "PUT", "/ingest-2/_create/1", "", b("{}"), Deny("indices:admin/auto_create", "ingest-2")),
        ("W", "POST", "/ingest-2/_doc", "", b("{}"), Deny("indices:admin/auto_create", "ingest-2")),
        ("W", "POST", "/_bulk", "", b("{\"create\":{\"_index\":\"ingest-2\"}}\n{}\n"), Deny("indices:admin/auto_create", "ingest-2")),
        ("W", "POST", "/_bulk", "", b("{\"delete\":{\"_index\":\"logs-app\",\"_id\":\"1\"}}\n"), Allow("indices:data/write/bulk", &["indices:data/write/bulk[s]=logs-app"])),
        ("M", "PUT", "/team-new/_doc/1", "", b("{}"), Allow("indices:data/write/index", &["indices:data/write/index=team-new"])),
        ("M", "POST", "/team-new/_update/1", "", b(r#"{"doc":{},"doc_as_upsert":true}"#), Allow("indices:data/write/update", &["indices:data/write/update=team-new"])),
        ("W", "POST", "/logs-app/_delete_by_query", "", b(r#"{"query":{"match_all":{}}}"#), Allow("indices:data/write/delete/byquery", &["indices:data/write/delete/byquery=logs-app", "indices:data/read/search=logs-app"])),
        ("R", "POST", "/logs-app/_delete_by_query", "", b("{}"), Deny("indices:data/write/delete/byquery", "")),
        ("R", "GET", "/logs-app/_explain/1", "", b(r#"{"query":{"match_all":{}}}"#), Allow("indices:data/read/explain", &["indices:data/read/explain=logs-app"])),
        ("R", "GET", "/logs-app/_termvectors/1", "", n(), Allow("indices:data/read/tv", &["indices:data/read/tv=logs-app"])),
        // --- index administration
        ("R", "PUT", "/logs-new", "", b("{}"), Deny("indices:admin/create", "")),
        ("M", "PUT", "/team-b", "", b("{}"), Allow("indices:admin/create", &["indices:admin/create=team-b"])),
        ("M", "PUT", "/secrets-2", "", b("{}"), Deny("indices:admin/create", "secrets-2")),
        ("M", "PUT", "/%3Cteam-%7Bnow%2Fd%7D%3E", "", n(), Allow("indices:admin/create", &["indices:admin/create=team-2026.03.07"])),
        ("M", "DELETE", "/team-a", "", n(), Allow("indices:admin/delete", &["indices:admin/delete=team-a"])),
        ("M", "DELETE", "/team-*", "", n(), Refuse(RefusalCode::Malformed)),
        ("M", "DELETE", "/_all", "", n(), Refuse(RefusalCode::Malformed)),
        ("M", "DELETE", "/secrets", "", n(), Deny("indices:admin/delete", "secrets")),
        ("R", "GET", "/logs-app", "", n(), Allow("indices:admin/get", &["indices:admin/get=logs-app"])),
        ("R", "GET", "/logs-app/_mapping", "", n(), Allow("indices:admin/mappings/get", &["indices:admin/mappings/get=logs-app"])),
        ("R", "PUT", "/logs-app/_mapping", "", b("{}"), Deny("indices:admin/mapping/put", "")),
        ("M", "PUT", "/logs-app/_mapping", "", b("{}"), Allow("indices:admin/mapping/put", &["indices:admin/mapping/put=logs-app"])),
        ("M", "PUT", "/secrets/_mapping", "", b("{}"), Deny("indices:admin/mapping/put", "secrets")),
        ("R", "GET", "/logs-app/_settings", "", n(), Allow("indices:monitor/settings/get", &["indices:monitor/settings/get=logs-app"])),
        ("R", "PUT", "/logs-app/_settings", "", b("{}"), Deny("indices:admin/settings/update", "")),
        ("R", "GET", "/logs-*/_stats", "", n(), Allow("indices:monitor/stats", &["indices:monitor/stats=logs-2026.03.06,logs-2026.03.07,logs-app,logs-view,logs-ds"])),
        ("R", "GET", "/secrets/_stats", "", n(), Deny("indices:monitor/stats", "secrets")),
        ("M", "POST", "/team-a/_refresh", "", n(), Allow("indices:admin/refresh", &["indices:admin/refresh=team-a"])),
        ("M", "POST", "/logs-app/_forcemerge", "", n(), Allow("indices:admin/forcemerge", &["indices:admin/forcemerge=logs-app"])),
        ("M", "POST", "/logs-app/_close", "", n(), Allow("indices:admin/close", &["indices:admin/close=logs-app"])),
        ("R", "GET", "/_resolve/index/*", "", n(), Allow("indices:admin/resolve/index", &["indices:admin/resolve/index=logs-2026.03.06,logs-2026.03.07,logs-app,logs-view,logs-ds"])),
        ("R", "GET", "/logs-app/_alias", "", n(), Allow("indices:admin/aliases/get", &["indices:admin/aliases/get=logs-app"])),
        ("R", "GET", "/_data_stream/logs-ds", "", n(), Allow("indices:admin/data_stream/get", &["indices:admin/data_stream/get=logs-ds"])),
        ("R", "PUT", "/logs-app/_alias/widen", "", n(), Refuse(RefusalCode::Unrecognised)),
        ("R", "POST", "/_aliases", "", b("{}"), Refuse(RefusalCode::NotPermitted)),
        // --- a grant without the request's action at all: 403 without indices, as ES
        ("V", "GET", "/logs-app/_search", "", n(), Deny(SEARCH, "")),
        ("V", "GET", "/_search", "", n(), Deny(SEARCH, "")),
        ("V", "GET", "/logs-app/_mapping", "", n(), Allow("indices:admin/mappings/get", &["indices:admin/mappings/get=logs-app"])),
        // --- _bulk
        ("W", "POST", "/_bulk", "", b("{\"index\":{\"_index\":\"logs-app\",\"_id\":\"1\"}}\n{\"a\":1}\n{\"delete\":{\"_index\":\"logs-app\",\"_id\":\"2\"}}\n"), Allow("indices:data/write/bulk", &["indices:data/write/bulk[s]=logs-app", "indices:data/write/bulk[s]=logs-app"])),
        ("W", "POST", "/logs-app/_bulk", "", b("{\"index\":{}}\n{\"a\":1}\n{\"update\":{\"_id\":\"1\"}}\n{\"doc\":{}}\n"), Allow("indices:data/write/bulk", &["indices:data/write/bulk[s]=logs-app", "indices:data/write/bulk[s]=logs-app"])),
        ("W", "POST", "/logs-app/_bulk", "", b("{\"index\":{}}\n{\"a\":1}\n{\"index\":{\"_index\":\"secrets\"}}\n{\"a\":1}\n"), Deny("indices:data/write/bulk[s]", "secrets")),
        ("W", "POST", "/_bulk", "", b("{\"create\":{\"_index\":\"ingest-1\"}}\n{\"a\":1}\n"), Allow("indices:data/write/bulk", &["indices:data/write/bulk[s]=ingest-1"])),
        ("W", "POST", "/_bulk", "", b("{\"index\":{\"_index\":\"ingest-1\",\"_id\":\"7\"}}\n{\"a\":1}\n"), Deny("indices:data/write/index:op_type/index", "ingest-1")),
        ("W", "POST", "/_bulk", "", b("{\"delete\":{\"_index\":\"ingest-1\",\"_id\":\"7\"}}\n"), Deny("indices:data/write/delete", "ingest-1")),
        ("W", "POST", "/_bulk", "", b("{\"index\":{\"_index\":\"logs-*\"}}\n{}\n"), Refuse(RefusalCode::Malformed)),
        ("W", "POST", "/_bulk", "", b("{\"index\":{\"_index\":\"logs-app,secrets\"}}\n{}\n"), Refuse(RefusalCode::Malformed)),
        ("W", "POST", "/_bulk", "", b("{\"index\":{\"_index\":\"logs-app\",\"pipeline\":\"reroute\"}}\n{}\n"), Refuse(RefusalCode::NotPermitted)),
        ("W", "POST", "/_bulk", "", b("{\"index\":{\"_index\":\"logs-app\",\"_indx\":\"secrets\"}}\n{}\n"), Refuse(RefusalCode::Malformed)),
        ("W", "POST", "/_bulk", "", b("{\"index\":{}}\n{}\n"), Refuse(RefusalCode::Malformed)),
        ("W", "POST", "/_bulk", "", b("{\"index\":{\"_index\":\"logs-app\"}}\n"), Refuse(RefusalCode::Malformed)),
        ("W", "POST", "/_bulk", "", b("{\"index\":{\"_index\":\"logs-app\"},\"delete\":{\"_index\":\"secrets\"}}\n{}\n"), Refuse(RefusalCode::Malformed)),
        ("W", "POST", "/_bulk", "", b("not json\n"), Refuse(RefusalCode::Malformed)),
        // repeated keys: ES refuses them; the proxy never picks one reading of its own
        ("W", "POST", "/_bulk", "", b("{\"index\":{\"_index\":\"logs-app\",\"_index\":\"secrets\"}}\n{}\n"), Refuse(RefusalCode::Malformed)),
        ("W", "POST", "/_bulk", "", b("{\"index\":{\"_index\":\"secrets\",\"_index\":\"logs-app\"}}\n{}\n"), Refuse(RefusalCode::Malformed)),
        ("W", "POST", "/_bulk", "", b("{\"index\":{\"_index\":\"logs-app\"},\"index\":{\"_index\":\"secrets\"}}\n{}\n"), Refuse(RefusalCode::Malformed)),
        ("R", "POST", "/_msearch", "", b("{\"index\":\"secrets\",\"index\":\"logs-app\"}\n{}\n"), Refuse(RefusalCode::Malformed)),
        ("R", "POST", "/_mget", "", b(r#"{"docs":[{"_index":"secrets","_index":"logs-app","_id":"1"}]}"#), Refuse(RefusalCode::Malformed)),
        ("R", "POST", "/logs-app/_search", "", b(r#"{"query":{"terms":{"u":{"index":"secrets","index":"logs-app","id":"1","path":"f"}}}}"#), Refuse(RefusalCode::Malformed)),
        // a bulk body sent as a JSON array or with a trailing object on the action line
        ("W", "POST", "/_bulk", "", b("{\"index\":{\"_index\":\"logs-app\"}} {\"index\":{\"_index\":\"secrets\"}}\n{}\n"), Refuse(RefusalCode::Malformed)),
        ("W", "POST", "/_bulk", "", b("[{\"index\":{\"_index\":\"secrets\"}}]\n{}\n"), Refuse(RefusalCode::Malformed)),
        ("W", "POST", "/_bulk", "", n(), Refuse(RefusalCode::Malformed)),
        ("W", "POST", "/logs-*/_bulk", "", b("{\"index\":{}}\n{}\n"), Refuse(RefusalCode::Malformed)),
        // a document whose source looks like an action line stays a source line
        ("W", "POST", "/_bulk", "", b("{\"index\":{\"_index\":\"logs-app\"}}\n{\"delete\":{\"_index\":\"secrets\",\"_id\":\"1\"}}\n"), Allow("indices:data/write/bulk", &["indices:data/write/bulk[s]=logs-app"])),
        ("R", "POST", "/_bulk", "", b("{\"index\":{\"_index\":\"logs-app\"}}\n{}\n"), Deny("indices:data/write/bulk", "")),
        // --- _msearch
        ("R", "POST", "/_msearch", "", b("{\"index\":\"logs-app\"}\n{}\n{\"index\":[\"logs-2026*\"]}\n{}\n"), Allow("indices:data/read/msearch", &["indices:data/read/search=logs-app", "indices:data/read/search=logs-2026.03.06,logs-2026.03.07"])),
        ("R", "POST", "/logs-app/_msearch", "", b("{}\n{}\n"), Allow("indices:data/read/msearch", &["indices:data/read/search=logs-app"])),
        ("R", "POST", "/_msearch", "", b("{}\n{}\n"), Allow("indices:data/read/msearch", &["indices:data/read/search=logs-2026.03.06,logs-2026.03.07,logs-app,logs-view,logs-ds"])),
        ("R", "POST", "/logs-app/_msearch", "", b("{\"index\":\"secrets\"}\n{}\n"), Deny(SEARCH, "secrets")),
        ("R", "POST", "/_msearch", "", b("{\"index\":\"logs-app\",\"indices\":\"secrets\"}\n{}\n"), Refuse(RefusalCode::Malformed)),
        ("R", "POST", "/_msearch", "", b("{\"index\":\"logs-app\",\"_index\":\"secrets\"}\n{}\n"), Refuse(RefusalCode::Malformed)),
        ("R", "POST", "/_msearch", "", b("{\"index\":\"logs-app\"}\n"), Refuse(RefusalCode::Malformed)),
        ("R", "POST", "/_msearch", "", b("{\"index\":\"logs-app\"}\n{\"query\":{\"terms\":{\"user\":{\"index\":\"secrets\",\"id\":\"1\",\"path\":\"f\"}}}}\n"), Deny("indices:data/read/get", "secrets")),
        // a search body shaped like a header stays a body (ES answers it with a 400)
        ("R", "POST", "/_msearch", "", b("{\"index\":\"logs-app\"}\n{}\n{\"index\":\"logs-app\"}\n{\"index\":\"secrets\"}\n"), Allow("indices:data/read/msearch", &["indices:data/read/search=logs-app", "indices:data/read/search=logs-app"])),
        // --- lookups inside queries
        // `;` separates parameters for Elasticsearch: a hidden `source`, `pipeline` or `scroll`.
        ("R", "GET", "/logs-app/_search", "pretty;source=%7B%7D&source_content_type=application/json", n(), Refuse(RefusalCode::Malformed)),
        ("W", "PUT", "/logs-app/_doc/1", "x;pipeline=reroute", b(r#"{"a":1}"#), Refuse(RefusalCode::Malformed)),
        ("R", "POST", "/logs-app/_search", "x;scroll=1m", n(), Refuse(RefusalCode::Malformed)),
        // A lookup runtime field reads its target index for every hit.
        ("R", "POST", "/logs-app/_search", "", b(r#"{"runtime_mappings":{"leak":{"type":"lookup","target_index":"secrets","input_field":"h","target_field":"h","fetch_fields":["*"]}},"fields":["leak"]}"#), Deny("indices:data/read/search", "secrets")),
        ("R", "POST", "/logs-app/_search", "", b(r#"{"runtime_mappings":{"same":{"type":"lookup","target_index":"logs-app","input_field":"h","target_field":"h","fetch_fields":["a"]}}}"#), Allow(SEARCH, &["indices:data/read/search=logs-app", "indices:data/read/search=logs-app"])),
        ("R", "POST", "/logs-app/_search", "", b(r#"{"runtime_mappings":{"leak":{"type":"lookup","target_index":"sec*","input_field":"h","target_field":"h"}}}"#), Refuse(RefusalCode::Malformed)),
        ("R", "POST", "/logs-app/_search", "", b(r#"{"runtime_mappings":{"leak":{"type":"lookup","input_field":"h"}}}"#), Refuse(RefusalCode::Malformed)),
        // A lookup field put into a mapping reads its target index at every later search of
        // the index, as whoever searches: the grant that writes it must be able to read it.
        ("M", "PUT", "/team-a/_mapping", "", b(r#"{"runtime":{"leak":{"type":"lookup","target_index":"secrets","input_field":"h","target_field":"h","fetch_fields":["*"]}}}"#), Deny("indices:data/read/search", "secrets")),
        ("M", "POST", "/team-a/_mapping", "", b(r#"{"runtime":{"leak":{"type":"lookup","target_index":"secrets","input_field":"h","target_field":"h"}}}"#), Deny("indices:data/read/search", "secrets")),
        ("M", "PUT", "/team-a/_mapping", "", b(r#"{"runtime":{"ok":{"type":"lookup","target_index":"team-a","input_field":"h","target_field":"h"}}}"#), Allow("indices:admin/mapping/put", &["indices:admin/mapping/put=team-a", "indices:data/read/search=team-a"])),
        ("M", "PUT", "/team-a/_mapping", "", b(r#"{"runtime":{"leak":{"type":"lookup","target_index":"sec*","input_field":"h","target_field":"h"}}}"#), Refuse(RefusalCode::Malformed)),
        ("M", "PUT", "/team-a/_mapping", "", b(r#"{"runtime":{"day":{"type":"keyword","script":"emit('x')"}},"properties":{"index":{"type":"keyword"},"id":{"type":"keyword"}}}"#), Allow("indices:admin/mapping/put", &["indices:admin/mapping/put=team-a"])),
        // The same at creation, in the mappings, in a dynamic template, or in an alias filter.
        ("M", "PUT", "/team-b", "", b(r#"{"mappings":{"runtime":{"leak":{"type":"lookup","target_index":"secrets","input_field":"h","target_field":"h"}}}}"#), Deny("indices:data/read/search", "secrets")),
        ("M", "PUT", "/team-b", "", b(r#"{"mappings":{"dynamic_templates":[{"t":{"match":"*","runtime":{"type":"lookup","target_index":"secrets","input_field":"h","target_field":"h"}}}]}}"#), Deny("indices:data/read/search", "secrets")),
        ("M", "PUT", "/team-b", "", b(r#"{"aliases":{"team-b-view":{"filter":{"terms":{"user":{"index":"secrets","id":"1","path":"u"}}}}}}"#), Deny("indices:data/read/get", "secrets")),
        ("M", "PUT", "/team-b", "", b(r#"{"settings":{"index":{"number_of_shards":1}},"mappings":{"runtime":{"ok":{"type":"lookup","target_index":"team-a","input_field":"h","target_field":"h"}}}}"#), Allow("indices:admin/create", &["indices:admin/create=team-b", "indices:data/read/search=team-a"])),
        ("M", "PUT", "/team-b", "", b("{not json"), Refuse(RefusalCode::Malformed)),
        // An alias a created index joins is authorized by its own name, as ES authorizes
        // `indices:admin/aliases` on each (`AuthorizationService`, create-index aliases): else a
        // grant on `team-*` adds its index to `all-data` (seen by every reader of that alias) or
        // makes it the write index of an alias others write through.
        ("M", "PUT", "/team-b", "", b(r#"{"aliases":{"all-data":{"is_write_index":true}}}"#), Deny("indices:admin/aliases", "all-data")),
        ("M", "PUT", "/team-b", "", b(r#"{"aliases":{"team-view":{}}}"#), Allow("indices:admin/create", &["indices:admin/create=team-b", "indices:admin/aliases=team-b", "indices:admin/aliases=team-view"])),
        ("M", "PUT", "/team-b", "", b(r#"{"aliases":{}}"#), Allow("indices:admin/create", &["indices:admin/create=team-b"])),
        // `create_index` alone creates, but aliases need `manage` on the index and the alias.
        ("C", "PUT", "/team-b", "", b("{}"), Allow("indices:admin/create", &["indices:admin/create=team-b"])),
        ("C", "PUT", "/team-b", "", b(r#"{"aliases":{"team-view":{}}}"#), Deny("indices:admin/aliases", "team-b")),
        ("M", "PUT", "/team-b", "", b(r#"{"aliases":{"team-*":{}}}"#), Refuse(RefusalCode::Malformed)),
        ("M", "PUT", "/team-b", "", b(r#"{"aliases":["all-data"]}"#), Refuse(RefusalCode::Malformed)),
        ("R", "PUT", "/logs-app/_settings", "", b(r#"{"index":{"default_pipeline":"reroute"}}"#), Refuse(RefusalCode::NotPermitted)),
        // A default or final pipeline runs at every write to the index, as `?pipeline=` would
        // (refused above): it can reroute documents to any index, so neither may be set.
        ("M", "PUT", "/team-a/_settings", "", b(r#"{"index":{"default_pipeline":"reroute"}}"#), Refuse(RefusalCode::NotPermitted)),
        ("M", "PUT", "/team-a/_settings", "", b(r#"{"settings":{"index.final_pipeline":"reroute"}}"#), Refuse(RefusalCode::NotPermitted)),
        ("M", "PUT", "/team-a/_settings", "", b(r#"{"final_pipeline":"reroute"}"#), Refuse(RefusalCode::NotPermitted)),
        ("M", "PUT", "/team-a/_settings", "", b(r#"{"index.default_pipeline":"_none","index":{"default_pipeline":"reroute"}}"#), Refuse(RefusalCode::NotPermitted)),
        ("M", "PUT", "/team-b", "", b(r#"{"settings":{"index":{"default_pipeline":"reroute"}}}"#), Refuse(RefusalCode::NotPermitted)),
        ("M", "PUT", "/team-b", "", b(r#"{"settings":{"default_pipeline":["reroute"]}}"#), Refuse(RefusalCode::NotPermitted)),
        ("M", "PUT", "/team-a/_settings", "", b(r#"{"index":{"number_of_replicas":0,"default_pipeline":"_none","final_pipeline":null}}"#), Allow("indices:admin/settings/update", &["indices:admin/settings/update=team-a"])),
        ("M", "PUT", "/team-b", "", b(r#"{"mappings":{"properties":{"default_pipeline":{"type":"keyword"}}}}"#), Allow("indices:admin/create", &["indices:admin/create=team-b"])),
        ("M", "PUT", "/team-a/_settings", "", b(r#"{"index":"#), Refuse(RefusalCode::Malformed)),
        // An indexed shape without `index` comes from Elasticsearch's default `shapes` index.
        ("R", "POST", "/logs-app/_search", "", b(r#"{"query":{"geo_shape":{"loc":{"indexed_shape":{"id":"1","path":"loc"}}}}}"#), Deny("indices:data/read/get", "shapes")),
        ("R", "POST", "/logs-app/_search", "", b(r#"{"query":{"terms":{"user":{"index":"secrets","id":"1","path":"f"}}}}"#), Deny("indices:data/read/get", "secrets")),
        ("R", "POST", "/logs-app/_search", "", b(r#"{"query":{"terms":{"user":{"index":"logs-app","id":"1","path":"f"}}}}"#), Allow(SEARCH, &["indices:data/read/search=logs-app", "indices:data/read/get=logs-app"])),
        ("R", "POST", "/logs-app/_search", "", b(r#"{"query":{"more_like_this":{"fields":["t"],"like":[{"_index":"secrets","_id":"1"}]}}}"#), Deny("indices:data/read/get", "secrets")),
        ("R", "POST", "/logs-app/_search", "", b(r#"{"query":{"term":{"index":"secrets"}}}"#), Allow(SEARCH, &["indices:data/read/search=logs-app"])),
        ("R", "POST", "/logs-app/_search", "", b("{not json"), Refuse(RefusalCode::Malformed)),
        // --- _mget / _mtermvectors
        ("R", "POST", "/_mget", "", b(r#"{"docs":[{"_index":"logs-app","_id":"1"},{"_index":"logs-2026.03.07","_id":"2"}]}"#), Allow("indices:data/read/mget", &["indices:data/read/mget=logs-app", "indices:data/read/mget=logs-2026.03.07"])),
        ("R", "POST", "/logs-app/_mget", "", b(r#"{"ids":["1","2"]}"#), Allow("indices:data/read/mget", &["indices:data/read/mget=logs-app"])),
        ("R", "POST", "/logs-app/_mget", "", b(r#"{"docs":[{"_id":"1"},{"_index":"secrets","_id":"2"}]}"#), Deny("indices:data/read/mget", "secrets")),
        ("R", "POST", "/_mget", "", b(r#"{"docs":[{"_id":"1"}]}"#), Refuse(RefusalCode::Malformed)),
        ("R", "POST", "/_mget", "", b(r#"{"docs":[{"_index":"*","_id":"1"}]}"#), Refuse(RefusalCode::Malformed)),
        ("R", "POST", "/_mget", "", b(r#"{"docs":[],"index":"secrets"}"#), Refuse(RefusalCode::Malformed)),
        ("R", "POST", "/_mtermvectors", "", b(r#"{"docs":[{"_index":"logs-app","_id":"1"}]}"#), Allow("indices:data/read/mtv", &["indices:data/read/mtv=logs-app"])),
        ("R", "POST", "/_mtermvectors", "", b(r#"{"docs":[{"_index":"secrets","_id":"1"}]}"#), Deny("indices:data/read/mtv", "secrets")),
        // --- scroll: no index in the request; bound to its creator by the proxy
        ("R", "POST", "/_search/scroll", "", b(r#"{"scroll":"1m","scroll_id":"abc"}"#), Allow("indices:data/read/scroll", &[])),
        ("R", "DELETE", "/_search/scroll", "", b(r#"{"scroll_id":"abc"}"#), Allow("indices:data/read/scroll/clear", &[])),
        ("V", "POST", "/_search/scroll", "", b("{}"), Deny("indices:data/read/scroll", "")),
        // --- method override headers are not an input: the method is what the request says
        ("R", "GET", "/logs-app/_doc/1", "", n(), Allow("indices:data/read/get", &["indices:data/read/get=logs-app"])),
        // --- all: a grant of `all` on team-*
        ("M", "GET", "/team-*/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=team-a"])),
        ("M", "GET", "/_search", "", n(), Allow(SEARCH, &["indices:data/read/search=team-a"])),
        ("M", "GET", "/logs-app/_search", "", n(), Deny(SEARCH, "logs-app")),
    ]
}

#[test]
fn authorization_table() {
    let cluster = catalog();
    let mut failures = Vec::new();
    let all = cases();
    for (g, method, path, query, body, want) in &all {
        let grant = grant(g);
        let got = match classify(method, path, query, body.as_bytes()) {
            Err(refusal) => Err(refusal.code),
            Ok(req) => Ok(authorize(&req, &grant, &cluster)),
        };
        let ok = match (want, &got) {
            (Refuse(code), Err(c)) => code == c,
            (Refuse(code), Ok(Decision::Refuse(r))) => *code == r.code,
            (Allow(action, targets), Ok(Decision::Allow(a))) => {
                let got_targets: Vec<String> = a
                    .targets
                    .iter()
                    .map(|t| format!("{}={}", t.action, t.expression()))
                    .collect();
                a.action == *action && got_targets == *targets
            }
            (Deny(action, indices), Ok(Decision::Deny(d))) => {
                d.action == *action && d.indices.join(",") == *indices
            }
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "[{g}] {method} {path}?{query}: want {}, got {got:?}",
                describe(want)
            ));
        }
    }
    assert!(
        all.len() >= 100,
        "the table must pin at least 100 request shapes, has {}",
        all.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

fn describe(w: &Want) -> String {
    match w {
        Allow(a, t) => format!("allow {a} {t:?}"),
        Deny(a, i) => format!("deny {a} on [{i}]"),
        Refuse(c) => format!("refuse {c:?}"),
    }
}

/// The 403 body is Elasticsearch's, byte for byte in shape and wording
/// (`AuthorizationDenialMessages.Default.actionDenied`, privileges sorted as
/// `IndexPrivilege.findPrivilegesThatGrant` sorts them).
#[test]
fn denial_body_is_elasticsearch_security_exception() {
    let cluster = catalog();
    let deny = |g: &str, method: &str, path: &str, body: &str| {
        let req = classify(method, path, "", body.as_bytes()).unwrap();
        match authorize(&req, &grant(g), &cluster) {
            Decision::Deny(d) => d,
            other => panic!("expected a denial, got {other:?}"),
        }
    };
    let d = deny("R", "GET", "/logs-app,secrets/_search", "");
    let reason = "action [indices:data/read/search] is unauthorized for user [alice@example.com] with effective roles [jit-g1] on indices [secrets], this action is granted by the index privileges [read,all]";
    assert_eq!(d.reason, reason);
    assert_eq!(d.status(), 403);
    assert_eq!(
        d.body(),
        format!(
            r#"{{"error":{{"root_cause":[{{"type":"security_exception","reason":"{reason}"}}],"type":"security_exception","reason":"{reason}"}},"status":403}}"#
        )
    );
    let cases = [
        (
            "W",
            "POST",
            "/_bulk",
            "{\"index\":{\"_index\":\"secrets\"}}\n{}\n",
            "action [indices:data/write/bulk[s]] is unauthorized for user [alice@example.com] with effective roles [jit-g1] on indices [secrets], this action is granted by the index privileges [create_doc,create,delete,index,write,all]",
        ),
        (
            "W",
            "PUT",
            "/secrets/_doc/1",
            "{}",
            "action [indices:data/write/index] is unauthorized for user [alice@example.com] with effective roles [jit-g1] on indices [secrets], this action is granted by the index privileges [create_doc,create,index,write,all]",
        ),
        (
            "R",
            "PUT",
            "/logs-x",
            "{}",
            "action [indices:admin/create] is unauthorized for user [alice@example.com] with effective roles [jit-g1], this action is granted by the index privileges [create_index,manage,all]",
        ),
        (
            "R",
            "GET",
            "/secrets/_stats",
            "",
            "action [indices:monitor/stats] is unauthorized for user [alice@example.com] with effective roles [jit-g1] on indices [secrets], this action is granted by the index privileges [monitor,manage,all]",
        ),
        (
            "W",
            "DELETE",
            "/ingest-1/_doc/1",
            "",
            "action [indices:data/write/delete] is unauthorized for user [alice@example.com] with effective roles [jit-g1] on indices [ingest-1], this action is granted by the index privileges [delete,write,all]",
        ),
        (
            "R",
            "GET",
            "/secrets/_mapping",
            "",
            "action [indices:admin/mappings/get] is unauthorized for user [alice@example.com] with effective roles [jit-g1] on indices [secrets], this action is granted by the index privileges [view_index_metadata,manage,all]",
        ),
    ];
    for (g, m, p, b, want) in cases {
        assert_eq!(deny(g, m, p, b).reason, want, "{m} {p}");
    }

    // Authenticated with the grant's API-key-style token: ES names the key, not roles.
    let mut keyed = grant("R");
    keyed.api_key_id = Some("k-123".into());
    let req = classify("GET", "/secrets/_search", "", b"").unwrap();
    let Decision::Deny(d) = authorize(&req, &keyed, &cluster) else {
        panic!("expected a denial")
    };
    assert_eq!(
        d.reason,
        "action [indices:data/read/search] is unauthorized for API key id [k-123] of user [alice@example.com] on indices [secrets], this action is granted by the index privileges [read,all]"
    );
}

/// Refusals answer with a stable status and an ES-shaped body naming the request, not secrets.
#[test]
fn refusals_have_status_and_body() {
    let r = classify("GET", "/_security/user", "", b"").unwrap_err();
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = serde_json::from_str(&r.body()).unwrap();
    assert_eq!(body["error"]["type"], "security_exception");
    assert_eq!(body["status"], 403);
    assert!(
        body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("security APIs")
    );

    let huge = vec![b' '; proxy::authz::MAX_BODY_BYTES + 1];
    let r = classify("POST", "/_bulk", "", &huge).unwrap_err();
    assert_eq!((r.code, r.status()), (RefusalCode::BodyTooLarge, 413));

    let r = classify(
        "POST",
        "/_bulk",
        "",
        b"{\"index\":{\"_index\":\"logs-app\"}}\n{}\n\xff\xfe{\"index\":{}}\n{}\n",
    )
    .unwrap_err();
    assert_eq!((r.code, r.status()), (RefusalCode::Malformed, 400));
}

/// Grants are validated when built: unknown privileges and regex patterns are errors.
#[test]
fn grant_entries_are_validated() {
    use proxy::authz::GrantError;
    assert_eq!(
        GrantEntry::new(&["logs-*"], &["reed"]).err(),
        Some(GrantError::UnknownPrivilege("reed".into()))
    );
    assert_eq!(
        GrantEntry::new(&["/logs.*/"], &["read"]).err(),
        Some(GrantError::UnsupportedPattern("/logs.*/".into()))
    );
    assert_eq!(
        GrantEntry::new(&[], &["read"]).err(),
        Some(GrantError::Empty)
    );
    assert!(GrantEntry::new(&["logs-*"], &["READ", "indices:data/read/*"]).is_ok());
}

/// The engine's cost per request stays far below the 1 ms budget: a 1,000-item bulk and a
/// wildcard search over a 2,001-name catalog, each authorized 50 times, in well under a second
/// even unoptimised.
#[test]
fn stays_fast() {
    // The bulk writes to an index the cluster has (a missing one would need auto_create).
    let mut cluster = IndexCatalog::new(Utc::now()).index("logs-app");
    for i in 0..2000 {
        cluster = cluster.index(&format!("logs-{i:04}"));
    }
    let grant = grant("W");
    let mut bulk = String::new();
    for i in 0..1000 {
        bulk.push_str(&format!(
            "{{\"index\":{{\"_index\":\"logs-app\",\"_id\":\"{i}\"}}}}\n{{\"n\":{i}}}\n"
        ));
    }
    let started = std::time::Instant::now();
    for _ in 0..50 {
        let req = classify("POST", "/_bulk", "", bulk.as_bytes()).unwrap();
        assert!(matches!(
            authorize(&req, &grant, &cluster),
            Decision::Allow(_)
        ));
        let req = classify("GET", "/logs-*/_search", "", b"").unwrap();
        assert!(
            matches!(authorize(&req, &grant, &cluster), Decision::Allow(a) if a.targets[0].indices.len() == 2001)
        );
    }
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(5),
        "100 authorizations took {took:?}"
    );
}

/// The catalog is read from `_resolve/index/*?expand_wildcards=all`; hidden indices (by
/// attribute, not only by a leading dot) stay out of wildcards.
#[test]
fn catalog_from_resolve_index() {
    use proxy::authz::CatalogError;
    let body = serde_json::json!({
        "indices": [
            {"name": "logs-app", "aliases": ["logs-view"], "attributes": ["open"]},
            {"name": "logs-hidden", "attributes": ["open", "hidden"]},
            {"name": "logs-old", "attributes": ["closed"]},
            {"name": ".ds-logs-ds-2026.03.07-000001", "attributes": ["open", "hidden"], "data_stream": "logs-ds"}
        ],
        "aliases": [{"name": "logs-view", "indices": ["logs-app"]}],
        "data_streams": [{"name": "logs-ds", "backing_indices": [".ds-logs-ds-2026.03.07-000001"], "timestamp_field": "@timestamp"}]
    });
    let cluster = IndexCatalog::from_resolve_index(&body, Utc::now()).unwrap();
    let req = classify("GET", "/logs-*/_search", "", b"").unwrap();
    let Decision::Allow(a) = authorize(&req, &grant("R"), &cluster) else {
        panic!("expected allow")
    };
    assert_eq!(a.targets[0].indices, ["logs-app", "logs-view", "logs-ds"]);
    let req = classify(
        "GET",
        "/logs-*/_search",
        "expand_wildcards=open,hidden",
        b"",
    )
    .unwrap();
    let Decision::Allow(a) = authorize(&req, &grant("R"), &cluster) else {
        panic!("expected allow")
    };
    assert_eq!(
        a.targets[0].indices,
        ["logs-app", "logs-hidden", "logs-view", "logs-ds"]
    );
    let bad = serde_json::json!({"indices": [{"name": 1}], "aliases": [], "data_streams": []});
    assert_eq!(
        IndexCatalog::from_resolve_index(&bad, Utc::now()).err(),
        Some(CatalogError("indices[].name"))
    );
}
