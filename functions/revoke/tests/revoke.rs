//! The revoke function against moto's server and the Elasticsearch emulator: expiry events,
//! manual revokes, replays and races.

use chrono::Duration;
use fixtures::flows::revoke_by;
use fixtures::flows::{
    approve, ask, auth_of, credentials, discover_app, flows, granted, provision_app, register,
    revoke_app,
};
use fixtures::{ADMIN, ALICE, Auth, DEV, Env, MALLORY, es_seed, event};
use reqwest::Method;
use serde_json::{Value, json};
use shared::model::AuditSubject;
use shared::store::{AuditStore, PrincipalStore, RequestStore};

fn expiry(id: &str) -> Value {
    let mut e = event("revoke/expiry.json");
    e["grant_id"] = json!(id);
    e
}

async fn trail(env: &Env, id: &str) -> Vec<String> {
    env.store
        .audit_of(&AuditSubject::Request(id.into()), 50, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn the_expiry_event_revokes_and_a_replay_changes_nothing() {
    let env = Env::start(es_seed()).await;
    let (d, p, r) = (discover_app(&env), provision_app(&env), revoke_app(&env));
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto"]).await;
    let grant = granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
    let id = grant["id"].as_str().unwrap().to_string();
    let (_, c) = credentials(&p, DEV, &id).await;
    let me = auth_of(&c);
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &me, None)
            .await,
        200
    );

    // Delivered at the grant's end.
    env.clock.advance(Duration::hours(1));
    let out = r.handle(expiry(&id)).await.unwrap();
    assert_eq!(out["outcome"], "revoked", "{out}");
    let stored = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(stored.status.as_str(), "expired");
    // The account was left without grants: disabled, so its password gets 401.
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &me, None)
            .await,
        401
    );
    assert_eq!(credentials(&p, DEV, &id).await.0, 409);
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
    let schedule = env
        .scheduler_client
        .get_schedule()
        .name(format!("ejit-{id}"))
        .group_name(&env.schedule_group)
        .send()
        .await;
    assert!(schedule.is_err(), "the expiry schedule is gone");
    let principal = env
        .store
        .get_principal("prod-search", "ejit_dev@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(principal.active_grants.is_empty() && principal.roles.is_empty());
    assert_eq!(
        principal.cleanup_due_at,
        Some(fixtures::t0() + Duration::hours(1) + Duration::days(7))
    );

    // A replay: no call to the cluster, no new audit event.
    env.clear_es_log().await;
    let before = trail(&env, &id).await;
    let out = r.handle(expiry(&id)).await.unwrap();
    assert_eq!(out["outcome"], "unchanged");
    assert!(env.es_requests().await.is_empty());
    assert_eq!(trail(&env, &id).await, before);
    // An expiry event for an unknown grant is acknowledged, not retried forever.
    assert_eq!(
        r.handle(expiry("no-such-grant")).await.unwrap()["outcome"],
        "unknown_grant"
    );
    // A schedule that fires early is ignored.
    let early = granted(&p, DEV, "logs-auto", &["logs-2026.10"]).await;
    let out = r
        .handle(expiry(early["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(out["outcome"], "unchanged");
}

#[tokio::test]
async fn manual_revoke_by_requester_approver_or_admin_only() {
    let env = Env::start(es_seed()).await;
    let (d, p, r) = (discover_app(&env), provision_app(&env), revoke_app(&env));
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto", "logs-leads"]).await;
    let one = granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
    let two = granted(&p, DEV, "logs-auto", &["logs-2026.10"]).await;
    let (id1, id2) = (one["id"].as_str().unwrap(), two["id"].as_str().unwrap());
    let (_, c) = credentials(&p, DEV, id1).await;
    let me = auth_of(&c);

    assert_eq!(
        revoke_by(&r, MALLORY, id1).await.0,
        404,
        "strangers do not see it"
    );
    let (s, body) = revoke_by(&r, DEV, id1).await;
    assert_eq!(
        (s, body["status"].as_str()),
        (200, Some("revoked")),
        "{body}"
    );
    assert_eq!(body["status_reason"], "incident closed");
    // The other grant keeps working on the same account.
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &me, None)
            .await,
        403
    );
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.10/_search", &me, None)
            .await,
        200
    );
    // Revoking again changes nothing.
    let (s, again) = revoke_by(&r, DEV, id1).await;
    assert_eq!(
        (s, again["version"].is_null(), again["status"].as_str()),
        (200, true, Some("revoked"))
    );
    assert_eq!(
        trail(&env, id1)
            .await
            .iter()
            .filter(|a| *a == "grant.revoked")
            .count(),
        1
    );
    // An admin may revoke anyone's grant.
    assert_eq!(revoke_by(&r, ADMIN, id2).await.1["status"], "revoked");
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.10/_search", &me, None)
            .await,
        401
    );

    // An approver may revoke what they approved; a pending request is rejected, not revoked.
    let (_, pending) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "read", "duration": "1h", "flow": "logs-leads"})).await;
    let pid = pending["id"].as_str().unwrap();
    let (s, e) = revoke_by(&r, DEV, pid).await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("not_active")));
    assert_eq!(approve(&p, ALICE, pid).await.1["status"], "active");
    assert_eq!(revoke_by(&r, ALICE, pid).await.1["status"], "revoked");
}

#[tokio::test]
async fn an_api_key_is_invalidated_on_revoke() {
    let env = Env::start(es_seed()).await;
    let (d, p, r) = (discover_app(&env), provision_app(&env), revoke_app(&env));
    register(&env, &d, json!({})).await;
    flows(&d, &["keys-auto"]).await;
    let grant = granted(&p, DEV, "keys-auto", &["logs-2026.11"]).await;
    let id = grant["id"].as_str().unwrap();
    let (_, c) = credentials(&p, DEV, id).await;
    let key = auth_of(&c);
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &key, None)
            .await,
        200
    );
    assert_eq!(revoke_by(&r, DEV, id).await.1["status"], "revoked");
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &key, None)
            .await,
        401
    );
}

#[tokio::test]
async fn a_revoke_racing_the_expiry_leaves_one_consistent_result() {
    let env = Env::start(es_seed()).await;
    let (d, p, r) = (discover_app(&env), provision_app(&env), revoke_app(&env));
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto"]).await;
    for _ in 0..3 {
        let grant = granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
        let id = grant["id"].as_str().unwrap().to_string();
        env.clock.advance(Duration::hours(1));
        let (manual, scheduled) = tokio::join!(revoke_by(&r, DEV, &id), r.handle(expiry(&id)));
        assert_eq!(manual.0, 200, "{manual:?}");
        scheduled.unwrap();
        let stored = env.store.get_request(&id).await.unwrap().unwrap();
        assert!(matches!(stored.status.as_str(), "revoked" | "expired"));
        let ends = trail(&env, &id)
            .await
            .into_iter()
            .filter(|a| a == "grant.revoked" || a == "grant.expired")
            .count();
        assert_eq!(ends, 1, "exactly one outcome is recorded");
        let principal = env
            .store
            .get_principal("prod-search", "ejit_dev@example.com")
            .await
            .unwrap()
            .unwrap();
        assert!(!principal.active_grants.contains(&id) && principal.lock_owner.is_none());
        let user = env
            .es_json(Method::GET, "/_security/user/ejit_dev@example.com")
            .await;
        assert_eq!(user["ejit_dev@example.com"]["roles"], json!([]));
    }
}

#[tokio::test]
async fn a_due_password_is_rotated_at_the_start_of_the_next_grant() {
    let env = Env::start(es_seed()).await;
    let (d, p, r) = (discover_app(&env), provision_app(&env), revoke_app(&env));
    register(&env, &d, json!({"credential_rotation_days": 1})).await;
    flows(&d, &["logs-auto"]).await;
    let first = granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
    let (_, c1) = credentials(&p, DEV, first["id"].as_str().unwrap()).await;
    // Not rotated during active access, however long it lasts.
    env.clock.advance(Duration::hours(1));
    r.handle(expiry(first["id"].as_str().unwrap()))
        .await
        .unwrap();
    env.clock.advance(Duration::days(2));
    let second = granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
    let (_, c2) = credentials(&p, DEV, second["id"].as_str().unwrap()).await;
    assert_ne!(c1["password"], c2["password"]);
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &auth_of(&c2), None)
            .await,
        200
    );
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &auth_of(&c1), None)
            .await,
        401
    );
}
