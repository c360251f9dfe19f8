//! JSON renderings of the emulated objects in the documented response shapes.

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::state::{ApiKey, Deployment, Invitation, Membership, Organization, Project, User};

pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn organization(org: &Organization) -> Value {
    json!({"id": org.id, "name": org.name})
}

pub fn member(organization_id: &str, user: &User, membership: &Membership) -> Value {
    let mut m = json!({
        "organization_id": organization_id,
        "user_id": user.user_id,
        "email": user.email,
        "member_since": timestamp(membership.member_since),
        "role_assignments": membership.role_assignments,
    });
    if let Some(name) = &user.name {
        m["name"] = json!(name);
    }
    m
}

pub fn invitation(inv: &Invitation, org: &Organization, now: DateTime<Utc>) -> Value {
    let mut v = json!({
        "token": inv.token,
        "email": inv.email,
        "created_at": timestamp(inv.created_at),
        "expires_at": timestamp(inv.expires_at),
        "expired": inv.is_expired(now),
        "organization": organization(org),
        "role_assignments": inv.role_assignments,
    });
    if let Some(at) = inv.accepted_at {
        v["accepted_at"] = json!(timestamp(at));
    }
    v
}

/// An `ApiKeyResponse`; the secret is passed only when answering the create call.
pub fn api_key(key: &ApiKey, secret: Option<&str>) -> Value {
    let mut v = json!({
        "id": key.id,
        "description": key.description,
        "user_id": key.user_id,
        "organization_id": key.organization_id,
        "creation_date": timestamp(key.creation_date),
        "role_assignments": key.role_assignments,
    });
    if let Some(at) = key.expiration_date {
        v["expiration_date"] = json!(timestamp(at));
    }
    if let Some(secret) = secret {
        v["key"] = json!(secret);
    }
    v
}

/// `gcp-us-central1` → `us-central1.gcp.elastic-cloud.com`, the shape of real endpoints.
fn host(d: &Deployment) -> String {
    match d.region.split_once('-') {
        Some((provider, region)) => format!("{region}.{provider}.elastic-cloud.com"),
        None => format!("{}.elastic-cloud.com", d.region),
    }
}

fn cloud_id(name: &str, host: &str, es_id: &str, kb_id: &str) -> String {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{host}:443${es_id}${kb_id}"));
    format!("{name}:{encoded}")
}

/// One `DeploymentsListingData`: the listing carries no alias (swagger snapshot).
pub fn deployment_listing(d: &Deployment) -> Value {
    let host = host(d);
    let cloud_id = cloud_id(&d.name, &host, &d.elasticsearch_id, &d.kibana_id);
    json!({
        "id": d.id,
        "name": d.name,
        "resources": [
            {
                "ref_id": "main-elasticsearch",
                "id": d.elasticsearch_id,
                "kind": "elasticsearch",
                "region": d.region,
                "cloud_id": cloud_id,
            },
            {
                "ref_id": "main-kibana",
                "id": d.kibana_id,
                "kind": "kibana",
                "region": d.region,
                "elasticsearch_cluster_ref_id": "main-elasticsearch",
            }
        ],
    })
}

/// A `DeploymentGetResponse`; `metadata` (with the tags) only when `show_metadata=true`.
pub fn deployment(d: &Deployment, show_metadata: bool) -> Value {
    let host = host(d);
    let endpoint = format!("{}.{host}", d.elasticsearch_id);
    let service_url = d
        .service_url
        .clone()
        .unwrap_or_else(|| format!("https://{endpoint}"));
    let aliased_endpoint = format!("{}.es.{host}", d.alias);
    let cloud_id = cloud_id(&d.name, &host, &d.elasticsearch_id, &d.kibana_id);
    let status = if d.healthy {
        "started"
    } else {
        "reconfiguring"
    };
    let mut v = json!({
        "id": d.id,
        "name": d.name,
        "alias": d.alias,
        "healthy": d.healthy,
        "resources": {
            "elasticsearch": [{
                "ref_id": "main-elasticsearch",
                "id": d.elasticsearch_id,
                "region": d.region,
                "info": {
                    "cluster_id": d.elasticsearch_id,
                    "cluster_name": d.name,
                    "deployment_id": d.id,
                    "healthy": d.healthy,
                    "status": status,
                    "metadata": {
                        "endpoint": endpoint,
                        "service_url": service_url,
                        "aliased_endpoint": aliased_endpoint,
                        "aliased_url": format!("https://{aliased_endpoint}"),
                        "cloud_id": cloud_id,
                        "ports": {"http": 9200, "https": 443},
                    },
                    "plan_info": {"current": {"plan": {"elasticsearch": {"version": d.version}}}},
                },
            }],
            "kibana": [{
                "ref_id": "main-kibana",
                "id": d.kibana_id,
                "region": d.region,
                "elasticsearch_cluster_ref_id": "main-elasticsearch",
            }],
            "apm": [],
            "appsearch": [],
            "enterprise_search": [],
            "integrations_server": [],
        },
    });
    if show_metadata {
        v["metadata"] = json!({"tags": d.tags});
    }
    v
}

pub fn elasticsearch_project(p: &Project, organization_id: &str) -> Value {
    let region = p
        .region_id
        .split_once('-')
        .map_or(p.region_id.as_str(), |(_, r)| r);
    let suffix = &p.id[..p.id.len().min(6)];
    let es_host = format!("{}-{suffix}.es.{region}.elastic.cloud", p.alias);
    let kb_host = format!("{}-{suffix}.kb.{region}.elastic.cloud", p.alias);
    let encoded = base64::engine::general_purpose::STANDARD
        .encode(format!("{region}.elastic.cloud${}${}", p.id, p.id));
    json!({
        "id": p.id,
        "name": p.name,
        "alias": format!("{}-{suffix}", p.alias),
        "region_id": p.region_id,
        "metadata": {
            "created_at": timestamp(p.created_at),
            "created_by": p.created_by,
            "organization_id": organization_id,
            // `ProjectTags` is an object map in the Serverless OpenAPI
            // (elastic/terraform-provider-ec `ec/internal/gen/serverless/
            // serverless-project-api-dereferenced.yml`), unlike deployments' `[{key, value}]`.
            "tags": p.tags.iter().map(|t| (t.key.clone(), json!(t.value))).collect::<serde_json::Map<_, _>>(),
        },
        "cloud_id": format!("{}:{encoded}", p.name),
        "type": "elasticsearch",
        "optimized_for": p.optimized_for,
        "endpoints": {
            "elasticsearch": p.elasticsearch_endpoint.clone().unwrap_or_else(|| format!("https://{es_host}")),
            "kibana": format!("https://{kb_host}"),
        },
    })
}
