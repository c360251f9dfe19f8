//! Connector credentials go only where the operator chose: a connector secret is bound to its
//! integration (checked before it is read, at registration and on every later use), plain
//! http needs an explicit opt-in, and a target's error text never comes back.

use std::sync::{Arc, Mutex};

use fixtures::flows::{discover_app, flows, put_integration, register};
use fixtures::{ADMIN, Env, es_seed, event, http, response};
use serde_json::{Value, json};
use shared::model::Integration;
use shared::store::IntegrationStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server on loopback that records every request it receives and answers each with an
/// attacker-chosen status and body.
struct Capture {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Capture {
    async fn start(status: u16, body: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let n = sock.read(&mut buf).await.unwrap_or(0);
                    log.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(answer.as_bytes()).await;
                });
            }
        });
        Self { url, seen }
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn es_body(url: &str, secret_arn: &str) -> Value {
    json!({"kind": "elasticsearch", "url": url, "secret_arn": secret_arn,
           "allow_insecure_http": true,
           "integration_owners": [{"type": "group", "value": "search-platform"}]})
}

fn field_codes(b: &Value) -> Vec<&str> {
    b["error"]["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["code"].as_str())
        .collect()
}

#[tokio::test]
async fn another_integrations_secret_is_refused_before_any_request_is_sent() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    register(&env, &d, json!({})).await;
    let prod = env
        .store
        .get_integration("prod-search")
        .await
        .unwrap()
        .unwrap();
    let capture = Capture::start(200, "{}").await;

    // Registering a new integration at a capture server with prod-search's secret.
    let (s, b) = put_integration(&d, "evil", es_body(&capture.url, &prod.spec.secret_arn)).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("validation_failed")),
        "{b}"
    );
    assert_eq!(field_codes(&b), ["connector_secret_not_bound"], "{b}");
    // Also when pointed at the real cluster: nothing reaches it either.
    env.clear_es_log().await;
    let (s, _) = put_integration(&d, "evil", es_body(&env.es.url(), &prod.spec.secret_arn)).await;
    assert_eq!(s, 400);
    assert!(env.es_requests().await.is_empty());
    assert!(env.store.get_integration("evil").await.unwrap().is_none());

    // A record edited by hand (or written before the binding): the secret is still not read
    // for it, on discovery or any other use.
    let mut forged: Integration = prod.clone();
    forged.name = "evil".into();
    forged.spec.url = Some(capture.url.clone());
    forged.version = 0;
    env.store
        .save_integration(&forged, None, &[])
        .await
        .unwrap();
    let (s, b) = response(
        d.handle(http(
            event("discover/post-discover.json"),
            "/integrations/evil/discover",
            ADMIN,
            None,
        ))
        .await
        .expect("handler"),
    );
    assert_eq!(s, 400, "{b}");
    assert!(b.to_string().contains("not bound"), "{b}");
    assert!(capture.requests().is_empty(), "{:?}", capture.requests());
}

#[tokio::test]
async fn plain_http_needs_an_explicit_opt_in() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    let capture = Capture::start(200, "{}").await;
    let arn = env
        .secret_for("plain", json!({"username": "connector", "password": "pw"}))
        .await;
    let mut body = es_body(&capture.url, &arn);
    body.as_object_mut().unwrap().remove("allow_insecure_http");
    let (s, b) = put_integration(&d, "plain", body).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(field_codes(&b), ["insecure_url"], "{b}");
    assert!(capture.requests().is_empty());
}

#[tokio::test]
async fn a_targets_error_text_is_summarized_never_echoed() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    flows(&d, &[]).await;
    const BAIT: &str = "CALL-+1-555-0100";
    for (status, body, code) in [
        (
            400,
            r#"{"error":{"type":"security_exception","reason":"CALL-+1-555-0100 you sent Basic Y29ubmVjdG9y"},"status":400}"#,
            "target_error",
        ),
        (
            401,
            r#"{"error":{"type":"CALL-+1-555-0100","reason":"CALL-+1-555-0100"},"status":401}"#,
            "connector_unauthorized",
        ),
        (
            500,
            r#"{"error":"CALL-+1-555-0100 internal"}"#,
            "target_error",
        ),
        (
            403,
            r#"{"error":{"type":"security_exception\nCALL-+1-555-0100","reason":"x"}}"#,
            "target_error",
        ),
    ] {
        let capture = Capture::start(status, body).await;
        let name = format!("capture-{status}");
        let arn = env
            .secret_for(
                &name,
                json!({"username": "connector", "password": "connector-pw"}),
            )
            .await;
        let (s, b) = put_integration(&d, &name, es_body(&capture.url, &arn)).await;
        assert!(s >= 400, "{b}");
        assert_eq!(b["error"]["code"].as_str(), Some(code), "{b}");
        let text = b.to_string();
        assert!(!text.contains(BAIT), "the target's text was echoed: {text}");
        assert!(!text.contains("Y29ubmVjdG9y"), "{text}");
        assert!(!capture.requests().is_empty(), "the call was made");
    }
}
