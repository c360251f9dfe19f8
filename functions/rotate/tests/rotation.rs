//! The rotate function against moto's server and the Elasticsearch emulator, driven by the
//! sample events in `events/rotate/`.
//!
//! moto cannot run Lambda functions (no Docker), so `RotateSecret` stages the AWSPENDING
//! version and records the configuration but its invocations of the rotation Lambda fail
//! silently: the tests deliver the four step events to the handler themselves, as Secrets
//! Manager would.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use es_emulator::{EmulatorConfig, RunningEmulator, Seed};
use rotate::App;
use serde_json::{Value, json};
use shared::api::AuthConfig;
use shared::clock::ManualClock;
use shared::credentials;
use shared::driver::http::{HttpClients, RetryPolicy};
use shared::model::{AuditSubject, Integration, IntegrationSpec, PrincipalState};
use shared::requester_rotation::{RequesterRotationError, rotate_principal};
use shared::secrets::{AWSCURRENT, AWSPENDING, SecretStore, SecretValue, SecretsManager};
use shared::store::{AuditStore, DynamoStore, IntegrationStore, PrincipalStore, schema};
use shared::targets::{DriverFactory, Targets};

const ELASTIC_PASSWORD: &str = "elastic-bootstrap-pw";
const CONNECTOR_PW: &str = "connector-pw-0";

fn event(name: &str) -> Value {
    let path = format!("{}/../../events/rotate/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("event JSON")
}

fn seed() -> Seed {
    serde_json::from_value(json!({
        "users": [
            {"username": "connector", "password": CONNECTOR_PW, "roles": ["jit_connector"]}
        ],
        "roles": {
            "jit_connector": {
                "cluster": ["monitor", "manage_security"],
                "indices": [{"names": ["*"], "privileges": ["monitor", "view_index_metadata"]}]
            }
        }
    }))
    .expect("seed")
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

struct Env {
    app: App,
    es: RunningEmulator,
    store: Arc<DynamoStore>,
    secrets: Arc<SecretsManager>,
    sm: aws_sdk_secretsmanager::Client,
    targets: Arc<Targets>,
    http: reqwest::Client,
    clock: ManualClock,
}

impl Env {
    async fn start() -> Self {
        let aws = test_harness::aws_config().await;
        let ddb = aws_sdk_dynamodb::Client::new(&aws);
        let table = test_harness::unique_name("rotate");
        schema::create_table(&ddb, &table).await.unwrap();
        let store = Arc::new(DynamoStore::new(ddb, table));
        let sm = aws_sdk_secretsmanager::Client::new(&aws);
        let secrets = Arc::new(SecretsManager::new(sm.clone()));
        let es = RunningEmulator::start(
            EmulatorConfig::new(ELASTIC_PASSWORD).with_seed(seed()),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let clock = ManualClock::new(t0());
        let fast = RetryPolicy {
            max_retries: 1,
            min_delay: std::time::Duration::from_millis(5),
            max_delay: std::time::Duration::from_millis(10),
        };
        let targets = Arc::new(Targets::new(
            HttpClients::new().unwrap().with_retry(fast),
            secrets.clone(),
        ));
        let app = App {
            store: store.clone(),
            secrets: secrets.clone(),
            targets: targets.clone(),
            clock: Arc::new(clock.clone()),
            auth: AuthConfig::new("jit-admins", "groups"),
            function_name: Some("elastic-jit-rotate".into()),
        };
        Self {
            app,
            es,
            store,
            secrets,
            sm,
            targets,
            http: reqwest::Client::new(),
            clock,
        }
    }

    /// A connector secret bound to integration `name`.
    async fn secret(&self, name: &str, value: Value) -> String {
        self.secrets
            .create(
                &test_harness::unique_name(&format!("elastic-jit/connectors/{name}/s")),
                &SecretValue::new(value.to_string()),
                "test",
                &[],
            )
            .await
            .unwrap()
    }

    async fn integration(&self, name: &str, secret_arn: &str, extra: Value) -> Integration {
        let mut spec = json!({
            "kind": "elasticsearch",
            "url": self.es.url(),
            "secret_arn": secret_arn,
            "allow_insecure_http": true,
        });
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        let spec: IntegrationSpec = serde_json::from_value(spec).unwrap();
        let i = Integration {
            name: name.into(),
            spec,
            version: 0,
            created_at: t0(),
            updated_at: t0(),
            last_discovery_at: None,
            last_discovery_error: None,
            pending_retires: vec![],
            managed_by: None,
        };
        self.store.save_integration(&i, None, &[]).await.unwrap()
    }

    /// A Lambda function registered in moto to stand for the rotate function.
    async fn rotation_lambda(&self) -> String {
        fixtures::rotation::rotation_lambda(&self.http).await
    }

    /// What Secrets Manager does before calling createSecret: enable rotation and stage an
    /// AWSPENDING version (without a value) for the token.
    async fn begin_rotation(&self, secret: &str, token: &str) {
        let lambda = self.rotation_lambda().await;
        fixtures::rotation::begin_rotation(&self.sm, &lambda, secret, token).await;
    }

    async fn step(
        &self,
        step: &str,
        secret: &str,
        token: &str,
    ) -> Result<Value, rotate::HandlerError> {
        let mut ev = event(&format!("{step}.json"));
        assert_eq!(ev["Step"], step);
        ev["SecretId"] = json!(secret);
        ev["ClientRequestToken"] = json!(token);
        self.app.handle(ev).await
    }

    async fn all_steps(&self, secret: &str, token: &str) {
        for s in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
            let out = self.step(s, secret, token).await;
            assert!(out.is_ok(), "{s}: {:?}", out.err());
        }
    }

    async fn authenticate(&self, user: &str, password: &str) -> u16 {
        self.http
            .get(format!("{}/_security/_authenticate", self.es.url()))
            .basic_auth(user, Some(password))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn password_hashes(&self) -> Value {
        self.http
            .get(format!("{}/_emulator/state/users", self.es.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn stages(&self, secret: &str) -> std::collections::HashMap<String, Vec<String>> {
        self.secrets
            .describe(secret)
            .await
            .unwrap()
            .versions_to_stages
    }

    async fn current(&self, secret: &str) -> Value {
        let v = self.secrets.get(secret, AWSCURRENT).await.unwrap();
        serde_json::from_str(v.expose()).unwrap()
    }

    async fn pending(&self, secret: &str, token: &str) -> Option<String> {
        self.secrets
            .get_version(secret, token, AWSPENDING)
            .await
            .ok()
            .map(|v| v.expose().to_string())
    }

    async fn audit_actions(&self, subject: AuditSubject) -> Vec<Value> {
        let page = self.store.audit_of(&subject, 100, None).await.unwrap();
        page.items
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect()
    }

    async fn fault(&self, body: Value) {
        let r = self
            .http
            .post(format!("{}/_emulator/faults", self.es.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    async fn clear_faults(&self) {
        self.http
            .delete(format!("{}/_emulator/faults", self.es.url()))
            .send()
            .await
            .unwrap();
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
}

fn connector() -> Value {
    json!({"username": "connector", "password": CONNECTOR_PW})
}

const TOKEN: &str = "8c6f4b2e-3d1a-4f5e-9b7c-2a1d0e9f8c7b";

#[tokio::test]
async fn four_steps_replace_the_connector_password() {
    let env = Env::start().await;
    let arn = env.secret("prod-search", connector()).await;
    env.integration("prod-search", &arn, json!({})).await;
    env.begin_rotation(&arn, TOKEN).await;
    assert_eq!(env.authenticate("connector", CONNECTOR_PW).await, 200);

    env.all_steps(&arn, TOKEN).await;

    let current = env.current(&arn).await;
    assert_eq!(current["username"], "connector");
    let new_pw = current["password"].as_str().unwrap().to_string();
    assert_ne!(new_pw, CONNECTOR_PW);
    assert!(new_pw.len() >= 32);
    assert_eq!(
        env.authenticate("connector", CONNECTOR_PW).await,
        401,
        "old password rejected"
    );
    assert_eq!(
        env.authenticate("connector", &new_pw).await,
        200,
        "new password accepted"
    );
    assert!(env.stages(&arn).await[TOKEN].contains(&AWSCURRENT.to_string()));

    // The new value works for the driver built from AWSCURRENT, as every function builds it.
    let integration = env
        .store
        .get_integration("prod-search")
        .await
        .unwrap()
        .unwrap();
    env.targets
        .driver(&integration)
        .await
        .unwrap()
        .check_prerequisites()
        .await
        .unwrap();

    let audit = env
        .audit_actions(AuditSubject::Integration("prod-search".into()))
        .await;
    assert!(
        audit.iter().any(|e| e["action"] == "connector.rotated"),
        "{audit:?}"
    );
    let text = serde_json::to_string(&audit).unwrap();
    assert!(!text.contains(&new_pw) && !text.contains(CONNECTOR_PW));
}

#[tokio::test]
async fn every_step_delivered_twice_changes_nothing_the_second_time() {
    let env = Env::start().await;
    let arn = env.secret("twice", connector()).await;
    env.integration("twice", &arn, json!({})).await;
    env.begin_rotation(&arn, TOKEN).await;

    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let first = env.step(step, &arn, TOKEN).await;
        assert!(first.is_ok(), "{step}: {:?}", first.err());
        let stages = env.stages(&arn).await;
        let pending = env.pending(&arn, TOKEN).await;
        let users = env.password_hashes().await;
        let audit = env
            .audit_actions(AuditSubject::Integration("twice".into()))
            .await
            .len();

        let second = env.step(step, &arn, TOKEN).await;
        assert!(second.is_ok(), "{step} again: {:?}", second.err());
        assert_eq!(env.stages(&arn).await, stages, "{step}: stages changed");
        assert_eq!(
            env.pending(&arn, TOKEN).await,
            pending,
            "{step}: pending value changed"
        );
        assert_eq!(
            env.password_hashes().await,
            users,
            "{step}: Elasticsearch changed"
        );
        assert_eq!(
            env.audit_actions(AuditSubject::Integration("twice".into()))
                .await
                .len(),
            audit,
            "{step}: audit changed"
        );
    }
    let new_pw = env.current(&arn).await["password"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(env.authenticate("connector", &new_pw).await, 200);
    assert_eq!(env.authenticate("connector", CONNECTOR_PW).await, 401);
}

#[tokio::test]
async fn a_failure_after_set_secret_is_recovered_by_retrying_the_sequence() {
    let env = Env::start().await;
    let arn = env.secret("flaky", connector()).await;
    env.integration("flaky", &arn, json!({})).await;
    env.begin_rotation(&arn, TOKEN).await;

    env.step("createSecret", &arn, TOKEN).await.unwrap();
    env.step("setSecret", &arn, TOKEN).await.unwrap();
    // The password has changed on the cluster; AWSCURRENT still holds the old one.
    assert_eq!(env.authenticate("connector", CONNECTOR_PW).await, 401);
    env.fault(json!({"method": "POST", "path": "/_security/user/_has_privileges", "count": 10, "status": 503}))
        .await;
    let err = env.step("testSecret", &arn, TOKEN).await.unwrap_err();
    assert!(err.retryable, "{err:?}");
    assert!(
        err.error_type.starts_with("Rotation.Retryable."),
        "{}",
        err.error_type
    );
    env.clear_faults().await;

    // Secrets Manager retries the rotation with the same token, from the start.
    env.all_steps(&arn, TOKEN).await;
    let new_pw = env.current(&arn).await["password"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(env.authenticate("connector", &new_pw).await, 200);
    let audit = env
        .audit_actions(AuditSubject::Integration("flaky".into()))
        .await;
    assert!(audit.iter().any(
        |e| e["action"] == "connector.rotation_failed" && e["details"]["step"] == "testSecret"
    ));
    assert!(audit.iter().any(|e| e["action"] == "connector.rotated"));
}

#[tokio::test]
async fn a_wrong_token_an_unknown_secret_or_a_disabled_rotation_fails() {
    let env = Env::start().await;
    let arn = env.secret("strict", connector()).await;
    env.integration("strict", &arn, json!({})).await;

    // Rotation not enabled.
    let err = env.step("createSecret", &arn, TOKEN).await.unwrap_err();
    assert_eq!(err.error_type, "Rotation.NonRetryable.rotation_not_enabled");

    env.begin_rotation(&arn, TOKEN).await;
    let err = env
        .step("createSecret", &arn, "00000000-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    assert_eq!(err.error_type, "Rotation.NonRetryable.unknown_token");
    // The AWSCURRENT version's id as token: already current, nothing to do.
    let current_version = env
        .stages(&arn)
        .await
        .into_iter()
        .find(|(_, s)| s.contains(&AWSCURRENT.to_string()))
        .unwrap()
        .0;
    let out = env.step("setSecret", &arn, &current_version).await.unwrap();
    assert_eq!(out["outcome"], "already_done");
    assert_eq!(env.authenticate("connector", CONNECTOR_PW).await, 200);

    let mut ev = event("createSecret.json");
    ev["ClientRequestToken"] = json!(TOKEN);
    let other = env
        .secret("nobody", json!({"username": "x", "password": "yyyyyy"}))
        .await;
    ev["SecretId"] = json!(other);
    let err = env.app.handle(ev).await.unwrap_err();
    assert_eq!(err.error_type, "Rotation.NonRetryable.unknown_secret");

    let err = env.step("createSecret", &arn, TOKEN).await;
    assert!(err.is_ok());
    let mut ev = event("createSecret.json");
    ev["Step"] = json!("shuffleSecret");
    ev["SecretId"] = json!(arn);
    let err = env.app.handle(ev).await.unwrap_err();
    assert_eq!(err.error_type, "Rotation.NonRetryable.unknown_step");
}

#[tokio::test]
async fn an_api_key_connector_is_refused_clearly() {
    let env = Env::start().await;
    let arn = env
        .secret("keyed", json!({"api_key": "aWQ6a2V5LXZhbHVlLXNlY3JldA=="}))
        .await;
    env.integration("keyed", &arn, json!({})).await;
    env.begin_rotation(&arn, TOKEN).await;
    let err = env.step("createSecret", &arn, TOKEN).await.unwrap_err();
    assert!(!err.retryable);
    assert_eq!(err.error_type, "Rotation.NonRetryable.operation_refused");
    assert!(
        err.message.contains("API key") && err.message.contains("README"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("a2V5LXZhbHVl"));
    assert_eq!(env.pending(&arn, TOKEN).await, None, "nothing staged");
    let audit = env
        .audit_actions(AuditSubject::Integration("keyed".into()))
        .await;
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "connector.rotation_failed"
                && e["details"]["retryable"] == false)
    );
}

/// Stand in for provisioning: an Elasticsearch user, its credential secret and its record.
async fn requester(
    env: &Env,
    integration: &str,
    name: &str,
    password: &str,
    active: bool,
    created: DateTime<Utc>,
) -> PrincipalState {
    let r = env
        .http
        .put(format!("{}/_security/user/{name}", env.es.url()))
        .basic_auth("elastic", Some(ELASTIC_PASSWORD))
        .json(
            &json!({"password": password, "roles": [], "metadata": {"managed_by": "elastic-jit"}}),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let arn = env
        .secrets
        .create(
            &test_harness::unique_name(&format!("elastic-jit/credentials/{integration}/{name}")),
            &credentials::encode(name, &SecretValue::new(password)),
            "test",
            &[],
        )
        .await
        .unwrap();
    let mut p = PrincipalState::new(integration, name, &format!("sub-{name}"), created);
    p.active_grants = if active {
        vec!["grant-1".into()]
    } else {
        vec![]
    };
    p.enabled = active;
    p.provisioned = true;
    p.credential_secret_arn = Some(arn);
    env.store.save_principal(&p, None, &[]).await.unwrap()
}

async fn stored_password(env: &Env, p: &PrincipalState) -> String {
    let v = env
        .secrets
        .get(p.credential_secret_arn.as_deref().unwrap(), AWSCURRENT)
        .await
        .unwrap();
    credentials::password_of(&v).unwrap().expose().to_string()
}

#[tokio::test]
async fn requester_passwords_rotate_when_due_and_never_while_active() {
    let env = Env::start().await;
    let arn = env.secret("users", connector()).await;
    let integration = env
        .integration("users", &arn, json!({"credential_rotation_days": 30}))
        .await;
    let old = t0() - Duration::days(45);
    let alice = requester(&env, "users", "ejit_alice", "alice-pw-0", false, old).await;
    let bob = requester(&env, "users", "ejit_bob", "bob-pw-00", true, old).await;
    let carol = requester(
        &env,
        "users",
        "ejit_carol",
        "carol-pw-0",
        false,
        t0() - Duration::days(3),
    )
    .await;

    let report = env.app.handle(event("schedule.json")).await.unwrap();
    assert_eq!(report["rotated"], 1, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(report["integrations"][0]["checked"], 3, "{report}");
    assert_eq!(report["integrations"][0]["deferred_active"], 1, "{report}");

    let new_pw = stored_password(&env, &alice).await;
    assert_ne!(new_pw, "alice-pw-0");
    assert_eq!(env.authenticate("ejit_alice", &new_pw).await, 200);
    assert_eq!(env.authenticate("ejit_alice", "alice-pw-0").await, 401);
    let stored = env
        .store
        .get_principal("users", "ejit_alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.password_rotated_at, Some(t0()));
    assert_eq!(stored.version, alice.version + 1);
    let audit = env
        .audit_actions(AuditSubject::Principal("users/ejit_alice".into()))
        .await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["action"], "principal.password_rotated");
    assert!(!serde_json::to_string(&audit).unwrap().contains(&new_pw));

    // Active and not-yet-due accounts are untouched.
    assert_eq!(stored_password(&env, &bob).await, "bob-pw-00");
    assert_eq!(env.authenticate("ejit_bob", "bob-pw-00").await, 200);
    assert_eq!(stored_password(&env, &carol).await, "carol-pw-0");
    assert_eq!(
        env.store
            .get_principal("users", "ejit_bob")
            .await
            .unwrap()
            .unwrap(),
        bob
    );
    let driver = env.targets.driver(&integration).await.unwrap();
    let refused = rotate_principal(
        env.store.as_ref(),
        env.secrets.as_ref(),
        driver.as_ref(),
        &integration,
        &bob,
        t0(),
    )
    .await;
    assert!(
        matches!(refused, Err(RequesterRotationError::ActiveGrants { .. })),
        "{refused:?}"
    );
    assert_eq!(env.authenticate("ejit_bob", "bob-pw-00").await, 200);

    // A second run the same day has nothing to do.
    let report = env.app.handle(event("schedule.json")).await.unwrap();
    assert_eq!(report["rotated"], 0, "{report}");

    // When bob's grant has ended, the next grant (provision) rotates first.
    let mut idle = env
        .store
        .get_principal("users", "ejit_bob")
        .await
        .unwrap()
        .unwrap();
    idle.active_grants.clear();
    let idle = env
        .store
        .save_principal(&idle, Some(idle.version), &[])
        .await
        .unwrap();
    env.clock.advance(Duration::days(1));
    assert!(shared::requester_rotation::rotation_due(
        &idle,
        &integration,
        t0() + Duration::days(1)
    ));
    let rotated = rotate_principal(
        env.store.as_ref(),
        env.secrets.as_ref(),
        driver.as_ref(),
        &integration,
        &idle,
        t0() + Duration::days(1),
    )
    .await
    .unwrap();
    assert_eq!(rotated.password_rotated_at, Some(t0() + Duration::days(1)));
    let bob_pw = stored_password(&env, &bob).await;
    assert_eq!(env.authenticate("ejit_bob", &bob_pw).await, 200);
    assert_eq!(env.authenticate("ejit_bob", "bob-pw-00").await, 401);
}

#[tokio::test]
async fn an_interrupted_requester_rotation_is_finished_by_the_next_run() {
    let env = Env::start().await;
    let arn = env.secret("resume", connector()).await;
    let integration = env
        .integration("resume", &arn, json!({"credential_rotation_days": 7}))
        .await;
    let dave = requester(
        &env,
        "resume",
        "ejit_dave",
        "dave-pw-0",
        false,
        t0() - Duration::days(8),
    )
    .await;
    env.fault(json!({"method": "POST", "path": "/_security/user/ejit_dave/_password", "count": 10, "status": 503}))
        .await;
    let report = env.app.handle(event("schedule.json")).await.unwrap();
    assert_eq!(report["failed"], 1, "{report}");
    // Nothing was lost: the stored password still works.
    assert_eq!(stored_password(&env, &dave).await, "dave-pw-0");
    assert_eq!(env.authenticate("ejit_dave", "dave-pw-0").await, 200);
    env.clear_faults().await;

    let report = env.app.handle(event("schedule.json")).await.unwrap();
    assert_eq!(report["rotated"], 1, "{report}");
    let pw = stored_password(&env, &dave).await;
    assert_eq!(env.authenticate("ejit_dave", &pw).await, 200);
    let _ = integration;
}

#[tokio::test]
async fn post_rotate_is_for_admins_and_maps_every_answer() {
    let env = Env::start().await;
    let arn = env.secret("prod-search", connector()).await;
    env.integration("prod-search", &arn, json!({})).await;

    // Rotation not configured on the secret: 409 with how to enable it.
    let (status, body) = env.call(event("post-rotate.json")).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "rotation_not_configured");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("elastic-jit-rotate")
    );

    // Not an admin: 403.
    let mut ev = event("post-rotate.json");
    ev["requestContext"]["authorizer"]["jwt"]["claims"]["groups"] = json!("[developers]");
    fixtures::with_token(&mut ev);
    let (status, _) = env.call(ev).await;
    assert_eq!(status, 403);

    // Unknown integration: 404.
    let mut ev = event("post-rotate.json");
    ev["rawPath"] = json!("/integrations/nope/rotate");
    ev["requestContext"]["http"]["path"] = json!("/integrations/nope/rotate");
    let (status, body) = env.call(ev).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    // Configured: RotateSecret starts a rotation (moto stages the token but cannot run the
    // Lambda), then the steps Secrets Manager would send complete it.
    let lambda = env.rotation_lambda().await;
    env.sm
        .rotate_secret()
        .secret_id(&arn)
        .rotation_lambda_arn(lambda)
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .rotate_immediately(false)
        .send()
        .await
        .unwrap();
    let (status, body) = env.call(event("post-rotate.json")).await;
    assert_eq!(status, 202, "{body}");
    let token = body["version_id"].as_str().unwrap().to_string();
    let stages = env.stages(&arn).await;
    assert!(
        stages[&token].contains(&AWSPENDING.to_string()),
        "{stages:?}"
    );
    env.all_steps(&arn, &token).await;
    let new_pw = env.current(&arn).await["password"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(env.authenticate("connector", &new_pw).await, 200);
    assert_eq!(env.authenticate("connector", CONNECTOR_PW).await, 401);
    let audit = env
        .audit_actions(AuditSubject::Integration("prod-search".into()))
        .await;
    assert!(audit.iter().any(
        |e| e["action"] == "connector.rotation_requested" && e["actor"] == "admin@example.com"
    ));
}

/// Rotation finds a secret's integration from the secret's name (one item read, no listing of
/// integrations), and only if that integration names this very secret: a second secret under
/// the integration's namespace, or the old secret of an integration re-pointed at a new one,
/// is nobody's, so no rotation can send its values to the integration's cluster.
#[tokio::test]
async fn rotation_finds_the_integration_by_the_secrets_name_and_only_if_it_names_that_secret() {
    let env = Env::start().await;
    let old = env.secret("moving", connector()).await;
    let integration = env.integration("moving", &old, json!({})).await;
    let stray = env
        .secret(
            "moving",
            json!({"username": "connector", "password": "stray-password"}),
        )
        .await;
    let mut ev = event("createSecret.json");
    ev["ClientRequestToken"] = json!(TOKEN);
    ev["SecretId"] = json!(stray);
    let err = env.app.handle(ev).await.unwrap_err();
    assert_eq!(err.error_type, "Rotation.NonRetryable.unknown_secret");

    // Re-pointed: the integration now names a new secret of its namespace.
    let new = env.secret("moving", connector()).await;
    let mut moved = integration.clone();
    moved.spec.secret_arn = new.clone();
    env.store
        .save_integration(&moved, Some(integration.version), &[])
        .await
        .unwrap();
    env.begin_rotation(&old, TOKEN).await;
    let err = env.step("createSecret", &old, TOKEN).await.unwrap_err();
    assert_eq!(err.error_type, "Rotation.NonRetryable.unknown_secret");
    assert_eq!(env.pending(&old, TOKEN).await, None, "nothing staged");

    let token = "22222222-2222-2222-2222-222222222222";
    env.begin_rotation(&new, token).await;
    let out = env.step("createSecret", &new, token).await.unwrap();
    assert_eq!(out["integration"], "moving");
}
