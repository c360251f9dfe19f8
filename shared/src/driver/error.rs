//! Typed driver errors. Each keeps what the target said (status, type, reason) and whether a
//! retry can help; none carries a credential.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    #[error("cannot reach {target}: {reason}")]
    Unreachable { target: String, reason: String },
    #[error("TLS connection to {target} failed: {reason}")]
    Tls { target: String, reason: String },
    #[error("{target} did not answer within the timeout")]
    Timeout { target: String },
    #[error("the connector credentials were rejected by {target}: {reason}")]
    Unauthorized { target: String, reason: String },
    #[error("the connector lacks required privileges: {}", missing.join(", "))]
    MissingPrivileges { missing: Vec<String> },
    #[error("{target} answered {status} {error_type}: {reason}")]
    Api {
        target: String,
        status: u16,
        error_type: String,
        reason: String,
    },
    #[error("unexpected response from {target} to {operation}: {reason}")]
    Protocol {
        target: String,
        operation: String,
        reason: String,
    },
    #[error("the connector secret is unusable: {reason}")]
    BadConnectorSecret { reason: String },
    #[error("{reason}")]
    Refused { reason: String },
}

impl DriverError {
    /// Worth trying again later: the target was unreachable, slow, throttling or failing.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Timeout { .. } => true,
            Self::Api { status, .. } => *status == 429 || (*status >= 500 && *status != 501),
            _ => false,
        }
    }

    /// A 404 from the target: for deletes this means "already gone", which counts as done.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api { status: 404, .. })
    }

    /// A stable code for API responses and audit events.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "target_unreachable",
            Self::Tls { .. } => "target_tls_error",
            Self::Timeout { .. } => "target_timeout",
            Self::Unauthorized { .. } => "connector_unauthorized",
            Self::MissingPrivileges { .. } => "connector_missing_privileges",
            Self::Api { .. } => "target_error",
            Self::Protocol { .. } => "target_protocol_error",
            Self::BadConnectorSecret { .. } => "connector_secret_invalid",
            Self::Refused { .. } => "operation_refused",
        }
    }
}
