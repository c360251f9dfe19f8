//! A driver that survives a connector rotation: it authenticates with the version it was built
//! from and, when the target answers that those credentials are rejected, re-reads AWSCURRENT
//! and AWSPENDING (past any cache) and repeats the call once with each other value, keeping the
//! one that works for later calls.
//!
//! Why both: between `setSecret` and `finishSecret` the target holds AWSPENDING while
//! AWSCURRENT still names the old value; after `finishSecret` a warm function's cached copy is
//! the old value. A call is repeated only when the target refused to authenticate it, so nothing
//! was done: a provision that already made something is never repeated.

use std::future::Future;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use crate::driver::http::HttpClients;
use crate::driver::{
    DiscoveredResource, Driver, DriverError, GrantPlan, IssuedCredential, ManagedObject,
    ProvisionFailure, Provisioned, RevokePlan,
};
use crate::model::Integration;
use crate::secrets::{AWSCURRENT, AWSPENDING, SecretStore, SecretValue};

use super::build_driver;

#[derive(Clone)]
struct Active {
    driver: Arc<dyn Driver>,
    secret: SecretValue,
}

pub struct ConnectorDriver {
    active: RwLock<Active>,
    http: Arc<HttpClients>,
    secrets: Arc<dyn SecretStore>,
    integration: Integration,
}

fn rejected(e: &DriverError) -> bool {
    matches!(e, DriverError::Unauthorized { .. })
}

impl ConnectorDriver {
    pub fn new(
        driver: Arc<dyn Driver>,
        secret: SecretValue,
        http: Arc<HttpClients>,
        secrets: Arc<dyn SecretStore>,
        integration: Integration,
    ) -> Self {
        Self {
            active: RwLock::new(Active { driver, secret }),
            http,
            secrets,
            integration,
        }
    }

    fn active(&self) -> Active {
        self.active
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn adopt(&self, next: Active) {
        *self.active.write().unwrap_or_else(|e| e.into_inner()) = next;
    }

    /// The stored values other than `rejected`, read now: AWSCURRENT first, then AWSPENDING.
    async fn alternatives(&self, rejected: &SecretValue) -> Vec<(&'static str, Active)> {
        let id = &self.integration.spec.secret_arn;
        self.secrets.invalidate(id);
        let mut out: Vec<(&'static str, Active)> = Vec::new();
        for stage in [AWSCURRENT, AWSPENDING] {
            let secret = match self.secrets.get(id, stage).await {
                Ok(s) => s,
                // No rotation in progress (no AWSPENDING), or the read failed: nothing to try.
                Err(e) => {
                    tracing::debug!(integration = %self.integration.name, stage, error = %e, "no alternative connector secret");
                    continue;
                }
            };
            let seen = secret.expose() == rejected.expose()
                || out
                    .iter()
                    .any(|(_, a)| a.secret.expose() == secret.expose());
            if seen {
                continue;
            }
            match build_driver(&self.http, &self.integration, &secret) {
                Ok(d) => out.push((
                    stage,
                    Active {
                        driver: Arc::from(d),
                        secret,
                    },
                )),
                Err(e) => {
                    tracing::warn!(integration = %self.integration.name, stage, code = e.code(), "stored connector secret is unusable");
                }
            }
        }
        out
    }

    /// Run `call` with the active credentials, and once with each other stored value if the
    /// target rejects them (`is_rejected` says so for the call's error type).
    async fn run<T, E, F, Fut>(
        &self,
        operation: &'static str,
        call: F,
        is_rejected: impl Fn(&E) -> bool + Send,
    ) -> Result<T, E>
    where
        F: Fn(Arc<dyn Driver>) -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send,
        T: Send,
        E: Send,
    {
        let first = self.active();
        let result = call(first.driver.clone()).await;
        match &result {
            Err(e) if is_rejected(e) => {}
            _ => return result,
        }
        for (stage, alt) in self.alternatives(&first.secret).await {
            tracing::warn!(
                integration = %self.integration.name,
                operation,
                stage,
                "the target rejected the connector credentials; retrying with the other stored version (a rotation is in progress or just finished)"
            );
            let r = call(alt.driver.clone()).await;
            match &r {
                Err(e) if is_rejected(e) => continue,
                Ok(_) => {
                    self.adopt(alt);
                    return r;
                }
                Err(_) => return r,
            }
        }
        result
    }
}

#[async_trait]
impl Driver for ConnectorDriver {
    async fn check_prerequisites(&self) -> Result<(), DriverError> {
        self.run(
            "check_prerequisites",
            |d| async move { d.check_prerequisites().await },
            rejected,
        )
        .await
    }

    async fn discover(&self) -> Result<Vec<DiscoveredResource>, DriverError> {
        self.run("discover", |d| async move { d.discover().await }, rejected)
            .await
    }

    async fn provision(&self, plan: &GrantPlan) -> Result<Provisioned, ProvisionFailure> {
        self.run(
            "provision",
            |d| async move { d.provision(plan).await },
            // Only a provision that made nothing may run again.
            |f: &ProvisionFailure| rejected(&f.error) && f.created.is_empty(),
        )
        .await
    }

    async fn revoke(&self, plan: &RevokePlan) -> Result<(), DriverError> {
        self.run("revoke", |d| async move { d.revoke(plan).await }, rejected)
            .await
    }

    async fn renew_api_key(
        &self,
        plan: &GrantPlan,
        key_name: &str,
    ) -> Result<IssuedCredential, DriverError> {
        self.run(
            "renew_api_key",
            |d| async move { d.renew_api_key(plan, key_name).await },
            rejected,
        )
        .await
    }

    async fn set_principal_password(
        &self,
        name: &str,
        password: &SecretValue,
    ) -> Result<(), DriverError> {
        self.run(
            "set_principal_password",
            |d| async move { d.set_principal_password(name, password).await },
            rejected,
        )
        .await
    }

    async fn delete_principal(&self, name: &str) -> Result<(), DriverError> {
        self.run(
            "delete_principal",
            |d| async move { d.delete_principal(name).await },
            rejected,
        )
        .await
    }

    async fn list_managed(&self) -> Result<Vec<ManagedObject>, DriverError> {
        self.run(
            "list_managed",
            |d| async move { d.list_managed().await },
            rejected,
        )
        .await
    }

    async fn resolve_names(
        &self,
        names: &[String],
    ) -> Result<Vec<crate::grant_scope::ResolvedName>, DriverError> {
        self.run(
            "resolve_names",
            |d| async move { d.resolve_names(names).await },
            rejected,
        )
        .await
    }

    async fn api_key_report(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::key_hygiene::ApiKeyReport, DriverError> {
        self.run(
            "api_key_report",
            |d| async move { d.api_key_report(now).await },
            rejected,
        )
        .await
    }

    async fn kibana_spaces(&self) -> Result<Vec<crate::model::KibanaSpace>, DriverError> {
        self.run(
            "kibana_spaces",
            |d| async move { d.kibana_spaces().await },
            rejected,
        )
        .await
    }

    async fn create_connector_secret(&self) -> Result<SecretValue, DriverError> {
        self.run(
            "create_connector_secret",
            |d| async move { d.create_connector_secret().await },
            rejected,
        )
        .await
    }

    async fn set_connector_secret(&self, pending: &SecretValue) -> Result<(), DriverError> {
        self.run(
            "set_connector_secret",
            |d| async move { d.set_connector_secret(pending).await },
            rejected,
        )
        .await
    }

    async fn test_connector_secret(&self, pending: &SecretValue) -> Result<(), DriverError> {
        self.run(
            "test_connector_secret",
            |d| async move { d.test_connector_secret(pending).await },
            rejected,
        )
        .await
    }

    async fn retire_connector_secret(
        &self,
        old: &SecretValue,
        new: &SecretValue,
    ) -> Result<(), DriverError> {
        self.run(
            "retire_connector_secret",
            |d| async move { d.retire_connector_secret(old, new).await },
            rejected,
        )
        .await
    }
}
