//! Nobody is locked out during a connector rotation: provision, revoke and discovery work after
//! every step (the target may hold AWSPENDING while AWSCURRENT still names the old value), a
//! warm function's cache never outlives `finishSecret`, an interrupted and cleared rotation
//! followed by a new one recovers, and replayed steps answer `already_done`. Elasticsearch and
//! Elastic Cloud connectors, through the real handlers, against moto and the emulators.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use cloud_emulator::OWNER_KEY_ID;
use fixtures::cloud::{BOB, CloudEnv, INTEGRATION, ORG, OWNER_KEY, cloud_flows, cloud_granted};
use fixtures::flows::revoke_by;
use fixtures::flows::{
    auth, discover_app, flows, granted, provision_app, quick_retry, register, revoke_app, services,
};
use fixtures::{ADMIN, DEV, Env, Person, es_seed, event, http, response};
use reqwest::Method;
use serde_json::{Value, json};
use shared::driver::http::{HttpClients, RetryPolicy};
use shared::secrets::{AWSCURRENT, AWSPENDING, SecretStore, SecretsManager};
use shared::services::Services;
use shared::store::{AuditStore, IntegrationStore};
use shared::targets::Targets;

const ES: &str = "prod-search";

fn rotate_app(env: &Env) -> rotate::App {
    rotate::App {
        store: env.store.clone(),
        secrets: env.secrets.clone(),
        targets: env.targets.clone(),
        clock: Arc::new(env.clock.clone()),
        auth: auth(),
        function_name: Some("elastic-jit-rotate".into()),
    }
}

/// A revoke function that has been running a while: its own Secrets Manager client with the
/// production cache (30 s), separate from the process that rotates.
fn warm_revoke_app(env: &Env) -> revoke::App {
    let secrets = Arc::new(SecretsManager::new(env.secrets_client()));
    let fast = RetryPolicy {
        max_retries: 1,
        min_delay: StdDuration::from_millis(5),
        max_delay: StdDuration::from_millis(10),
    };
    let base = services(env);
    revoke::App {
        services: Services {
            targets: Arc::new(
                Targets::new(
                    HttpClients::new().expect("http").with_retry(fast),
                    secrets.clone(),
                )
                .with_connector_prefix(&env.connector_prefix),
            ),
            secrets,
            ..base
        },
        auth: auth(),
        retry: quick_retry(),
    }
}

async fn step(rot: &rotate::App, name: &str, secret: &str, token: &str) -> Value {
    let mut ev = event(&format!("rotate/{name}.json"));
    ev["SecretId"] = json!(secret);
    ev["ClientRequestToken"] = json!(token);
    rot.handle(ev)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

async fn discover_now(d: &discover::App, name: &str) -> (u16, Value) {
    response(
        d.handle(http(
            event("discover/post-discover.json"),
            &format!("/integrations/{name}/discover"),
            ADMIN,
            None,
        ))
        .await
        .expect("handler"),
    )
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn secret_arn(env: &Env, name: &str) -> String {
    env.store
        .get_integration(name)
        .await
        .unwrap()
        .unwrap()
        .spec
        .secret_arn
}

async fn connector_password(env: &Env, arn: &str) -> String {
    let v: Value =
        serde_json::from_str(env.secrets.get(arn, AWSCURRENT).await.unwrap().expose()).unwrap();
    v["password"].as_str().unwrap().to_string()
}

async fn connector_status(env: &Env, password: &str) -> u16 {
    env.es_status(
        Method::GET,
        "/_security/_authenticate",
        &fixtures::Auth::Basic("connector".into(), password.into()),
        None,
    )
    .await
}

/// Provision one grant, revoke the one given, and rediscover: all must work now.
async fn es_functions_work(
    (d, p, r): (&discover::App, &provision::App, &revoke::App),
    to_revoke: &str,
    when: &str,
) -> String {
    let g = granted(p, DEV, "logs-auto", &["logs-2026.11"]).await;
    let (s, b) = revoke_by(r, DEV, to_revoke).await;
    assert_eq!(
        (s, b["status"].as_str()),
        (200, Some("revoked")),
        "{when}: {b}"
    );
    let (s, b) = discover_now(d, ES).await;
    assert_eq!(s, 200, "{when}: {b}");
    id_of(&g)
}

#[tokio::test]
async fn elasticsearch_functions_work_at_every_step_of_a_connector_rotation() {
    let env = Env::start(es_seed()).await;
    let (d, p, r, rot) = (
        discover_app(&env),
        provision_app(&env),
        revoke_app(&env),
        rotate_app(&env),
    );
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto"]).await;
    let arn = secret_arn(&env, ES).await;
    let apps = (&d, &p, &r);
    let mut open = id_of(&granted(&p, DEV, "logs-auto", &["logs-2026.10"]).await);

    let token = "1a2b3c4d-0000-4000-8000-00000000000a";
    env.begin_rotation(&arn, token).await;
    step(&rot, "createSecret", &arn, token).await;
    open = es_functions_work(apps, &open, "after createSecret").await;

    let old = connector_password(&env, &arn).await;
    step(&rot, "setSecret", &arn, token).await;
    assert_eq!(
        connector_status(&env, &old).await,
        401,
        "the cluster holds the pending password while AWSCURRENT is the old one"
    );
    open = es_functions_work(apps, &open, "after setSecret").await;

    step(&rot, "testSecret", &arn, token).await;
    open = es_functions_work(apps, &open, "after testSecret").await;
    step(&rot, "finishSecret", &arn, token).await;
    open = es_functions_work(apps, &open, "after finishSecret").await;
    assert_eq!(revoke_by(&r, DEV, &open).await.1["status"], "revoked");
    let new = connector_password(&env, &arn).await;
    assert_eq!(connector_status(&env, &new).await, 200);
}

#[tokio::test]
async fn a_warm_revoke_function_uses_the_new_connector_password_right_after_rotation() {
    let env = Env::start(es_seed()).await;
    let (d, p, rot) = (discover_app(&env), provision_app(&env), rotate_app(&env));
    let warm = warm_revoke_app(&env);
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto"]).await;
    let arn = secret_arn(&env, ES).await;
    let first = id_of(&granted(&p, DEV, "logs-auto", &["logs-2026.10"]).await);
    let second = id_of(&granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await);
    // The warm function reads (and caches) the connector secret.
    assert_eq!(revoke_by(&warm, DEV, &first).await.1["status"], "revoked");

    let token = "1a2b3c4d-0000-4000-8000-00000000000b";
    env.begin_rotation(&arn, token).await;
    for s in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        step(&rot, s, &arn, token).await;
    }

    let (s, b) = revoke_by(&warm, DEV, &second).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("revoked")), "{b}");
    let user = env
        .es_json(Method::GET, "/_security/user/ejit_dev@example.com")
        .await;
    assert_eq!(user["ejit_dev@example.com"]["enabled"], false, "{user}");
}

#[tokio::test]
async fn a_cleared_rotation_followed_by_a_new_one_recovers_the_connector() {
    let env = Env::start(es_seed()).await;
    let (d, p, r, rot) = (
        discover_app(&env),
        provision_app(&env),
        revoke_app(&env),
        rotate_app(&env),
    );
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto"]).await;
    let arn = secret_arn(&env, ES).await;
    let open = id_of(&granted(&p, DEV, "logs-auto", &["logs-2026.10"]).await);
    let old = connector_password(&env, &arn).await;

    // A rotation stops after setSecret and is cleared by hand: the cluster holds a password
    // that no stage names any more.
    let abandoned = "1a2b3c4d-0000-4000-8000-00000000000c";
    env.begin_rotation(&arn, abandoned).await;
    step(&rot, "createSecret", &arn, abandoned).await;
    step(&rot, "setSecret", &arn, abandoned).await;
    env.secrets_client()
        .update_secret_version_stage()
        .secret_id(&arn)
        .version_stage(AWSPENDING)
        .remove_from_version_id(abandoned)
        .send()
        .await
        .expect("clear AWSPENDING");
    assert_eq!(connector_status(&env, &old).await, 401);

    // A new rotation with a new token logs in with the abandoned version and completes.
    let token = "1a2b3c4d-0000-4000-8000-00000000000d";
    env.begin_rotation(&arn, token).await;
    for s in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let out = step(&rot, s, &arn, token).await;
        assert_eq!(out["outcome"], "done", "{s}: {out}");
    }
    let new = connector_password(&env, &arn).await;
    assert_eq!(connector_status(&env, &new).await, 200);
    es_functions_work((&d, &p, &r), &open, "after recovery").await;
}

#[tokio::test]
async fn two_identical_deliveries_of_a_step_at_once_both_succeed() {
    let env = Env::start(es_seed()).await;
    let (d, p, r, rot) = (
        discover_app(&env),
        provision_app(&env),
        revoke_app(&env),
        rotate_app(&env),
    );
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto"]).await;
    let arn = secret_arn(&env, ES).await;
    let token = "1a2b3c4d-0000-4000-8000-00000000000e";
    env.begin_rotation(&arn, token).await;
    for s in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let (a, b) = tokio::join!(step(&rot, s, &arn, token), step(&rot, s, &arn, token));
        let outcomes = [a["outcome"].as_str(), b["outcome"].as_str()];
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Some("done" | "already_done"))),
            "{s}: {a} {b}"
        );
        if s == "finishSecret" {
            let mut sorted = outcomes;
            sorted.sort();
            assert_eq!(sorted, [Some("already_done"), Some("done")], "{a} {b}");
        }
    }
    let audit = env
        .store
        .audit_of(
            &shared::model::AuditSubject::Integration(ES.into()),
            100,
            None,
        )
        .await
        .unwrap();
    let rotated = audit
        .items
        .iter()
        .filter(|e| e.action == "connector.rotated")
        .count();
    assert_eq!(rotated, 1, "one promotion is recorded");
    let new = connector_password(&env, &arn).await;
    assert_eq!(connector_status(&env, &new).await, 200);
    let g = id_of(&granted(&p, DEV, "logs-auto", &["logs-2026.10"]).await);
    assert_eq!(revoke_by(&r, DEV, &g).await.1["status"], "revoked");
}

// ---- Elastic Cloud ----

async fn cloud_functions_work(
    (d, p, r): (&discover::App, &provision::App, &revoke::App),
    to_revoke: &str,
    when: &str,
) -> String {
    let g = cloud_granted(p, BOB, &[fixtures::cloud::PROD], "deployment-viewer").await;
    let (s, b) = revoke_by(r, BOB, to_revoke).await;
    assert_eq!(
        (s, b["status"].as_str()),
        (200, Some("revoked")),
        "{when}: {b}"
    );
    let (s, b) = discover_now(d, INTEGRATION).await;
    assert_eq!(s, 200, "{when}: {b}");
    id_of(&g)
}

#[tokio::test]
async fn elastic_cloud_functions_work_at_every_step_and_warm_ones_after_the_old_key_is_gone() {
    let env = CloudEnv::start().await;
    let (d, p, r, rot) = (
        discover_app(&env),
        provision_app(&env),
        revoke_app(&env),
        rotate_app(&env),
    );
    let warm = warm_revoke_app(&env);
    let arn = env.register(&d).await;
    cloud_flows(&d, &["deploy-auto"]).await;
    let apps = (&d, &p, &r);
    let mut open =
        id_of(&cloud_granted(&p, BOB, &[fixtures::cloud::STAGING], "deployment-viewer").await);
    let warm_one =
        id_of(&cloud_granted(&p, BOB, &[fixtures::cloud::PROD], "deployment-editor").await);
    let warm_two =
        id_of(&cloud_granted(&p, BOB, &[fixtures::cloud::STAGING], "deployment-editor").await);
    assert_eq!(
        revoke_by(&warm, BOB, &warm_one).await.1["status"],
        "revoked"
    );

    let token = "2a2b3c4d-0000-4000-8000-00000000000a";
    env.begin_rotation(&arn, token).await;
    for s in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        step(&rot, s, &arn, token).await;
        open = cloud_functions_work(apps, &open, s).await;
    }
    let org = format!("/organizations/{ORG}");
    assert_eq!(
        env.cloud_api(Method::GET, &org, OWNER_KEY).await.0,
        401,
        "old key deleted"
    );
    let current: Value =
        serde_json::from_str(env.secrets.get(&arn, AWSCURRENT).await.unwrap().expose()).unwrap();
    assert_ne!(current["api_key_id"], OWNER_KEY_ID);

    // The warm function still holds the deleted key in its cache: it re-reads and succeeds.
    let (s, b) = revoke_by(&warm, BOB, &warm_two).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("revoked")), "{b}");
    assert_eq!(revoke_by(&r, BOB, &open).await.1["status"], "revoked");
}

#[tokio::test]
async fn an_interrupted_cloud_rotation_followed_by_a_new_one_completes() {
    let env = CloudEnv::start().await;
    let (d, p, r, rot) = (
        discover_app(&env),
        provision_app(&env),
        revoke_app(&env),
        rotate_app(&env),
    );
    let arn = env.register(&d).await;
    cloud_flows(&d, &["deploy-auto"]).await;
    let open =
        id_of(&cloud_granted(&p, BOB, &[fixtures::cloud::STAGING], "deployment-viewer").await);
    let abandoned = "2a2b3c4d-0000-4000-8000-00000000000b";
    env.begin_rotation(&arn, abandoned).await;
    step(&rot, "createSecret", &arn, abandoned).await;
    step(&rot, "setSecret", &arn, abandoned).await;
    env.secrets_client()
        .update_secret_version_stage()
        .secret_id(&arn)
        .version_stage(AWSPENDING)
        .remove_from_version_id(abandoned)
        .send()
        .await
        .expect("clear AWSPENDING");

    let token = "2a2b3c4d-0000-4000-8000-00000000000c";
    env.begin_rotation(&arn, token).await;
    for s in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let out = step(&rot, s, &arn, token).await;
        assert_eq!(out["outcome"], "done", "{s}: {out}");
    }
    cloud_functions_work((&d, &p, &r), &open, "after recovery").await;
}

#[tokio::test]
async fn a_failed_retire_of_the_old_cloud_key_is_retried_by_the_sweep_until_it_is_gone() {
    let env = CloudEnv::start().await;
    let (d, rot) = (discover_app(&env), rotate_app(&env));
    let c = fixtures::flows::cleanup_app(&env);
    let arn = env.register(&d).await;
    let (s, b) = env
        .control(
            Method::POST,
            "/faults",
            Some(json!({"method": "DELETE", "path": "/api/v1/users/auth/keys/*", "status": 503})),
        )
        .await;
    assert!(s < 300, "{b}");
    let token = "2a2b3c4d-0000-4000-8000-00000000000d";
    env.begin_rotation(&arn, token).await;
    let mut last = Value::Null;
    for s in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        last = step(&rot, s, &arn, token).await;
    }
    assert_eq!(last["outcome"], "finished_retire_failed", "{last}");
    let org = format!("/organizations/{ORG}");
    assert_eq!(
        env.cloud_api(Method::GET, &org, OWNER_KEY).await.0,
        200,
        "the old key is still valid"
    );

    // Visible to admins on the integration, and only to them.
    let get = |who: Person| {
        d.handle(http(
            event("discover/get-integration.json"),
            &format!("/integrations/{INTEGRATION}"),
            who,
            None,
        ))
    };
    let (s, b) = response(get(ADMIN).await.unwrap());
    assert_eq!(s, 200, "{b}");
    let pending = &b["pending_retires"][0];
    assert_eq!(pending["credential_id"], OWNER_KEY_ID, "{b}");
    assert_eq!(pending["attempts"], 1, "{b}");
    assert!(!b.to_string().contains(OWNER_KEY), "no key value: {b}");
    let (_, b) = response(get(BOB).await.unwrap());
    assert!(b.get("pending_retires").is_none(), "{b}");

    // Not due yet; then due and still failing (backed off, audited); then gone.
    let sweep = || {
        c.handle(
            event("cleanup/schedule.json"),
            std::time::Instant::now() + StdDuration::from_secs(60),
        )
    };
    let report = sweep().await.unwrap();
    assert_eq!(report["connector_retires_failing"], 0, "{report}");
    env.clock.advance(chrono::Duration::seconds(61));
    let report = sweep().await.unwrap();
    assert_eq!(report["connector_retires_failing"], 1, "{report}");
    let stored = env
        .store
        .get_integration(INTEGRATION)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.pending_retires[0].attempts, 2);
    assert_eq!(
        stored.pending_retires[0].next_attempt_at,
        shared::clock::Clock::now(&env.clock) + chrono::Duration::minutes(2)
    );
    assert_eq!(env.cloud_api(Method::GET, &org, OWNER_KEY).await.0, 200);

    env.control(Method::DELETE, "/faults", None).await;
    env.clock.advance(chrono::Duration::minutes(2));
    let report = sweep().await.unwrap();
    assert_eq!(report["connector_keys_retired"], 1, "{report}");
    assert_eq!(
        env.cloud_api(Method::GET, &org, OWNER_KEY).await.0,
        401,
        "old key deleted"
    );
    let stored = env
        .store
        .get_integration(INTEGRATION)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.pending_retires.is_empty());
    let audit = env
        .store
        .audit_of(
            &shared::model::AuditSubject::Integration(INTEGRATION.into()),
            100,
            None,
        )
        .await
        .unwrap();
    let count = |a: &str| audit.items.iter().filter(|e| e.action == a).count();
    assert_eq!(
        (count("connector.retire_failed"), count("connector.retired")),
        (2, 1)
    );
    // Nothing left for the next sweep.
    let report = sweep().await.unwrap();
    assert_eq!(
        (
            report["connector_keys_retired"].as_u64(),
            report["connector_retires_failing"].as_u64()
        ),
        (Some(0), Some(0))
    );
}
