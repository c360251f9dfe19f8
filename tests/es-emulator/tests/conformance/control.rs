//! Control endpoints: request log, faults (status, latency, dropped connection), reset
//! and clock.

use std::time::Instant;

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn request_log_records_principal_and_status() {
    let es = start().await;
    es.get("/_resolve/index/*?expand_wildcards=all", &elastic())
        .await;
    es.get("/", &Auth::None).await;
    let user = es.user("keyowner", &["superuser"]).await;
    let k = es
        .post("/_security/api_key", &user, json!({"name": "k"}))
        .await;
    es.get(
        "/_security/_authenticate",
        &Auth::ApiKey(k.body["encoded"].as_str().unwrap().into()),
    )
    .await;
    let r = es.control("GET", "requests", None).await;
    let log = r.body["requests"].as_array().unwrap();
    assert_eq!(
        log[0],
        json!({"method": "GET", "path": "/_resolve/index/*", "query": "expand_wildcards=all",
                              "principal": "elastic", "api_key_id": null, "status": 200, "fault": null})
    );
    assert_eq!(log[1]["principal"], json!(null));
    assert_eq!(log[1]["status"], json!(401));
    let last = log.last().unwrap();
    assert_eq!(last["principal"], "keyowner");
    assert_eq!(last["api_key_id"], k.body["id"]);
    assert!(
        log.iter()
            .all(|e| !e["path"].as_str().unwrap().starts_with("/_emulator"))
    );
    es.control("DELETE", "requests", None).await;
    let r = es.control("GET", "requests", None).await;
    assert_eq!(r.body["requests"], json!([]));
}

#[tokio::test]
async fn status_faults_apply_count_times() {
    let es = start().await;
    es.put("/_security/role/r1", &elastic(), json!({})).await;
    let f = es
        .control(
            "POST",
            "faults",
            Some(
                json!({"method": "DELETE", "path": "/_security/role/*", "count": 2, "status": 503,
                                                "body": {"error": "unavailable"}}),
            ),
        )
        .await;
    assert_eq!(f.status, 200);
    for _ in 0..2 {
        let r = es.delete("/_security/role/r1", &elastic()).await;
        assert_eq!((r.status, r.body), (503, json!({"error": "unavailable"})));
    }
    assert_eq!(
        es.delete("/_security/role/r1", &elastic()).await.body,
        json!({"found": true})
    );
    es.control("POST", "faults", Some(json!({"path": "/", "status": 500})))
        .await;
    let r = es.get("/", &elastic()).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.body["status"], json!(500));
    es.control(
        "POST",
        "faults",
        Some(json!({"path": "/x", "status": 500, "count": 5})),
    )
    .await;
    es.control("DELETE", "faults", None).await;
    assert_eq!(es.get("/x", &elastic()).await.status, 404);
    let bad = es
        .control("POST", "faults", Some(json!({"path": "/x"})))
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn latency_and_dropped_connection() {
    let es = start().await;
    es.control(
        "POST",
        "faults",
        Some(json!({"method": "GET", "path": "/", "latency_ms": 300})),
    )
    .await;
    let t = Instant::now();
    assert_eq!(es.get("/", &elastic()).await.status, 200);
    assert!(t.elapsed().as_millis() >= 300);
    es.control(
        "POST",
        "faults",
        Some(json!({"method": "*", "path": "/_security/*", "drop_connection": true})),
    )
    .await;
    let err = reqwest::Client::new()
        .get(format!("{}/_security/_authenticate", es.emulator.url()))
        .basic_auth("elastic", Some(ELASTIC_PW))
        .send()
        .await;
    assert!(err.is_err(), "connection must drop without a response");
    assert_eq!(
        es.get("/_security/_authenticate", &elastic()).await.status,
        200
    );
    let log = es.control("GET", "requests", None).await;
    let dropped = log.body["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["fault"] == "drop_connection")
        .cloned()
        .unwrap();
    assert_eq!(dropped["status"], json!(0));
    assert_eq!(dropped["principal"], "elastic");
}

#[tokio::test]
async fn reset_restores_seed_and_clears_everything() {
    let es = start_with(Some(json!({"indices": [{"name": "seeded"}], "users": [{"username": "seeded-user", "password": "seeded-pw", "roles": ["viewer"]}]}))).await;
    es.put(
        "/_security/user/temp",
        &elastic(),
        json!({"password": "temp-password", "roles": []}),
    )
    .await;
    es.put("/extra", &elastic(), json!({})).await;
    es.control("POST", "clock", Some(json!({"advance_seconds": 100})))
        .await;
    es.control(
        "POST",
        "faults",
        Some(json!({"path": "/nothing", "status": 500})),
    )
    .await;
    let r = es.control("POST", "reset", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(es.get("/_security/user/temp", &elastic()).await.status, 404);
    assert_eq!(es.get("/extra/_mapping", &elastic()).await.status, 404);
    assert_eq!(es.get("/seeded/_mapping", &elastic()).await.status, 200);
    assert_eq!(
        es.get(
            "/_security/_authenticate",
            &basic("seeded-user", "seeded-pw")
        )
        .await
        .status,
        200
    );
    let c = es.control("GET", "clock", None).await;
    assert_eq!(c.body["offset_millis"], json!(0));
    let f = es.control("GET", "faults", None).await;
    assert_eq!(f.body["faults"], json!([]));
    let log = es.control("GET", "requests", None).await;
    assert_eq!(log.body["requests"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn clock_moves_creation_time() {
    let es = start().await;
    let before = es.control("GET", "clock", None).await.body["now_millis"]
        .as_i64()
        .unwrap();
    let r = es
        .control("POST", "clock", Some(json!({"advance_seconds": 86400})))
        .await;
    assert!(r.body["now_millis"].as_i64().unwrap() >= before + 86_400_000);
    let k = es
        .post("/_security/api_key", &elastic(), json!({"name": "k"}))
        .await;
    let g = es
        .get(
            &format!("/_security/api_key?id={}", k.body["id"].as_str().unwrap()),
            &elastic(),
        )
        .await;
    assert!(g.body["api_keys"][0]["creation"].as_i64().unwrap() >= before + 86_400_000);
    let r = es.control("GET", "nope", None).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn filter_path_on_any_response() {
    let es = start().await;
    let r = es
        .get("/?filter_path=version.number,tagline", &elastic())
        .await;
    assert_eq!(r.body["tagline"], "You Know, for Search");
    assert_eq!(r.body.as_object().unwrap().len(), 2);
    assert!(r.body["version"].get("build_flavor").is_none());
    let r = es
        .get("/_security/user?filter_path=**.username", &elastic())
        .await;
    assert_eq!(r.body["elastic"], json!({"username": "elastic"}));
    let r = es.get("/?filter_path=nothing", &elastic()).await;
    assert_eq!(r.body, json!({}));
}
