//! Elastic Cloud end to end through the real handlers: discover registers the organization,
//! provision grants Cloud role assignments (or invitations), revoke and the cleanup sweep take
//! back exactly what each grant added, and rotate replaces the connector key. Against moto
//! (table, secrets, scheduler group) and the Cloud API emulator.

use std::sync::Arc;

use chrono::Duration;
use cloud_emulator::OWNER_KEY_ID;
use fixtures::cloud::{
    BOB, CUSTOM_ACCESS_DETAILS, CloudEnv, DAVE, INTEGRATION, ORG, OWNER_KEY, PROD, PROJECT,
    STAGING, VIEWER_KEY, ask_cloud, cloud_flows, cloud_granted,
};
use fixtures::flows::{
    approve, auth, cleanup_app, credentials, discover_app, provision_app, revoke_app,
};
use fixtures::flows::{revoke_by, sweep};
use fixtures::{ALICE, CAROL, Env, MALLORY, event};
use reqwest::Method;
use serde_json::{Value, json};
use shared::model::TargetObject;
use shared::secrets::{AWSCURRENT, SecretStore};
use shared::store::{PrincipalStore, RequestStore};

const VIEWER: &str = "deployment-viewer";
const EDITOR: &str = "deployment-editor";

fn rotate_app(env: &Env) -> rotate::App {
    rotate::App {
        store: env.store.clone(),
        secrets: env.secrets.clone(),
        targets: env.targets.clone(),
        clock: Arc::new(env.clock.clone()),
        auth: auth(),
        function_name: Some("elastic-jit-rotate".into()),
    }
}

fn expiry(id: &str) -> Value {
    let mut e = event("revoke/expiry.json");
    e["grant_id"] = json!(id);
    e
}

fn id_of(request: &Value) -> String {
    request["id"].as_str().expect("request id").to_string()
}

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

/// The pending invitations for `email` (not accepted, not expired).
async fn pending_for(env: &CloudEnv, email: &str) -> Vec<Value> {
    env.invitations()
        .await
        .into_iter()
        .filter(|i| {
            i["email"] == email && i["accepted_at"].is_null() && i["expired"] != json!(true)
        })
        .collect()
}

#[tokio::test]
async fn registration_discovers_the_organization_and_refuses_a_weak_key_or_es_settings() {
    let env = CloudEnv::start().await;
    let d = discover_app(&env);

    // A key that is not an organization owner's: refused, naming the missing role.
    let weak = env.cloud_secret(VIEWER_KEY, "viewer-key").await;
    let (s, b) = env
        .put_integration(&d, INTEGRATION, env.integration_body(&weak, json!({})))
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("connector_missing_privileges")),
        "{b}"
    );
    let missing = b["error"]["details"]["missing"].to_string();
    assert!(missing.contains("organization-admin"), "{b}");
    assert!(
        !b.to_string().contains(VIEWER_KEY),
        "the key is never echoed"
    );

    // Elasticsearch-only settings are refused for a Cloud integration, before any call.
    let good = env.cloud_secret(OWNER_KEY, OWNER_KEY_ID).await;
    for extra in [
        json!({"user_cleanup_days": 7}),
        json!({"user_prefix": "jit_"}),
        json!({"credential_rotation_days": 30}),
    ] {
        let field = extra.as_object().unwrap().keys().next().unwrap().clone();
        let (s, b) = env
            .put_integration(&d, INTEGRATION, env.integration_body(&good, extra))
            .await;
        assert_eq!(s, 400, "{field}: {b}");
        assert!(b.to_string().contains(&field), "{field}: {b}");
    }
    let (s, b) = env
        .put_integration(
            &d,
            INTEGRATION,
            env.integration_body(&good, json!({"organization_id": null})),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(b.to_string().contains("organization_id"), "{b}");
    let (s, _) = env
        .admin_call(
            &d,
            "discover/get-integration.json",
            &format!("/integrations/{INTEGRATION}"),
            None,
        )
        .await;
    assert_eq!(s, 404, "nothing was stored by the refused registrations");

    // The owner key: registered, and discovery lists the organization, both deployments (the
    // owner from the tag) and the serverless project.
    let (s, b) = env
        .put_integration(&d, INTEGRATION, env.integration_body(&good, json!({})))
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = env
        .admin_call(
            &d,
            "discover/get-resources.json",
            &format!("/integrations/{INTEGRATION}/resources"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let resources = b["resources"].as_array().unwrap();
    let find = |name: &str| {
        resources
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in {b}"))
    };
    assert_eq!(resources.len(), 4, "{b}");
    assert_eq!(find(ORG)["kind"], "organization");
    let prod = find(PROD);
    assert_eq!(
        (&prod["kind"], &prod["display_name"], &prod["owner"]),
        (
            &json!("deployment"),
            &json!("prod-search"),
            &json!("alice@example.com")
        )
    );
    let staging = find(STAGING);
    assert_eq!(
        (&staging["display_name"], staging["owner"].is_null()),
        (&json!("staging-logs"), true)
    );
    let project = find(PROJECT);
    assert_eq!(
        (&project["kind"], &project["owner"]),
        (&json!("elasticsearch_project"), &json!("carol@example.com"))
    );

    // An explicit re-discovery works too.
    let (s, b) = env
        .admin_call(
            &d,
            "discover/post-discover.json",
            &format!("/integrations/{INTEGRATION}/discover"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn an_owner_approved_role_reaches_the_member_and_goes_on_revoke() {
    let env = CloudEnv::start().await;
    let (d, p, r) = (discover_app(&env), provision_app(&env), revoke_app(&env));
    env.register(&d).await;
    cloud_flows(&d, &["deploy-view"]).await;
    assert!(!env.holds("bob@example.com", VIEWER, PROD).await);

    // A deployment may be asked for by its name; the request records its id.
    let (s, by_name) = ask_cloud(&p, BOB, "deploy-view", &["prod-search"], VIEWER).await;
    assert_eq!(
        (s, by_name["resources"].clone()),
        (201, json!([PROD])),
        "{by_name}"
    );

    // The deployment's owner (its tag) must approve.
    let (s, req) = ask_cloud(&p, BOB, "deploy-view", &[PROD], VIEWER).await;
    assert_eq!((s, req["status"].as_str()), (201, Some("pending")), "{req}");
    let id = id_of(&req);
    assert!(
        req.to_string().contains("alice@example.com"),
        "alice approves: {req}"
    );
    assert!(!env.holds("bob@example.com", VIEWER, PROD).await);
    let (s, e) = approve(&p, MALLORY, &id).await;
    assert!(s == 403 || s == 404, "a stranger cannot approve: {s} {e}");
    let (s, granted) = approve(&p, ALICE, &id).await;
    assert_eq!(
        (s, granted["status"].as_str()),
        (200, Some("active")),
        "{granted}"
    );

    assert!(env.holds("bob@example.com", VIEWER, PROD).await);
    assert!(!env.holds("bob@example.com", VIEWER, STAGING).await);
    let stored = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(stored.resources, vec![PROD.to_string()]);
    assert_eq!(
        stored.created_objects,
        vec![TargetObject::CloudRoleAssignment {
            user_id: "bob-1".into(),
            role_id: VIEWER.into(),
            resource_id: Some(PROD.into()),
        }]
    );

    // The Cloud credentials answer, to bob only.
    let (s, c) = credentials(&p, BOB, &id).await;
    assert_eq!(s, 200, "{}", fixtures::redacted(&c));
    assert_eq!(c["kind"], "elastic_cloud");
    assert_eq!(c["email"], "bob@example.com");
    assert_eq!(c["custom_access_details"], CUSTOM_ACCESS_DETAILS);
    assert_eq!(c["permission"], VIEWER);
    assert!(
        c["login_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://"))
    );
    assert!(c.get("password").is_none() && c.get("api_key").is_none());
    assert_eq!(credentials(&p, ALICE, &id).await.0, 403);
    assert_eq!(credentials(&p, MALLORY, &id).await.0, 403);

    let (s, b) = revoke_by(&r, BOB, &id).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("revoked")), "{b}");
    assert!(!env.holds("bob@example.com", VIEWER, PROD).await);
    assert_eq!(credentials(&p, BOB, &id).await.0, 409);
    let principal = env
        .store
        .get_principal(INTEGRATION, "bob@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(principal.active_grants.is_empty() && principal.shared_objects.is_empty());
    // A replay touches nothing.
    let (s, b) = revoke_by(&r, BOB, &id).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("revoked")));
}

#[tokio::test]
async fn overlapping_grants_share_one_assignment_until_the_last_ends() {
    let env = CloudEnv::start().await;
    let (d, p, r) = (discover_app(&env), provision_app(&env), revoke_app(&env));
    env.register(&d).await;
    cloud_flows(&d, &["deploy-auto"]).await;

    // A pattern matches the deployment's display name.
    let one = id_of(&cloud_granted(&p, BOB, &["prod-*"], VIEWER).await);
    let two = id_of(&cloud_granted(&p, BOB, &[PROD], VIEWER).await);
    assert!(env.holds("bob@example.com", VIEWER, PROD).await);

    assert_eq!(revoke_by(&r, BOB, &one).await.1["status"], "revoked");
    assert!(
        env.holds("bob@example.com", VIEWER, PROD).await,
        "the second grant still needs it"
    );
    assert_eq!(revoke_by(&r, BOB, &two).await.1["status"], "revoked");
    assert!(!env.holds("bob@example.com", VIEWER, PROD).await);

    // Partly overlapping: a grant on both deployments, then one on prod only. Ending the
    // wide one takes staging away and leaves prod to the narrow one; then prod goes too.
    let wide = id_of(&cloud_granted(&p, BOB, &[PROD, STAGING], VIEWER).await);
    let narrow = id_of(&cloud_granted(&p, BOB, &[PROD], VIEWER).await);
    env.clock.advance(Duration::hours(1));
    let out = r.handle(expiry(&wide)).await.unwrap();
    assert_eq!(out["outcome"], "revoked", "{out}");
    assert!(env.holds("bob@example.com", VIEWER, PROD).await);
    assert!(!env.holds("bob@example.com", VIEWER, STAGING).await);
    assert_eq!(revoke_by(&r, BOB, &narrow).await.1["status"], "revoked");
    assert!(!env.holds("bob@example.com", VIEWER, PROD).await);
    let principal = env
        .store
        .get_principal(INTEGRATION, "bob@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(principal.active_grants.is_empty() && principal.shared_objects.is_empty());
}

#[tokio::test]
async fn a_role_held_before_the_grant_is_kept_after_it() {
    let env = CloudEnv::start().await;
    let (d, p, r) = (discover_app(&env), provision_app(&env), revoke_app(&env));
    env.register(&d).await;
    cloud_flows(&d, &["deploy-auto"]).await;
    assert!(env.holds("carol@example.com", VIEWER, PROD).await);

    let held = id_of(&cloud_granted(&p, CAROL, &[PROD], VIEWER).await);
    let added = id_of(&cloud_granted(&p, CAROL, &[PROD], EDITOR).await);
    assert!(env.holds("carol@example.com", EDITOR, PROD).await);
    let stored = env.store.get_request(&held).await.unwrap().unwrap();
    assert!(
        stored.created_objects.is_empty(),
        "nothing added for a role already held: {:?}",
        stored.created_objects
    );

    assert_eq!(revoke_by(&r, CAROL, &held).await.1["status"], "revoked");
    assert!(env.holds("carol@example.com", VIEWER, PROD).await);
    env.clock.advance(Duration::hours(1));
    assert_eq!(
        r.handle(expiry(&added)).await.unwrap()["outcome"],
        "revoked"
    );
    assert!(
        !env.holds("carol@example.com", EDITOR, PROD).await,
        "what the grant added goes"
    );
    assert!(
        env.holds("carol@example.com", VIEWER, PROD).await,
        "what she held before stays"
    );
}

#[tokio::test]
async fn a_non_member_is_invited_and_the_invitation_or_the_accepted_role_goes_at_the_end() {
    let env = CloudEnv::start().await;
    let (d, p, r) = (discover_app(&env), provision_app(&env), revoke_app(&env));
    env.register(&d).await;
    cloud_flows(&d, &["deploy-auto"]).await;
    assert!(env.member("dave@example.com").await.is_none());

    // Revoked while pending: the invitation is deleted.
    let first = id_of(&cloud_granted(&p, DAVE, &[PROD], VIEWER).await);
    let pending = pending_for(&env, "dave@example.com").await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    let deployment_roles = &pending[0]["role_assignments"]["deployment"];
    assert_eq!(deployment_roles[0]["role_id"], VIEWER, "{pending:?}");
    assert_eq!(deployment_roles[0]["deployment_ids"], json!([PROD]));
    let (s, c) = credentials(&p, DAVE, &first).await;
    assert_eq!(s, 200, "{}", fixtures::redacted(&c));
    assert_eq!(c["email"], "dave@example.com");
    assert!(
        c["how"].as_str().unwrap().contains("invitation"),
        "{}",
        fixtures::redacted(&c)
    );
    assert_eq!(revoke_by(&r, DAVE, &first).await.1["status"], "revoked");
    assert!(env.invitations().await.is_empty(), "the invitation is gone");
    assert!(env.member("dave@example.com").await.is_none());

    // Accepted before the end: at expiry the role is taken off the new member.
    let second = id_of(&cloud_granted(&p, DAVE, &[PROD], VIEWER).await);
    let token = pending_for(&env, "dave@example.com").await[0]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let member = env.accept(&token).await;
    assert_eq!(member["email"], "dave@example.com");
    assert!(env.holds("dave@example.com", VIEWER, PROD).await);
    env.clock.advance(Duration::hours(1));
    env.advance_cloud_clock(3600).await;
    let out = r.handle(expiry(&second)).await.unwrap();
    assert_eq!(out["outcome"], "revoked", "{out}");
    assert_eq!(status(&env, &second).await, "expired");
    assert!(
        env.member("dave@example.com").await.is_some(),
        "still a member"
    );
    assert!(
        !env.holds("dave@example.com", VIEWER, PROD).await,
        "the invitation's role is gone"
    );
}

#[tokio::test]
async fn an_accepted_invitation_s_role_stays_while_another_grant_needs_it() {
    let env = CloudEnv::start().await;
    let (d, p, r) = (discover_app(&env), provision_app(&env), revoke_app(&env));
    env.register(&d).await;
    cloud_flows(&d, &["deploy-auto"]).await;

    let invited = id_of(&cloud_granted(&p, DAVE, &[PROD], VIEWER).await);
    let token = pending_for(&env, "dave@example.com").await[0]["token"]
        .as_str()
        .unwrap()
        .to_string();
    env.accept(&token).await;
    // Now a member who holds the role: a second grant of it adds nothing of its own.
    let member_grant = id_of(&cloud_granted(&p, DAVE, &[PROD], VIEWER).await);
    assert!(env.holds("dave@example.com", VIEWER, PROD).await);

    assert_eq!(revoke_by(&r, DAVE, &invited).await.1["status"], "revoked");
    assert!(
        env.holds("dave@example.com", VIEWER, PROD).await,
        "the second grant is active and still needs the role"
    );
    assert_eq!(
        revoke_by(&r, DAVE, &member_grant).await.1["status"],
        "revoked"
    );
    assert!(
        !env.holds("dave@example.com", VIEWER, PROD).await,
        "the last grant took it away"
    );
}

#[tokio::test]
async fn the_connector_key_rotates_through_the_four_steps() {
    let env = CloudEnv::start().await;
    let (d, rot) = (discover_app(&env), rotate_app(&env));
    let arn = env.register(&d).await;
    let token = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
    env.begin_rotation(&arn, token).await;

    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let mut ev = event(&format!("rotate/{step}.json"));
        assert_eq!(ev["Step"], step);
        ev["SecretId"] = json!(arn);
        ev["ClientRequestToken"] = json!(token);
        let out = rot.handle(ev).await;
        assert!(out.is_ok(), "{step}: {:?}", out.err());
    }

    let current: Value =
        serde_json::from_str(env.secrets.get(&arn, AWSCURRENT).await.unwrap().expose()).unwrap();
    let new_key = current["api_key"].as_str().unwrap().to_string();
    let new_id = current["api_key_id"].as_str().unwrap().to_string();
    assert_ne!(new_key, OWNER_KEY);
    assert_ne!(new_id, OWNER_KEY_ID);
    let org = format!("/organizations/{ORG}");
    assert_eq!(
        env.cloud_api(Method::GET, &org, OWNER_KEY).await.0,
        401,
        "the old key is deleted"
    );
    assert_eq!(env.cloud_api(Method::GET, &org, &new_key).await.0, 200);
    let (s, key) = env
        .cloud_api(Method::GET, &format!("/users/auth/keys/{new_id}"), &new_key)
        .await;
    assert_eq!(s, 200, "{key}");
    assert!(
        key["role_assignments"]["organization"]
            .to_string()
            .contains("organization-admin"),
        "{key}"
    );

    // Every function builds its driver from AWSCURRENT: discovery runs on the new key.
    let (s, b) = env
        .admin_call(
            &d,
            "discover/post-discover.json",
            &format!("/integrations/{INTEGRATION}/discover"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(!b.to_string().contains(&new_key));
    let (_, log) = env.control(Method::GET, "/requests", None).await;
    let last = log["requests"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["api_key_id"].as_str(), last["status"].as_u64()),
        (Some(new_id.as_str()), Some(200)),
        "{last}"
    );
}

#[tokio::test]
async fn the_sweep_expires_an_overdue_cloud_grant_without_errors() {
    let env = CloudEnv::start().await;
    let (d, p, c) = (discover_app(&env), provision_app(&env), cleanup_app(&env));
    env.register(&d).await;
    cloud_flows(&d, &["deploy-auto"]).await;
    let bob = id_of(&cloud_granted(&p, BOB, &[PROD], VIEWER).await);
    let dave = id_of(&cloud_granted(&p, DAVE, &[STAGING], EDITOR).await);
    let token = pending_for(&env, "dave@example.com").await[0]["token"]
        .as_str()
        .unwrap()
        .to_string();
    env.accept(&token).await;
    assert!(env.holds("dave@example.com", EDITOR, STAGING).await);

    let report = sweep(&c).await;
    assert_eq!(
        (report["expired"].as_u64(), report["errors"].as_u64()),
        (Some(0), Some(0)),
        "not due yet: {report}"
    );
    env.clock.advance(Duration::hours(1) + Duration::seconds(1));
    let report = sweep(&c).await;
    assert_eq!(report["expired"], 2, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["complete"], true, "{report}");
    assert_eq!(status(&env, &bob).await, "expired");
    assert_eq!(status(&env, &dave).await, "expired");
    assert!(!env.holds("bob@example.com", VIEWER, PROD).await);
    assert!(!env.holds("dave@example.com", EDITOR, STAGING).await);
    assert!(
        env.holds("carol@example.com", VIEWER, PROD).await,
        "nobody else's roles are touched"
    );
    // Nothing left for a later sweep.
    let report = sweep(&c).await;
    assert_eq!(
        (report["expired"].as_u64(), report["errors"].as_u64()),
        (Some(0), Some(0)),
        "{report}"
    );
}
