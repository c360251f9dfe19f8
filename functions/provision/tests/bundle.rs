//! Bundles end to end against moto's server and the Elasticsearch and Elastic Cloud emulators:
//! one request through a bundle flow names grants on two integrations; it is approved as a
//! whole, then each item is granted on its own integration (its own account, credentials and
//! schedule), and revoking the bundle ends every grant. Races (two approvals completing it at
//! once, a cancel racing the approval), a crash between the approval and the grants (finished
//! by the sweep), and the abuse cases (deciding a child, a stranger reading one, the requester
//! approving under a second identity, forged items, the open-request cap).

use std::sync::Arc;

use chrono::Duration;
use fixtures::bundles::{self, OPS, kit, setup};
use fixtures::cloud::{BOB, CloudEnv, INTEGRATION, PROD, STAGING};
use fixtures::flows::{
    approve, ask, auth_of, call, cleanup_app, credentials, discover_app, get_request, put_flow,
    register, revoke_app, revoke_by, sweep,
};
use fixtures::{ALICE, DEV, MALLORY, Person, event, http, response};
use reqwest::Method;
use serde_json::{Value, json};
use shared::clock::Clock;
use shared::model::{AuditSubject, child_id};
use shared::store::{AuditStore, DynamoStore, RequestStore, StoreConfig};

/// Bob again under another identity (another `sub`) with his verified email, in every
/// approver group.
const BOB_AGAIN: Person = Person {
    sub: "bob-second-identity",
    email: "bob@example.com",
    groups: "[search-platform leads cloud-admins]",
};

async fn post(
    p: &provision::App,
    sample: &str,
    who: Person,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    call(p, http(event(sample), path, who, body)).await
}

async fn actions(env: &CloudEnv, id: &str) -> Vec<String> {
    env.store
        .audit_of(&AuditSubject::Request(id.to_string()), 50, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.action)
        .collect()
}

fn count(trail: &[String], action: &str) -> usize {
    trail.iter().filter(|a| *a == action).count()
}

/// Can the credentials of the cluster child read logs-2026.10 on the emulator?
async fn reads_logs(env: &CloudEnv, creds: &Value) -> u16 {
    env.es_status(Method::GET, "/logs-2026.10/_search", &auth_of(creds), None)
        .await
}

#[tokio::test]
async fn a_bundle_is_approved_as_one_and_each_item_is_granted_on_its_own_integration() {
    let (env, p) = setup("staging-logs", json!({})).await;

    // Items are the flow's: a body that names any is refused, and a bundle starts when it is
    // approved.
    for (forged, field) in [
        (json!({"integration": "prod-search"}), "integration"),
        (json!({"resources": ["secrets-1"]}), "resources"),
        (json!({"permission": "manage"}), "permission"),
    ] {
        let mut body = kit();
        for (k, v) in forged.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, e) = ask(&p, BOB, body).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (400, Some("bundle_items_fixed")),
            "{e}"
        );
        assert!(
            e["error"]["message"].as_str().unwrap().contains(field),
            "{e}"
        );
    }
    let mut later = kit();
    later["starts_at"] = json!("2026-11-24T10:00:00Z");
    let (s, e) = ask(&p, BOB, later).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("invalid_start")),
        "{e}"
    );
    let (s, e) = ask(&p, BOB, json!({"flow": "oncall-kit", "duration": "1h"})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("justification_required")),
        "{e}"
    );
    let (s, e) = ask(
        &p,
        BOB,
        json!({"flow": "oncall-kit", "duration": "5h", "justification": "x"}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("no_matching_flow")),
        "{e}"
    );
    // Someone who is not one of the flow's requesters gets nothing through it.
    let (s, e) = ask(&p, ALICE, kit()).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("no_matching_flow")),
        "{e}"
    );
    assert!(
        env.store
            .requests_of(&ALICE.key(), 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // One parent; one step per owner set, each naming its integration.
    let (s, parent) = ask(&p, BOB, kit()).await;
    assert_eq!(
        (s, parent["status"].as_str()),
        (201, Some("pending")),
        "{parent}"
    );
    let id = parent["id"].as_str().unwrap().to_string();
    let labels: Vec<&str> = parent["approval_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        vec![
            "prod-search: owner of logs-2026.10",
            "cloud: integration owners (for staginglogs000000000000000000002)"
        ]
    );
    assert_eq!(parent["bundle"][1]["resources"], json!([STAGING]));
    assert_eq!(parent["children"], json!([]));

    // Nobody approves their own bundle, under any identity.
    let (s, _) = approve(&p, BOB, &id).await;
    assert_eq!(s, 403);
    let (s, e) = approve(&p, BOB_AGAIN, &id).await;
    assert_eq!(s, 403, "{e}");

    // Alice's approval covers her step only; the Cloud owners' completes the bundle.
    let (s, r) = approve(&p, ALICE, &id).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("pending")), "{r}");
    let (s, r) = approve(&p, OPS, &id).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("bundled")), "{r}");
    let children = r["children"].as_array().unwrap().clone();
    assert_eq!(children.len(), 2, "{r}");
    let (es_child, cloud_child) = (child_id(&id, 0), child_id(&id, 1));
    // Each child records its own item's account (a string, as on any request): its
    // provisioning reads it with the integration.
    for (i, c) in [&es_child, &cloud_child].into_iter().enumerate() {
        let c = env.store.get_request(c).await.unwrap().unwrap();
        let created = c
            .history
            .iter()
            .find(|e| e.action == "request.created")
            .unwrap();
        let parent = env.store.get_request(&id).await.unwrap().unwrap();
        let listed = &parent
            .history
            .iter()
            .find(|e| e.action == "request.created")
            .unwrap()
            .details["accounts"][i];
        assert!(
            created.details["account"].is_string(),
            "{:?}",
            created.details
        );
        assert_eq!(&created.details["account"], listed);
    }
    assert_eq!(children[0]["id"], json!(es_child));
    assert_eq!(children[1]["id"], json!(cloud_child));
    for c in &children {
        assert_eq!(c["status"], "active", "{c}");
    }
    // Both end together, an hour after the approval.
    assert_eq!(children[0]["ends_at"], children[1]["ends_at"]);
    assert_eq!(
        children[0]["ends_at"],
        json!(env.clock.now() + Duration::hours(1))
    );

    // Each grant is on its own integration.
    let (s, creds) = credentials(&p, BOB, &es_child).await;
    assert_eq!(s, 200, "{creds}");
    assert_eq!(reads_logs(&env, &creds).await, 200);
    assert!(
        env.holds("bob@example.com", "deployment-viewer", STAGING)
            .await
    );
    let (s, c) = credentials(&p, BOB, &cloud_child).await;
    assert_eq!(s, 200, "{c}");
    // The parent itself holds no credentials.
    let (s, _) = credentials(&p, BOB, &id).await;
    assert_eq!(s, 409);

    // Children are decided only through the parent, and only the requester reads them.
    let (s, e) = approve(&p, ALICE, &es_child).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("bundle_child")),
        "{e}"
    );
    let (s, e) = post(
        &p,
        "provision/cancel.json",
        BOB,
        &format!("/requests/{cloud_child}/cancel"),
        None,
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("bundle_child")),
        "{e}"
    );
    let (s, e) = post(
        &p,
        "provision/extend.json",
        BOB,
        &format!("/requests/{es_child}/extend"),
        Some(json!({"duration": "30m"})),
    )
    .await;
    assert_eq!(s, 409, "{e}");
    for who in [MALLORY, DEV] {
        assert_eq!(
            get_request(&p, who, &es_child).await.0,
            404,
            "a stranger never sees a child"
        );
        assert_eq!(get_request(&p, who, &id).await.0, 404);
        let (s, body) = credentials(&p, who, &es_child).await;
        assert_eq!(s, 403, "{body}");
        assert!(!body.to_string().contains("password"), "{body}");
        assert_eq!(
            revoke_by(&revoke_app(&env), who, &id).await.0,
            404,
            "nor revokes the bundle"
        );
    }
    // The approvers see the children they approved, and only those: alice owns the
    // Elasticsearch item alone, the Cloud owners the Cloud item.
    assert_eq!(get_request(&p, ALICE, &es_child).await.0, 200);
    assert_eq!(get_request(&p, ALICE, &cloud_child).await.0, 404);
    assert_eq!(get_request(&p, OPS, &cloud_child).await.0, 200);
    assert_eq!(get_request(&p, OPS, &es_child).await.0, 404);

    // Revoking the parent ends every grant, on both targets.
    let (s, r) = revoke_by(&revoke_app(&env), BOB, &id).await;
    assert_eq!(s, 200, "{r}");
    for c in r["children"].as_array().unwrap() {
        assert_eq!(c["status"], "revoked", "{c}");
    }
    assert_eq!(reads_logs(&env, &creds).await, 401);
    assert!(
        !env.holds("bob@example.com", "deployment-viewer", STAGING)
            .await
    );
    // Idempotent: again, nothing changes.
    let (s, again) = revoke_by(&revoke_app(&env), BOB, &id).await;
    assert_eq!((s, again["children"].clone()), (200, r["children"].clone()));

    let trail = actions(&env, &id).await;
    for a in [
        "request.created",
        "request.approval_recorded",
        "request.approved",
        "bundle.revoke_requested",
    ] {
        assert_eq!(count(&trail, a), 1, "{a} in {trail:?}");
    }
    for c in [&es_child, &cloud_child] {
        let trail = actions(&env, c).await;
        for a in [
            "request.created",
            "request.started",
            "grant.provisioned",
            "grant.revoked",
        ] {
            assert_eq!(count(&trail, a), 1, "{c}: {a} in {trail:?}");
        }
    }
    assert_eq!(
        get_request(&p, BOB, &id).await.1["children"][0]["status"],
        "revoked"
    );
}

#[tokio::test]
async fn two_approvals_completing_a_bundle_at_once_create_its_grants_once() {
    let (env, p) = setup("staging-logs", json!({})).await;
    let p = Arc::new(p);
    for round in 0..3 {
        let (s, r) = ask(&p, BOB, kit()).await;
        assert_eq!(s, 201, "{r}");
        let id = r["id"].as_str().unwrap().to_string();
        let ((sa, a), (so, o)) = tokio::join!(approve(&p, ALICE, &id), approve(&p, OPS, &id));
        assert_eq!((sa, so), (200, 200), "round {round}: {a} {o}");
        let parent = env.store.get_request(&id).await.unwrap().unwrap();
        assert_eq!(parent.status.as_str(), "bundled", "round {round}");
        assert_eq!(count(&actions(&env, &id).await, "request.approved"), 1);
        for c in parent.child_ids() {
            let child = env.store.get_request(&c).await.unwrap().unwrap();
            assert_eq!(child.status.as_str(), "active", "round {round}: {child:?}");
            let trail = actions(&env, &c).await;
            assert_eq!(count(&trail, "request.created"), 1, "{trail:?}");
            assert_eq!(count(&trail, "grant.provisioned"), 1, "{trail:?}");
        }
        let (s, r) = revoke_by(&revoke_app(&env), BOB, &id).await;
        assert_eq!(s, 200, "round {round}: {r}");
    }
}

#[tokio::test]
async fn a_cancel_racing_the_approval_leaves_either_nothing_or_every_grant() {
    // Alice owns both items: her one approval completes the bundle.
    let (env, p) = setup("prod-search", json!({})).await;
    let p = Arc::new(p);
    let mut seen = (false, false);
    for round in 0..4 {
        let (s, r) = ask(&p, BOB, kit()).await;
        assert_eq!(s, 201, "{r}");
        let id = r["id"].as_str().unwrap().to_string();
        let cancel_path = format!("/requests/{id}/cancel");
        let ((sa, a), (sc, c)) = tokio::join!(
            approve(&p, ALICE, &id),
            post(&p, "provision/cancel.json", BOB, &cancel_path, None)
        );
        let parent = env.store.get_request(&id).await.unwrap().unwrap();
        let children: Vec<_> = [child_id(&id, 0), child_id(&id, 1)].to_vec();
        match (sa, sc) {
            (200, 409) => {
                seen.0 = true;
                assert_eq!(c["error"]["code"], "not_cancellable", "{c}");
                assert_eq!(parent.status.as_str(), "bundled");
                for cid in &children {
                    let child = env.store.get_request(cid).await.unwrap().unwrap();
                    assert_eq!(child.status.as_str(), "active");
                }
                assert!(
                    env.holds("bob@example.com", "deployment-viewer", PROD)
                        .await
                );
                assert_eq!(revoke_by(&revoke_app(&env), BOB, &id).await.0, 200);
            }
            (409, 200) => {
                seen.1 = true;
                assert_eq!(a["error"]["code"], "request_cancelled", "{a}");
                assert_eq!(parent.status.as_str(), "cancelled");
                for cid in &children {
                    assert!(
                        env.store.get_request(cid).await.unwrap().is_none(),
                        "no child of a cancelled bundle"
                    );
                }
                assert!(
                    !env.holds("bob@example.com", "deployment-viewer", PROD)
                        .await
                );
            }
            other => panic!("round {round}: exactly one must win, got {other:?}: {a} {c}"),
        }
    }
    // Which wins is up to the scheduler; each outcome was checked whenever it happened.
    assert!(seen.0 || seen.1);
}

#[tokio::test]
async fn a_crash_after_the_approval_is_finished_by_the_sweep_and_the_grants_expire_together() {
    let (env, p) = setup("prod-search", json!({})).await;
    let (s, r) = ask(&p, BOB, kit()).await;
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_str().unwrap().to_string();

    // Alice's approval commits (parent bundled, children created), then the function dies
    // before it starts any child: exactly the write the approval makes, without the rest.
    let (current, bundled) = fixtures::bundles::approved_without_starting(&env, &id).await;
    let now = env.clock.now();
    // A retried approval changes nothing, and a second set of children cannot be made.
    let (s, e) = approve(&p, ALICE, &id).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("not_pending")),
        "{e}"
    );
    let again = env
        .store
        .bundle_request(
            &bundled,
            current.version,
            &provision::bundles::children_of(&bundled, env.clock.now()),
            &[],
        )
        .await;
    assert!(again.is_err(), "{again:?}");
    for c in bundled.child_ids() {
        assert_eq!(
            env.store
                .get_request(&c)
                .await
                .unwrap()
                .unwrap()
                .status
                .as_str(),
            "scheduled"
        );
    }

    // After the start grace, the sweep arms each child's start; the starts provision them.
    env.clock.advance(Duration::minutes(3));
    let report = sweep(&cleanup_app(&env)).await;
    assert_eq!(report["starts_armed"], 2, "{report}");
    for c in bundled.child_ids() {
        let mut e = event("provision/start.json");
        e["grant_id"] = json!(c);
        let out = p.handle(e.clone()).await.expect("start");
        assert_eq!(out["status"], "active", "{out}");
        // Delivered twice, started once.
        let out = p.handle(e).await.expect("start");
        assert_eq!(out["outcome"], "unchanged", "{out}");
    }
    let (_, view) = get_request(&p, BOB, &id).await;
    let kids = view["children"].as_array().unwrap();
    // Counted from the approval, not from the late start: they end together.
    for k in kids {
        assert_eq!(k["ends_at"], json!(now + Duration::hours(1)), "{k}");
    }
    assert!(
        env.holds("bob@example.com", "deployment-viewer", PROD)
            .await
    );
    let (s, creds) = credentials(&p, BOB, &child_id(&id, 0)).await;
    assert_eq!(s, 200);

    // At the end, the sweep (the expiry schedules' backstop) ends both grants.
    env.clock.advance(Duration::hours(1));
    sweep(&cleanup_app(&env)).await;
    let (_, view) = get_request(&p, BOB, &id).await;
    for k in view["children"].as_array().unwrap() {
        assert_eq!(k["status"], "expired", "{k}");
    }
    assert_eq!(reads_logs(&env, &creds).await, 401);
    assert!(
        !env.holds("bob@example.com", "deployment-viewer", PROD)
            .await
    );
}

#[tokio::test]
async fn a_pending_bundle_counts_once_per_item_against_the_open_request_cap() {
    let (env, _) = setup("prod-search", json!({})).await;
    // The same table, with a cap of three open requests per requester.
    let mut cfg = StoreConfig::new(env.store.table());
    cfg.max_open_requests = 3;
    let mut services = fixtures::flows::services(&env);
    services.store = Arc::new(DynamoStore::with_config(env.dynamodb.clone(), cfg));
    let p = provision::App {
        services,
        ..fixtures::flows::provision_app(&env)
    };
    let (s, first) = ask(&p, BOB, kit()).await;
    assert_eq!(s, 201, "{first}");
    // Two places taken: a second bundle (two more) would exceed three.
    let (s, e) = ask(&p, BOB, kit()).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (429, Some("too_many_open_requests")),
        "{e}"
    );

    // Rejected, it frees both places.
    let id = first["id"].as_str().unwrap();
    let (s, r) = post(
        &p,
        "provision/reject.json",
        ALICE,
        &format!("/requests/{id}/reject"),
        Some(json!({"reason": "not now"})),
    )
    .await;
    assert_eq!((s, r["status"].as_str()), (200, Some("rejected")), "{r}");
    assert!(
        env.store
            .get_request(&child_id(id, 0))
            .await
            .unwrap()
            .is_none(),
        "a rejected bundle has no children"
    );
    let (s, second) = ask(&p, BOB, kit()).await;
    assert_eq!(s, 201, "{second}");
    // Approved, its two children take its two places (and only those): one is still free.
    let id = second["id"].as_str().unwrap();
    let (s, r) = approve(&p, ALICE, id).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("bundled")), "{r}");
    let (s, e) = ask(&p, BOB, kit()).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (429, Some("too_many_open_requests")),
        "{e}"
    );
    let d = discover_app(&env);
    let (s, b) = put_flow(&d, "logs-auto", fixtures::flows::flow_spec("logs-auto")).await;
    assert_eq!(s, 201, "{b}");
    let single = json!({"integration": "prod-search", "flow": "logs-auto", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h"});
    let (s, r) = ask(&p, BOB, single.clone()).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("active")), "{r}");
    let (s, e) = ask(&p, BOB, single).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (429, Some("too_many_open_requests")),
        "{e}"
    );
}

#[tokio::test]
async fn bundle_flows_are_checked_item_by_item() {
    let env = CloudEnv::start().await;
    let d = discover_app(&env);
    register(&env, &d, json!({})).await;
    env.register(&d).await;
    let with = |extra: Value| {
        let mut spec = bundles::spec("prod-search", json!({}));
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        spec
    };
    let one = json!({"bundle": [{"integration": "prod-search", "resources": ["logs-*"], "permission": "read"}]});
    let ghost = json!({"bundle": [
        {"integration": "prod-search", "resources": ["logs-*"], "permission": "read"},
        {"integration": "nowhere", "resources": ["x"], "permission": "read"}]});
    let bad_permission = json!({"bundle": [
        {"integration": "prod-search", "resources": ["logs-*"], "permission": "read"},
        {"integration": INTEGRATION, "resources": ["prod-search"], "permission": "superuser"}]});
    let twice = json!({"bundle": [
        {"integration": "prod-search", "resources": ["logs-*"], "permission": "read"},
        {"integration": "prod-search", "resources": ["logs-*"], "permission": "read"}]});
    let scope = json!({"bundle": [
        {"integration": "prod-search", "resources": ["logs-*"], "permission": "read"},
        {"integration": INTEGRATION, "resources": [fixtures::cloud::ORG], "permission": "deployment-viewer"}]});
    for (extra, code) in [
        (json!({"break_glass": true}), "bundle_conflict"),
        (
            json!({"extension": {"max_extensions": 1, "length": "1h", "approval": "automatic", "max_total_duration": "8h"}}),
            "bundle_conflict",
        ),
        (json!({"integration": "prod-search"}), "bundle_conflict"),
        (json!({"schedule_horizon": "1d"}), "bundle_conflict"),
        (
            json!({"credential_mode": "api_key"}),
            "setting_not_supported",
        ),
        (one, "invalid_bundle"),
        (twice, "invalid_bundle"),
        (ghost, "unknown_integration"),
        (bad_permission, "unknown_permission"),
        (scope, "permission_scope_mismatch"),
    ] {
        let (s, e) = put_flow(&d, "kit", with(extra.clone())).await;
        assert_eq!(s, 400, "{extra}: {e}");
        assert!(
            e.to_string().contains(code),
            "{extra}: expected {code}: {e}"
        );
    }
    let (s, e) = put_flow(&d, "kit", bundles::spec("prod-search", json!({}))).await;
    assert_eq!(s, 201, "{e}");
    // An integration a bundle uses cannot be deleted under it.
    let ev = http(
        event("discover/delete-integration.json"),
        &format!("/integrations/{INTEGRATION}"),
        fixtures::ADMIN,
        None,
    );
    let (s, e) = response(d.handle(ev).await.unwrap());
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("integration_in_use")),
        "{e}"
    );
}

#[tokio::test]
async fn a_retried_bundle_request_is_the_same_bundle() {
    let (env, p) = setup("prod-search", json!({})).await;
    // The sample event carries an Idempotency-Key: a retry answers the bundle it created.
    let sample = || {
        http(
            event("provision/post-bundle-request.json"),
            "/requests",
            BOB,
            None,
        )
    };
    let (s, first) = call(&p, sample()).await;
    assert_eq!(
        (s, first["status"].as_str()),
        (201, Some("pending")),
        "{first}"
    );
    let (s, again) = call(&p, sample()).await;
    assert_eq!(
        (s, again["id"].clone()),
        (200, first["id"].clone()),
        "{again}"
    );
    assert_eq!(
        env.store
            .requests_of(&BOB.key(), 10, None)
            .await
            .unwrap()
            .items
            .len(),
        1,
        "one bundle, however often it is sent"
    );
    // The same key for another bundle body is refused, not answered with the first.
    let mut other = sample();
    other["body"] =
        json!(json!({"flow": "oncall-kit", "duration": "2h", "justification": "x"}).to_string());
    let (s, e) = call(&p, other).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("idempotency_key_reused")),
        "{e}"
    );
}

#[tokio::test]
async fn revoking_a_child_ends_only_it_and_revoking_the_bundle_cancels_a_child_not_started() {
    let (env, p) = setup("prod-search", json!({})).await;

    // One child revoked by its requester: the other grant stays.
    let (_, r) = ask(&p, BOB, kit()).await;
    let id = r["id"].as_str().unwrap().to_string();
    let (s, r) = approve(&p, ALICE, &id).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("bundled")), "{r}");
    let (s, r) = revoke_by(&revoke_app(&env), BOB, &child_id(&id, 1)).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("revoked")), "{r}");
    assert!(
        !env.holds("bob@example.com", "deployment-viewer", PROD)
            .await
    );
    let (s, creds) = credentials(&p, BOB, &child_id(&id, 0)).await;
    assert_eq!(s, 200, "{creds}");
    assert_eq!(reads_logs(&env, &creds).await, 200);
    // The bundle's revoke ends the rest and reports both.
    let (s, r) = revoke_by(&revoke_app(&env), BOB, &id).await;
    assert_eq!(s, 200, "{r}");
    let statuses: Vec<&str> = r["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["revoked", "revoked"]);
    assert_eq!(reads_logs(&env, &creds).await, 401);

    // A bundle whose children were made but not started (the function died): its revoke
    // cancels them, and their starts, when they come, grant nothing.
    let (_, r) = ask(&p, BOB, kit()).await;
    let id = r["id"].as_str().unwrap().to_string();
    let (_, bundled) = fixtures::bundles::approved_without_starting(&env, &id).await;
    let (s, r) = revoke_by(&revoke_app(&env), BOB, &id).await;
    assert_eq!(s, 200, "{r}");
    for c in r["children"].as_array().unwrap() {
        assert_eq!(c["status"], "cancelled", "{c}");
    }
    for c in bundled.child_ids() {
        let mut e = event("provision/start.json");
        e["grant_id"] = json!(c);
        let out = p.handle(e).await.expect("start");
        assert_eq!(out["outcome"], "unchanged", "{out}");
        assert_eq!(count(&actions(&env, &c).await, "grant.provisioned"), 0);
    }
    assert!(
        !env.holds("bob@example.com", "deployment-viewer", PROD)
            .await
    );
    // A pending bundle is not revoked (it is rejected or cancelled).
    let (_, r) = ask(&p, BOB, kit()).await;
    let (s, e) = revoke_by(&revoke_app(&env), BOB, r["id"].as_str().unwrap()).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("not_active")),
        "{e}"
    );
}

/// A revoke of a bundle that dies right after recording its intent on the parent (children
/// still `scheduled`): a start that fires afterwards cancels its child instead of granting
/// it, and the sweep cancels the rest and settles the parent.
#[tokio::test]
async fn a_revoke_that_dies_after_recording_its_intent_is_finished_and_no_child_starts() {
    let (env, p) = setup("prod-search", json!({})).await;
    let (s, r) = ask(&p, BOB, kit()).await;
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    let (_, bundled) = fixtures::bundles::approved_without_starting(&env, &id).await;
    // The revoke's first write, and nothing after it.
    let mut revoked = bundled.clone();
    revoked.revoke_requested_by = Some(BOB.email.into());
    env.store
        .update_request(&revoked, bundled.version, &[])
        .await
        .unwrap();
    let mut e = event("provision/start.json");
    e["grant_id"] = json!(child_id(&id, 0));
    let out = p.handle(e).await.expect("start");
    assert_eq!(out["outcome"], "cancelled", "{out}");
    let report = sweep(&cleanup_app(&env)).await;
    assert_eq!(report["bundles_revoked"], 1, "{report}");
    for c in bundled.child_ids() {
        let c = env.store.get_request(&c).await.unwrap().unwrap();
        assert_eq!(c.status.as_str(), "cancelled", "{c:?}");
    }
    let parent = env.store.get_request(&id).await.unwrap().unwrap();
    assert!(parent.ended_at.is_some(), "{parent:?}");
    assert!(
        parent.history.iter().any(|e| e.action == "bundle.revoked"),
        "{:?}",
        parent.history
    );
    assert!(
        !env.holds("bob@example.com", "deployment-viewer", PROD)
            .await
    );
    // Settled: the next run has nothing to do.
    let report = sweep(&cleanup_app(&env)).await;
    assert_eq!(report["bundles_revoked"], 0, "{report}");
}
