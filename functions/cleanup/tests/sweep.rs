//! The cleanup sweep against moto's server and the Elasticsearch emulator.

use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use fixtures::flows::sweep;
use fixtures::flows::{
    auth_of, cleanup_app, credentials, discover_app, flows, granted, provision_app, register,
};
use fixtures::{Auth, DEV, Env, es_seed, event, t0};
use reqwest::Method;
use serde_json::{Value, json};
use shared::clock::Clock;
use shared::model::{AccessRequest, Identity, RequestStatus, TargetObject};
use shared::store::{PrincipalStore, RequestStore};

async fn status(env: &Env, id: &str) -> String {
    env.store
        .get_request(id)
        .await
        .unwrap()
        .unwrap()
        .status
        .as_str()
        .to_string()
}

#[tokio::test]
async fn overdue_grants_expire_through_the_sweep() {
    let env = Env::start(es_seed()).await;
    let (d, p, c) = (discover_app(&env), provision_app(&env), cleanup_app(&env));
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto"]).await;
    let grant = granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
    let id = grant["id"].as_str().unwrap();
    let (_, creds) = credentials(&p, DEV, id).await;
    let report = sweep(&c).await;
    assert_eq!(
        (report["expired"].as_u64(), report["complete"].as_bool()),
        (Some(0), Some(true)),
        "not due yet: {report}"
    );
    env.clock.advance(Duration::hours(1) + Duration::seconds(1));
    let report = sweep(&c).await;
    assert_eq!(report["expired"], 1, "{report}");
    assert_eq!(status(&env, id).await, "expired");
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &auth_of(&creds), None)
            .await,
        401
    );
}

#[tokio::test]
async fn a_failed_revoke_is_retried_by_the_sweep_once_the_target_recovers() {
    let env = Env::start(es_seed()).await;
    let (d, p, c) = (discover_app(&env), provision_app(&env), cleanup_app(&env));
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto"]).await;
    let grant = granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
    let id = grant["id"].as_str().unwrap();
    env.clock.advance(Duration::hours(1) + Duration::seconds(1));
    env.es_fault("DELETE", "/_security/role/*", 100, 503).await;
    let report = sweep(&c).await;
    assert_eq!(report["still_failing"], 1, "{report}");
    let failed = env.store.get_request(id).await.unwrap().unwrap();
    assert_eq!(failed.status, RequestStatus::RevokeFailed);
    assert_eq!(failed.revoke_attempts, 1);
    assert!(failed.last_error.as_deref().unwrap().contains("503"));
    let next = failed.next_attempt_at.unwrap();
    // Not retried before its next attempt time, even though the target is back.
    env.clear_es_faults().await;
    assert_eq!(sweep(&c).await["retried"], 0);
    env.clock.set(next);
    let report = sweep(&c).await;
    assert_eq!(report["retried"], 1, "{report}");
    assert_eq!(status(&env, id).await, "expired");
    let role = env
        .es_as(
            Method::GET,
            &format!("/_security/role/ejit_grant_{id}"),
            &Auth::elastic(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(role.status().as_u16(), 404);
}

#[tokio::test]
async fn orphans_marked_as_managed_are_removed_and_nothing_else_is_touched() {
    let env = Env::start(es_seed()).await;
    let (d, p, c) = (discover_app(&env), provision_app(&env), cleanup_app(&env));
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto"]).await;
    let live = granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
    let admin = Auth::elastic();
    let managed = json!({"managed_by": "elastic-jit", "integration": "prod-search", "grant_id": "gone-grant"});
    for (path, body) in [
        (
            "/_security/role/ejit_grant_gone-grant",
            json!({"indices": [{"names": ["logs-*"], "privileges": ["read"]}], "metadata": managed}),
        ),
        (
            "/_security/role/someone_elses_role",
            json!({"indices": [{"names": ["logs-*"], "privileges": ["read"]}], "metadata": {"managed_by": "terraform"}}),
        ),
        (
            "/_security/user/ejit_leftover",
            json!({"password": "leftover-pw", "roles": [], "metadata": {"managed_by": "elastic-jit", "integration": "prod-search"}}),
        ),
        (
            "/_security/user/human",
            json!({"password": "human-pw-1", "roles": []}),
        ),
        (
            "/_security/role/other_integration",
            json!({"indices": [{"names": ["x"], "privileges": ["read"]}], "metadata": {"managed_by": "elastic-jit", "integration": "another", "grant_id": "zzz"}}),
        ),
    ] {
        assert!(
            env.es_status(Method::PUT, path, &admin, Some(body)).await < 300,
            "{path}"
        );
    }
    let report = sweep(&c).await;
    assert_eq!(report["orphans_removed"], 2, "{report}");
    let exists = |path: String| {
        let env = &env;
        async move {
            env.es_status(Method::GET, &path, &Auth::elastic(), None)
                .await
                == 200
        }
    };
    assert!(!exists("/_security/role/ejit_grant_gone-grant".into()).await);
    assert!(!exists("/_security/user/ejit_leftover".into()).await);
    assert!(
        exists("/_security/role/someone_elses_role".into()).await,
        "not ours"
    );
    assert!(exists("/_security/user/human".into()).await, "not ours");
    assert!(
        exists("/_security/role/other_integration".into()).await,
        "another integration's"
    );
    assert!(
        exists(format!(
            "/_security/role/ejit_grant_{}",
            live["id"].as_str().unwrap()
        ))
        .await,
        "a live grant's role stays"
    );
    assert!(
        exists("/_security/user/ejit_dev@example.com".into()).await,
        "a known account stays"
    );
}

#[tokio::test]
async fn idle_accounts_are_deleted_exactly_when_user_cleanup_days_have_passed() {
    let env = Env::start(es_seed()).await;
    let (d, p, c) = (discover_app(&env), provision_app(&env), cleanup_app(&env));
    register(&env, &d, json!({"user_cleanup_days": 7})).await;
    flows(&d, &["logs-auto"]).await;
    let grant = granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
    env.clock.advance(Duration::hours(1));
    assert_eq!(sweep(&c).await["expired"], 1);
    let ended = t0() + Duration::hours(1);
    let secret = env
        .store
        .get_principal("prod-search", "ejit_dev@example.com")
        .await
        .unwrap()
        .unwrap()
        .credential_secret_arn
        .unwrap();
    env.clock
        .set(ended + Duration::days(7) - Duration::minutes(1));
    assert_eq!(sweep(&c).await["accounts_deleted"], 0);
    assert_eq!(
        env.es_status(
            Method::GET,
            "/_security/user/ejit_dev@example.com",
            &Auth::elastic(),
            None
        )
        .await,
        200
    );
    env.clock.set(ended + Duration::days(7));
    assert_eq!(sweep(&c).await["accounts_deleted"], 1);
    assert_eq!(
        env.es_status(
            Method::GET,
            "/_security/user/ejit_dev@example.com",
            &Auth::elastic(),
            None
        )
        .await,
        404
    );
    assert!(
        env.store
            .get_principal("prod-search", "ejit_dev@example.com")
            .await
            .unwrap()
            .is_none()
    );
    let gone = env
        .secrets_client()
        .describe_secret()
        .secret_id(&secret)
        .send()
        .await;
    assert!(gone.is_err(), "the credential secret is deleted");
    // The request record is untouched by account cleanup.
    assert_eq!(status(&env, grant["id"].as_str().unwrap()).await, "expired");
}

fn overdue(id: usize) -> AccessRequest {
    let at = t0() - Duration::hours(2);
    let requester = Identity {
        sub: format!("bulk-user-{id}"),
        email: None,
        groups: vec![],
        ..Identity::default()
    };
    AccessRequest {
        integration: "prod-search".into(),
        flow: "logs-auto".into(),
        resources: vec!["logs-2026.11".into()],
        requested_resources: vec!["logs-2026.11".into()],
        permission: "read".into(),
        duration_secs: 3600,
        status: RequestStatus::Active,
        starts_at: Some(at),
        ends_at: Some(at + Duration::hours(1)),
        created_objects: vec![TargetObject::EsRole {
            name: format!("ejit_grant_bulk-{id:05}"),
        }],
        ..AccessRequest::fresh(format!("bulk-{id:05}"), requester, at)
    }
}

#[tokio::test]
async fn two_thousand_overdue_grants_are_revoked_by_runs_that_each_stop_before_their_deadline() {
    let env = Env::start(es_seed()).await;
    let (d, c) = (discover_app(&env), cleanup_app(&env));
    register(&env, &d, json!({})).await;
    let store = env.store.clone();
    use futures::StreamExt;
    futures::stream::iter(0..2000)
        .map(|i| {
            let store = store.clone();
            async move { store.create_request(&overdue(i), None, &[]).await.unwrap() }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    let mut expired = 0;
    let mut runs = 0;
    loop {
        runs += 1;
        let budget = StdDuration::from_secs(8);
        let started = Instant::now();
        let report = c
            .handle(event("cleanup/schedule.json"), started + budget)
            .await
            .unwrap();
        assert!(
            started.elapsed() < budget,
            "run {runs} overran its deadline: {:?}",
            started.elapsed()
        );
        expired += report["expired"].as_u64().unwrap();
        assert_eq!(report["errors"], 0, "{report}");
        if report["complete"] == true {
            break;
        }
        assert!(runs < 50, "no progress");
    }
    // A chunk cut at a deadline may have finished an item whose answer was then dropped: the
    // item is expired (the records say so) but that run could not count it.
    let cut_at_most = runs as u64 * c.concurrency as u64;
    assert!(
        (2000 - cut_at_most..=2000).contains(&expired),
        "after {runs} run(s): {expired} counted"
    );
    let statuses = futures::stream::iter(0..2000)
        .map(|i| {
            let store = store.clone();
            async move {
                store
                    .get_request(&format!("bulk-{i:05}"))
                    .await
                    .unwrap()
                    .unwrap()
                    .status
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    assert!(
        statuses.iter().all(|s| *s == RequestStatus::Expired),
        "every grant is expired"
    );
    assert!(
        env.store
            .due_requests("active", Some(env.clock.now()), 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// A requester is told once when their grant ends within 15 minutes; a grant no longer than
/// that is never warned, and an overdue one is expired rather than warned.
#[tokio::test]
async fn a_grant_ending_within_fifteen_minutes_is_marked_for_its_requester_once() {
    let env = Env::start(es_seed()).await;
    let (d, p, c) = (discover_app(&env), provision_app(&env), cleanup_app(&env));
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto"]).await;
    let hour = granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
    let hour = hour["id"].as_str().unwrap().to_string();
    let (s, short) = fixtures::flows::ask(&p, DEV, json!({"integration": "prod-search",
        "resources": ["logs-2026.10"], "permission": "read", "duration": "10m", "flow": "logs-auto"}))
    .await;
    assert_eq!(s, 201, "{short}");
    let short = short["id"].as_str().unwrap().to_string();

    // Five minutes in: the short grant ends within 15 minutes but was that short from the start.
    env.clock.advance(Duration::minutes(5));
    let report = sweep(&c).await;
    assert_eq!(report["expiry_warnings"], 0, "{report}");

    // Forty-six minutes in: the short grant is overdue (expired, not warned), the hour-long one
    // ends in 14 minutes.
    env.clock.advance(Duration::minutes(41));
    let report = sweep(&c).await;
    assert_eq!(
        (&report["expired"], &report["expiry_warnings"]),
        (&json!(1), &json!(1)),
        "{report}"
    );
    assert_eq!(status(&env, &short).await, "expired");
    let warned = env.store.get_request(&hour).await.unwrap().unwrap();
    assert_eq!(warned.status, RequestStatus::Active, "warned, not ended");
    assert_eq!(warned.expiry_warned_at, Some(env.clock.now()));
    assert_eq!(
        warned
            .history
            .iter()
            .filter(|e| e.action == "grant.expiring_soon")
            .count(),
        1
    );
    assert!(short_history_has_no_warning(&env, &short).await);

    // Once only.
    env.clock.advance(Duration::minutes(5));
    assert_eq!(sweep(&c).await["expiry_warnings"], 0);
}

async fn short_history_has_no_warning(env: &Env, id: &str) -> bool {
    let r = env.store.get_request(id).await.unwrap().unwrap();
    r.expiry_warned_at.is_none() && r.history.iter().all(|e| e.action != "grant.expiring_soon")
}

/// A scheduled start whose schedule never fired: the sweep arms it again (to the provision
/// function, a few seconds ahead), and when that fires the grant is provisioned with its
/// duration counted from the requested start.
#[tokio::test]
async fn a_missed_scheduled_start_is_armed_again_by_the_sweep() {
    let env = Env::start(es_seed()).await;
    let (d, p, c) = (discover_app(&env), provision_app(&env), cleanup_app(&env));
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto"]).await;
    let start = t0() + Duration::minutes(30);
    let (s, r) = fixtures::flows::ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h", "flow": "logs-auto", "starts_at": start.to_rfc3339()})).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("scheduled")), "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    let name = format!("ejit-start-{id}");
    // Lost: Scheduler never fires it.
    env.scheduler_client
        .delete_schedule()
        .name(&name)
        .group_name(&env.schedule_group)
        .send()
        .await
        .unwrap();
    let report = sweep(&c).await;
    assert_eq!(
        report["starts_armed"], 0,
        "not due before its start: {report}"
    );
    env.clock.advance(Duration::minutes(33));
    let report = sweep(&c).await;
    assert_eq!(report["starts_armed"], 1, "{report}");
    let armed = env
        .scheduler_client
        .get_schedule()
        .name(&name)
        .group_name(&env.schedule_group)
        .send()
        .await
        .expect("armed again");
    assert_eq!(
        armed.schedule_expression(),
        Some("at(2026-11-23T10:33:30)"),
        "fires right after the sweep"
    );
    let target = armed.target().unwrap();
    assert_eq!(target.arn(), fixtures::PROVISION_ARN);
    let input: Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(
        input,
        json!({"source": "elastic-jit.start", "grant_id": id})
    );
    assert_eq!(
        status(&env, &id).await,
        "scheduled",
        "the sweep itself provisions nothing"
    );

    let out = p.handle(input).await.unwrap();
    assert_eq!(out["status"], "active", "{out}");
    let stored = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(
        (stored.starts_at, stored.ends_at),
        (Some(start), Some(start + Duration::hours(1)))
    );
    let report = sweep(&c).await;
    assert_eq!(report["starts_armed"], 0, "{report}");
}

/// A scheduled request whose whole window passed without it starting (its start kept failing)
/// ends `failed` in the sweep instead of being armed again for ever, freeing its slot.
#[tokio::test]
async fn a_scheduled_request_whose_window_passed_ends_failed() {
    let env = Env::start(es_seed()).await;
    let (d, p, c) = (discover_app(&env), provision_app(&env), cleanup_app(&env));
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto"]).await;
    let start = t0() + Duration::minutes(30);
    let (s, r) = fixtures::flows::ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h", "flow": "logs-auto", "starts_at": start.to_rfc3339()})).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("scheduled")), "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    env.clock
        .advance(Duration::minutes(30) + Duration::hours(1));
    let report = sweep(&c).await;
    assert_eq!(
        (
            report["starts_armed"].as_u64(),
            report["starts_missed"].as_u64()
        ),
        (Some(0), Some(1)),
        "{report}"
    );
    assert_eq!(status(&env, &id).await, "failed");
    let stored = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("its whole window passed before it could start")
    );
}
