//! The discover function: `/integrations` and `/flows` administration over the HTTP API, and
//! the hourly re-discovery of every integration.
#![forbid(unsafe_code)]

mod flows;
mod integrations;
mod schedule;
mod views;

use std::sync::Arc;

use shared::api::{ApiError, ApiRequest, AuthConfig, Caller, Incoming};
use shared::clock::{Clock, SystemClock};
use shared::driver::http::HttpClients;
use shared::secrets::SecretsManager;
use shared::store::{DynamoStore, Store};
use shared::targets::{DriverFactory, Targets};

pub struct App {
    pub store: Arc<dyn Store>,
    pub targets: Arc<dyn DriverFactory>,
    pub clock: Arc<dyn Clock>,
    pub auth: AuthConfig,
}

impl App {
    /// Clients are built once per process and shared by every invocation.
    pub async fn from_env() -> Result<Self, lambda_runtime::Error> {
        let cfg = shared::config::CommonConfig::from_env()?;
        let aws = aws_config::load_from_env().await;
        let secrets = Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
            &aws,
        )));
        Ok(Self {
            store: Arc::new(DynamoStore::new(
                aws_sdk_dynamodb::Client::new(&aws),
                cfg.table,
            )),
            targets: Arc::new(Targets::new(HttpClients::new()?, secrets)),
            clock: Arc::new(SystemClock),
            auth: cfg.auth,
        })
    }

    pub async fn handle(
        &self,
        event: serde_json::Value,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        match Incoming::classify(event)? {
            Incoming::Http(req) => {
                let response = match ApiRequest::from_event(&req) {
                    Ok(r) => self.route(&r).await,
                    Err(e) => e.response(),
                };
                Ok(serde_json::to_value(response)?)
            }
            Incoming::Scheduled(_) => {
                Ok(serde_json::to_value(schedule::rediscover_all(self).await)?)
            }
            Incoming::Direct(_) => {
                Err("discover accepts API Gateway HTTP API events and schedule events".into())
            }
        }
    }

    async fn route(&self, req: &ApiRequest) -> aws_lambda_events::apigw::ApiGatewayV2httpResponse {
        let result = match req.caller(&self.auth) {
            Ok(caller) => self.dispatch(req, &caller).await,
            Err(e) => Err(e),
        };
        shared::api::respond(result, req)
    }

    async fn dispatch(
        &self,
        req: &ApiRequest,
        caller: &Caller,
    ) -> Result<aws_lambda_events::apigw::ApiGatewayV2httpResponse, ApiError> {
        let segments = req.segments();
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        match (req.method.as_str(), s.as_slice()) {
            ("GET", ["integrations"]) => integrations::list(self, caller).await,
            ("PUT", ["integrations", name]) => integrations::put(self, caller, name, req).await,
            ("GET", ["integrations", name]) => integrations::get(self, caller, name).await,
            ("DELETE", ["integrations", name]) => integrations::delete(self, caller, name).await,
            ("POST", ["integrations", name, "discover"]) => {
                integrations::discover_now(self, caller, name).await
            }
            ("GET", ["integrations", name, "resources"]) => {
                integrations::resources(self, name, req).await
            }
            ("GET", ["flows"]) => flows::list(self).await,
            ("PUT", ["flows", name]) => flows::put(self, caller, name, req).await,
            ("GET", ["flows", name]) => flows::get(self, name).await,
            ("DELETE", ["flows", name]) => flows::delete(self, caller, name).await,
            (
                _,
                ["integrations"]
                | ["integrations", _]
                | ["integrations", _, "discover" | "resources"]
                | ["flows"]
                | ["flows", _],
            ) => Err(ApiError::new(
                405,
                "method_not_allowed",
                format!("{} is not allowed on {}", req.method, req.path),
            )),
            _ => Err(ApiError::new(
                404,
                "route_not_found",
                format!("no route for {} {}", req.method, req.path),
            )),
        }
    }
}
