//! The emulated Elastic Cloud API under `/api/v1`.

mod deployments;
mod keys;
mod organizations;
mod role_assignments;

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;

use crate::error::CloudError;
use crate::server::App;

pub fn router() -> Router<App> {
    Router::new()
        .route("/organizations", get(organizations::list))
        .route("/organizations/{organization_id}", get(organizations::get))
        .route(
            "/organizations/{organization_id}/members",
            get(organizations::list_members),
        )
        .route(
            "/organizations/{organization_id}/members/{user_ids}",
            axum::routing::delete(organizations::delete_members),
        )
        .route(
            "/organizations/{organization_id}/invitations",
            get(organizations::list_invitations).post(organizations::create_invitations),
        )
        .route(
            "/organizations/{organization_id}/invitations/{tokens}",
            axum::routing::delete(organizations::delete_invitations),
        )
        .route(
            "/users/{user_id}/role_assignments",
            post(role_assignments::add).delete(role_assignments::remove),
        )
        .route("/deployments", get(deployments::list))
        .route("/deployments/{deployment_id}", get(deployments::get))
        .route(
            "/serverless/projects/elasticsearch",
            get(deployments::list_elasticsearch_projects),
        )
        .route(
            "/users/auth/keys",
            get(keys::list).post(keys::create).delete(keys::delete_many),
        )
        .route(
            "/users/auth/keys/{api_key_id}",
            get(keys::get).delete(keys::delete_one),
        )
        .method_not_allowed_fallback(method_not_allowed)
}

/// Unknown paths answer in the Cloud error shape rather than axum's plain text.
pub async fn not_found() -> Response {
    CloudError::not_found(
        "root.not_found",
        "The requested resource could not be found.",
    )
    .into_response()
}

async fn method_not_allowed() -> Response {
    CloudError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "root.method_not_allowed",
        "The requested method is not allowed on this resource.",
    )
    .into_response()
}

/// Parses a JSON body; the caller decides which documented code a malformed body gets.
fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    if body.is_empty() {
        return Err("A request body is required.".to_owned());
    }
    serde_json::from_slice(body).map_err(|e| format!("Invalid request body: {e}"))
}

/// Splits a comma-separated path segment, ignoring blanks.
fn split_csv(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
