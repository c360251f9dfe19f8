//! An authenticated JSON client for one Elasticsearch cluster.

use reqwest::header::HeaderValue;
use reqwest::{Client, Method};
use serde::Deserialize;

use crate::driver::error::DriverError;
use crate::driver::http::{Call, HttpClients, JsonResponse, RetryPolicy, send, sensitive_header};
use crate::secrets::SecretValue;

/// The connector secret: `{"username","password"}` or `{"api_key"}` (the `encoded` form).
pub enum ConnectorCredentials {
    Basic {
        username: String,
        password: SecretValue,
    },
    ApiKey {
        encoded: SecretValue,
    },
}

#[derive(Deserialize)]
struct RawConnector {
    username: Option<String>,
    password: Option<String>,
    api_key: Option<String>,
}

impl ConnectorCredentials {
    pub fn from_secret(secret: &SecretValue) -> Result<Self, DriverError> {
        let raw: RawConnector =
            secret
                .parse_json()
                .map_err(|e| DriverError::BadConnectorSecret {
                    reason: e.to_string(),
                })?;
        match (raw.username, raw.password, raw.api_key) {
            (Some(u), Some(p), None) if !u.is_empty() && !p.is_empty() => Ok(Self::Basic {
                username: u,
                password: SecretValue::new(p),
            }),
            (None, None, Some(k)) if !k.is_empty() => Ok(Self::ApiKey {
                encoded: SecretValue::new(k),
            }),
            _ => Err(DriverError::BadConnectorSecret {
                reason: "expected JSON with either \"username\" and \"password\", or \"api_key\" \
                         (the encoded form)"
                    .into(),
            }),
        }
    }

    pub fn authorization(&self) -> Result<HeaderValue, DriverError> {
        use base64::Engine;
        match self {
            Self::Basic { username, password } => {
                let raw = format!("{username}:{}", password.expose());
                sensitive_header(&format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                ))
            }
            Self::ApiKey { encoded } => sensitive_header(&format!("ApiKey {}", encoded.expose())),
        }
    }

    /// The principal name, for messages (never the secret part).
    pub fn describe(&self) -> String {
        match self {
            Self::Basic { username, .. } => format!("user [{username}]"),
            Self::ApiKey { .. } => "an API key".into(),
        }
    }
}

pub struct EsClient {
    http: Client,
    retry: RetryPolicy,
    base: String,
    target: String,
    auth: Option<HeaderValue>,
}

impl EsClient {
    pub fn new(
        clients: &HttpClients,
        url: &str,
        ca_pem: Option<&str>,
        auth: impl Into<Option<HeaderValue>>,
    ) -> Result<Self, DriverError> {
        Self::from_parts(clients.client(ca_pem)?, clients.retry, url, auth)
    }

    /// From an existing client, e.g. to authenticate with other credentials.
    pub fn from_parts(
        http: Client,
        retry: RetryPolicy,
        url: &str,
        auth: impl Into<Option<HeaderValue>>,
    ) -> Result<Self, DriverError> {
        let target = url::Url::parse(url)
            .map(|u| match u.port() {
                Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
                None => u.host_str().unwrap_or_default().to_string(),
            })
            .map_err(|e| DriverError::Refused {
                reason: format!("invalid Elasticsearch URL: {e}"),
            })?;
        Ok(Self {
            http,
            retry,
            base: url.trim_end_matches('/').to_string(),
            target,
            auth: auth.into(),
        })
    }

    pub fn target(&self) -> &str {
        &self.target
    }

    /// Send a request; any HTTP status is returned for the caller to interpret.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        idempotent: bool,
    ) -> Result<JsonResponse, DriverError> {
        send(
            &self.http,
            &self.retry,
            &self.target,
            Call {
                method,
                url: format!("{}{path}", self.base),
                auth: self.auth.as_ref(),
                body,
                idempotent,
            },
        )
        .await
    }

    /// Send a request and turn any non-2xx answer into a typed error.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        idempotent: bool,
    ) -> Result<serde_json::Value, DriverError> {
        let resp = self.raw(method, path, body, idempotent).await?;
        if resp.status.is_success() {
            Ok(resp.body)
        } else {
            Err(self.error(&resp))
        }
    }

    /// An Elasticsearch error answer as a typed error: its status and `error.type` token. The
    /// body's `reason` is never kept (see [`DriverError::from_answer`]).
    pub fn error(&self, resp: &JsonResponse) -> DriverError {
        let error_type = resp
            .body
            .get("error")
            .and_then(|e| e.get("type"))
            .and_then(|t| t.as_str());
        DriverError::from_answer(&self.target, resp.status.as_u16(), error_type)
    }
}
