//! Discovery of the organization, its hosted deployments and its serverless Elasticsearch
//! projects. Deployment tags are only in each deployment's own metadata, so owners cost one
//! read per selected deployment (a handful per organization), made a few at a time.

use futures::{StreamExt, TryStreamExt};
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;
use wildmatch::WildMatch;

use super::client::{CloudClient, segment};
use crate::driver::DiscoveredResource;
use crate::driver::error::DriverError;
use crate::model::{DiscoverySelection, ResourceKind};

/// Deployment metadata reads in flight at once.
const METADATA_CONCURRENCY: usize = 4;

/// Include/exclude patterns, matched against a resource's id or its display name: users know
/// deployments by name, while ids are what stays stable.
pub struct Selector {
    include: Vec<WildMatch>,
    exclude: Vec<WildMatch>,
}

impl Selector {
    pub fn new(selection: &DiscoverySelection) -> Self {
        Self {
            include: selection
                .include
                .iter()
                .map(|p| WildMatch::new(p))
                .collect(),
            exclude: selection
                .exclude
                .iter()
                .map(|p| WildMatch::new(p))
                .collect(),
        }
    }

    pub fn selects(&self, id: &str, name: Option<&str>) -> bool {
        let hit = |m: &WildMatch| m.matches(id) || name.is_some_and(|n| m.matches(n));
        !self.exclude.iter().any(hit) && self.include.iter().any(hit)
    }
}

#[derive(Deserialize)]
struct Organization {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct DeploymentList {
    deployments: Vec<Listed>,
}

#[derive(Deserialize)]
struct Listed {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct ProjectList {
    items: Vec<Project>,
}

#[derive(Deserialize)]
struct Project {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    metadata: Option<Value>,
}

/// A tag's value: deployments' tags are `[{key, value}]`; serverless projects' are a
/// `{key: value}` map (`ProjectTags` in the Serverless OpenAPI). Both shapes are read for both.
fn tag_value(tags: Option<&Value>, key: &str) -> Option<String> {
    let value = match tags? {
        Value::Array(list) => list
            .iter()
            .find(|t| t.get("key").and_then(Value::as_str) == Some(key))?
            .get("value")?,
        Value::Object(map) => map.get(key)?,
        _ => return None,
    };
    value
        .as_str()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

pub async fn discover(
    cloud: &CloudClient,
    organization_id: &str,
    selection: &DiscoverySelection,
    owner_tag: Option<&str>,
) -> Result<Vec<DiscoveredResource>, DriverError> {
    let selector = Selector::new(selection);
    let mut out = Vec::new();

    let org = cloud
        .json(
            Method::GET,
            &format!("/organizations/{}", segment(organization_id)),
            None,
            true,
        )
        .await?;
    let org: Organization = serde_json::from_value(org)
        .map_err(|e| cloud.protocol("GET /organizations/{id}", e.to_string()))?;
    if selector.selects(&org.id, org.name.as_deref()) {
        out.push(DiscoveredResource {
            name: org.id,
            kind: ResourceKind::Organization,
            display_name: org.name,
            owner: None,
            targets: vec![],
        });
    }

    let listed = cloud.json(Method::GET, "/deployments", None, true).await?;
    let listed: DeploymentList = serde_json::from_value(listed)
        .map_err(|e| cloud.protocol("GET /deployments", e.to_string()))?;
    let mut deployments: Vec<Listed> = listed
        .deployments
        .into_iter()
        .filter(|d| selector.selects(&d.id, d.name.as_deref()))
        .collect();
    deployments.sort_by(|a, b| a.id.cmp(&b.id));
    let owners: Vec<Option<Option<String>>> = match owner_tag {
        None => deployments.iter().map(|_| Some(None)).collect(),
        Some(tag) => {
            // Collected first: a lazily mapped iterator makes the future not `Send` in general.
            let reads: Vec<_> = deployments
                .iter()
                .map(|d| deployment_owner(cloud, &d.id, tag))
                .collect();
            futures::stream::iter(reads)
                .buffered(METADATA_CONCURRENCY)
                .try_collect()
                .await?
        }
    };
    for (d, owner) in deployments.into_iter().zip(owners) {
        // `None`: deleted since the listing, so it is not there any more.
        if let Some(owner) = owner {
            out.push(DiscoveredResource {
                name: d.id,
                kind: ResourceKind::Deployment,
                display_name: d.name,
                owner,
                targets: vec![],
            });
        }
    }

    let projects = cloud
        .json(
            Method::GET,
            "/serverless/projects/elasticsearch",
            None,
            true,
        )
        .await?;
    let projects: ProjectList = serde_json::from_value(projects)
        .map_err(|e| cloud.protocol("GET /serverless/projects/elasticsearch", e.to_string()))?;
    let mut projects: Vec<Project> = projects
        .items
        .into_iter()
        .filter(|p| selector.selects(&p.id, p.name.as_deref()))
        .collect();
    projects.sort_by(|a, b| a.id.cmp(&b.id));
    for p in projects {
        let owner = owner_tag
            .and_then(|tag| tag_value(p.metadata.as_ref().and_then(|m| m.get("tags")), tag));
        out.push(DiscoveredResource {
            name: p.id,
            kind: ResourceKind::ElasticsearchProject,
            display_name: p.name,
            owner,
            targets: vec![],
        });
    }
    Ok(out)
}

/// The owner tag of one deployment: `None` if the deployment is gone, `Some(None)` untagged.
async fn deployment_owner(
    cloud: &CloudClient,
    id: &str,
    tag: &str,
) -> Result<Option<Option<String>>, DriverError> {
    let path = format!("/deployments/{}?show_metadata=true", segment(id));
    match cloud.json(Method::GET, &path, None, true).await {
        Ok(body) => Ok(Some(tag_value(
            body.get("metadata").and_then(|m| m.get("tags")),
            tag,
        ))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selection_matches_id_or_name() {
        let s = Selector::new(&DiscoverySelection {
            include: vec!["prod-*".into(), "abc123".into()],
            exclude: vec!["*-legacy".into()],
        });
        assert!(s.selects("d1", Some("prod-search")));
        assert!(s.selects("abc123", Some("anything")));
        assert!(!s.selects("d2", Some("prod-legacy")));
        assert!(!s.selects("d3", Some("staging")));
        assert!(!s.selects("d3", None));
    }

    #[test]
    fn tags_as_list_or_map() {
        let list = json!([{"key": "owner", "value": " alice@example.com "}, {"key": "team", "value": "x"}]);
        assert_eq!(
            tag_value(Some(&list), "owner").as_deref(),
            Some("alice@example.com")
        );
        let map = json!({"owner": "bob"});
        assert_eq!(tag_value(Some(&map), "owner").as_deref(), Some("bob"));
        assert_eq!(
            tag_value(Some(&json!([{"key": "owner", "value": ""}])), "owner"),
            None
        );
        assert_eq!(tag_value(None, "owner"), None);
    }
}
