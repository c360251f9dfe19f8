//! The Elasticsearch driver.

mod accounts;
mod client;
mod connector;
pub mod discover;
pub mod grants;
mod key_report;
mod kibana;
mod license;
pub mod proxy;
mod resolve;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::json;

pub use client::{ConnectorCredentials, EsClient};
pub use connector::API_KEY_ROTATION_REFUSED;

use super::http::HttpClients;
use super::{
    DiscoveredResource, Driver, DriverError, GrantPlan, IssuedCredential, ManagedObject,
    ProvisionFailure, Provisioned, RevokePlan,
};
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
    creds: ConnectorCredentials,
    integration: Integration,
    http: reqwest::Client,
    retry: super::http::RetryPolicy,
}

impl EsDriver {
    pub fn new(
        clients: &HttpClients,
        integration: &Integration,
        connector_secret: &SecretValue,
    ) -> Result<Self, DriverError> {
        let creds = ConnectorCredentials::from_secret(connector_secret)?;
        let es = client_for(clients, integration, &creds)?;
        Ok(Self {
            es,
            creds,
            integration: integration.clone(),
            http: clients.client(integration.spec.tls.ca_cert.as_deref())?,
            retry: clients.retry,
        })
    }

    pub fn client(&self) -> &EsClient {
        &self.es
    }

    /// A client for the same cluster authenticating with other credentials.
    fn client_with(&self, secret: &SecretValue) -> Result<EsClient, DriverError> {
        let creds = ConnectorCredentials::from_secret(secret)?;
        EsClient::from_parts(
            self.http.clone(),
            self.retry,
            self.url()?,
            creds.authorization()?,
        )
    }

    fn url(&self) -> Result<&str, DriverError> {
        self.integration
            .spec
            .url
            .as_deref()
            .ok_or_else(|| DriverError::Refused {
                reason: "the integration has no URL".into(),
            })
    }
}

fn client_for(
    clients: &HttpClients,
    integration: &Integration,
    creds: &ConnectorCredentials,
) -> Result<EsClient, DriverError> {
    let url = integration
        .spec
        .url
        .as_deref()
        .ok_or_else(|| DriverError::Refused {
            reason: "the integration has no URL".into(),
        })?;
    EsClient::new(
        clients,
        url,
        integration.spec.tls.ca_cert.as_deref(),
        creds.authorization()?,
    )
}

/// The integration's selection, with owners from its resource-owner tag (native and proxy
/// integrations discover alike).
pub(crate) async fn discover_selected(
    es: &EsClient,
    integration: &Integration,
) -> Result<Vec<DiscoveredResource>, DriverError> {
    discover::discover(
        es,
        &integration.spec.discovery,
        integration
            .spec
            .resource_owner
            .as_ref()
            .map(|o| o.tag_key.as_str()),
    )
    .await
}

async fn check_privileges(es: &EsClient) -> Result<(), DriverError> {
    let body = json!({
        "cluster": REQUIRED_CLUSTER_PRIVILEGES,
        "index": [{"names": ["*"], "privileges": REQUIRED_INDEX_PRIVILEGES}],
    });
    let resp = es
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

impl EsDriver {
    /// A client of the integration's Kibana, logging in with the connector's credentials.
    fn kibana(&self, url: &str) -> Result<EsClient, DriverError> {
        EsClient::from_parts(
            self.http.clone(),
            self.retry,
            url,
            self.creds.authorization()?,
        )
    }
}

#[async_trait]
impl Driver for EsDriver {
    async fn check_prerequisites(&self) -> Result<(), DriverError> {
        check_privileges(&self.es).await?;
        if self
            .integration
            .spec
            .custom_permissions
            .iter()
            .any(|c| c.uses_document_security())
        {
            license::check_document_security(&self.es).await?;
        }
        let spaces = self.integration.spec.kibana_spaces();
        if let (Some(url), false) = (&self.integration.spec.kibana_url, spaces.is_empty()) {
            kibana::check_spaces(&self.kibana(url)?, &spaces).await?;
        }
        Ok(())
    }

    async fn kibana_spaces(&self) -> Result<Vec<crate::model::KibanaSpace>, DriverError> {
        let Some(url) = &self.integration.spec.kibana_url else {
            return Err(DriverError::Refused {
                reason: "the integration names no kibana_url: type the space ids".into(),
            });
        };
        kibana::list_spaces(&self.kibana(url)?).await
    }

    async fn discover(&self) -> Result<Vec<DiscoveredResource>, DriverError> {
        discover_selected(&self.es, &self.integration).await
    }

    async fn provision(&self, plan: &GrantPlan) -> Result<Provisioned, ProvisionFailure> {
        grants::provision(&self.es, self.integration.user_prefix(), plan).await
    }

    async fn revoke(&self, plan: &RevokePlan) -> Result<(), DriverError> {
        grants::revoke(&self.es, plan).await
    }

    async fn renew_api_key(
        &self,
        plan: &GrantPlan,
        key_name: &str,
    ) -> Result<IssuedCredential, DriverError> {
        grants::renew_api_key(&self.es, plan, key_name).await
    }

    async fn set_principal_password(
        &self,
        name: &str,
        password: &SecretValue,
    ) -> Result<(), DriverError> {
        accounts::set_password(&self.es, name, password).await
    }

    async fn delete_principal(&self, name: &str) -> Result<(), DriverError> {
        accounts::delete_user(&self.es, name).await
    }

    async fn list_managed(&self) -> Result<Vec<ManagedObject>, DriverError> {
        accounts::list_managed(&self.es, self.integration.user_prefix()).await
    }

    async fn resolve_names(
        &self,
        names: &[String],
    ) -> Result<Vec<crate::grant_scope::ResolvedName>, DriverError> {
        resolve::resolve(&self.es, names).await
    }

    async fn api_key_report(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::key_hygiene::ApiKeyReport, DriverError> {
        key_report::report(
            &self.es,
            self.integration.spec.api_key_max_lifetime_days,
            now,
        )
        .await
    }

    async fn create_connector_secret(&self) -> Result<SecretValue, DriverError> {
        connector::next_secret(&self.creds)
    }

    async fn set_connector_secret(&self, pending: &SecretValue) -> Result<(), DriverError> {
        connector::username_of(&self.creds)?;
        let pending_client = self.client_with(pending)?;
        connector::set(&self.es, &pending_client, pending).await
    }

    async fn test_connector_secret(&self, pending: &SecretValue) -> Result<(), DriverError> {
        check_privileges(&self.client_with(pending)?).await
    }

    /// A password connector's old password stopped working when the new one was set:
    /// nothing is left to retire.
    async fn retire_connector_secret(
        &self,
        _old: &SecretValue,
        _new: &SecretValue,
    ) -> Result<(), DriverError> {
        connector::username_of(&self.creds).map(|_| ())
    }
}
