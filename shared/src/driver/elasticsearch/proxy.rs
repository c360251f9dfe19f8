//! The driver of an `authorization: proxy` integration: the cluster's own security is off (or
//! not used), so a grant is a proxy credential the authorizing proxy checks, and nothing is ever
//! created on the cluster. Discovery reads the cluster as the native driver does, with whatever
//! the connector secret gives (nothing, a user, or an API key).

use async_trait::async_trait;
use reqwest::Method;
use reqwest::header::HeaderValue;

use super::client::{ConnectorCredentials, EsClient};
use crate::driver::http::HttpClients;
use crate::driver::{
    DiscoveredResource, Driver, DriverError, GrantPlan, ManagedObject, ProvisionFailure,
    Provisioned, RevokePlan,
};
use crate::model::{Integration, ResolvedPermission, TargetObject};
use crate::proxy_credentials;
use crate::secrets::SecretValue;

/// Why a proxy integration's connector cannot be rotated by elastic-jit.
pub const PROXY_ROTATION_REFUSED: &str = "the integration's authorization is \"proxy\": its \
connector secret is whatever reaches the cluster (nothing, a user or an API key that elastic-jit \
does not manage); replace the secret's value yourself";

/// The header a proxy integration's connector secret gives: `{}` for a cluster without
/// security (no header), else the native forms (`username`/`password` or `api_key`).
pub fn connector_authorization(secret: &SecretValue) -> Result<Option<HeaderValue>, DriverError> {
    let raw: serde_json::Value =
        secret
            .parse_json()
            .map_err(|e| DriverError::BadConnectorSecret {
                reason: e.to_string(),
            })?;
    match raw.as_object() {
        Some(o) if o.is_empty() => Ok(None),
        Some(_) => ConnectorCredentials::from_secret(secret)?
            .authorization()
            .map(Some),
        None => Err(DriverError::BadConnectorSecret {
            reason: "expected a JSON object: {} (no authentication), {\"username\",\"password\"} \
                     or {\"api_key\"}"
                .into(),
        }),
    }
}

pub struct EsProxyDriver {
    es: EsClient,
    anonymous: bool,
    integration: Integration,
}

impl EsProxyDriver {
    pub fn new(
        clients: &HttpClients,
        integration: &Integration,
        connector_secret: &SecretValue,
    ) -> Result<Self, DriverError> {
        let auth = connector_authorization(connector_secret)?;
        let anonymous = auth.is_none();
        let url = integration
            .spec
            .url
            .as_deref()
            .ok_or_else(|| DriverError::Refused {
                reason: "the integration has no URL".into(),
            })?;
        let es = EsClient::new(clients, url, integration.spec.tls.ca_cert.as_deref(), auth)?;
        Ok(Self {
            es,
            anonymous,
            integration: integration.clone(),
        })
    }
}

fn refused(reason: &str) -> DriverError {
    DriverError::Refused {
        reason: reason.into(),
    }
}

#[async_trait]
impl Driver for EsProxyDriver {
    /// The cluster answers the info API and `_resolve/index` (what the proxy's catalog and
    /// discovery read). With an empty connector secret a 401 means the cluster's security is on:
    /// then the proxy could not reach it either, and native authorization is the right mode.
    /// With credentials the cluster's security may be on; the connector's own privileges are
    /// then the ceiling of every grant (README "Proxy mode").
    async fn check_prerequisites(&self) -> Result<(), DriverError> {
        match self.es.json(Method::GET, "/", None, true).await {
            Ok(_) => {}
            Err(DriverError::Unauthorized { .. }) if self.anonymous => {
                return Err(refused(
                    "the cluster requires authentication (its security is on): give the \
                     connector secret credentials, or use authorization \"native\"",
                ));
            }
            Err(e) => return Err(e),
        }
        self.es
            .json(
                Method::GET,
                "/_resolve/index/*?expand_wildcards=all",
                None,
                true,
            )
            .await
            .map(|_| ())
    }

    async fn discover(&self) -> Result<Vec<DiscoveredResource>, DriverError> {
        super::discover_selected(&self.es, &self.integration).await
    }

    /// Issues the grant's proxy credential; the cluster is not called.
    async fn provision(&self, plan: &GrantPlan) -> Result<Provisioned, ProvisionFailure> {
        let ResolvedPermission::EsIndex { privileges, .. } = &plan.permission else {
            return Err(ProvisionFailure {
                error: refused("an Elasticsearch grant needs index privileges"),
                created: vec![],
            });
        };
        // Refused when the permission is saved; a record from before would otherwise be
        // granted less than its approvers were shown.
        if plan.permission.carries_role_template() {
            return Err(ProvisionFailure {
                error: refused(
                    "the proxy cannot enforce remote_indices, a document query, field security \
                     or Kibana privileges",
                ),
                created: vec![],
            });
        }
        let issued =
            proxy_credentials::issue(self.integration.user_prefix(), &plan.grant_id, privileges);
        Ok(Provisioned {
            objects: vec![TargetObject::ProxyCredential {
                username: issued.username.clone(),
                key_id: issued.key_id.clone(),
            }],
            credential: None,
            proxy: Some(issued),
        })
    }

    /// The credential dies with the grant's record leaving `active` (and at its end in the
    /// proxy itself): nothing on the cluster to remove.
    async fn revoke(&self, _plan: &RevokePlan) -> Result<(), DriverError> {
        Ok(())
    }

    async fn set_principal_password(
        &self,
        _name: &str,
        _password: &SecretValue,
    ) -> Result<(), DriverError> {
        Err(refused(
            "a proxy integration has no accounts on the cluster to set passwords on",
        ))
    }

    /// No account exists on the cluster: cleaning one up has nothing to do.
    async fn delete_principal(&self, _name: &str) -> Result<(), DriverError> {
        Ok(())
    }

    /// Nothing elastic-jit makes lives on the cluster, so the orphan sweep finds nothing there.
    async fn list_managed(&self) -> Result<Vec<ManagedObject>, DriverError> {
        Ok(Vec::new())
    }

    async fn create_connector_secret(&self) -> Result<SecretValue, DriverError> {
        Err(refused(PROXY_ROTATION_REFUSED))
    }

    async fn set_connector_secret(&self, _pending: &SecretValue) -> Result<(), DriverError> {
        Err(refused(PROXY_ROTATION_REFUSED))
    }

    async fn test_connector_secret(&self, _pending: &SecretValue) -> Result<(), DriverError> {
        Err(refused(PROXY_ROTATION_REFUSED))
    }

    async fn retire_connector_secret(
        &self,
        _old: &SecretValue,
        _new: &SecretValue,
    ) -> Result<(), DriverError> {
        Err(refused(PROXY_ROTATION_REFUSED))
    }
}
