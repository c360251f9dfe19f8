//! Hosted deployments and serverless Elasticsearch projects, filtered to what the key may see.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Json;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::{ApiResult, CloudError};
use crate::server::App;
use crate::views;

pub async fn list(State(app): State<App>, Extension(caller): Extension<Caller>) -> Json<Value> {
    let world = app.world();
    let deployments: Vec<Value> = world
        .deployments
        .iter()
        .filter(|d| {
            caller
                .role_assignments
                .can_see_deployment(&caller.organization_id, &d.id)
        })
        .map(views::deployment_listing)
        .collect();
    Json(json!({"deployments": deployments}))
}

pub async fn get(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(deployment_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let world = app.world();
    let show_metadata = query
        .get("show_metadata")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    world
        .deployments
        .iter()
        .find(|d| {
            d.id == deployment_id
                && caller
                    .role_assignments
                    .can_see_deployment(&caller.organization_id, &d.id)
        })
        .map(|d| Json(views::deployment(d, show_metadata)))
        .ok_or_else(|| {
            CloudError::not_found(
                "deployments.deployment_not_found",
                format!("Deployment [{deployment_id}] cannot be found."),
            )
        })
}

pub async fn list_elasticsearch_projects(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
) -> Json<Value> {
    let world = app.world();
    let items: Vec<Value> = world
        .projects
        .iter()
        .filter(|p| {
            caller
                .role_assignments
                .can_see_elasticsearch_project(&caller.organization_id, &p.id)
        })
        .map(|p| views::elasticsearch_project(p, world.organization_id()))
        .collect();
    Json(json!({"items": items}))
}
