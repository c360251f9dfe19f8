//! Helpers every part of the matrix shares: the failure kinds, how a handler is invoked with
//! an invocation's budget, the sweep, and the Elasticsearch invariants.

use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use fixtures::{DEV, Env, event, http, response};
use serde_json::{Value, json};
use shared::model::RequestStatus;
use shared::services::RECORD_RESERVE;
use shared::store::RequestStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Unavailable,
    Throttled,
    Dropped,
    TooSlow,
}

pub const KINDS: [Kind; 4] = [
    Kind::Unavailable,
    Kind::Throttled,
    Kind::Dropped,
    Kind::TooSlow,
];
/// Longer than [`BUDGET`]: a slow answer always outlives the invocation's target budget.
pub const SLOW_MS: u64 = 2500;
pub const BUDGET: StdDuration = StdDuration::from_millis(1000);

/// Every attempt of the call fails (the fixtures' drivers retry twice).
pub async fn inject(env: &Env, kind: Kind, method: &str, path: &str) {
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
pub async fn heal(env: &Env, kind: Kind) {
    env.clear_es_faults().await;
    if kind == Kind::TooSlow {
        tokio::time::sleep(StdDuration::from_millis(SLOW_MS + 200)).await;
    }
}

pub fn deadline() -> Instant {
    Instant::now() + RECORD_RESERVE + BUDGET
}

/// The handler answered before the invocation's deadline (Lambda would have killed it).
pub fn answered_in_time(deadline: Instant, case: &str) {
    let now = Instant::now();
    assert!(
        now < deadline,
        "{case}: answered {:?} after its deadline",
        now - deadline
    );
}

/// Invoke a handler as Lambda would, with a short budget when the kind is a slow target.
pub async fn invoke_provision(p: &provision::App, kind: Kind, ev: Value) -> Value {
    if kind == Kind::TooSlow {
        let d = deadline();
        let out = p.handle_within(ev, d).await.unwrap();
        answered_in_time(d, "provision");
        out
    } else {
        p.handle(ev).await.unwrap()
    }
}

pub async fn invoke_revoke(r: &revoke::App, kind: Kind, ev: Value) -> Value {
    if kind == Kind::TooSlow {
        let d = deadline();
        let out = r.handle_within(ev, d).await.unwrap();
        answered_in_time(d, "revoke");
        out
    } else {
        r.handle(ev).await.unwrap()
    }
}

pub fn ask(flow: &str, resource: &str) -> Value {
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

pub async fn sweep(env: &Env, c: &cleanup::App) -> Value {
    // Past any revoke backoff and the provisioning grace period.
    env.clock.advance(Duration::minutes(16));
    c.handle(
        event("cleanup/schedule.json"),
        Instant::now() + StdDuration::from_secs(60),
    )
    .await
    .unwrap()
}

pub async fn state(env: &Env, what: &str) -> Value {
    env.http
        .get(format!("{}/_emulator/state/{what}", env.es.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn status_of(env: &Env, id: &str) -> Option<RequestStatus> {
    env.store.get_request(id).await.unwrap().map(|r| r.status)
}

/// Nothing on the cluster that no live grant accounts for, and the connector works.
pub async fn invariants(env: &Env, d: &discover::App, case: &str) {
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
pub async fn settle(env: &Env, r: &revoke::App) {
    for req in env
        .store
        .requests_of(&DEV.key(), 100, None)
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

/// The event that ends grant `id`: `who` revoking it (`cause` "manual"), or its expiry
/// schedule firing once the clock has passed the grant's hour ("expiry").
pub fn end_event(env: &Env, cause: &str, id: &str, who: fixtures::Person) -> Value {
    if cause == "manual" {
        http(
            event("revoke/post-revoke.json"),
            &format!("/requests/{id}/revoke"),
            who,
            None,
        )
    } else {
        env.clock.advance(Duration::hours(1));
        let mut e = event("revoke/expiry.json");
        e["grant_id"] = json!(id);
        e
    }
}

/// A faulted revoke either finished or recorded its failure for the sweep, as the caller
/// (manual: the HTTP answer) or Scheduler (expiry: the outcome) sees it.
pub fn assert_revoke_recorded(cause: &str, out: Value, case: &str) {
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
}

/// What a grant ended by `cause` is once the sweep has finished it.
pub fn ended_as(cause: &str) -> RequestStatus {
    if cause == "manual" {
        RequestStatus::Revoked
    } else {
        RequestStatus::Expired
    }
}
