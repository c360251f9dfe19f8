//! The three ways a message leaves: Slack (bot token), email (Amazon SES) and signed webhooks.
//! Each send is either done, failed for now (retry the record later), or failed for good (a
//! recipient that cannot exist: retrying would never help, so it is recorded and counted).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sesv2::error::ProvideErrorMetadata;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message as SesMessage};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use shared::notifications::{check_webhook_url, forbidden_address};
use shared::secrets::SecretStore;
use shared::slack::{SlackClient, SlackError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("{0} (will be retried)")]
    Transient(String),
    #[error("{0}")]
    Permanent(String),
}

impl From<SlackError> for SendError {
    fn from(e: SlackError) -> Self {
        if e.is_transient() {
            Self::Transient(e.to_string())
        } else {
            Self::Permanent(e.to_string())
        }
    }
}

pub struct Slack {
    pub client: SlackClient,
}

impl Slack {
    /// A direct message to the member with this email; returns `channel ts` of the message.
    pub async fn to_person(
        &self,
        email: &str,
        text: &str,
        blocks: &Value,
    ) -> Result<String, SendError> {
        let user = self
            .client
            .lookup_by_email(email)
            .await?
            .ok_or_else(|| SendError::Permanent("no Slack member has this email".into()))?;
        self.to_channel(&user, text, blocks).await
    }

    pub async fn to_channel(
        &self,
        channel: &str,
        text: &str,
        blocks: &Value,
    ) -> Result<String, SendError> {
        let (ch, ts) = self.client.post_message(channel, text, blocks).await?;
        Ok(format!("{ch} {ts}"))
    }
}

pub struct Email {
    pub client: aws_sdk_sesv2::Client,
    /// A verified SES identity.
    pub from: String,
}

impl Email {
    pub async fn send(&self, to: &str, subject: &str, text: &str) -> Result<String, SendError> {
        let content = |s: &str| Content::builder().data(s).charset("UTF-8").build();
        let (subject, body) = match (content(subject), content(text)) {
            (Ok(s), Ok(b)) => (s, b),
            _ => {
                return Err(SendError::Permanent(
                    "the message could not be built".into(),
                ));
            }
        };
        let out = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(
                EmailContent::builder()
                    .simple(
                        SesMessage::builder()
                            .subject(subject)
                            .body(Body::builder().text(body).build())
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await;
        match out {
            Ok(o) => Ok(o.message_id().unwrap_or_default().to_string()),
            Err(e) => {
                let code = e.code().unwrap_or("dispatch").to_string();
                Err(match code.as_str() {
                    "MessageRejected"
                    | "MailFromDomainNotVerifiedException"
                    | "BadRequestException"
                    | "NotFoundException" => {
                        SendError::Permanent(format!("SES refused the message: {code}"))
                    }
                    _ => SendError::Transient(format!("SES SendEmail failed: {code}")),
                })
            }
        }
    }
}

/// The header a webhook receiver verifies: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub const SIGNATURE_HEADER: &str = "X-ElasticJit-Signature";

pub fn webhook_signature(key: &[u8], t: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

pub struct Webhooks {
    pub secrets: Arc<dyn SecretStore>,
    /// Local use only: allow loopback addresses (and plain http to them).
    pub allow_loopback: bool,
    pub timeout: Duration,
}

#[derive(serde::Deserialize)]
struct WebhookSecret {
    hmac_key: secrecy::SecretString,
}

impl Webhooks {
    /// Resolve the host, refuse forbidden addresses, and connect only to the address checked
    /// (pinned, so a second DNS answer cannot swap in another). No redirects are followed.
    pub async fn send(
        &self,
        url: &str,
        secret_arn: &str,
        event_id: &str,
        body: &Value,
        now: i64,
    ) -> Result<String, SendError> {
        let u = check_webhook_url(url).map_err(SendError::Permanent)?;
        if u.scheme() == "http" && !self.allow_loopback {
            return Err(SendError::Permanent(
                "plain http webhooks are for local use only".into(),
            ));
        }
        let host = u.host_str().unwrap_or_default().to_string();
        let port = u.port_or_known_default().unwrap_or(443);
        let lookup_host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((lookup_host.as_str(), port))
            .await
            .map_err(|_| SendError::Transient(format!("could not resolve {host}")))?
            .collect();
        let Some(addr) = addrs.first().copied() else {
            return Err(SendError::Transient(format!("{host} resolves to nothing")));
        };
        if addrs
            .iter()
            .any(|a| forbidden_address(a.ip(), self.allow_loopback))
        {
            return Err(SendError::Permanent(format!(
                "{host} resolves to an address webhooks may not reach"
            )));
        }
        let secret: WebhookSecret = self
            .secrets
            .get(secret_arn, "AWSCURRENT")
            .await
            .map_err(|e| SendError::Transient(format!("reading the webhook's secret: {e}")))?
            .parse_json()
            .map_err(|_| SendError::Permanent("the webhook's secret has no hmac_key".into()))?;
        let raw = body.to_string();
        use secrecy::ExposeSecret;
        let signature = webhook_signature(
            secret.hmac_key.expose_secret().as_bytes(),
            now,
            raw.as_bytes(),
        );
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .resolve(&lookup_host, addr)
            .build()
            .map_err(|_| SendError::Transient("building the HTTP client".into()))?;
        let resp = client
            .post(u)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header("X-ElasticJit-Event", event_id)
            .body(raw)
            .send()
            .await
            .map_err(|e| {
                SendError::Transient(if e.is_timeout() {
                    "timed out".into()
                } else {
                    "connection failed".into()
                })
            })?;
        let status = resp.status().as_u16();
        match status {
            200..=299 => Ok(format!("HTTP {status}")),
            408 | 429 | 500..=599 => Err(SendError::Transient(format!(
                "the webhook answered HTTP {status}"
            ))),
            _ => Err(SendError::Permanent(format!(
                "the webhook answered HTTP {status}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_webhook_signature_is_hmac_of_timestamp_dot_body() {
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac key
        assert_eq!(
            webhook_signature(b"key", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03"
        );
    }
}
