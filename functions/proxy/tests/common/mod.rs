//! What the proxy's integration tests share: a proxy integration registered against the
//! security-less emulator, grants through the real handlers, the server on a loopback port.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use fixtures::DEV;
use fixtures::Env;
use fixtures::flows::{ask, credentials, put_integration};
use proxy::config::{Settings, build};
use proxy::serve::audit::Memory;
use proxy::server::ServerConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::driver::http::HttpClients;

pub struct Running {
    pub url: String,
    pub audit: Arc<Memory>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub async fn build_proxy(
    env: &Env,
    integration: &str,
    cache_ttl: Duration,
) -> (proxy::serve::Proxy, Arc<Memory>) {
    let mut settings = Settings::new(integration);
    settings.connector_prefix = env.connector_prefix.clone();
    settings.cache_ttl = cache_ttl;
    settings.catalog_ttl = Duration::from_millis(200);
    // Configuration changes show within the credential cache's TTL (tests wait for either).
    settings.config_ttl = cache_ttl;
    let audit = Arc::new(Memory::default());
    let proxy = build(
        &settings,
        env.store.clone(),
        env.secrets.clone(),
        Arc::new(HttpClients::new().unwrap()),
        audit.clone(),
        Arc::new(env.clock.clone()),
    )
    .await
    .expect("proxy builds");
    (proxy, audit)
}

/// The Lambda front end's streamed answer, read to its end: (status, body).
pub async fn lambda_answer(
    proxy: &proxy::serve::Proxy,
    event: aws_lambda_events::apigw::ApiGatewayV2httpRequest,
) -> (u16, Vec<u8>) {
    use futures::StreamExt;
    let out = proxy::lambda::handle(proxy, event).await;
    let status = out.metadata_prelude.status_code.as_u16();
    let mut body = Vec::new();
    let mut stream = out.stream;
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.expect("the stream completes"));
    }
    (status, body)
}

pub async fn start_proxy(env: &Env, integration: &str, cache_ttl: Duration) -> Running {
    start_proxy_with(env, integration, cache_ttl, ServerConfig::default()).await
}

pub async fn start_proxy_with(
    env: &Env,
    integration: &str,
    cache_ttl: Duration,
    config: ServerConfig,
) -> Running {
    let (proxy, audit) = build_proxy(env, integration, cache_ttl).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(proxy::server::serve(
        Arc::new(proxy),
        listener,
        config,
        async {
            let _ = rx.await;
        },
    ));
    Running {
        url,
        audit,
        stop: Some(tx),
    }
}

pub async fn stored(env: &Env, id: &str) -> Value {
    use shared::store::RequestStore;
    serde_json::to_value(env.store.get_request(id).await.unwrap().expect("record")).unwrap()
}

pub async fn register_proxy(env: &Env, d: &discover::App) {
    let arn = env.secret_for("prod-search", json!({})).await;
    let (s, b) = put_integration(
        d,
        "prod-search",
        json!({
            "kind": "elasticsearch", "url": env.es.url(), "secret_arn": arn,
            "authorization": "proxy", "proxy_url": "http://127.0.0.1:9201",
            "integration_owners": [{"type": "group", "value": "search-platform"}],
            "resource_owner": {"tag_key": "owner", "attribute": "user"},
            "allow_insecure_http": true
        }),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["authorization"], "proxy");
    assert!(
        b["discovery"]["total"].as_u64().unwrap() > 0,
        "discovered without credentials: {b}"
    );
}

/// An auto-approved read grant on `resources`; returns (grant id, credentials).
pub async fn grant(p: &provision::App, resources: &[&str]) -> (String, Value) {
    let (s, r) = ask(
        p,
        DEV,
        json!({"integration": "prod-search", "resources": resources, "permission": "read",
               "duration": "1h", "flow": "logs-auto"}),
    )
    .await;
    assert_eq!((s, r["status"].as_str()), (201, Some("active")), "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    assert!(
        r.get("proxy_credential").is_none(),
        "hashes never leave the record"
    );
    assert_eq!(r["created_objects"][0]["type"], "proxy_credential");
    let (s, c) = credentials(p, DEV, &id).await;
    assert_eq!(s, 200);
    (id, c)
}

pub fn basic(c: &Value) -> String {
    use base64::Engine;
    let raw = format!(
        "{}:{}",
        c["username"].as_str().unwrap(),
        c["password"].as_str().unwrap()
    );
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

pub async fn send(
    url: &str,
    method: reqwest::Method,
    path: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let client = reqwest::Client::new();
    let mut r = client.request(method, format!("{url}{path}"));
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    if let Some(b) = body {
        r = r
            .header("content-type", "application/x-ndjson")
            .body(b.to_string());
    }
    let resp = r.send().await.expect("proxy answers");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The project's test virtualenv, as `tests/setup.sh` makes it (`ELASTIC_JIT_VENV` overrides).
pub fn python() -> PathBuf {
    let venv = std::env::var("ELASTIC_JIT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    venv.join("bin/python")
}

pub fn python_client(url: &str, c: &Value) {
    let out = Command::new(python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/through_proxy.py"
        ))
        .arg(url)
        .env("PROXY_USERNAME", c["username"].as_str().unwrap())
        .env("PROXY_PASSWORD", c["password"].as_str().unwrap())
        .env("PROXY_API_KEY", c["api_key"].as_str().unwrap())
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client through the proxy failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ok search allowed") && stdout.contains("ok search refused"),
        "{stdout}"
    );
}
