//! Data APIs and the curl scenario.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn curl_scenario_read_on_logs_only() {
    let es = start().await;
    for idx in ["logs-1", "secrets-1"] {
        let r = es
            .put(
                &format!("/{idx}"),
                &elastic(),
                json!({"mappings": {"properties": {"msg": {"type": "keyword"}}}}),
            )
            .await;
        assert_eq!(
            r.body,
            json!({"acknowledged": true, "shards_acknowledged": true, "index": idx})
        );
        let r = es
            .put(
                &format!("/{idx}/_doc/1"),
                &elastic(),
                json!({"msg": "hello"}),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    let r = es
        .put(
            "/_security/role/logs_reader",
            &elastic(),
            json!({"indices": [{"names": ["logs-*"], "privileges": ["read"]}]}),
        )
        .await;
    assert_eq!(r.body, json!({"role": {"created": true}}));
    let r = es
        .put(
            "/_security/user/reader",
            &elastic(),
            json!({"password": "reader-password", "roles": ["logs_reader"]}),
        )
        .await;
    assert_eq!(r.body, json!({"created": true}));
    let reader = basic("reader", "reader-password");
    let r = es.get("/logs-1/_search", &reader).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["hits"]["total"]["value"], json!(1));
    assert_eq!(
        r.body["hits"]["hits"][0]["_source"],
        json!({"msg": "hello"})
    );
    let r = es.get("/secrets-1/_search", &reader).await;
    assert_eq!(
        r.body,
        json!({"error":{"root_cause":[{"type":"security_exception","reason":"action [indices:data/read/search] is unauthorized for user [reader] with effective roles [logs_reader] on indices [secrets-1], this action is granted by the index privileges [read,all]"}],"type":"security_exception","reason":"action [indices:data/read/search] is unauthorized for user [reader] with effective roles [logs_reader] on indices [secrets-1], this action is granted by the index privileges [read,all]"},"status":403})
    );
    // Wildcards are filtered silently.
    let r = es.get("/*/_search", &reader).await;
    assert_eq!(r.body["hits"]["total"]["value"], json!(1));
    let r = es
        .put("/logs-1/_doc/2", &reader, json!({"msg": "nope"}))
        .await;
    assert_eq!(
        error_of(&r, 403, "security_exception"),
        "action [indices:data/write/index] is unauthorized for user [reader] with effective roles [logs_reader] on indices [logs-1], this action is granted by the index privileges [create_doc,create,index,write,all]"
    );
    let r = es.get("/logs-1/_doc/1", &reader).await;
    assert_eq!(r.body["found"], json!(true));
    assert_eq!(es.get("/secrets-1/_doc/1", &reader).await.status, 403);
}

#[tokio::test]
async fn documents_and_search_queries() {
    let es = start().await;
    es.put(
        "/books",
        &elastic(),
        json!({"mappings": {"_meta": {"owner": "lib"}}}),
    )
    .await;
    let r = es
        .put(
            "/books/_doc/1",
            &elastic(),
            json!({"title": "Dune", "year": 1965, "tags": ["scifi"]}),
        )
        .await;
    assert_eq!(r.body["result"], "created");
    assert_eq!(r.body["_version"], json!(1));
    let r = es
        .put(
            "/books/_doc/1",
            &elastic(),
            json!({"title": "Dune", "year": 1965, "tags": ["scifi", "classic"]}),
        )
        .await;
    assert_eq!(
        (
            r.status,
            r.body["result"].clone(),
            r.body["_version"].clone()
        ),
        (200, json!("updated"), json!(2))
    );
    es.post(
        "/books/_doc",
        &elastic(),
        json!({"title": "Emma", "year": 1815}),
    )
    .await;
    let r = es
        .post(
            "/books/_search",
            &elastic(),
            json!({"query": {"term": {"title": "Dune"}}}),
        )
        .await;
    assert_eq!(r.body["hits"]["total"]["value"], json!(1));
    let r = es
        .post(
            "/books/_search",
            &elastic(),
            json!({"query": {"term": {"tags": "classic"}}}),
        )
        .await;
    assert_eq!(r.body["hits"]["hits"][0]["_id"], "1");
    let r = es
        .post(
            "/books/_search",
            &elastic(),
            json!({"query": {"match_all": {}}, "size": 1, "sort": [{"year": "asc"}]}),
        )
        .await;
    assert_eq!(r.body["hits"]["total"]["value"], json!(2));
    assert_eq!(r.body["hits"]["hits"][0]["_source"]["title"], "Emma");
    let r = es
        .post("/books/_search", &elastic(), json!({"query": {"nope": {}}}))
        .await;
    error_of(&r, 400, "parsing_exception");
    let r = es.get("/books/_doc/404", &elastic()).await;
    assert_eq!(
        (r.status, r.body),
        (
            404,
            json!({"_index": "books", "_id": "404", "found": false})
        )
    );
    let r = es.get("/nope/_doc/1", &elastic()).await;
    error_of(&r, 404, "index_not_found_exception");
    let r = es.get("/nope/_search", &elastic()).await;
    error_of(&r, 404, "index_not_found_exception");
    let r = es
        .put("/books/_create/1", &elastic(), json!({"title": "again"}))
        .await;
    error_of(&r, 409, "version_conflict_engine_exception");
    let r = es.put("/books", &elastic(), json!({})).await;
    error_of(&r, 400, "resource_already_exists_exception");
    let r = es.put("/Books", &elastic(), json!({})).await;
    assert_eq!(
        error_of(&r, 400, "invalid_index_name_exception"),
        "Invalid index name [Books], must be lowercase"
    );
    let r = es.put("/x", &elastic(), json!({"mapping": {}})).await;
    error_of(&r, 400, "parse_exception");
    let r = es.get("/books/_mapping", &elastic()).await;
    assert_eq!(
        r.body["books"]["mappings"]["_meta"],
        json!({"owner": "lib"})
    );
}

#[tokio::test]
async fn aliases_and_data_streams_are_searchable() {
    let es = start_with(Some(json!({
        "indices": [{"name": "logs-2026.11", "aliases": ["logs"], "documents": [{"id": "1", "source": {"m": "a"}}]},
                    {"name": "logs-2026.10", "aliases": ["logs"], "documents": [{"id": "1", "source": {"m": "b"}}]}],
        "data_streams": [{"name": "metrics-app", "documents": [{"source": {"@timestamp": "2026-11-01T00:00:00Z", "cpu": 1}}]}]
    }))).await;
    let r = es.get("/logs/_search", &elastic()).await;
    assert_eq!(r.body["hits"]["total"]["value"], json!(2));
    let r = es.get("/metrics-app/_search", &elastic()).await;
    assert_eq!(r.body["hits"]["total"]["value"], json!(1));
    let r = es
        .post(
            "/metrics-app/_doc",
            &elastic(),
            json!({"@timestamp": "2026-11-02T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert!(
        r.body["_index"]
            .as_str()
            .unwrap()
            .starts_with(".ds-metrics-app-")
    );
    let r = es.put("/logs/_doc/9", &elastic(), json!({"m": 1})).await;
    error_of(&r, 400, "illegal_argument_exception");
    let u = es
        .user_with_role(
            "u",
            "u",
            json!({"indices": [{"names": ["metrics-*"], "privileges": ["read"]}]}),
        )
        .await;
    let r = es.get("/metrics-app/_search", &u).await;
    assert_eq!(r.body["hits"]["total"]["value"], json!(2));
}
