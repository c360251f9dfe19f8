//! Configuration from the environment, read once at start-up. A missing or malformed variable
//! stops the function at once, naming the variable.

use crate::api::AuthConfig;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

pub fn required(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(ConfigError::Missing(name)),
    }
}

pub fn optional(name: &'static str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

pub fn number<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("{v:?} is not a number"),
        }),
        _ => Ok(default),
    }
}

/// A `true`/`false` variable (unset or empty is `false`).
pub fn flag(name: &'static str) -> Result<bool, ConfigError> {
    match std::env::var(name) {
        Ok(v) if v.trim().eq_ignore_ascii_case("true") => Ok(true),
        Ok(v) if v.trim().is_empty() || v.trim().eq_ignore_ascii_case("false") => Ok(false),
        Ok(v) => Err(ConfigError::Invalid {
            name,
            reason: format!("{v:?} is not true or false"),
        }),
        Err(_) => Ok(false),
    }
}

/// `TABLE_NAME`: the state table. `ADMIN_GROUP`: who manages integrations and flows.
/// `GROUPS_CLAIM`: the JWT claim listing the caller's groups (default `groups`).
/// `IDP_EMAIL_AUTHORITATIVE`: `true` to trust email claims the token does not mark verified.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    pub table: String,
    pub auth: AuthConfig,
}

impl CommonConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table: required("TABLE_NAME")?,
            auth: AuthConfig {
                admin_group: required("ADMIN_GROUP")?,
                groups_claim: optional("GROUPS_CLAIM", "groups"),
                email_authoritative: flag("IDP_EMAIL_AUTHORITATIVE")?,
            },
        })
    }
}

/// The AWS SDK configuration every function builds its clients from: the SDK's own environment
/// (`AWS_ENDPOINT_URL` included), with every call bounded. The SDK sets no operation timeout of
/// its own, so one stalled DynamoDB or Secrets Manager call would hold an invocation until
/// Lambda kills it, with nothing recorded; bounded, it fails and the outcome is recorded (or
/// the sweep takes over) well inside the functions' 30 s timeouts.
pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    use std::time::Duration;
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(4))
        .operation_timeout(Duration::from_secs(10))
        .build();
    aws_config::from_env().timeout_config(timeouts).load().await
}
