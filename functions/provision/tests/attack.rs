//! Attacks on the merged identity and reliability changes, by an outsider: each test is an
//! attack that worked on the code these branches merged, run through the real handlers against
//! moto and the Elasticsearch emulator.

use std::sync::{Arc, Mutex};

use fixtures::flows::{
    ask, auth_of, credentials, discover_app, flows, provision_app, put_flow, put_integration,
    register,
};
use fixtures::{Auth, DEV, Env, MALLORY, Person, es_seed};
use reqwest::Method;
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
    let (s, b) = put_integration(&d, "prod", body).await;
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

/// Dev's second identity: another person (`sub`), carrying dev's verified email in capitals.
const TWIN: Person = Person {
    sub: "7e7e7e7e-twin",
    email: "DEV@Example.COM",
    groups: "[developers]",
};

/// Two integrations on one cluster with the default user prefix name the same Elasticsearch
/// user for the same email. Accounts were owned per integration, so the twin (refused with 409
/// on `prod-search`, where dev owns the account) got a fresh account on `prod-search-2`: the
/// provision re-put the existing user with a new password and handed it to the twin, dev's
/// password stopped working, and dev's next grant on `prod-search` put dev's roles back on the
/// user whose password the twin holds.
#[tokio::test]
async fn a_second_integration_on_the_same_cluster_never_takes_over_an_existing_user() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto"]).await;
    let arn = env
        .secret_for(
            "prod-search-2",
            json!({"username": "connector", "password": fixtures::CONNECTOR_PASSWORD}),
        )
        .await;
    let (s, b) = put_integration(
        &d,
        "prod-search-2",
        json!({"kind": "elasticsearch", "url": env.es.url(), "secret_arn": arn,
               "allow_insecure_http": true,
               "integration_owners": [{"type": "group", "value": "search-platform"}]}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let mut spec = fixtures::flows::flow_spec("logs-auto");
    spec["integration"] = json!("prod-search-2");
    spec["requesters"] = json!([{"type": "group", "value": "developers"}]);
    let (s, b) = put_flow(&d, "logs-auto-2", spec).await;
    assert_eq!(s, 201, "{b}");
    let p = provision_app(&env);

    let (s, mine) = ask(
        &p,
        DEV,
        json!({"integration": "prod-search", "resources": ["logs-*"], "permission": "read",
               "duration": "1h", "flow": "logs-auto"}),
    )
    .await;
    assert_eq!(
        (s, mine["status"].as_str()),
        (201, Some("active")),
        "{mine}"
    );
    let (s, dev_creds) = credentials(&p, DEV, mine["id"].as_str().unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(dev_creds["username"], "ejit_dev@example.com");

    let (s, r) = ask(
        &p,
        TWIN,
        json!({"integration": "prod-search-2", "resources": ["logs-*"], "permission": "read",
               "duration": "1h", "flow": "logs-auto-2"}),
    )
    .await;
    assert_ne!(
        r["status"].as_str(),
        Some("active"),
        "the twin was given the Elasticsearch user dev's grants live on (HTTP {s})"
    );
    assert_eq!((s, r["status"].as_str()), (201, Some("failed")), "{r}");
    assert!(
        r["status_reason"]
            .as_str()
            .is_some_and(|m| m.starts_with("account_exists_on_target")),
        "{r}"
    );
    assert_eq!(
        env.es_status(
            Method::GET,
            "/_security/_authenticate",
            &auth_of(&dev_creds),
            None
        )
        .await,
        200,
        "dev's password was replaced by another integration's provision"
    );

    // A user the operator made by hand under the same name is not taken over either.
    let status = env
        .es_status(
            Method::PUT,
            "/_security/user/ejit_mallory@example.com",
            &Auth::elastic(),
            Some(json!({"password": "operator-set-pw", "roles": []})),
        )
        .await;
    assert_eq!(status, 200);
    let (s, r) = ask(
        &p,
        MALLORY,
        json!({"integration": "prod-search", "resources": ["logs-*"], "permission": "read",
               "duration": "1h", "flow": "logs-auto"}),
    )
    .await;
    assert_eq!((s, r["status"].as_str()), (201, Some("failed")), "{r}");
    let own = Auth::Basic("ejit_mallory@example.com".into(), "operator-set-pw".into());
    assert_eq!(
        env.es_status(Method::GET, "/_security/_authenticate", &own, None)
            .await,
        200,
        "the operator's user was re-put with a new password"
    );
}
