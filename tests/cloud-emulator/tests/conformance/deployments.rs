//! Deployments and serverless Elasticsearch projects.

use serde_json::json;

use crate::support::{Cloud, ORG, OWNER_KEY, PROD_SEARCH, STAGING_LOGS, VIEWER_KEY, demo_seed};

#[tokio::test]
async fn the_listing_has_ids_names_resources_and_no_alias() {
    let cloud = Cloud::start().await;
    let reply = cloud.get("/deployments", OWNER_KEY).await;
    let deployments = reply.assert_ok(200)["deployments"]
        .as_array()
        .expect("deployments")
        .clone();
    assert_eq!(deployments.len(), 2);
    assert_eq!(deployments[0]["id"], PROD_SEARCH);
    assert_eq!(deployments[0]["name"], "prod-search");
    assert!(deployments.iter().all(|d| d.get("alias").is_none()));
    assert!(deployments.iter().all(|d| d.get("metadata").is_none()));
    let es = &deployments[0]["resources"][0];
    assert_eq!(es["kind"], "elasticsearch");
    assert_eq!(es["ref_id"], "main-elasticsearch");
    assert_eq!(es["region"], "gcp-us-central1");
    assert!(es["id"].as_str().is_some_and(|id| id.len() == 32));
    assert!(
        es["cloud_id"]
            .as_str()
            .is_some_and(|c| c.starts_with("prod-search:"))
    );
}

#[tokio::test]
async fn show_metadata_includes_the_tags() {
    let cloud = Cloud::start().await;
    let with = cloud
        .get(
            &format!("/deployments/{PROD_SEARCH}?show_metadata=true"),
            OWNER_KEY,
        )
        .await;
    let with = with.assert_ok(200);
    assert_eq!(with["alias"], "prod-search");
    assert_eq!(with["healthy"], true);
    assert_eq!(
        with["metadata"]["tags"],
        json!([{"key": "owner", "value": "alice@example.com"}, {"key": "team", "value": "search"}])
    );
    let info = &with["resources"]["elasticsearch"][0]["info"];
    assert_eq!(info["status"], "started");
    assert_eq!(info["deployment_id"], PROD_SEARCH);
    assert!(
        info["metadata"]["endpoint"]
            .as_str()
            .is_some_and(|e| e.ends_with(".us-central1.gcp.elastic-cloud.com"))
    );
    assert!(
        info["metadata"]["service_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://"))
    );
    assert_eq!(
        info["plan_info"]["current"]["plan"]["elasticsearch"]["version"],
        "8.17.0"
    );
    for kind in [
        "kibana",
        "apm",
        "appsearch",
        "enterprise_search",
        "integrations_server",
    ] {
        assert!(with["resources"][kind].is_array(), "{kind}");
    }

    let without = cloud
        .get(&format!("/deployments/{PROD_SEARCH}"), OWNER_KEY)
        .await;
    assert!(without.assert_ok(200).get("metadata").is_none());
}

#[tokio::test]
async fn an_unknown_deployment_is_not_found() {
    let cloud = Cloud::start().await;
    cloud
        .get("/deployments/0000000000000000000000000000dead", OWNER_KEY)
        .await
        .assert_error(404, "deployments.deployment_not_found");
}

#[tokio::test]
async fn a_seeded_service_url_is_served() {
    let mut seed = demo_seed();
    seed.deployments[0].service_url = Some("http://127.0.0.1:9200".into());
    let cloud = Cloud::start_with(Some(seed)).await;
    let reply = cloud
        .get(&format!("/deployments/{PROD_SEARCH}"), OWNER_KEY)
        .await;
    assert_eq!(
        reply.assert_ok(200)["resources"]["elasticsearch"][0]["info"]["metadata"]["service_url"],
        "http://127.0.0.1:9200"
    );
}

#[tokio::test]
async fn a_key_sees_only_the_deployments_its_roles_cover() {
    let cloud = Cloud::start().await;
    // The viewer key holds deployment-viewer on all deployments.
    let all = cloud.get("/deployments", VIEWER_KEY).await;
    assert_eq!(
        all.assert_ok(200)["deployments"].as_array().map(Vec::len),
        Some(2)
    );

    let created = cloud
        .post(
            "/users/auth/keys",
            OWNER_KEY,
            &json!({"description": "one deployment", "role_assignments": {"deployment": [
                {"role_id": "deployment-viewer", "organization_id": ORG, "all": false, "deployment_ids": [PROD_SEARCH]}
            ]}}),
        )
        .await;
    let key = created.assert_ok(201)["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let listed = cloud.get("/deployments", &key).await;
    let ids: Vec<&str> = listed.assert_ok(200)["deployments"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert_eq!(ids, [PROD_SEARCH]);
    cloud
        .get(&format!("/deployments/{STAGING_LOGS}"), &key)
        .await
        .assert_error(404, "deployments.deployment_not_found");
    let projects = cloud.get("/serverless/projects/elasticsearch", &key).await;
    assert_eq!(projects.assert_ok(200)["items"], json!([]));
}

/// Source: elastic/terraform-provider-ec
/// `ec/internal/gen/serverless/serverless-project-api-dereferenced.yml` (Serverless OpenAPI),
/// `ElasticsearchProject.metadata.tags` is `ProjectTags`, an object of string values.
#[tokio::test]
async fn lists_serverless_elasticsearch_projects() {
    let cloud = Cloud::start().await;
    let reply = cloud
        .get("/serverless/projects/elasticsearch", OWNER_KEY)
        .await;
    let items = reply.assert_ok(200)["items"]
        .as_array()
        .expect("items")
        .clone();
    assert_eq!(items.len(), 1);
    let p = &items[0];
    assert_eq!(p["id"], "0123456789abcdef0123456789abcdef");
    assert_eq!(p["name"], "vector-playground");
    assert_eq!(p["type"], "elasticsearch");
    assert_eq!(p["optimized_for"], "vector");
    assert_eq!(p["region_id"], "aws-us-east-1");
    assert_eq!(p["metadata"]["organization_id"], ORG);
    assert_eq!(p["metadata"]["created_by"], "owner-1");
    assert!(p["metadata"]["created_at"].is_string());
    assert_eq!(p["metadata"]["tags"], json!({"owner": "carol@example.com"}));
    assert!(p["alias"].is_string() && p["cloud_id"].is_string());
    assert!(
        p["endpoints"]["elasticsearch"]
            .as_str()
            .is_some_and(|e| e.starts_with("https://"))
    );
    assert!(
        p["endpoints"]["kibana"]
            .as_str()
            .is_some_and(|e| e.starts_with("https://"))
    );
}
