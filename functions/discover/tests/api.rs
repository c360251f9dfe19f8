//! The discover function against moto's server and the Elasticsearch emulator, driven by the
//! sample events in `events/discover/`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use discover::App;
use es_emulator::{EmulatorConfig, RunningEmulator, Seed};
use serde_json::{Value, json};
use shared::api::AuthConfig;
use shared::clock::ManualClock;
use shared::driver::http::{HttpClients, RetryPolicy};
use shared::model::AuditSubject;
use shared::secrets::{SecretStore, SecretValue, SecretsManager};
use shared::store::{AuditStore, DynamoStore, IntegrationStore, ResourceStore, schema};
use shared::targets::Targets;

const ELASTIC_PASSWORD: &str = "elastic-bootstrap-pw";

fn event(name: &str) -> Value {
    let path = format!(
        "{}/../../events/discover/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("event JSON")
}

fn seed(extra: Value) -> Seed {
    let mut base = json!({
        "indices": [
            {"name": "logs-2026.11", "mappings": {"_meta": {"owner": "alice@example.com"}}, "aliases": ["logs"]},
            {"name": "logs-2026.10", "mappings": {"_meta": {"owner": "alice@example.com"}}, "aliases": ["logs"]},
            {"name": "logs-debug-1"},
            {"name": "secrets-1", "mappings": {"_meta": {"owner": "bob@example.com"}}},
            {"name": "other-1"},
            {"name": ".internal-hidden", "hidden": true}
        ],
        "data_streams": [{"name": "metrics-app", "_meta": {"owner": "ops@example.com"}}],
        "users": [
            {"username": "connector", "password": "connector-pw", "roles": ["jit_connector"]},
            {"username": "weak", "password": "weak-pw-123", "roles": ["weak_connector"]}
        ],
        "roles": {
            "jit_connector": {"cluster": ["monitor", "manage_security"], "indices": [{"names": ["*"], "privileges": ["monitor", "view_index_metadata"]}]},
            "weak_connector": {"cluster": ["monitor", "manage_security"], "indices": [{"names": ["*"], "privileges": ["monitor"]}]}
        }
    });
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(base).expect("seed")
}

struct Env {
    app: App,
    es: RunningEmulator,
    store: Arc<DynamoStore>,
    secrets: Arc<SecretsManager>,
    http: reqwest::Client,
    clock: ManualClock,
    connector_prefix: String,
}

impl Env {
    async fn start(seed: Seed) -> Self {
        let aws = test_harness::aws_config().await;
        let ddb = aws_sdk_dynamodb::Client::new(&aws);
        let table = test_harness::unique_name("discover");
        schema::create_table(&ddb, &table).await.unwrap();
        let store = Arc::new(DynamoStore::new(ddb, table));
        let secrets = Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
            &aws,
        )));
        let es = RunningEmulator::start(
            EmulatorConfig::new(ELASTIC_PASSWORD).with_seed(seed),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let clock = ManualClock::new(
            DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        );
        let fast = RetryPolicy {
            max_retries: 2,
            min_delay: std::time::Duration::from_millis(5),
            max_delay: std::time::Duration::from_millis(20),
        };
        let connector_prefix = format!("{}/", test_harness::unique_name("connectors"));
        let app = App {
            store: store.clone(),
            targets: Arc::new(
                Targets::new(
                    HttpClients::new().unwrap().with_retry(fast),
                    secrets.clone(),
                )
                .with_connector_prefix(&connector_prefix),
            ),
            clock: Arc::new(clock.clone()),
            auth: AuthConfig::new("jit-admins", "groups"),
            response_urls: discover::custom_resource::ResponseUrls::new().unwrap(),
        };
        Self {
            app,
            es,
            store,
            secrets,
            http: reqwest::Client::new(),
            clock,
            connector_prefix,
        }
    }

    /// A connector secret bound to `integration`.
    async fn secret(&self, integration: &str, value: Value) -> String {
        self.secrets
            .create(
                &test_harness::unique_name(&format!("{}{integration}/s", self.connector_prefix)),
                &SecretValue::new(value.to_string()),
                "test",
                &[],
            )
            .await
            .unwrap()
    }

    async fn call(&self, ev: Value) -> (u16, Value) {
        let out = self.app.handle(ev).await.expect("handler result");
        let status = out["statusCode"].as_u64().unwrap() as u16;
        let body = out["body"]
            .as_str()
            .map(|b| serde_json::from_str(b).unwrap())
            .unwrap_or(Value::Null);
        (status, body)
    }

    /// The sample PUT event, pointed at this test's emulator and secret.
    async fn put_integration(&self, name: &str, secret_arn: &str, patch: Value) -> (u16, Value) {
        let mut ev = event("put-integration.json");
        let mut body: Value = serde_json::from_str(ev["body"].as_str().unwrap()).unwrap();
        body["url"] = json!(self.es.url());
        body["secret_arn"] = json!(secret_arn);
        body["allow_insecure_http"] = json!(true);
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        ev["body"] = json!(body.to_string());
        set_path(&mut ev, &format!("/integrations/{name}"));
        self.call(ev).await
    }

    async fn es_requests(&self) -> Vec<Value> {
        let log: Value = self
            .http
            .get(format!("{}/_emulator/requests", self.es.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        log["requests"].as_array().unwrap().clone()
    }

    async fn clear_es_log(&self) {
        self.http
            .delete(format!("{}/_emulator/requests", self.es.url()))
            .send()
            .await
            .unwrap();
    }
}

fn set_path(ev: &mut Value, path: &str) {
    ev["rawPath"] = json!(path);
    ev["requestContext"]["http"]["path"] = json!(path);
}

fn connector() -> Value {
    json!({"username": "connector", "password": "connector-pw"})
}

#[tokio::test]
async fn register_discover_list_and_manage_flows() {
    let env = Env::start(seed(json!({}))).await;
    let arn = env.secret("prod-search", connector()).await;
    let include = json!({"discovery": {"include": ["logs", "logs-*", "metrics-*", "secrets-*"], "exclude": ["logs-debug-*"]}});
    let (status, body) = env.put_integration("prod-search", &arn, include).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["name"], "prod-search");
    assert_eq!(body["version"], 1);
    // include logs-*, metrics-*, secrets-*; exclude logs-debug-*: two logs indices, the alias,
    // the data stream and secrets-1.
    assert_eq!(body["discovery"]["total"], 5, "{body}");

    let (status, list) = env.call(event("get-integrations.json")).await;
    assert_eq!(status, 200);
    assert_eq!(list["integrations"].as_array().unwrap().len(), 1);
    let (status, one) = env.call(event("get-integration.json")).await;
    assert_eq!(
        (status, one["custom_access_details"].as_str().is_some()),
        (200, true)
    );

    // Owners come from mappings _meta; the alias inherits its indices' common owner.
    let resources = env.store.all_resources("prod-search").await.unwrap();
    let owner = |n: &str| {
        resources
            .iter()
            .find(|r| r.name == n)
            .and_then(|r| r.owner.clone())
    };
    assert_eq!(owner("logs-2026.11").as_deref(), Some("alice@example.com"));
    assert_eq!(owner("logs").as_deref(), Some("alice@example.com"));
    assert_eq!(owner("metrics-app").as_deref(), Some("ops@example.com"));
    assert_eq!(owner("secrets-1").as_deref(), Some("bob@example.com"));
    assert!(
        resources.iter().all(|r| r.name != "logs-debug-1"
            && r.name != ".internal-hidden"
            && r.name != "other-1")
    );

    // Paged listing (the sample asks for 50; ask for 2 to see the cursor work).
    let mut ev = event("get-resources.json");
    ev["rawQueryString"] = json!("limit=2");
    let (status, page1) = env.call(ev.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(page1["resources"].as_array().unwrap().len(), 2);
    let cursor = page1["next_cursor"].as_str().unwrap().to_string();
    ev["rawQueryString"] = json!(format!("limit=2&cursor={cursor}"));
    let (_, page2) = env.call(ev.clone()).await;
    assert_eq!(page2["resources"].as_array().unwrap().len(), 2);
    ev["rawQueryString"] = json!("limit=0");
    assert_eq!(
        env.call(ev.clone()).await.1["error"]["code"],
        "invalid_parameter"
    );
    ev["rawQueryString"] = json!("cursor=garbage");
    assert_eq!(env.call(ev).await.1["error"]["code"], "invalid_cursor");

    // Flows.
    let (status, flow) = env.call(event("put-flow.json")).await;
    assert_eq!(status, 201, "{flow}");
    assert_eq!(flow["max_duration"], "8h");
    assert_eq!(env.call(event("get-flow.json")).await.0, 200);
    assert_eq!(
        env.call(event("get-flows.json")).await.1["flows"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (status, again) = env.call(event("put-flow.json")).await;
    assert_eq!((status, again["version"].as_u64()), (200, Some(2)));
    let mut bad = event("put-flow.json");
    bad["body"] = json!(json!({"integration": "nope", "requesters": [], "resources": [], "permissions": ["fly"], "max_duration": "100d"}).to_string());
    let (status, err) = env.call(bad).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("validation_failed"))
    );
    let codes: Vec<&str> = err["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "unknown_integration",
            "empty_requesters",
            "empty_resource_patterns",
            "invalid_max_duration"
        ]
    );

    // An integration in use by a flow cannot be deleted.
    let (status, err) = env.call(event("delete-integration.json")).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("integration_in_use"))
    );
    env.clock.advance(chrono::Duration::minutes(5));
    assert_eq!(env.call(event("delete-flow.json")).await.0, 204);
    assert_eq!(env.call(event("get-flow.json")).await.0, 404);
    assert_eq!(env.call(event("delete-integration.json")).await.0, 204);
    assert_eq!(env.call(event("get-integration.json")).await.0, 404);
    assert!(
        env.store
            .all_resources("prod-search")
            .await
            .unwrap()
            .is_empty()
    );

    // Every change is in the audit trail, none with the connector's password.
    let trail = env
        .store
        .audit_of(&AuditSubject::Integration("prod-search".into()), 50, None)
        .await
        .unwrap();
    let actions: Vec<_> = trail.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["integration.registered", "integration.deleted"]);
    assert!(
        !serde_json::to_string(&trail.items)
            .unwrap()
            .contains("connector-pw")
    );
    let flow_trail = env
        .store
        .audit_of(&AuditSubject::Flow("prod-logs-read".into()), 50, None)
        .await
        .unwrap();
    assert_eq!(flow_trail.items.len(), 3);
}

#[tokio::test]
async fn every_registration_failure_has_its_error_and_stores_nothing() {
    let env = Env::start(seed(json!({}))).await;
    let good = env.secret("prod", connector()).await;

    let body_case = |body: String| {
        let mut ev = event("put-integration.json");
        ev["body"] = json!(body);
        ev
    };
    let cases: Vec<(Value, u16, &str)> = vec![
        (body_case("{not json".into()), 400, "invalid_json"),
        (body_case(json!({"kind": "elasticsearch", "url": "https://x", "secret_arn": good, "colour": "red"}).to_string()), 400, "unknown_field"),
        (body_case(json!({"kind": "elasticsearch", "url": "https://x", "secret_arn": good, "user_cleanup_days": "seven"}).to_string()), 400, "invalid_field"),
        (body_case(format!("{{\"kind\":\"elasticsearch\",\"padding\":\"{}\"}}", "x".repeat(70 * 1024))), 413, "body_too_large"),
        (body_case(String::new()), 400, "missing_body"),
        (event("put-integration-not-admin.json"), 403, "forbidden"),
    ];
    for (ev, status, code) in cases {
        let (s, body) = env.call(ev).await;
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let mut anonymous = event("put-integration.json");
    anonymous["requestContext"]["authorizer"]["jwt"]["claims"] = json!({});
    assert_eq!(
        env.call(anonymous).await.1["error"]["code"],
        "unauthenticated"
    );

    let (s, body) = env.put_integration("bad name!", &good, json!({})).await;
    assert_eq!(
        (s, body["error"]["details"][0]["code"].as_str()),
        (400, Some("invalid_name"))
    );
    let (s, body) = env.put_integration("prod", &good, json!({"custom_access_details": "x".repeat(401), "resource_owner": {"tag_key": "owner", "attribute": "group"}, "integration_owners": []})).await;
    let codes: Vec<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        (s, codes),
        (
            400,
            vec![
                "custom_access_details_too_long",
                "resource_owner_requires_integration_owner"
            ]
        )
    );

    let missing = format!(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:{}prod/missing-AbCdEf",
        env.connector_prefix
    );
    let (s, body) = env.put_integration("prod", &missing, json!({})).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("connector_secret_not_found"))
    );
    let malformed = env.secret("prod", json!({"user": "connector"})).await;
    let (s, body) = env.put_integration("prod", &malformed, json!({})).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("connector_secret_invalid"))
    );
    let wrong = env
        .secret(
            "prod",
            json!({"username": "connector", "password": "wrong-password"}),
        )
        .await;
    let (s, body) = env.put_integration("prod", &wrong, json!({})).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("connector_unauthorized")),
        "{body}"
    );
    assert!(!body.to_string().contains("wrong-password"));
    let weak = env
        .secret(
            "prod",
            json!({"username": "weak", "password": "weak-pw-123"}),
        )
        .await;
    let (s, body) = env.put_integration("prod", &weak, json!({})).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("connector_missing_privileges"))
    );
    assert_eq!(
        body["error"]["details"]["missing"],
        json!(["index privilege [view_index_metadata] on [*]"])
    );

    let mut ev = event("put-integration.json");
    let closed_port = test_harness::free_port();
    let mut b: Value = serde_json::from_str(ev["body"].as_str().unwrap()).unwrap();
    b["url"] = json!(format!("http://127.0.0.1:{closed_port}"));
    b["allow_insecure_http"] = json!(true);
    b["secret_arn"] = json!(env.secret("prod-search", connector()).await);
    ev["body"] = json!(b.to_string());
    let (s, body) = env.call(ev.clone()).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("target_unreachable")),
        "{body}"
    );
    // TLS to a server that does not speak it.
    b["url"] = json!(env.es.url().replace("http://", "https://"));
    ev["body"] = json!(b.to_string());
    let (s, body) = env.call(ev).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("target_tls_error")),
        "{body}"
    );

    // None of that stored anything.
    assert!(env.store.list_integrations().await.unwrap().is_empty());
    assert!(env.store.all_resources("prod").await.unwrap().is_empty());
    assert!(
        env.store
            .all_resources("prod-search")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn discovering_ten_thousand_indices_takes_at_most_three_requests() {
    let env = Env::start(seed(json!({
        "generated_indices": [{"prefix": "logs-bulk-", "count": 10000, "mappings": {"_meta": {"owner": "carol@example.com"}}}]
    })))
    .await;
    let arn = env.secret("big", connector()).await;
    let (status, body) = env.put_integration("big", &arn, json!({})).await;
    assert_eq!(status, 201, "{body}");
    assert!(body["discovery"]["total"].as_u64().unwrap() >= 10_000);
    env.clear_es_log().await;
    let mut ev = event("post-discover.json");
    set_path(&mut ev, "/integrations/big/discover");
    let (status, body) = env.call(ev).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["discovery"]["unchanged"].as_u64(),
        body["discovery"]["total"].as_u64()
    );
    let requests = env.es_requests().await;
    assert!(
        requests.len() <= 3,
        "discovery used {} requests: {requests:?}",
        requests.len()
    );
    let all = env.store.all_resources("big").await.unwrap();
    assert!(
        all.iter()
            .filter(|r| r.name.starts_with("logs-bulk-"))
            .all(|r| r.owner.as_deref() == Some("carol@example.com"))
    );
}

#[tokio::test]
async fn the_schedule_rediscovers_everything_and_survives_a_broken_integration() {
    let env = Env::start(seed(json!({}))).await;
    let alpha = env.secret("alpha", connector()).await;
    assert_eq!(env.put_integration("alpha", &alpha, json!({})).await.0, 201);
    let beta = env.secret("beta", connector()).await;
    assert_eq!(env.put_integration("beta", &beta, json!({})).await.0, 201);
    let breakable = env.secret("gamma", connector()).await;
    assert_eq!(
        env.put_integration("gamma", &breakable, json!({})).await.0,
        201
    );
    // gamma's connector secret now holds a wrong password.
    env.secrets
        .put(
            &breakable,
            &SecretValue::new(
                json!({"username": "connector", "password": "rotated-elsewhere"}).to_string(),
            ),
            None,
            &[],
        )
        .await
        .unwrap();
    // A new index appears on the cluster.
    let created = env
        .http
        .put(format!("{}/logs-2026.12", env.es.url()))
        .basic_auth("elastic", Some(ELASTIC_PASSWORD))
        .json(&json!({"mappings": {"_meta": {"owner": "dan@example.com"}}}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());

    let (report, _) = (env.app.handle(event("schedule.json")).await.unwrap(), ());
    assert_eq!(report["failed"], 1, "{report}");
    let by_name = |n: &str| {
        report["integrations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["integration"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("alpha")["ok"], true);
    assert_eq!(by_name("alpha")["discovery"]["added"], 1);
    assert_eq!(by_name("beta")["ok"], true);
    assert_eq!(by_name("gamma")["ok"], false);
    let gamma = env.store.get_integration("gamma").await.unwrap().unwrap();
    assert!(
        gamma
            .last_discovery_error
            .as_deref()
            .unwrap()
            .contains("rejected")
    );
    assert!(
        !gamma
            .last_discovery_error
            .unwrap()
            .contains("rotated-elsewhere")
    );
    let trail = env
        .store
        .audit_of(&AuditSubject::Integration("gamma".into()), 10, None)
        .await
        .unwrap();
    assert!(
        trail
            .items
            .iter()
            .any(|e| e.action == "integration.discovery_failed")
    );

    // Resources that disappear are marked gone, not deleted.
    env.http
        .post(format!("{}/_emulator/reset", env.es.url()))
        .send()
        .await
        .unwrap();
    let report = env.app.handle(event("schedule.json")).await.unwrap();
    let alpha = report["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["integration"] == "alpha")
        .unwrap()
        .clone();
    assert_eq!(alpha["discovery"]["gone"], 1, "{report}");
    let gone = env
        .store
        .get_resources("alpha", &["logs-2026.12".to_string()])
        .await
        .unwrap();
    assert!(gone[0].gone_since.is_some());
}

/// The paths of the discovery requests the emulator saw (not the registration's security calls).
async fn discovery_paths(env: &Env) -> Vec<String> {
    env.es_requests()
        .await
        .iter()
        .filter_map(|r| r["path"].as_str())
        .filter(|p| !p.starts_with("/_security"))
        .map(str::to_string)
        .collect()
}

/// Discovery asks the cluster only for what the include patterns can select (exact names,
/// patterns, a hidden index named exactly), tolerating names that do not exist, patterns that
/// match nothing and names the connector may not see; exclusions are applied on the answer.
#[tokio::test]
async fn discovery_asks_only_for_what_the_include_patterns_can_select() {
    let env = Env::start(seed(json!({
        "generated_indices": [{"prefix": "bulk-", "count": 50, "mappings": {"_meta": {"owner": "carol@example.com"}}}]
    })))
    .await;
    let arn = env.secret("narrow", connector()).await;
    let include = json!({"discovery": {
        "include": ["logs", "logs-2026.*", "metrics-*", "nothing-*", "missing-exact", ".internal-hidden", ".security-7"],
        "exclude": ["logs-2026.10"]
    }});
    env.clear_es_log().await;
    let (status, body) = env.put_integration("narrow", &arn, include).await;
    assert_eq!(status, 201, "{body}");
    let mut names: Vec<(String, Option<String>)> = env
        .store
        .all_resources("narrow")
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.name, r.owner))
        .collect();
    names.sort();
    let alice = Some("alice@example.com".to_string());
    assert_eq!(
        names,
        [
            (".internal-hidden".to_string(), None),
            ("logs".to_string(), alice.clone()),
            ("logs-2026.11".to_string(), alice),
            (
                "metrics-app".to_string(),
                Some("ops@example.com".to_string())
            ),
        ],
        "the alias keeps its excluded index's owner; restricted, missing and unmatched names are skipped"
    );
    let asked = discovery_paths(&env).await;
    let expr = ".internal-hidden,.security-7,logs,logs-2026.*,metrics-*,missing-exact,nothing-*";
    assert_eq!(
        asked,
        [
            format!("/_resolve/index/{expr}"),
            format!("/{expr}/_mapping"),
            "/_data_stream/metrics-app".to_string(),
        ]
    );

    // A selection that matches nothing is an empty discovery, not an error, and asks for no
    // data streams.
    let arn = env.secret("empty", connector()).await;
    env.clear_es_log().await;
    let (status, body) = env
        .put_integration(
            "empty",
            &arn,
            json!({"discovery": {"include": ["nothing-*", "missing-exact"]}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["discovery"]["total"], 0, "{body}");
    let asked = discovery_paths(&env).await;
    assert_eq!(
        asked,
        [
            "/_resolve/index/missing-exact,nothing-*",
            "/missing-exact,nothing-*/_mapping"
        ]
    );
}
