//! Cloud API keys and the `X-Elastic-Api-Key-Expiration` header.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::support::{Cloud, EXPIRING_KEY, ORG, OWNER_KEY, VIEWER_KEY};

const KEYS: &str = "/users/auth/keys";

async fn create(cloud: &Cloud, body: &Value) -> Value {
    cloud
        .post(KEYS, OWNER_KEY, body)
        .await
        .assert_ok(201)
        .clone()
}

fn parse(at: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(at.as_str().expect("timestamp"))
        .expect("rfc3339")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn creates_a_key_whose_secret_is_shown_once() {
    let cloud = Cloud::start().await;
    let created = create(
        &cloud,
        &json!({"description": "rotation", "expiration": "1d"}),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    assert!(
        created["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("essu_") && k.len() > 40)
    );
    assert_eq!(created["description"], "rotation");
    assert_eq!(created["user_id"], "owner-1");
    assert_eq!(created["organization_id"], ORG);
    assert_eq!(
        parse(&created["expiration_date"]) - parse(&created["creation_date"]),
        TimeDelta::days(1)
    );

    let one = cloud.get(&format!("{KEYS}/{id}"), OWNER_KEY).await;
    let one = one.assert_ok(200);
    assert_eq!(one["id"], id.as_str());
    assert!(one.get("key").is_none());

    let list = cloud.get(KEYS, OWNER_KEY).await;
    let keys = list.assert_ok(200)["keys"]
        .as_array()
        .expect("keys")
        .clone();
    assert!(keys.iter().all(|k| k.get("key").is_none()));
    let ids: Vec<&str> = keys.iter().filter_map(|k| k["id"].as_str()).collect();
    assert_eq!(
        ids,
        ["owner-key", "viewer-key", "expiring-key", id.as_str()]
    );
}

#[tokio::test]
async fn a_key_works_until_it_is_deleted() {
    let cloud = Cloud::start().await;
    let created = create(&cloud, &json!({"description": "next connector key"})).await;
    let (id, key) = (
        created["id"].as_str().expect("id").to_owned(),
        created["key"].as_str().expect("key").to_owned(),
    );
    // The new key inherits the owner key's rights: it may manage keys, even delete the old one.
    cloud.get(KEYS, &key).await.assert_ok(200);
    cloud
        .delete(&format!("{KEYS}/owner-key"), &key, None)
        .await
        .assert_ok(200);
    cloud
        .get("/organizations", OWNER_KEY)
        .await
        .assert_error(401, "root.unauthorized");
    assert_eq!(
        cloud
            .delete(&format!("{KEYS}/{id}"), &key, None)
            .await
            .assert_ok(200),
        &json!({})
    );
    cloud
        .get("/organizations", &key)
        .await
        .assert_error(401, "root.unauthorized");
}

#[tokio::test]
async fn deletes_several_keys_by_body() {
    let cloud = Cloud::start().await;
    let a = create(&cloud, &json!({"description": "a"})).await["id"].clone();
    let b = create(&cloud, &json!({"description": "b"})).await["id"].clone();
    cloud
        .delete(KEYS, OWNER_KEY, Some(&json!({"keys": [a, "missing"]})))
        .await
        .assert_error(404, "api_keys.key_not_found");
    cloud
        .delete(KEYS, OWNER_KEY, Some(&json!({"keys": []})))
        .await
        .assert_error(400, "api_keys.invalid_input");
    cloud
        .delete(KEYS, OWNER_KEY, Some(&json!({"keys": [a, b]})))
        .await
        .assert_ok(200);
    for id in [&a, &b] {
        cloud
            .get(&format!("{KEYS}/{}", id.as_str().expect("id")), OWNER_KEY)
            .await
            .assert_error(404, "api_keys.key_not_found");
    }
    cloud
        .delete(
            &format!("{KEYS}/{}", a.as_str().expect("id")),
            OWNER_KEY,
            None,
        )
        .await
        .assert_error(404, "api_keys.key_not_found");
}

#[tokio::test]
async fn invalid_create_requests_are_invalid_input() {
    let cloud = Cloud::start().await;
    for body in [
        json!({}),
        json!({"description": "  "}),
        json!({"description": 5}),
        json!({"description": "x", "expiration": "forever"}),
        json!({"description": "x", "role_assignments": {"organization": [{"role_id": "root", "organization_id": ORG}]}}),
        json!({"description": "x", "role_assignments": {"deployment": [{"role_id": "deployment-viewer", "organization_id": ORG, "all": true, "deployment_ids": ["d"]}]}}),
    ] {
        cloud
            .post(KEYS, OWNER_KEY, &body)
            .await
            .assert_error(400, "api_keys.invalid_input");
    }
}

#[tokio::test]
async fn only_organization_owners_manage_keys() {
    let cloud = Cloud::start().await;
    cloud
        .post(KEYS, VIEWER_KEY, &json!({"description": "x"}))
        .await
        .assert_error(403, "root.invalid_authentication");
    cloud
        .get(KEYS, VIEWER_KEY)
        .await
        .assert_error(403, "root.invalid_authentication");
    cloud
        .get(&format!("{KEYS}/viewer-key"), VIEWER_KEY)
        .await
        .assert_error(403, "root.invalid_authentication");
    cloud
        .delete(&format!("{KEYS}/owner-key"), VIEWER_KEY, None)
        .await
        .assert_error(403, "root.invalid_authentication");
    cloud
        .delete(KEYS, VIEWER_KEY, Some(&json!({"keys": ["owner-key"]})))
        .await
        .assert_error(403, "root.invalid_authentication");
    cloud.get(KEYS, OWNER_KEY).await.assert_ok(200);
}

#[tokio::test]
async fn a_key_made_with_lesser_roles_cannot_manage_keys() {
    let cloud = Cloud::start().await;
    let created = create(
        &cloud,
        &json!({"description": "viewer", "role_assignments": {"deployment": [{"role_id": "deployment-viewer", "organization_id": ORG, "all": true}]}}),
    )
    .await;
    assert_eq!(
        created["role_assignments"]["deployment"],
        json!([{"role_id": "deployment-viewer", "organization_id": ORG, "all": true}])
    );
    let key = created["key"].as_str().expect("key");
    cloud
        .get(KEYS, key)
        .await
        .assert_error(403, "root.invalid_authentication");
    cloud.get("/deployments", key).await.assert_ok(200);
}

#[tokio::test]
async fn responses_to_an_expiring_key_carry_its_expiration() {
    let cloud = Cloud::start().await;
    let ok = cloud.get("/organizations", EXPIRING_KEY).await;
    ok.assert_ok(200);
    assert_eq!(
        ok.header("x-elastic-api-key-expiration"),
        Some("2099-01-01T00:00:00.000Z")
    );
    let error = cloud.get("/deployments/nope", EXPIRING_KEY).await;
    error.assert_error(404, "deployments.deployment_not_found");
    assert!(error.header("x-elastic-api-key-expiration").is_some());
    // A key that never expires gets no header.
    let owner = cloud.get("/organizations", OWNER_KEY).await;
    assert_eq!(owner.header("x-elastic-api-key-expiration"), None);

    let created = create(&cloud, &json!({"description": "short", "expiration": "3h"})).await;
    let reply = cloud
        .get("/organizations", created["key"].as_str().expect("key"))
        .await;
    assert_eq!(
        reply.header("x-elastic-api-key-expiration"),
        created["expiration_date"].as_str()
    );
}

#[tokio::test]
async fn keys_default_to_three_months() {
    let cloud = Cloud::start().await;
    let created = create(&cloud, &json!({"description": "default"})).await;
    let lifetime = parse(&created["expiration_date"]) - parse(&created["creation_date"]);
    assert!(
        (TimeDelta::days(89)..=TimeDelta::days(92)).contains(&lifetime),
        "{lifetime}"
    );
}

#[tokio::test]
async fn an_expired_key_is_refused_and_no_longer_listed() {
    let cloud = Cloud::start().await;
    let created = create(&cloud, &json!({"description": "short", "expiration": "1h"})).await;
    let key = created["key"].as_str().expect("key");
    let id = created["id"].as_str().expect("id");
    cloud.get("/organizations", key).await.assert_ok(200);
    cloud.advance_clock(3601).await;
    cloud
        .get("/organizations", key)
        .await
        .assert_error(401, "root.unauthorized");
    let list = cloud.get(KEYS, OWNER_KEY).await;
    assert!(
        !list.assert_ok(200)["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .any(|k| k["id"] == id)
    );
    cloud
        .get(&format!("{KEYS}/{id}"), OWNER_KEY)
        .await
        .assert_error(404, "api_keys.key_not_found");
}

/// The "Workload credentials owner" organization role (Elastic Cloud docs, "Elastic Cloud API
/// keys", 2026): it creates keys and lists or revokes its own without being an Organization
/// owner, so it may not mint an owner's key, see other keys, or manage members.
#[tokio::test]
async fn a_workload_credentials_owner_key_manages_only_its_own_keys() {
    let cloud = Cloud::start().await;
    let workload = create(
        &cloud,
        &json!({"description": "workload", "role_assignments": {"organization": [{"role_id": "workload-credentials-owner", "organization_id": ORG}]}}),
    )
    .await;
    let key = workload["key"].as_str().expect("key").to_string();
    // It sees itself, never the owner's or anybody else's keys.
    let listed = cloud.get(KEYS, &key).await;
    assert_eq!(
        listed.assert_ok(200)["keys"].as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.body
    );
    cloud
        .delete(
            &format!("{KEYS}/{}", cloud_emulator::OWNER_KEY_ID),
            &key,
            None,
        )
        .await
        .assert_error(404, "api_keys.key_not_found");
    let own = cloud
        .post(
            KEYS,
            &key,
            &json!({"description": "ci", "role_assignments": {"deployment": [{"role_id": "deployment-viewer", "organization_id": ORG, "all": true}]}}),
        )
        .await;
    let own_id = own.assert_ok(201)["id"].as_str().expect("id").to_string();
    cloud
        .post(
            KEYS,
            &key,
            &json!({"description": "escalate", "role_assignments": {"organization": [{"role_id": "organization-admin", "organization_id": ORG}]}}),
        )
        .await
        .assert_error(403, "root.invalid_authentication");
    cloud
        .get(&format!("{KEYS}/{own_id}"), &key)
        .await
        .assert_ok(200);
    assert_eq!(
        cloud.get(KEYS, &key).await.assert_ok(200)["keys"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    cloud
        .get(&format!("/organizations/{ORG}/invitations"), &key)
        .await
        .assert_ok(200);
    cloud
        .post(
            &format!("/organizations/{ORG}/invitations"),
            &key,
            &json!({"emails": ["new@example.com"]}),
        )
        .await
        .assert_error(403, "root.invalid_authentication");
    cloud
        .delete(&format!("{KEYS}/{own_id}"), &key, None)
        .await
        .assert_ok(200);
}
