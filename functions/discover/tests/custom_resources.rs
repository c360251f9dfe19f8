//! `Custom::ElasticJitIntegration` and `Custom::ElasticJitFlow` against moto's server and the
//! Elasticsearch emulator, driven by the sample events in `events/discover/custom-resource-*`,
//! with a loopback server standing in for the presigned S3 URL and recording every response.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use chrono::{DateTime, Utc};
use discover::App;
use discover::custom_resource::ResponseUrls;
use es_emulator::{EmulatorConfig, RunningEmulator, Seed};
use serde_json::{Value, json};
use shared::api::AuthConfig;
use shared::clock::ManualClock;
use shared::driver::http::{HttpClients, RetryPolicy};
use shared::model::AuditSubject;
use shared::secrets::{SecretStore, SecretValue, SecretsManager};
use shared::store::{AuditStore, DynamoStore, FlowStore, IntegrationStore, ResourceStore, schema};
use shared::targets::Targets;

const ELASTIC_PASSWORD: &str = "elastic-bootstrap-pw";
const CONNECTOR_PASSWORD: &str = "connector-pw-7f3a";
const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/search-access/5b3f1c20-c8a7-11f0-9b1a-0a1b2c3d4e5f";

fn event(name: &str) -> Value {
    let path = format!(
        "{}/../../events/discover/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("event JSON")
}

/// One request the stand-in for S3 received.
#[derive(Debug, Clone)]
struct Received {
    method: Method,
    path: String,
    content_type: Option<String>,
    body: Value,
}

/// A loopback HTTP server that records what is PUT to it, as S3 would store it.
struct Recorder {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    async fn start() -> Self {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = received.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let log = log.clone();
                async move {
                    log.lock().unwrap().push(Received {
                        method,
                        path: uri.path().to_string(),
                        content_type: headers
                            .get("content-type")
                            .map(|v| v.to_str().unwrap_or("?").to_string()),
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    });
                    StatusCode::OK
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            received,
            task,
        }
    }

    fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Env {
    app: App,
    es: RunningEmulator,
    store: Arc<DynamoStore>,
    secrets: Arc<SecretsManager>,
    clock: ManualClock,
    connector_prefix: String,
    recorder: Recorder,
}

impl Env {
    async fn start() -> Self {
        Self::start_with(ResponseUrls::new().unwrap().allow_loopback_http(true)).await
    }

    async fn start_with(response_urls: ResponseUrls) -> Self {
        let seed: Seed = serde_json::from_value(json!({
            "indices": [
                {"name": "logs-2026.11", "mappings": {"_meta": {"owner": "alice@example.com"}}},
                {"name": "metrics-1"}
            ],
            "users": [
                {"username": "connector", "password": CONNECTOR_PASSWORD, "roles": ["jit_connector"]},
                {"username": "weak", "password": "weak-pw-123", "roles": ["weak_connector"]}
            ],
            "roles": {
                "jit_connector": {"cluster": ["monitor", "manage_security"], "indices": [{"names": ["*"], "privileges": ["monitor", "view_index_metadata"]}]},
                "weak_connector": {"cluster": ["monitor"], "indices": [{"names": ["*"], "privileges": ["monitor"]}]}
            }
        }))
        .unwrap();
        let aws = test_harness::aws_config().await;
        let ddb = aws_sdk_dynamodb::Client::new(&aws);
        let table = test_harness::unique_name("discover-cfn");
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
            max_retries: 1,
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
            response_urls,
        };
        Self {
            app,
            es,
            store,
            secrets,
            clock,
            connector_prefix,
            recorder: Recorder::start().await,
        }
    }

    /// A connector secret bound to `integration`.
    async fn secret(&self, integration: &str, username: &str, password: &str) -> String {
        self.secrets
            .create(
                &test_harness::unique_name(&format!("{}{integration}/s", self.connector_prefix)),
                &SecretValue::new(json!({"username": username, "password": password}).to_string()),
                "test",
                &[],
            )
            .await
            .unwrap()
    }

    /// A sample event answering to the recorder, its properties pointed at this test's
    /// emulator and `secret_arn` (for integrations), with `patch` applied to them.
    fn event(&self, name: &str, secret_arn: Option<&str>, patch: Value) -> Value {
        let mut ev = event(name);
        let id = ev["RequestId"].as_str().unwrap().to_string();
        ev["ResponseURL"] = json!(format!("{}/responses/{id}", self.recorder.url));
        for key in ["ResourceProperties", "OldResourceProperties"] {
            let Some(props) = ev.get_mut(key) else {
                continue;
            };
            if let Some(arn) = secret_arn {
                props["url"] = json!(self.es.url());
                props["secret_arn"] = json!(arn);
                // CloudFormation sends booleans as strings.
                props["allow_insecure_http"] = json!("true");
            }
            if key == "ResourceProperties" {
                for (k, v) in patch.as_object().unwrap() {
                    props[k] = v.clone();
                }
            }
        }
        ev
    }

    /// Invoke with the sample `name` (see [`Self::event`]); the response CloudFormation got.
    async fn send(&self, name: &str, secret_arn: Option<&str>, patch: Value) -> Value {
        self.invoke(self.event(name, secret_arn, patch)).await
    }

    /// The stored integration `name`, if any.
    async fn integration(&self, name: &str) -> Option<shared::model::Integration> {
        self.store.get_integration(name).await.unwrap()
    }

    /// The stored flow `name`, if any.
    async fn flow(&self, name: &str) -> Option<shared::model::AccessFlow> {
        self.store.get_flow(name).await.unwrap()
    }

    /// Invoke with `ev`; the response the recorder received for it.
    async fn invoke(&self, ev: Value) -> Value {
        let id = ev["RequestId"].as_str().unwrap().to_string();
        let stack = ev["StackId"].clone();
        let before = self.recorder.all().len();
        let out = self.app.handle(ev).await.expect("answered");
        let all = self.recorder.all();
        assert_eq!(all.len(), before + 1, "exactly one response per request");
        let got = all.last().unwrap().clone();
        assert_eq!(got.method, Method::PUT);
        assert_eq!(got.path, format!("/responses/{id}"));
        // S3 presigned URLs are signed without a Content-Type: it must be empty.
        assert_eq!(got.content_type.as_deref(), Some(""));
        assert_eq!(out["Status"], got.body["Status"]);
        assert_eq!(got.body["RequestId"], id);
        assert_eq!(got.body["StackId"], stack);
        assert!(serde_json::to_vec(&got.body).unwrap().len() <= 4096);
        assert!(
            !got.body.to_string().contains(CONNECTOR_PASSWORD),
            "a secret in a response"
        );
        got.body
    }

    async fn actions(&self, subject: AuditSubject) -> Vec<(String, String)> {
        self.store
            .audit_of(&subject, 50, None)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|e| (e.action, e.actor))
            .collect()
    }
}

fn actor(logical_id: &str) -> String {
    format!("cloudformation:{STACK}/{logical_id}")
}

fn assert_failed(response: &Value, code: &str) {
    assert_eq!(response["Status"], "FAILED", "{response}");
    let reason = response["Reason"].as_str().unwrap();
    assert!(reason.starts_with(&format!("{code}: ")), "{reason}");
}

#[tokio::test]
async fn a_stack_creates_updates_renames_and_deletes_integrations_and_flows() {
    let env = Env::start().await;
    let arn = env
        .secret("prod-search", "connector", CONNECTOR_PASSWORD)
        .await;

    // Create: every number and boolean arrives as a string.
    let created = env
        .send(
            "custom-resource-create-integration.json",
            Some(&arn),
            json!({}),
        )
        .await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    assert_eq!(created["PhysicalResourceId"], "prod-search");
    assert_eq!(created["LogicalResourceId"], "ProdSearch");
    assert_eq!(created["Data"]["Name"], "prod-search");
    assert_eq!(created["Reason"], "integration \"prod-search\" created");
    let stored = env
        .store
        .get_integration("prod-search")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.spec.credential_rotation_days, Some(30));
    assert_eq!(stored.spec.user_cleanup_days, Some(7));
    assert!(stored.spec.allow_insecure_http);
    assert_eq!(stored.version, 1);
    // Discovered like a PUT to the API.
    let resources = env.store.all_resources("prod-search").await.unwrap();
    assert!(resources.iter().any(|r| r.name == "logs-2026.11"));
    assert_eq!(
        env.actions(AuditSubject::Integration("prod-search".into()))
            .await,
        [("integration.registered".to_string(), actor("ProdSearch"))]
    );

    // Update with nothing changed (the sample's old properties as the new ones): no write.
    env.clock.advance(chrono::Duration::minutes(1));
    let mut same = env.event(
        "custom-resource-update-integration.json",
        Some(&arn),
        json!({}),
    );
    same["ResourceProperties"] = same["OldResourceProperties"].clone();
    let answered = env.invoke(same).await;
    assert_eq!(answered["Status"], "SUCCESS", "{answered}");
    assert_eq!(answered["PhysicalResourceId"], "prod-search");
    assert_eq!(answered["Reason"], "integration \"prod-search\" unchanged");
    assert_eq!(
        env.integration("prod-search").await.unwrap().version,
        1,
        "an unchanged Update wrote the integration"
    );
    assert_eq!(
        env.actions(AuditSubject::Integration("prod-search".into()))
            .await
            .len(),
        1
    );

    // Update with a change: the API's PUT.
    let changed = env
        .send(
            "custom-resource-update-integration.json",
            Some(&arn),
            json!({}),
        )
        .await;
    assert_eq!(changed["Status"], "SUCCESS", "{changed}");
    assert_eq!(changed["PhysicalResourceId"], "prod-search");
    let stored = env
        .store
        .get_integration("prod-search")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.version, stored.spec.user_cleanup_days),
        (2, Some(14))
    );

    // The kind is immutable, as through the API; the resource keeps its physical id.
    let mut cloud = env.event(
        "custom-resource-update-integration.json",
        Some(&arn),
        json!({"kind": "elastic_cloud", "organization_id": "1234567890"}),
    );
    let props = cloud["ResourceProperties"].as_object_mut().unwrap();
    for es_only in [
        "url",
        "allow_insecure_http",
        "credential_rotation_days",
        "user_cleanup_days",
    ] {
        props.remove(es_only);
    }
    let refused = env.invoke(cloud).await;
    assert_failed(&refused, "immutable_field");
    assert_eq!(refused["PhysicalResourceId"], "prod-search");

    // A flow, booleans as strings.
    let flow = env
        .send("custom-resource-create-flow.json", None, json!({}))
        .await;
    assert_eq!(flow["Status"], "SUCCESS", "{flow}");
    let stored = env.flow("prod-logs-read").await.unwrap();
    assert!(stored.spec.require_justification);
    assert!(!stored.spec.auto_approve);
    assert_eq!(stored.spec.max_duration.as_deref(), Some("8h"));

    // The integration is in use by the flow: Delete fails with the API's reason.
    let in_use = env
        .send(
            "custom-resource-delete-integration.json",
            Some(&arn),
            json!({}),
        )
        .await;
    assert_failed(&in_use, "integration_in_use");
    assert!(
        in_use["Reason"]
            .as_str()
            .unwrap()
            .contains("prod-logs-read")
    );
    assert!(env.integration("prod-search").await.is_some());

    // Rename the flow: Update answers the new physical id; the old one stays until
    // CloudFormation deletes it.
    let mut rename = env.event(
        "custom-resource-create-flow.json",
        None,
        json!({"Name": "prod-logs-read-2"}),
    );
    rename["RequestType"] = json!("Update");
    rename["PhysicalResourceId"] = json!("prod-logs-read");
    rename["OldResourceProperties"] =
        event("custom-resource-create-flow.json")["ResourceProperties"].clone();
    let renamed = env.invoke(rename).await;
    assert_eq!(renamed["Status"], "SUCCESS", "{renamed}");
    assert_eq!(renamed["PhysicalResourceId"], "prod-logs-read-2");
    assert!(env.flow("prod-logs-read-2").await.is_some());
    assert!(env.flow("prod-logs-read").await.is_some());
    let old_gone = env
        .send("custom-resource-delete-flow.json", None, json!({}))
        .await;
    assert_eq!(old_gone["Status"], "SUCCESS", "{old_gone}");
    assert_eq!(old_gone["PhysicalResourceId"], "prod-logs-read");
    assert!(env.flow("prod-logs-read").await.is_none());
    assert_eq!(
        env.actions(AuditSubject::Flow("prod-logs-read".into()))
            .await,
        [
            ("flow.created".to_string(), actor("ProdLogsRead")),
            ("flow.deleted".to_string(), actor("ProdLogsRead")),
        ]
    );

    // Delete the renamed flow, then the integration: gone, and its resources with it.
    let mut delete_new = env.event("custom-resource-delete-flow.json", None, json!({}));
    delete_new["PhysicalResourceId"] = json!("prod-logs-read-2");
    assert_eq!(env.invoke(delete_new).await["Status"], "SUCCESS");
    let deleted = env
        .send(
            "custom-resource-delete-integration.json",
            Some(&arn),
            json!({}),
        )
        .await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert!(env.integration("prod-search").await.is_none());
    assert!(
        env.store
            .all_resources("prod-search")
            .await
            .unwrap()
            .is_empty()
    );
    // A Delete repeated (Lambda retries, a second stack operation) finds nothing and succeeds.
    let again = env
        .send(
            "custom-resource-delete-integration.json",
            Some(&arn),
            json!({}),
        )
        .await;
    assert_eq!(again["Status"], "SUCCESS", "{again}");
    let trail = env
        .actions(AuditSubject::Integration("prod-search".into()))
        .await;
    assert_eq!(
        trail.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(),
        [
            "integration.registered",
            "integration.updated",
            "integration.deleted"
        ]
    );
    assert!(trail.iter().all(|(_, who)| *who == actor("ProdSearch")));
}

#[tokio::test]
async fn a_failed_create_answers_failed_and_its_rollback_deletes_nothing() {
    let env = Env::start().await;
    let arn = env
        .secret("prod-search", "connector", CONNECTOR_PASSWORD)
        .await;

    // Bad properties, each with its reason; nothing stored.
    for (patch, code, says) in [
        (
            json!({"credential_rotation_days": "thirty"}),
            "invalid_properties",
            "expected a number",
        ),
        (
            json!({"allow_insecure_http": "yes"}),
            "invalid_properties",
            "expected true or false",
        ),
        (
            json!({"colour": "blue"}),
            "invalid_properties",
            "unknown field `colour`",
        ),
        (json!({"Name": "bad name!"}), "validation_failed", "Name"),
        (
            json!({"credential_rotation_days": "0"}),
            "validation_failed",
            "credential_rotation_days",
        ),
    ] {
        let answered = env
            .send(
                "custom-resource-create-integration.json",
                Some(&arn),
                patch.clone(),
            )
            .await;
        assert_failed(&answered, code);
        assert!(
            answered["Reason"].as_str().unwrap().contains(says),
            "{patch}: {answered}"
        );
        let physical = answered["PhysicalResourceId"].as_str().unwrap();
        assert!(
            physical.starts_with("elastic-jit:not-created:"),
            "{physical}"
        );
    }
    let mut no_name = env.event(
        "custom-resource-create-integration.json",
        Some(&arn),
        json!({}),
    );
    no_name["ResourceProperties"]
        .as_object_mut()
        .unwrap()
        .remove("Name");
    assert_failed(&env.invoke(no_name).await, "missing_name");

    // The connector lacks privileges: the API's prerequisite refusal, without its password.
    let weak = env.secret("prod-search", "weak", "weak-pw-123").await;
    let answered = env
        .send(
            "custom-resource-create-integration.json",
            Some(&weak),
            json!({}),
        )
        .await;
    assert_failed(&answered, "connector_missing_privileges");
    assert!(
        answered["Reason"]
            .as_str()
            .unwrap()
            .contains("manage_security"),
        "{answered}"
    );
    assert!(!answered.to_string().contains("weak-pw-123"));
    let failed_id = answered["PhysicalResourceId"].as_str().unwrap().to_string();
    assert!(env.integration("prod-search").await.is_none());

    // The rollback's Delete of the failed Create succeeds and touches nothing.
    let mut rollback = env.event(
        "custom-resource-delete-integration.json",
        Some(&weak),
        json!({}),
    );
    rollback["PhysicalResourceId"] = json!(failed_id);
    assert_eq!(env.invoke(rollback).await["Status"], "SUCCESS");

    // A name that exists with other settings is not taken over by Create, and the rollback of
    // that failed Create leaves it alone.
    let ok = env
        .send(
            "custom-resource-create-integration.json",
            Some(&arn),
            json!({}),
        )
        .await;
    assert_eq!(ok["Status"], "SUCCESS", "{ok}");
    let mut other = env.event(
        "custom-resource-create-integration.json",
        Some(&arn),
        json!({"user_cleanup_days": "3"}),
    );
    other["LogicalResourceId"] = json!("SomeoneElse");
    let taken = env.invoke(other).await;
    assert_failed(&taken, "already_exists");
    let mut rollback = env.event(
        "custom-resource-delete-integration.json",
        Some(&arn),
        json!({}),
    );
    rollback["PhysicalResourceId"] = taken["PhysicalResourceId"].clone();
    rollback["LogicalResourceId"] = json!("SomeoneElse");
    assert_eq!(env.invoke(rollback).await["Status"], "SUCCESS");
    assert!(env.integration("prod-search").await.is_some());
    // A Create retried with the same settings (Lambda's retry) takes the same resource back.
    let retried = env
        .send(
            "custom-resource-create-integration.json",
            Some(&arn),
            json!({}),
        )
        .await;
    assert_eq!(retried["Status"], "SUCCESS", "{retried}");
    assert_eq!(env.integration("prod-search").await.unwrap().version, 1);

    // A resource type this function does not serve.
    let mut odd = env.event("custom-resource-create-flow.json", None, json!({}));
    odd["ResourceType"] = json!("Custom::Other");
    assert_failed(&env.invoke(odd.clone()).await, "unsupported_resource_type");
    odd["RequestType"] = json!("Delete");
    odd["PhysicalResourceId"] = json!("prod-logs-read");
    assert_eq!(env.invoke(odd).await["Status"], "SUCCESS");

    // Ids that could forge the audit actor are refused, and still answered.
    let mut forged = env.event("custom-resource-create-flow.json", None, json!({}));
    forged["LogicalResourceId"] = json!("Flow/../Other");
    assert_failed(&env.invoke(forged).await, "invalid_request");
    assert!(env.flow("prod-logs-read").await.is_none());
}

/// A stack owns only what it created: an integration or flow of the same name and the same
/// settings made through the API, or by another stack (or another resource of the same stack),
/// is neither taken over by a Create nor removed by a Delete, which would delete what its
/// owner still declares.
#[tokio::test]
async fn a_stack_never_takes_over_or_deletes_what_it_did_not_create() {
    const OTHER: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/other-team/0c1d2e3f-c8a7-11f0-9b1a-0a1b2c3d4e5f";
    let env = Env::start().await;
    let arn = env
        .secret("prod-search", "connector", CONNECTOR_PASSWORD)
        .await;
    let integration = env
        .send(
            "custom-resource-create-integration.json",
            Some(&arn),
            json!({}),
        )
        .await;
    assert_eq!(integration["Status"], "SUCCESS", "{integration}");
    let flow = env
        .send("custom-resource-create-flow.json", None, json!({}))
        .await;
    assert_eq!(flow["Status"], "SUCCESS", "{flow}");

    // Another stack declares the very same flow, and the same integration: refused, not adopted.
    let mut adopt = env.event("custom-resource-create-flow.json", None, json!({}));
    adopt["StackId"] = json!(OTHER);
    let refused = env.invoke(adopt).await;
    assert_failed(&refused, "already_exists");
    let mut adopt = env.event(
        "custom-resource-create-integration.json",
        Some(&arn),
        json!({}),
    );
    adopt["StackId"] = json!(OTHER);
    assert_failed(&env.invoke(adopt).await, "already_exists");
    // Another resource of the same stack naming it is refused too.
    let mut twin = env.event("custom-resource-create-flow.json", None, json!({}));
    twin["LogicalResourceId"] = json!("ProdLogsReadTwin");
    assert_failed(&env.invoke(twin).await, "already_exists");

    // The other stack's Delete of that name (as if it had been adopted) leaves it alone, and
    // answers SUCCESS so that stack's deletion is not stuck on what was never its own.
    let mut delete = env.event("custom-resource-delete-flow.json", None, json!({}));
    delete["StackId"] = json!(OTHER);
    let left = env.invoke(delete).await;
    assert_eq!(left["Status"], "SUCCESS", "{left}");
    assert!(
        left["Reason"].as_str().unwrap().contains("left alone"),
        "{left}"
    );
    assert!(
        env.flow("prod-logs-read").await.is_some(),
        "another stack deleted this stack's flow"
    );

    // The flow deleted and made again through the API: no longer the stack's. Its Create (a
    // retry, say) does not take it back, its Update does not change it, its Delete keeps it.
    let stored = env.flow("prod-logs-read").await.unwrap();
    env.store
        .delete_flow("prod-logs-read", stored.version, &[])
        .await
        .unwrap();
    let by_api = shared::model::AccessFlow {
        version: 0,
        managed_by: None,
        ..stored
    };
    env.store.save_flow(&by_api, None, &[]).await.unwrap();
    assert_failed(
        &env.send("custom-resource-create-flow.json", None, json!({}))
            .await,
        "already_exists",
    );
    let mut update = env.event(
        "custom-resource-create-flow.json",
        None,
        json!({"max_duration": "4h"}),
    );
    update["RequestType"] = json!("Update");
    update["PhysicalResourceId"] = json!("prod-logs-read");
    update["OldResourceProperties"] =
        event("custom-resource-create-flow.json")["ResourceProperties"].clone();
    let refused = env.invoke(update).await;
    assert_failed(&refused, "already_exists");
    assert_eq!(refused["PhysicalResourceId"], "prod-logs-read");
    let left = env
        .send("custom-resource-delete-flow.json", None, json!({}))
        .await;
    assert_eq!(left["Status"], "SUCCESS", "{left}");
    let kept = env.flow("prod-logs-read").await.unwrap();
    assert_eq!(
        kept.spec, by_api.spec,
        "the API's flow was changed or deleted"
    );

    // The stack's own integration is still its own: its Delete removes it once the flow is
    // gone.
    env.store
        .delete_flow("prod-logs-read", kept.version, &[])
        .await
        .unwrap();
    let deleted = env
        .send(
            "custom-resource-delete-integration.json",
            Some(&arn),
            json!({}),
        )
        .await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert!(env.integration("prod-search").await.is_none());
}

#[tokio::test]
async fn a_response_url_cloudformation_never_gives_is_never_contacted() {
    // The production setting: no loopback http.
    let env = Env::start_with(ResponseUrls::new().unwrap()).await;
    let arn = env
        .secret("prod-search", "connector", CONNECTOR_PASSWORD)
        .await;
    for url in [
        format!("{}/responses/x", env.recorder.url),
        "https://evil.example.com/responses/x".to_string(),
        "https://ec2-127-0-0-1.compute-1.amazonaws.com/x".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
    ] {
        let mut ev = env.event(
            "custom-resource-create-integration.json",
            Some(&arn),
            json!({}),
        );
        ev["ResponseURL"] = json!(url);
        let err = env.app.handle(ev).await.unwrap_err();
        assert!(
            err.to_string().contains("ResponseURL refused"),
            "{url}: {err}"
        );
        assert!(!err.to_string().contains("evil"), "the URL is not echoed");
    }
    assert!(env.recorder.all().is_empty(), "a refused URL was contacted");
    // Nothing was done either.
    assert!(env.integration("prod-search").await.is_none());
}

#[tokio::test]
async fn other_functions_refuse_custom_resource_requests() {
    let env = fixtures::Env::start(Seed::default()).await;
    let recorder = Recorder::start().await;
    for name in [
        "custom-resource-create-integration.json",
        "custom-resource-update-integration.json",
        "custom-resource-delete-flow.json",
    ] {
        let mut ev = event(name);
        ev["ResponseURL"] = json!(format!("{}/responses/x", recorder.url));
        let provision = fixtures::flows::provision_app(&env)
            .handle(ev.clone())
            .await;
        assert!(provision.is_err(), "provision acted on {name}");
        let revoke = fixtures::flows::revoke_app(&env).handle(ev).await;
        let err = revoke.expect_err("revoke acted on a custom resource request");
        assert!(
            err.to_string()
                .contains("not CloudFormation custom resources"),
            "{err}"
        );
    }
    assert!(recorder.all().is_empty(), "a refusing function answered");
    assert!(
        env.store
            .get_integration("prod-search")
            .await
            .unwrap()
            .is_none()
    );
}

/// A request that cannot finish before the invocation's deadline is still answered, in time
/// for CloudFormation: FAILED with `timeout`, under a physical id the rollback's Delete leaves
/// alone, and nothing half-stored. With time enough, the same Create then succeeds.
#[tokio::test]
async fn a_create_that_outruns_the_invocation_is_answered_failed_in_time() {
    let env = Env::start().await;
    let arn = env
        .secret("prod-search", "connector", CONNECTOR_PASSWORD)
        .await;
    let ev = env.event(
        "custom-resource-create-integration.json",
        Some(&arn),
        json!({}),
    );
    // A deadline nearer than the 3 seconds kept back to answer: the work gets no time at all.
    let before = env.recorder.all().len();
    let out = env
        .app
        .handle_within(
            ev.clone(),
            std::time::Instant::now() + std::time::Duration::from_secs(1),
        )
        .await
        .expect("answered");
    let all = env.recorder.all();
    assert_eq!(all.len(), before + 1, "answered once, in time");
    let answered = &all.last().unwrap().body;
    assert_eq!(out["Status"], answered["Status"]);
    assert_failed(answered, "timeout");
    let physical = answered["PhysicalResourceId"].as_str().unwrap().to_string();
    assert!(
        physical.starts_with("elastic-jit:not-created:"),
        "{physical}"
    );
    assert!(
        env.integration("prod-search").await.is_none(),
        "nothing stored"
    );

    // CloudFormation's rollback deletes the physical id it was given: nothing is touched.
    let mut delete = env.event(
        "custom-resource-delete-integration.json",
        Some(&arn),
        json!({}),
    );
    delete["PhysicalResourceId"] = json!(physical);
    assert_eq!(env.invoke(delete).await["Status"], "SUCCESS");

    // The next attempt, with the usual time, creates it.
    let created = env.invoke(ev).await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    assert_eq!(created["PhysicalResourceId"], "prod-search");
}
