//! A flow's approval rules through the API, against moto's server and the Elasticsearch
//! emulator: `any`, `all_owners` and `quorum`, a required approval reason, and the flow
//! settings that are refused.

use std::sync::Arc;

use fixtures::flows::{approve, ask, call, discover_app, provision_app, put_flow, register};
use fixtures::{ALICE, CAROL, DEV, Env, Person, es_seed, event, http};
use reqwest::Method;
use serde_json::{Value, json};
use shared::model::AuditSubject;
use shared::store::{AuditStore, RequestStore};

/// Alice again, signed in through another identity (another `sub`, the same trusted email).
const ALICE_AGAIN: Person = Person {
    sub: "alice-second-identity",
    email: "alice@example.com",
    groups: "[leads]",
};

fn flow(extra: Value) -> Value {
    let mut spec = json!({
        "integration": "prod-search",
        "requesters": [{"type": "group", "value": "developers"}],
        "resources": ["logs-*", "secrets-*"],
        "permissions": ["read"],
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        spec[k] = v.clone();
    }
    spec
}

async fn setup(env: &Env, flows: &[(&str, Value)]) -> provision::App {
    let d = discover_app(env);
    register(env, &d, json!({})).await;
    for (name, spec) in flows {
        let (s, b) = put_flow(&d, name, spec.clone()).await;
        assert_eq!(s, 201, "{name}: {b}");
    }
    provision_app(env)
}

async fn ask_for(p: &provision::App, flow: &str, resources: &[&str]) -> String {
    let (s, r) = ask(p, DEV, json!({"integration": "prod-search", "resources": resources, "permission": "read", "duration": "1h", "flow": flow})).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("pending")), "{r}");
    r["id"].as_str().unwrap().to_string()
}

async fn approve_with(p: &provision::App, who: Person, id: &str, body: Value) -> (u16, Value) {
    call(
        p,
        http(
            event("provision/approve.json"),
            &format!("/requests/{id}/approve"),
            who,
            Some(body),
        ),
    )
    .await
}

async fn count(env: &Env, id: &str, action: &str) -> usize {
    env.store
        .audit_of(&AuditSubject::Request(id.into()), 50, None)
        .await
        .unwrap()
        .items
        .iter()
        .filter(|e| e.action == action)
        .count()
}

#[tokio::test]
async fn a_quorum_counts_different_humans_and_provisions_once_when_reached_at_once() {
    let env = Env::start(es_seed()).await;
    let p = setup(
        &env,
        &[(
            "two-leads",
            flow(json!({
                "approvers": [{"type": "group", "value": "leads"}],
                "approval": {"rule": "quorum", "quorum": 2}
            })),
        )],
    )
    .await;
    let id = ask_for(&p, "two-leads", &["logs-2026.10"]).await;
    let r = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(r.approval_steps.len(), 1);
    assert_eq!(r.approval_steps[0].required, 2);
    assert_eq!(r.approval_steps[0].label, "2 of flow approvers");

    let (s, one) = approve(&p, ALICE, &id).await;
    assert_eq!((s, one["status"].as_str()), (200, Some("pending")), "{one}");
    assert_eq!(
        one["approval_steps"][0]["approvals"][0]["by"],
        "alice@example.com"
    );
    assert_eq!(one["can_decide"], false, "alice has given her approval");
    // The same human again, under the same or another identity, does not make two.
    for who in [ALICE, ALICE_AGAIN] {
        let (s, b) = approve(&p, who, &id).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (409, Some("already_decided")),
            "{b}"
        );
    }
    let still = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(still.version, r.version + 1, "refusals write nothing");
    let (s, done) = approve(&p, CAROL, &id).await;
    assert_eq!(
        (s, done["status"].as_str()),
        (200, Some("active")),
        "{done}"
    );
    assert_eq!(
        done["approval_steps"][0]["approved_by"],
        "carol@example.com"
    );
    assert_eq!(count(&env, &id, "grant.provisioned").await, 1);

    // Two approvals completing the quorum at the same instant: both are recorded, one
    // provision. (The loser of the write re-reads and adds its approval to the winner's.)
    let p = Arc::new(p);
    for round in 0..3 {
        let id = ask_for(&p, "two-leads", &["logs-2026.10"]).await;
        let (a, c) = tokio::join!(approve(&p, ALICE, &id), approve(&p, CAROL, &id));
        assert_eq!((a.0, c.0), (200, 200), "round {round}: {a:?} {c:?}");
        let r = env.store.get_request(&id).await.unwrap().unwrap();
        assert_eq!(r.status.as_str(), "active", "round {round}");
        assert_eq!(r.approval_steps[0].approvals.len(), 2, "round {round}");
        assert_eq!(
            count(&env, &id, "grant.provisioned").await,
            1,
            "round {round}"
        );
        assert_eq!(
            count(&env, &id, "request.approved").await,
            1,
            "round {round}"
        );
        assert_eq!(
            count(&env, &id, "request.approval_recorded").await,
            1,
            "round {round}"
        );
        let roles = env.es_json(Method::GET, "/_security/role").await;
        let made = roles
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| k.ends_with(&id))
            .count();
        assert_eq!(made, 1, "round {round}");
    }
}

#[tokio::test]
async fn owner_steps_are_never_merged_and_a_quorum_applies_to_each() {
    let env = Env::start(es_seed()).await;
    let p = setup(
        &env,
        &[
            ("each-owner", flow(json!({}))),
            (
                "owner-quorum",
                flow(json!({"approval": {"rule": "quorum", "quorum": 2}})),
            ),
        ],
    )
    .await;
    // alice owns the logs indices, bob secrets-1: each approves their own.
    let each = ask_for(&p, "each-owner", &["logs-2026.10", "secrets-1"]).await;
    let r = env.store.get_request(&each).await.unwrap().unwrap();
    assert_eq!(r.approval_steps.len(), 2, "{:?}", r.approval_steps);
    let (s, b) = approve(&p, ALICE, &each).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("pending")), "{b}");
    // A quorum of two over a resource one person owns can never be reached: refused up front.
    let (s, b) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "read", "duration": "1h", "flow": "owner-quorum"})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("no_eligible_approver")),
        "{b}"
    );
}

#[tokio::test]
async fn a_flow_asking_for_reasons_refuses_an_approval_without_one() {
    let env = Env::start(es_seed()).await;
    let p = setup(
        &env,
        &[(
            "reasoned",
            flow(json!({
                "approvers": [{"type": "group", "value": "leads"}],
                "approval": {"require_reason": true}
            })),
        )],
    )
    .await;
    let id = ask_for(&p, "reasoned", &["logs-2026.10"]).await;
    let before = env.store.get_request(&id).await.unwrap().unwrap();
    assert!(before.approval_reason_required);
    for body in [json!({}), json!({"reason": "   "})] {
        let (s, b) = approve_with(&p, ALICE, &id, body).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (400, Some("reason_required")),
            "{b}"
        );
    }
    let unchanged = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(unchanged.version, before.version, "nothing was written");
    let (s, b) = approve_with(&p, ALICE, &id, json!({"reason": "INC-4711 needs it"})).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("active")), "{b}");
    assert_eq!(b["decisions"][0]["reason"], "INC-4711 needs it");
}

#[tokio::test]
async fn approval_rules_that_cannot_work_are_refused_when_the_flow_is_saved() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    register(&env, &d, json!({})).await;
    let leads = json!([{"type": "group", "value": "leads"}]);
    let two_people = json!([{"type": "user", "value": "alice@example.com"}, {"type": "user", "value": "carol@example.com"}]);
    let cases = [
        (
            json!({"approvers": leads, "approval": {"quorum": 2}}),
            "invalid_quorum",
        ),
        (
            json!({"approvers": leads, "approval": {"rule": "quorum"}}),
            "invalid_quorum",
        ),
        (
            json!({"approvers": leads, "approval": {"rule": "quorum", "quorum": 1}}),
            "invalid_quorum",
        ),
        (
            json!({"approvers": leads, "approval": {"rule": "quorum", "quorum": 11}}),
            "invalid_quorum",
        ),
        (
            json!({"approvers": two_people, "approval": {"rule": "quorum", "quorum": 3}}),
            "invalid_quorum",
        ),
        (
            json!({"approvers": leads, "approval": {"rule": "all_owners"}}),
            "approval_rule_conflict",
        ),
        (
            json!({"auto_approve": true, "approval": {"require_reason": true}}),
            "approval_rule_conflict",
        ),
        (
            json!({"approval": {"escalation": {"after": "1m"}}}),
            "invalid_escalation",
        ),
        (
            json!({"approval": {"escalation": {"after": "1d"}}}),
            "invalid_escalation",
        ),
        (
            json!({"approval_window": "2h", "approval": {"escalation": {"after": "3h"}}}),
            "invalid_escalation",
        ),
        (
            json!({"approval": {"escalation": {"after": "soon"}}}),
            "invalid_escalation",
        ),
        (
            json!({"approval": {"escalation": {"after": "1h", "to": [{"type": "team", "value": "x"}]}}}),
            "invalid_field",
        ),
        (json!({"approval": {"rule": "most"}}), "invalid_field"),
        (
            json!({"approval": {"quorum": 2, "extra": true}}),
            "unknown_field",
        ),
    ];
    for (i, (extra, code)) in cases.into_iter().enumerate() {
        let (s, b) = put_flow(&d, &format!("bad-{i}"), flow(extra.clone())).await;
        assert_eq!(s, 400, "{extra}: {b}");
        let codes: Vec<&str> = std::iter::once(b["error"]["code"].as_str().unwrap_or_default())
            .chain(
                b["error"]["details"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e["code"].as_str()),
            )
            .collect();
        assert!(codes.contains(&code), "{extra}: expected {code} in {b}");
    }
    let (s, b) = put_flow(
        &d,
        "fine",
        flow(json!({"approvers": leads, "approval": {"rule": "quorum", "quorum": 2, "require_reason": true, "escalation": {"after": "2h"}}})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["approval"]["escalation"]["after"], "2h", "{b}");
}

#[tokio::test]
async fn a_quorum_the_requester_would_have_to_complete_is_refused_up_front() {
    let env = Env::start(es_seed()).await;
    let p = setup(
        &env,
        &[(
            "dev-and-alice",
            flow(json!({
                "approvers": [{"type": "user", "value": "dev@example.com"}, {"type": "user", "value": "alice@example.com"}],
                "approval": {"rule": "quorum", "quorum": 2}
            })),
        )],
    )
    .await;
    let (s, b) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "read", "duration": "1h", "flow": "dev-and-alice"})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("no_eligible_approver")),
        "{b}"
    );
    let (mine, _) = env
        .store
        .requests_of(&DEV.key(), 10, None)
        .await
        .map(|p| (p.items, p.next))
        .unwrap();
    assert!(mine.is_empty(), "nothing stored: {mine:?}");
}
