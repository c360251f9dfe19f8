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

/// `TABLE_NAME`: the state table. `ADMIN_GROUP`: who manages integrations and flows.
/// `GROUPS_CLAIM`: the JWT claim listing the caller's groups (default `groups`).
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
            },
        })
    }
}

/// JSON logs when `AWS_LAMBDA_LOG_FORMAT=JSON` (as in Lambda), text otherwise; level from
/// `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`, default INFO (TRACE would log raw events).
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let filter =
        EnvFilter::try_new(level.to_lowercase()).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .without_time();
    if json {
        builder.json().init();
    } else {
        builder.with_ansi(false).init();
    }
}
