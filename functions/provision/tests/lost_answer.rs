//! A decision whose write lands but whose answer is lost (the connection to DynamoDB closes
//! after the commit; the SDK retries and its retry finds the request already moved, by this
//! very decision) is done: the approver gets 200 and the grant is provisioned once, not
//! `409 not_pending` with nothing provisioned (a CI run on a loaded machine hit exactly this on
//! a bundle's approval). A cancel and a break-glass review likewise.

use fixtures::aws_faults::{AwsFault, AwsFaultProxy, AwsKind};
use fixtures::flows::{
    approve, ask, call, discover_app, flows, get_request, provision_app, put_flow, register,
};
use fixtures::{ALICE, CAROL, DEV, Env, es_seed, event, http};
use reqwest::Method;
use serde_json::json;
use shared::store::RequestStore;

/// An environment whose AWS calls go through the fault proxy, `prod-search` registered.
async fn proxied() -> (AwsFaultProxy, Env, discover::App, provision::App) {
    let proxy = AwsFaultProxy::start(&test_harness::aws_endpoint()).await;
    let env = Env::start_via(es_seed(), proxy.url()).await;
    let d = discover_app(&env);
    let p = provision_app(&env);
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-leads"]).await;
    (proxy, env, d, p)
}

/// How many times the request's own history records `action`.
async fn recorded(env: &Env, id: &str, action: &str) -> usize {
    let stored = env
        .store
        .get_request(id)
        .await
        .expect("read")
        .expect("request");
    stored.history.iter().filter(|e| e.action == action).count()
}

/// Dev's request through the one-approver flow, pending; its id.
async fn pending(p: &provision::App) -> String {
    let (s, asked) = ask(
        p,
        DEV,
        json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "read",
               "duration": "1h", "flow": "logs-leads"}),
    )
    .await;
    assert_eq!(s, 201, "{asked}");
    asked["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn an_approval_whose_answer_is_lost_still_provisions_once() {
    let (proxy, env, _d, p) = proxied().await;
    // A new account: the approval takes its lease in the same commit.
    let id = pending(&p).await;

    // The approval commits the decision with the account's lease in one transaction; its answer
    // is lost once.
    proxy.arm(
        AwsFault::new(
            "DynamoDB_20120810.TransactWriteItems",
            AwsKind::AnswerLostOnce,
        )
        .with_body("request.approved"),
    );
    let (s, b) = approve(&p, CAROL, &id).await;
    let lost = proxy.clear();
    assert_eq!(lost, 1, "the approval's commit lost its answer once");
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "active", "{b}");

    // Provisioned once: the grant's role exists and the account holds it, and the request's
    // own history has one approval and one provisioning.
    let role = env
        .es_json(Method::GET, &format!("/_security/role/ejit_grant_{id}"))
        .await;
    assert_eq!(
        role[format!("ejit_grant_{id}")]["metadata"]["grant_id"],
        id.as_str()
    );
    let user = env
        .es_json(Method::GET, "/_security/user/ejit_dev@example.com")
        .await;
    assert_eq!(
        user["ejit_dev@example.com"]["roles"],
        json!([format!("ejit_grant_{id}")]),
        "{user}"
    );
    assert_eq!(recorded(&env, &id, "request.approved").await, 1);
    assert_eq!(recorded(&env, &id, "grant.provisioned").await, 1);
    let (s, r) = get_request(&p, DEV, &id).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("active")), "{r}");

    // Approving again is what it always was: already decided.
    let (s, b) = approve(&p, CAROL, &id).await;
    assert_eq!(s, 409, "{b}");
}

#[tokio::test]
async fn a_cancel_whose_answer_is_lost_is_done() {
    let (proxy, env, _d, p) = proxied().await;
    let id = pending(&p).await;

    // The first DynamoDB write that records the cancel lands, and its answer is lost.
    proxy.arm(
        AwsFault::new("DynamoDB_20120810.", AwsKind::AnswerLostOnce).with_body("request.cancelled"),
    );
    let (s, b) = call(
        &p,
        http(
            event("provision/cancel.json"),
            &format!("/requests/{id}/cancel"),
            DEV,
            None,
        ),
    )
    .await;
    assert_eq!(proxy.clear(), 1, "the cancel's write lost its answer once");
    assert_eq!((s, b["status"].as_str()), (200, Some("cancelled")), "{b}");
    assert_eq!(recorded(&env, &id, "request.cancelled").await, 1);
}

#[tokio::test]
async fn a_break_glass_review_whose_answer_is_lost_is_recorded_once() {
    let (proxy, env, d, p) = proxied().await;
    let (s, b) = put_flow(
        &d,
        "emergency",
        json!({"integration": "prod-search", "requesters": [{"type": "group", "value": "developers"}],
               "resources": ["logs-*"], "permissions": ["read"], "break_glass": true}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, r) = ask(
        &p,
        DEV,
        json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read",
               "duration": "30m", "flow": "emergency", "justification": "INC-9 prod down"}),
    )
    .await;
    assert_eq!((s, r["status"].as_str()), (201, Some("active")), "{r}");
    let id = r["id"].as_str().expect("id").to_string();

    // Alice owns the integration; the write that records her review lands, its answer lost.
    proxy.arm(
        AwsFault::new("DynamoDB_20120810.", AwsKind::AnswerLostOnce).with_body("request.reviewed"),
    );
    let (s, b) = call(
        &p,
        http(
            event("provision/approve.json"),
            &format!("/requests/{id}/review"),
            ALICE,
            Some(json!({"outcome": "justified"})),
        ),
    )
    .await;
    assert_eq!(proxy.clear(), 1, "the review's write lost its answer once");
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["break_glass"]["review"]["outcome"], "justified", "{b}");
    assert_eq!(recorded(&env, &id, "request.reviewed").await, 1);
}
