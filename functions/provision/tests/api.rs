//! The provision function end to end against moto's server and the Elasticsearch emulator:
//! request → approval by the resource owner → credentials that read exactly what was granted.

use std::sync::Arc;

use chrono::Duration;
use fixtures::flows::{
    approve, ask, auth_of, call, credentials, discover_app, flows, provision_app, register,
};
use fixtures::{ALICE, Auth, CAROL, DEV, Env, MALLORY, Person, es_seed, event, http};
use reqwest::Method;
use serde_json::{Value, json};
use shared::model::AuditSubject;
use shared::store::{AuditStore, PrincipalStore, RequestStore};

fn apps(env: &Env) -> (discover::App, provision::App) {
    (discover_app(env), provision_app(env))
}

/// Register `prod-search` and the named flows.
async fn setup(env: &Env, d: &discover::App, wanted: &[&str]) {
    register(env, d, json!({})).await;
    flows(d, wanted).await;
}

fn basic(c: &Value) -> Auth {
    auth_of(c)
}

#[tokio::test]
async fn the_owner_approves_and_the_credentials_read_exactly_what_was_granted() {
    let env = Env::start(es_seed()).await;
    let (d, p) = apps(&env);
    setup(&env, &d, &["logs-read"]).await;

    // The sample event asks for read on logs-* for 2 h with a justification.
    let (s, r) = call(
        &p,
        http(event("provision/post-request.json"), "/requests", DEV, None),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["status"], "pending");
    assert_eq!(r["resources"], json!(["logs-2026.10", "logs-2026.11"]));
    assert_eq!(
        r["approval_steps"][0]["approvers"],
        json!([{"type": "user", "value": "alice@example.com"}])
    );
    let id = r["id"].as_str().unwrap().to_string();

    // The same idempotency key returns the same request.
    let (s, again) = call(
        &p,
        http(event("provision/post-request.json"), "/requests", DEV, None),
    )
    .await;
    assert_eq!((s, again["id"].as_str()), (200, Some(id.as_str())));

    // Nobody approves their own request; a stranger does not even see it.
    assert_eq!(approve(&p, DEV, &id).await.0, 403);
    assert_eq!(approve(&p, MALLORY, &id).await.0, 404);
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
    assert_eq!(listing["to_decide"][0]["id"], id.as_str());
    assert_eq!(listing["to_decide"][0]["can_decide"], true);
    assert_eq!(
        credentials(&p, DEV, &id).await.0,
        409,
        "no credentials before approval"
    );

    let (s, r) = approve(&p, ALICE, &id).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("active")), "{r}");
    let ends_at = r["ends_at"].as_str().unwrap().to_string();

    // The expiry schedule, read back: one-time, at the grant's end, targeting revoke.
    let schedule = env
        .scheduler_client
        .get_schedule()
        .name(format!("ejit-{id}"))
        .group_name(&env.schedule_group)
        .send()
        .await
        .unwrap();
    assert_eq!(
        schedule.schedule_expression(),
        Some("at(2026-11-23T12:00:00)")
    );
    assert!(ends_at.starts_with("2026-11-23T12:00:00"));
    let target = schedule.target().unwrap();
    assert_eq!(target.arn(), fixtures::REVOKE_ARN);
    let input: Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(
        input,
        json!({"source": "elastic-jit.expiry", "grant_id": id})
    );

    let (s, c) = credentials(&p, DEV, &id).await;
    assert_eq!(s, 200, "{}", fixtures::redacted(&c));
    assert_eq!(
        (c["mode"].as_str(), c["username"].as_str()),
        (Some("user"), Some("ejit_dev@example.com"))
    );
    assert_eq!(
        c["custom_access_details"],
        "Use Kibana at https://kibana.example.internal"
    );
    assert_eq!(c["url"], env.es.url());
    let me = basic(&c);
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &me, None)
            .await,
        200
    );
    assert_eq!(
        env.es_status(Method::GET, "/secrets-1/_search", &me, None)
            .await,
        403
    );
    assert_eq!(
        env.es_status(
            Method::PUT,
            "/logs-2026.11/_doc/9",
            &me,
            Some(json!({"x": 1}))
        )
        .await,
        403
    );
    // Only the requester reads credentials.
    assert_eq!(credentials(&p, ALICE, &id).await.0, 403);
    assert_eq!(credentials(&p, MALLORY, &id).await.0, 403);

    // Everything made is marked as managed, with the grant id.
    let role = env
        .es_json(Method::GET, &format!("/_security/role/ejit_grant_{id}"))
        .await;
    assert_eq!(
        role[format!("ejit_grant_{id}")]["metadata"]["grant_id"],
        id.as_str()
    );

    // The audit trail holds every decision, never the password.
    let trail = env
        .store
        .audit_of(&AuditSubject::Request(id.clone()), 20, None)
        .await
        .unwrap();
    let actions: Vec<_> = trail.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["request.created", "request.approved", "grant.provisioned"]
    );
    assert!(
        !serde_json::to_string(&trail.items)
            .unwrap()
            .contains(c["password"].as_str().unwrap())
    );

    // A second grant for the now existing account: put role + put user, nothing else.
    let (s, r2) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "write", "duration": "1h", "justification": "backfill", "flow": "logs-read"})).await;
    assert_eq!(s, 201, "{r2}");
    env.clear_es_log().await;
    let (s, r2) = approve(&p, ALICE, r2["id"].as_str().unwrap()).await;
    assert_eq!((s, r2["status"].as_str()), (200, Some("active")), "{r2}");
    let calls: Vec<String> = env
        .es_requests()
        .await
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls[0].starts_with("PUT /_security/role/")
            && calls[1].starts_with("PUT /_security/user/"),
        "{calls:?}"
    );
    // The old password still works (no password change for an existing account), both grants hold.
    assert_eq!(
        env.es_status(
            Method::PUT,
            "/logs-2026.10/_doc/9",
            &me,
            Some(json!({"x": 1}))
        )
        .await,
        201
    );
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &me, None)
            .await,
        200
    );
}

#[tokio::test]
async fn api_key_mode_costs_one_more_request_and_the_key_is_scoped() {
    let env = Env::start(es_seed()).await;
    let (d, p) = apps(&env);
    setup(&env, &d, &["logs-keys", "logs-auto"]).await;
    // First a user-mode grant creates the account, so the key grant below is for an existing one.
    let (_, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-*"], "permission": "read", "duration": "1h", "flow": "logs-auto"})).await;
    assert_eq!(r["status"], "active", "{r}");
    let (s, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h", "flow": "logs-keys"})).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("pending")), "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    env.clear_es_log().await;
    let (_, r) = approve(&p, ALICE, &id).await;
    assert_eq!(r["status"], "active", "{r}");
    assert_eq!(env.es_requests().await.len(), 3);
    let (s, c) = credentials(&p, DEV, &id).await;
    assert_eq!(
        (s, c["mode"].as_str()),
        (200, Some("api_key")),
        "{}",
        fixtures::redacted(&c)
    );
    let key = Auth::ApiKey(c["api_key"].as_str().unwrap().into());
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &key, None)
            .await,
        200
    );
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.10/_search", &key, None)
            .await,
        403,
        "the key has only this grant's names"
    );
    assert_eq!(
        env.es_status(Method::GET, "/secrets-1/_search", &key, None)
            .await,
        403
    );
    // Elasticsearch itself expires the key at the grant's end.
    let keys = env
        .es_json(
            Method::GET,
            &format!(
                "/_security/api_key?id={}",
                c["api_key_id"].as_str().unwrap()
            ),
        )
        .await;
    let expiration = keys["api_keys"][0]["expiration"].as_i64().unwrap();
    let created = keys["api_keys"][0]["creation"].as_i64().unwrap();
    assert_eq!((expiration - created) / 1000, 3600);
}

#[tokio::test]
async fn concurrent_approvals_provision_once() {
    let env = Env::start(es_seed()).await;
    let (d, p) = apps(&env);
    setup(&env, &d, &["logs-leads"]).await;
    let p = Arc::new(p);
    for round in 0..3 {
        let (s, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "read", "duration": "1h", "flow": "logs-leads"})).await;
        assert_eq!(s, 201, "{r}");
        let id = r["id"].as_str().unwrap().to_string();
        let (a, b) = tokio::join!(approve(&p, ALICE, &id), approve(&p, CAROL, &id));
        let statuses = [a.0, b.0];
        assert!(
            statuses.contains(&200) && statuses.contains(&409),
            "round {round}: {a:?} {b:?}"
        );
        let trail = env
            .store
            .audit_of(&AuditSubject::Request(id.clone()), 20, None)
            .await
            .unwrap();
        assert_eq!(
            trail
                .items
                .iter()
                .filter(|e| e.action == "grant.provisioned")
                .count(),
            1
        );
        assert_eq!(
            trail
                .items
                .iter()
                .filter(|e| e.action == "request.approved")
                .count(),
            1
        );
        let roles = env.es_json(Method::GET, "/_security/role").await;
        assert_eq!(
            roles
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| k.ends_with(&id))
                .count(),
            1
        );
    }
}

#[tokio::test]
async fn concurrent_grants_for_one_requester_both_end_up_on_the_account() {
    let env = Env::start(es_seed()).await;
    let (d, p) = apps(&env);
    setup(&env, &d, &["logs-auto"]).await;
    let one = json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "read", "duration": "1h", "flow": "logs-auto"});
    let two = json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h", "flow": "logs-auto"});
    let ((s1, r1), (s2, r2)) = tokio::join!(ask(&p, DEV, one), ask(&p, DEV, two));
    assert_eq!((s1, s2), (201, 201), "{r1} {r2}");
    assert_eq!(
        (r1["status"].as_str(), r2["status"].as_str()),
        (Some("active"), Some("active")),
        "{r1} {r2}"
    );
    let user = env
        .es_json(Method::GET, "/_security/user/ejit_dev@example.com")
        .await;
    let mut roles: Vec<String> =
        serde_json::from_value(user["ejit_dev@example.com"]["roles"].clone()).unwrap();
    roles.sort();
    let mut expected = vec![
        format!("ejit_grant_{}", r1["id"].as_str().unwrap()),
        format!("ejit_grant_{}", r2["id"].as_str().unwrap()),
    ];
    expected.sort();
    assert_eq!(roles, expected);
    let (_, c) = credentials(&p, DEV, r1["id"].as_str().unwrap()).await;
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.10/_search", &basic(&c), None)
            .await,
        200
    );
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &basic(&c), None)
            .await,
        200
    );
    let principal = env
        .store
        .get_principal("prod-search", "ejit_dev@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(principal.active_grants.len(), 2);
    assert!(principal.lock_owner.is_none());
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_nothing_is_stored() {
    let env = Env::start(es_seed()).await;
    let (d, p) = apps(&env);
    setup(&env, &d, &["logs-read", "logs-leads"]).await;
    let base = json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h", "justification": "x"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let cases = [
        (
            with("integration", json!("nope")),
            400,
            "unknown_integration",
        ),
        (
            with("resources", json!(["nope-*"])),
            400,
            "unknown_resource",
        ),
        (with("resources", json!([])), 400, "invalid_resources"),
        (with("resources", json!(["a,b"])), 400, "invalid_resources"),
        (
            with("permission", json!("deployment-viewer")),
            400,
            "unknown_permission",
        ),
        (with("duration", json!("forever")), 400, "invalid_duration"),
        (with("duration", json!("1m")), 400, "invalid_duration"),
        (with("duration", json!("9h")), 403, "no_matching_flow"),
        (
            with("resources", json!(["secrets-1"])),
            403,
            "no_matching_flow",
        ),
        (
            with("justification", Value::Null),
            400,
            "justification_required",
        ),
        (with("colour", json!("red")), 400, "unknown_field"),
        (with("duration", json!(60)), 400, "invalid_field"),
    ];
    for (body, status, code) in cases {
        let mut b = body.clone();
        if code == "justification_required" {
            b["flow"] = json!("logs-read");
        }
        let (s, r) = ask(&p, DEV, b).await;
        assert_eq!(
            (s, r["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {r}"
        );
    }
    // A requester outside the flow's groups.
    let outsider = Person {
        sub: "x-1",
        email: "x@example.com",
        groups: "[sales]",
    };
    assert_eq!(
        ask(&p, outsider, base.clone()).await.1["error"]["code"],
        "no_matching_flow"
    );
    // An identity that cannot become an Elasticsearch username.
    let odd = Person {
        sub: "odd",
        email: "zoë@example.com",
        groups: "[developers]",
    };
    assert_eq!(
        ask(&p, odd, base.clone()).await.1["error"]["code"],
        "identity_not_mappable"
    );
    let mut bad_key = http(
        event("provision/post-request.json"),
        "/requests",
        DEV,
        Some(base),
    );
    bad_key["headers"]["idempotency-key"] = json!("has space");
    assert_eq!(
        call(&p, bad_key).await.1["error"]["code"],
        "invalid_idempotency_key"
    );
    // Reject needs a reason.
    let (_, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "read", "duration": "1h", "flow": "logs-leads"})).await;
    let id = r["id"].as_str().unwrap();
    let reject = |who, body| {
        http(
            event("provision/reject.json"),
            &format!("/requests/{id}/reject"),
            who,
            body,
        )
    };
    assert_eq!(
        call(&p, reject(CAROL, Some(json!({})))).await.1["error"]["code"],
        "reason_required"
    );
    let (s, r) = call(&p, reject(CAROL, None)).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("rejected")));
    assert_eq!(
        approve(&p, ALICE, id).await.1["error"]["code"],
        "not_pending"
    );
    let (s, r) = call(
        &p,
        http(
            event("provision/get-request.json"),
            &format!("/requests/{id}"),
            DEV,
            None,
        ),
    )
    .await;
    assert_eq!(
        (s, r["status_reason"].as_str()),
        (200, Some("use the staging cluster"))
    );
    assert_eq!(
        call(
            &p,
            http(
                event("provision/get-request.json"),
                &format!("/requests/{id}"),
                MALLORY,
                None
            )
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn a_provision_that_fails_half_way_is_undone_and_the_request_fails() {
    let env = Env::start(es_seed()).await;
    let (d, p) = apps(&env);
    setup(&env, &d, &["logs-auto"]).await;
    env.es_fault("PUT", "/_security/user/*", 5, 500).await;
    let (s, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h", "flow": "logs-auto"})).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("failed")), "{r}");
    assert!(r["status_reason"].as_str().unwrap().contains("500"), "{r}");
    assert_eq!(r["created_objects"], json!([]), "undone");
    let id = r["id"].as_str().unwrap();
    let missing = env
        .es_as(
            Method::GET,
            &format!("/_security/role/ejit_grant_{id}"),
            &Auth::elastic(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404, "the role was removed again");
    let principal = env
        .store
        .get_principal("prod-search", "ejit_dev@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(principal.active_grants.is_empty() && principal.lock_owner.is_none());
    env.clear_es_faults().await;
    // The next try works, and the stored password is the account's.
    let (_, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h", "flow": "logs-auto"})).await;
    assert_eq!(r["status"], "active", "{r}");
    let (_, c) = credentials(&p, DEV, r["id"].as_str().unwrap()).await;
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &basic(&c), None)
            .await,
        200
    );
}

#[tokio::test]
async fn pending_requests_expire_after_their_approval_window() {
    let env = Env::start(es_seed()).await;
    let (d, p) = apps(&env);
    setup(&env, &d, &["logs-leads"]).await;
    let (_, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "read", "duration": "1h", "flow": "logs-leads"})).await;
    let id = r["id"].as_str().unwrap().to_string();
    env.clock.advance(Duration::hours(25));
    let (s, e) = approve(&p, ALICE, &id).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("approval_window_elapsed"))
    );
    let stored = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(stored.status.as_str(), "expired");
}
