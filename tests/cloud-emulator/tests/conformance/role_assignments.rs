//! `POST|DELETE /users/{user_id}/role_assignments`.

use serde_json::{Value, json};

use crate::support::{Cloud, ORG, OWNER_KEY, VIEWER_KEY};

const BOB: &str = "/users/bob-1/role_assignments";

fn deployment(role: &str, ids: &[&str]) -> Value {
    json!({"deployment": [{"role_id": role, "organization_id": ORG, "all": false, "deployment_ids": ids}]})
}

async fn bob_roles(cloud: &Cloud) -> Value {
    cloud.member("bob-1").await.expect("bob is a member")["role_assignments"].clone()
}

#[tokio::test]
async fn adding_is_idempotent() {
    let cloud = Cloud::start().await;
    let body = deployment("deployment-viewer", &["d1"]);
    assert_eq!(
        cloud.post(BOB, OWNER_KEY, &body).await.assert_ok(200),
        &json!({})
    );
    assert_eq!(
        cloud.post(BOB, OWNER_KEY, &body).await.assert_ok(200),
        &json!({})
    );
    assert_eq!(bob_roles(&cloud).await["deployment"], body["deployment"]);
}

#[tokio::test]
async fn adding_ids_extends_and_removing_takes_out_only_those_ids() {
    let cloud = Cloud::start().await;
    cloud
        .post(BOB, OWNER_KEY, &deployment("deployment-viewer", &["d1"]))
        .await
        .assert_ok(200);
    cloud
        .post(BOB, OWNER_KEY, &deployment("deployment-viewer", &["d2"]))
        .await
        .assert_ok(200);
    assert_eq!(
        bob_roles(&cloud).await["deployment"],
        deployment("deployment-viewer", &["d1", "d2"])["deployment"]
    );
    let removed = cloud
        .delete(
            BOB,
            OWNER_KEY,
            Some(&deployment("deployment-viewer", &["d1"])),
        )
        .await;
    assert_eq!(removed.assert_ok(200), &json!({}));
    assert_eq!(
        bob_roles(&cloud).await["deployment"],
        deployment("deployment-viewer", &["d2"])["deployment"]
    );
    // A different role on the same id is a different assignment: nothing to remove.
    cloud
        .delete(
            BOB,
            OWNER_KEY,
            Some(&deployment("deployment-editor", &["d2"])),
        )
        .await
        .assert_ok(200);
    cloud
        .delete(
            BOB,
            OWNER_KEY,
            Some(&deployment("deployment-viewer", &["d2"])),
        )
        .await
        .assert_ok(200);
    assert_eq!(bob_roles(&cloud).await["deployment"], json!([]));
}

#[tokio::test]
async fn all_and_id_assignments_are_kept_apart() {
    let cloud = Cloud::start().await;
    let all = json!({"deployment": [{"role_id": "deployment-admin", "organization_id": ORG, "all": true}]});
    cloud.post(BOB, OWNER_KEY, &all).await.assert_ok(200);
    cloud
        .post(BOB, OWNER_KEY, &deployment("deployment-admin", &["d1"]))
        .await
        .assert_ok(200);
    // Removing one id leaves the `all` grant alone.
    cloud
        .delete(
            BOB,
            OWNER_KEY,
            Some(&deployment("deployment-admin", &["d1"])),
        )
        .await
        .assert_ok(200);
    assert_eq!(bob_roles(&cloud).await["deployment"], all["deployment"]);
    cloud
        .delete(BOB, OWNER_KEY, Some(&all))
        .await
        .assert_ok(200);
    assert_eq!(bob_roles(&cloud).await["deployment"], json!([]));
}

#[tokio::test]
async fn organization_and_project_roles_round_trip() {
    let cloud = Cloud::start().await;
    let body = json!({
        "organization": [{"role_id": "billing-admin", "organization_id": ORG}],
        "project": {
            "elasticsearch": [{"role_id": "elasticsearch-developer", "organization_id": ORG, "all": false, "project_ids": ["p1"]}],
            "observability": [{"role_id": "observability-viewer", "organization_id": ORG, "all": true}],
            "security": [{"role_id": "security-t1-analyst", "organization_id": ORG, "all": true, "application_roles": ["t1_analyst"]}]
        }
    });
    cloud.post(BOB, OWNER_KEY, &body).await.assert_ok(200);
    let roles = bob_roles(&cloud).await;
    assert_eq!(roles["organization"], body["organization"]);
    assert_eq!(roles["project"], body["project"]);
    cloud
        .delete(BOB, OWNER_KEY, Some(&body))
        .await
        .assert_ok(200);
    let roles = bob_roles(&cloud).await;
    assert_eq!(roles["organization"], json!([]));
    assert_eq!(
        roles["project"],
        json!({"elasticsearch": [], "observability": [], "security": []})
    );
}

#[tokio::test]
async fn the_all_and_ids_rule_is_enforced() {
    let cloud = Cloud::start().await;
    let bad = [
        json!({"deployment": [{"role_id": "deployment-viewer", "organization_id": ORG, "all": true, "deployment_ids": ["d1"]}]}),
        json!({"deployment": [{"role_id": "deployment-viewer", "organization_id": ORG, "all": false}]}),
        json!({"deployment": [{"role_id": "deployment-viewer", "organization_id": ORG}]}),
        json!({"deployment": [{"role_id": "deployment-viewer", "organization_id": ORG, "all": false, "deployment_ids": []}]}),
        json!({"project": {"elasticsearch": [{"role_id": "elasticsearch-viewer", "organization_id": ORG, "all": true, "project_ids": ["p1"]}]}}),
        json!({"project": {"security": [{"role_id": "security-viewer", "organization_id": ORG, "all": false}]}}),
    ];
    for body in bad {
        cloud
            .post(BOB, OWNER_KEY, &body)
            .await
            .assert_error(400, "role_assignments.invalid_config");
        cloud
            .delete(BOB, OWNER_KEY, Some(&body))
            .await
            .assert_error(400, "role_assignments.invalid_config");
    }
    assert_eq!(bob_roles(&cloud).await["deployment"], json!([]));
}

#[tokio::test]
async fn role_ids_must_belong_to_their_category() {
    let cloud = Cloud::start().await;
    let bad = [
        json!({"organization": [{"role_id": "deployment-admin", "organization_id": ORG}]}),
        json!({"organization": [{"role_id": "owner", "organization_id": ORG}]}),
        json!({"deployment": [{"role_id": "elasticsearch-admin", "organization_id": ORG, "all": true}]}),
        json!({"project": {"elasticsearch": [{"role_id": "admin", "organization_id": ORG, "all": true}]}}),
        json!({"project": {"observability": [{"role_id": "security-viewer", "organization_id": ORG, "all": true}]}}),
        json!({"organization": [{"role_id": "billing-admin"}]}),
    ];
    for body in bad {
        cloud
            .post(BOB, OWNER_KEY, &body)
            .await
            .assert_error(400, "role_assignments.invalid_config");
    }
}

#[tokio::test]
async fn assignments_outside_the_organization_are_not_authorised() {
    let cloud = Cloud::start().await;
    for body in [
        json!({"organization": [{"role_id": "organization-admin", "organization_id": "other-org"}]}),
        json!({"deployment": [{"role_id": "deployment-viewer", "organization_id": "other-org", "all": true}]}),
        json!({"platform": [{"role_id": "platform-admin"}]}),
    ] {
        cloud
            .post(BOB, OWNER_KEY, &body)
            .await
            .assert_error(403, "role_assignments.unauthorized_role_assignments");
    }
}

#[tokio::test]
async fn the_target_must_be_a_member() {
    let cloud = Cloud::start().await;
    let body = deployment("deployment-viewer", &["d1"]);
    for user in ["nobody", "former-1"] {
        cloud
            .post(&format!("/users/{user}/role_assignments"), OWNER_KEY, &body)
            .await
            .assert_error(400, "role_assignments.invalid_target_user_id");
        cloud
            .delete(
                &format!("/users/{user}/role_assignments"),
                OWNER_KEY,
                Some(&body),
            )
            .await
            .assert_error(400, "role_assignments.invalid_target_user_id");
    }
}

#[tokio::test]
async fn only_an_organization_owner_may_change_assignments() {
    let cloud = Cloud::start().await;
    let body = deployment("deployment-viewer", &["d1"]);
    cloud
        .post(BOB, VIEWER_KEY, &body)
        .await
        .assert_error(403, "role_assignments.unauthorized_role_assignments");
    cloud
        .delete(BOB, VIEWER_KEY, Some(&body))
        .await
        .assert_error(403, "role_assignments.unauthorized_role_assignments");
    assert_eq!(bob_roles(&cloud).await["deployment"], json!([]));
}

#[tokio::test]
async fn a_malformed_body_is_invalid_data() {
    let cloud = Cloud::start().await;
    cloud
        .post(BOB, OWNER_KEY, &json!({"deployment": "viewer"}))
        .await
        .assert_error(400, "root.invalid_data");
    cloud
        .delete(BOB, OWNER_KEY, None)
        .await
        .assert_error(400, "root.invalid_data");
}
