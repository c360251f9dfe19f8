//! `POST /slack/interactions`: approve and reject buttons in Slack. The route has no JWT
//! authorizer; Slack signs the request and the clicking member is mapped to a person by their
//! verified Slack email (see `shared::slack::interactions`). The decision itself is the API's
//! ([`crate::requests::decide_as`]): same policy, same conditional writes, same audit event.
//! The route only verifies and queues a click; [`clicks`] decides it from the queue.

/// The click queue (SQS) and its consumer.
pub mod clicks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use chrono::{DateTime, Duration, TimeZone, Utc};
use shared::api::{ApiError, ApiRequest, Caller, json_response};
use shared::model::{AccessRequest, DecisionKind, Identity, fold_email};
use shared::slack::SlackClient;
use shared::slack::interactions::{self, ClickQueue, Decider, InteractionConfig};
use shared::store::group_proofs::GroupProof;

use shared::config::{flag, optional, required};

use crate::App;

pub const PATH: &str = "/slack/interactions";

/// The longest `SLACK_TRUST_GROUPS_FOR` accepted: group membership proven longer ago than a
/// working day is too stale to stand in for a login.
pub const MAX_GROUP_TRUST: Duration = Duration::hours(24);
/// How often a warm function writes the same person's proof again.
const PROOF_REFRESH: Duration = Duration::minutes(5);

/// When a proof was last written for a person, and the groups it said.
type Written = (DateTime<Utc>, Vec<String>);

pub struct SlackInteractions {
    pub client: SlackClient,
    pub cfg: InteractionConfig,
    /// Where the route leaves verified clicks for [`clicks::consume`].
    pub queue: Arc<dyn ClickQueue>,
    /// Proofs this instance wrote lately (email → the `iat` and groups written), so a busy
    /// person's every call does not write one.
    proofs_written: Mutex<HashMap<String, Written>>,
}

impl SlackInteractions {
    pub fn new(client: SlackClient, cfg: InteractionConfig, queue: Arc<dyn ClickQueue>) -> Self {
        Self {
            client,
            cfg,
            queue,
            proofs_written: Mutex::new(HashMap::new()),
        }
    }
}

struct AsPerson<'a>(&'a App);

impl AsPerson<'_> {
    /// The person a Slack member is, as their last IdP login proved them (groups included),
    /// when the operator trusts such proofs and this one is recent enough; else the Slack
    /// identity alone (the verified email, no groups).
    async fn proven(&self, who: &Identity) -> Identity {
        let (Some(slack), Some(email)) = (&self.0.slack, &who.email) else {
            return who.clone();
        };
        let Some(window) = slack.cfg.trust_groups_for else {
            return who.clone();
        };
        let now = self.0.services.clock.now();
        match self.0.services.store.group_proof(&fold_email(email)).await {
            Ok(Some(p)) if p.proven_at >= now - window && p.proven_at <= now => Identity {
                sub: p.sub,
                issuer: p.issuer,
                email: Some(p.email),
                email_verified: true,
                groups: p.groups,
            },
            Ok(_) => who.clone(),
            Err(e) => {
                tracing::warn!(error = %e, "reading a group proof; deciding without groups");
                who.clone()
            }
        }
    }
}

#[async_trait::async_trait]
impl Decider for AsPerson<'_> {
    async fn decide(
        &self,
        who: &Identity,
        id: &str,
        kind: DecisionKind,
        reason: Option<String>,
    ) -> Result<AccessRequest, ApiError> {
        // Never an administrator, whatever the groups: Slack is not where integrations are
        // managed.
        let caller = Caller {
            identity: self.proven(who).await,
            is_admin: false,
        };
        crate::requests::decide_as(self.0, &caller, id, kind, reason).await
    }

    async fn load(&self, id: &str) -> Result<Option<AccessRequest>, ApiError> {
        Ok(self.0.services.store.get_request(id).await?)
    }
}

/// Environment: SLACK_SECRET_ARN (`{"bot_token", "signing_secret"}`; unset: no Slack route),
/// SLACK_CLICK_QUEUE_URL (the SQS queue clicks wait in), SLACK_API_URL, PUBLIC_URL,
/// SLACK_TEAM_ID, SLACK_TRUST_GROUPS_FOR, and SLACK_TRUST_EMAIL: whether a Slack profile email
/// counts as verified (Slack confirms members' emails; without it nobody decides in one click
/// and every button leads to the portal).
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
    let Some(queue_url) = std::env::var("SLACK_CLICK_QUEUE_URL")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        tracing::error!("SLACK_CLICK_QUEUE_URL is not set; Slack decisions are off");
        return Ok(None);
    };
    let queue = clicks::SqsClickQueue::new(
        aws_sdk_sqs::Client::new(&shared::config::aws_sdk_config().await),
        queue_url,
    );
    Ok(Some(SlackInteractions::new(
        SlackClient::with_default_http(
            &optional("SLACK_API_URL", shared::slack::client::DEFAULT_API_URL),
            secret.bot_token,
        )?,
        InteractionConfig {
            signing_secret: secret.signing_secret,
            trust_slack_email: flag("SLACK_TRUST_EMAIL")?,
            public_url: required("PUBLIC_URL")?,
            team_id: std::env::var("SLACK_TEAM_ID")
                .ok()
                .filter(|v| !v.is_empty()),
            trust_groups_for: group_trust(&optional("SLACK_TRUST_GROUPS_FOR", ""))?,
        },
        Arc::new(queue),
    )))
}

/// `SLACK_TRUST_GROUPS_FOR`: empty or `0` is off; else a duration up to [`MAX_GROUP_TRUST`].
pub fn group_trust(text: &str) -> Result<Option<Duration>, shared::config::ConfigError> {
    let text = text.trim();
    if text.is_empty() || text == "0" {
        return Ok(None);
    }
    let invalid = |reason: String| shared::config::ConfigError::Invalid {
        name: "SLACK_TRUST_GROUPS_FOR",
        reason,
    };
    let d = shared::model::parse_duration(text).map_err(invalid)?;
    let d = Duration::from_std(d).map_err(|e| invalid(e.to_string()))?;
    if d > MAX_GROUP_TRUST {
        return Err(invalid(format!(
            "at most {} (a group proven longer ago is too stale)",
            shared::model::format_duration(MAX_GROUP_TRUST.to_std().unwrap_or_default())
        )));
    }
    Ok(Some(d))
}

/// Keep the caller's group membership as their verified token proved it, for Slack clicks to
/// count (only when `SLACK_TRUST_GROUPS_FOR` is set). Best effort: the API call goes on
/// whatever happens here.
pub async fn remember_groups(app: &App, caller: &Caller, req: &ApiRequest) {
    let Some(slack) = &app.slack else {
        return;
    };
    let (Some(window), true) = (slack.cfg.trust_groups_for, slack.cfg.trust_slack_email) else {
        return;
    };
    let id = &caller.identity;
    // Only a trusted email can be matched to a Slack member, and without groups there is
    // nothing to prove.
    let (Some(email), false) = (&id.email, id.groups.is_empty()) else {
        return;
    };
    let now = app.services.clock.now();
    // When the IdP said it: the token's `iat` (never later than now).
    let proven_at = req
        .claim("iat")
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|s| Utc.timestamp_opt(s, 0).single())
        .map_or(now, |t| t.min(now));
    if now - proven_at > window {
        return;
    }
    let email = fold_email(email);
    {
        let written = slack
            .proofs_written
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Written lately with the same groups: nothing new to prove. Changed groups (a
        // membership removed) are written at once.
        if written.get(&email).is_some_and(|(at, groups)| {
            *groups == id.groups && (*at >= proven_at || proven_at - *at < PROOF_REFRESH)
        }) {
            return;
        }
    }
    let proof = GroupProof {
        email: email.clone(),
        issuer: id.issuer.clone(),
        sub: id.sub.clone(),
        groups: id.groups.clone(),
        proven_at,
    };
    match app
        .services
        .store
        .put_group_proof(&proof, proven_at + window)
        .await
    {
        Ok(()) => {
            slack
                .proofs_written
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(email, (proven_at, proof.groups));
        }
        Err(e) => tracing::warn!(error = %e, "keeping a group proof for Slack; continuing"),
    }
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
    let answer = interactions::receive(
        &slack.cfg,
        &slack.client,
        slack.queue.as_ref(),
        req.header("x-slack-request-timestamp"),
        req.header("x-slack-signature"),
        req.raw_body(),
        app.services.clock.now().timestamp(),
    )
    .await;
    Some(json_response(answer.status, &answer.body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_trust_window_is_off_by_default_and_at_most_a_day() {
        assert_eq!(group_trust("").unwrap(), None);
        assert_eq!(group_trust("0").unwrap(), None);
        assert_eq!(group_trust("8h").unwrap(), Some(Duration::hours(8)));
        assert_eq!(group_trust(" 90m ").unwrap(), Some(Duration::minutes(90)));
        assert!(group_trust("25h").is_err());
        assert!(group_trust("forever").is_err());
    }
}
