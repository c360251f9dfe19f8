//! Every invocation answers within its Lambda timeout: a slow target makes provision and revoke
//! record a visible outcome before the deadline (failed, `revoke_failed`, or left `approved`
//! for the sweep's `fail_stuck`) and answer, instead of being killed half-way.

use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use fixtures::flows::{
    auth_of, cleanup_app, credentials, discover_app, flows, granted, provision_app, register,
    revoke_app, services,
};
use fixtures::{DEV, Env, es_seed, event, http, response};
use reqwest::Method;
use serde_json::{Value, json};
use shared::model::RequestStatus;
use shared::services::RECORD_RESERVE;
use shared::store::{AuditStore, RequestStore};

/// What the target calls of one invocation may use in these tests.
const TARGET_BUDGET: StdDuration = StdDuration::from_millis(1500);

async fn sweep(c: &cleanup::App) -> Value {
    c.handle(
        event("cleanup/schedule.json"),
        Instant::now() + StdDuration::from_secs(60),
    )
    .await
    .unwrap()
}

fn ask_event() -> Value {
    let mut ev = http(
        event("provision/post-request.json"),
        "/requests",
        DEV,
        Some(
            json!({"integration": "prod-search", "resources": ["logs-2026.11"],
                    "permission": "read", "duration": "1h", "flow": "logs-auto"}),
        ),
    );
    if let Some(h) = ev["headers"].as_object_mut() {
        h.remove("idempotency-key");
    }
    ev
}

/// A slow-answering target: each matching call sleeps far longer than the budget.
async fn slow(env: &Env, method: &str, path: &str) {
    let r = env
        .http
        .post(format!("{}/_emulator/faults", env.es.url()))
        .json(&json!({"method": method, "path": path, "count": 5, "latency_ms": 8000}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

#[tokio::test]
async fn a_manual_revoke_against_a_slow_cluster_answers_in_time_and_the_sweep_finishes_it() {
    let env = Env::start(es_seed()).await;
    let (d, p, r, c) = (
        discover_app(&env),
        provision_app(&env),
        revoke_app(&env),
        cleanup_app(&env),
    );
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto"]).await;
    let grant = granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
    let id = grant["id"].as_str().unwrap();
    let (_, creds) = credentials(&p, DEV, id).await;
    slow(&env, "PUT", "/_security/user/*").await;

    let started = Instant::now();
    let deadline = started + RECORD_RESERVE + TARGET_BUDGET;
    let out = r
        .handle_within(
            http(
                event("revoke/post-revoke.json"),
                &format!("/requests/{id}/revoke"),
                DEV,
                None,
            ),
            deadline,
        )
        .await
        .unwrap();
    assert!(Instant::now() < deadline, "answered after the deadline");
    let (s, b) = response(out);
    assert_eq!(
        (s, b["status"].as_str()),
        (202, Some("revoke_failed")),
        "{b}"
    );
    assert!(
        b["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("timeout"),
        "{b}"
    );

    env.clear_es_faults().await;
    env.clock
        .advance(Duration::minutes(1) + Duration::seconds(1));
    let report = sweep(&c).await;
    assert_eq!(report["retried"], 1, "{report}");
    let stored = env.store.get_request(id).await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        RequestStatus::Revoked,
        "a manual revoke stays manual"
    );
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &auth_of(&creds), None)
            .await,
        401
    );
}

#[tokio::test]
async fn a_provision_against_a_slow_cluster_answers_in_time_with_a_recorded_outcome() {
    let env = Env::start(es_seed()).await;
    let (d, p) = (discover_app(&env), provision_app(&env));
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto"]).await;
    slow(&env, "PUT", "/_security/role/*").await;

    let started = Instant::now();
    let deadline = started + RECORD_RESERVE + TARGET_BUDGET;
    let out = p.handle_within(ask_event(), deadline).await.unwrap();
    assert!(Instant::now() < deadline, "answered after the deadline");
    let (s, b) = response(out);
    assert_eq!((s, b["status"].as_str()), (201, Some("failed")), "{b}");
    let id = b["id"].as_str().unwrap();
    let stored = env.store.get_request(id).await.unwrap().unwrap();
    assert_eq!(stored.status, RequestStatus::Failed);
    assert!(
        stored
            .status_reason
            .as_deref()
            .unwrap_or_default()
            .contains("timeout"),
        "{stored:?}"
    );
}

#[tokio::test]
async fn a_provision_that_cannot_get_the_account_in_time_is_left_approved_and_failed_by_the_sweep()
{
    let env = Env::start(es_seed()).await;
    let (d, p, c) = (discover_app(&env), provision_app(&env), cleanup_app(&env));
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto"]).await;
    granted(&p, DEV, "logs-auto", &["logs-2026.10"]).await;
    // Another change holds the account (its lease outlives this invocation).
    let svc = services(&env);
    svc.grants()
        .lock_principal(
            "prod-search",
            "ejit_dev@example.com",
            DEV.sub,
            "someone-else",
        )
        .await
        .unwrap();

    let started = Instant::now();
    let deadline = started + RECORD_RESERVE + TARGET_BUDGET;
    let out = p.handle_within(ask_event(), deadline).await.unwrap();
    assert!(Instant::now() < deadline, "answered after the deadline");
    let (s, b) = response(out);
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (503, Some("principal_busy")),
        "{b}"
    );
    let mine = env
        .store
        .requests_of(&DEV.key(), 10, None)
        .await
        .unwrap()
        .items;
    let stuck: Vec<_> = mine
        .iter()
        .filter(|r| r.status == RequestStatus::Approved)
        .collect();
    assert_eq!(stuck.len(), 1, "left approved, visible: {mine:?}");
    let id = stuck[0].id.clone();

    let report = sweep(&c).await;
    assert_eq!(
        report["stuck_failed"], 0,
        "within the grace period: {report}"
    );
    env.clock
        .advance(Duration::minutes(15) + Duration::seconds(1));
    let report = sweep(&c).await;
    assert_eq!(report["stuck_failed"], 1, "{report}");
    let stored = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(stored.status, RequestStatus::Failed);
    let trail = env
        .store
        .audit_of(&shared::model::AuditSubject::Request(id.clone()), 20, None)
        .await
        .unwrap();
    assert!(
        trail
            .items
            .iter()
            .any(|e| e.action == "grant.provision_abandoned"),
        "{:?}",
        trail.items
    );
}

/// A store that answers its listings slowly (a loaded or throttled table) cannot carry the
/// sweep past its deadline: the listing is cut like the work it lists, and the next run
/// finishes.
#[tokio::test]
async fn a_slow_listing_of_due_work_is_cut_before_the_deadline() {
    use fixtures::aws_faults::{AwsFault, AwsFaultProxy, AwsKind};
    let proxy = AwsFaultProxy::start(&test_harness::aws_endpoint()).await;
    let env = Env::start_via(es_seed(), proxy.url()).await;
    let c = cleanup_app(&env);
    proxy.arm(AwsFault::new(
        "DynamoDB_20120810.Query",
        AwsKind::Latency(StdDuration::from_secs(6)),
    ));
    let started = Instant::now();
    let deadline = started + StdDuration::from_secs(4);
    let report = c
        .handle(event("cleanup/schedule.json"), deadline)
        .await
        .unwrap();
    assert!(
        Instant::now() < deadline,
        "answered {:?} after the deadline",
        Instant::now() - deadline
    );
    assert!(proxy.hits() > 0, "the listing was never made");
    assert_eq!(report["complete"], false, "{report}");

    proxy.clear();
    proxy.landed().await;
    assert_eq!(sweep(&c).await["complete"], true);
}
