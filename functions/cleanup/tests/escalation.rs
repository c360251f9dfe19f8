//! A flow's escalation: a request nobody approved in time gains the next approver tier through
//! the cleanup sweep, which indexes them so they find it, once; the approval window still ends
//! it.

use chrono::Duration;
use fixtures::flows::sweep;
use fixtures::flows::{approve, ask, cleanup_app, discover_app, provision_app, put_flow, register};
use fixtures::{ALICE, CAROL, DEV, Env, Person, es_seed, event, http};
use serde_json::json;
use shared::model::{AuditSubject, PrincipalRef};
use shared::store::{AuditStore, RequestStore};

async fn to_decide(p: &provision::App, who: Person) -> Vec<String> {
    let (s, b) = fixtures::flows::call(
        p,
        http(event("provision/get-requests.json"), "/requests", who, None),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    b["to_decide"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn nobody_deciding_in_time_brings_in_the_next_tier_once() {
    let env = Env::start(es_seed()).await;
    let (d, p, c) = (discover_app(&env), provision_app(&env), cleanup_app(&env));
    register(&env, &d, json!({})).await;
    let (s, b) = put_flow(
        &d,
        "escalating",
        json!({
            "integration": "prod-search",
            "requesters": [{"type": "group", "value": "developers"}],
            "resources": ["logs-*"], "permissions": ["read"],
            "approvers": [{"type": "user", "value": "alice@example.com"}],
            "approval_window": "4h",
            "approval": {"escalation": {"after": "30m", "to": [{"type": "user", "value": "carol@example.com"}]}}
        }),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "read", "duration": "1h", "flow": "escalating"})).await;
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    assert_eq!(
        r["escalation"]["to"][0]["value"], "carol@example.com",
        "{r}"
    );

    // Before the escalation: carol may neither see nor decide it.
    let report = sweep(&c).await;
    assert_eq!(report["escalated"], 0, "{report}");
    assert!(to_decide(&p, CAROL).await.is_empty());
    let (s, b) = approve(&p, CAROL, &id).await;
    assert_eq!(s, 404, "not hers to see yet: {b}");

    env.clock.advance(Duration::minutes(31));
    let report = sweep(&c).await;
    assert_eq!(report["escalated"], 1, "{report}");
    assert_eq!(report["pending_expired"], 0, "{report}");
    let stored = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(stored.status.as_str(), "pending");
    assert!(
        stored.approval_steps[0]
            .approvers
            .contains(&PrincipalRef::user("carol@example.com")),
        "{:?}",
        stored.approval_steps
    );
    assert!(stored.escalation.as_ref().unwrap().escalated_at.is_some());
    // Once: a second sweep finds nothing to do; the request is next due at its window's end.
    let report = sweep(&c).await;
    assert_eq!(report["escalated"], 0, "{report}");
    assert_eq!(
        env.store.get_request(&id).await.unwrap().unwrap().version,
        stored.version
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
            .filter(|e| e.action == "request.escalated")
            .count(),
        1
    );
    // Carol finds it through the approver index, and decides it; alice kept her say too.
    assert_eq!(to_decide(&p, CAROL).await, vec![id.clone()]);
    assert_eq!(to_decide(&p, ALICE).await, vec![id.clone()]);
    let (s, b) = approve(&p, CAROL, &id).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("active")), "{b}");
    assert!(to_decide(&p, ALICE).await.is_empty());
    assert!(
        to_decide(&p, CAROL).await.is_empty(),
        "the index items went with the decision"
    );

    // A request that escalates and still nobody decides expires at its window's end.
    let (s, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h", "flow": "escalating"})).await;
    assert_eq!(s, 201, "{r}");
    let late = r["id"].as_str().unwrap().to_string();
    env.clock.advance(Duration::minutes(31));
    assert_eq!(sweep(&c).await["escalated"], 1);
    env.clock.advance(Duration::hours(4));
    let report = sweep(&c).await;
    assert_eq!(report["pending_expired"], 1, "{report}");
    let expired = env.store.get_request(&late).await.unwrap().unwrap();
    assert_eq!(expired.status.as_str(), "expired");
    assert!(to_decide(&p, CAROL).await.is_empty());
}
