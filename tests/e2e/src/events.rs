//! The sample events from `events/`, re-addressed to the story's people, paths and bodies.

use serde_json::{Value, json};

use crate::StoryError;
use crate::stack::workspace_root;

/// Someone calling the API, as the JWT authorizer's claims describe them.
#[derive(Debug, Clone, Copy)]
pub struct Person {
    pub name: &'static str,
    pub sub: &'static str,
    pub email: &'static str,
    pub groups: &'static str,
}

pub const ADMIN: Person = Person {
    name: "admin",
    sub: "5f1c2d3e-admin",
    email: "admin@example.com",
    groups: "[jit-admins platform]",
};
pub const DEV: Person = Person {
    name: "dev",
    sub: "8a7b6c5d-dev",
    email: "dev@example.com",
    groups: "[developers]",
};
/// Owner of `logs-*` in the Elasticsearch seed and of `prod-search` in the Cloud seed.
pub const ALICE: Person = Person {
    name: "alice",
    sub: "1b2c3d4e-alice",
    email: "alice@example.com",
    groups: "[search-platform leads]",
};
/// A member of the Cloud organization (user `bob-1` in the Cloud seed).
pub const BOB: Person = Person {
    name: "bob",
    sub: "3c4d5e6f-bob",
    email: "bob@example.com",
    groups: "[developers]",
};

/// A sample event from `events/<name>`.
pub fn sample(name: &str) -> Result<Value, StoryError> {
    let path = workspace_root().join("events").join(name);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| StoryError::setup(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| StoryError::setup(format!("{}: not JSON: {e}", path.display())))
}

/// An API Gateway HTTP API event from sample `name`, re-addressed: path, caller, body.
/// The sample's idempotency key is dropped so each call is a new request.
pub fn http(name: &str, path: &str, who: Person, body: Option<Value>) -> Result<Value, StoryError> {
    let mut ev = sample(name)?;
    let (raw_path, query) = match path.split_once('?') {
        Some((p, q)) => (p, q),
        None => (path, ""),
    };
    ev["rawPath"] = json!(raw_path);
    ev["requestContext"]["http"]["path"] = json!(raw_path);
    if !query.is_empty() || ev.get("rawQueryString").is_some() {
        ev["rawQueryString"] = json!(query);
        let params: serde_json::Map<String, Value> = query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_string(), json!(v))
            })
            .collect();
        if params.is_empty() {
            if let Some(o) = ev.as_object_mut() {
                o.remove("queryStringParameters");
            }
        } else {
            ev["queryStringParameters"] = Value::Object(params);
        }
    }
    // Path parameters as API Gateway would fill them in for the route.
    if let Some(params) = ev.get_mut("pathParameters").and_then(Value::as_object_mut) {
        let route = ev_route(params);
        let segments: Vec<&str> = raw_path.trim_start_matches('/').split('/').collect();
        if let Some((key, index)) = route
            && let Some(seg) = segments.get(index)
        {
            params.insert(key, json!(seg));
        }
    }
    let claims = &mut ev["requestContext"]["authorizer"]["jwt"]["claims"];
    claims["sub"] = json!(who.sub);
    claims["email"] = json!(who.email);
    claims["email_verified"] = json!("true");
    claims["groups"] = json!(who.groups);
    if let Some(h) = ev["headers"].as_object_mut() {
        h.remove("idempotency-key");
    }
    if let Some(b) = body {
        ev["body"] = json!(b.to_string());
    }
    with_token(&mut ev);
    Ok(ev)
}

/// The bearer token the event's claims were verified from, in its `authorization` header (as
/// API Gateway passes it; the functions read groups exactly from it). The claims map is the
/// authorizer's flattened copy; the token has lists, numbers and booleans in their JSON types.
fn with_token(ev: &mut Value) {
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let claims = ev["requestContext"]["authorizer"]["jwt"]["claims"].clone();
    let mut payload = serde_json::Map::new();
    for (k, v) in claims.as_object().into_iter().flatten() {
        let s = v.as_str().unwrap_or_default();
        let value = match k.as_str() {
            "exp" | "iat" => s.parse::<i64>().map_or_else(|_| json!(s), |n| json!(n)),
            "email_verified" => json!(s == "true"),
            _ if s.starts_with('[') && s.ends_with(']') => {
                json!(s[1..s.len() - 1].split_whitespace().collect::<Vec<_>>())
            }
            _ => v.clone(),
        };
        payload.insert(k.clone(), value);
    }
    let token = format!(
        "Bearer {}.{}.c2lnbmF0dXJl",
        b64(&json!({"alg": "RS256", "typ": "JWT", "kid": "test"})),
        b64(&Value::Object(payload))
    );
    ev["headers"]["authorization"] = json!(token);
}

/// Which path segment the sample's single path parameter is (`name` and `id` are second).
fn ev_route(params: &serde_json::Map<String, Value>) -> Option<(String, usize)> {
    let key = params.keys().next()?.clone();
    Some((key, 1))
}

/// Status and parsed body of an API Gateway response a function returned.
pub fn response(out: &Value) -> Result<(u16, Value), String> {
    let status = out["statusCode"]
        .as_u64()
        .ok_or_else(|| format!("not an API Gateway response: {out}"))? as u16;
    let body = match out["body"].as_str() {
        Some(b) if !b.is_empty() => {
            serde_json::from_str(b).map_err(|_| format!("body is not JSON: {b}"))?
        }
        _ => Value::Null,
    };
    Ok((status, body))
}
