//! Request shapes the proxy must not forward blind, over the server against the security-less
//! emulator: body types it cannot read, and mappings whose runtime `lookup` fields would read
//! another index as the caller at search time.

mod common;

use std::time::Duration;

use common::{Running, basic, grant, register_proxy, start_proxy};
use fixtures::flows::{discover_app, flows, provision_app};
use fixtures::{Env, es_seed};
use serde_json::{Value, json};

/// A read grant on `logs-2026.11` and the proxy; returns (proxy, Basic header).
async fn granted(env: &Env) -> (Running, String) {
    let (d, p) = (discover_app(env), provision_app(env));
    register_proxy(env, &d).await;
    flows(&d, &["logs-auto"]).await;
    let (_, c) = grant(&p, &["logs-2026.11"]).await;
    let proxy = start_proxy(env, "prod-search", Duration::from_millis(500)).await;
    (proxy, basic(&c))
}

async fn call(
    proxy: &Running,
    method: reqwest::Method,
    path: &str,
    auth: &str,
    content_type: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let mut r = reqwest::Client::new()
        .request(method, format!("{}{path}", proxy.url))
        .header("authorization", auth)
        .body(body.to_string());
    if let Some(t) = content_type {
        r = r.header("content-type", t);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_json_and_ndjson_bodies_are_forwarded() {
    let env = Env::start_without_security(es_seed()).await;
    let (proxy, auth) = granted(&env).await;
    let post = reqwest::Method::POST;
    let query = r#"{"query":{"match_all":{}}}"#;
    let search = |t: Option<&'static str>| {
        call(
            &proxy,
            post.clone(),
            "/logs-2026.11/_search",
            &auth,
            t,
            query,
        )
    };
    for t in [
        "application/json",
        "application/json; charset=UTF-8",
        "application/vnd.elasticsearch+json; compatible-with=8",
    ] {
        let (s, b) = search(Some(t)).await;
        assert_eq!(s, 200, "{t}: {b}");
    }
    // NDJSON as the clients label it reaches the engine (this read grant may not write: 403,
    // not 406).
    let bulk = "{\"index\":{\"_index\":\"logs-2026.11\"}}\n{\"a\":1}\n";
    let (s, b) = call(
        &proxy,
        post.clone(),
        "/_bulk",
        &auth,
        Some("application/vnd.elasticsearch+x-ndjson; compatible-with=8"),
        bulk,
    )
    .await;
    assert_eq!(
        (s, &b["error"]["type"]),
        (403, &json!("security_exception")),
        "{b}"
    );
    env.clear_es_log().await;
    // A form post (what a browser can send cross-site), text, and binary encodings the proxy
    // cannot read: Elasticsearch's own 406, and nothing reaches the cluster.
    for t in [
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/cbor",
        "application/smile",
        "application/yaml",
        "application/json; charset=iso-8859-1",
    ] {
        let (s, b) = search(Some(t)).await;
        assert_eq!(
            (s, b),
            (
                406,
                json!({"error": format!("Content-Type header [{t}] is not supported"), "status": 406})
            ),
            "{t}"
        );
    }
    let (s, b) = search(None).await;
    assert_eq!(
        (s, b),
        (
            406,
            json!({"error": "Content-Type header is missing", "status": 406})
        )
    );
    assert_eq!(env.es_requests().await, Vec::<Value>::new());
    // Without a body, the type does not matter (and is not passed on).
    let (s, b) = call(
        &proxy,
        reqwest::Method::GET,
        "/logs-2026.11/_search",
        &auth,
        Some("text/plain"),
        "",
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let audit = proxy.audit.0.lock().unwrap().clone();
    assert!(
        audit
            .iter()
            .any(|l| l.contains(r#""decision":"refuse""#) && l.contains(r#""status":406"#)),
        "{audit:?}"
    );
}
