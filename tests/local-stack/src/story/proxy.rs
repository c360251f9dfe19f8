//! The story's proxy: a cluster running without security, registered with `authorization:
//! proxy`; a grant is a proxy credential, the authorizing proxy (server mode) lets it search
//! the granted index and answers anything else with Elasticsearch's own 403, every request is
//! an audit line, and a revoke ends the credential within the proxy's cache time.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{ADMIN, BOB, Teller, str_of};
use crate::StoryError;
use crate::procs::free_port;

const PLAIN_INTEGRATION: &str = "demo-plain";

pub(super) async fn proxy<W: Write>(t: &mut Teller<'_, W>) -> Result<(), StoryError> {
    t.section("Proxy: a cluster without security, governed index by index")?;
    let plain = t.stack.plain_es_url.clone();
    t.step("the second cluster has no security: anyone reaches every index")?;
    let r = t
        .stack
        .http
        .get(format!("{plain}/secrets-1/_search"))
        .send()
        .await
        .map_err(|e| t.fail(format!("the cluster: {e}")))?;
    t.say(format!(
        "GET {plain}/secrets-1/_search, no credentials -> {}",
        r.status().as_u16()
    ))?;

    t.step("admin registers it with authorization \"proxy\" (the connector secret is empty)")?;
    let port = free_port()?;
    let proxy_url = format!("http://127.0.0.1:{port}");
    let (_, arn) = t.connector_secret(PLAIN_INTEGRATION, json!({})).await?;
    let body = t
        .api(
            &format!("PUT /integrations/{PLAIN_INTEGRATION}"),
            ADMIN,
            Some(json!({
                "kind": "elasticsearch", "url": plain, "secret_arn": arn,
                "authorization": "proxy", "proxy_url": proxy_url,
                "allow_insecure_http": true,
                "integration_owners": [{"type": "group", "value": "jit-admins"}]
            })),
            201,
        )
        .await?;
    t.say(format!(
        "authorization {}, {} resources discovered",
        str_of(&body, "authorization"),
        body["discovery"]["total"]
    ))?;
    t.api(
        "PUT /flows/plain-logs",
        ADMIN,
        Some(json!({
            "integration": PLAIN_INTEGRATION, "resources": ["logs-*"], "permissions": ["read"],
            "requesters": [{"type": "group", "value": "developers"}],
            "max_duration": "1h", "auto_approve": true
        })),
        201,
    )
    .await?;

    t.step("the local stack starts the authorizing proxy in server mode (proxy --serve)")?;
    let url = t
        .stack
        .start_proxy(PLAIN_INTEGRATION, port)
        .await
        .map_err(|e| t.fail(e.to_string()))?;
    t.say(format!("proxy listening at {url} for {PLAIN_INTEGRATION}"))?;

    t.step("bob asks for read on logs-2026.11 (auto-approved): a proxy credential")?;
    let id = t
        .ask(
            BOB,
            json!({"integration": PLAIN_INTEGRATION, "flow": "plain-logs",
                   "resources": ["logs-2026.11"], "permission": "read", "duration": "30m"}),
            "active",
        )
        .await?;
    let creds = t
        .api(&format!("GET /requests/{id}/credentials"), BOB, None, 200)
        .await?;
    let (user, password) = (
        str_of(&creds, "username").to_string(),
        str_of(&creds, "password").to_string(),
    );
    t.say(format!(
        "mode {}, url {}, username {user} (nothing was created on the cluster)",
        str_of(&creds, "mode"),
        str_of(&creds, "url")
    ))?;

    t.step("through the proxy, bob searches his index, and only his index")?;
    let (s, b) = through(t, &url, "/logs-2026.11/_search", &user, &password).await?;
    t.say(format!(
        "GET /logs-2026.11/_search as {user} -> {s} ({} hits)",
        b["hits"]["total"]["value"]
    ))?;
    if s != 200 {
        return Err(t.fail(format!("the granted search failed: {b}")));
    }
    let (s, b) = through(t, &url, "/logs-*/_search", &user, &password).await?;
    let indices: Vec<&str> = b["hits"]["hits"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["_index"].as_str())
        .collect();
    t.say(format!("GET /logs-*/_search -> {s}, hits from {indices:?}"))?;
    if s != 200 || indices.iter().any(|i| *i != "logs-2026.11") {
        return Err(t.fail("a wildcard reached beyond the grant"));
    }
    let (s, b) = through(t, &url, "/secrets-1/_search", &user, &password).await?;
    t.say(format!(
        "GET /secrets-1/_search -> {s} {}: {}",
        b["error"]["type"].as_str().unwrap_or("?"),
        b["error"]["reason"].as_str().unwrap_or("?")
    ))?;
    if s != 403 || b["error"]["type"] != "security_exception" {
        return Err(t.fail(format!("expected Elasticsearch's 403: {b}")));
    }

    t.step("every request through the proxy is an audit line (the proxy's standard output)")?;
    for line in audit_lines(t) {
        t.say(line.to_string())?;
    }
    if audit_lines(t).len() < 3 {
        return Err(t.fail("the proxy wrote fewer audit lines than requests"));
    }

    t.step("bob revokes the grant: the proxy refuses his credential within a second or two")?;
    t.api(
        &format!("POST /requests/{id}/revoke"),
        BOB,
        Some(json!({"reason": "done"})),
        200,
    )
    .await?;
    let started = Instant::now();
    loop {
        let (s, _) = through(t, &url, "/logs-2026.11/_search", &user, &password).await?;
        if s == 401 {
            t.say(format!(
                "GET /logs-2026.11/_search -> 401 after {} ms",
                started.elapsed().as_millis()
            ))?;
            break;
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err(t.fail(format!("still answered {s} 10 s after the revoke")));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// A GET through the proxy with Basic credentials: status and JSON body.
async fn through<W: Write>(
    t: &mut Teller<'_, W>,
    url: &str,
    path: &str,
    user: &str,
    password: &str,
) -> Result<(u16, Value), StoryError> {
    let r = t
        .stack
        .http
        .get(format!("{url}{path}"))
        .basic_auth(user, Some(password))
        .send()
        .await
        .map_err(|e| t.fail(format!("the proxy: {e}")))?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

/// The proxy's audit lines so far, as JSON.
fn audit_lines<W: Write>(t: &Teller<'_, W>) -> Vec<Value> {
    std::fs::read_to_string(t.stack.proxy_log())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["kind"] == "proxy_request")
        .collect()
}
