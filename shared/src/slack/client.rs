//! The Slack Web API methods elastic-jit calls, with the bot token. Slack answers HTTP 200 with
//! `{"ok": false, "error": "<code>"}` for most failures and HTTP 429 with `Retry-After` (seconds)
//! when rate limited: a 429, a 5xx or a dropped connection is retried a few times within a small
//! budget, then reported as transient so the caller (the notify function) fails the delivery and
//! its event source mapping retries it later. Nothing here is on a request or approval path's
//! critical section: a Slack outage delays a message, never a decision.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

/// Slack's Web API.
pub const DEFAULT_API_URL: &str = "https://slack.com/api/";
/// Slack's response URLs all live here.
const RESPONSE_URL_HOST: &str = "hooks.slack.com";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    /// Slack answered `ok: false` with this error code.
    #[error("Slack refused {method}: {code}")]
    Api { method: String, code: String },
    #[error("Slack rate-limited {method} (retry after {retry_after_secs} s)")]
    RateLimited {
        method: String,
        retry_after_secs: u64,
    },
    #[error("Slack {method} failed: {reason}")]
    Unavailable { method: String, reason: String },
    #[error("refusing to send a Slack response to {0}: not a Slack response URL")]
    ForeignResponseUrl(String),
}

impl SlackError {
    /// Worth retrying later (the same call may succeed then).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Unavailable { .. } => true,
            Self::Api { code, .. } => matches!(
                code.as_str(),
                "ratelimited"
                    | "internal_error"
                    | "fatal_error"
                    | "service_unavailable"
                    | "request_timeout"
            ),
            Self::ForeignResponseUrl(_) => false,
        }
    }
}

/// A Slack user as `users.info` describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackUser {
    pub id: String,
    pub team_id: Option<String>,
    /// The profile email (needs the `users:read.email` scope); Slack confirms a member's email
    /// when they join a workspace.
    pub email: Option<String>,
    pub deleted: bool,
    pub is_bot: bool,
}

#[derive(Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    api: Url,
    token: SecretString,
    /// Extra attempts after a 429, 5xx or transport failure.
    pub retries: u32,
    /// The longest `Retry-After` waited for within one call; a longer one fails the call as
    /// transient (the delivery is retried by the event source mapping instead).
    pub max_wait: Duration,
}

impl std::fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClient")
            .field("api", &self.api.as_str())
            .finish_non_exhaustive()
    }
}

impl SlackClient {
    /// `api` is Slack's Web API base (`https://slack.com/api/`, or an emulator's).
    pub fn new(http: reqwest::Client, api: &str, token: SecretString) -> Result<Self, SlackError> {
        let mut api = Url::parse(api).map_err(|e| SlackError::Unavailable {
            method: "configuration".into(),
            reason: format!("SLACK_API_URL is not a URL: {e}"),
        })?;
        if !api.path().ends_with('/') {
            api.set_path(&format!("{}/", api.path()));
        }
        Ok(Self {
            http,
            api,
            token,
            retries: 3,
            max_wait: Duration::from_secs(5),
        })
    }

    /// [`Self::new`] with its own HTTP client (5-second timeout per call).
    pub fn with_default_http(api: &str, token: SecretString) -> Result<Self, SlackError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|_| SlackError::Unavailable {
                method: "configuration".into(),
                reason: "could not build an HTTP client".into(),
            })?;
        Self::new(http, api, token)
    }

    fn url(&self, method: &str) -> Result<Url, SlackError> {
        self.api.join(method).map_err(|e| SlackError::Unavailable {
            method: method.into(),
            reason: e.to_string(),
        })
    }

    /// One call with retries: `body` as JSON (write methods) or, when `None`, `query` as the
    /// URL's query (read methods, which Slack takes as form or query arguments).
    async fn call(
        &self,
        method: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, SlackError> {
        let mut url = self.url(method)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut attempt = 0;
        loop {
            let mut req = self
                .http
                .post(url.clone())
                .bearer_auth(self.token.expose_secret());
            if let Some(b) = body {
                req = req.json(b);
            }
            let failure = match req.send().await {
                Ok(resp) if resp.status().as_u16() == 429 => {
                    let wait = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .unwrap_or(1);
                    let err = SlackError::RateLimited {
                        method: method.into(),
                        retry_after_secs: wait,
                    };
                    if Duration::from_secs(wait) > self.max_wait {
                        return Err(err);
                    }
                    (err, Duration::from_secs(wait))
                }
                Ok(resp) if resp.status().is_server_error() => (
                    SlackError::Unavailable {
                        method: method.into(),
                        reason: format!("HTTP {}", resp.status().as_u16()),
                    },
                    backoff(attempt),
                ),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let v: Value = resp.json().await.map_err(|_| SlackError::Unavailable {
                        method: method.into(),
                        reason: format!("HTTP {status} with a body that is not JSON"),
                    })?;
                    if v["ok"].as_bool() == Some(true) {
                        return Ok(v);
                    }
                    let code = v["error"].as_str().unwrap_or("unknown_error").to_string();
                    return Err(SlackError::Api {
                        method: method.into(),
                        code,
                    });
                }
                Err(e) => (
                    SlackError::Unavailable {
                        method: method.into(),
                        reason: if e.is_timeout() {
                            "timed out".into()
                        } else {
                            "connection failed".into()
                        },
                    },
                    backoff(attempt),
                ),
            };
            if attempt >= self.retries {
                return Err(failure.0);
            }
            attempt += 1;
            tokio::time::sleep(failure.1).await;
        }
    }

    /// `auth.test`: is the token valid? The bot's team id.
    pub async fn auth_test(&self) -> Result<Option<String>, SlackError> {
        let v = self.call("auth.test", &[], Some(&json!({}))).await?;
        Ok(v["team_id"].as_str().map(str::to_string))
    }

    /// `chat.postMessage`; returns the channel and the message's `ts` (its id for updates).
    pub async fn post_message(
        &self,
        channel: &str,
        text: &str,
        blocks: &Value,
    ) -> Result<(String, String), SlackError> {
        let v = self
            .call(
                "chat.postMessage",
                &[],
                Some(&json!({"channel": channel, "text": text, "blocks": blocks, "unfurl_links": false})),
            )
            .await?;
        Ok((
            v["channel"].as_str().unwrap_or(channel).to_string(),
            v["ts"].as_str().unwrap_or_default().to_string(),
        ))
    }

    /// `chat.update` of a message the bot posted.
    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: &Value,
    ) -> Result<(), SlackError> {
        self.call(
            "chat.update",
            &[],
            Some(&json!({"channel": channel, "ts": ts, "text": text, "blocks": blocks})),
        )
        .await
        .map(|_| ())
    }

    /// `users.lookupByEmail`: the member with this email, if any (`users_not_found` is `None`).
    pub async fn lookup_by_email(&self, email: &str) -> Result<Option<String>, SlackError> {
        match self
            .call("users.lookupByEmail", &[("email", email)], None)
            .await
        {
            Ok(v) => Ok(v["user"]["id"].as_str().map(str::to_string)),
            Err(SlackError::Api { code, .. }) if code == "users_not_found" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `users.info`.
    pub async fn user_info(&self, user: &str) -> Result<SlackUser, SlackError> {
        let v = self.call("users.info", &[("user", user)], None).await?;
        let u = &v["user"];
        Ok(SlackUser {
            id: u["id"].as_str().unwrap_or(user).to_string(),
            team_id: u["team_id"].as_str().map(str::to_string),
            email: u["profile"]["email"]
                .as_str()
                .filter(|e| !e.is_empty())
                .map(str::to_string),
            deleted: u["deleted"].as_bool().unwrap_or(false),
            is_bot: u["is_bot"].as_bool().unwrap_or(false),
        })
    }

    /// Answer an interaction through its `response_url` (no token: the URL is the credential).
    /// Only Slack's own response host, or the configured API's host (an emulator), is called:
    /// the URL arrives in a request body, and a signed body is still no reason to call anywhere.
    pub async fn respond(&self, response_url: &str, message: &Value) -> Result<(), SlackError> {
        let url = Url::parse(response_url)
            .map_err(|_| SlackError::ForeignResponseUrl("(not a URL)".into()))?;
        let slack = url.scheme() == "https" && url.host_str() == Some(RESPONSE_URL_HOST);
        let emulator = url.scheme() == self.api.scheme()
            && url.host_str() == self.api.host_str()
            && url.port_or_known_default() == self.api.port_or_known_default()
            && self.api.host_str() != Some("slack.com");
        if !(slack || emulator) {
            return Err(SlackError::ForeignResponseUrl(
                url.host_str().unwrap_or_default().to_string(),
            ));
        }
        let r = self
            .http
            .post(url)
            .json(message)
            .send()
            .await
            .map_err(|_| SlackError::Unavailable {
                method: "response_url".into(),
                reason: "connection failed".into(),
            })?;
        let status = r.status();
        if status.is_success() {
            Ok(())
        } else if status.as_u16() == 429 || status.is_server_error() {
            Err(SlackError::Unavailable {
                method: "response_url".into(),
                reason: format!("HTTP {}", status.as_u16()),
            })
        } else {
            // An expired or used-up URL, or a message Slack refuses: trying again cannot help.
            Err(SlackError::Api {
                method: "response_url".into(),
                code: format!("http_{}", status.as_u16()),
            })
        }
    }
}

/// The Slack app's secret in Secrets Manager: `{"bot_token": "xoxb-...", "signing_secret": "..."}`.
#[derive(serde::Deserialize)]
pub struct SlackSecret {
    pub bot_token: SecretString,
    pub signing_secret: SecretString,
}

/// Read the Slack app's secret (current version).
pub async fn slack_secret(
    secrets: &dyn crate::secrets::SecretStore,
    arn: &str,
) -> Result<SlackSecret, crate::secrets::SecretsError> {
    secrets.get(arn, "AWSCURRENT").await?.parse_json()
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << attempt.min(4)))
}
