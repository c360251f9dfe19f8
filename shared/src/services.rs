//! The clients and settings the grant-handling functions share (provision, revoke, cleanup),
//! built once per process and borrowed into each invocation.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::{optional, required};
use crate::credentials::DEFAULT_SECRET_PREFIX;
use crate::driver::http::HttpClients;
use crate::grants::{GrantConfig, Grants};
use crate::model::DEFAULT_CONNECTOR_PREFIX;
use crate::revocation::{RevokeRetry, Revoker};
use crate::scheduler::{EventBridgeScheduler, ExpiryScheduler, SchedulerConfig};
use crate::secrets::{SecretStore, SecretsManager};
use crate::store::{DynamoStore, Store, StoreConfig};
use crate::targets::{DriverFactory, Targets};

pub struct Services {
    pub store: Arc<dyn Store>,
    pub secrets: Arc<dyn SecretStore>,
    pub targets: Arc<dyn DriverFactory>,
    pub scheduler: Arc<dyn ExpiryScheduler>,
    pub clock: Arc<dyn Clock>,
    pub config: GrantConfig,
}

impl Services {
    /// Environment: TABLE_NAME, CREDENTIAL_SECRET_PREFIX, CONNECTOR_SECRET_PREFIX,
    /// MAX_OPEN_REQUESTS; the AWS SDK's own variables (`AWS_ENDPOINT_URL` included).
    pub async fn from_env(
        scheduler: SchedulerConfig,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let table = required("TABLE_NAME")?;
        let aws = aws_config::load_from_env().await;
        let secrets: Arc<dyn SecretStore> = Arc::new(SecretsManager::new(
            aws_sdk_secretsmanager::Client::new(&aws),
        ));
        Ok(Self {
            store: Arc::new(DynamoStore::with_config(
                aws_sdk_dynamodb::Client::new(&aws),
                StoreConfig::from_env(table)?,
            )),
            targets: Arc::new(
                Targets::new(HttpClients::new()?, secrets.clone()).with_connector_prefix(optional(
                    "CONNECTOR_SECRET_PREFIX",
                    DEFAULT_CONNECTOR_PREFIX,
                )),
            ),
            secrets,
            scheduler: Arc::new(EventBridgeScheduler::new(
                aws_sdk_scheduler::Client::new(&aws),
                scheduler,
            )),
            clock: Arc::new(SystemClock),
            config: GrantConfig {
                secret_prefix: optional("CREDENTIAL_SECRET_PREFIX", DEFAULT_SECRET_PREFIX),
            },
        })
    }

    pub fn grants(&self) -> Grants<'_> {
        Grants {
            store: &*self.store,
            secrets: &*self.secrets,
            targets: &*self.targets,
            scheduler: &*self.scheduler,
            clock: &*self.clock,
            cfg: &self.config,
        }
    }

    pub fn revoker(&self, retry: RevokeRetry, function: &'static str) -> Revoker<'_> {
        Revoker {
            grants: self.grants(),
            retry,
            function,
        }
    }
}
