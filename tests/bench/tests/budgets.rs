//! The round-trip budgets of the hot paths, counted exactly: every AWS call goes through the
//! counting proxy in front of moto, every target request is in the emulator's log. Approve +
//! provision and revoke stay within four DynamoDB calls and read no secret with a warm cache;
//! the sweep reads what it works on in batches.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bench::budget::{self, Budget, over};
use bench::scenario::{Bench, Function, Invoke, Measured, Time, story, sweep_problem};
use fixtures::aws_faults::AwsFaultProxy;
use fixtures::flows::{auth, quick_retry};
use fixtures::{Auth, DEV, Env, es_seed};
use serde_json::Value;
use shared::driver::http::HttpClients;
use shared::grants::GrantConfig;
use shared::secrets::{SecretStore, SecretsManager};
use shared::services::Services;
use shared::targets::Targets;

/// The functions in-process, with the production secret cache (a warm function).
struct InProcess {
    discover: discover::App,
    provision: provision::App,
    revoke: revoke::App,
    cleanup: cleanup::App,
    rotate: rotate::App,
}

impl InProcess {
    fn new(env: &Env) -> Self {
        let secrets: Arc<dyn SecretStore> = Arc::new(SecretsManager::new(env.secrets_client()));
        let targets = Arc::new(
            Targets::new(HttpClients::new().expect("http"), secrets.clone())
                .with_connector_prefix(&env.connector_prefix),
        );
        let cold: Arc<dyn SecretStore> = Arc::new(SecretsManager::with_ttl(
            env.secrets_client(),
            Duration::ZERO,
        ));
        let services = || Services {
            store: env.store.clone(),
            secrets: secrets.clone(),
            targets: targets.clone(),
            scheduler: env.scheduler.clone(),
            starts: env.scheduler.clone(),
            clock: Arc::new(env.clock.clone()),
            config: GrantConfig {
                secret_prefix: env.secret_prefix.clone(),
            },
        };
        Self {
            rotate: rotate::App {
                store: env.store.clone(),
                targets: targets.clone(),
                secrets: secrets.clone(),
                clock: Arc::new(env.clock.clone()),
                auth: auth(),
                function_name: None,
            },
            discover: discover::App {
                store: env.store.clone(),
                targets: targets.clone(),
                clock: Arc::new(env.clock.clone()),
                auth: auth(),
                response_urls: discover::custom_resource::ResponseUrls::new().unwrap(),
            },
            provision: provision::App {
                services: services(),
                auth: auth(),
                slack: None,
                start_target: provision::start::StartTarget::fixed(fixtures::PROVISION_ARN),
            },
            revoke: revoke::App {
                services: services(),
                auth: auth(),
                retry: quick_retry(),
            },
            // The sweep starts cold (no cached secret), so its budget shows the connector
            // secret is read once per run, not once per item worked on at the same time.
            cleanup: cleanup::App {
                services: Services {
                    secrets: cold.clone(),
                    targets: Arc::new(
                        Targets::new(HttpClients::new().expect("http"), cold)
                            .with_connector_prefix(&env.connector_prefix),
                    ),
                    ..services()
                },
                retry: quick_retry(),
                concurrency: 8,
                margin: Duration::from_secs(2),
                start_target: fixtures::PROVISION_ARN.into(),
            },
        }
    }
}

#[async_trait::async_trait]
impl Invoke for InProcess {
    async fn invoke(&self, function: Function, event: Value) -> Value {
        let out = match function {
            Function::Discover => self.discover.handle(event).await,
            Function::Provision => self.provision.handle(event).await,
            Function::Revoke => self.revoke.handle(event).await,
            Function::Cleanup => {
                let deadline = Instant::now() + Duration::from_secs(300);
                self.cleanup.handle(event, deadline).await
            }
            Function::Rotate => {
                return self
                    .rotate
                    .handle(event)
                    .await
                    .unwrap_or_else(|e| serde_json::json!({"error": e.message}));
            }
        };
        out.expect("handler")
    }
}

fn check(m: &Measured, b: &Budget, failures: &mut Vec<String>) {
    for line in over(b, &m.counts) {
        failures.push(format!("{line} ({:?})", m.calls));
    }
}

#[tokio::test]
async fn hot_paths_and_the_sweep_stay_within_their_round_trip_budgets() {
    let proxy = AwsFaultProxy::start(&test_harness::aws_endpoint()).await;
    let env = Env::start_via(es_seed(), proxy.url()).await;
    let functions = InProcess::new(&env);
    let bench = Bench {
        env: &env,
        proxy: &proxy,
        invoke: &functions,
        time: Time::Manual,
    };
    // Many resources a pattern does not match: a pattern request must not read them.
    for i in 0..60 {
        let path = format!("/other-{i:03}");
        let status = env
            .es_status(reqwest::Method::PUT, &path, &Auth::elastic(), None)
            .await;
        assert_eq!(status, 200, "create {path}");
    }
    let measured = story(&bench).await;
    let mut failures = Vec::new();
    for m in &measured {
        let b = match m.op.as_str() {
            "approve+provision (user)" => budget::APPROVE_USER,
            "approve+provision (api_key)" => budget::APPROVE_API_KEY,
            "revoke (user)" => budget::REVOKE_USER,
            "revoke (api_key)" => budget::REVOKE_API_KEY,
            _ => continue,
        };
        check(m, &b, &mut failures);
    }
    let pattern = bench
        .request("request (pattern)", DEV, "keys-leads", "logs-*")
        .await;
    assert!(
        pattern.query_items < 20,
        "a pattern request read {} items ({:?})",
        pattern.query_items,
        pattern.calls
    );
    // Discovery with nothing changed on the cluster: the snapshot's hash matches, so the stored
    // resources are neither read nor written (one GetItem for the hash, and the integration's
    // discovery status).
    let first = bench.discover("discover").await;
    let again = bench.discover("discover (unchanged)").await;
    for m in [&first, &again] {
        assert_eq!(m.response().1["discovery"]["added"], 0, "{:?}", m.answer);
    }
    for call in ["dynamodb:Query", "dynamodb:BatchWriteItem"] {
        assert_eq!(
            again.calls.get(call),
            None,
            "an unchanged discovery made {call}: {:?}",
            again.calls
        );
    }
    assert_eq!(
        again.response().1["discovery"]["unchanged"],
        again.response().1["discovery"]["total"]
    );
    // A new index: compared in full again, and found.
    let status = env
        .es_status(reqwest::Method::PUT, "/other-new", &Auth::elastic(), None)
        .await;
    assert_eq!(status, 200);
    let changed = bench.discover("discover (one new index)").await;
    assert_eq!(
        changed.response().1["discovery"]["added"],
        1,
        "{:?}",
        changed.answer
    );
    assert!(
        changed.calls.contains_key("dynamodb:Query"),
        "{:?}",
        changed.calls
    );

    let n = 12;
    let swept = bench.sweep(n).await;
    assert_eq!(sweep_problem(&swept, n), None);
    check(&swept, &budget::sweep(n, 1), &mut failures);
    // A connector rotation's steps each describe the secret once (the handler's description
    // serves the step's guard too), and find the integration by the secret's name: one item
    // read, no listing of integrations.
    for step in bench.rotation().await {
        assert_eq!(
            step.calls.get("secretsmanager:DescribeSecret"),
            Some(&1),
            "{}: {:?}",
            step.op,
            step.calls
        );
        assert_eq!(
            (
                step.calls.get("dynamodb:Query"),
                step.calls.get("dynamodb:Scan"),
                step.calls.get("dynamodb:GetItem")
            ),
            (None, None, Some(&1)),
            "{}: {:?}",
            step.op,
            step.calls
        );
    }
    assert!(failures.is_empty(), "over budget:\n{}", failures.join("\n"));
}
