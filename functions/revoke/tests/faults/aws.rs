//! The AWS side of the matrix: the functions' AWS clients go through a loopback fault proxy
//! in front of moto, which answers 500, `ThrottlingException`, drops the connection, answers
//! later than the SDK's attempt timeout (the call still lands), or holds the call while the
//! handler is dropped (the function killed while waiting on AWS), for one chosen call: Secrets Manager (the account's credential secret create, the connector and
//! password reads, the grant key secret's create and delete), Scheduler (the expiry schedule's
//! create and delete) and DynamoDB (the final record write). After the sweep (and the caller's
//! retry of a revoke that failed to answer), the Elasticsearch invariants hold and nothing is
//! half-applied: no grant key secret outlives its grant, no grant is active without its record.

use std::future::Future;
use std::time::Duration as StdDuration;

use fixtures::aws_faults::{AwsFault, AwsFaultProxy, AwsKind};
use fixtures::flows::{
    auth_of, cleanup_app, credentials, discover_app, flows, granted, provision_app, register,
    revoke_app,
};
use fixtures::{DEV, Env, es_seed, event, http, response};
use reqwest::Method;
use shared::model::RequestStatus;

use crate::common::{ask, invariants, settle, status_of, sweep};

/// Past the attempt timeout, so every attempt of the call times out (and lands later).
const SLOW: StdDuration =
    StdDuration::from_millis(test_harness::FAULT_ATTEMPT_TIMEOUT.as_millis() as u64 + 500);

const KINDS: [AwsKind; 4] = [
    AwsKind::ServerError,
    AwsKind::Throttled,
    AwsKind::Dropped,
    AwsKind::Latency(SLOW),
];

/// Forward everything again; a slow call the SDK gave up on may still land, so wait until it
/// has before judging what is left.
async fn heal(proxy: &AwsFaultProxy) -> usize {
    let hits = proxy.clear();
    proxy.landed().await;
    hits
}

/// The call names the proxy matches, with an optional body text.
type Call = (&'static str, Option<&'static str>);

const FINAL_ACTIVE: Call = ("DynamoDB_20120810.", Some(r#""status":{"S":"active"}"#));
const FINAL_REVOKED: Call = ("DynamoDB_20120810.", Some(r#""status":{"S":"revoked"}"#));
const FINAL_EXPIRED: Call = ("DynamoDB_20120810.", Some(r#""status":{"S":"expired"}"#));

fn fault((call, body): Call, kind: AwsKind) -> AwsFault {
    let f = AwsFault::new(call, kind);
    match body {
        Some(b) => f.with_body(b),
        None => f,
    }
}

/// No grant key secret for a grant that is not active.
async fn secrets_invariant(env: &Env, case: &str) {
    let prefix = format!("{}prod-search/grants/", env.secret_prefix);
    let listed = env.secrets_client().list_secrets().send().await.unwrap();
    for s in listed.secret_list() {
        let name = s.name().unwrap_or_default();
        let Some(id) = name.strip_prefix(&prefix) else {
            continue;
        };
        if s.deleted_date().is_some() {
            continue;
        }
        assert_eq!(
            status_of(env, id).await,
            Some(RequestStatus::Active),
            "{case}: the key secret of {id} outlives its grant"
        );
    }
}

struct Apps {
    d: discover::App,
    p: provision::App,
    r: revoke::App,
    c: cleanup::App,
}

/// An environment whose AWS calls go through the fault proxy, `prod-search` registered with
/// the given flows.
async fn proxied(with_flows: &[&str]) -> (AwsFaultProxy, Env, Apps) {
    let proxy = AwsFaultProxy::start(&test_harness::aws_endpoint()).await;
    let env = Env::start_via(es_seed(), proxy.url()).await;
    let apps = Apps {
        d: discover_app(&env),
        p: provision_app(&env),
        r: revoke_app(&env),
        c: cleanup_app(&env),
    };
    register(&env, &apps.d, serde_json::json!({})).await;
    flows(&apps.d, with_flows).await;
    (proxy, env, apps)
}

#[tokio::test]
async fn aws_faults_during_provision_leave_nothing_half_applied() {
    let (proxy, env, Apps { d, p, r, c }) = proxied(&["logs-auto", "keys-auto"]).await;
    let scenarios: [(&str, &str, bool, &[Call]); 2] = [
        (
            "user mode, new account",
            "logs-auto",
            false,
            &[
                ("secretsmanager.CreateSecret", None),
                ("secretsmanager.GetSecretValue", None),
                ("POST /schedules/", None),
                FINAL_ACTIVE,
            ],
        ),
        (
            "api_key mode, existing account",
            "keys-auto",
            true,
            &[
                ("secretsmanager.GetSecretValue", None),
                ("secretsmanager.CreateSecret", None),
                ("POST /schedules/", None),
                FINAL_ACTIVE,
            ],
        ),
    ];
    for (scenario, flow, existing, calls) in scenarios {
        for call in calls {
            for kind in KINDS {
                let case = format!("{scenario}: {kind:?} at {} {:?}", call.0, call.1);
                if existing {
                    granted(&p, DEV, flow, &["logs-2026.10"]).await;
                    settle(&env, &r).await;
                } else {
                    crate::es::reset_account(&env).await;
                }
                proxy.arm(fault(*call, kind));
                let (s, b) = response(p.handle(ask(flow, "logs-2026.11")).await.unwrap());
                let hits = heal(&proxy).await;
                assert!(hits > 0, "{case}: the call was never made");
                assert!(
                    s == 201 || s >= 500,
                    "{case}: answered {s} {}",
                    fixtures::redacted(&b)
                );
                if b["status"] == "active" {
                    // Answered as granted: it is, with credentials that work.
                    let id = b["id"].as_str().unwrap();
                    let (cs, creds) = credentials(&p, DEV, id).await;
                    assert_eq!(
                        cs,
                        200,
                        "{case}: a granted request without credentials: {}",
                        fixtures::redacted(&creds)
                    );
                    assert_eq!(
                        env.es_status(Method::GET, "/logs-2026.11/_search", &auth_of(&creds), None)
                            .await,
                        200,
                        "{case}: the credentials do not work"
                    );
                }
                sweep(&env, &c).await;
                invariants(&env, &d, &case).await;
                secrets_invariant(&env, &case).await;
                settle(&env, &r).await;
                secrets_invariant(&env, &case).await;
            }
        }
    }
}

#[tokio::test]
async fn aws_faults_during_revoke_are_finished_by_a_retry_or_the_sweep() {
    let (proxy, env, Apps { d, p, r, c }) = proxied(&["keys-auto"]).await;
    let calls: [Call; 4] = [
        ("secretsmanager.GetSecretValue", None),
        ("DELETE /schedules/", None),
        ("secretsmanager.DeleteSecret", None),
        FINAL_REVOKED,
    ];
    for call in calls {
        for kind in KINDS {
            let case = format!("revoke: {kind:?} at {} {:?}", call.0, call.1);
            let grant = granted(&p, DEV, "keys-auto", &["logs-2026.11"]).await;
            let id = grant["id"].as_str().unwrap().to_string();
            let (_, creds) = credentials(&p, DEV, &id).await;
            let ev = http(
                event("revoke/post-revoke.json"),
                &format!("/requests/{id}/revoke"),
                DEV,
                None,
            );
            proxy.arm(fault(call, kind));
            let out = r.handle(ev.clone()).await;
            let hits = heal(&proxy).await;
            assert!(hits > 0, "{case}: the call was never made");
            let answered = out.ok().map(response);
            let done = matches!(
                answered.as_ref().map(|(s, b)| (*s, b["status"].as_str())),
                Some((200, Some("revoked")) | (202, Some("revoke_failed")))
            );
            if !done {
                // Nothing recorded: the caller sees an error and asks again.
                let (s, b) = response(r.handle(ev).await.unwrap());
                assert!(
                    matches!(
                        (s, b["status"].as_str()),
                        (200, Some("revoked")) | (202, Some("revoke_failed"))
                    ),
                    "{case}: the retry answered {s} {b} (first: {answered:?})"
                );
            }
            sweep(&env, &c).await;
            assert_eq!(
                status_of(&env, &id).await,
                Some(RequestStatus::Revoked),
                "{case}"
            );
            assert_eq!(
                env.es_status(Method::GET, "/logs-2026.11/_search", &auth_of(&creds), None)
                    .await,
                401,
                "{case}: the key still works"
            );
            invariants(&env, &d, &case).await;
            secrets_invariant(&env, &case).await;
        }
    }
}

/// No expiry schedule for a grant that is not active.
async fn schedules_invariant(env: &Env, case: &str) {
    let listed = env
        .scheduler_client
        .list_schedules()
        .group_name(&env.schedule_group)
        .send()
        .await
        .unwrap();
    for s in listed.schedules() {
        let Some(id) = s.name().and_then(|n| n.strip_prefix("ejit-")) else {
            continue;
        };
        assert_eq!(
            status_of(env, id).await,
            Some(RequestStatus::Active),
            "{case}: the expiry schedule of {id} outlives its grant"
        );
    }
}

/// Hold `call` at the proxy and run `work` until the proxy has taken it; then drop `work`, as
/// Lambda does when it kills an invocation. Panics if `work` finishes without making the call.
async fn die_at<F: Future>(proxy: &AwsFaultProxy, call: Call, work: F) {
    proxy.arm(fault(call, AwsKind::Hang));
    let taken = async {
        while proxy.hits() == 0 {
            tokio::time::sleep(StdDuration::from_millis(10)).await;
        }
    };
    tokio::select! {
        _ = work => panic!("the handler finished without reaching {} {:?}", call.0, call.1),
        () = taken => {}
    }
    proxy.clear();
}

#[tokio::test]
async fn provision_killed_at_each_aws_call_leaves_nothing_usable() {
    let (proxy, env, Apps { d, p, r, c }) = proxied(&["logs-auto", "keys-auto"]).await;
    let cases: [(&str, Call); 6] = [
        ("logs-auto", ("secretsmanager.CreateSecret", None)),
        ("logs-auto", ("POST /schedules/", None)),
        ("logs-auto", FINAL_ACTIVE),
        ("keys-auto", ("secretsmanager.CreateSecret", None)),
        ("keys-auto", ("POST /schedules/", None)),
        ("keys-auto", FINAL_ACTIVE),
    ];
    for (flow, call) in cases {
        let case = format!("provision ({flow}) killed at {} {:?}", call.0, call.1);
        if flow == "logs-auto" {
            crate::es::reset_account(&env).await;
        }
        die_at(&proxy, call, p.handle(ask(flow, "logs-2026.11"))).await;
        let report = sweep(&env, &c).await;
        assert_eq!(report["stuck_failed"], 1, "{case}: {report}");
        invariants(&env, &d, &case).await;
        secrets_invariant(&env, &case).await;
        schedules_invariant(&env, &case).await;
        // The account is usable again: a new grant works and ends cleanly.
        granted(&p, DEV, flow, &["logs-2026.10"]).await;
        settle(&env, &r).await;
        invariants(&env, &d, &case).await;
        secrets_invariant(&env, &case).await;
        schedules_invariant(&env, &case).await;
    }
}

#[tokio::test]
async fn revoke_killed_at_each_aws_call_is_finished_by_redelivery_and_the_sweep() {
    let (proxy, env, Apps { d, p, r, c }) = proxied(&["keys-auto"]).await;
    for cause in ["manual", "expiry"] {
        let last = if cause == "manual" {
            FINAL_REVOKED
        } else {
            FINAL_EXPIRED
        };
        let calls: [Call; 3] = [
            ("DELETE /schedules/", None),
            ("secretsmanager.DeleteSecret", None),
            last,
        ];
        for call in calls {
            let case = format!("{cause} revoke killed at {} {:?}", call.0, call.1);
            let grant = granted(&p, DEV, "keys-auto", &["logs-2026.11"]).await;
            let id = grant["id"].as_str().unwrap().to_string();
            let (_, creds) = credentials(&p, DEV, &id).await;
            let ev = crate::common::end_event(&env, cause, &id, DEV);
            die_at(&proxy, call, r.handle(ev.clone())).await;
            sweep(&env, &c).await;
            invariants(&env, &d, &case).await;
            // The caller (or Scheduler) delivers again; the grant ends for good.
            r.handle(ev).await.unwrap();
            sweep(&env, &c).await;
            assert_eq!(
                status_of(&env, &id).await,
                Some(crate::common::ended_as(cause)),
                "{case}"
            );
            assert_eq!(
                env.es_status(Method::GET, "/logs-2026.11/_search", &auth_of(&creds), None)
                    .await,
                401,
                "{case}: the key still works"
            );
            invariants(&env, &d, &case).await;
            secrets_invariant(&env, &case).await;
            schedules_invariant(&env, &case).await;
        }
    }
}
