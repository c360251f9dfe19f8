//! Elastic Cloud's error reply: `{"errors":[{"code","message"}]}` plus the same code in the
//! `x-cloud-error-codes` header, so clients can branch on either.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub const ERROR_CODES_HEADER: &str = "x-cloud-error-codes";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl CloudError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "root.unauthorized",
            "Credentials were invalid.",
        )
    }

    /// The refusal for a valid key that is not an organization owner's (key and member management).
    pub fn not_organization_owner() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "root.invalid_authentication",
            "The current user authentication is not valid.",
        )
    }

    pub fn organization_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "organization.not_found",
            format!("Organization [{id}] not found."),
        )
    }

    pub fn organization_invalid_access(id: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "organization.invalid_access",
            format!("You do not have access to organization [{id}]."),
        )
    }

    pub fn invalid_data(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "root.invalid_data", message)
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
}

/// Builds an error response; also used for injected faults, whose code may be anything.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"errors": [{"code": code, "message": message}]});
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(code) {
        response.headers_mut().insert(ERROR_CODES_HEADER, value);
    }
    response
}

impl IntoResponse for CloudError {
    fn into_response(self) -> Response {
        error_response(self.status, &self.code, &self.message)
    }
}

pub type ApiResult<T> = Result<T, CloudError>;
