//! The Elastic Cloud driver (organization roles, deployments and serverless projects).
//!
//! Access is given as Cloud role assignments to organization members, or as invitations for
//! people who are not members yet. Members log in with Elastic's own login, so there are no
//! accounts or credentials for elastic-jit to create.

mod client;
mod connector;
mod discover;
mod grants;
pub(crate) mod roles;

use async_trait::async_trait;

pub use client::{API_BASE_PATH, CloudClient, CloudCredentials};
pub use connector::{
    KEY_ID_REQUIRED, MISSING_OWNER_ROLE, OLD_KEY_WITHOUT_ID, REQUIRED_ROLE, key_lifetime_days,
};

use super::http::HttpClients;
use super::{
    DiscoveredResource, Driver, DriverError, GrantPlan, ManagedObject, ProvisionFailure,
    Provisioned, RevokePlan,
};
use crate::model::Integration;
use crate::secrets::SecretValue;

/// Why the orphan sweep cannot run on Cloud.
pub const NO_MANAGED_MARKER: &str = "Elastic Cloud role assignments and invitations carry no \
managed-by marker, so what elastic-jit made cannot be told apart from the rest; the orphan sweep \
covers Elasticsearch only, and Cloud objects are removed from the grants' records";

/// Why account operations are refused on Cloud.
pub const NO_ACCOUNTS: &str = "Elastic Cloud members sign in with Elastic's own login and are \
never created by elastic-jit: there is no account password to set or account to delete";

pub struct CloudDriver {
    cloud: CloudClient,
    organization_id: String,
    /// The connector key's id, to read its own role assignments.
    key_id: Option<String>,
    integration: Integration,
}

impl CloudDriver {
    pub fn new(
        clients: &HttpClients,
        integration: &Integration,
        connector_secret: &SecretValue,
    ) -> Result<Self, DriverError> {
        let organization_id = integration
            .spec
            .organization_id
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .ok_or_else(|| DriverError::Refused {
                reason: "the Elastic Cloud integration has no organization_id".into(),
            })?
            .to_string();
        let creds = CloudCredentials::from_secret(connector_secret)?;
        let cloud = CloudClient::new(
            clients.client(integration.spec.tls.ca_cert.as_deref())?,
            clients.retry,
            integration.cloud_api_url(),
            creds.authorization()?,
        )?;
        Ok(Self {
            cloud,
            organization_id,
            key_id: creds.api_key_id.clone(),
            integration: integration.clone(),
        })
    }

    pub fn client(&self) -> &CloudClient {
        &self.cloud
    }

    pub fn organization_id(&self) -> &str {
        &self.organization_id
    }

    /// The same API authenticating with another connector secret.
    fn client_with(&self, secret: &SecretValue) -> Result<CloudClient, DriverError> {
        let creds = CloudCredentials::from_secret(secret)?;
        Ok(self.cloud.with_auth(creds.authorization()?))
    }
}

#[async_trait]
impl Driver for CloudDriver {
    async fn check_prerequisites(&self) -> Result<(), DriverError> {
        connector::check(&self.cloud, &self.organization_id, self.key_id.as_deref()).await
    }

    async fn discover(&self) -> Result<Vec<DiscoveredResource>, DriverError> {
        discover::discover(
            &self.cloud,
            &self.organization_id,
            &self.integration.spec.discovery,
            self.integration
                .spec
                .resource_owner
                .as_ref()
                .map(|o| o.tag_key.as_str()),
        )
        .await
    }

    async fn provision(&self, plan: &GrantPlan) -> Result<Provisioned, ProvisionFailure> {
        grants::provision(&self.cloud, &self.organization_id, plan).await
    }

    async fn revoke(&self, plan: &RevokePlan) -> Result<(), DriverError> {
        grants::revoke(&self.cloud, &self.organization_id, plan).await
    }

    async fn set_principal_password(
        &self,
        _name: &str,
        _password: &SecretValue,
    ) -> Result<(), DriverError> {
        Err(DriverError::Refused {
            reason: NO_ACCOUNTS.into(),
        })
    }

    async fn delete_principal(&self, _name: &str) -> Result<(), DriverError> {
        Err(DriverError::Refused {
            reason: NO_ACCOUNTS.into(),
        })
    }

    async fn list_managed(&self) -> Result<Vec<ManagedObject>, DriverError> {
        Err(DriverError::Refused {
            reason: NO_MANAGED_MARKER.into(),
        })
    }

    async fn create_connector_secret(&self) -> Result<SecretValue, DriverError> {
        connector::create(
            &self.cloud,
            &self.organization_id,
            &self.integration.name,
            self.integration.spec.credential_rotation_days,
        )
        .await
    }

    /// The key was made in `createSecret`; here it only has to prove it authenticates, which
    /// also holds when an earlier attempt of this step already ran.
    async fn set_connector_secret(&self, pending: &SecretValue) -> Result<(), DriverError> {
        let pending = self.client_with(pending)?;
        connector::organization(&pending, &self.organization_id)
            .await
            .map(|_| ())
    }

    async fn test_connector_secret(&self, pending: &SecretValue) -> Result<(), DriverError> {
        let key_id = CloudCredentials::from_secret(pending)?.api_key_id;
        connector::check(
            &self.client_with(pending)?,
            &self.organization_id,
            key_id.as_deref(),
        )
        .await
    }

    async fn retire_connector_secret(
        &self,
        old: &SecretValue,
        new: &SecretValue,
    ) -> Result<(), DriverError> {
        let old = CloudCredentials::from_secret(old)?;
        let new_creds = CloudCredentials::from_secret(new)?;
        let new_client = self.cloud.with_auth(new_creds.authorization()?);
        connector::retire(&new_client, &old, &new_creds).await
    }
}
