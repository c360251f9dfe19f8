//! Organizations, members and invitations.

use reqwest::Method;
use serde_json::json;

use crate::support::{Cloud, ORG, OWNER_KEY, VIEWER_KEY};

#[tokio::test]
async fn lists_and_gets_the_organization() {
    let cloud = Cloud::start().await;
    let list = cloud.get("/organizations", OWNER_KEY).await;
    assert_eq!(
        list.assert_ok(200)["organizations"],
        json!([{"id": ORG, "name": "Demo organization"}])
    );
    let one = cloud.get(&format!("/organizations/{ORG}"), OWNER_KEY).await;
    assert_eq!(one.assert_ok(200)["id"], ORG);
}

#[tokio::test]
async fn another_organization_is_forbidden_and_an_unknown_one_not_found() {
    let cloud = Cloud::start().await;
    cloud
        .get("/organizations/other-org", OWNER_KEY)
        .await
        .assert_error(403, "organization.invalid_access");
    cloud
        .get("/organizations/other-org/members", OWNER_KEY)
        .await
        .assert_error(403, "organization.invalid_access");
    cloud
        .get("/organizations/no-such-org", OWNER_KEY)
        .await
        .assert_error(404, "organization.not_found");
    cloud
        .get("/organizations/no-such-org/invitations", OWNER_KEY)
        .await
        .assert_error(404, "organization.not_found");
}

#[tokio::test]
async fn members_carry_their_role_assignments() {
    let cloud = Cloud::start().await;
    let members = cloud.members().await;
    let ids: Vec<&str> = members
        .iter()
        .filter_map(|m| m["user_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        ["bob-1", "owner-1", "viewer-1"],
        "former-1 is not a member"
    );
    let owner = &members[1];
    assert_eq!(owner["email"], "owner@example.com");
    assert_eq!(owner["organization_id"], ORG);
    assert!(owner["member_since"].as_str().is_some());
    assert_eq!(
        owner["role_assignments"]["organization"],
        json!([{"role_id": "organization-admin", "organization_id": ORG}])
    );
    let bob = &members[0];
    assert_eq!(bob["email"], "bob@example.com");
    assert_eq!(bob["role_assignments"]["organization"], json!([]));
    assert_eq!(bob["role_assignments"]["deployment"], json!([]));
    assert_eq!(
        members[2]["role_assignments"]["deployment"],
        json!([{"role_id": "deployment-viewer", "organization_id": ORG, "all": true}])
    );
}

#[tokio::test]
async fn a_non_owner_key_may_read_members_but_not_remove_them() {
    let cloud = Cloud::start().await;
    let reply = cloud
        .get(&format!("/organizations/{ORG}/members"), VIEWER_KEY)
        .await;
    assert_eq!(
        reply.assert_ok(200)["members"].as_array().map(Vec::len),
        Some(3)
    );
    cloud
        .delete(
            &format!("/organizations/{ORG}/members/bob-1"),
            VIEWER_KEY,
            None,
        )
        .await
        .assert_error(403, "root.invalid_authentication");
    assert!(cloud.member("bob-1").await.is_some());
}

#[tokio::test]
async fn deletes_members_given_as_csv() {
    let cloud = Cloud::start().await;
    let reply = cloud
        .delete(
            &format!("/organizations/{ORG}/members/bob-1,viewer-1"),
            OWNER_KEY,
            None,
        )
        .await;
    assert_eq!(reply.assert_ok(200), &json!({}));
    let ids: Vec<String> = cloud
        .members()
        .await
        .iter()
        .filter_map(|m| m["user_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids, ["owner-1"]);
}

#[tokio::test]
async fn member_deletion_errors_change_nothing() {
    let cloud = Cloud::start().await;
    cloud
        .delete(
            &format!("/organizations/{ORG}/members/bob-1,nobody"),
            OWNER_KEY,
            None,
        )
        .await
        .assert_error(404, "user.not_found");
    cloud
        .delete(
            &format!("/organizations/{ORG}/members/former-1"),
            OWNER_KEY,
            None,
        )
        .await
        .assert_error(404, "organization.membership_not_found");
    cloud
        .delete("/organizations/no-such-org/members/bob-1", OWNER_KEY, None)
        .await
        .assert_error(404, "organization.not_found");
    assert!(cloud.member("bob-1").await.is_some());
}

fn viewer_on(ids: &[&str]) -> serde_json::Value {
    json!({"deployment": [{"role_id": "deployment-viewer", "organization_id": ORG, "all": false, "deployment_ids": ids}]})
}

#[tokio::test]
async fn creates_invitations_with_role_assignments() {
    let cloud = Cloud::start().await;
    let path = format!("/organizations/{ORG}/invitations");
    let reply = cloud
        .post(
            &path,
            OWNER_KEY,
            &json!({"emails": ["erin@example.com", "frank@example.com"], "expires_in": "7d", "role_assignments": viewer_on(&["d1"])}),
        )
        .await;
    let created = reply.assert_ok(201)["invitations"]
        .as_array()
        .expect("invitations")
        .clone();
    assert_eq!(created.len(), 2);
    let erin = &created[0];
    assert_eq!(erin["email"], "erin@example.com");
    assert_eq!(erin["expired"], false);
    assert!(erin.get("accepted_at").is_none());
    assert_eq!(erin["organization"]["id"], ORG);
    assert_eq!(
        erin["role_assignments"]["deployment"],
        viewer_on(&["d1"])["deployment"]
    );
    let created_at =
        chrono::DateTime::parse_from_rfc3339(erin["created_at"].as_str().expect("created_at"))
            .expect("rfc3339");
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(erin["expires_at"].as_str().expect("expires_at"))
            .expect("rfc3339");
    assert_eq!(expires_at - created_at, chrono::TimeDelta::days(7));
    assert_eq!(erin["token"].as_str().map(str::len), Some(32));

    let listed = cloud.get(&path, OWNER_KEY).await;
    let emails: Vec<&str> = listed.assert_ok(200)["invitations"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|i| i["email"].as_str())
        .collect();
    assert_eq!(
        emails,
        ["dave@example.com", "erin@example.com", "frank@example.com"]
    );
}

/// Sources: elastic/terraform-provider-ec `ec/ecresource/organizationresource/create.go`
/// (`ExpiresIn: "7d"`), elastic/cloud-sdk-go organization invitation tests (`"3d"`) and the
/// swagger's "Defaults to three days from now" (`api/apidocs-user.json`,
/// `OrganizationInvitationRequest.expires_in`): whole days are the only evidenced form.
#[tokio::test]
async fn invitation_expiry_defaults_to_three_days_and_takes_whole_days_only() {
    let cloud = Cloud::start().await;
    let path = format!("/organizations/{ORG}/invitations");
    for (body, days) in [
        (json!({"emails": ["a@example.com"]}), 3),
        (json!({"emails": ["c@example.com"], "expires_in": "3d"}), 3),
        (json!({"emails": ["d@example.com"], "expires_in": "7d"}), 7),
    ] {
        let reply = cloud.post(&path, OWNER_KEY, &body).await;
        let inv = &reply.assert_ok(201)["invitations"][0];
        let created = chrono::DateTime::parse_from_rfc3339(inv["created_at"].as_str().expect("c"))
            .expect("c");
        let expires = chrono::DateTime::parse_from_rfc3339(inv["expires_at"].as_str().expect("e"))
            .expect("e");
        assert_eq!(expires - created, chrono::TimeDelta::days(days), "{body}");
    }
    for unevidenced in [
        "3600s",
        "72h",
        "90m",
        "1w",
        "0d",
        "-1d",
        "1.5d",
        "2026-12-31T00:00:00Z",
    ] {
        cloud
            .post(
                &path,
                OWNER_KEY,
                &json!({"emails": ["e@example.com"], "expires_in": unevidenced}),
            )
            .await
            .assert_error(400, "root.invalid_data");
    }
}

#[tokio::test]
async fn invitation_errors() {
    let cloud = Cloud::start().await;
    let path = format!("/organizations/{ORG}/invitations");
    for email in ["not-an-email", "a@b", "two@@example.com", ""] {
        cloud
            .post(&path, OWNER_KEY, &json!({"emails": [email]}))
            .await
            .assert_error(400, "organization.invitation_invalid_email");
    }
    cloud
        .post(&path, OWNER_KEY, &json!({"emails": []}))
        .await
        .assert_error(400, "organization.invitation_invalid_email");
    cloud
        .post(&path, OWNER_KEY, &json!({"emails": ["Dave@Example.com"]}))
        .await
        .assert_error(400, "organization.invitation_already_exists");
    cloud
        .post(&path, OWNER_KEY, &json!({"emails": ["bob@example.com"]}))
        .await
        .assert_error(400, "organization.user_organization_already_belongs");
    cloud
        .post(
            &path,
            OWNER_KEY,
            &json!({"emails": ["g@example.com"], "expires_in": "soon"}),
        )
        .await
        .assert_error(400, "root.invalid_data");
    cloud
        .post(
            &path,
            OWNER_KEY,
            &json!({"emails": ["g@example.com"], "role_assignments": {"deployment": [{"role_id": "deployment-viewer", "organization_id": ORG, "all": true, "deployment_ids": ["d1"]}]}}),
        )
        .await
        .assert_error(400, "root.invalid_data");
    cloud
        .post(&path, OWNER_KEY, &json!({"email": "g@example.com"}))
        .await
        .assert_error(400, "root.invalid_data");
    cloud
        .post(&path, VIEWER_KEY, &json!({"emails": ["g@example.com"]}))
        .await
        .assert_error(403, "root.invalid_authentication");
    let listed = cloud.get(&path, OWNER_KEY).await;
    assert_eq!(
        listed.assert_ok(200)["invitations"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn an_expired_invitation_is_flagged_and_no_longer_blocks_a_new_one() {
    let cloud = Cloud::start().await;
    let path = format!("/organizations/{ORG}/invitations");
    cloud.advance_clock(3 * 24 * 3600 + 1).await;
    let listed = cloud.get(&path, OWNER_KEY).await;
    assert_eq!(listed.assert_ok(200)["invitations"][0]["expired"], true);
    let reply = cloud
        .post(&path, OWNER_KEY, &json!({"emails": ["dave@example.com"]}))
        .await;
    assert_eq!(reply.assert_ok(201)["invitations"][0]["expired"], false);
}

#[tokio::test]
async fn deletes_invitations_given_as_csv() {
    let cloud = Cloud::start().await;
    let path = format!("/organizations/{ORG}/invitations");
    let created = cloud
        .post(&path, OWNER_KEY, &json!({"emails": ["erin@example.com"]}))
        .await;
    let token = created.assert_ok(201)["invitations"][0]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    cloud
        .delete(
            &format!("{path}/pending-dave,no-such-token"),
            OWNER_KEY,
            None,
        )
        .await
        .assert_error(404, "organization.invitation_not_found");
    cloud
        .delete(&format!("{path}/,"), OWNER_KEY, None)
        .await
        .assert_error(400, "root.invalid_data");
    cloud
        .delete(&format!("{path}/pending-dave"), VIEWER_KEY, None)
        .await
        .assert_error(403, "root.invalid_authentication");
    let reply = cloud
        .delete(&format!("{path}/pending-dave,{token}"), OWNER_KEY, None)
        .await;
    assert_eq!(reply.assert_ok(200), &json!({}));
    let listed = cloud.get(&path, OWNER_KEY).await;
    assert_eq!(listed.assert_ok(200)["invitations"], json!([]));
}

#[tokio::test]
async fn accepting_an_invitation_makes_the_invitee_a_member_with_its_roles() {
    let cloud = Cloud::start().await;
    let member = cloud
        .control(Method::POST, "/invitations/pending-dave/accept", None)
        .await;
    let member = member.assert_ok(200).clone();
    assert_eq!(member["email"], "dave@example.com");
    assert_eq!(member["organization_id"], ORG);
    assert_eq!(
        member["role_assignments"]["deployment"],
        json!([{"role_id": "deployment-viewer", "organization_id": ORG, "all": false, "deployment_ids": ["staginglogs000000000000000000002"]}])
    );
    let user_id = member["user_id"].as_str().expect("user id");
    assert_eq!(cloud.member(user_id).await, Some(member.clone()));

    let listed = cloud
        .get(&format!("/organizations/{ORG}/invitations"), OWNER_KEY)
        .await;
    assert!(listed.assert_ok(200)["invitations"][0]["accepted_at"].is_string());
    cloud
        .control(Method::POST, "/invitations/pending-dave/accept", None)
        .await
        .assert_error(409, "emulator.invitation_already_accepted");
    cloud
        .control(Method::POST, "/invitations/nope/accept", None)
        .await
        .assert_error(404, "organization.invitation_not_found");
}

#[tokio::test]
async fn a_former_member_accepting_is_the_same_user_again() {
    let cloud = Cloud::start().await;
    let path = format!("/organizations/{ORG}/invitations");
    let created = cloud
        .post(&path, OWNER_KEY, &json!({"emails": ["former@example.com"]}))
        .await;
    let token = created.assert_ok(201)["invitations"][0]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let member = cloud
        .control(Method::POST, &format!("/invitations/{token}/accept"), None)
        .await;
    assert_eq!(member.assert_ok(200)["user_id"], "former-1");
}

#[tokio::test]
async fn an_expired_invitation_cannot_be_accepted() {
    let cloud = Cloud::start().await;
    cloud.advance_clock(4 * 24 * 3600).await;
    cloud
        .control(Method::POST, "/invitations/pending-dave/accept", None)
        .await
        .assert_error(400, "emulator.invitation_expired");
}
