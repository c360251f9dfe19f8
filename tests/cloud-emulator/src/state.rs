//! The emulated organization in memory, built from the configuration and seed (again on reset).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::CloudConfig;
use crate::faults::Fault;
use crate::roles::RoleAssignments;
use crate::seed::{Seed, SeedDeployment, SeedProject, Tag};

pub const OWNER_USER_ID: &str = "owner-1";
pub const OWNER_EMAIL: &str = "owner@example.com";
pub const OWNER_KEY_ID: &str = "owner-key";
const DEFAULT_ORGANIZATION_NAME: &str = "Emulated organization";
/// Elastic documents three days as the default invitation lifetime.
pub const DEFAULT_INVITATION_LIFETIME: TimeDelta = TimeDelta::days(3);

#[derive(Clone, Debug, Serialize)]
pub struct Organization {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct User {
    pub user_id: String,
    pub email: String,
    pub name: Option<String>,
    /// `None` once the user has left (or was never in) the organization.
    pub membership: Option<Membership>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Membership {
    pub member_since: DateTime<Utc>,
    pub role_assignments: RoleAssignments,
}

#[derive(Clone, Debug, Serialize)]
pub struct ApiKey {
    pub id: String,
    pub description: String,
    #[serde(skip)]
    pub secret: String,
    pub user_id: String,
    pub organization_id: String,
    pub creation_date: DateTime<Utc>,
    pub expiration_date: Option<DateTime<Utc>>,
    pub role_assignments: RoleAssignments,
    /// The key that created this one through the API (none for seeded keys): a Workload
    /// credentials owner key manages only the keys it created.
    #[serde(skip)]
    pub created_by: Option<String>,
}

impl ApiKey {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expiration_date.is_some_and(|at| at <= now)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Invitation {
    pub token: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub role_assignments: RoleAssignments,
}

impl Invitation {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }

    /// Pending: neither accepted nor expired; only pending invitations block a new one.
    pub fn is_pending(&self, now: DateTime<Utc>) -> bool {
        self.accepted_at.is_none() && !self.is_expired(now)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Deployment {
    pub id: String,
    pub name: String,
    pub alias: String,
    pub region: String,
    pub version: String,
    pub tags: Vec<Tag>,
    pub healthy: bool,
    pub elasticsearch_id: String,
    pub kibana_id: String,
    pub service_url: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub alias: String,
    pub region_id: String,
    pub optimized_for: String,
    pub tags: Vec<Tag>,
    pub elasticsearch_endpoint: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// One line of the request log exposed at `GET /_emulator/requests`.
#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub principal: Option<String>,
    pub api_key_id: Option<String>,
    /// 0 when the connection was dropped by an injected fault (no status was ever sent).
    pub status: u16,
    pub dropped: bool,
}

#[derive(Debug)]
pub struct World {
    pub organization: Organization,
    pub other_organizations: Vec<Organization>,
    pub users: BTreeMap<String, User>,
    pub keys: Vec<ApiKey>,
    pub invitations: Vec<Invitation>,
    pub deployments: Vec<Deployment>,
    pub projects: Vec<Project>,
    pub requests: Vec<RequestRecord>,
    pub faults: Vec<Fault>,
    /// Added to the wall clock so tests can expire keys and invitations without sleeping.
    pub clock_offset: TimeDelta,
    next_user_number: u64,
}

impl World {
    /// Builds the initial world; fails on a seed that contradicts itself.
    pub fn build(config: &CloudConfig) -> Result<Self, String> {
        let now = Utc::now();
        let empty = Seed::default();
        let seed = config.seed.as_ref().unwrap_or(&empty);
        let org_id = config.organization_id.clone();
        let organization = Organization {
            id: org_id.clone(),
            name: seed
                .organization_name
                .clone()
                .unwrap_or_else(|| DEFAULT_ORGANIZATION_NAME.to_owned()),
        };
        let mut world = World {
            organization,
            other_organizations: seed
                .other_organizations
                .iter()
                .map(|o| Organization {
                    id: o.id.clone(),
                    name: o.name.clone().unwrap_or_else(|| o.id.clone()),
                })
                .collect(),
            users: BTreeMap::new(),
            keys: Vec::new(),
            invitations: Vec::new(),
            deployments: Vec::new(),
            projects: Vec::new(),
            requests: Vec::new(),
            faults: Vec::new(),
            clock_offset: TimeDelta::zero(),
            next_user_number: 1_000_000_001,
        };

        let owner_roles = {
            let mut roles = RoleAssignments::organization_admin(&org_id);
            if let Some(o) = &seed.owner {
                roles.add(&o.role_assignments.clone().normalized(&org_id));
            }
            roles
        };
        let owner = User {
            user_id: seed
                .owner
                .as_ref()
                .map_or_else(|| OWNER_USER_ID.to_owned(), |o| o.user_id.clone()),
            email: seed
                .owner
                .as_ref()
                .map_or_else(|| OWNER_EMAIL.to_owned(), |o| o.email.clone()),
            name: Some(
                seed.owner
                    .as_ref()
                    .and_then(|o| o.name.clone())
                    .unwrap_or_else(|| "Organization Owner".to_owned()),
            ),
            membership: Some(Membership {
                member_since: seed
                    .owner
                    .as_ref()
                    .and_then(|o| o.member_since)
                    .unwrap_or(now),
                role_assignments: owner_roles.clone(),
            }),
        };
        let owner_id = owner.user_id.clone();
        world.users.insert(owner_id.clone(), owner);
        world.keys.push(ApiKey {
            created_by: None,
            id: OWNER_KEY_ID.to_owned(),
            description: "organization owner key (--api-key)".to_owned(),
            secret: config.api_key.clone(),
            user_id: owner_id.clone(),
            organization_id: org_id.clone(),
            creation_date: now,
            expiration_date: None,
            role_assignments: RoleAssignments::organization_admin(&org_id),
        });

        for u in &seed.users {
            if world.users.contains_key(&u.user_id) {
                return Err(format!("seed: duplicate user_id [{}]", u.user_id));
            }
            let roles = u.role_assignments.clone().normalized(&org_id);
            world.users.insert(
                u.user_id.clone(),
                User {
                    user_id: u.user_id.clone(),
                    email: u.email.clone(),
                    name: u.name.clone(),
                    membership: u.member.then(|| Membership {
                        member_since: u.member_since.unwrap_or(now),
                        role_assignments: roles,
                    }),
                },
            );
        }

        for (i, k) in seed.api_keys.iter().enumerate() {
            let user_id = k.user_id.clone().unwrap_or_else(|| owner_id.clone());
            let Some(user) = world.users.get(&user_id) else {
                return Err(format!(
                    "seed: api_keys[{i}] names unknown user [{user_id}]"
                ));
            };
            if world.keys.iter().any(|existing| existing.secret == k.key) {
                return Err(format!("seed: api_keys[{i}] repeats another key's secret"));
            }
            let role_assignments = match &k.role_assignments {
                Some(r) => r.clone().normalized(&org_id),
                None => user
                    .membership
                    .as_ref()
                    .map(|m| m.role_assignments.clone())
                    .unwrap_or_default(),
            };
            world.keys.push(ApiKey {
                created_by: None,
                id: k
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("seed-key-{}", i + 1)),
                description: k
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("seeded key {}", i + 1)),
                secret: k.key.clone(),
                user_id,
                organization_id: org_id.clone(),
                creation_date: k.creation_date.unwrap_or(now),
                expiration_date: k.expiration_date,
                role_assignments,
            });
        }

        world.deployments = seed.deployments.iter().map(resolve_deployment).collect();
        world.projects = seed
            .projects
            .iter()
            .map(|p| resolve_project(p, &owner_id, now))
            .collect();

        for (i, inv) in seed.invitations.iter().enumerate() {
            let created_at = inv.created_at.unwrap_or(now);
            world.invitations.push(Invitation {
                token: inv
                    .token
                    .clone()
                    .unwrap_or_else(|| format!("seed-invitation-{}", i + 1)),
                email: inv.email.clone(),
                created_at,
                expires_at: inv
                    .expires_at
                    .unwrap_or(created_at + DEFAULT_INVITATION_LIFETIME),
                accepted_at: inv.accepted_at,
                role_assignments: inv.role_assignments.clone().normalized(&org_id),
            });
        }
        Ok(world)
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    pub fn organization_id(&self) -> &str {
        &self.organization.id
    }

    pub fn member_by_email(&self, email: &str) -> Option<&User> {
        self.users
            .values()
            .find(|u| u.membership.is_some() && u.email.eq_ignore_ascii_case(email))
    }

    /// Numeric ids, like Elastic Cloud's, for users created by accepting an invitation.
    pub fn next_user_id(&mut self) -> String {
        loop {
            let id = self.next_user_number.to_string();
            self.next_user_number += 1;
            if !self.users.contains_key(&id) {
                return id;
            }
        }
    }
}

/// 32 hex characters derived from a name, so seeded ids are stable across restarts and resets.
pub fn stable_hex_id(seed: &str) -> String {
    // FNV-1a, twice with different offsets: no cryptographic need, only determinism.
    let fnv = |offset: u64| {
        seed.bytes().fold(offset, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x8422_2325_cbf2_9ce4)
    )
}

fn alias_from(name: &str) -> String {
    let alias: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    alias.trim_matches('-').to_owned()
}

fn resolve_deployment(d: &SeedDeployment) -> Deployment {
    let id = d.id.clone().unwrap_or_else(|| stable_hex_id(&d.name));
    Deployment {
        elasticsearch_id: stable_hex_id(&format!("{id}/elasticsearch")),
        kibana_id: stable_hex_id(&format!("{id}/kibana")),
        id,
        name: d.name.clone(),
        alias: d.alias.clone().unwrap_or_else(|| alias_from(&d.name)),
        region: d
            .region
            .clone()
            .unwrap_or_else(|| "gcp-us-central1".to_owned()),
        version: d.version.clone().unwrap_or_else(|| "8.17.0".to_owned()),
        tags: d.tags.clone(),
        healthy: d.healthy,
        service_url: d.service_url.clone(),
    }
}

fn resolve_project(p: &SeedProject, owner_id: &str, now: DateTime<Utc>) -> Project {
    Project {
        id: p.id.clone().unwrap_or_else(|| stable_hex_id(&p.name)),
        name: p.name.clone(),
        alias: p.alias.clone().unwrap_or_else(|| alias_from(&p.name)),
        region_id: p
            .region_id
            .clone()
            .unwrap_or_else(|| "aws-us-east-1".to_owned()),
        optimized_for: p
            .optimized_for
            .clone()
            .unwrap_or_else(|| "general_purpose".to_owned()),
        tags: p.tags.clone(),
        elasticsearch_endpoint: p.elasticsearch_endpoint.clone(),
        created_at: p.created_at.unwrap_or(now),
        created_by: owner_id.to_owned(),
    }
}
