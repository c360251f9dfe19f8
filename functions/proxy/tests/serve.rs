//! The proxy end to end: a `proxy` integration registered against the emulator standing for a
//! cluster with security disabled, a grant requested and approved through the real handlers,
//! its credentials read once, then requests through the proxy server: what the grant allows
//! reaches the cluster with the resolved names, the rest gets Elasticsearch's own 401/403, a
//! revoke takes effect within the cache TTL, the grant's end without any revoke, and the
//! official Python client works through it.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    basic, build_proxy, grant, lambda_answer, python_client, register_proxy, send, start_proxy,
    stored,
};
use fixtures::flows::{
    credentials, discover_app, flows, provision_app, put_integration, revoke_app,
};
use fixtures::{DEV, Env, es_seed, event, http, response};
use proxy::config::{Settings, build};
use proxy::serve::audit::Memory;
use serde_json::{Value, json};
use shared::driver::http::HttpClients;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_through_the_proxy_reads_what_it_may_and_nothing_else_until_it_ends() {
    let env = Env::start_without_security(es_seed()).await;
    let (d, p) = (discover_app(&env), provision_app(&env));
    register_proxy(&env, &d).await;
    flows(&d, &["logs-auto"]).await;
    // The emulator really has no security: the security APIs answer as such a cluster does.
    let (s, _, b) = send(
        &env.es.url(),
        reqwest::Method::GET,
        "/_security/_authenticate",
        None,
        None,
    )
    .await;
    assert_eq!(s, 500);
    assert!(
        b["error"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("Security must be explicitly enabled")
    );
    env.clear_es_log().await;

    let (id, c) = grant(&p, &["logs-2026.11"]).await;
    assert_eq!(c["mode"], "proxy");
    assert_eq!(
        c["url"], "http://127.0.0.1:9201",
        "the proxy's URL, never the cluster's"
    );
    assert_eq!(c["username"], format!("ejit_proxy_{id}"));
    // Nothing was asked of the cluster's security for it.
    let calls = env.es_requests().await;
    assert!(
        calls.iter().all(|c| !c["path"]
            .as_str()
            .unwrap_or_default()
            .starts_with("/_security/")),
        "{calls:?}"
    );
    let record = stored(&env, &id).await;
    let cred = &record["proxy_credential"];
    assert!(cred["password"]["hash"].is_string() && cred["key"]["salt"].is_string());
    let stored_text = record.to_string();
    assert!(
        !stored_text.contains(c["password"].as_str().unwrap()),
        "no plaintext in DynamoDB"
    );

    let proxy = start_proxy(&env, "prod-search", Duration::from_millis(500)).await;
    let url = proxy.url.clone();
    let user = basic(&c);
    let key = c["authorization_header"].as_str().unwrap().to_string();
    let get = reqwest::Method::GET;

    // Allowed: the granted index, by name, by wildcard (narrowed to it) and by _all.
    let (s, h, b) = send(
        &url,
        get.clone(),
        "/logs-2026.11/_search",
        Some(&user),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(h["x-elastic-product"], "Elasticsearch");
    assert!(b["hits"]["total"]["value"].as_u64().unwrap() > 0, "{b}");
    let (s, _, b) = send(&url, get.clone(), "/logs-*/_search", Some(&key), None).await;
    assert_eq!(s, 200, "{b}");
    let indices: Vec<&str> = b["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_index"].as_str().unwrap())
        .collect();
    assert!(
        !indices.is_empty() && indices.iter().all(|i| *i == "logs-2026.11"),
        "{indices:?}"
    );
    let (s, _, b) = send(&url, get.clone(), "/_search", Some(&user), None).await;
    assert_eq!(s, 200);
    assert!(
        b["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["_index"] == "logs-2026.11")
    );

    // Refused: another index named explicitly, with Elasticsearch's own 403.
    let (s, _, b) = send(&url, get.clone(), "/secrets-1/_search", Some(&user), None).await;
    assert_eq!(s, 403);
    assert_eq!(
        b,
        json!({"error": {"root_cause": [{"type": "security_exception", "reason": format!(
            "action [indices:data/read/search] is unauthorized for user [ejit_proxy_{id}] with effective roles [ejit_grant_{id}] on indices [secrets-1], this action is granted by the index privileges [read,all]")}],
            "type": "security_exception", "reason": format!(
            "action [indices:data/read/search] is unauthorized for user [ejit_proxy_{id}] with effective roles [ejit_grant_{id}] on indices [secrets-1], this action is granted by the index privileges [read,all]")},
            "status": 403})
    );
    // A bulk with one foreign index is refused whole (and a read grant writes nothing anyway).
    let bulk = "{\"index\":{\"_index\":\"logs-2026.11\"}}\n{\"a\":1}\n{\"index\":{\"_index\":\"secrets-1\"}}\n{\"a\":2}\n";
    let (s, _, b) = send(
        &url,
        reqwest::Method::POST,
        "/_bulk",
        Some(&key),
        Some(bulk),
    )
    .await;
    assert_eq!(s, 403, "{b}");
    assert_eq!(b["error"]["type"], "security_exception");
    // Cluster-level and security APIs never pass.
    for path in [
        "/_cluster/settings",
        "/_security/user",
        "/_nodes",
        "/_snapshot",
    ] {
        let (s, _, b) = send(&url, get.clone(), path, Some(&user), None).await;
        assert_eq!(s, 403, "{path}: {b}");
    }
    // Scrolls are refused from the start (their ids are not bound to the grant).
    let (s, _, _) = send(
        &url,
        get.clone(),
        "/logs-2026.11/_search?scroll=1m",
        Some(&user),
        None,
    )
    .await;
    assert_eq!(s, 403);

    // Bad credentials: Elasticsearch's 401 with its challenge.
    let (s, h, b) = send(&url, get.clone(), "/logs-2026.11/_search", None, None).await;
    assert_eq!(s, 401);
    assert_eq!(
        b["error"]["reason"],
        "missing authentication credentials for REST request [/logs-2026.11/_search]"
    );
    let challenges: Vec<&str> = h
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        challenges,
        ["Basic realm=\"security\", charset=\"UTF-8\"", "ApiKey"]
    );
    let wrong = basic(&json!({"username": c["username"], "password": "not-the-password"}));
    let (s, _, b) = send(
        &url,
        get.clone(),
        "/logs-2026.11/_search",
        Some(&wrong),
        None,
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(
        b["error"]["reason"],
        format!(
            "unable to authenticate user [ejit_proxy_{id}] for REST request [/logs-2026.11/_search]"
        )
    );
    // The username and the API key id must belong together: the key secret under the username,
    // or another grant's id with this secret, do not authenticate.
    let swapped = basic(&json!({"username": c["username"], "password": c["api_key"]}));
    assert_eq!(
        send(&url, get.clone(), "/", Some(&swapped), None).await.0,
        401
    );
    let (other_id, other) = grant(&p, &["logs-2026.10"]).await;
    use base64::Engine;
    let secret_of = |c: &Value| {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(c["api_key"].as_str().unwrap())
            .unwrap();
        String::from_utf8(raw)
            .unwrap()
            .split_once(':')
            .unwrap()
            .1
            .to_string()
    };
    let crossed = format!(
        "ApiKey {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{other_id}:{}", secret_of(&c)))
    );
    assert_eq!(
        send(&url, get.clone(), "/", Some(&crossed), None).await.0,
        401
    );
    // The other grant's key reads its own index; another integration's proxy (same cluster)
    // takes neither.
    let other_key = other["authorization_header"].as_str().unwrap().to_string();
    let (s, _, b) = send(
        &url,
        get.clone(),
        "/logs-2026.10/_search?size=0",
        Some(&other_key),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let arn = env.secret_for("other-search", json!({})).await;
    let (s, b) = put_integration(
        &d,
        "other-search",
        json!({
        "kind": "elasticsearch", "url": env.es.url(), "secret_arn": arn, "authorization": "proxy",
        "allow_insecure_http": true}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let elsewhere = start_proxy(&env, "other-search", Duration::from_millis(500)).await;
    for a in [&user, &key, &other_key] {
        assert_eq!(
            send(
                &elsewhere.url,
                get.clone(),
                "/logs-2026.11/_search?size=0",
                Some(a),
                None
            )
            .await
            .0,
            401
        );
    }

    // The official Python client, through the proxy.
    python_client(&url, &c);

    // The Lambda front end answers the same, from a function URL event.
    let lambda = build_proxy(&env, "prod-search", Duration::from_millis(500))
        .await
        .0;
    let mut ev: aws_lambda_events::apigw::ApiGatewayV2httpRequest =
        serde_json::from_value(event("proxy/search.json")).unwrap();
    let (status, _) = lambda_answer(&lambda, ev.clone()).await;
    assert_eq!(status, 401, "the sample's placeholder key is refused");
    ev.headers.insert("authorization", key.parse().unwrap());
    let (status, body) = lambda_answer(&lambda, ev).await;
    assert_eq!(status, 200);
    let b: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        b["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["_index"] == "logs-2026.11")
    );

    // A revoke is effective within the cache TTL.
    let r = revoke_app(&env);
    let (s, b) = response(
        r.handle(http(
            event("revoke/post-revoke.json"),
            &format!("/requests/{id}/revoke"),
            DEV,
            None,
        ))
        .await
        .unwrap(),
    );
    assert_eq!((s, b["status"].as_str()), (200, Some("revoked")), "{b}");
    let revoked_at = Instant::now();
    loop {
        let s = send(
            &url,
            get.clone(),
            "/logs-2026.11/_search?size=0",
            Some(&user),
            None,
        )
        .await
        .0;
        if s == 401 {
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_millis(1500),
            "still served {s} after the TTL"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        stored(&env, &id).await.get("proxy_credential"),
        None,
        "hashes dropped with the revoke"
    );
    assert_eq!(credentials(&p, DEV, &id).await.0, 409);

    // The other grant ends at its end, in the proxy itself, with no revoke run at all.
    env.clock
        .advance(chrono::Duration::hours(1) + chrono::Duration::seconds(1));
    let (s, _, _) = send(
        &url,
        get.clone(),
        "/logs-2026.10/_search?size=0",
        Some(other["authorization_header"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(s, 401, "expired by ends_at");

    // The audit lines: one per request, JSON, naming grant, decision, status, indices.
    let lines: Vec<Value> = proxy
        .audit
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let allowed = lines
        .iter()
        .find(|l| l["decision"] == "allow" && l["path"] == "/logs-*/_search")
        .expect("allowed line");
    assert_eq!(allowed["grant_id"], id.as_str());
    assert_eq!(allowed["requester"], "dev@example.com");
    assert_eq!(allowed["indices"], json!(["logs-2026.11"]));
    assert_eq!(allowed["action"], "indices:data/read/search");
    assert_eq!(allowed["status"], 200);
    assert!(allowed["bytes"].as_u64().unwrap() > 0 && allowed["latency_ms"].as_f64().is_some());
    let denied = lines
        .iter()
        .find(|l| l["decision"] == "deny" && l["path"] == "/secrets-1/_search")
        .expect("denied line");
    assert_eq!(
        (denied["status"].as_u64(), denied["indices"].clone()),
        (Some(403), json!(["secrets-1"]))
    );
    assert!(
        lines
            .iter()
            .any(|l| l["decision"] == "unauthenticated" && l["status"] == 401)
    );
    for l in proxy.audit.0.lock().unwrap().iter() {
        assert!(
            !l.contains(c["password"].as_str().unwrap()) && !l.contains(&secret_of(&c)),
            "no secret in audit lines"
        );
    }
}

#[tokio::test]
async fn a_proxy_is_only_built_for_a_proxy_integration() {
    let env = Env::start_without_security(es_seed()).await;
    let d = discover_app(&env);
    register_proxy(&env, &d).await;
    let arn = env
        .secret_for("native", json!({"username": "connector", "password": "x"}))
        .await;
    let (s, b) = put_integration(&d, "native", json!({"kind": "elasticsearch", "url": env.es.url(), "secret_arn": arn, "allow_insecure_http": true})).await;
    // A native integration against a cluster without security fails its prerequisites.
    assert_ne!(s, 201, "{b}");
    let mut settings = Settings::new("missing");
    settings.connector_prefix = env.connector_prefix.clone();
    let memory = Arc::new(Memory::default());
    let built = build(
        &settings,
        env.store.clone(),
        env.secrets.clone(),
        Arc::new(HttpClients::new().unwrap()),
        memory,
        Arc::new(env.clock.clone()),
    )
    .await;
    assert!(built.is_err());
}

/// Polls `path` with `auth` until it answers `want`, within 3 s (the test proxies re-read their
/// configuration every 500 ms).
async fn until_status(url: &str, path: &str, auth: &str, want: u16) -> Value {
    let started = Instant::now();
    loop {
        let (s, _, b) = send(url, reqwest::Method::GET, path, Some(auth), None).await;
        if s.as_u16() == want {
            return b;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{path} still answers {s} ({b}), not {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_proxy_follows_its_integration_and_secret_and_stops_when_withdrawn() {
    use shared::secrets::{AWSCURRENT, SecretStore, SecretValue};
    use shared::store::IntegrationStore;
    // A cluster WITH security, so the connector secret the proxy uses visibly matters.
    let env = Env::start(es_seed()).await;
    let (d, p) = (discover_app(&env), provision_app(&env));
    let good = json!({"username": "elastic", "password": fixtures::ELASTIC_PASSWORD});
    let arn = env.secret_for("prod-search", good.clone()).await;
    let (s, b) = put_integration(
        &d,
        "prod-search",
        json!({"kind": "elasticsearch", "url": env.es.url(), "secret_arn": arn,
               "authorization": "proxy", "proxy_url": "http://127.0.0.1:9201",
               "allow_insecure_http": true}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    flows(&d, &["logs-auto"]).await;
    let (_, c) = grant(&p, &["logs-2026.11"]).await;
    let proxy = start_proxy(&env, "prod-search", Duration::from_millis(500)).await;
    let user = basic(&c);
    let path = "/logs-2026.11/_search?size=0";
    until_status(&proxy.url, path, &user, 200).await;

    // The connector secret rotates to a value the cluster refuses: the proxy uses it within
    // the TTL (and says so), then follows it back.
    let put = |v: Value| {
        let (secrets, arn) = (env.secrets.clone(), arn.clone());
        async move {
            secrets
                .put(&arn, &SecretValue::new(v.to_string()), None, &[AWSCURRENT])
                .await
                .unwrap();
        }
    };
    put(json!({"username": "elastic", "password": "not-it"})).await;
    let started = Instant::now();
    loop {
        let (s, _, _) = send(&proxy.url, reqwest::Method::GET, path, Some(&user), None).await;
        if s != 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the old secret is still used"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    put(good).await;
    until_status(&proxy.url, path, &user, 200).await;

    // No longer a proxy integration: every request is refused, credentials or not.
    let mut record = env
        .store
        .get_integration("prod-search")
        .await
        .unwrap()
        .unwrap();
    record.spec.authorization = shared::model::Authorization::Native;
    let record = env
        .store
        .save_integration(&record, Some(record.version), &[])
        .await
        .unwrap();
    let b = until_status(&proxy.url, path, &user, 503).await;
    assert_eq!(b["error"]["type"], "proxy_exception", "{b}");
    let (s, _, _) = send(&proxy.url, reqwest::Method::GET, "/", None, None).await;
    assert_eq!(s, 503, "refused before any credential is looked at");
    // Back to proxy, then deleted: served again, then refused again.
    let mut back = record.clone();
    back.spec.authorization = shared::model::Authorization::Proxy;
    let back = env
        .store
        .save_integration(&back, Some(record.version), &[])
        .await
        .unwrap();
    until_status(&proxy.url, path, &user, 200).await;
    env.store
        .delete_integration("prod-search", back.version, &[])
        .await
        .unwrap();
    until_status(&proxy.url, path, &user, 503).await;
    let lines = proxy.audit.0.lock().unwrap().clone();
    assert!(
        lines.iter().any(|l| l.contains("Withdrawn")),
        "the audit line says why"
    );
}
