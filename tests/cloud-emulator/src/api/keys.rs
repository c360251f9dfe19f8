//! Cloud API keys: `/users/auth/keys` and `/users/auth/keys/{api_key_id}`.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use base64::Engine;
use chrono::Months;
use serde::Deserialize;
use serde_json::{Value, json};

use super::parse_body;
use crate::auth::Caller;
use crate::duration;
use crate::error::{ApiResult, CloudError};
use crate::roles::RoleAssignments;
use crate::server::App;
use crate::state::ApiKey;
use crate::views;

/// Elastic documents three months as the default lifetime of a new key.
const DEFAULT_KEY_LIFETIME: Months = Months::new(3);

fn invalid_input(message: impl Into<String>) -> CloudError {
    CloudError::bad_request("api_keys.invalid_input", message)
}

fn key_not_found(id: &str) -> CloudError {
    CloudError::not_found(
        "api_keys.key_not_found",
        format!("API key [{id}] not found."),
    )
}

/// Organization owners manage every key; a Workload credentials owner creates keys and sees
/// or revokes only its own: itself and the keys it created.
fn require_key_manager(caller: &Caller) -> ApiResult<()> {
    if caller.is_organization_admin() || caller.is_workload_credentials_owner() {
        Ok(())
    } else {
        Err(CloudError::not_organization_owner())
    }
}

/// Whether `caller` may see or revoke `key`.
fn manages(caller: &Caller, key: &ApiKey) -> bool {
    key.organization_id == caller.organization_id
        && (caller.is_organization_admin()
            || key.id == caller.key_id
            || key.created_by.as_deref() == Some(caller.key_id.as_str()))
}

/// Elastic Cloud key secrets carry the `essu_` prefix; the rest only needs to be unguessable.
fn new_secret() -> String {
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    format!(
        "essu_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

pub async fn list(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    require_key_manager(&caller)?;
    let world = app.world();
    let now = world.now();
    // Expired keys disappear from the list (docs-content #4099).
    let keys: Vec<Value> = world
        .keys
        .iter()
        .filter(|k| manages(&caller, k) && !k.is_expired(now))
        .map(|k| views::api_key(k, None))
        .collect();
    Ok(Json(json!({"keys": keys})))
}

#[derive(Deserialize)]
struct CreateKeyRequest {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    expiration: Option<String>,
    #[serde(default)]
    role_assignments: Option<RoleAssignments>,
}

pub async fn create(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> ApiResult<Response> {
    require_key_manager(&caller)?;
    let request: CreateKeyRequest = parse_body(&body).map_err(invalid_input)?;
    let description = request
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| invalid_input("description is required."))?
        .to_owned();
    let mut world = app.world();
    let now = world.now();
    let expiration_date = match request.expiration.as_deref() {
        None => now.checked_add_months(DEFAULT_KEY_LIFETIME),
        Some(text) => Some(
            duration::parse(text)
                .map(|d| now + d)
                .ok_or_else(|| invalid_input(format!("Invalid expiration [{text}].")))?,
        ),
    };
    // Without role assignments the new key gets the creating key's: the documented behaviour
    // is not stated, and this keeps a rotated connector key as capable as the one it replaces.
    let role_assignments = match request.role_assignments {
        None => caller.role_assignments.clone(),
        Some(r) => {
            r.validate(&caller.organization_id)
                .map_err(|e| invalid_input(e.to_string()))?;
            r.normalized(&caller.organization_id)
        }
    };
    // A Workload credentials owner cannot mint an Organization owner's key.
    if !caller.is_organization_admin()
        && role_assignments.is_organization_admin(&caller.organization_id)
    {
        return Err(CloudError::not_organization_owner());
    }
    let secret = new_secret();
    let key = ApiKey {
        created_by: Some(caller.key_id.clone()),
        id: uuid::Uuid::new_v4().simple().to_string(),
        description,
        secret: secret.clone(),
        user_id: caller.user_id.clone(),
        organization_id: caller.organization_id.clone(),
        creation_date: now,
        expiration_date,
        role_assignments,
    };
    let body = views::api_key(&key, Some(&secret));
    world.keys.push(key);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Deserialize)]
struct DeleteKeysRequest {
    keys: Vec<String>,
}

/// All-or-nothing: every id must exist before any key is deleted.
pub async fn delete_many(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    require_key_manager(&caller)?;
    let request: DeleteKeysRequest = parse_body(&body).map_err(invalid_input)?;
    if request.keys.is_empty() {
        return Err(invalid_input("keys must list at least one API key id."));
    }
    let mut world = app.world();
    let now = world.now();
    if let Some(missing) = request.keys.iter().find(|id| {
        !world
            .keys
            .iter()
            .any(|k| &&k.id == id && manages(&caller, k) && !k.is_expired(now))
    }) {
        return Err(key_not_found(missing));
    }
    world.keys.retain(|k| !request.keys.contains(&k.id));
    Ok(Json(json!({})))
}

pub async fn get(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(api_key_id): Path<String>,
) -> ApiResult<Json<Value>> {
    require_key_manager(&caller)?;
    let world = app.world();
    let now = world.now();
    world
        .keys
        .iter()
        .find(|k| k.id == api_key_id && manages(&caller, k) && !k.is_expired(now))
        .map(|k| Json(views::api_key(k, None)))
        .ok_or_else(|| key_not_found(&api_key_id))
}

pub async fn delete_one(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(api_key_id): Path<String>,
) -> ApiResult<Json<Value>> {
    require_key_manager(&caller)?;
    let mut world = app.world();
    let now = world.now();
    let before = world.keys.len();
    world
        .keys
        .retain(|k| !(k.id == api_key_id && manages(&caller, k) && !k.is_expired(now)));
    if world.keys.len() == before {
        return Err(key_not_found(&api_key_id));
    }
    Ok(Json(json!({})))
}
