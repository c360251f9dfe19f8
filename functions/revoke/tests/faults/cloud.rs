//! The fault matrix on Elastic Cloud: each failure kind at each Cloud API call of provision
//! (a member gets a role assignment, a non-member an invitation), revoke (manual and expiry:
//! the assignment's DELETE, the invitation list and DELETE) and connector rotation (the new
//! key's create, its test, the old key's delete), through the Cloud emulator's
//! `/_emulator/faults`. Afterwards: no assignment or invitation that no live grant accounts
//! for, nothing usable after a grant's end, one connector key, and the connector works.

use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use cloud_emulator::OWNER_KEY_ID;
use fixtures::cloud::{BOB, CloudEnv, DAVE, INTEGRATION, PROD, cloud_flows};
use fixtures::flows::{cleanup_app, discover_app, provision_app, revoke_app};
use fixtures::{Env, Person, event, http, response};
use reqwest::Method;
use serde_json::{Value, json};
use shared::model::{RequestStatus, TargetObject};
use shared::secrets::{AWSCURRENT, SecretStore};
use shared::store::RequestStore;

use crate::common::{
    KINDS, Kind, answered_in_time, assert_revoke_recorded, deadline, end_event, ended_as, status_of,
};

const VIEWER: &str = "deployment-viewer";
/// Longer than [`BUDGET`], shorter than the ES matrix's: the Cloud calls are few.
const SLOW_MS: u64 = 1500;

/// Every attempt of the matching Cloud API call fails as `kind` says.
pub async fn inject(env: &CloudEnv, kind: Kind, method: &str, path: &str) {
    let mut fault = json!({"method": method, "path": path, "count": 3});
    match kind {
        Kind::Unavailable => fault["status"] = json!(503),
        Kind::Throttled => fault["status"] = json!(429),
        Kind::Dropped => fault["drop_connection"] = json!(true),
        Kind::TooSlow => fault["latency_ms"] = json!(SLOW_MS),
    }
    let (s, b) = env.control(Method::POST, "/faults", Some(fault)).await;
    assert_eq!(s, 201, "{b}");
}

/// Stop faulting, and let a slow call the client gave up on land first.
pub async fn heal(env: &CloudEnv, kind: Kind) {
    let (s, _) = env.control(Method::DELETE, "/faults", None).await;
    assert_eq!(s, 200);
    if kind == Kind::TooSlow {
        tokio::time::sleep(StdDuration::from_millis(SLOW_MS + 200)).await;
    }
}

fn ask(flow: &str, resource: &str, who: Person) -> Value {
    let mut ev = http(
        event("provision/post-request.json"),
        "/requests",
        who,
        Some(json!({"integration": INTEGRATION, "resources": [resource],
                    "permission": VIEWER, "duration": "1h", "flow": flow})),
    );
    if let Some(h) = ev["headers"].as_object_mut() {
        h.remove("idempotency-key");
    }
    ev
}

fn revoke_event(id: &str, who: Person) -> Value {
    http(
        event("revoke/post-revoke.json"),
        &format!("/requests/{id}/revoke"),
        who,
        None,
    )
}

async fn sweep(env: &Env, c: &cleanup::App) -> Value {
    env.clock.advance(Duration::minutes(16));
    c.handle(
        event("cleanup/schedule.json"),
        Instant::now() + StdDuration::from_secs(60),
    )
    .await
    .unwrap()
}

async fn active_of(env: &Env, who: Person) -> Vec<shared::model::AccessRequest> {
    env.store
        .requests_of(&who.key(), 100, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|r| r.status == RequestStatus::Active)
        .collect()
}

fn pending(invitations: &[Value]) -> Vec<Value> {
    invitations
        .iter()
        .filter(|i| i["accepted_at"].is_null() && i["expired"] != json!(true))
        .cloned()
        .collect()
}

/// Every pending invitation and every role bob or dave holds is some active grant's; the
/// connector still works.
pub async fn invariants(env: &CloudEnv, d: &discover::App, case: &str) {
    let mut granted_tokens = Vec::new();
    for who in [BOB, DAVE] {
        let active = active_of(env, who).await;
        for r in &active {
            for o in &r.created_objects {
                if let TargetObject::CloudInvitation { token, .. } = o {
                    granted_tokens.push(token.clone());
                }
            }
        }
        if let Some(m) = env.member(who.email).await {
            for a in m["role_assignments"]["deployment"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let ids: Vec<String> = a["deployment_ids"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i.as_str().map(str::to_string))
                    .collect();
                let covered = active.iter().any(|r| {
                    a["role_id"] == r.permission.as_str()
                        && ids.iter().all(|i| r.resources.contains(i))
                });
                if !covered {
                    let all = env
                        .store
                        .requests_of(&who.key(), 100, None)
                        .await
                        .unwrap()
                        .items;
                    let states: Vec<String> = all
                        .iter()
                        .map(|r| format!("{} {}", r.id, r.status))
                        .collect();
                    panic!(
                        "{case}: {} holds {a} of no live grant ({states:?})",
                        who.email
                    );
                }
            }
        }
    }
    for i in pending(&env.invitations().await) {
        let token = i["token"].as_str().unwrap_or_default().to_string();
        assert!(
            granted_tokens.contains(&token),
            "{case}: invitation for {} that no live grant accounts for",
            i["email"]
        );
    }
    let (s, b) = env
        .admin_call(
            d,
            "discover/post-discover.json",
            &format!("/integrations/{INTEGRATION}/discover"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{case}: the connector no longer works: {b}");
}

/// Revoke what bob and dave still hold; afterwards nothing of theirs is left.
async fn settle(env: &CloudEnv, r: &revoke::App, case: &str) {
    for who in [BOB, DAVE] {
        for req in active_of(env, who).await {
            let (s, b) = response(r.handle(revoke_event(&req.id, who)).await.unwrap());
            assert_eq!(s, 200, "{case}: {b}");
        }
    }
    assert!(!env.holds(BOB.email, VIEWER, PROD).await, "{case}: bob");
    assert!(!env.holds(DAVE.email, VIEWER, PROD).await, "{case}: dave");
    assert!(
        pending(&env.invitations().await).is_empty(),
        "{case}: an invitation outlives its revoke"
    );
}

#[tokio::test]
async fn cloud_provision_faults_at_every_call_leave_nothing_behind() {
    let env = CloudEnv::start().await;
    let (d, p, r, c) = (
        discover_app(&env),
        provision_app(&env),
        revoke_app(&env),
        cleanup_app(&env),
    );
    env.register(&d).await;
    cloud_flows(&d, &["deploy-auto"]).await;
    let calls: [(&str, Person, &str, &str); 4] = [
        ("member", BOB, "GET", "/api/v1/organizations/*/members"),
        ("member", BOB, "POST", "/api/v1/users/*/role_assignments"),
        ("non-member", DAVE, "GET", "/api/v1/organizations/*/members"),
        (
            "non-member",
            DAVE,
            "POST",
            "/api/v1/organizations/*/invitations",
        ),
    ];
    for (who_kind, who, method, path) in calls {
        for kind in KINDS {
            let case = format!("cloud provision ({who_kind}): {kind:?} at {method} {path}");
            inject(&env, kind, method, path).await;
            let d_line = deadline();
            let out = p
                .handle_within(ask("deploy-auto", PROD, who), d_line)
                .await
                .unwrap();
            answered_in_time(d_line, &case);
            heal(&env, kind).await;
            let (s, b) = response(out);
            assert!(matches!(s, 201 | 503), "{case}: answered {s} {b}");
            sweep(&env, &c).await;
            invariants(&env, &d, &case).await;
            settle(&env, &r, &case).await;
        }
    }
}

#[tokio::test]
async fn cloud_revoke_faults_at_every_call_are_finished_by_the_sweep() {
    let env = CloudEnv::start().await;
    let (d, p, r, c) = (
        discover_app(&env),
        provision_app(&env),
        revoke_app(&env),
        cleanup_app(&env),
    );
    env.register(&d).await;
    cloud_flows(&d, &["deploy-auto"]).await;
    let calls: [(&str, Person, &str, &str); 3] = [
        ("member", BOB, "DELETE", "/api/v1/users/*/role_assignments"),
        (
            "invited",
            DAVE,
            "GET",
            "/api/v1/organizations/*/invitations",
        ),
        (
            "invited",
            DAVE,
            "DELETE",
            "/api/v1/organizations/*/invitations/*",
        ),
    ];
    for cause in ["manual", "expiry"] {
        for (who_kind, who, method, path) in calls {
            for kind in KINDS {
                let case =
                    format!("cloud {cause} revoke ({who_kind}): {kind:?} at {method} {path}");
                let (s, g) = response(p.handle(ask("deploy-auto", PROD, who)).await.unwrap());
                assert_eq!(
                    (s, g["status"].as_str()),
                    (201, Some("active")),
                    "{case}: {g}"
                );
                let id = g["id"].as_str().unwrap().to_string();
                let ev = end_event(&env, cause, &id, who);
                inject(&env, kind, method, path).await;
                let d_line = deadline();
                let out = r.handle_within(ev, d_line).await.unwrap();
                answered_in_time(d_line, &case);
                heal(&env, kind).await;
                assert_revoke_recorded(cause, out, &case);
                sweep(&env, &c).await;
                assert_eq!(status_of(&env, &id).await, Some(ended_as(cause)), "{case}");
                assert!(
                    !env.holds(who.email, VIEWER, PROD).await,
                    "{case}: still held"
                );
                invariants(&env, &d, &case).await;
                settle(&env, &r, &case).await;
            }
        }
    }
}

/// The valid keys of the organization other than the seeded viewer's.
async fn connector_keys(env: &CloudEnv, current: &str) -> Vec<String> {
    let (s, b) = env
        .cloud_api(Method::GET, "/users/auth/keys", current)
        .await;
    assert_eq!(s, 200, "{b}");
    b["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k["id"].as_str().map(str::to_string))
        .filter(|id| id != "viewer-key")
        .collect()
}

#[tokio::test]
async fn cloud_connector_rotation_faults_are_recovered_by_redelivery() {
    let env = CloudEnv::start().await;
    let (d, p, r, c) = (
        discover_app(&env),
        provision_app(&env),
        revoke_app(&env),
        cleanup_app(&env),
    );
    let rot = rotate::App {
        store: env.store.clone(),
        secrets: env.secrets.clone(),
        targets: env.targets.clone(),
        clock: std::sync::Arc::new(env.clock.clone()),
        auth: fixtures::flows::auth(),
        function_name: None,
    };
    let arn = env.register(&d).await;
    cloud_flows(&d, &["deploy-auto"]).await;
    let calls = [
        ("createSecret", "POST", "/api/v1/users/auth/keys"),
        ("testSecret", "GET", "/api/v1/users/auth/keys/*"),
        ("finishSecret", "DELETE", "/api/v1/users/auth/keys/*"),
    ];
    let mut n = 0;
    for (at, method, path) in calls {
        for kind in KINDS {
            n += 1;
            let case = format!("cloud rotation: {kind:?} at {at} ({method} {path})");
            let token = format!("4b2b3c4d-0000-4000-8000-{n:012}");
            env.begin_rotation(&arn, &token).await;
            // The faulted steps run with the short budget; the redelivery after healing with a
            // real one, so a loaded machine cannot pass for a fault.
            let step_within = |name: &str, until: std::time::Instant| {
                let mut ev = event(&format!("rotate/{name}.json"));
                ev["SecretId"] = json!(arn);
                ev["ClientRequestToken"] = json!(token);
                rot.handle_within(ev, until)
            };
            let step = |name: &str| step_within(name, deadline());
            inject(&env, kind, method, path).await;
            for s in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
                if let Err(e) = step(s).await {
                    assert!(e.retryable, "{case}: {s} failed for good: {e:?}");
                    break;
                }
            }
            heal(&env, kind).await;
            // Secrets Manager retries the rotation from the start with the same token.
            for s in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
                step_within(
                    s,
                    std::time::Instant::now() + std::time::Duration::from_secs(30),
                )
                .await
                .unwrap_or_else(|e| panic!("{case}: {s} again: {e:?}"));
            }
            // The sweep retires what finishSecret could not.
            sweep(&env, &c).await;
            let current: Value =
                serde_json::from_str(env.secrets.get(&arn, AWSCURRENT).await.unwrap().expose())
                    .unwrap();
            let key = current["api_key"].as_str().unwrap().to_string();
            let id = current["api_key_id"].as_str().unwrap().to_string();
            assert_ne!(id, OWNER_KEY_ID, "{case}: not rotated");
            assert_eq!(
                connector_keys(&env, &key).await,
                vec![id.clone()],
                "{case}: a connector key that no record accounts for"
            );
            let (s, g) = response(p.handle(ask("deploy-auto", PROD, BOB)).await.unwrap());
            assert_eq!(
                (s, g["status"].as_str()),
                (201, Some("active")),
                "{case}: {g}"
            );
            // The functions work on the new key: the grant is taken back, discovery runs.
            let id = g["id"].as_str().unwrap();
            let (s, b) = response(r.handle(revoke_event(id, BOB)).await.unwrap());
            assert_eq!(
                (s, b["status"].as_str()),
                (200, Some("revoked")),
                "{case}: {b}"
            );
            let (s, b) = env
                .admin_call(
                    &d,
                    "discover/post-discover.json",
                    &format!("/integrations/{INTEGRATION}/discover"),
                    None,
                )
                .await;
            assert_eq!(s, 200, "{case}: the connector no longer works: {b}");
        }
    }
}
