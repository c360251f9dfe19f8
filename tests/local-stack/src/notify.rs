//! Notifications on the local stack: the Slack Web API emulator in this process, the Slack
//! app's secret and an SES sender identity in moto, the notify function's environment, and what
//! the demo shows at the end (the Slack messages from the emulator, the emails from moto).
//! The glue's stream poller delivers the table's changes to notify (the template's `DynamoDB`
//! event).

use aws_config::SdkConfig;
use serde_json::{Value, json};
use slack_emulator::{RunningSlack, SlackConfig, User};

use crate::StoryError;

pub const BOT_TOKEN: &str = "xoxb-local-demo-token";
pub const SIGNING_SECRET: &str = "local-demo-signing-secret";
pub const TEAM_ID: &str = "T0DEMO";
pub const EMAIL_FROM: &str = "elastic-jit@example.com";

pub struct LocalSlack {
    pub emulator: RunningSlack,
    pub secret_arn: String,
}

/// The demo identities as Slack members (same emails as the identity provider's).
fn members() -> Vec<User> {
    [
        ("U0ADMIN", "admin@example.com"),
        ("U0ALICE", "alice@example.com"),
        ("U0DEV", "dev@example.com"),
        ("U0BOB", "bob@example.com"),
    ]
    .into_iter()
    .map(|(id, email)| User {
        id: id.into(),
        email: email.into(),
        deleted: false,
        is_bot: false,
        team_id: None,
    })
    .collect()
}

/// Start the emulator, store the Slack app's secret (under `prefix`) and verify the SES sender.
pub async fn start(
    aws: &SdkConfig,
    ses_endpoint: &str,
    prefix: &str,
) -> Result<LocalSlack, StoryError> {
    let emulator = RunningSlack::start(
        SlackConfig {
            bot_token: BOT_TOKEN.into(),
            signing_secret: SIGNING_SECRET.into(),
            team_id: TEAM_ID.into(),
            users: members(),
            channels: vec!["C0JIT".into()],
        },
        "127.0.0.1:0"
            .parse()
            .map_err(|_| StoryError::setup("loopback address"))?,
    )
    .await
    .map_err(|e| StoryError::setup(format!("slack emulator: {e}")))?;
    let secret = aws_sdk_secretsmanager::Client::new(aws)
        .create_secret()
        .name(format!("{prefix}slack"))
        .secret_string(
            json!({"bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET}).to_string(),
        )
        .send()
        .await
        .map_err(|e| StoryError::setup(format!("slack secret: {e}")))?;
    let secret_arn = secret
        .arn
        .ok_or_else(|| StoryError::setup("the slack secret has no ARN"))?;
    verify_sender(aws, ses_endpoint).await?;
    Ok(LocalSlack {
        emulator,
        secret_arn,
    })
}

/// moto's SES sends only from verified identities, as SES in its sandbox.
async fn verify_sender(aws: &SdkConfig, ses_endpoint: &str) -> Result<(), StoryError> {
    let config = aws_sdk_sesv2::config::Builder::from(aws)
        .endpoint_url(ses_endpoint)
        .build();
    aws_sdk_sesv2::Client::from_conf(config)
        .create_email_identity()
        .email_identity(EMAIL_FROM)
        .send()
        .await
        .map_err(|e| StoryError::setup(format!("SES identity: {e}")))?;
    Ok(())
}

/// The notify and provision functions' Slack and email settings.
pub fn env(slack: &LocalSlack, api_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PUBLIC_URL", api_url.to_string()),
        ("SLACK_SECRET_ARN", slack.secret_arn.clone()),
        ("SLACK_API_URL", slack.emulator.api_url()),
        // Local only: the emulator's members' emails count as verified.
        ("SLACK_TRUST_EMAIL", "true".into()),
        ("SLACK_BUTTONS", "true".into()),
        ("SLACK_TEAM_ID", TEAM_ID.into()),
        ("EMAIL_FROM", EMAIL_FROM.into()),
        ("OPS_SLACK_CHANNEL", "C0JIT".into()),
        ("ALLOW_LOOPBACK_WEBHOOKS", "true".into()),
    ]
}

/// The Slack messages the bot posted (as they read now), one line each.
pub async fn slack_messages(
    http: &reqwest::Client,
    slack: &LocalSlack,
) -> Result<Vec<String>, String> {
    let v: Value = http
        .get(format!("{}/_emulator/messages", slack.emulator.url()))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    Ok(v["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let first = m["text"]
                .as_str()
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or_default();
            format!(
                "slack {}: {first}",
                m["channel"].as_str().unwrap_or_default()
            )
        })
        .collect())
}

/// The emails moto's SES (at `ses_endpoint`) accepted from the stack's sender, one line each.
pub async fn emails(http: &reqwest::Client, ses_endpoint: &str) -> Result<Vec<String>, String> {
    let text = http
        .get(format!("{ses_endpoint}/moto-api/data.json"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("moto's model data is not JSON: {e}"))?;
    Ok(v["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["source"] == json!(EMAIL_FROM))
        .map(|m| {
            format!(
                "email to {}: {}",
                m["destinations"]["ToAddresses"][0]
                    .as_str()
                    .unwrap_or_default(),
                m["subject"].as_str().unwrap_or_default()
            )
        })
        .collect())
}
