//! Role assignments: the single assignments a grant is made of, their `RoleAssignments` bodies,
//! and what a member already holds.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::{CloudRoleScope, ResourceKind, TargetObject};

/// The one kind of resource a role of `scope` may be assigned on: deployment roles on
/// deployments, project roles on serverless projects, organization roles on the organization.
/// Anything else would send the Cloud API an id of the wrong kind (a deployment role "on" the
/// organization id), so it is refused before a request is stored.
pub fn applies_to(scope: CloudRoleScope) -> ResourceKind {
    match scope {
        CloudRoleScope::Organization => ResourceKind::Organization,
        CloudRoleScope::Deployment => ResourceKind::Deployment,
        CloudRoleScope::ElasticsearchProject => ResourceKind::ElasticsearchProject,
    }
}

/// How the kind is named in error messages.
pub fn kind_label(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Organization => "the organization",
        ResourceKind::Deployment => "deployments",
        ResourceKind::ElasticsearchProject => "serverless projects",
        ResourceKind::Index => "indices",
        ResourceKind::DataStream => "data streams",
        ResourceKind::Alias => "aliases",
    }
}

/// One role on one scope: what a grant adds and revoke removes, one per resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub role_id: String,
    pub scope: Scope,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Organization,
    Deployment(String),
    ElasticsearchProject(String),
}

impl Assignment {
    pub fn new(role_id: &str, scope: CloudRoleScope, resource: &str) -> Self {
        let scope = match scope {
            CloudRoleScope::Organization => Scope::Organization,
            CloudRoleScope::Deployment => Scope::Deployment(resource.to_string()),
            CloudRoleScope::ElasticsearchProject => {
                Scope::ElasticsearchProject(resource.to_string())
            }
        };
        Self {
            role_id: role_id.to_string(),
            scope,
        }
    }

    /// Rebuilt from what a grant recorded. A recorded resource id is a deployment or project id;
    /// which of the two follows from the role (the role ids of the categories are disjoint).
    pub fn from_recorded(role_id: &str, resource_id: Option<&str>) -> Self {
        let scope = match resource_id {
            None => Scope::Organization,
            Some(id) if role_id.starts_with("deployment-") => Scope::Deployment(id.to_string()),
            Some(id) => Scope::ElasticsearchProject(id.to_string()),
        };
        Self {
            role_id: role_id.to_string(),
            scope,
        }
    }

    pub fn resource_id(&self) -> Option<String> {
        match &self.scope {
            Scope::Organization => None,
            Scope::Deployment(id) | Scope::ElasticsearchProject(id) => Some(id.clone()),
        }
    }

    pub fn recorded_assignment(&self, user_id: &str) -> TargetObject {
        TargetObject::CloudRoleAssignment {
            user_id: user_id.to_string(),
            role_id: self.role_id.clone(),
            resource_id: self.resource_id(),
        }
    }

    pub fn recorded_invitation(&self, token: &str, email: &str) -> TargetObject {
        TargetObject::CloudInvitation {
            token: token.to_string(),
            email: email.to_string(),
            role_id: self.role_id.clone(),
            resource_id: self.resource_id(),
        }
    }

    /// The `RoleAssignments` body naming exactly this assignment (for add and remove).
    pub fn body(&self, organization_id: &str) -> Value {
        body(std::slice::from_ref(self), organization_id)
    }
}

/// A `RoleAssignments` body with every assignment: one entry per role, its ids merged, so an
/// invitation carries a multi-resource grant in one document.
pub fn body(assignments: &[Assignment], organization_id: &str) -> Value {
    let mut organization: Vec<Value> = Vec::new();
    let mut deployment: Vec<(String, Vec<String>)> = Vec::new();
    let mut project: Vec<(String, Vec<String>)> = Vec::new();
    fn push(list: &mut Vec<(String, Vec<String>)>, role: &str, id: &str) {
        match list.iter_mut().find(|(r, _)| r == role) {
            Some((_, ids)) if ids.iter().any(|i| i == id) => {}
            Some((_, ids)) => ids.push(id.to_string()),
            None => list.push((role.to_string(), vec![id.to_string()])),
        }
    }
    for a in assignments {
        match &a.scope {
            Scope::Organization => {
                let entry = json!({"role_id": a.role_id, "organization_id": organization_id});
                if !organization.contains(&entry) {
                    organization.push(entry);
                }
            }
            Scope::Deployment(id) => push(&mut deployment, &a.role_id, id),
            Scope::ElasticsearchProject(id) => push(&mut project, &a.role_id, id),
        }
    }
    let mut out = serde_json::Map::new();
    if !organization.is_empty() {
        out.insert("organization".into(), Value::Array(organization));
    }
    if !deployment.is_empty() {
        let entries = deployment
            .into_iter()
            .map(|(role_id, ids)| {
                json!({"role_id": role_id, "organization_id": organization_id, "all": false, "deployment_ids": ids})
            })
            .collect();
        out.insert("deployment".into(), Value::Array(entries));
    }
    if !project.is_empty() {
        let entries: Vec<Value> = project
            .into_iter()
            .map(|(role_id, ids)| {
                json!({"role_id": role_id, "organization_id": organization_id, "all": false, "project_ids": ids})
            })
            .collect();
        out.insert("project".into(), json!({ "elasticsearch": entries }));
    }
    Value::Object(out)
}

/// A member's `role_assignments`, as far as the driver needs to read them.
#[derive(Debug, Default, Deserialize)]
pub struct Held {
    #[serde(default)]
    organization: Vec<HeldEntry>,
    #[serde(default)]
    deployment: Vec<HeldEntry>,
    #[serde(default)]
    project: HeldProjects,
}

#[derive(Debug, Default, Deserialize)]
struct HeldProjects {
    #[serde(default)]
    elasticsearch: Vec<HeldEntry>,
}

#[derive(Debug, Deserialize)]
struct HeldEntry {
    role_id: String,
    #[serde(default)]
    organization_id: Option<String>,
    #[serde(default)]
    all: Option<bool>,
    #[serde(default, rename = "deployment_ids", alias = "project_ids")]
    ids: Option<Vec<String>>,
}

impl HeldEntry {
    fn is(&self, role_id: &str, organization_id: &str) -> bool {
        self.role_id == role_id
            && self
                .organization_id
                .as_deref()
                .is_none_or(|o| o == organization_id)
    }

    fn covers(&self, id: &str) -> bool {
        self.all == Some(true)
            || self
                .ids
                .as_ref()
                .is_some_and(|ids| ids.iter().any(|i| i == id))
    }
}

impl Held {
    /// Does the holder already have this role there, directly or through `all: true`?
    pub fn holds(&self, a: &Assignment, organization_id: &str) -> bool {
        match &a.scope {
            Scope::Organization => self
                .organization
                .iter()
                .any(|e| e.is(&a.role_id, organization_id)),
            Scope::Deployment(id) => self
                .deployment
                .iter()
                .any(|e| e.is(&a.role_id, organization_id) && e.covers(id)),
            Scope::ElasticsearchProject(id) => self
                .project
                .elasticsearch
                .iter()
                .any(|e| e.is(&a.role_id, organization_id) && e.covers(id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_documented_shape() {
        let d = Assignment::new("deployment-viewer", CloudRoleScope::Deployment, "d1");
        assert_eq!(
            d.body("org"),
            json!({"deployment": [{"role_id": "deployment-viewer", "organization_id": "org", "all": false, "deployment_ids": ["d1"]}]})
        );
        let o = Assignment::new("billing-admin", CloudRoleScope::Organization, "org");
        assert_eq!(
            o.body("org"),
            json!({"organization": [{"role_id": "billing-admin", "organization_id": "org"}]})
        );
        let p = Assignment::new(
            "elasticsearch-viewer",
            CloudRoleScope::ElasticsearchProject,
            "p1",
        );
        let p2 = Assignment::new(
            "elasticsearch-viewer",
            CloudRoleScope::ElasticsearchProject,
            "p2",
        );
        assert_eq!(
            body(&[p, p2], "org"),
            json!({"project": {"elasticsearch": [{"role_id": "elasticsearch-viewer", "organization_id": "org", "all": false, "project_ids": ["p1", "p2"]}]}})
        );
    }

    #[test]
    fn each_scope_applies_to_exactly_one_kind() {
        assert_eq!(
            applies_to(CloudRoleScope::Deployment),
            ResourceKind::Deployment
        );
        assert_eq!(
            applies_to(CloudRoleScope::Organization),
            ResourceKind::Organization
        );
        assert_eq!(
            applies_to(CloudRoleScope::ElasticsearchProject),
            ResourceKind::ElasticsearchProject
        );
    }

    #[test]
    fn recorded_assignments_round_trip() {
        for a in [
            Assignment::new("deployment-editor", CloudRoleScope::Deployment, "d1"),
            Assignment::new("organization-admin", CloudRoleScope::Organization, "org"),
            Assignment::new(
                "elasticsearch-admin",
                CloudRoleScope::ElasticsearchProject,
                "p1",
            ),
        ] {
            assert_eq!(
                Assignment::from_recorded(&a.role_id, a.resource_id().as_deref()),
                a
            );
        }
    }

    #[test]
    fn holding_through_all_or_ids() {
        let held: Held = serde_json::from_value(json!({
            "organization": [{"role_id": "billing-admin", "organization_id": "org"}],
            "deployment": [
                {"role_id": "deployment-viewer", "organization_id": "org", "all": true},
                {"role_id": "deployment-editor", "organization_id": "org", "all": false, "deployment_ids": ["d1"]}
            ],
            "project": {"elasticsearch": [{"role_id": "elasticsearch-viewer", "organization_id": "org", "all": false, "project_ids": ["p1"]}], "observability": [], "security": []}
        }))
        .expect("parses");
        let a = |r: &str, s, id: &str| Assignment::new(r, s, id);
        assert!(held.holds(
            &a("billing-admin", CloudRoleScope::Organization, "org"),
            "org"
        ));
        assert!(!held.holds(
            &a("organization-admin", CloudRoleScope::Organization, "org"),
            "org"
        ));
        assert!(held.holds(
            &a("deployment-viewer", CloudRoleScope::Deployment, "dx"),
            "org"
        ));
        assert!(held.holds(
            &a("deployment-editor", CloudRoleScope::Deployment, "d1"),
            "org"
        ));
        assert!(!held.holds(
            &a("deployment-editor", CloudRoleScope::Deployment, "d2"),
            "org"
        ));
        assert!(held.holds(
            &a(
                "elasticsearch-viewer",
                CloudRoleScope::ElasticsearchProject,
                "p1"
            ),
            "org"
        ));
        assert!(!held.holds(
            &a(
                "elasticsearch-viewer",
                CloudRoleScope::ElasticsearchProject,
                "p2"
            ),
            "org"
        ));
        assert!(!held.holds(
            &a("deployment-editor", CloudRoleScope::Deployment, "d1"),
            "other"
        ));
    }
}
