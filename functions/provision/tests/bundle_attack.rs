//! Security review of bundles (h18b): each test states the property it expects and fails
//! while the finding stands.

use std::sync::Arc;

use chrono::Duration;
use fixtures::ALICE;
use fixtures::bundles::{OPS, kit, setup};
use fixtures::cloud::{BOB, STAGING};
use fixtures::flows::{approve, ask, cleanup_app, revoke_app, revoke_by, sweep};
use serde_json::json;
use shared::clock::Clock;
use shared::model::{RequestStatus, child_id};
use shared::store::{DynamoStore, RequestStore, StoreConfig};

/// Finding 1: the write that makes a pending bundle `bundled` does not delete its extra
/// open-request places (`OPEN_SLOT#k`) nor its approver-index items: `leaves_pending` does
/// not list `Bundled`. The requester's open count stays inflated until the slots' TTL
/// (approval window + 1 day).
#[tokio::test]
async fn an_approved_bundle_gives_back_its_extra_open_places() {
    let (env, _) = setup("prod-search", json!({})).await;
    let mut cfg = StoreConfig::new(env.store.table());
    cfg.max_open_requests = 4;
    let mut services = fixtures::flows::services(&env);
    services.store = Arc::new(DynamoStore::with_config(env.dynamodb.clone(), cfg));
    let p = provision::App {
        services,
        ..fixtures::flows::provision_app(&env)
    };
    let (s, first) = ask(&p, BOB, kit()).await;
    assert_eq!(s, 201, "{first}");
    let id = first["id"].as_str().unwrap().to_string();
    // Alice owns both items' resources: her approval completes the bundle.
    let (s, r) = approve(&p, ALICE, &id).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("bundled")), "{r}");
    // Two children are open (two places of four); a second bundle of two fits exactly.
    let (s, second) = ask(&p, BOB, kit()).await;
    assert_eq!(
        s, 201,
        "2 active children + 2 new places = 4 <= cap 4, yet refused: the approved bundle's \
         OPEN_SLOT item is still counted: {second}"
    );
}

/// Finding 2: an escalation without `to` reaches "the integration owners"; for a bundle that
/// is the union of every item's integration owners, and `Request::escalate` adds all of them
/// to every unapproved step. An owner of the Cloud integration alone then approves the whole
/// bundle, including the Elasticsearch item that neither he nor his group owns.
#[tokio::test]
async fn an_escalated_bundle_is_not_approved_by_another_integrations_owners() {
    let (env, p) = setup(
        "staging-logs",
        json!({"approval_window": "4h", "approval": {"escalation": {"after": "30m"}}}),
    )
    .await;
    let (s, parent) = ask(&p, BOB, kit()).await;
    assert_eq!(s, 201, "{parent}");
    let id = parent["id"].as_str().unwrap().to_string();
    env.clock.advance(Duration::minutes(31));
    let report = sweep(&cleanup_app(&env)).await;
    assert_eq!(report["escalated"], 1, "{report}");
    let stored = env.store.get_request(&id).await.unwrap().unwrap();
    let es_step = stored.approval_steps[0].clone();
    assert!(es_step.label.starts_with("prod-search:"), "{es_step:?}");
    let (s, r) = approve(&p, OPS, &id).await;
    let es_child = env.store.get_request(&child_id(&id, 0)).await.unwrap();
    assert_eq!(
        r["status"].as_str(),
        Some("pending"),
        "({s}) one Cloud owner's approval granted read on prod-search/logs-2026.10 \
         (ES child now {:?}); the prod-search step's approvers after escalation: {:?}",
        es_child.map(|c| c.status),
        es_step.approvers
    );
}

/// Finding 3: every child carries every step of the parent, so `may_revoke` (and `visible`)
/// let the owner of one item's resource revoke (and read) a grant on another integration she
/// has no role on.
#[tokio::test]
async fn the_owner_of_one_item_cannot_revoke_another_items_grant() {
    let (env, p) = setup("staging-logs", json!({})).await;
    let (s, parent) = ask(&p, BOB, kit()).await;
    assert_eq!(s, 201, "{parent}");
    let id = parent["id"].as_str().unwrap().to_string();
    assert_eq!(approve(&p, ALICE, &id).await.0, 200);
    let (s, r) = approve(&p, OPS, &id).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("bundled")), "{r}");
    let cloud_child = child_id(&id, 1);
    assert!(
        env.holds("bob@example.com", "deployment-viewer", STAGING)
            .await
    );
    // Alice owns logs-2026.10 on prod-search only; the Cloud grant is not hers to end.
    let (s, b) = revoke_by(&revoke_app(&env), ALICE, &cloud_child).await;
    assert!(
        s == 404 || s == 403,
        "alice (owner of the ES item only) revoked the Cloud item's grant: {s} {b}"
    );
    assert!(
        env.holds("bob@example.com", "deployment-viewer", STAGING)
            .await
    );
}

/// Finding 4: the revocation of a bundle is recorded on the parent, but a child that a start
/// had just taken to `approved` is left out (409 bundle_provisioning) and nothing honours the
/// recorded intent afterwards: the child becomes active and stays so after the sweep, until
/// its natural expiry.
#[tokio::test]
async fn a_revoked_bundle_leaves_no_child_active_after_a_racing_start() {
    let (env, p) = setup("prod-search", json!({})).await;
    let (s, r) = ask(&p, BOB, kit()).await;
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    // The approval commits (as `bundles::grant` does) and the children are still scheduled.
    let (_, _bundled) = fixtures::bundles::approved_without_starting(&env, &id).await;
    let now = env.clock.now();
    // A start of child 1 has moved it to `approved` (start::fire's first write) ...
    let c0 = env
        .store
        .get_request(&child_id(&id, 0))
        .await
        .unwrap()
        .unwrap();
    let mut started = c0.clone();
    started.transition(RequestStatus::Approved, now).unwrap();
    let started = env
        .store
        .update_request(&started, c0.version, &[])
        .await
        .unwrap();
    // ... when the requester revokes the bundle.
    let (s, b) = revoke_by(&revoke_app(&env), BOB, &id).await;
    assert_eq!(s, 409, "{b}");
    // The start goes on and provisions it.
    let done = p.services.grants().provision(started).await.unwrap();
    assert_eq!(done.status, RequestStatus::Active);
    let parent = env.store.get_request(&id).await.unwrap().unwrap();
    assert!(
        parent.revoke_requested_by.is_some(),
        "the revoke was recorded"
    );
    sweep(&cleanup_app(&env)).await;
    let c0 = env
        .store
        .get_request(&child_id(&id, 0))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        c0.status,
        RequestStatus::Active,
        "the bundle was revoked, yet its child is active until its expiry"
    );
}

/// Finding 5: the notification that asks a bundle's approvers to decide (and carries the
/// Slack approve/reject buttons) is rendered by `shared::notifications::summary`, which reads
/// the request's own integration, permission and resources: all empty on a bundle parent. The
/// approvers are asked to approve "bob asks for  on : for 1h" without seeing any item.
#[tokio::test]
async fn a_bundles_approval_request_names_what_it_grants() {
    let (env, p) = setup("staging-logs", json!({})).await;
    let (s, parent) = ask(&p, BOB, kit()).await;
    assert_eq!(s, 201, "{parent}");
    let stored = env
        .store
        .get_request(parent["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let text = shared::notifications::summary(&stored);
    assert!(
        text.contains("logs-2026.10") && text.contains(STAGING),
        "the approvers' message names no item: {text:?}"
    );
}
