//! The story's bundle: one request for read on the cluster's logs and viewer on the Cloud
//! deployment, approved once by their owner, granted as two grants on two integrations, and
//! ended together by one revoke.

use std::io::Write;

use reqwest::Method;
use serde_json::json;

use super::{
    ADMIN, ALICE, BOB, CLOUD_INTEGRATION, CLOUD_ROLE, DEPLOYMENT_NAME, DEV, ES_INTEGRATION, Teller,
    bob_holds, str_of,
};
use crate::StoryError;

pub(super) async fn bundle<W: Write>(t: &mut Teller<'_, W>) -> Result<(), StoryError> {
    t.section("Bundle: two grants on two integrations, asked for and approved as one")?;
    t.step("admin creates bundle flow oncall-kit: read on logs-* and viewer on the deployment")?;
    t.api(
        "PUT /flows/oncall-kit",
        ADMIN,
        Some(json!({
            "requesters": [{"type": "group", "value": "developers"}],
            "max_duration": "2h",
            "require_justification": true,
            "bundle": [
                {"integration": ES_INTEGRATION, "resources": ["logs-2026.11"], "permission": "read"},
                {"integration": CLOUD_INTEGRATION, "resources": [DEPLOYMENT_NAME], "permission": CLOUD_ROLE}
            ]
        })),
        201,
    )
    .await?;

    t.step("bob asks for the bundle: one request, one step per owner set and item")?;
    let body = t
        .api(
            "POST /requests",
            BOB,
            Some(
                json!({"flow": "oncall-kit", "duration": "1h", "justification": "on call tonight"}),
            ),
            201,
        )
        .await?;
    t.expect_status(&body, "pending")?;
    let id = str_of(&body, "id").to_string();
    for s in body["approval_steps"].as_array().into_iter().flatten() {
        t.say(format!("step: {}", str_of(s, "label")))?;
    }
    let deployment = body["bundle"][1]["resources"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();

    t.step("bob cannot approve his own bundle")?;
    t.api(&format!("POST /requests/{id}/approve"), BOB, None, 403)
        .await?;

    t.step("alice, owner of both, approves: the bundle's two grants are made")?;
    let body = t.decide(ALICE, &id, "approve", "ok", "bundled").await?;
    let children = body["children"].as_array().cloned().unwrap_or_default();
    for c in &children {
        t.say(format!(
            "{}: {} on {} -> {}",
            str_of(c, "id"),
            str_of(c, "permission"),
            str_of(c, "integration"),
            str_of(c, "status")
        ))?;
    }
    if children.len() != 2 || children.iter().any(|c| c["status"] != "active") {
        return Err(t.fail(format!("expected two active grants: {body}")));
    }
    let es_child = str_of(&children[0], "id").to_string();
    let cloud_child = str_of(&children[1], "id").to_string();

    t.step("bob reads the cluster grant's credentials and the logs; the Cloud role is his")?;
    let creds = t
        .api(
            &format!("GET /requests/{es_child}/credentials"),
            BOB,
            None,
            200,
        )
        .await?;
    let (user, password) = (
        str_of(&creds, "username").to_string(),
        str_of(&creds, "password").to_string(),
    );
    let (s, _) = t
        .es(Method::GET, "/logs-2026.11/_search", &user, &password, None)
        .await?;
    t.say(format!("GET /logs-2026.11/_search as {user} -> {s}"))?;
    if s != 200 || !bob_holds(t, &deployment).await? {
        return Err(t.fail("the bundle's grants are not in place"));
    }

    t.step("a child is decided only through its bundle; a stranger does not see it")?;
    t.api(
        &format!("POST /requests/{cloud_child}/approve"),
        ALICE,
        None,
        409,
    )
    .await?;
    t.api(&format!("GET /requests/{es_child}"), DEV, None, 404)
        .await?;

    t.step("bob revokes the bundle: both grants end")?;
    let body = t
        .api(
            &format!("POST /requests/{id}/revoke"),
            BOB,
            Some(json!({"reason": "handed over"})),
            200,
        )
        .await?;
    for c in body["children"].as_array().into_iter().flatten() {
        t.say(format!("{} -> {}", str_of(c, "id"), str_of(c, "status")))?;
        if c["status"] != "revoked" {
            return Err(t.fail(format!("{} is {}", str_of(c, "id"), str_of(c, "status"))));
        }
    }
    let (s, _) = t
        .es(Method::GET, "/logs-2026.11/_search", &user, &password, None)
        .await?;
    t.say(format!("GET /logs-2026.11/_search as {user} -> {s}"))?;
    if s != 401 || bob_holds(t, &deployment).await? {
        return Err(t.fail("access outlived the bundle's revoke"));
    }
    Ok(())
}
