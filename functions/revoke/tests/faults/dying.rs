//! The function dying mid-way: a target call that never answers (a `hang` fault: the call is
//! not applied), and the handler's future dropped as soon as the target has received it, as
//! when Lambda kills an invocation. Then the sweep (`fail_stuck`, the orphan sweep) runs, and
//! nothing usable is left that no live grant accounts for; a redelivered revoke finishes.

use std::future::Future;
use std::time::Duration as StdDuration;

use fixtures::cloud::{BOB, CloudEnv, DAVE, INTEGRATION, PROD, cloud_flows};
use fixtures::flows::{
    auth_of, cleanup_app, credentials, discover_app, flows, granted, provision_app, register,
    revoke_app,
};
use fixtures::{DEV, Env, Person, es_seed, event, http, response};
use reqwest::Method;
use serde_json::{Value, json};
use shared::model::RequestStatus;

use crate::common::{ask, end_event, ended_as, invariants, settle, status_of, sweep};

/// Long enough that the answer never comes within a test.
const HANG_MS: u64 = 600_000;

/// Arm a one-shot hang at `base` (an emulator URL) and run `work` until the emulator has
/// taken it; then drop `work`. Panics if `work` finishes without reaching the call.
async fn die_at<F: Future>(http: &reqwest::Client, base: &str, method: &str, path: &str, work: F) {
    let fault =
        json!({"method": method, "path": path, "count": 1, "status": 503, "latency_ms": HANG_MS});
    let r = http
        .post(format!("{base}/_emulator/faults"))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "fault {fault}");
    let taken = async {
        loop {
            tokio::time::sleep(StdDuration::from_millis(10)).await;
            let f: Value = http
                .get(format!("{base}/_emulator/faults"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if f["faults"].as_array().is_none_or(Vec::is_empty) {
                return;
            }
        }
    };
    tokio::select! {
        _ = work => panic!("the handler finished without reaching {method} {path}"),
        () = taken => {}
    }
    let _ = http.delete(format!("{base}/_emulator/faults")).send().await;
}

#[tokio::test]
async fn es_provision_killed_at_each_target_call_leaves_nothing_usable() {
    let env = Env::start(es_seed()).await;
    let (d, p, r, c) = (
        discover_app(&env),
        provision_app(&env),
        revoke_app(&env),
        cleanup_app(&env),
    );
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto", "keys-auto"]).await;
    let calls: [(&str, &str, &str); 5] = [
        ("logs-auto", "PUT", "/_security/role/*"),
        ("logs-auto", "PUT", "/_security/user/*"),
        ("keys-auto", "PUT", "/_security/role/*"),
        ("keys-auto", "PUT", "/_security/user/*"),
        ("keys-auto", "POST", "/_security/api_key/grant"),
    ];
    for (flow, method, path) in calls {
        let case = format!("provision ({flow}) killed at {method} {path}");
        die_at(
            &env.http,
            &env.es.url(),
            method,
            path,
            p.handle(ask(flow, "logs-2026.11")),
        )
        .await;
        let report = sweep(&env, &c).await;
        assert_eq!(report["stuck_failed"], 1, "{case}: {report}");
        invariants(&env, &d, &case).await;
        // The account is usable again: a new grant works and ends cleanly.
        granted(&p, DEV, flow, &["logs-2026.10"]).await;
        settle(&env, &r).await;
        invariants(&env, &d, &case).await;
    }
}

#[tokio::test]
async fn es_revoke_killed_at_each_target_call_is_finished_by_redelivery_and_the_sweep() {
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
            let case = format!("{cause} revoke killed at {method} {path}");
            let grant = granted(&p, DEV, "keys-auto", &["logs-2026.11"]).await;
            let id = grant["id"].as_str().unwrap().to_string();
            let (_, creds) = credentials(&p, DEV, &id).await;
            let ev = end_event(&env, cause, &id, DEV);
            die_at(&env.http, &env.es.url(), method, path, r.handle(ev.clone())).await;
            // Whatever the dead revoke left is either still the live grant's or swept.
            sweep(&env, &c).await;
            invariants(&env, &d, &case).await;
            // The caller (or Scheduler) delivers again; the grant ends for good.
            r.handle(ev).await.unwrap();
            sweep(&env, &c).await;
            assert_eq!(status_of(&env, &id).await, Some(ended_as(cause)), "{case}");
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

fn ask_cloud(who: Person) -> Value {
    let mut ev = http(
        event("provision/post-request.json"),
        "/requests",
        who,
        Some(json!({"integration": INTEGRATION, "resources": [PROD],
                    "permission": "deployment-viewer", "duration": "1h", "flow": "deploy-auto"})),
    );
    if let Some(h) = ev["headers"].as_object_mut() {
        h.remove("idempotency-key");
    }
    ev
}

#[tokio::test]
async fn cloud_provision_and_revoke_killed_at_each_call_leave_nothing_usable() {
    let env = CloudEnv::start().await;
    let (d, p, r, c) = (
        discover_app(&env),
        provision_app(&env),
        revoke_app(&env),
        cleanup_app(&env),
    );
    env.register(&d).await;
    cloud_flows(&d, &["deploy-auto"]).await;
    let base = env.cloud.url();
    let provision_calls: [(Person, &str, &str); 3] = [
        (BOB, "GET", "/api/v1/organizations/*/members"),
        (BOB, "POST", "/api/v1/users/*/role_assignments"),
        (DAVE, "POST", "/api/v1/organizations/*/invitations"),
    ];
    for (who, method, path) in provision_calls {
        let case = format!("cloud provision ({}) killed at {method} {path}", who.email);
        die_at(&env.http, &base, method, path, p.handle(ask_cloud(who))).await;
        let report = sweep(&env, &c).await;
        assert_eq!(report["stuck_failed"], 1, "{case}: {report}");
        crate::cloud::invariants(&env, &d, &case).await;
    }
    let revoke_calls: [(Person, &str, &str); 2] = [
        (BOB, "DELETE", "/api/v1/users/*/role_assignments"),
        (DAVE, "DELETE", "/api/v1/organizations/*/invitations/*"),
    ];
    for (who, method, path) in revoke_calls {
        let case = format!("cloud revoke ({}) killed at {method} {path}", who.email);
        let (s, g) = response(p.handle(ask_cloud(who)).await.unwrap());
        assert_eq!(
            (s, g["status"].as_str()),
            (201, Some("active")),
            "{case}: {g}"
        );
        let id = g["id"].as_str().unwrap().to_string();
        let ev = http(
            event("revoke/post-revoke.json"),
            &format!("/requests/{id}/revoke"),
            who,
            None,
        );
        die_at(&env.http, &base, method, path, r.handle(ev.clone())).await;
        sweep(&env, &c).await;
        crate::cloud::invariants(&env, &d, &case).await;
        let (s, b) = response(r.handle(ev).await.unwrap());
        assert_eq!(s, 200, "{case}: {b}");
        assert_eq!(
            status_of(&env, &id).await,
            Some(RequestStatus::Revoked),
            "{case}"
        );
        assert!(
            !env.holds(who.email, "deployment-viewer", PROD).await,
            "{case}: still held"
        );
        crate::cloud::invariants(&env, &d, &case).await;
    }
}
