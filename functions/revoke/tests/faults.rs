//! The fault matrix (Elasticsearch): each failure kind injected at each target call of
//! provision (user mode with a new account, api_key mode with an existing one), revoke (manual
//! and expiry) and connector rotation, then the retry or sweep runs, and the invariants hold:
//! no role, API key or enabled account on the cluster that no live grant accounts for, no
//! access after a grant's end, and the connector still works.
//!
//! Kinds: 503 and 429 on every attempt (the retries exhausted), a dropped connection, and an
//! answer slower than the invocation's budget. Sized for CI: one environment per scenario, the
//! cases run in turn inside it (about 40 cases).

use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use fixtures::flows::{
    auth_of, cleanup_app, credentials, discover_app, flows, granted, provision_app, register,
    revoke_app,
};
use fixtures::{DEV, Env, es_seed, event, http, response};
use reqwest::Method;
use serde_json::{Value, json};
use shared::model::RequestStatus;
use shared::services::RECORD_RESERVE;
use shared::store::{IntegrationStore, RequestStore};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unavailable,
    Throttled,
    Dropped,
    TooSlow,
}

const KINDS: [Kind; 4] = [
    Kind::Unavailable,
    Kind::Throttled,
    Kind::Dropped,
    Kind::TooSlow,
];
/// Longer than [`BUDGET`]: a slow answer always outlives the invocation's target budget.
const SLOW_MS: u64 = 2500;
const BUDGET: StdDuration = StdDuration::from_millis(1000);

/// Every attempt of the call fails (the fixtures' drivers retry twice).
async fn inject(env: &Env, kind: Kind, method: &str, path: &str) {
    let mut fault = json!({"method": method, "path": path, "count": 3});
    match kind {
        Kind::Unavailable => fault["status"] = json!(503),
        Kind::Throttled => fault["status"] = json!(429),
        Kind::Dropped => fault["drop_connection"] = json!(true),
        Kind::TooSlow => fault["latency_ms"] = json!(SLOW_MS),
    }
    let r = env
        .http
        .post(format!("{}/_emulator/faults", env.es.url()))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "fault {fault}");
}

/// Stop faulting; a slow call the client gave up on may still land on the cluster, so wait
/// until it has before judging what is left.
async fn heal(env: &Env, kind: Kind) {
    env.clear_es_faults().await;
    if kind == Kind::TooSlow {
        tokio::time::sleep(StdDuration::from_millis(SLOW_MS + 200)).await;
    }
}

fn deadline() -> Instant {
    Instant::now() + RECORD_RESERVE + BUDGET
}

/// Invoke a handler as Lambda would, with a short budget when the kind is a slow target.
async fn invoke_provision(p: &provision::App, kind: Kind, ev: Value) -> Value {
    if kind == Kind::TooSlow {
        let d = deadline();
        let out = p.handle_within(ev, d).await.unwrap();
        assert!(Instant::now() < d, "provision answered after its deadline");
        out
    } else {
        p.handle(ev).await.unwrap()
    }
}

async fn invoke_revoke(r: &revoke::App, kind: Kind, ev: Value) -> Value {
    if kind == Kind::TooSlow {
        let d = deadline();
        let out = r.handle_within(ev, d).await.unwrap();
        assert!(Instant::now() < d, "revoke answered after its deadline");
        out
    } else {
        r.handle(ev).await.unwrap()
    }
}

fn ask(flow: &str, resource: &str) -> Value {
    let mut ev = http(
        event("provision/post-request.json"),
        "/requests",
        DEV,
        Some(
            json!({"integration": "prod-search", "resources": [resource],
                    "permission": "read", "duration": "1h", "flow": flow}),
        ),
    );
    if let Some(h) = ev["headers"].as_object_mut() {
        h.remove("idempotency-key");
    }
    ev
}

async fn sweep(env: &Env, c: &cleanup::App) -> Value {
    // Past any revoke backoff and the provisioning grace period.
    env.clock.advance(Duration::minutes(16));
    c.handle(
        event("cleanup/schedule.json"),
        Instant::now() + StdDuration::from_secs(60),
    )
    .await
    .unwrap()
}

async fn state(env: &Env, what: &str) -> Value {
    env.http
        .get(format!("{}/_emulator/state/{what}", env.es.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn status_of(env: &Env, id: &str) -> Option<RequestStatus> {
    env.store.get_request(id).await.unwrap().map(|r| r.status)
}

/// Nothing on the cluster that no live grant accounts for, and the connector works.
async fn invariants(env: &Env, d: &discover::App, case: &str) {
    let live = |s: Option<RequestStatus>| s == Some(RequestStatus::Active);
    let roles = state(env, "roles").await;
    let mut live_roles = Vec::new();
    for name in roles["roles"].as_object().unwrap().keys() {
        if let Some(id) = name.strip_prefix("ejit_grant_") {
            assert!(
                live(status_of(env, id).await),
                "{case}: role {name} outlives its grant"
            );
            live_roles.push(name.clone());
        }
    }
    let keys = state(env, "api_keys").await;
    for k in keys["api_keys"].as_array().unwrap() {
        if k["invalidated"] == true || k["metadata"]["managed_by"] != "elastic-jit" {
            continue;
        }
        let id = k["metadata"]["grant_id"].as_str().unwrap_or_default();
        assert!(
            live(status_of(env, id).await),
            "{case}: API key of {id} still valid"
        );
    }
    let users = state(env, "users").await;
    for u in users["users"].as_array().unwrap() {
        if u["metadata"]["managed_by"] != "elastic-jit" {
            continue;
        }
        for role in u["roles"].as_array().unwrap() {
            assert!(
                live_roles.iter().any(|r| r == role),
                "{case}: account {} holds {role} of no live grant",
                u["username"]
            );
        }
        if u["enabled"] == true {
            assert!(
                !u["roles"].as_array().unwrap().is_empty(),
                "{case}: account {} enabled without a live grant",
                u["username"]
            );
        }
    }
    let (s, b) = response(
        d.handle(http(
            event("discover/post-discover.json"),
            "/integrations/prod-search/discover",
            fixtures::ADMIN,
            None,
        ))
        .await
        .unwrap(),
    );
    assert_eq!(s, 200, "{case}: the connector no longer works: {b}");
}

/// Revoke whatever is still active, so the next case starts from a quiet account.
async fn settle(env: &Env, r: &revoke::App) {
    for req in env
        .store
        .requests_of(&dev_key(), 100, None)
        .await
        .unwrap()
        .items
    {
        if req.status == RequestStatus::Active {
            let (s, b) = response(
                r.handle(http(
                    event("revoke/post-revoke.json"),
                    &format!("/requests/{}/revoke", req.id),
                    DEV,
                    None,
                ))
                .await
                .unwrap(),
            );
            assert_eq!(s, 200, "{b}");
        }
    }
}

/// A method and path glob of one target call.
type Call = (&'static str, &'static str);
/// Name, flow, whether the account exists first, and the calls to fault.
type Scenario = (&'static str, &'static str, bool, &'static [Call]);

#[tokio::test]
async fn provision_faults_at_every_target_call_leave_nothing_behind() {
    let env = Env::start(es_seed()).await;
    let (d, p, r, c) = (
        discover_app(&env),
        provision_app(&env),
        revoke_app(&env),
        cleanup_app(&env),
    );
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto", "keys-auto"]).await;
    let scenarios: [Scenario; 2] = [
        (
            "user mode, new account",
            "logs-auto",
            false,
            &[("PUT", "/_security/role/*"), ("PUT", "/_security/user/*")],
        ),
        (
            "api_key mode, existing account",
            "keys-auto",
            true,
            &[
                ("PUT", "/_security/role/*"),
                ("PUT", "/_security/user/*"),
                ("POST", "/_security/api_key/grant"),
            ],
        ),
    ];
    for (scenario, flow, existing, calls) in scenarios {
        for (method, path) in calls {
            for kind in KINDS {
                let case = format!("{scenario}: {kind:?} at {method} {path}");
                if existing {
                    granted(&p, DEV, flow, &["logs-2026.10"]).await;
                    settle(&env, &r).await;
                } else {
                    // A new account each time: forget the last one.
                    reset_account(&env).await;
                }
                inject(&env, kind, method, path).await;
                let (s, b) = response(invoke_provision(&p, kind, ask(flow, "logs-2026.11")).await);
                heal(&env, kind).await;
                assert!(
                    matches!(s, 201 | 503),
                    "{case}: answered {s} {}",
                    fixtures::redacted(&b)
                );
                sweep(&env, &c).await;
                invariants(&env, &d, &case).await;
                settle(&env, &r).await;
            }
        }
    }
}

/// Remove DEV's account on the cluster and in the state, so the next grant makes a new one.
async fn reset_account(env: &Env) {
    let name = "ejit_dev@example.com";
    let _ = env
        .es_as(
            Method::DELETE,
            &format!("/_security/user/{name}"),
            &fixtures::Auth::elastic(),
        )
        .send()
        .await
        .unwrap();
    use shared::store::PrincipalStore;
    if let Some(p) = env.store.get_principal("prod-search", name).await.unwrap() {
        env.store
            .delete_principal("prod-search", name, p.version, &[])
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn revoke_faults_at_every_target_call_are_finished_by_the_sweep() {
    let env = Env::start(es_seed()).await;
    let (d, p, r, c) = (
        discover_app(&env),
        provision_app(&env),
        revoke_app(&env),
        cleanup_app(&env),
    );
    register(&env, &d, json!({})).await;
    flows(&d, &["keys-auto"]).await;
    let calls = [
        ("DELETE", "/_security/api_key"),
        ("PUT", "/_security/user/*"),
        ("DELETE", "/_security/role/*"),
    ];
    for cause in ["manual", "expiry"] {
        for (method, path) in calls {
            for kind in KINDS {
                let case = format!("{cause} revoke: {kind:?} at {method} {path}");
                let grant = granted(&p, DEV, "keys-auto", &["logs-2026.11"]).await;
                let id = grant["id"].as_str().unwrap().to_string();
                let (_, creds) = credentials(&p, DEV, &id).await;
                let ev = if cause == "manual" {
                    http(
                        event("revoke/post-revoke.json"),
                        &format!("/requests/{id}/revoke"),
                        DEV,
                        None,
                    )
                } else {
                    env.clock.advance(Duration::hours(1));
                    let mut e = event("revoke/expiry.json");
                    e["grant_id"] = json!(id);
                    e
                };
                inject(&env, kind, method, path).await;
                let out = invoke_revoke(&r, kind, ev).await;
                heal(&env, kind).await;
                if cause == "manual" {
                    let (s, b) = response(out);
                    assert!(
                        matches!(
                            (s, b["status"].as_str()),
                            (202, Some("revoke_failed")) | (200, Some("revoked"))
                        ),
                        "{case}: {s} {b}"
                    );
                } else {
                    assert!(
                        matches!(out["outcome"].as_str(), Some("revoke_failed" | "revoked")),
                        "{case}: {out}"
                    );
                }
                sweep(&env, &c).await;
                let want = if cause == "manual" {
                    RequestStatus::Revoked
                } else {
                    RequestStatus::Expired
                };
                assert_eq!(status_of(&env, &id).await, Some(want), "{case}");
                assert_eq!(
                    env.es_status(Method::GET, "/logs-2026.11/_search", &auth_of(&creds), None)
                        .await,
                    401,
                    "{case}: the key still works"
                );
                invariants(&env, &d, &case).await;
            }
        }
    }
}

#[tokio::test]
async fn connector_rotation_faults_are_recovered_by_redelivery() {
    let env = Env::start(es_seed()).await;
    let (d, p, r) = (discover_app(&env), provision_app(&env), revoke_app(&env));
    let rot = rotate::App {
        store: env.store.clone(),
        secrets: env.secrets.clone(),
        targets: env.targets.clone(),
        clock: std::sync::Arc::new(env.clock.clone()),
        auth: fixtures::flows::auth(),
        function_name: None,
    };
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto"]).await;
    let arn = env
        .store
        .get_integration("prod-search")
        .await
        .unwrap()
        .unwrap()
        .spec
        .secret_arn;
    let calls = [
        ("setSecret", "POST", "/_security/user/_password"),
        ("testSecret", "POST", "/_security/user/_has_privileges"),
    ];
    let mut n = 0;
    for (at, method, path) in calls {
        for kind in KINDS {
            n += 1;
            let case = format!("rotation: {kind:?} at {at} ({method} {path})");
            let token = format!("3a2b3c4d-0000-4000-8000-{n:012}");
            env.begin_rotation(&arn, &token).await;
            let step = |name: &str| {
                let mut ev = event(&format!("rotate/{name}.json"));
                ev["SecretId"] = json!(arn);
                ev["ClientRequestToken"] = json!(token);
                rot.handle_within(ev, deadline())
            };
            step("createSecret").await.unwrap();
            inject(&env, kind, method, path).await;
            let mut failed = None;
            for s in ["setSecret", "testSecret", "finishSecret"] {
                if let Err(e) = step(s).await {
                    failed = Some((s, e));
                    break;
                }
            }
            let (s, e) = failed.unwrap_or_else(|| panic!("{case}: no step failed"));
            assert!(e.retryable, "{case}: {s} failed for good: {e:?}");
            heal(&env, kind).await;
            // Secrets Manager retries the rotation from the start with the same token.
            for s in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
                step(s)
                    .await
                    .unwrap_or_else(|e| panic!("{case}: {s} again: {e:?}"));
            }
            let g = granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
            settle(&env, &r).await;
            let _ = g;
            invariants(&env, &d, &case).await;
        }
    }
}

/// Dev's requests are listed under their person (issuer and `sub`), not the bare `sub`.
fn dev_key() -> String {
    shared::model::Person {
        issuer: Some("https://idp.example.com".into()),
        sub: DEV.sub.into(),
    }
    .key()
}
