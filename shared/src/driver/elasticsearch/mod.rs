//! The Elasticsearch driver.

mod client;
pub mod discover;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::json;

pub use client::{ConnectorCredentials, EsClient};

use super::http::HttpClients;
use super::{DiscoveredResource, Driver, DriverError};
use crate::model::Integration;
use crate::secrets::SecretValue;

/// What the connector must hold. The seeds' role (cluster `monitor`, `manage_security`; index
/// `monitor` on `*`) plus `view_index_metadata` on `*`: without it `_resolve/index` and
/// `_mapping` silently return nothing, and `manage_security` already lets the connector grant
/// itself any privilege, so asking for it adds no power.
pub const REQUIRED_CLUSTER_PRIVILEGES: &[&str] = &["monitor", "manage_security"];
pub const REQUIRED_INDEX_PRIVILEGES: &[&str] = &["monitor", "view_index_metadata"];

pub struct EsDriver {
    es: EsClient,
    integration: Integration,
}

impl EsDriver {
    pub fn new(
        clients: &HttpClients,
        integration: &Integration,
        connector_secret: &SecretValue,
    ) -> Result<Self, DriverError> {
        let creds = ConnectorCredentials::from_secret(connector_secret)?;
        let url = integration
            .spec
            .url
            .as_deref()
            .ok_or_else(|| DriverError::Refused {
                reason: "the integration has no URL".into(),
            })?;
        let es = EsClient::new(
            clients,
            url,
            integration.spec.tls.ca_cert.as_deref(),
            creds.authorization()?,
        )?;
        Ok(Self {
            es,
            integration: integration.clone(),
        })
    }

    pub fn client(&self) -> &EsClient {
        &self.es
    }
}

#[async_trait]
impl Driver for EsDriver {
    async fn check_prerequisites(&self) -> Result<(), DriverError> {
        let body = json!({
            "cluster": REQUIRED_CLUSTER_PRIVILEGES,
            "index": [{"names": ["*"], "privileges": REQUIRED_INDEX_PRIVILEGES}],
        });
        let resp = self
            .es
            .json(
                Method::POST,
                "/_security/user/_has_privileges",
                Some(&body),
                true,
            )
            .await?;
        let mut missing = Vec::new();
        for p in REQUIRED_CLUSTER_PRIVILEGES {
            if resp["cluster"][p].as_bool() != Some(true) {
                missing.push(format!("cluster privilege [{p}]"));
            }
        }
        for p in REQUIRED_INDEX_PRIVILEGES {
            if resp["index"]["*"][p].as_bool() != Some(true) {
                missing.push(format!("index privilege [{p}] on [*]"));
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(DriverError::MissingPrivileges { missing })
        }
    }

    async fn discover(&self) -> Result<Vec<DiscoveredResource>, DriverError> {
        discover::discover(
            &self.es,
            &self.integration.spec.discovery,
            self.integration
                .spec
                .resource_owner
                .as_ref()
                .map(|o| o.tag_key.as_str()),
        )
        .await
    }
}
