//! Typed driver errors. Each keeps what the target's answer was (HTTP status and error type
//! token) and whether a retry can help; none carries a credential, and none carries free text
//! from the target: an error body may echo what it was sent (the connector's Authorization
//! header included) or say whatever its operator likes, and these errors reach API responses,
//! request records and logs.

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
    #[error(
        "the cluster's licence ({license}, {status}) does not include {feature}: it needs an \
         active platinum, enterprise or trial licence"
    )]
    LicenseNotSufficient {
        feature: String,
        /// The licence type and status, as tokens of the target's answer.
        license: String,
        status: String,
    },
    #[error(
        "Kibana does not show the connector the space(s) {}: create them, or give the \
         connector a Kibana privilege in them (it lists {})",
        missing.join(", "),
        if known.is_empty() { "no spaces".to_string() } else { known.join(", ") }
    )]
    UnknownKibanaSpaces {
        missing: Vec<String>,
        /// Space ids Kibana listed (only ids of Kibana's own form are kept).
        known: Vec<String>,
    },
}

/// The longest error type token kept from a target's answer.
const MAX_TYPE_TOKEN: usize = 64;

/// A target's error type as a token (`security_exception`, `organization.not_found`), or
/// `unknown` when it is anything else: lowercase letters, digits, `_` and `.`, 1–64 long.
pub fn type_token(raw: Option<&str>) -> String {
    raw.filter(|t| {
        (1..=MAX_TYPE_TOKEN).contains(&t.len())
            && t.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
    })
    .unwrap_or("unknown")
    .to_string()
}

/// What an HTTP status means, in our words.
fn summary(status: u16) -> &'static str {
    match status {
        400 => "the target refused the request as invalid",
        401 => "the target did not accept the credentials",
        403 => "the target denied the request for lack of privileges",
        404 => "the target has no such object",
        409 => "the request conflicts with the target's current state",
        429 => "the target is throttling requests",
        500..=599 => "the target failed to handle the request",
        _ => "the target refused the request",
    }
}

impl DriverError {
    /// A target's non-2xx answer, summarized: the status and the error type token only.
    pub fn from_answer(target: &str, status: u16, error_type: Option<&str>) -> Self {
        let error_type = type_token(error_type);
        if status == 401 {
            Self::Unauthorized {
                target: target.into(),
                reason: format!("HTTP 401 {error_type}"),
            }
        } else {
            Self::Api {
                target: target.into(),
                status,
                error_type,
                reason: summary(status).into(),
            }
        }
    }

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
            Self::LicenseNotSufficient { .. } => "license_not_sufficient",
            Self::UnknownKibanaSpaces { .. } => "unknown_kibana_space",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_keeps_status_and_type_token_only() {
        let e = DriverError::from_answer("es.example.com:9200", 403, Some("security_exception"));
        assert_eq!(
            e.to_string(),
            "es.example.com:9200 answered 403 security_exception: the target denied the request \
             for lack of privileges"
        );
        for hostile in [
            "Basic Y29ubmVjdG9yOnB3",
            "call +1 555 0100",
            "SECURITY_EXCEPTION",
            "a\nb",
            "",
            &"x".repeat(65),
        ] {
            let e = DriverError::from_answer("t", 400, Some(hostile));
            assert!(
                matches!(&e, DriverError::Api { error_type, .. } if error_type == "unknown"),
                "{hostile:?}"
            );
        }
        assert_eq!(
            type_token(Some("organization.not_found")),
            "organization.not_found"
        );
        assert!(matches!(
            DriverError::from_answer("t", 401, Some("x")),
            DriverError::Unauthorized { .. }
        ));
    }
}
