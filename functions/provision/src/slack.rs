//! `POST /slack/interactions`: approve and reject buttons in Slack. The route has no JWT
//! authorizer; Slack signs the request and the clicking member is mapped to a person by their
//! verified Slack email (see `shared::slack::interactions`). The decision itself is the API's
//! ([`crate::requests::decide_as`]): same policy, same conditional writes, same audit event.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use shared::api::{ApiError, ApiRequest, Caller, json_response};
use shared::model::{AccessRequest, DecisionKind, Identity};
use shared::slack::SlackClient;
use shared::slack::interactions::{self, Decider, InteractionConfig};

use shared::config::{flag, optional, required};

use crate::App;

pub const PATH: &str = "/slack/interactions";

pub struct SlackInteractions {
    pub client: SlackClient,
    pub cfg: InteractionConfig,
}

struct AsPerson<'a>(&'a App);

#[async_trait::async_trait]
impl Decider for AsPerson<'_> {
    async fn decide(
        &self,
        who: &Identity,
        id: &str,
        kind: DecisionKind,
        reason: Option<String>,
    ) -> Result<AccessRequest, ApiError> {
        // Never an administrator: a Slack identity has no groups.
        let caller = Caller {
            identity: who.clone(),
            is_admin: false,
        };
        crate::requests::decide_as(self.0, &caller, id, kind, reason).await
    }

    async fn load(&self, id: &str) -> Result<Option<AccessRequest>, ApiError> {
        Ok(self.0.services.store.get_request(id).await?)
    }
}

/// Environment: SLACK_SECRET_ARN (`{"bot_token", "signing_secret"}`; unset: no Slack route),
/// SLACK_API_URL, PUBLIC_URL, SLACK_TEAM_ID, and SLACK_TRUST_EMAIL: whether a Slack profile
/// email counts as verified (Slack confirms members' emails; without it nobody decides in one
/// click and every button leads to the portal).
pub async fn from_env(
    secrets: &dyn shared::secrets::SecretStore,
) -> Result<Option<SlackInteractions>, lambda_runtime::Error> {
    let Some(arn) = std::env::var("SLACK_SECRET_ARN")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    // A Slack misconfiguration must not take the API down with it: without its secret the
    // route answers 404 and everything else works.
    let secret = match shared::slack::client::slack_secret(secrets, &arn).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "reading the Slack app's secret; Slack decisions are off");
            return Ok(None);
        }
    };
    Ok(Some(SlackInteractions {
        client: SlackClient::with_default_http(
            &optional("SLACK_API_URL", shared::slack::client::DEFAULT_API_URL),
            secret.bot_token,
        )?,
        cfg: InteractionConfig {
            signing_secret: secret.signing_secret,
            trust_slack_email: flag("SLACK_TRUST_EMAIL")?,
            public_url: required("PUBLIC_URL")?,
            team_id: std::env::var("SLACK_TEAM_ID")
                .ok()
                .filter(|v| !v.is_empty()),
        },
    }))
}

/// The interactions route's answer, or `None` for any other route.
pub async fn route(app: &App, e: &ApiGatewayV2httpRequest) -> Option<ApiGatewayV2httpResponse> {
    let path = e
        .raw_path
        .as_deref()
        .or(e.request_context.http.path.as_deref())?;
    if path != PATH {
        return None;
    }
    let Some(slack) = &app.slack else {
        return Some(ApiError::not_found("route", PATH).response());
    };
    if e.request_context.http.method.as_str() != "POST" {
        return Some(ApiError::new(405, "method_not_allowed", "use POST").response());
    }
    let req = match ApiRequest::from_event(e) {
        Ok(r) => r,
        Err(e) => return Some(e.response()),
    };
    let answer = interactions::handle(
        &slack.cfg,
        &slack.client,
        &AsPerson(app),
        req.header("x-slack-request-timestamp"),
        req.header("x-slack-signature"),
        req.raw_body(),
        app.services.clock.now().timestamp(),
    )
    .await;
    Some(json_response(answer.status, &answer.body))
}
