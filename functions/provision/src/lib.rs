//! The provision function: access requests, approvals, provisioning and credentials.
#![forbid(unsafe_code)]

/// `GET /audit`: the administrators' audit log.
pub mod audit;
/// Bundles: several grants requested and approved as one.
pub mod bundles;
mod cancel;
mod credentials;
mod extend;
/// What a grant will allow, for the people deciding it.
mod grant_view;
mod requests;
/// Break-glass reviews.
mod reviews;
/// `POST /slack/interactions` (approve and reject buttons in Slack).
pub mod slack;
/// Scheduled starts: the start schedule, and provisioning when it fires.
pub mod start;
/// The JSON bodies the routes answer (the contract test checks them against infra/openapi.yaml).
pub mod views;

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use shared::api::{ApiError, ApiRequest, AuthConfig, Caller, Incoming, Route, match_route};
use shared::config::{CommonConfig, required};
use shared::scheduler::SchedulerConfig;
use shared::services::Services;

/// The HTTP routes this function serves (API Gateway routes them here; the OpenAPI test reads it).
pub const ROUTES: &[Route] = &[
    Route {
        method: "POST",
        path: "/requests",
    },
    Route {
        method: "GET",
        path: "/requests",
    },
    Route {
        method: "GET",
        path: "/requests/{id}",
    },
    Route {
        method: "POST",
        path: "/requests/{id}/approve",
    },
    Route {
        method: "POST",
        path: "/requests/{id}/reject",
    },
    Route {
        method: "GET",
        path: "/requests/{id}/credentials",
    },
    Route {
        method: "GET",
        path: "/failed-revocations",
    },
    Route {
        method: "GET",
        path: "/audit",
    },
    Route {
        method: "POST",
        path: "/requests/preview",
    },
    Route {
        method: "POST",
        path: "/requests/{id}/review",
    },
    Route {
        method: "GET",
        path: "/reviews",
    },
    Route {
        method: "POST",
        path: "/requests/{id}/cancel",
    },
    Route {
        method: "POST",
        path: "/requests/{id}/extend",
    },
];

/// Routes served without the JWT authorizer: each verifies its caller itself (Slack's
/// request signature).
pub const PUBLIC_ROUTES: &[Route] = &[Route {
    method: "POST",
    path: slack::PATH,
}];

pub struct App {
    pub services: Services,
    pub auth: AuthConfig,
    /// Decisions from Slack buttons, when the stack has a Slack app (`SLACK_SECRET_ARN`).
    pub slack: Option<slack::SlackInteractions>,
    /// This function's own ARN, which start schedules invoke.
    pub start_target: start::StartTarget,
}

impl App {
    /// Environment: TABLE_NAME, ADMIN_GROUP, GROUPS_CLAIM, CREDENTIAL_SECRET_PREFIX,
    /// SCHEDULE_GROUP, REVOKE_FUNCTION_ARN, SCHEDULER_ROLE_ARN, PROVISION_FUNCTION_ARN (optional).
    pub async fn from_env() -> Result<Self, lambda_runtime::Error> {
        let cfg = CommonConfig::from_env()?;
        let scheduler = SchedulerConfig {
            group: required("SCHEDULE_GROUP")?,
            target_arn: required("REVOKE_FUNCTION_ARN")?,
            role_arn: required("SCHEDULER_ROLE_ARN")?,
        };
        let services = Services::from_env(scheduler).await?;
        let slack = slack::from_env(services.secrets.as_ref()).await?;
        Ok(Self {
            services,
            auth: cfg.auth,
            slack,
            start_target: start::StartTarget::from_env(),
        })
    }

    /// Handle `event` within the invocation's `deadline` (see [`shared::services::within_invocation`]).
    pub async fn handle_within(
        &self,
        event: serde_json::Value,
        deadline: std::time::Instant,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        // Boxed: every route's future is one large state machine, and held inline it can
        // outgrow a 2 MB thread's stack in a debug build (the fault matrix overflowed).
        shared::services::within_invocation(deadline, Box::pin(self.handle_by(event, deadline)))
            .await
    }

    /// Handle `event` with the fallback budget (tests, and runtimes that give no deadline).
    pub async fn handle(
        &self,
        event: serde_json::Value,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        Box::pin(self.handle_by(
            event,
            std::time::Instant::now() + shared::services::FALLBACK_BUDGET,
        ))
        .await
    }

    async fn handle_by(
        &self,
        event: serde_json::Value,
        deadline: std::time::Instant,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        match Incoming::classify(event)? {
            Incoming::Http(e) => match slack::route(self, &e).await {
                Some(answer) => Ok(serde_json::to_value(answer)?),
                None => Ok(serde_json::to_value(shared::api::serve(self, &e).await)?),
            },
            Incoming::Direct(batch) if slack::clicks::is_sqs_batch(&batch) => {
                let batch = serde_json::from_value(batch)?;
                Ok(serde_json::to_value(
                    slack::clicks::consume(self, batch, deadline).await,
                )?)
            }
            Incoming::Direct(e) if start::is_start_event(&e) => start::fire(self, e).await,
            _ => Err(
                "provision accepts API Gateway HTTP API events, the Slack click queue's batches and start schedules only"
                    .into(),
            ),
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
        slack::remember_groups(self, caller, req).await;
        let id = params.first().map(String::as_str).unwrap_or_default();
        match (route.method, route.path) {
            ("POST", "/requests") => requests::create(self, caller, req).await,
            ("GET", "/requests") => requests::list(self, caller, req).await,
            ("GET", "/requests/{id}") => requests::get(self, caller, id).await,
            ("POST", "/requests/{id}/approve") => requests::approve(self, caller, id, req).await,
            ("POST", "/requests/{id}/reject") => requests::reject(self, caller, id, req).await,
            ("GET", "/failed-revocations") => requests::failed_revocations(self, caller, req).await,
            ("GET", "/audit") => audit::list(self, caller, req).await,
            ("POST", "/requests/preview") => requests::preview(self, caller, req).await,
            ("POST", "/requests/{id}/review") => reviews::record(self, caller, id, req).await,
            ("GET", "/reviews") => reviews::list(self, caller, req).await,
            ("POST", "/requests/{id}/cancel") => cancel::cancel(self, caller, id, req).await,
            ("POST", "/requests/{id}/extend") => extend::extend(self, caller, id, req).await,
            _ => credentials::get(self, caller, id).await,
        }
    }
}
