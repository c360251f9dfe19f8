//! Organizations, members and invitations.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{parse_body, split_csv};
use crate::auth::Caller;
use crate::error::{ApiResult, CloudError};
use crate::roles::{RoleAssignments, RoleError};
use crate::server::App;
use crate::state::{DEFAULT_INVITATION_LIFETIME, Invitation, World};
use crate::views;

/// The keys only ever belong to the emulated organization; any other known organization is
/// someone else's (403), anything else does not exist (404).
fn check_organization(world: &World, caller: &Caller, id: &str) -> ApiResult<()> {
    if id == world.organization_id() && caller.organization_id == id {
        Ok(())
    } else if id == world.organization_id() || world.other_organizations.iter().any(|o| o.id == id)
    {
        Err(CloudError::organization_invalid_access(id))
    } else {
        Err(CloudError::organization_not_found(id))
    }
}

fn require_owner(caller: &Caller) -> ApiResult<()> {
    if caller.is_organization_admin() {
        Ok(())
    } else {
        Err(CloudError::not_organization_owner())
    }
}

pub async fn list(State(app): State<App>, Extension(caller): Extension<Caller>) -> Json<Value> {
    let world = app.world();
    let organizations: Vec<Value> = if caller.organization_id == world.organization_id() {
        vec![views::organization(&world.organization)]
    } else {
        Vec::new()
    };
    Json(json!({"organizations": organizations}))
}

pub async fn get(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(organization_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let world = app.world();
    check_organization(&world, &caller, &organization_id)?;
    Ok(Json(views::organization(&world.organization)))
}

pub async fn list_members(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(organization_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let world = app.world();
    check_organization(&world, &caller, &organization_id)?;
    let members: Vec<Value> = world
        .users
        .values()
        .filter_map(|u| {
            u.membership
                .as_ref()
                .map(|m| views::member(world.organization_id(), u, m))
        })
        .collect();
    Ok(Json(json!({"members": members})))
}

/// All-or-nothing: every id must name a current member before any is removed.
pub async fn delete_members(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path((organization_id, user_ids)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let mut world = app.world();
    check_organization(&world, &caller, &organization_id)?;
    require_owner(&caller)?;
    let ids = split_csv(&user_ids);
    if ids.is_empty() {
        return Err(CloudError::invalid_data("No valid user id was supplied."));
    }
    for id in &ids {
        match world.users.get(id) {
            None => {
                return Err(CloudError::not_found(
                    "user.not_found",
                    format!("User [{id}] not found."),
                ));
            }
            Some(u) if u.membership.is_none() => {
                return Err(CloudError::not_found(
                    "organization.membership_not_found",
                    format!("User [{id}] is not a member of organization [{organization_id}]."),
                ));
            }
            Some(_) => {}
        }
    }
    for id in &ids {
        if let Some(u) = world.users.get_mut(id) {
            u.membership = None;
        }
    }
    Ok(Json(json!({})))
}

pub async fn list_invitations(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(organization_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let world = app.world();
    check_organization(&world, &caller, &organization_id)?;
    let now = world.now();
    let invitations: Vec<Value> = world
        .invitations
        .iter()
        .map(|i| views::invitation(i, &world.organization, now))
        .collect();
    Ok(Json(json!({"invitations": invitations})))
}

#[derive(Deserialize)]
struct InvitationRequest {
    emails: Vec<String>,
    #[serde(default)]
    expires_in: Option<String>,
    #[serde(default)]
    role_assignments: Option<RoleAssignments>,
}

/// Plausible address: one `@`, a non-empty local part, a dotted domain, no whitespace.
fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

/// `expires_in` in whole days (`"3d"`, `"7d"`): the only form any public client sends
/// (elastic/terraform-provider-ec `ec/ecresource/organizationresource/create.go` sends `"7d"`;
/// elastic/cloud-sdk-go's tests and Elastic's agent skills `"3d"`). Seconds, hours or an instant
/// are not evidenced, so they are refused.
fn expiry(expires_in: Option<&str>, now: DateTime<Utc>) -> ApiResult<DateTime<Utc>> {
    let Some(text) = expires_in else {
        return Ok(now + DEFAULT_INVITATION_LIFETIME);
    };
    let days = text
        .strip_suffix('d')
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|d| *d > 0)
        .and_then(chrono::TimeDelta::try_days);
    match days {
        Some(delta) => Ok(now + delta),
        None => Err(CloudError::invalid_data(format!(
            "Invalid expires_in [{text}]: expected a number of days such as 3d."
        ))),
    }
}

pub async fn create_invitations(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(organization_id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let mut world = app.world();
    check_organization(&world, &caller, &organization_id)?;
    require_owner(&caller)?;
    let request: InvitationRequest = parse_body(&body).map_err(CloudError::invalid_data)?;
    let now = world.now();

    let mut emails: Vec<String> = Vec::new();
    for email in &request.emails {
        let email = email.trim();
        if !is_valid_email(email) {
            return Err(CloudError::bad_request(
                "organization.invitation_invalid_email",
                format!("The email [{email}] is invalid."),
            ));
        }
        if !emails.iter().any(|e| e.eq_ignore_ascii_case(email)) {
            emails.push(email.to_owned());
        }
    }
    if emails.is_empty() {
        return Err(CloudError::bad_request(
            "organization.invitation_invalid_email",
            "At least one email is required.",
        ));
    }
    for email in &emails {
        if world.member_by_email(email).is_some() {
            return Err(CloudError::bad_request(
                "organization.user_organization_already_belongs",
                format!("The user [{email}] already belongs to the organization."),
            ));
        }
        if world
            .invitations
            .iter()
            .any(|i| i.email.eq_ignore_ascii_case(email) && i.is_pending(now))
        {
            return Err(CloudError::bad_request(
                "organization.invitation_already_exists",
                format!("An invitation for [{email}] already exists."),
            ));
        }
    }
    let expires_at = expiry(request.expires_in.as_deref(), now)?;
    let role_assignments = request.role_assignments.unwrap_or_default();
    role_assignments
        .validate(world.organization_id())
        .map_err(|e| match e {
            RoleError::Invalid(m) => CloudError::invalid_data(m),
            RoleError::NotPermitted(m) => CloudError::new(
                StatusCode::FORBIDDEN,
                "role_assignments.unauthorized_role_assignments",
                m,
            ),
        })?;
    let role_assignments = role_assignments.normalized(world.organization_id());

    let mut created = Vec::new();
    for email in emails {
        let invitation = Invitation {
            token: uuid::Uuid::new_v4().simple().to_string(),
            email,
            created_at: now,
            expires_at,
            accepted_at: None,
            role_assignments: role_assignments.clone(),
        };
        created.push(views::invitation(&invitation, &world.organization, now));
        world.invitations.push(invitation);
    }
    Ok((StatusCode::CREATED, Json(json!({"invitations": created}))).into_response())
}

/// All-or-nothing, like member deletion.
pub async fn delete_invitations(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path((organization_id, tokens)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let mut world = app.world();
    check_organization(&world, &caller, &organization_id)?;
    require_owner(&caller)?;
    let tokens = split_csv(&tokens);
    if tokens.is_empty() {
        return Err(CloudError::invalid_data(
            "No valid invitation token was supplied.",
        ));
    }
    if let Some(missing) = tokens
        .iter()
        .find(|t| !world.invitations.iter().any(|i| &i.token == *t))
    {
        return Err(CloudError::not_found(
            "organization.invitation_not_found",
            format!("Invitation [{missing}] not found."),
        ));
    }
    world.invitations.retain(|i| !tokens.contains(&i.token));
    Ok(Json(json!({})))
}
