//! The rotate function: the Secrets Manager rotation Lambda of connector secrets (the four-step
//! protocol), `POST /integrations/{name}/rotate` to start a rotation now, and the daily
//! rotation of requester passwords (`credential_rotation_days`).
#![forbid(unsafe_code)]

mod api;
mod connector;
pub mod schedule;

use std::sync::Arc;

use lambda_runtime::Diagnostic;
use shared::api::{ApiError, ApiRequest, AuthConfig, Caller, Incoming};
use shared::clock::{Clock, SystemClock};
use shared::driver::http::HttpClients;
use shared::secrets::{SecretStore, SecretsManager};
use shared::store::{AuditStore, DynamoStore, IntegrationStore, PrincipalStore};
use shared::targets::{DriverFactory, Targets};

/// What the handlers need from the state store.
pub trait Store: IntegrationStore + PrincipalStore + AuditStore {}
impl<T: IntegrationStore + PrincipalStore + AuditStore> Store for T {}

/// The HTTP routes this function serves.
pub const ROUTES: &[shared::api::Route] = &[shared::api::Route {
    method: "POST",
    path: "/integrations/{name}/rotate",
}];

pub struct App {
    pub store: Arc<dyn Store>,
    pub secrets: Arc<dyn SecretStore>,
    pub targets: Arc<dyn DriverFactory>,
    pub clock: Arc<dyn Clock>,
    pub auth: AuthConfig,
    /// This function's name (`AWS_LAMBDA_FUNCTION_NAME`), named in "how to enable rotation".
    pub function_name: Option<String>,
}

/// A failed invocation, reported to Lambda (and so to Secrets Manager) with a stable type:
/// `Rotation.Retryable.<code>` or `Rotation.NonRetryable.<code>`. Never carries a secret.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HandlerError {
    pub error_type: String,
    pub message: String,
    pub retryable: bool,
}

impl HandlerError {
    pub fn new(code: &str, retryable: bool, message: impl Into<String>) -> Self {
        let kind = if retryable {
            "Retryable"
        } else {
            "NonRetryable"
        };
        Self {
            error_type: format!("Rotation.{kind}.{code}"),
            message: message.into(),
            retryable,
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        Diagnostic {
            error_type: e.error_type,
            error_message: e.message,
        }
    }
}

impl From<serde_json::Error> for HandlerError {
    fn from(e: serde_json::Error) -> Self {
        // serde's messages name fields and types, not values of secrets (events carry none).
        Self::new(
            "invalid_event",
            false,
            format!("the event could not be read: {e}"),
        )
    }
}

impl App {
    /// Clients are built once per process and shared by every invocation.
    pub async fn from_env() -> Result<Self, lambda_runtime::Error> {
        let cfg = shared::config::CommonConfig::from_env()?;
        let aws = shared::config::aws_sdk_config().await;
        let secrets: Arc<dyn SecretStore> = Arc::new(SecretsManager::new(
            aws_sdk_secretsmanager::Client::new(&aws),
        ));
        Ok(Self {
            store: Arc::new(DynamoStore::new(
                aws_sdk_dynamodb::Client::new(&aws),
                cfg.table,
            )),
            targets: Arc::new(
                Targets::new(HttpClients::new()?, secrets.clone()).with_connector_prefix(
                    shared::config::optional(
                        "CONNECTOR_SECRET_PREFIX",
                        shared::model::DEFAULT_CONNECTOR_PREFIX,
                    ),
                ),
            ),
            secrets,
            clock: Arc::new(SystemClock),
            auth: cfg.auth,
            function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok(),
        })
    }

    /// Handle `event` so that it answers before `deadline` (the invocation's): target calls
    /// get what is left minus the time kept for recording, and a step cut short fails as
    /// retryable for Secrets Manager to deliver again.
    pub async fn handle_within(
        &self,
        event: serde_json::Value,
        deadline: std::time::Instant,
    ) -> Result<serde_json::Value, HandlerError> {
        shared::services::within_invocation(deadline, self.handle(event)).await
    }

    pub async fn handle(
        &self,
        event: serde_json::Value,
    ) -> Result<serde_json::Value, HandlerError> {
        match Incoming::classify(event)? {
            Incoming::Http(e) => Ok(serde_json::to_value(shared::api::serve(self, &e).await)?),
            Incoming::Scheduled(_) => Ok(serde_json::to_value(
                schedule::rotate_requesters(self).await,
            )?),
            Incoming::Direct(v) if v.get("Step").is_some() => {
                let event: connector::RotationEvent = serde_json::from_value(v)?;
                connector::handle(self, &event).await
            }
            Incoming::Direct(_) | Incoming::CustomResource(_) => Err(HandlerError::new(
                "invalid_event",
                false,
                "rotate accepts Secrets Manager rotation events, API Gateway HTTP API events and schedule events",
            )),
        }
    }
}

#[async_trait::async_trait]
impl shared::api::Routes for App {
    fn auth(&self) -> &AuthConfig {
        &self.auth
    }

    async fn dispatch(
        &self,
        req: &ApiRequest,
        caller: &Caller,
    ) -> Result<aws_lambda_events::apigw::ApiGatewayV2httpResponse, ApiError> {
        let (_, params) = shared::api::match_route(ROUTES, &req.method, &req.segments())?;
        let name = params.first().map(String::as_str).unwrap_or_default();
        api::rotate_now(self, caller, name).await
    }
}
