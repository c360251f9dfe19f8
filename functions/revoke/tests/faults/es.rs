//! The fault matrix (Elasticsearch): each failure kind injected at each target call of
//! provision (user mode with a new account, api_key mode with an existing one), revoke (manual
//! and expiry) and connector rotation, then the retry or sweep runs, and the invariants hold:
//! no role, API key or enabled account on the cluster that no live grant accounts for, no
//! access after a grant's end, and the connector still works.
//!
//! Kinds: 503 and 429 on every attempt (the retries exhausted), a dropped connection, and an
//! answer slower than the invocation's budget. Sized for CI: one environment per scenario, the
//! cases run in turn inside it (about 40 cases).

use fixtures::flows::{
    auth_of, cleanup_app, credentials, discover_app, flows, granted, provision_app, register,
    revoke_app,
};
use fixtures::{DEV, Env, es_seed, event, response};
use reqwest::Method;
use serde_json::json;
use shared::store::IntegrationStore;

use crate::common::*;

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
pub async fn reset_account(env: &Env) {
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
                let ev = end_event(&env, cause, &id, DEV);
                inject(&env, kind, method, path).await;
                let out = invoke_revoke(&r, kind, ev).await;
                heal(&env, kind).await;
                assert_revoke_recorded(cause, out, &case);
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
            // The faulted steps run with the short budget; the redelivery after healing with a
            // real one, so a loaded machine cannot pass for a fault.
            let step_within = |name: &str, until: std::time::Instant| {
                let mut ev = event(&format!("rotate/{name}.json"));
                ev["SecretId"] = json!(arn);
                ev["ClientRequestToken"] = json!(token);
                rot.handle_within(ev, until)
            };
            let step = |name: &str| step_within(name, deadline());
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
                step_within(
                    s,
                    std::time::Instant::now() + std::time::Duration::from_secs(30),
                )
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
