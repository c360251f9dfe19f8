//! `/_emulator/*`: test-only controls. No authentication, never logged, never under `/api/v1`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use chrono::TimeDelta;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiResult, CloudError};
use crate::faults::{Fault, FaultSpec};
use crate::server::App;
use crate::state::{Membership, User, World};
use crate::views;

pub fn router() -> Router<App> {
    Router::new()
        .route("/reset", post(reset))
        .route("/requests", get(requests).delete(clear_requests))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/invitations/{token}/accept", post(accept_invitation))
        .route("/clock", get(clock).post(advance_clock))
        .route("/state", get(state))
}

fn bad_request(message: impl Into<String>) -> CloudError {
    CloudError::bad_request("emulator.invalid_request", message)
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("Invalid request body: {e}")))
}

/// Back to the configured seed: state, request log, faults and clock.
async fn reset(State(app): State<App>) -> ApiResult<Json<Value>> {
    let fresh = World::build(&app.config)
        .map_err(|e| CloudError::new(StatusCode::INTERNAL_SERVER_ERROR, "emulator.seed", e))?;
    *app.world() = fresh;
    Ok(Json(json!({})))
}

async fn requests(State(app): State<App>) -> Json<Value> {
    Json(json!({"requests": app.world().requests}))
}

async fn clear_requests(State(app): State<App>) -> Json<Value> {
    app.world().requests.clear();
    Json(json!({}))
}

async fn list_faults(State(app): State<App>) -> Json<Value> {
    Json(json!({"faults": app.world().faults}))
}

async fn add_fault(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let spec: FaultSpec = parse(&body)?;
    spec.validate().map_err(bad_request)?;
    let mut world = app.world();
    let id = world.faults.iter().map(|f| f.id).max().unwrap_or(0) + 1;
    world.faults.push(Fault {
        id,
        remaining: spec.count,
        spec,
    });
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

async fn clear_faults(State(app): State<App>) -> Json<Value> {
    app.world().faults.clear();
    Json(json!({}))
}

/// Plays the invitee: the user with the invitation's email (created if unknown) becomes a
/// member holding the invitation's role assignments.
async fn accept_invitation(
    State(app): State<App>,
    Path(token): Path<String>,
) -> ApiResult<Json<Value>> {
    let mut world = app.world();
    let now = world.now();
    let Some(index) = world.invitations.iter().position(|i| i.token == token) else {
        return Err(CloudError::not_found(
            "organization.invitation_not_found",
            format!("Invitation [{token}] not found."),
        ));
    };
    let invitation = world.invitations[index].clone();
    if invitation.accepted_at.is_some() {
        return Err(CloudError::new(
            StatusCode::CONFLICT,
            "emulator.invitation_already_accepted",
            "The invitation was already accepted.",
        ));
    }
    if invitation.is_expired(now) {
        return Err(CloudError::bad_request(
            "emulator.invitation_expired",
            "The invitation has expired.",
        ));
    }
    let existing = world
        .users
        .values()
        .find(|u| u.email.eq_ignore_ascii_case(&invitation.email))
        .map(|u| u.user_id.clone());
    let user_id = match existing {
        Some(id) => id,
        None => {
            let id = world.next_user_id();
            let name = invitation.email.split('@').next().map(str::to_owned);
            world.users.insert(
                id.clone(),
                User {
                    user_id: id.clone(),
                    email: invitation.email.clone(),
                    name,
                    membership: None,
                },
            );
            id
        }
    };
    world.invitations[index].accepted_at = Some(now);
    let organization_id = world.organization_id().to_owned();
    let Some(user) = world.users.get_mut(&user_id) else {
        return Err(CloudError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "emulator.internal",
            "user vanished",
        ));
    };
    let membership = user.membership.get_or_insert_with(|| Membership {
        member_since: now,
        role_assignments: Default::default(),
    });
    membership
        .role_assignments
        .add(&invitation.role_assignments);
    let user = user.clone();
    let member = user
        .membership
        .as_ref()
        .map(|m| views::member(&organization_id, &user, m))
        .unwrap_or_default();
    Ok(Json(member))
}

fn clock_json(world: &World) -> Value {
    json!({
        "now": views::timestamp(world.now()),
        "offset_seconds": world.clock_offset.num_seconds(),
    })
}

async fn clock(State(app): State<App>) -> Json<Value> {
    Json(clock_json(&app.world()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceClock {
    advance_seconds: i64,
}

async fn advance_clock(State(app): State<App>, body: Bytes) -> ApiResult<Json<Value>> {
    let request: AdvanceClock = parse(&body)?;
    let delta = TimeDelta::try_seconds(request.advance_seconds)
        .filter(|d| *d >= TimeDelta::zero())
        .ok_or_else(|| bad_request("advance_seconds must be a non-negative number of seconds"))?;
    let mut world = app.world();
    world.clock_offset += delta;
    Ok(Json(clock_json(&world)))
}

/// Everything except key secrets, for debugging a failing test.
async fn state(State(app): State<App>) -> Json<Value> {
    let world = app.world();
    Json(json!({
        "organization": world.organization,
        "other_organizations": world.other_organizations,
        "users": world.users.values().collect::<Vec<_>>(),
        "api_keys": world.keys,
        "invitations": world.invitations,
        "deployments": world.deployments,
        "projects": world.projects,
        "clock": clock_json(&world),
    }))
}
