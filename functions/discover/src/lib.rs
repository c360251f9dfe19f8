//! The discover function: `/integrations` and `/flows` administration over the HTTP API and
//! as CloudFormation custom resources, and the hourly re-discovery of every integration.
#![forbid(unsafe_code)]

mod actor;
/// API-key hygiene: the admin report and the hourly metrics.
mod api_keys;
/// `Custom::ElasticJitIntegration` and `Custom::ElasticJitFlow`.
pub mod custom_resource;
mod flows;
mod integrations;
mod schedule;
/// The JSON bodies the routes answer (the contract test checks them against infra/openapi.yaml).
pub mod views;

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use shared::api::{ApiError, ApiRequest, AuthConfig, Caller, Incoming, Route, match_route};
use shared::clock::{Clock, SystemClock};
use shared::driver::http::HttpClients;
use shared::secrets::SecretsManager;
use shared::store::{DynamoStore, Store};
use shared::targets::{DriverFactory, Targets};

/// The HTTP routes this function serves (API Gateway routes them here; the OpenAPI test reads it).
pub const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/integrations",
    },
    Route {
        method: "PUT",
        path: "/integrations/{name}",
    },
    Route {
        method: "GET",
        path: "/integrations/{name}",
    },
    Route {
        method: "DELETE",
        path: "/integrations/{name}",
    },
    Route {
        method: "POST",
        path: "/integrations/{name}/discover",
    },
    Route {
        method: "GET",
        path: "/integrations/{name}/resources",
    },
    Route {
        method: "GET",
        path: "/integrations/{name}/api-keys/report",
    },
    Route {
        method: "GET",
        path: "/integrations/{name}/kibana-spaces",
    },
    Route {
        method: "GET",
        path: "/flows",
    },
    Route {
        method: "PUT",
        path: "/flows/{name}",
    },
    Route {
        method: "GET",
        path: "/flows/{name}",
    },
    Route {
        method: "DELETE",
        path: "/flows/{name}",
    },
];

pub struct App {
    pub store: Arc<dyn Store>,
    pub targets: Arc<dyn DriverFactory>,
    pub clock: Arc<dyn Clock>,
    pub auth: AuthConfig,
    /// Where custom resource responses may be sent.
    pub response_urls: custom_resource::ResponseUrls,
}

impl App {
    /// Clients are built once per process and shared by every invocation.
    pub async fn from_env() -> Result<Self, lambda_runtime::Error> {
        let cfg = shared::config::CommonConfig::from_env()?;
        let aws = shared::config::aws_sdk_config().await;
        let secrets = Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
            &aws,
        )));
        Ok(Self {
            store: Arc::new(DynamoStore::new(
                aws_sdk_dynamodb::Client::new(&aws),
                cfg.table,
            )),
            targets: Arc::new(
                Targets::new(HttpClients::new()?, secrets).with_connector_prefix(
                    shared::config::optional(
                        "CONNECTOR_SECRET_PREFIX",
                        shared::model::DEFAULT_CONNECTOR_PREFIX,
                    ),
                ),
            ),
            clock: Arc::new(SystemClock),
            auth: cfg.auth,
            // Never set by the template: only tests answer to a loopback server.
            response_urls: custom_resource::ResponseUrls::new()?
                .allow_loopback_http(shared::config::flag(custom_resource::ALLOW_LOOPBACK_ENV)?),
        })
    }

    /// An invocation that must answer by `deadline` (custom resources answer CloudFormation
    /// before it).
    pub async fn handle_within(
        &self,
        event: serde_json::Value,
        deadline: std::time::Instant,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        self.handle_by(event, Some(deadline)).await
    }

    pub async fn handle(
        &self,
        event: serde_json::Value,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        self.handle_by(event, None).await
    }

    async fn handle_by(
        &self,
        event: serde_json::Value,
        deadline: Option<std::time::Instant>,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        match Incoming::classify(event)? {
            Incoming::Http(e) => Ok(serde_json::to_value(shared::api::serve(self, &e).await)?),
            Incoming::Scheduled(_) => {
                Ok(serde_json::to_value(schedule::rediscover_all(self).await)?)
            }
            Incoming::CustomResource(r) => Ok(custom_resource::handle(self, *r, deadline).await?),
            Incoming::Direct(_) => Err("discover accepts API Gateway HTTP API events, schedule \
                                        events and CloudFormation custom resource requests"
                .into()),
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
    ) -> Result<ApiGatewayV2httpResponse, ApiError> {
        let (route, params) = match_route(ROUTES, &req.method, &req.segments())?;
        let param = || params.first().map(String::as_str).unwrap_or_default();
        match route.path {
            "/integrations" => integrations::list(self, caller).await,
            "/integrations/{name}" => match route.method {
                "PUT" => integrations::put(self, caller, param(), req).await,
                "GET" => integrations::get(self, caller, param()).await,
                _ => integrations::delete(self, caller, param()).await,
            },
            "/integrations/{name}/discover" => {
                integrations::discover_now(self, caller, param()).await
            }
            "/integrations/{name}/resources" => {
                integrations::resources(self, caller, param(), req).await
            }
            "/integrations/{name}/api-keys/report" => {
                api_keys::report_route(self, caller, param()).await
            }
            "/integrations/{name}/kibana-spaces" => {
                integrations::kibana_spaces(self, caller, param()).await
            }
            "/flows" => flows::list(self, caller).await,
            _ => match route.method {
                "PUT" => flows::put(self, caller, param(), req).await,
                "GET" => flows::get(self, caller, param()).await,
                _ => flows::delete(self, caller, param()).await,
            },
        }
    }
}
