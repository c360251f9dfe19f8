//! The story's extension: dev extends an `api_key` grant, gets a new key that ends with the
//! grant, and the old key keeps working until its own end.

use std::io::Write;

use reqwest::Method;
use serde_json::{Value, json};

use super::{ADMIN, DEV, ES_INTEGRATION, Teller, str_of};
use crate::StoryError;

/// `GET /logs-2026.11/_search` with an API key; its status.
async fn search_with_key<W: Write>(t: &mut Teller<'_, W>, key: &str) -> Result<u16, StoryError> {
    let r = t
        .stack
        .http
        .request(
            Method::GET,
            format!("{}/logs-2026.11/_search", t.stack.es_url),
        )
        .header("Authorization", format!("ApiKey {key}"))
        .send()
        .await
        .map_err(|e| t.fail(format!("Elasticsearch emulator: {e}")))?;
    Ok(r.status().as_u16())
}

fn key_of(creds: &Value) -> (String, String) {
    (
        str_of(creds, "api_key_id").to_string(),
        str_of(creds, "api_key").to_string(),
    )
}

pub(super) async fn extension<W: Write>(t: &mut Teller<'_, W>) -> Result<(), StoryError> {
    t.section("Extension: dev extends an API-key grant without losing access")?;
    t.step("admin creates flow logs-keys: automatic API keys, up to two 1h extensions, 3h in all")?;
    t.api(
        "PUT /flows/logs-keys",
        ADMIN,
        Some(json!({
            "integration": ES_INTEGRATION,
            "requesters": [{"type": "group", "value": "developers"}],
            "resources": ["logs-*"],
            "permissions": ["read"],
            "max_duration": "1h",
            "auto_approve": true,
            "credential_mode": "api_key",
            "extension": {"max_extensions": 2, "length": "1h", "max_total_duration": "3h"}
        })),
        201,
    )
    .await?;

    t.step("dev asks for read on logs-2026.11 for 30m (approved automatically)")?;
    let id = t
        .ask(
            DEV,
            json!({
                "integration": ES_INTEGRATION,
                "flow": "logs-keys",
                "resources": ["logs-2026.11"],
                "permission": "read",
                "duration": "30m"
            }),
            "active",
        )
        .await?;
    let creds = t
        .api(&format!("GET /requests/{id}/credentials"), DEV, None, 200)
        .await?;
    let (old_id, old_key) = key_of(&creds);
    let s = search_with_key(t, &old_key).await?;
    t.say(format!(
        "API key {old_id} (********), until {}: GET /logs-2026.11/_search -> {s}",
        str_of(&creds, "expires_at")
    ))?;
    if s != 200 {
        return Err(t.fail(format!("the grant's key got {s}")));
    }

    t.step("dev reads how far the grant may be extended")?;
    let body = t
        .api(&format!("GET /requests/{id}"), DEV, None, 200)
        .await?;
    let x = &body["extension"];
    t.say(format!(
        "{} extensions left, each at most {}, ending no later than {}",
        x["remaining"],
        str_of(x, "max_extension"),
        str_of(x, "latest_end")
    ))?;
    if x["remaining"] != 2 {
        return Err(t.fail(format!("expected two extensions offered: {body}")));
    }

    t.step("dev extends it by 1h")?;
    let before = str_of(&body, "ends_at").to_string();
    let body = t
        .api(
            &format!("POST /requests/{id}/extend"),
            DEV,
            Some(json!({"duration": "1h", "justification": "the migration runs longer"})),
            200,
        )
        .await?;
    t.say(format!(
        "ends_at {before} -> {} ({} extension left)",
        str_of(&body, "ends_at"),
        body["extension"]["remaining"]
    ))?;
    if body["extensions"] != 1 {
        return Err(t.fail(format!("the grant was not extended: {body}")));
    }

    t.step("dev fetches the credentials again: a new key that ends with the grant")?;
    let creds = t
        .api(&format!("GET /requests/{id}/credentials"), DEV, None, 200)
        .await?;
    let (new_id, new_key) = key_of(&creds);
    if new_id == old_id || new_key.is_empty() {
        return Err(t.fail("the extension did not hand over a new key"));
    }
    let s_new = search_with_key(t, &new_key).await?;
    let s_old = search_with_key(t, &old_key).await?;
    t.say(format!(
        "new key {new_id} (********), until {}: GET /logs-2026.11/_search -> {s_new}",
        str_of(&creds, "expires_at")
    ))?;
    t.say(format!(
        "old key {old_id} still works until its own end: -> {s_old}"
    ))?;
    if s_new != 200 || s_old != 200 {
        return Err(t.fail(format!("new key {s_new}, old key {s_old}: both must work")));
    }

    t.step("dev revokes it: both keys stop working")?;
    t.decide(DEV, &id, "revoke", "done", "revoked").await?;
    for (name, key) in [("old", &old_key), ("new", &new_key)] {
        let s = search_with_key(t, key).await?;
        t.say(format!("{name} key -> {s}"))?;
        if s != 401 {
            return Err(t.fail(format!("the {name} key still gets {s} after revoke")));
        }
    }
    Ok(())
}
