//! Break-glass flows through the API, against moto's server and the Elasticsearch emulator:
//! granted at once with a justification, capped, listed for review until an owner reviews it,
//! reviewed once, never by the requester.

use fixtures::flows::{
    ask, auth_of, call, credentials, discover_app, provision_app, put_flow, register,
};
use fixtures::{ADMIN, ALICE, CAROL, DEV, Env, MALLORY, Person, es_seed, event, http};
use reqwest::Method;
use serde_json::{Value, json};
use shared::model::AuditSubject;
use shared::store::{AuditStore, RequestStore};

fn emergency(extra: Value) -> Value {
    let mut spec = json!({
        "integration": "prod-search",
        "requesters": [{"type": "group", "value": "developers"}, {"type": "group", "value": "search-platform"}],
        "resources": ["logs-*"],
        "permissions": ["read"],
        "break_glass": true,
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        spec[k] = v.clone();
    }
    spec
}

async fn reviews(p: &provision::App, who: Person) -> Vec<String> {
    let (s, b) = call(
        p,
        http(event("provision/get-requests.json"), "/reviews", who, None),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    b["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

async fn review(p: &provision::App, who: Person, id: &str, body: Value) -> (u16, Value) {
    call(
        p,
        http(
            event("provision/approve.json"),
            &format!("/requests/{id}/review"),
            who,
            Some(body),
        ),
    )
    .await
}

fn code(b: &Value) -> Option<&str> {
    b["error"]["code"].as_str()
}

#[tokio::test]
async fn break_glass_grants_at_once_and_waits_for_one_owner_review() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    register(&env, &d, json!({})).await;
    let (s, b) = put_flow(&d, "emergency", emergency(json!({}))).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["max_duration"], "1h", "capped by default: {b}");
    let p = provision_app(&env);
    let asked = |who: Person, body: Value| {
        let mut base = json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "30m", "flow": "emergency"});
        for (k, v) in body.as_object().into_iter().flatten() {
            base[k] = v.clone();
        }
        ask(&p, who, base)
    };
    // A justification is required, and the cap holds.
    let (s, b) = asked(DEV, json!({"justification": "  "})).await;
    assert_eq!((s, code(&b)), (400, Some("justification_required")), "{b}");
    let (s, b) = asked(DEV, json!({"justification": "INC-9", "duration": "2h"})).await;
    assert_eq!((s, code(&b)), (403, Some("no_matching_flow")), "{b}");

    let (s, r) = asked(DEV, json!({"justification": "INC-9 prod down"})).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("active")), "{r}");
    assert!(r["approval_steps"].as_array().unwrap().is_empty(), "{r}");
    assert_eq!(r["break_glass"], json!({}), "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    let (_, creds) = credentials(&p, DEV, &id).await;
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &auth_of(&creds), None)
            .await,
        200,
        "access works at once"
    );

    // Listed for the integration's owners (alice, through search-platform) and admins only.
    assert_eq!(reviews(&p, ALICE).await, vec![id.clone()]);
    assert_eq!(reviews(&p, ADMIN).await, vec![id.clone()]);
    assert!(reviews(&p, CAROL).await.is_empty());
    assert!(reviews(&p, DEV).await.is_empty());
    // Owners may read the request to review it.
    let (s, _) = call(
        &p,
        http(
            event("provision/get-request.json"),
            &format!("/requests/{id}"),
            ALICE,
            None,
        ),
    )
    .await;
    assert_eq!(s, 200);

    // Who may not review, and what is refused.
    let (s, b) = review(&p, DEV, &id, json!({"outcome": "justified"})).await;
    assert_eq!(
        (s, code(&b)),
        (403, Some("forbidden")),
        "the requester: {b}"
    );
    let (s, b) = review(&p, MALLORY, &id, json!({"outcome": "justified"})).await;
    assert_eq!(s, 404, "a stranger learns nothing: {b}");
    let (s, b) = review(&p, ALICE, &id, json!({"outcome": "not_justified"})).await;
    assert_eq!((s, code(&b)), (400, Some("note_required")), "{b}");
    let (s, b) = review(&p, ALICE, &id, json!({"outcome": "fine"})).await;
    assert_eq!((s, code(&b)), (400, Some("invalid_field")), "{b}");
    let (s, b) = review(
        &p,
        ALICE,
        &id,
        json!({"outcome": "justified", "note": "x".repeat(1001)}),
    )
    .await;
    assert_eq!((s, code(&b)), (400, Some("note_too_long")), "{b}");
    let (s, b) = review(
        &p,
        ALICE,
        &id,
        json!({"outcome": "justified", "note": "bad\u{7}"}),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    let untouched = env.store.get_request(&id).await.unwrap().unwrap();
    assert!(untouched.review_pending());

    let (s, b) = review(
        &p,
        ALICE,
        &id,
        json!({"outcome": "justified", "note": "the outage was real"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["break_glass"]["review"]["by"], "alice@example.com");
    assert_eq!(b["break_glass"]["review"]["outcome"], "justified");
    assert_eq!(b["status"], "active", "a review does not end the grant");
    let (s, b) = review(
        &p,
        ADMIN,
        &id,
        json!({"outcome": "not_justified", "note": "second opinion"}),
    )
    .await;
    assert_eq!((s, code(&b)), (409, Some("already_reviewed")), "{b}");
    assert!(reviews(&p, ALICE).await.is_empty(), "done: off the list");
    let trail = env
        .store
        .audit_of(&AuditSubject::Request(id.clone()), 20, None)
        .await
        .unwrap();
    let reviewed: Vec<_> = trail
        .items
        .iter()
        .filter(|e| e.action == "request.reviewed")
        .collect();
    assert_eq!(reviewed.len(), 1);
    assert_eq!(reviewed[0].actor, "alice@example.com");

    // An owner asking for break-glass access does not review it: another owner or an admin does.
    let (s, mine) = asked(ALICE, json!({"justification": "INC-10"})).await;
    assert_eq!(s, 201, "{mine}");
    let mine = mine["id"].as_str().unwrap().to_string();
    let (s, b) = review(&p, ALICE, &mine, json!({"outcome": "justified"})).await;
    assert_eq!((s, code(&b)), (403, Some("forbidden")), "{b}");
    let (s, b) = review(&p, ADMIN, &mine, json!({"outcome": "justified"})).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn only_break_glass_grants_are_reviewed_and_bad_flows_are_refused() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    register(&env, &d, json!({})).await;
    for (extra, expected) in [
        (
            json!({"approvers": [{"type": "group", "value": "leads"}]}),
            "break_glass_conflict",
        ),
        (json!({"auto_approve": true}), "break_glass_conflict"),
        (
            json!({"approval": {"require_reason": true}}),
            "break_glass_conflict",
        ),
        (json!({"max_duration": "8h"}), "invalid_max_duration"),
    ] {
        let (s, b) = put_flow(&d, "a-bad", emergency(extra.clone())).await;
        assert_eq!(s, 400, "{extra}: {b}");
        assert!(b.to_string().contains(expected), "{extra}: {b}");
    }
    // Sorts before "auto": only a request naming it uses it.
    let (s, b) = put_flow(&d, "a-emergency", emergency(json!({"max_duration": "4h"}))).await;
    assert_eq!(s, 201, "{b}");

    // An ordinary grant is not reviewed.
    let (s, b) = put_flow(
        &d,
        "auto",
        json!({"integration": "prod-search", "requesters": [{"type": "group", "value": "developers"}],
               "resources": ["logs-*"], "permissions": ["read"], "auto_approve": true}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let p = provision_app(&env);
    let (s, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "30m", "flow": "auto"})).await;
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_str().unwrap();
    // An owner who cannot see the request learns nothing of it; one who can is told why not.
    let (s, b) = review(&p, ALICE, id, json!({"outcome": "justified"})).await;
    assert_eq!(s, 404, "{b}");
    let (s, b) = review(&p, ADMIN, id, json!({"outcome": "justified"})).await;
    assert_eq!((s, code(&b)), (409, Some("not_break_glass")), "{b}");
    // An ordinary request never lands on a break-glass flow unless it names it.
    let (s, b) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "30m", "justification": "INC-11"})).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["flow"], "auto", "{b}");
    assert!(b.get("break_glass").is_none(), "{b}");

    // Nobody to review: an integration without owners cannot have a break-glass flow.
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    register(
        &env,
        &d,
        json!({"integration_owners": [], "resource_owner": null}),
    )
    .await;
    let (s, b) = put_flow(&d, "emergency", emergency(json!({}))).await;
    assert_eq!(s, 400, "{b}");
    assert!(b.to_string().contains("no_reviewers"), "{b}");
}
