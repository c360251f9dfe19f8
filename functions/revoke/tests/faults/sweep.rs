//! The cleanup sweep under faults: each failure kind at each call of the expiry backstop
//! (revoking an overdue grant) and of the orphan sweep's inventory (`POST /_security/_query/user`,
//! `POST /_security/_query/role`, `POST /_security/_query/api_key`). The faulted run reports errors or
//! stops short, deletes nothing live, and a later run finishes with nothing left behind.

use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use fixtures::flows::{
    auth_of, cleanup_app, credentials, discover_app, flows, granted, provision_app, register,
    revoke_app,
};
use fixtures::{DEV, Env, es_seed, event};
use reqwest::Method;
use serde_json::{Value, json};
use shared::model::RequestStatus;

use crate::common::{KINDS, Kind, SLOW_MS, heal, inject, invariants, settle, status_of};

async fn run(c: &cleanup::App, within: StdDuration) -> Value {
    c.handle(event("cleanup/schedule.json"), Instant::now() + within)
        .await
        .unwrap()
}

#[tokio::test]
async fn sweep_faults_at_every_call_delete_nothing_live_and_a_later_run_finishes() {
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
        ("POST", "/_security/_query/user"),
        ("POST", "/_security/_query/role"),
        ("POST", "/_security/_query/api_key"),
    ];
    for (method, path) in calls {
        for kind in KINDS {
            let case = format!("sweep: {kind:?} at {method} {path}");
            // One grant overdue, one live on the same account.
            let overdue = granted(&p, DEV, "keys-auto", &["logs-2026.11"]).await;
            let overdue = overdue["id"].as_str().unwrap().to_string();
            let (_, old_creds) = credentials(&p, DEV, &overdue).await;
            env.clock.advance(Duration::minutes(50));
            let live = granted(&p, DEV, "keys-auto", &["logs-2026.10"]).await;
            let live = live["id"].as_str().unwrap().to_string();
            let (_, live_creds) = credentials(&p, DEV, &live).await;
            env.clock.advance(Duration::minutes(11));

            inject(&env, kind, method, path).await;
            // A slow target: a run whose deadline comes before the answer.
            let within = if kind == Kind::TooSlow {
                c.margin + StdDuration::from_millis(SLOW_MS / 2)
            } else {
                StdDuration::from_secs(60)
            };
            let started = Instant::now();
            let report = run(&c, within).await;
            assert!(started.elapsed() < within, "{case}: ran past its deadline");
            heal(&env, kind).await;
            let inventory = method == "GET" || path.contains("_query");
            if inventory {
                // The overdue grant is expired before the inventory is read.
                assert!(
                    report["errors"].as_u64() > Some(0) || report["complete"] == false,
                    "{case}: the failure is not reported: {report}"
                );
            }
            assert_eq!(
                status_of(&env, &live).await,
                Some(RequestStatus::Active),
                "{case}"
            );
            assert_eq!(
                env.es_status(
                    Method::GET,
                    "/logs-2026.10/_search",
                    &auth_of(&live_creds),
                    None
                )
                .await,
                200,
                "{case}: the live grant was cut: {report}"
            );
            // A later run (past any revoke backoff) finishes.
            env.clock.advance(Duration::minutes(5));
            let again = run(&c, StdDuration::from_secs(60)).await;
            assert_eq!(again["complete"], true, "{case}: {again}");
            assert_eq!(again["errors"], 0, "{case}: {again}");
            assert_eq!(
                status_of(&env, &overdue).await,
                Some(RequestStatus::Expired),
                "{case}"
            );
            assert_eq!(
                env.es_status(
                    Method::GET,
                    "/logs-2026.11/_search",
                    &auth_of(&old_creds),
                    None
                )
                .await,
                401,
                "{case}: the overdue key still works"
            );
            invariants(&env, &d, &case).await;
            settle(&env, &r).await;
        }
    }
}
