//! The elastic-jit API as the signed-in person: the stored token (refreshed when it is about to
//! expire), JSON in and out, and refusals turned into their stable code and message.

use std::path::Path;

use reqwest::Method;
use serde_json::Value;

use crate::error::{CliError, Result};
use crate::settings::{self, Settings};
use crate::tokens::{self, Tokens};

/// A token this close to its expiry is refreshed first, so it does not expire in flight.
const REFRESH_MARGIN_SECS: i64 = 60;

pub struct Api {
    http: reqwest::Client,
    pub settings: Settings,
    token: Tokens,
}

pub fn not_signed_in() -> CliError {
    CliError::NotSignedIn("not signed in: run `elastic-jit login`".into())
}

impl Api {
    /// The stored sign-in, refreshed if needed.
    pub async fn signed_in(dir: &Path) -> Result<Self> {
        let settings = settings::load(dir)?.ok_or_else(not_signed_in)?;
        let mut token = tokens::load(dir)?.ok_or_else(not_signed_in)?;
        if token.expires_at - chrono::Utc::now().timestamp() < REFRESH_MARGIN_SECS {
            let Some(rt) = token.refresh_token.clone() else {
                return Err(CliError::NotSignedIn(
                    "the sign-in has expired: run `elastic-jit login`".into(),
                ));
            };
            token = crate::login::refresh(&settings, &rt).await?;
            tokens::save(dir, &token)?;
        }
        Ok(Self {
            http: crate::login::http_client()?,
            settings,
            token,
        })
    }

    pub fn access_token(&self) -> &str {
        &self.token.access_token
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Value> {
        let url = format!("{}{path}", self.settings.api_url);
        let mut rb = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(&self.token.access_token);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        if let Some(k) = idempotency_key {
            rb = rb.header("Idempotency-Key", k);
        }
        let r = rb.send().await.map_err(|e| {
            CliError::Unreachable(format!("{} unreachable: {e}", self.settings.api_url))
        })?;
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(v);
        }
        if status == 401 {
            return Err(CliError::NotSignedIn(
                "the API did not accept the sign-in: run `elastic-jit login`".into(),
            ));
        }
        let code = v["error"]["code"]
            .as_str()
            .unwrap_or(if status >= 500 {
                "server_error"
            } else {
                "refused"
            })
            .to_string();
        let message = v["error"]["message"]
            .as_str()
            .or_else(|| v["message"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{method} {path} answered {status}"));
        Err(CliError::Api {
            status,
            code,
            message,
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.call(Method::GET, path, None, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::POST, path, Some(body), None).await
    }
}

/// A path segment from user input (an id), so it cannot reach another route.
pub fn segment(id: &str) -> Result<String> {
    if id.is_empty()
        || id.len() > 128
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(CliError::Api {
            status: 400,
            code: "invalid_id".into(),
            message: format!("{id:?} is not a request id"),
        });
    }
    Ok(id.to_string())
}
