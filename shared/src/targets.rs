//! Builds the driver for an integration: reads its connector secret (AWSCURRENT) and picks
//! the target kind. HTTP clients are built once per process and shared by every driver.

use std::sync::Arc;

use crate::driver::cloud::CloudDriver;
use crate::driver::elasticsearch::EsDriver;
use crate::driver::http::HttpClients;
use crate::driver::{Driver, DriverError};
use crate::model::{Integration, IntegrationKind};
use crate::secrets::{AWSCURRENT, SecretStore, SecretsError};

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Secret(#[from] SecretsError),
    #[error(transparent)]
    Driver(#[from] DriverError),
}

impl From<TargetError> for crate::api::ApiError {
    fn from(e: TargetError) -> Self {
        match e {
            TargetError::Secret(s) => s.into(),
            TargetError::Driver(d) => d.into(),
        }
    }
}

#[async_trait::async_trait]
pub trait DriverFactory: Send + Sync {
    async fn driver(&self, integration: &Integration) -> Result<Box<dyn Driver>, TargetError>;
}

pub struct Targets {
    pub http: HttpClients,
    pub secrets: Arc<dyn SecretStore>,
}

impl Targets {
    pub fn new(http: HttpClients, secrets: Arc<dyn SecretStore>) -> Self {
        Self { http, secrets }
    }
}

#[async_trait::async_trait]
impl DriverFactory for Targets {
    async fn driver(&self, integration: &Integration) -> Result<Box<dyn Driver>, TargetError> {
        let secret = self
            .secrets
            .get(&integration.spec.secret_arn, AWSCURRENT)
            .await?;
        match integration.kind() {
            IntegrationKind::Elasticsearch => {
                Ok(Box::new(EsDriver::new(&self.http, integration, &secret)?))
            }
            IntegrationKind::ElasticCloud => Ok(Box::new(CloudDriver::new(
                &self.http,
                integration,
                &secret,
            )?)),
        }
    }
}
