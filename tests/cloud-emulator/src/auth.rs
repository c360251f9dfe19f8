//! `Authorization: ApiKey <key>` authentication; nothing else is accepted.

use axum::http::{HeaderMap, header::AUTHORIZATION};
use chrono::{DateTime, Utc};

use crate::error::CloudError;
use crate::roles::RoleAssignments;
use crate::state::World;

pub const EXPIRATION_HEADER: &str = "x-elastic-api-key-expiration";

/// The authenticated key, attached to the request for the handlers.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: String,
    pub key_id: String,
    pub organization_id: String,
    pub role_assignments: RoleAssignments,
    pub expiration_date: Option<DateTime<Utc>>,
}

impl Caller {
    pub fn is_organization_admin(&self) -> bool {
        self.role_assignments
            .is_organization_admin(&self.organization_id)
    }

    pub fn is_workload_credentials_owner(&self) -> bool {
        self.role_assignments
            .is_workload_credentials_owner(&self.organization_id)
    }
}

pub fn authenticate(world: &World, headers: &HeaderMap) -> Result<Caller, CloudError> {
    let value = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(CloudError::unauthorized)?;
    let (scheme, secret) = value.split_once(' ').ok_or_else(CloudError::unauthorized)?;
    // Authentication schemes are case-insensitive (RFC 9110 §11.1).
    if !scheme.eq_ignore_ascii_case("ApiKey") {
        return Err(CloudError::unauthorized());
    }
    let secret = secret.trim();
    let now = world.now();
    let key = world
        .keys
        .iter()
        .find(|k| !secret.is_empty() && k.secret == secret)
        .filter(|k| !k.is_expired(now))
        .ok_or_else(CloudError::unauthorized)?;
    Ok(Caller {
        user_id: key.user_id.clone(),
        key_id: key.id.clone(),
        organization_id: key.organization_id.clone(),
        role_assignments: key.role_assignments.clone(),
        expiration_date: key.expiration_date,
    })
}
