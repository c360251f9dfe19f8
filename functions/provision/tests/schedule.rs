//! Scheduled starts and cancels end to end against moto's server and the Elasticsearch
//! emulator: a request names a start, is approved before it, waits `scheduled`, and is
//! provisioned when its start schedule fires (duration counted from the start); the requester
//! withdraws a pending or scheduled request, racing approvals and the start, and nothing that
//! was cancelled is ever provisioned.

use std::sync::Arc;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use fixtures::flows::get_request as get;
use fixtures::flows::{
    approve, ask, call, credentials, discover_app, flow_spec, flows, put_flow, register, services,
};
use fixtures::{
    ADMIN, ALICE, CAROL, DEV, Env, MALLORY, PROVISION_ARN, Person, es_seed, event, http, t0,
};
use serde_json::{Value, json};
use shared::clock::Clock;
use shared::model::AuditSubject;
use shared::store::{AuditStore, PrincipalStore, RequestStore};

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn provision(env: &Env) -> provision::App {
    fixtures::flows::provision_app(env)
}

async fn setup(env: &Env, names: &[&str]) -> (discover::App, provision::App) {
    let d = discover_app(env);
    register(env, &d, json!({})).await;
    flows(&d, names).await;
    (d, provision(env))
}

/// DEV asks for read on logs-2026.10 (approved by the leads) for 1 h from `start`.
fn leads_body(start: Option<&str>) -> Value {
    let mut b = json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "read", "duration": "1h", "flow": "logs-leads"});
    if let Some(s) = start {
        b["starts_at"] = json!(s);
    }
    b
}

async fn cancel(p: &provision::App, who: Person, id: &str, body: Option<Value>) -> (u16, Value) {
    call(
        p,
        http(
            event("provision/cancel.json"),
            &format!("/requests/{id}/cancel"),
            who,
            body,
        ),
    )
    .await
}

/// The start schedule firing (the sample event, for request `id`).
async fn fire(p: &provision::App, id: &str) -> Value {
    let mut e = event("provision/start.json");
    e["grant_id"] = json!(id);
    p.handle(e).await.expect("start event handled")
}

async fn actions(env: &Env, id: &str) -> Vec<String> {
    env.store
        .audit_of(&AuditSubject::Request(id.to_string()), 50, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.action)
        .collect()
}

async fn start_schedule(env: &Env, id: &str) -> Option<(String, String, Value)> {
    let s = env
        .scheduler_client
        .get_schedule()
        .name(format!("ejit-start-{id}"))
        .group_name(&env.schedule_group)
        .send()
        .await
        .ok()?;
    let target = s.target()?;
    Some((
        s.schedule_expression()?.to_string(),
        target.arn().to_string(),
        serde_json::from_str(target.input()?).ok()?,
    ))
}

/// The grant's role on the emulator, if it exists (so "nothing provisioned" is checked on the
/// target, not only in the record).
async fn role_exists(env: &Env, id: &str) -> bool {
    let roles = env.es_json(reqwest::Method::GET, "/_security/role").await;
    roles
        .as_object()
        .is_some_and(|m| m.keys().any(|k| k.ends_with(&format!("grant_{id}"))))
}

#[tokio::test]
async fn approved_before_its_start_it_waits_and_the_start_schedule_provisions_it() {
    let env = Env::start(es_seed()).await;
    let (_, p) = setup(&env, &["logs-leads"]).await;
    let start = t0() + Duration::hours(2);

    // The preview names the start and the end it implies.
    let (s, pv) = call(
        &p,
        http(
            event("provision/preview-request.json"),
            "/requests/preview",
            DEV,
            Some(leads_body(Some(&rfc3339(start)))),
        ),
    )
    .await;
    assert_eq!(s, 200, "{pv}");
    assert_eq!(pv["starts_at"], json!(start));
    assert_eq!(pv["ends_at"], json!(start + Duration::hours(1)));

    let (s, r) = ask(&p, DEV, leads_body(Some(&rfc3339(start)))).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("pending")), "{r}");
    assert_eq!(r["starts_at"], json!(start));
    assert_eq!(r["can_cancel"], true);
    // The approval window (24 h) ends at the start when that is sooner.
    assert_eq!(r["approval_expires_at"], json!(start));
    let id = r["id"].as_str().unwrap().to_string();

    let (s, r) = approve(&p, ALICE, &id).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("scheduled")), "{r}");
    assert_eq!(
        r["ends_at"],
        Value::Null,
        "nothing provisioned before the start"
    );
    assert!(!role_exists(&env, &id).await);
    assert_eq!(
        credentials(&p, DEV, &id).await.0,
        409,
        "no credentials before the start"
    );
    // Nobody decides it twice: it is no longer pending.
    let (s, e) = approve(&p, CAROL, &id).await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("not_pending")));

    // The one-time schedule, read back: at the start, invoking provision with the request id.
    let (expr, arn, input) = start_schedule(&env, &id).await.expect("start schedule");
    assert_eq!(expr, "at(2026-11-23T12:00:00)");
    assert_eq!(arn, PROVISION_ARN);
    assert_eq!(
        input,
        json!({"source": "elastic-jit.start", "grant_id": id})
    );

    // An early delivery (a misfire, or someone invoking the function by hand) does nothing.
    let early = fire(&p, &id).await;
    assert_eq!(early["outcome"], "not_yet", "{early}");
    assert_eq!(get(&p, DEV, &id).await.1["status"], "scheduled");

    // At the start (a few minutes late, as a sweep-armed schedule would be), it is
    // provisioned, and the hour counts from the requested start.
    env.clock.advance(Duration::hours(2) + Duration::minutes(3));
    let out = fire(&p, &id).await;
    assert_eq!(
        (out["outcome"].as_str(), out["status"].as_str()),
        (Some("started"), Some("active")),
        "{out}"
    );
    let (_, r) = get(&p, DEV, &id).await;
    assert_eq!(r["starts_at"], json!(start));
    assert_eq!(r["ends_at"], json!(start + Duration::hours(1)));
    assert_eq!(r["can_cancel"], false);
    assert!(role_exists(&env, &id).await);
    let (s, c) = credentials(&p, DEV, &id).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["expires_at"], json!(start + Duration::hours(1)));

    // A second delivery (Scheduler delivers at least once) provisions nothing again.
    let again = fire(&p, &id).await;
    assert_eq!(again["outcome"], "unchanged", "{again}");
    let trail = actions(&env, &id).await;
    let count = |a: &str| trail.iter().filter(|x| *x == a).count();
    assert_eq!(
        (
            count("request.approved"),
            count("request.started"),
            count("grant.provisioned")
        ),
        (1, 1, 1),
        "{trail:?}"
    );
}

#[tokio::test]
async fn an_automatic_approval_with_a_start_is_scheduled_and_a_late_start_fails_cleanly() {
    let env = Env::start(es_seed()).await;
    let (_, p) = setup(&env, &["logs-auto"]).await;
    let start = t0() + Duration::minutes(30);
    let (s, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h", "flow": "logs-auto", "starts_at": rfc3339(start)})).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("scheduled")), "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    assert!(start_schedule(&env, &id).await.is_some());

    // The schedule never came and the window it asked for is over: it fails, provisions
    // nothing, and is finished.
    env.clock.advance(Duration::hours(2));
    let out = fire(&p, &id).await;
    assert_eq!(out["status"], "failed", "{out}");
    let stored = env.store.get_request(&id).await.unwrap().unwrap();
    assert!(
        stored
            .status_reason
            .as_deref()
            .is_some_and(|r| r.contains("window ended")),
        "{stored:?}"
    );
    assert!(!role_exists(&env, &id).await);
    let account = env
        .store
        .get_principal("prod-search", "ejit_dev@example.com")
        .await
        .unwrap();
    assert!(
        account.is_none_or(|a| a.active_grants.is_empty() && a.lock_owner.is_none()),
        "the account's lease is released"
    );
}

#[tokio::test]
async fn starts_in_the_past_unreadable_or_beyond_the_horizon_are_refused() {
    let env = Env::start(es_seed()).await;
    let (d, p) = setup(&env, &["logs-leads"]).await;
    let mut spec = flow_spec("logs-leads");
    spec["schedule_horizon"] = json!("2d");
    let (s, b) = put_flow(&d, "logs-leads", spec).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["schedule_horizon"], "2days");
    for bad in [
        rfc3339(t0() - Duration::minutes(5)),
        rfc3339(t0() + Duration::days(2) + Duration::minutes(1)),
        "2026-11-23T18:00:00".to_string(),
        "tomorrow".to_string(),
        "2026-11-23T18:00:00Z\u{0}".to_string(),
    ] {
        let (s, e) = ask(&p, DEV, leads_body(Some(&bad))).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (400, Some("invalid_start")),
            "{bad:?}: {e}"
        );
    }
    let (s, e) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "read", "duration": "1h", "starts_at": 1_795_430_000})).await;
    assert_eq!(s, 400, "a number is not a time: {e}");
    // Within a minute of now is now: nothing is scheduled, the approval provisions at once.
    let (s, r) = ask(
        &p,
        DEV,
        leads_body(Some(&rfc3339(t0() + Duration::seconds(50)))),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["starts_at"], Value::Null);
    let (_, r) = approve(&p, ALICE, r["id"].as_str().unwrap()).await;
    assert_eq!(r["status"], "active", "{r}");
    // A flow's horizon is bounded like its durations.
    let mut spec = flow_spec("logs-leads");
    spec["schedule_horizon"] = json!("1y");
    let (s, e) = put_flow(&d, "logs-leads", spec).await;
    assert_eq!(s, 400, "{e}");
    assert!(e.to_string().contains("invalid_schedule_horizon"), "{e}");
}

#[tokio::test]
async fn only_the_requester_cancels_and_a_cancelled_request_is_final() {
    let env = Env::start(es_seed()).await;
    let (_, p) = setup(&env, &["logs-leads"]).await;
    let (_, r) = ask(&p, DEV, leads_body(None)).await;
    let id = r["id"].as_str().unwrap().to_string();

    // A stranger does not see it; an approver sees it but may not withdraw it (they reject);
    // nor may the requester's email under another identity. (An administrator may: below.)
    assert_eq!(cancel(&p, MALLORY, &id, None).await.0, 404);
    let (s, e) = cancel(&p, ALICE, &id, None).await;
    assert_eq!((s, e["error"]["code"].as_str()), (403, Some("forbidden")));
    let twin = Person {
        sub: "another-dev-account",
        email: DEV.email,
        groups: DEV.groups,
    };
    assert!(matches!(cancel(&p, twin, &id, None).await.0, 403 | 404));
    assert_eq!(get(&p, ALICE, &id).await.1["can_cancel"], false);
    // Bad bodies are refused before anything changes.
    let (s, e) = cancel(&p, DEV, &id, Some(json!({"reason": "x".repeat(1001)}))).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("reason_too_long"))
    );
    let (s, _) = cancel(&p, DEV, &id, Some(json!({"why": "nope"}))).await;
    assert_eq!(s, 400);
    assert_eq!(cancel(&p, DEV, "no-such-request", None).await.0, 404);
    assert_eq!(get(&p, DEV, &id).await.1["status"], "pending");

    let (s, r) = cancel(&p, DEV, &id, Some(json!({"reason": "fixed it myself"}))).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("cancelled")), "{r}");
    assert_eq!(r["status_reason"], "fixed it myself");
    assert_eq!(r["can_cancel"], false);
    assert!(r["ended_at"].is_string());

    // Final: approving it now tells the approver why; cancelling again is refused.
    let (s, e) = approve(&p, ALICE, &id).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("request_cancelled"))
    );
    let (s, e) = cancel(&p, DEV, &id, None).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("not_cancellable"))
    );
    // It left the approvers' queue.
    let (_, listing) = call(
        &p,
        http(
            event("provision/get-requests.json"),
            "/requests",
            ALICE,
            None,
        ),
    )
    .await;
    assert!(
        !listing["to_decide"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == id.as_str()),
        "{listing}"
    );
    let trail = actions(&env, &id).await;
    assert_eq!(
        trail.iter().filter(|a| *a == "request.cancelled").count(),
        1,
        "{trail:?}"
    );

    // An active grant is past cancelling (it is revoked instead).
    let (_, r) = ask(&p, DEV, leads_body(None)).await;
    let active = r["id"].as_str().unwrap().to_string();
    approve(&p, ALICE, &active).await;
    let (s, e) = cancel(&p, DEV, &active, None).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("not_cancellable"))
    );
    assert_eq!(get(&p, DEV, &active).await.1["status"], "active");
}

#[tokio::test]
async fn cancelling_a_scheduled_request_deletes_its_start_and_frees_its_slot() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-leads"]).await;
    // A requester may have one open request at a time.
    let mut cfg = shared::store::StoreConfig::new(env.store.table());
    cfg.max_open_requests = 1;
    let capped = Arc::new(shared::store::DynamoStore::with_config(
        env.dynamodb.clone(),
        cfg,
    ));
    let p = provision::App {
        services: shared::services::Services {
            store: capped,
            ..services(&env)
        },
        ..provision(&env)
    };
    let start = t0() + Duration::days(3);
    let (_, r) = ask(&p, DEV, leads_body(Some(&rfc3339(start)))).await;
    let id = r["id"].as_str().unwrap().to_string();
    assert_eq!(
        r["approval_expires_at"],
        json!(t0() + Duration::hours(24)),
        "a start days ahead keeps the 24 h approval window"
    );
    let (_, r) = approve(&p, ALICE, &id).await;
    assert_eq!(r["status"], "scheduled");
    assert!(start_schedule(&env, &id).await.is_some());
    // Scheduled counts as open.
    let (s, e) = ask(&p, DEV, leads_body(None)).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (429, Some("too_many_open_requests"))
    );

    let (s, r) = cancel(&p, DEV, &id, None).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("cancelled")), "{r}");
    assert!(
        start_schedule(&env, &id).await.is_none(),
        "start schedule deleted"
    );
    // A start that fires anyway (deleted too late) finds it cancelled.
    env.clock.advance(Duration::days(3));
    assert_eq!(fire(&p, &id).await["outcome"], "unchanged");
    assert!(!role_exists(&env, &id).await);
    // The slot is free again.
    let (s, r) = ask(&p, DEV, leads_body(None)).await;
    assert_eq!(s, 201, "{r}");
}

#[tokio::test]
async fn cancel_racing_approval_exactly_one_wins() {
    let env = Env::start(es_seed()).await;
    let (_, p) = setup(&env, &["logs-leads"]).await;
    let p = Arc::new(p);
    for round in 0..5 {
        let (s, r) = ask(&p, DEV, leads_body(None)).await;
        assert_eq!(s, 201, "{r}");
        let id = r["id"].as_str().unwrap().to_string();
        let ((sa, a), (sc, c)) = tokio::join!(approve(&p, ALICE, &id), cancel(&p, DEV, &id, None));
        let stored = env.store.get_request(&id).await.unwrap().unwrap();
        let trail = actions(&env, &id).await;
        match (sa, sc) {
            (200, 409) => {
                assert_eq!(c["error"]["code"], "not_cancellable", "round {round}: {c}");
                assert_eq!(stored.status.as_str(), "active", "{stored:?}");
                // Revoked so that the next round's grant has the account to itself.
                let mut ev = event("revoke/post-revoke.json");
                ev = http(ev, &format!("/requests/{id}/revoke"), DEV, None);
                let revoked = fixtures::flows::revoke_app(&env).handle(ev).await.unwrap();
                assert_eq!(fixtures::response(revoked).0, 200);
            }
            (409, 200) => {
                assert_eq!(
                    a["error"]["code"], "request_cancelled",
                    "round {round}: {a}"
                );
                assert_eq!(stored.status.as_str(), "cancelled");
                assert!(!trail.iter().any(|a| a == "grant.provisioned"), "{trail:?}");
                assert!(
                    !role_exists(&env, &id).await,
                    "a cancelled request is never provisioned"
                );
            }
            other => panic!("round {round}: exactly one must win, got {other:?}: {a} {c}"),
        }
        assert_eq!(
            trail
                .iter()
                .filter(|a| *a == "request.approved" || *a == "request.cancelled")
                .count(),
            1,
            "round {round}: {trail:?}"
        );
    }
}

/// With a start ahead, the approval and the cancel may both succeed (approved, then withdrawn
/// while scheduled); whichever order, the request ends cancelled with nothing provisioned.
#[tokio::test]
async fn cancel_racing_the_approval_of_a_scheduled_start_provisions_nothing() {
    let env = Env::start(es_seed()).await;
    let (_, p) = setup(&env, &["logs-leads"]).await;
    let p = Arc::new(p);
    for round in 0..3 {
        let start = rfc3339(t0() + Duration::hours(3));
        let (_, r) = ask(&p, DEV, leads_body(Some(&start))).await;
        let id = r["id"].as_str().unwrap().to_string();
        let ((sa, a), (sc, c)) = tokio::join!(approve(&p, ALICE, &id), cancel(&p, DEV, &id, None));
        assert_eq!(
            sc, 200,
            "round {round}: a scheduled request stays cancellable: {c}"
        );
        assert!(
            sa == 200 || a["error"]["code"] == "request_cancelled",
            "round {round}: {a}"
        );
        assert_eq!(get(&p, DEV, &id).await.1["status"], "cancelled");
        assert!(start_schedule(&env, &id).await.is_none(), "round {round}");
        assert!(!role_exists(&env, &id).await);
    }
}

#[tokio::test]
async fn cancel_racing_the_start_exactly_one_wins() {
    let env = Env::start(es_seed()).await;
    let (_, p) = setup(&env, &["logs-leads"]).await;
    let p = Arc::new(p);
    for round in 0..4 {
        let start = env.clock.now() + Duration::minutes(10);
        let (_, r) = ask(&p, DEV, leads_body(Some(&rfc3339(start)))).await;
        let id = r["id"].as_str().unwrap().to_string();
        let (_, r) = approve(&p, ALICE, &id).await;
        assert_eq!(r["status"], "scheduled", "{r}");
        env.clock.advance(Duration::minutes(10));
        let (out, (sc, c)) = tokio::join!(fire(&p, &id), cancel(&p, DEV, &id, None));
        let stored = env.store.get_request(&id).await.unwrap().unwrap();
        if sc == 200 {
            assert_eq!(out["outcome"], "unchanged", "round {round}: {out}");
            assert_eq!(stored.status.as_str(), "cancelled");
            assert!(!role_exists(&env, &id).await);
        } else {
            assert_eq!(
                (sc, c["error"]["code"].as_str()),
                (409, Some("not_cancellable")),
                "round {round}"
            );
            assert_eq!(stored.status.as_str(), "active", "round {round}: {out}");
        }
        // Each round's grant ends before the next round's, so the account is free again.
        env.clock.advance(Duration::hours(2));
    }
}

#[tokio::test]
async fn forged_or_malformed_start_events_provision_nothing() {
    let env = Env::start(es_seed()).await;
    let (_, p) = setup(&env, &["logs-leads"]).await;
    // A pending request (never approved) is not started by an event naming it.
    let (_, r) = ask(&p, DEV, leads_body(None)).await;
    let id = r["id"].as_str().unwrap().to_string();
    let out = fire(&p, &id).await;
    assert_eq!(
        (out["outcome"].as_str(), out["status"].as_str()),
        (Some("unchanged"), Some("pending"))
    );
    assert!(!role_exists(&env, &id).await);
    assert_eq!(fire(&p, "no-such-request").await["outcome"], "unknown");
    for bad in [
        json!({"source": "elastic-jit.start"}),
        json!({"source": "elastic-jit.start", "grant_id": id, "status": "approved"}),
        json!({"source": "elastic-jit.start", "grant_id": "x".repeat(65)}),
        json!({"source": "elastic-jit.start", "grant_id": ""}),
    ] {
        assert!(p.handle(bad.clone()).await.is_err(), "{bad}");
    }
    assert_eq!(get(&p, DEV, &id).await.1["status"], "pending");
}

#[tokio::test]
async fn a_retried_request_with_the_same_key_must_name_the_same_start() {
    let env = Env::start(es_seed()).await;
    let (_, p) = setup(&env, &["logs-auto"]).await;
    let keyed = |start: Option<DateTime<Utc>>| {
        let mut body = json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h", "flow": "logs-auto"});
        if let Some(s) = start {
            body["starts_at"] = json!(rfc3339(s));
        }
        let mut ev = http(
            event("provision/post-request.json"),
            "/requests",
            DEV,
            Some(body),
        );
        ev["headers"]["idempotency-key"] = json!("start-key-1");
        ev
    };
    let start = t0() + Duration::hours(1);
    let (s, first) = call(&p, keyed(Some(start))).await;
    assert_eq!(
        (s, first["status"].as_str()),
        (201, Some("scheduled")),
        "{first}"
    );
    let (s, again) = call(&p, keyed(Some(start))).await;
    assert_eq!((s, again["id"].clone()), (200, first["id"].clone()));
    for other in [None, Some(start + Duration::minutes(5))] {
        let (s, e) = call(&p, keyed(other)).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (422, Some("idempotency_key_reused")),
            "{other:?}: {e}"
        );
    }
    // Once started (its start now "now"), a retry still finds it.
    env.clock.advance(Duration::hours(1));
    assert_eq!(
        fire(&p, first["id"].as_str().unwrap()).await["status"],
        "active"
    );
    let (s, again) = call(&p, keyed(Some(start))).await;
    assert_eq!(
        (s, again["status"].as_str()),
        (200, Some("active")),
        "{again}"
    );
    // Well after the start, the same retry is still the same request, not a refusal of its
    // (now past) start.
    env.clock.advance(Duration::minutes(20));
    let (s, again) = call(&p, keyed(Some(start))).await;
    assert_eq!(
        (s, again["id"].clone()),
        (200, first["id"].clone()),
        "{again}"
    );
    // Anything else naming that past start is refused: another body under the key, or the
    // same body under another key.
    let mut other_body = keyed(Some(start));
    let mut b: Value = serde_json::from_str(other_body["body"].as_str().unwrap()).unwrap();
    b["duration"] = json!("2h");
    other_body["body"] = json!(b.to_string());
    let mut other_key = keyed(Some(start));
    other_key["headers"]["idempotency-key"] = json!("start-key-2");
    for ev in [other_body, other_key] {
        let (s, e) = call(&p, ev).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (400, Some("invalid_start")),
            "{e}"
        );
    }
}

/// A retry answered with the stored request must be a retry: a body whose `starts_at` does not
/// parse is not one, even under the key of a request that named no start (an unreadable start
/// and no start must not compare equal).
#[tokio::test]
async fn a_retry_with_an_unreadable_start_is_refused_not_answered() {
    let env = Env::start(es_seed()).await;
    let (_, p) = setup(&env, &["logs-auto"]).await;
    let keyed = |start: Option<&str>| {
        let mut body = json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h", "flow": "logs-auto"});
        if let Some(s) = start {
            body["starts_at"] = json!(s);
        }
        let mut ev = http(
            event("provision/post-request.json"),
            "/requests",
            DEV,
            Some(body),
        );
        ev["headers"]["idempotency-key"] = json!("start-key-3");
        ev
    };
    let (s, first) = call(&p, keyed(None)).await;
    assert_eq!(
        (s, first["status"].as_str()),
        (201, Some("active")),
        "{first}"
    );
    let (s, again) = call(&p, keyed(None)).await;
    assert_eq!(
        (s, again["id"].clone()),
        (200, first["id"].clone()),
        "{again}"
    );
    for bad in ["tomorrow", "", " ", "2026-11-23T11:00:00"] {
        let (s, e) = call(&p, keyed(Some(bad))).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (400, Some("invalid_start")),
            "{bad:?}: {e}"
        );
    }
}

/// An approved start is approved for this target: the integration cannot be moved (its grants
/// would land on another cluster) until it is cancelled.
#[tokio::test]
async fn a_scheduled_request_keeps_its_integration_from_moving_until_cancelled() {
    let env = Env::start(es_seed()).await;
    let (d, p) = setup(&env, &["logs-leads"]).await;
    let (_, r) = ask(
        &p,
        DEV,
        leads_body(Some(&rfc3339(t0() + Duration::hours(5)))),
    )
    .await;
    let id = r["id"].as_str().unwrap().to_string();
    assert_eq!(approve(&p, ALICE, &id).await.1["status"], "scheduled");
    let arn = env.connector_secret().await;
    let moved = json!({
        "kind": "elasticsearch", "url": "http://127.0.0.1:9", "secret_arn": arn,
        "integration_owners": [{"type": "group", "value": "search-platform"}],
        "resource_owner": {"tag_key": "owner", "attribute": "user"},
        "allow_insecure_http": true
    });
    let (s, e) = fixtures::flows::put_integration(&d, "prod-search", moved).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("integration_in_use")),
        "{e}"
    );
    assert!(e.to_string().contains(&id), "{e}");
    assert_eq!(cancel(&p, DEV, &id, None).await.0, 200);
    let (s, e) = fixtures::flows::put_integration(
        &d,
        "prod-search",
        json!({
            "kind": "elasticsearch", "url": "http://127.0.0.1:9", "secret_arn": arn,
            "integration_owners": [{"type": "group", "value": "search-platform"}],
            "allow_insecure_http": true
        }),
    )
    .await;
    assert_ne!(e["error"]["code"], "integration_in_use", "{s}: {e}");
}

#[tokio::test]
async fn an_administrator_may_withdraw_a_scheduled_request() {
    let env = Env::start(es_seed()).await;
    let (_, p) = setup(&env, &["logs-leads"]).await;
    let start = t0() + Duration::days(3);
    let (_, r) = ask(&p, DEV, leads_body(Some(&rfc3339(start)))).await;
    let id = r["id"].as_str().unwrap().to_string();
    let (s, r) = approve(&p, ALICE, &id).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("scheduled")), "{r}");
    let (s, r) = cancel(&p, ADMIN, &id, None).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("cancelled")), "{r}");
    let stored = env.store.get_request(&id).await.unwrap().unwrap();
    let cancelled = stored
        .history
        .iter()
        .find(|e| e.action == "request.cancelled")
        .expect("recorded");
    assert_eq!(cancelled.actor, "admin@example.com", "who withdrew it");
    assert!(
        start_schedule(&env, &id).await.is_none(),
        "its start is gone"
    );
    env.clock.advance(Duration::days(3));
    fire(&p, &id).await;
    assert!(!role_exists(&env, &id).await);
}

/// The start schedule fires for `id` and is refused for `why`: the request fails with the
/// reason recorded, and nothing reaches the target.
async fn refused_start(env: &Env, p: &provision::App, id: &str, why: &str) {
    let out = fire(p, id).await;
    assert_eq!(out["outcome"], "refused", "{out}");
    let stored = env.store.get_request(id).await.unwrap().unwrap();
    assert_eq!(stored.status.as_str(), "failed");
    assert!(
        stored
            .status_reason
            .as_deref()
            .is_some_and(|r| r.contains(why)),
        "{:?}",
        stored.status_reason
    );
    assert!(
        actions(env, id)
            .await
            .contains(&"request.start_refused".to_string())
    );
    assert!(!role_exists(env, id).await, "nothing on the target");
}

#[tokio::test]
async fn a_start_the_flow_no_longer_allows_is_refused_and_nothing_is_provisioned() {
    let env = Env::start(es_seed()).await;
    let (d, p) = setup(&env, &["logs-leads"]).await;
    let start = t0() + Duration::days(2);
    let (_, r) = ask(&p, DEV, leads_body(Some(&rfc3339(start)))).await;
    let id = r["id"].as_str().unwrap().to_string();
    let (s, r) = approve(&p, ALICE, &id).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("scheduled")), "{r}");
    // Meanwhile the flow stops offering this permission.
    let mut spec = flow_spec("logs-leads");
    spec["permissions"] = json!(["write"]);
    let (s, e) = put_flow(&d, "logs-leads", spec).await;
    assert_eq!(s, 200, "{e}");
    env.clock.advance(Duration::days(2));
    refused_start(&env, &p, &id, "no longer offers permission").await;
}

/// Between approval and start the granted index is deleted and an alias made under its name,
/// pointing at an index the flow does not offer; discovery records the alias. The name still
/// matches the flow's pattern, but a role on it would reach the alias's target: the start is
/// refused as a request naming that alias would be.
#[tokio::test]
async fn a_scheduled_index_that_became_an_alias_is_refused_at_its_start() {
    let env = Env::start(es_seed()).await;
    let (_, p) = setup(&env, &["logs-leads"]).await;
    let start = t0() + Duration::days(2);
    let (_, r) = ask(&p, DEV, leads_body(Some(&rfc3339(start)))).await;
    let id = r["id"].as_str().unwrap().to_string();
    let (s, r) = approve(&p, ALICE, &id).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("scheduled")), "{r}");
    fixtures::flows::index_became_alias(&env, "logs-2026.10", &["secrets-1"]).await;
    env.clock.advance(Duration::days(2));
    refused_start(&env, &p, &id, "\"logs-2026.10\" is now an alias").await;
}

/// A Cloud flow may name a deployment by its display name while the grant holds the
/// deployment's id: the start's re-check of the flow (and an extension's) must still find it
/// offered, as the request's own check did.
#[tokio::test]
async fn a_scheduled_cloud_grant_on_a_deployment_named_by_display_name_starts() {
    use fixtures::cloud::{BOB, CloudEnv, INTEGRATION, STAGING};
    let env = CloudEnv::start().await;
    let d = discover_app(&env);
    env.register(&d).await;
    let (s, b) = put_flow(
        &d,
        "staging-soon",
        json!({"integration": INTEGRATION, "requesters": [{"type": "group", "value": "developers"}],
               "resources": ["staging-logs"], "permissions": ["deployment-viewer"],
               "auto_approve": true, "schedule_horizon": "7d"}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let p = provision(&env);
    let start = env.clock.now() + Duration::hours(1);
    let (s, r) = ask(
        &p,
        BOB,
        json!({"integration": INTEGRATION, "resources": ["staging-logs"],
               "permission": "deployment-viewer", "duration": "1h", "flow": "staging-soon",
               "starts_at": rfc3339(start)}),
    )
    .await;
    assert_eq!((s, r["status"].as_str()), (201, Some("scheduled")), "{r}");
    assert_eq!(r["resources"], json!([STAGING]), "granted by id");
    let id = r["id"].as_str().unwrap().to_string();
    env.clock.advance(Duration::hours(1));
    let out = fire(&p, &id).await;
    assert_eq!(
        (out["outcome"].as_str(), out["status"].as_str()),
        (Some("started"), Some("active")),
        "{out}"
    );
    assert!(
        env.holds("bob@example.com", "deployment-viewer", STAGING)
            .await
    );
}
