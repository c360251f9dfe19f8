//! Attacks on the merged identity and reliability changes, by an outsider: each test is an
//! attack that worked on the code these branches merged, run through the real handlers against
//! moto and the Elasticsearch emulator.

use std::sync::{Arc, Mutex};

use fixtures::flows::{discover_app, register};
use fixtures::{ADMIN, Env, es_seed, event, http, response};
use serde_json::json;
use shared::secrets::{SecretStore, SecretValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server that records what it is sent (where an attacker would collect a connector's
/// `Authorization` header) and answers every request with 401.
async fn capture_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = vec![0u8; 8192];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let _ = sock
                .write_all(
                    b"HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n\
                      content-length: 2\r\nconnection: close\r\n\r\n{}",
                )
                .await;
        }
    });
    (url, seen)
}

/// Integration `prod-search`'s connector secret is named exactly `<prefix>prod-search`. Its
/// partial ARN (the ARN without Secrets Manager's `-XXXXXX`) reads like the complete ARN of a
/// secret `<prefix>prod` with the suffix `search`, so the name check binds it to an integration
/// called `prod`; Secrets Manager resolves it to prod-search's secret. An administrator who
/// was never given that secret registered `prod` at their own URL and received its Basic
/// header in the prerequisite check.
#[tokio::test]
async fn a_partial_arn_of_another_integrations_secret_is_never_read() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    let full = env
        .secrets
        .create(
            &format!("{}prod-search", env.connector_prefix),
            &SecretValue::new(
                json!({"username": "connector", "password": fixtures::CONNECTOR_PASSWORD})
                    .to_string(),
            ),
            "test",
            &[],
        )
        .await
        .expect("secret");
    register(&env, &d, json!({ "secret_arn": full })).await;

    let (url, seen) = capture_server().await;
    let partial = &full[..full.len() - 7];
    assert!(partial.ends_with("prod-search"), "{partial}");
    let body = json!({"kind": "elasticsearch", "url": url, "secret_arn": partial,
                      "allow_insecure_http": true,
                      "integration_owners": [{"type": "group", "value": "search-platform"}]});
    let (s, b) = response(
        d.handle(http(
            event("discover/put-integration.json"),
            "/integrations/prod",
            ADMIN,
            Some(body),
        ))
        .await
        .expect("handler"),
    );
    let sent = seen.lock().unwrap().clone();
    assert!(
        sent.is_empty(),
        "prod-search's connector credentials were sent to another integration's URL ({} \
         request(s))",
        sent.len()
    );
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("connector_secret_not_bound")),
        "{b}"
    );
}
