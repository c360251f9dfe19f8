//! Building the proxy: typed settings read once from the environment, then the integration,
//! its connector secret and the clients (the first two re-read while it runs).
//!
//! Environment: `TABLE_NAME`, `PROXY_INTEGRATION` (the one integration this proxy serves),
//! `CONNECTOR_SECRET_PREFIX`, `PROXY_CACHE_TTL_MS` (credential cache, at most 5000, default
//! 5000), `PROXY_CATALOG_TTL_MS` (default 5000), `PROXY_CONFIG_TTL_MS` (how often the
//! integration and its connector secret are re-read; default 10000, at most 300000),
//! `PROXY_UPSTREAM_TIMEOUT_SECS` (default 120),
//! `PROXY_LISTEN` (server mode, default `0.0.0.0:9200`), and the AWS SDK's own variables.
//! Server mode's limits: `PROXY_HEADER_TIMEOUT_SECS` (10), `PROXY_BODY_TIMEOUT_SECS` (30),
//! `PROXY_WRITE_TIMEOUT_SECS` (30), `PROXY_CONNECTION_LIFETIME_SECS` (600),
//! `PROXY_MAX_CONNECTIONS` (1024), `PROXY_MAX_CONNECTIONS_PER_PEER` (64),
//! `PROXY_MAX_BUFFERED_BODY_BYTES` (256 MiB).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use shared::Clock;
use shared::config::{ConfigError, number, optional, required};
use shared::driver::http::HttpClients;
use shared::model::DEFAULT_CONNECTOR_PREFIX;
use shared::secrets::SecretStore;
use shared::store::Store;

use crate::serve::Proxy;
use crate::serve::audit::AuditSink;
use crate::serve::catalog::Catalog;
use crate::serve::credentials::{Authenticator, MAX_CACHE_TTL};
use crate::serve::live::{Live, Sources};
use crate::server::ServerConfig;

#[derive(Debug, Clone)]
pub struct Settings {
    pub integration: String,
    pub connector_prefix: String,
    pub cache_ttl: Duration,
    pub catalog_ttl: Duration,
    /// How often the integration record and connector secret are re-read.
    pub config_ttl: Duration,
    pub upstream_timeout: Duration,
}

impl Settings {
    pub fn new(integration: impl Into<String>) -> Self {
        Self {
            integration: integration.into(),
            connector_prefix: DEFAULT_CONNECTOR_PREFIX.to_string(),
            cache_ttl: MAX_CACHE_TTL,
            catalog_ttl: crate::serve::catalog::DEFAULT_CATALOG_TTL,
            config_ttl: DEFAULT_CONFIG_TTL,
            upstream_timeout: Duration::from_secs(120),
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        let ms = |name, default| number::<u64>(name, default).map(Duration::from_millis);
        let cache_ttl = ms("PROXY_CACHE_TTL_MS", 5000)?;
        if cache_ttl > MAX_CACHE_TTL {
            return Err(ConfigError::Invalid {
                name: "PROXY_CACHE_TTL_MS",
                reason: "at most 5000: a revoke must take effect within seconds".into(),
            });
        }
        Ok(Self {
            integration: required("PROXY_INTEGRATION")?,
            connector_prefix: optional("CONNECTOR_SECRET_PREFIX", DEFAULT_CONNECTOR_PREFIX),
            cache_ttl,
            catalog_ttl: ms("PROXY_CATALOG_TTL_MS", 5000)?,
            config_ttl: checked_config_ttl(ms(
                "PROXY_CONFIG_TTL_MS",
                DEFAULT_CONFIG_TTL.as_millis() as u64,
            )?)?,
            upstream_timeout: Duration::from_secs(number("PROXY_UPSTREAM_TIMEOUT_SECS", 120)?),
        })
    }
}

/// How often the integration and its secret are re-read by default.
pub const DEFAULT_CONFIG_TTL: Duration = Duration::from_secs(10);
/// A deleted integration or a rotated secret must not go unnoticed for longer.
pub const MAX_CONFIG_TTL: Duration = Duration::from_secs(300);

fn checked_config_ttl(ttl: Duration) -> Result<Duration, ConfigError> {
    if ttl.is_zero() || ttl > MAX_CONFIG_TTL {
        return Err(ConfigError::Invalid {
            name: "PROXY_CONFIG_TTL_MS",
            reason: "between 1 and 300000: a deleted integration must stop being served".into(),
        });
    }
    Ok(ttl)
}

pub fn listen_addr() -> Result<SocketAddr, ConfigError> {
    let raw = optional("PROXY_LISTEN", "0.0.0.0:9200");
    raw.parse().map_err(|_| ConfigError::Invalid {
        name: "PROXY_LISTEN",
        reason: format!("{raw:?} is not host:port"),
    })
}

/// Server mode's limits from the environment, each defaulting to [`ServerConfig::default`].
pub fn server_config() -> Result<ServerConfig, ConfigError> {
    let d = ServerConfig::default();
    let secs =
        |name, default: Duration| number::<u64>(name, default.as_secs()).map(Duration::from_secs);
    let config = ServerConfig {
        header_timeout: secs("PROXY_HEADER_TIMEOUT_SECS", d.header_timeout)?,
        body_timeout: secs("PROXY_BODY_TIMEOUT_SECS", d.body_timeout)?,
        write_timeout: secs("PROXY_WRITE_TIMEOUT_SECS", d.write_timeout)?,
        connection_lifetime: secs("PROXY_CONNECTION_LIFETIME_SECS", d.connection_lifetime)?,
        max_connections: number("PROXY_MAX_CONNECTIONS", d.max_connections)?,
        max_connections_per_peer: number(
            "PROXY_MAX_CONNECTIONS_PER_PEER",
            d.max_connections_per_peer,
        )?,
        max_buffered_body_bytes: number(
            "PROXY_MAX_BUFFERED_BODY_BYTES",
            d.max_buffered_body_bytes,
        )?,
    };
    checked(config)
}

/// Refuses limits that would disable a bound or serve nobody.
pub fn checked(c: ServerConfig) -> Result<ServerConfig, ConfigError> {
    let invalid = |name, reason: &str| {
        Err(ConfigError::Invalid {
            name,
            reason: reason.to_string(),
        })
    };
    for (name, v) in [
        ("PROXY_HEADER_TIMEOUT_SECS", c.header_timeout),
        ("PROXY_BODY_TIMEOUT_SECS", c.body_timeout),
        ("PROXY_WRITE_TIMEOUT_SECS", c.write_timeout),
        ("PROXY_CONNECTION_LIFETIME_SECS", c.connection_lifetime),
    ] {
        if v.is_zero() {
            return invalid(name, "must be at least 1");
        }
    }
    if c.max_connections == 0 {
        return invalid("PROXY_MAX_CONNECTIONS", "must be at least 1");
    }
    if c.max_connections_per_peer == 0 || c.max_connections_per_peer > c.max_connections {
        return invalid(
            "PROXY_MAX_CONNECTIONS_PER_PEER",
            "must be between 1 and PROXY_MAX_CONNECTIONS",
        );
    }
    if c.max_buffered_body_bytes < crate::authz::MAX_BODY_BYTES {
        return invalid(
            "PROXY_MAX_BUFFERED_BODY_BYTES",
            "must be at least the largest body the proxy takes (16 MiB)",
        );
    }
    Ok(c)
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Missing, not a proxy integration, its secret not bound to it, or unreadable.
    #[error("{0}")]
    NotServed(String),
}

/// The proxy for `settings.integration`, reading grants from `store` and its connector secret
/// (AWSCURRENT, bound to the integration) from `secrets`, both re-read every
/// `settings.config_ttl`.
pub async fn build(
    settings: &Settings,
    store: Arc<dyn Store>,
    secrets: Arc<dyn SecretStore>,
    http: Arc<HttpClients>,
    audit: Arc<dyn AuditSink>,
    clock: Arc<dyn Clock>,
) -> Result<Proxy, BuildError> {
    let live = Live::start(
        &settings.integration,
        Sources {
            store: store.clone(),
            secrets,
            http,
            connector_prefix: settings.connector_prefix.clone(),
            upstream_timeout: settings.upstream_timeout,
            ttl: settings.config_ttl,
        },
    )
    .await
    .map_err(BuildError::NotServed)?;
    Ok(Proxy {
        authn: Authenticator::new(store, &settings.integration, settings.cache_ttl),
        catalog: Catalog::new(settings.catalog_ttl),
        live,
        audit,
        clock,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_limits_that_disable_a_bound_are_refused() {
        assert!(checked(ServerConfig::default()).is_ok());
        let bad = [
            ServerConfig {
                write_timeout: Duration::ZERO,
                ..Default::default()
            },
            ServerConfig {
                connection_lifetime: Duration::ZERO,
                ..Default::default()
            },
            ServerConfig {
                max_connections_per_peer: 0,
                ..Default::default()
            },
            ServerConfig {
                max_connections: 10,
                max_connections_per_peer: 11,
                ..Default::default()
            },
            ServerConfig {
                max_buffered_body_bytes: 1024,
                ..Default::default()
            },
        ];
        for c in bad {
            assert!(checked(c.clone()).is_err(), "{c:?}");
        }
    }
}
