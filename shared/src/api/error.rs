//! API errors: an HTTP status, a stable `code`, a readable `message`, optional `details`.
//! Internal failures are logged with their cause and answered with a generic 500.

use serde_json::json;

use crate::driver::DriverError;
use crate::secrets::SecretsError;
use crate::store::StoreError;
use crate::validation::ValidationErrors;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "forbidden", message)
    }

    pub fn not_found(what: &str, name: &str) -> Self {
        Self::new(404, "not_found", format!("{what} {name:?} does not exist"))
    }

    /// Log the cause, answer without it.
    pub fn internal(context: &str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(context, error = %cause, "internal error");
        Self::new(
            500,
            "internal_error",
            "an internal error occurred; it has been logged",
        )
    }

    pub fn body(&self) -> serde_json::Value {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(d) = &self.details {
            error["details"] = d.clone();
        }
        json!({ "error": error })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(e: ValidationErrors) -> Self {
        let details = serde_json::to_value(&e.0).unwrap_or_default();
        Self::bad_request(
            "validation_failed",
            format!("the request is not valid: {e}"),
        )
        .with_details(details)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Conflict { .. } => Self::new(409, "conflict", e.to_string()),
            StoreError::AlreadyExists { .. } => Self::new(409, "already_exists", e.to_string()),
            StoreError::NotFound { .. } => Self::new(404, "not_found", e.to_string()),
            StoreError::InvalidCursor => Self::bad_request("invalid_cursor", e.to_string()),
            StoreError::Backend {
                transient: true, ..
            } => {
                tracing::warn!(error = %e, "state store unavailable");
                Self::new(
                    503,
                    "state_unavailable",
                    "the state store is busy; retry shortly",
                )
            }
            _ => Self::internal("state store", &e),
        }
    }
}

impl From<SecretsError> for ApiError {
    /// Secrets errors here concern a connector secret named by an administrator.
    fn from(e: SecretsError) -> Self {
        match &e {
            SecretsError::NotFound { .. } => {
                Self::bad_request("connector_secret_not_found", e.to_string())
            }
            SecretsError::AccessDenied { .. } => {
                Self::bad_request("connector_secret_access_denied", e.to_string())
            }
            SecretsError::NotExactArn { .. } => {
                Self::bad_request("connector_secret_not_bound", e.to_string())
            }
            SecretsError::NotAString { .. } | SecretsError::Malformed { .. } => {
                Self::bad_request("connector_secret_invalid", e.to_string())
            }
            SecretsError::Backend { .. } if e.is_transient() => Self::new(
                503,
                "secrets_unavailable",
                "Secrets Manager is busy; retry shortly",
            ),
            _ => Self::internal("secrets", &e),
        }
    }
}

impl From<DriverError> for ApiError {
    /// Target errors are the caller's to fix (URL, credentials, privileges) or upstream faults.
    fn from(e: DriverError) -> Self {
        let status = match &e {
            DriverError::Api { status, .. } if *status >= 500 => 502,
            DriverError::Timeout { .. } => 504,
            _ => 400,
        };
        let mut err = Self::new(status, e.code(), e.to_string());
        if let DriverError::MissingPrivileges { missing } = &e {
            err = err.with_details(json!({ "missing": missing }));
        }
        if let DriverError::UnknownKibanaSpaces { missing, known } = &e {
            err = err.with_details(json!({ "missing": missing, "known": known }));
        }
        err
    }
}
