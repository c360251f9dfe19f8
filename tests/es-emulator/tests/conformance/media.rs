//! Media types: what the official clients send, and what Elasticsearch refuses.

use serde_json::{Value, json};

use crate::common::*;

async fn raw(
    es: &Es,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, Option<String>, Value) {
    let mut rb = es
        .client
        .request(method, format!("{}{path}", es.emulator.url()))
        .basic_auth("elastic", Some(ELASTIC_PW));
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    if let Some(b) = body {
        rb = rb.body(b.to_string());
    }
    let resp = rb.send().await.expect("answers");
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, ct, body)
}

/// Source: elastic/elasticsearch `server/src/main/java/org/elasticsearch/rest/RestController.java`
/// (`sendContentTypeErrorMessage`: 406 NOT_ACCEPTABLE, "Content-Type header [..] is not
/// supported" / "Content-Type header is missing", as a simple `{"error","status"}` body).
#[tokio::test]
async fn a_body_of_an_unsupported_content_type_is_406() {
    let es = start().await;
    let body = r#"{"query":{"match_all":{}}}"#;
    let (status, _, b) = raw(
        &es,
        reqwest::Method::POST,
        "/_search",
        &[("content-type", "text/plain")],
        Some(body),
    )
    .await;
    assert_eq!(
        (status, b),
        (
            406,
            json!({"error": "Content-Type header [text/plain] is not supported", "status": 406})
        )
    );
    let (status, _, b) = raw(&es, reqwest::Method::POST, "/_search", &[], Some(body)).await;
    assert_eq!(
        (status, b),
        (
            406,
            json!({"error": "Content-Type header is missing", "status": 406})
        )
    );
    let (status, _, _) = raw(
        &es,
        reqwest::Method::POST,
        "/_search",
        &[("content-type", "application/json; charset=UTF-8")],
        Some(body),
    )
    .await;
    assert_eq!(status, 200);
}

/// Source: elastic/elasticsearch `server/src/main/java/org/elasticsearch/rest/RestCompatibleVersionHelper.java`
/// (`compatible-with` must be the current major or the one before) and the official clients
/// (elasticsearch-py 9.x `_sync/client/__init__.py` sends
/// `application/vnd.elasticsearch+json; compatible-with=9` as Accept and Content-Type).
#[tokio::test]
async fn the_versioned_media_type_is_honoured() {
    let es = start().await;
    for v in ["9", "8"] {
        let media = format!("application/vnd.elasticsearch+json; compatible-with={v}");
        let (status, ct, body) = raw(
            &es,
            reqwest::Method::POST,
            "/_security/user/_has_privileges",
            &[("accept", &media), ("content-type", &media)],
            Some(r#"{"cluster":["monitor"]}"#),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            ct.as_deref(),
            Some(format!("application/vnd.elasticsearch+json;compatible-with={v}").as_str())
        );
    }
    let (status, ct, _) = raw(&es, reqwest::Method::GET, "/", &[], None).await;
    assert_eq!((status, ct.as_deref()), (200, Some("application/json")));
    let (status, _, body) = raw(
        &es,
        reqwest::Method::GET,
        "/",
        &[(
            "accept",
            "application/vnd.elasticsearch+json; compatible-with=7",
        )],
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["type"], "status_exception");
}
