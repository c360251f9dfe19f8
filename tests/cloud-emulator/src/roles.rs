//! The `RoleAssignments` shape of the Elastic Cloud API, its validation, and the add/remove
//! merge rules the emulator applies to members and API keys.

use serde::{Deserialize, Serialize};

/// Role ids accepted per category (from the Terraform provider's schema, the maintained client).
pub const ORGANIZATION_ROLES: &[&str] = &[
    "organization-admin",
    "billing-admin",
    WORKLOAD_CREDENTIALS_OWNER,
];
pub const DEPLOYMENT_ROLES: &[&str] =
    &["deployment-admin", "deployment-editor", "deployment-viewer"];
pub const ELASTICSEARCH_PROJECT_ROLES: &[&str] = &[
    "elasticsearch-admin",
    "elasticsearch-developer",
    "elasticsearch-viewer",
];
pub const OBSERVABILITY_PROJECT_ROLES: &[&str] = &[
    "observability-admin",
    "observability-editor",
    "observability-viewer",
];
pub const SECURITY_PROJECT_ROLES: &[&str] = &[
    "security-admin",
    "security-editor",
    "security-viewer",
    "security-t1-analyst",
    "security-t2-analyst",
    "security-t3-analyst",
    "security-threat-intel-analyst",
    "security-rule-author",
    "security-soc-manager",
    "security-endpoint-operations-analyst",
    "security-platform-engineer",
    "security-detections-admin",
    "security-endpoint-policy-manager",
];

pub const ORGANIZATION_ADMIN: &str = "organization-admin";
/// Elastic's "Workload credentials owner" organization role (Elastic Cloud docs, 2026): creates
/// API keys and lists or revokes its own, without being an Organization owner. The role id is
/// the emulator's own spelling: no public client names it yet.
pub const WORKLOAD_CREDENTIALS_OWNER: &str = "workload-credentials-owner";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleAssignments {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platform: Vec<PlatformRoleAssignment>,
    #[serde(default)]
    pub organization: Vec<OrganizationRoleAssignment>,
    #[serde(default)]
    pub deployment: Vec<DeploymentRoleAssignment>,
    #[serde(default)]
    pub project: ProjectRoleAssignments,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRoleAssignments {
    #[serde(default)]
    pub elasticsearch: Vec<ProjectRoleAssignment>,
    #[serde(default)]
    pub observability: Vec<ProjectRoleAssignment>,
    #[serde(default)]
    pub security: Vec<ProjectRoleAssignment>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformRoleAssignment {
    pub role_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationRoleAssignment {
    pub role_id: String,
    // Defaulted so a missing id reaches validation (a precise message) instead of a parse error.
    #[serde(default)]
    pub organization_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentRoleAssignment {
    pub role_id: String,
    #[serde(default)]
    pub organization_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_roles: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRoleAssignment {
    pub role_id: String,
    #[serde(default)]
    pub organization_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_roles: Option<Vec<String>>,
}

/// Why a `RoleAssignments` body was refused; each endpoint maps this to its own error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    /// Malformed: unknown role id, missing organization id, the `all`/ids rule broken.
    #[error("{0}")]
    Invalid(String),
    /// Well-formed but outside what an organization owner may grant (another organization,
    /// platform roles).
    #[error("{0}")]
    NotPermitted(String),
}

/// Deployment and project entries share the `all` / ids rule and the merge rules; this trait lets
/// one implementation serve both despite their differently named id lists.
trait Scoped {
    fn role_id(&self) -> &str;
    fn organization_id(&self) -> &str;
    fn set_organization_id(&mut self, organization_id: &str);
    fn all_flag(&self) -> Option<bool>;
    fn set_all(&mut self, all: bool);
    fn ids(&self) -> Option<&Vec<String>>;
    fn ids_mut(&mut self) -> &mut Option<Vec<String>>;
    fn application_roles_mut(&mut self) -> &mut Option<Vec<String>>;
    fn application_roles(&self) -> Option<&Vec<String>>;
    const IDS_FIELD: &'static str;
}

macro_rules! impl_scoped {
    ($ty:ty, $ids:ident) => {
        impl Scoped for $ty {
            fn role_id(&self) -> &str {
                &self.role_id
            }
            fn organization_id(&self) -> &str {
                &self.organization_id
            }
            fn set_organization_id(&mut self, organization_id: &str) {
                self.organization_id = organization_id.to_owned();
            }
            fn all_flag(&self) -> Option<bool> {
                self.all
            }
            fn set_all(&mut self, all: bool) {
                self.all = Some(all);
            }
            fn ids(&self) -> Option<&Vec<String>> {
                self.$ids.as_ref()
            }
            fn ids_mut(&mut self) -> &mut Option<Vec<String>> {
                &mut self.$ids
            }
            fn application_roles_mut(&mut self) -> &mut Option<Vec<String>> {
                &mut self.application_roles
            }
            fn application_roles(&self) -> Option<&Vec<String>> {
                self.application_roles.as_ref()
            }
            const IDS_FIELD: &'static str = stringify!($ids);
        }
    };
}

impl_scoped!(DeploymentRoleAssignment, deployment_ids);
impl_scoped!(ProjectRoleAssignment, project_ids);

impl RoleAssignments {
    /// An assignment set holding only `organization-admin` on `organization_id`.
    pub fn organization_admin(organization_id: &str) -> Self {
        Self {
            organization: vec![OrganizationRoleAssignment {
                role_id: ORGANIZATION_ADMIN.to_owned(),
                organization_id: organization_id.to_owned(),
            }],
            ..Self::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.platform.is_empty()
            && self.organization.is_empty()
            && self.deployment.is_empty()
            && self.project.elasticsearch.is_empty()
            && self.project.observability.is_empty()
            && self.project.security.is_empty()
    }

    pub fn is_organization_admin(&self, organization_id: &str) -> bool {
        self.organization
            .iter()
            .any(|a| a.role_id == ORGANIZATION_ADMIN && a.organization_id == organization_id)
    }

    pub fn is_workload_credentials_owner(&self, organization_id: &str) -> bool {
        self.organization.iter().any(|a| {
            a.role_id == WORKLOAD_CREDENTIALS_OWNER && a.organization_id == organization_id
        })
    }

    /// Whether these assignments let their holder see a deployment (owners see everything).
    pub fn can_see_deployment(&self, organization_id: &str, deployment_id: &str) -> bool {
        self.is_organization_admin(organization_id)
            || covers(&self.deployment, organization_id, deployment_id)
    }

    /// Whether these assignments let their holder see a serverless Elasticsearch project.
    pub fn can_see_elasticsearch_project(&self, organization_id: &str, project_id: &str) -> bool {
        self.is_organization_admin(organization_id)
            || covers(&self.project.elasticsearch, organization_id, project_id)
    }

    /// Checks every entry against the documented rules for an organization owner acting in
    /// `organization_id`.
    pub fn validate(&self, organization_id: &str) -> Result<(), RoleError> {
        if let Some(p) = self.platform.first() {
            return Err(RoleError::NotPermitted(format!(
                "platform role [{}] cannot be assigned by an organization",
                p.role_id
            )));
        }
        for (i, a) in self.organization.iter().enumerate() {
            let at = format!("organization[{i}]");
            check_role(&at, &a.role_id, ORGANIZATION_ROLES)?;
            check_organization(&at, &a.organization_id, organization_id)?;
        }
        validate_scoped(
            "deployment",
            &self.deployment,
            DEPLOYMENT_ROLES,
            organization_id,
        )?;
        validate_scoped(
            "project.elasticsearch",
            &self.project.elasticsearch,
            ELASTICSEARCH_PROJECT_ROLES,
            organization_id,
        )?;
        validate_scoped(
            "project.observability",
            &self.project.observability,
            OBSERVABILITY_PROJECT_ROLES,
            organization_id,
        )?;
        validate_scoped(
            "project.security",
            &self.project.security,
            SECURITY_PROJECT_ROLES,
            organization_id,
        )
    }

    /// Adds `other` to `self`. Idempotent: an entry already present changes nothing; an entry for
    /// a role already held on some ids extends that entry's id list instead of adding a second one.
    pub fn add(&mut self, other: &RoleAssignments) {
        for a in &other.organization {
            if !self.organization.contains(a) {
                self.organization.push(a.clone());
            }
        }
        add_scoped(&mut self.deployment, &other.deployment);
        add_scoped(
            &mut self.project.elasticsearch,
            &other.project.elasticsearch,
        );
        add_scoped(
            &mut self.project.observability,
            &other.project.observability,
        );
        add_scoped(&mut self.project.security, &other.project.security);
    }

    /// Removes `other` from `self`. An `all: true` entry removes only the holder's `all: true`
    /// entry for that role; an entry with ids removes exactly those ids from the holder's id-list
    /// entry for that role, dropping the entry when no id is left. Absent assignments are ignored.
    pub fn remove(&mut self, other: &RoleAssignments) {
        self.organization
            .retain(|a| !other.organization.contains(a));
        remove_scoped(&mut self.deployment, &other.deployment);
        remove_scoped(
            &mut self.project.elasticsearch,
            &other.project.elasticsearch,
        );
        remove_scoped(
            &mut self.project.observability,
            &other.project.observability,
        );
        remove_scoped(&mut self.project.security, &other.project.security);
    }

    /// Fills in a missing `organization_id` (seed files may leave it out) and the implicit
    /// `all: false`, so stored assignments always have the full documented shape.
    pub fn normalized(mut self, organization_id: &str) -> Self {
        for a in &mut self.organization {
            if a.organization_id.is_empty() {
                a.organization_id = organization_id.to_owned();
            }
        }
        normalize_scoped(&mut self.deployment, organization_id);
        normalize_scoped(&mut self.project.elasticsearch, organization_id);
        normalize_scoped(&mut self.project.observability, organization_id);
        normalize_scoped(&mut self.project.security, organization_id);
        self
    }
}

fn covers<T: Scoped>(entries: &[T], organization_id: &str, id: &str) -> bool {
    entries.iter().any(|e| {
        e.organization_id() == organization_id
            && (e.all_flag() == Some(true)
                || e.ids().is_some_and(|ids| ids.iter().any(|i| i == id)))
    })
}

fn check_role(at: &str, role_id: &str, allowed: &[&str]) -> Result<(), RoleError> {
    if allowed.contains(&role_id) {
        Ok(())
    } else {
        Err(RoleError::Invalid(format!(
            "{at}: role_id [{role_id}] is not valid here (expected one of: {})",
            allowed.join(", ")
        )))
    }
}

fn check_organization(at: &str, given: &str, expected: &str) -> Result<(), RoleError> {
    if given.is_empty() {
        Err(RoleError::Invalid(format!(
            "{at}: organization_id is required"
        )))
    } else if given != expected {
        Err(RoleError::NotPermitted(format!(
            "{at}: organization_id [{given}] is not this organization"
        )))
    } else {
        Ok(())
    }
}

fn validate_scoped<T: Scoped>(
    category: &str,
    entries: &[T],
    allowed: &[&str],
    organization_id: &str,
) -> Result<(), RoleError> {
    for (i, e) in entries.iter().enumerate() {
        let at = format!("{category}[{i}]");
        check_role(&at, e.role_id(), allowed)?;
        check_organization(&at, e.organization_id(), organization_id)?;
        let all = e.all_flag().unwrap_or(false);
        let field = T::IDS_FIELD;
        match (all, e.ids()) {
            (true, Some(_)) => {
                return Err(RoleError::Invalid(format!(
                    "{at}: {field} must be absent when all is true"
                )));
            }
            (false, None) => {
                return Err(RoleError::Invalid(format!(
                    "{at}: {field} must be present when all is false"
                )));
            }
            (false, Some(ids)) if ids.is_empty() || ids.iter().any(String::is_empty) => {
                return Err(RoleError::Invalid(format!(
                    "{at}: {field} must list at least one non-empty id"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

fn normalize_scoped<T: Scoped>(entries: &mut [T], organization_id: &str) {
    for e in entries {
        if e.all_flag().is_none() {
            e.set_all(false);
        }
        if e.organization_id().is_empty() {
            // Only reachable from seeds; the API refuses a missing organization_id.
            e.set_organization_id(organization_id);
        }
    }
}

fn merge_application_roles<T: Scoped>(into: &mut T, from: &T) {
    if let Some(extra) = from.application_roles() {
        let target = into.application_roles_mut().get_or_insert_with(Vec::new);
        for r in extra {
            if !target.contains(r) {
                target.push(r.clone());
            }
        }
    }
}

fn add_scoped<T: Scoped + Clone>(held: &mut Vec<T>, added: &[T]) {
    for new in added {
        let all = new.all_flag().unwrap_or(false);
        let existing = held
            .iter_mut()
            .find(|h| h.role_id() == new.role_id() && h.all_flag().unwrap_or(false) == all);
        match existing {
            Some(h) => {
                if !all {
                    let ids = h.ids_mut().get_or_insert_with(Vec::new);
                    for id in new.ids().into_iter().flatten() {
                        if !ids.contains(id) {
                            ids.push(id.clone());
                        }
                    }
                }
                merge_application_roles(h, new);
            }
            None => {
                let mut entry = new.clone();
                entry.set_all(all);
                held.push(entry);
            }
        }
    }
}

fn remove_scoped<T: Scoped>(held: &mut Vec<T>, removed: &[T]) {
    for gone in removed {
        if gone.all_flag().unwrap_or(false) {
            held.retain(|h| !(h.role_id() == gone.role_id() && h.all_flag() == Some(true)));
            continue;
        }
        let gone_ids = gone.ids().cloned().unwrap_or_default();
        for h in held.iter_mut() {
            if h.role_id() == gone.role_id()
                && h.all_flag() != Some(true)
                && let Some(ids) = h.ids_mut()
            {
                ids.retain(|id| !gone_ids.contains(id));
            }
        }
        held.retain(|h| h.all_flag() == Some(true) || h.ids().is_some_and(|ids| !ids.is_empty()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(role: &str, ids: &[&str]) -> RoleAssignments {
        RoleAssignments {
            deployment: vec![DeploymentRoleAssignment {
                role_id: role.into(),
                organization_id: "org".into(),
                all: Some(false),
                deployment_ids: Some(ids.iter().map(|s| s.to_string()).collect()),
                application_roles: None,
            }],
            ..RoleAssignments::default()
        }
    }

    #[test]
    fn add_is_idempotent_and_extends_id_lists() {
        let mut held = deployment("deployment-viewer", &["d1"]);
        held.add(&deployment("deployment-viewer", &["d1"]));
        assert_eq!(held, deployment("deployment-viewer", &["d1"]));
        held.add(&deployment("deployment-viewer", &["d2"]));
        assert_eq!(held, deployment("deployment-viewer", &["d1", "d2"]));
    }

    #[test]
    fn remove_takes_out_only_the_named_ids() {
        let mut held = deployment("deployment-viewer", &["d1", "d2"]);
        held.remove(&deployment("deployment-viewer", &["d1"]));
        assert_eq!(held, deployment("deployment-viewer", &["d2"]));
        held.remove(&deployment("deployment-editor", &["d2"]));
        assert_eq!(held, deployment("deployment-viewer", &["d2"]));
        held.remove(&deployment("deployment-viewer", &["d2"]));
        assert!(held.is_empty());
    }

    #[test]
    fn all_and_ids_are_mutually_exclusive() {
        let mut both = deployment("deployment-viewer", &["d1"]);
        both.deployment[0].all = Some(true);
        assert!(matches!(both.validate("org"), Err(RoleError::Invalid(_))));
        let mut neither = deployment("deployment-viewer", &["d1"]);
        neither.deployment[0].deployment_ids = None;
        assert!(matches!(
            neither.validate("org"),
            Err(RoleError::Invalid(_))
        ));
        assert!(matches!(
            deployment("deployment-viewer", &["d1"]).validate("other"),
            Err(RoleError::NotPermitted(_))
        ));
        assert_eq!(
            deployment("deployment-viewer", &["d1"]).validate("org"),
            Ok(())
        );
    }
}
