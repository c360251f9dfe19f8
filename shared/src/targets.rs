//! Builds the driver for an integration: reads its connector secret and picks the target kind.
//! HTTP clients are built once per process and shared by every driver.
//!
//! The driver handed out authenticates with AWSCURRENT and, when the target rejects those
//! credentials, with whatever AWSCURRENT and AWSPENDING hold now ([`failover`]): during a
//! connector rotation the target may already hold the pending value, and a warm function's
//! cached copy may be older than the last `finishSecret`. Every caller gets this by asking for
//! a driver; none repeats it.

mod failover;

use std::sync::Arc;

use crate::driver::cloud::CloudDriver;
use crate::driver::elasticsearch::EsDriver;
use crate::driver::elasticsearch::proxy::EsProxyDriver;
use crate::driver::http::HttpClients;
use crate::driver::{Driver, DriverError};
use crate::model::{Integration, IntegrationKind, secret_bound_to};
use crate::secrets::{AWSCURRENT, SecretStore, SecretValue, SecretsError};

pub use failover::ConnectorDriver;

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Secret(#[from] SecretsError),
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// The integration names a connector secret that is not its own (see
    /// [`crate::model::secret_bound_to`]); the secret is not read.
    #[error("integration {integration} names a connector secret that is not bound to it")]
    NotBound { integration: String },
}

impl From<TargetError> for crate::api::ApiError {
    fn from(e: TargetError) -> Self {
        match e {
            TargetError::Secret(s) => s.into(),
            TargetError::Driver(d) => d.into(),
            TargetError::NotBound { .. } => {
                crate::api::ApiError::bad_request("connector_secret_not_bound", e.to_string())
            }
        }
    }
}

#[async_trait::async_trait]
pub trait DriverFactory: Send + Sync {
    /// The integration's driver, authenticating with its connector secret (AWSCURRENT, then
    /// AWSPENDING when the target rejects it).
    async fn driver(&self, integration: &Integration) -> Result<Box<dyn Driver>, TargetError>;

    /// The name prefix an integration's connector secret must have (registration checks it
    /// with the same rule [`ensure_bound`] applies before every read).
    fn connector_prefix(&self) -> &str;

    /// A driver authenticating with exactly `secret`, without falling over to another version
    /// (rotation's `setSecret` chooses which stored version to log in with).
    async fn driver_with_secret(
        &self,
        integration: &Integration,
        secret: &SecretValue,
    ) -> Result<Box<dyn Driver>, TargetError>;
}

pub struct Targets {
    pub http: Arc<HttpClients>,
    pub secrets: Arc<dyn SecretStore>,
    /// Name prefix of connector secrets (`CONNECTOR_SECRET_PREFIX`).
    pub connector_prefix: String,
}

impl Targets {
    pub fn new(http: HttpClients, secrets: Arc<dyn SecretStore>) -> Self {
        Self {
            http: Arc::new(http),
            secrets,
            connector_prefix: crate::model::DEFAULT_CONNECTOR_PREFIX.to_string(),
        }
    }

    pub fn with_connector_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.connector_prefix = prefix.into();
        self
    }
}

/// Checked before every read of a connector secret: a record edited by hand (or stored before
/// the binding existed) must not send one integration's credentials to another's URL.
pub fn ensure_bound(integration: &Integration, prefix: &str) -> Result<(), TargetError> {
    if secret_bound_to(&integration.spec.secret_arn, &integration.name, prefix) {
        Ok(())
    } else {
        Err(TargetError::NotBound {
            integration: integration.name.clone(),
        })
    }
}

/// The target kind's driver for `integration`, authenticating with `secret`.
pub fn build_driver(
    http: &HttpClients,
    integration: &Integration,
    secret: &SecretValue,
) -> Result<Box<dyn Driver>, DriverError> {
    Ok(match integration.kind() {
        IntegrationKind::Elasticsearch if integration.is_proxy() => {
            Box::new(EsProxyDriver::new(http, integration, secret)?)
        }
        IntegrationKind::Elasticsearch => Box::new(EsDriver::new(http, integration, secret)?),
        IntegrationKind::ElasticCloud => Box::new(CloudDriver::new(http, integration, secret)?),
    })
}

#[async_trait::async_trait]
impl DriverFactory for Targets {
    fn connector_prefix(&self) -> &str {
        &self.connector_prefix
    }

    async fn driver(&self, integration: &Integration) -> Result<Box<dyn Driver>, TargetError> {
        ensure_bound(integration, &self.connector_prefix)?;
        let secret = self
            .secrets
            .get(&integration.spec.secret_arn, AWSCURRENT)
            .await?;
        let first = build_driver(&self.http, integration, &secret)?;
        Ok(Box::new(ConnectorDriver::new(
            Arc::from(first),
            secret,
            self.http.clone(),
            self.secrets.clone(),
            integration.clone(),
        )))
    }

    async fn driver_with_secret(
        &self,
        integration: &Integration,
        secret: &SecretValue,
    ) -> Result<Box<dyn Driver>, TargetError> {
        ensure_bound(integration, &self.connector_prefix)?;
        Ok(build_driver(&self.http, integration, secret)?)
    }
}
