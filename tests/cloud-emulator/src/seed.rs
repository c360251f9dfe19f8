//! The seed file: who and what exists when the emulator starts (and after every reset).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::roles::RoleAssignments;

/// Everything is optional: an empty seed yields the organization, its owner and the owner's key.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Display name of the emulated organization (default "Emulated organization").
    #[serde(default)]
    pub organization_name: Option<String>,
    /// Replaces the default owner identity (`owner-1`, `owner@example.com`); the owner always
    /// holds `organization-admin` whatever is given here.
    #[serde(default)]
    pub owner: Option<SeedUser>,
    /// Organizations that exist but the emulated keys may not see: requests for them get 403
    /// `organization.invalid_access` instead of 404 `organization.not_found`.
    #[serde(default)]
    pub other_organizations: Vec<SeedOrganization>,
    #[serde(default)]
    pub users: Vec<SeedUser>,
    #[serde(default)]
    pub api_keys: Vec<SeedApiKey>,
    #[serde(default)]
    pub deployments: Vec<SeedDeployment>,
    #[serde(default)]
    pub projects: Vec<SeedProject>,
    #[serde(default)]
    pub invitations: Vec<SeedInvitation>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedOrganization {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub user_id: String,
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    /// False for a user who exists in Elastic Cloud but is not (or no longer) a member.
    #[serde(default = "yes")]
    pub member: bool,
    #[serde(default)]
    pub member_since: Option<DateTime<Utc>>,
    /// `organization_id` may be left out of each entry; the emulated organization is assumed.
    #[serde(default)]
    pub role_assignments: RoleAssignments,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedApiKey {
    #[serde(default)]
    pub id: Option<String>,
    /// The secret sent as `Authorization: ApiKey <key>`.
    pub key: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Defaults to the owner.
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub creation_date: Option<DateTime<Utc>>,
    #[serde(default)]
    pub expiration_date: Option<DateTime<Utc>>,
    /// Defaults to the role assignments of the key's user.
    #[serde(default)]
    pub role_assignments: Option<RoleAssignments>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDeployment {
    /// Defaults to 32 hex characters derived from the name (stable across resets).
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default = "yes")]
    pub healthy: bool,
    /// Overrides the Elasticsearch `service_url` (e.g. to point at the Elasticsearch emulator).
    #[serde(default)]
    pub service_url: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedProject {
    /// Defaults to 32 lowercase hex characters derived from the name.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub region_id: Option<String>,
    #[serde(default)]
    pub optimized_for: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Overrides `endpoints.elasticsearch`.
    #[serde(default)]
    pub elasticsearch_endpoint: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedInvitation {
    #[serde(default)]
    pub token: Option<String>,
    pub email: String,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Defaults to three days after `created_at`.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub accepted_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub role_assignments: RoleAssignments,
}

fn yes() -> bool {
    true
}

impl Seed {
    /// Parses a seed from JSON text.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}
