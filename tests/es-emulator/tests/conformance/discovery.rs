//! Discovery: _resolve/index filtering, hidden handling, _mapping with _meta, data
//! streams, aliases, _cat/indices, filter_path and scale.

use std::time::Instant;

use serde_json::{Value, json};

use crate::common::*;

fn seed() -> Value {
    json!({
        "indices": [
            {"name": "simple-index1", "mappings": {"_meta": {"owner": "alice@example.com"}, "properties": {"f": {"type": "keyword"}}}, "aliases": ["simple-alias"]},
            {"name": "simple-index2", "mappings": {"properties": {}}},
            {"name": "other-index", "mappings": {"_meta": {"owner": "bob@example.com"}}},
            {"name": "hidden-index", "hidden": true},
            {"name": ".dot-hidden", "hidden": true},
            {"name": "closed-index", "closed": true}
        ],
        "data_streams": [
            {"name": "simple-data-stream1", "_meta": {"owner": "ops"}},
            {"name": "hidden-ds", "hidden": true}
        ]
    })
}

fn names(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn resolve_index_is_filtered_by_privileges() {
    let es = start_with(Some(seed())).await;
    // security/authz/60_resolve_index: privileges on the data stream only.
    let u = es
        .user_with_role("ds_user", "ds_role", json!({"indices": [{"names": ["simple-data-stream*"], "privileges": ["view_index_metadata"]}]}))
        .await;
    let r = es.get("/_resolve/index/*", &u).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["indices"], json!([]));
    assert_eq!(r.body["aliases"], json!([]));
    assert_eq!(names(&r.body, "data_streams"), ["simple-data-stream1"]);
    assert_eq!(r.body["data_streams"][0]["timestamp_field"], "@timestamp");
    let r = es.get("/_resolve/index/other-index", &u).await;
    assert_eq!(
        error_of(&r, 403, "security_exception"),
        "action [indices:admin/resolve/index] is unauthorized for user [ds_user] with effective roles [ds_role] on indices [other-index], this action is granted by the index privileges [read,view_index_metadata,manage,all]"
    );
    // The monitor-only connector role sees nothing through resolve.
    let m = es
        .user_with_role(
            "mon",
            "mon",
            json!({"indices": [{"names": ["*"], "privileges": ["monitor"]}]}),
        )
        .await;
    let r = es.get("/_resolve/index/*", &m).await;
    assert_eq!(
        r.body,
        json!({"indices": [], "aliases": [], "data_streams": []})
    );
}

#[tokio::test]
async fn resolve_index_hidden_and_expand_wildcards() {
    let es = start_with(Some(seed())).await;
    let r = es.get("/_resolve/index/*", &elastic()).await;
    assert_eq!(
        names(&r.body, "indices"),
        ["other-index", "simple-index1", "simple-index2"]
    );
    assert_eq!(names(&r.body, "aliases"), ["simple-alias"]);
    assert_eq!(r.body["aliases"][0]["indices"], json!(["simple-index1"]));
    assert_eq!(names(&r.body, "data_streams"), ["simple-data-stream1"]);
    let idx1 = &r.body["indices"][1];
    assert_eq!(idx1["aliases"], json!(["simple-alias"]));
    assert_eq!(idx1["attributes"], json!(["open"]));
    let r = es
        .get("/_resolve/index/*?expand_wildcards=open,hidden", &elastic())
        .await;
    let n = names(&r.body, "indices");
    assert!(n.contains(&"hidden-index".to_string()) && n.contains(&".security-7".to_string()));
    assert!(n.iter().any(|i| i.starts_with(".ds-simple-data-stream1-")));
    assert!(!n.contains(&"closed-index".to_string()));
    assert_eq!(
        names(&r.body, "data_streams"),
        ["hidden-ds", "simple-data-stream1"]
    );
    let backing = r.body["indices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"].as_str().unwrap().starts_with(".ds-simple"))
        .unwrap()
        .clone();
    assert_eq!(backing["data_stream"], "simple-data-stream1");
    assert_eq!(backing["attributes"], json!(["hidden", "open"]));
    let r = es
        .get("/_resolve/index/*?expand_wildcards=all", &elastic())
        .await;
    let closed = r.body["indices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "closed-index")
        .unwrap()
        .clone();
    assert_eq!(closed["attributes"], json!(["closed"]));
    // A dot pattern reaches dot-prefixed hidden indices without expand hidden.
    let r = es.get("/_resolve/index/.dot*", &elastic()).await;
    assert_eq!(names(&r.body, "indices"), [".dot-hidden"]);
    // Comma-separated expressions and exclusions.
    let r = es
        .get(
            "/_resolve/index/simple-*,other-index,-simple-index2",
            &elastic(),
        )
        .await;
    assert_eq!(names(&r.body, "indices"), ["other-index", "simple-index1"]);
    let r = es.get("/_resolve/index/missing", &elastic()).await;
    assert_eq!(
        error_of(&r, 404, "index_not_found_exception"),
        "no such index [missing]"
    );
    assert_eq!(r.body["error"]["index"], "missing");
    let r = es
        .get("/_resolve/index/*?expand_wildcards=bogus", &elastic())
        .await;
    error_of(&r, 400, "illegal_argument_exception");
}

#[tokio::test]
async fn mapping_meta_and_filter_path() {
    let es = start_with(Some(seed())).await;
    let r = es
        .get("/_mapping?filter_path=*.mappings._meta", &elastic())
        .await;
    assert_eq!(
        r.body["simple-index1"],
        json!({"mappings": {"_meta": {"owner": "alice@example.com"}}})
    );
    assert_eq!(
        r.body["other-index"],
        json!({"mappings": {"_meta": {"owner": "bob@example.com"}}})
    );
    assert!(r.body.get("simple-index2").is_none());
    // Source: elastic/elasticsearch-specification `specification/indices/_types/DataStream.ts`
    // (`_meta`: "Custom metadata for the stream, copied from the `_meta` object of the stream's
    // matching index template"): the stream's `_meta` is its own, not its backing indices'
    // mappings' (those come from the template's `template.mappings`).
    assert!(
        !r.body
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with(".ds-simple-data-stream1")),
        "{}",
        r.body
    );
    let all = es.get("/_mapping?expand_wildcards=all", &elastic()).await;
    let backing = all
        .body
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.starts_with(".ds-simple-data-stream1"))
        .map(|(_, v)| v.clone())
        .expect("backing index listed");
    assert!(backing["mappings"].get("_meta").is_none(), "{backing}");
    let streams = es
        .get("/_data_stream/simple-data-stream1", &elastic())
        .await;
    assert_eq!(
        streams.body["data_streams"][0]["_meta"],
        json!({"owner": "ops"})
    );
    let r = es.get("/simple-*/_mapping", &elastic()).await;
    assert_eq!(
        r.body["simple-index1"]["mappings"]["properties"]["f"],
        json!({"type": "keyword"})
    );
    assert_eq!(
        r.body["simple-index2"],
        json!({"mappings": {"properties": {}}})
    );
    let r = es.get("/nope/_mapping", &elastic()).await;
    error_of(&r, 404, "index_not_found_exception");
    let r = es
        .get(
            "/nope,simple-index2/_mapping?ignore_unavailable=true",
            &elastic(),
        )
        .await;
    assert_eq!(r.body.as_object().unwrap().len(), 1);
    let r = es
        .get("/nope*/_mapping?allow_no_indices=false", &elastic())
        .await;
    error_of(&r, 404, "index_not_found_exception");
    // Privileges: wildcard silently filtered, explicit name refused.
    let u = es
        .user_with_role(
            "u",
            "u",
            json!({"indices": [{"names": ["simple-*"], "privileges": ["view_index_metadata"]}]}),
        )
        .await;
    let r = es.get("/_mapping", &u).await;
    let keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
    // Privileges on a data stream's name cover its backing indices.
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(
        keys.iter()
            .any(|k| k.starts_with(".ds-simple-data-stream1-"))
    );
    assert!(!keys.iter().any(|k| k.as_str() == "other-index"));
    let r = es.get("/other-index/_mapping", &u).await;
    assert_eq!(
        error_of(&r, 403, "security_exception"),
        "action [indices:admin/mappings/get] is unauthorized for user [u] with effective roles [u] on indices [other-index], this action is granted by the index privileges [view_index_metadata,manage,all]"
    );
}

#[tokio::test]
async fn data_streams_and_aliases() {
    let es = start_with(Some(seed())).await;
    let r = es.get("/_data_stream", &elastic()).await;
    assert_eq!(names(&r.body, "data_streams"), ["simple-data-stream1"]);
    let ds = &r.body["data_streams"][0];
    assert_eq!(ds["_meta"], json!({"owner": "ops"}));
    assert_eq!(ds["timestamp_field"], json!({"name": "@timestamp"}));
    assert_eq!(ds["generation"], json!(1));
    assert_eq!(ds["status"], "GREEN");
    assert_eq!(ds["hidden"], json!(false));
    assert!(
        ds["indices"][0]["index_name"]
            .as_str()
            .unwrap()
            .starts_with(".ds-simple-data-stream1-")
    );
    let r = es
        .get("/_data_stream/*?expand_wildcards=all", &elastic())
        .await;
    assert_eq!(
        names(&r.body, "data_streams"),
        ["hidden-ds", "simple-data-stream1"]
    );
    let r = es.get("/_data_stream/nope", &elastic()).await;
    error_of(&r, 404, "index_not_found_exception");
    let r = es.get("/_alias/simple-alias", &elastic()).await;
    assert_eq!(
        r.body,
        json!({"simple-index1": {"aliases": {"simple-alias": {}}}})
    );
    let r = es.get("/_alias", &elastic()).await;
    assert_eq!(r.body["simple-index2"], json!({"aliases": {}}));
    assert_eq!(
        r.body[".security-7"],
        json!({"aliases": {".security": {"is_hidden": true}}})
    );
    let r = es.get("/_alias/simple-alias,missing", &elastic()).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({"error": "alias [missing] missing", "status": 404, "simple-index1": {"aliases": {"simple-alias": {}}}})
    );
    let r = es.get("/simple-index2/_alias", &elastic()).await;
    assert_eq!(r.body, json!({"simple-index2": {"aliases": {}}}));
}

#[tokio::test]
async fn cat_indices_json_strings() {
    let es = start_with(Some(json!({"indices": [{"name": "a-1", "documents": [{"id": "1", "source": {"x": 1}}]}, {"name": "b-1"}]}))).await;
    let r = es.get("/_cat/indices?format=json", &elastic()).await;
    let rows = r.body.as_array().unwrap();
    let a = rows.iter().find(|x| x["index"] == "a-1").unwrap();
    for (k, v) in a.as_object().unwrap() {
        assert!(v.is_string(), "{k} must be a string");
    }
    assert_eq!(a["docs.count"], "1");
    assert_eq!(a["status"], "open");
    assert!(
        rows.iter().any(|x| x["index"] == ".security-7"),
        "default expand_wildcards is all"
    );
    let r = es
        .get(
            "/_cat/indices/a-*?format=json&h=index,docs.count",
            &elastic(),
        )
        .await;
    assert_eq!(r.body, json!([{"index": "a-1", "docs.count": "1"}]));
    let r = es.get("/_cat/indices/a-*?v=true&h=index", &elastic()).await;
    assert_eq!(r.body, json!("index\na-1\n"));
}

#[tokio::test]
async fn ten_thousand_indices_resolve_fast() {
    let es = start_with(Some(json!({"generated_indices": [{"prefix": "bulk-", "count": 10000, "mappings": {"_meta": {"owner": "team"}}}]}))).await;
    let conn = es
        .user_with_role("conn", "conn", json!({"cluster": ["monitor"], "indices": [{"names": ["*"], "privileges": ["view_index_metadata", "monitor"]}]}))
        .await;
    let started = Instant::now();
    let r = es.get("/_resolve/index/*", &conn).await;
    assert_eq!(r.body["indices"].as_array().unwrap().len(), 10000);
    let r = es
        .get("/_mapping?filter_path=*.mappings._meta", &conn)
        .await;
    assert_eq!(r.body.as_object().unwrap().len(), 10000);
    assert_eq!(r.body["bulk-0042"]["mappings"]["_meta"]["owner"], "team");
    assert!(
        started.elapsed().as_secs() < 10,
        "took {:?}",
        started.elapsed()
    );
    let log = es.control("GET", "requests", None).await;
    let discovery: Vec<&Value> = log.body["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["principal"] == "conn")
        .collect();
    assert_eq!(discovery.len(), 2);
}

/// Sources: elastic/elasticsearch `server/src/main/java/org/elasticsearch/indices/SystemIndices.java`
/// and `server/.../tasks/TaskResultsService.java` (`.tasks` is a system index; system indices
/// are hidden), `ResolveIndexAction.java` (attributes `hidden`, `open`, `system`, sorted), and the
/// warning elastic/elasticsearch's own REST tests expect when a request names one
/// (`x-pack/plugin/security/qa/.../SecurityIndexReadIT`-style `expectWarnings("this request
/// accesses system indices: [.security-7], but in a future major version, direct access to
/// system indices will be prevented by default")`).
#[tokio::test]
async fn system_indices_are_hidden_and_named_access_warns() {
    let es = start_with(Some(json!({
        "indices": [
            {"name": ".tasks", "documents": [{"id": "t1", "source": {"completed": true}}]},
            {"name": ".kibana_9.1.0_001"},
            {"name": "plain"}
        ]
    })))
    .await;
    let all = es
        .get("/_resolve/index/*?expand_wildcards=all", &elastic())
        .await;
    for name in [".tasks", ".kibana_9.1.0_001", ".security-7"] {
        let ix = all.body["indices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("{name} listed"));
        assert_eq!(
            ix["attributes"],
            json!(["hidden", "open", "system"]),
            "{name}"
        );
    }
    let open = es.get("/_resolve/index/*", &elastic()).await;
    assert_eq!(names(&open.body, "indices"), ["plain"]);
    let r = es.get("/.tasks/_doc/t1", &elastic()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let warning = r
        .headers
        .get("warning")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(warning.starts_with("299 Elasticsearch-"), "{warning}");
    assert!(
        warning.ends_with("\"this request accesses system indices: [.tasks], but in a future major version, direct access to system indices will be prevented by default\""),
        "{warning}"
    );
    let r = es.get("/plain/_search", &elastic()).await;
    assert!(r.headers.get("warning").is_none());
    let r = es
        .get("/.tas*/_search?expand_wildcards=all", &elastic())
        .await;
    assert!(
        r.headers.get("warning").is_none(),
        "wildcards do not name it"
    );
}

/// Sources: elastic/elasticsearch `server/.../action/support/master/info/ClusterInfoRequest.java`
/// (`GET /{index}` uses `IndicesOptions.strictExpandOpen()`: no match for a wildcard is an empty
/// answer), elastic/elasticsearch-specification `specification/_global/search/SearchRequest.ts`
/// (`rest_total_hits_as_int`) and `specification/indices/_types/DataStream.ts` (`settings`).
#[tokio::test]
async fn empty_wildcards_int_totals_and_data_stream_settings() {
    let es = start_with(Some(seed())).await;
    let r = es.get("/nothing-matches-*", &elastic()).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({})));
    let r = es.get("/nothing-matches", &elastic()).await;
    error_of(&r, 404, "index_not_found_exception");
    let r = es
        .get(
            "/simple-index1/_search?rest_total_hits_as_int=true",
            &elastic(),
        )
        .await;
    assert_eq!(r.body["hits"]["total"], json!(0), "{}", r.body);
    let r = es.get("/simple-index1/_search", &elastic()).await;
    assert_eq!(
        r.body["hits"]["total"],
        json!({"value": 0, "relation": "eq"})
    );
    let r = es.get("/_data_stream", &elastic()).await;
    assert_eq!(
        r.body["data_streams"][0]["settings"],
        json!({}),
        "{}",
        r.body
    );
}

/// `IndicesAndAliasesResolver`: a name the caller may not see counts as unavailable, so with
/// `ignore_unavailable=true` it is dropped silently; without it the request is refused.
#[tokio::test]
async fn ignore_unavailable_drops_unauthorized_names() {
    let es = start_with(Some(
        json!({"indices": [{"name": "logs-a"}, {"name": "secret-b"}]}),
    ))
    .await;
    let conn = es
        .user_with_role("conn", "conn", json!({"cluster": ["monitor"], "indices": [{"names": ["logs-*"], "privileges": ["view_index_metadata"]}]}))
        .await;
    let r = es.get("/_resolve/index/logs-a,secret-b", &conn).await;
    let reason = error_of(&r, 403, "security_exception");
    assert!(reason.contains("on indices [secret-b]"), "{reason}");
    let r = es
        .get(
            "/_resolve/index/logs-a,secret-b,missing?ignore_unavailable=true",
            &conn,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["indices"].as_array().unwrap().len(), 1, "{}", r.body);
    assert_eq!(r.body["indices"][0]["name"], "logs-a");
    let r = es
        .get(
            "/secret-b,nothing-*/_mapping?ignore_unavailable=true&allow_no_indices=true",
            &conn,
        )
        .await;
    assert_eq!((r.status, r.body.clone()), (200, json!({})));
}
