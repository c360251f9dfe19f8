//! `POST|DELETE /users/{user_id}/role_assignments`, both with a `RoleAssignments` body.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Json;
use serde_json::{Value, json};

use super::parse_body;
use crate::auth::Caller;
use crate::error::{ApiResult, CloudError};
use crate::roles::{RoleAssignments, RoleError};
use crate::server::App;

#[derive(Clone, Copy)]
enum Change {
    Add,
    Remove,
}

fn unauthorized_assignments(message: impl Into<String>) -> CloudError {
    CloudError::new(
        StatusCode::FORBIDDEN,
        "role_assignments.unauthorized_role_assignments",
        message,
    )
}

pub async fn add(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(user_id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    apply(&app, &caller, &user_id, &body, Change::Add)
}

pub async fn remove(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(user_id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    apply(&app, &caller, &user_id, &body, Change::Remove)
}

fn apply(
    app: &App,
    caller: &Caller,
    user_id: &str,
    body: &Bytes,
    change: Change,
) -> ApiResult<Json<Value>> {
    let mut world = app.world();
    if !caller.is_organization_admin() {
        return Err(unauthorized_assignments(
            "You are not authorised to add/remove the specified RoleAssignments.",
        ));
    }
    let organization_id = world.organization_id().to_owned();
    let is_member = world
        .users
        .get(user_id)
        .is_some_and(|u| u.membership.is_some());
    if !is_member {
        return Err(CloudError::bad_request(
            "role_assignments.invalid_target_user_id",
            "The target user Id is invalid.",
        ));
    }
    let requested: RoleAssignments = parse_body(body).map_err(CloudError::invalid_data)?;
    requested.validate(&organization_id).map_err(|e| match e {
        RoleError::Invalid(m) => CloudError::bad_request("role_assignments.invalid_config", m),
        RoleError::NotPermitted(m) => unauthorized_assignments(m),
    })?;
    let requested = requested.normalized(&organization_id);
    if let Some(membership) = world
        .users
        .get_mut(user_id)
        .and_then(|u| u.membership.as_mut())
    {
        match change {
            Change::Add => membership.role_assignments.add(&requested),
            Change::Remove => membership.role_assignments.remove(&requested),
        }
    }
    Ok(Json(json!({})))
}
