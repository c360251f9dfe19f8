//! An authenticated JSON client for the Elastic Cloud API, and the connector secret it uses.

use reqwest::header::HeaderValue;
use reqwest::{Client, Method};
use serde::Deserialize;
use serde_json::Value;

use crate::driver::error::DriverError;
use crate::driver::http::{Call, JsonResponse, RetryPolicy, send, sensitive_header};
use crate::secrets::SecretValue;

/// Every Cloud API path lives under this prefix of the API URL.
pub const API_BASE_PATH: &str = "/api/v1";

/// The connector secret: `{"api_key": "...", "api_key_id": "..."}`. The id is optional; without
/// it a rotated-out key cannot be deleted by the driver.
pub struct CloudCredentials {
    pub api_key: SecretValue,
    pub api_key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredentials {
    api_key: Option<String>,
    #[serde(default)]
    api_key_id: Option<String>,
}

impl CloudCredentials {
    pub fn from_secret(secret: &SecretValue) -> Result<Self, DriverError> {
        let expected = "expected JSON {\"api_key\": \"...\"} with an optional \"api_key_id\"";
        let raw: RawCredentials =
            secret
                .parse_json()
                .map_err(|e| DriverError::BadConnectorSecret {
                    reason: format!("{e}; {expected}"),
                })?;
        match raw.api_key {
            Some(k) if !k.trim().is_empty() => Ok(Self {
                api_key: SecretValue::new(k.trim()),
                api_key_id: raw.api_key_id.filter(|id| !id.trim().is_empty()),
            }),
            _ => Err(DriverError::BadConnectorSecret {
                reason: expected.into(),
            }),
        }
    }

    /// The secret as stored: the form `from_secret` reads back.
    pub fn to_secret(&self) -> SecretValue {
        let mut v = serde_json::json!({ "api_key": self.api_key.expose() });
        if let Some(id) = &self.api_key_id {
            v["api_key_id"] = Value::String(id.clone());
        }
        SecretValue::new(v.to_string())
    }

    pub fn authorization(&self) -> Result<HeaderValue, DriverError> {
        sensitive_header(&format!("ApiKey {}", self.api_key.expose()))
    }
}

/// One path segment, percent-encoded: ids come from configuration and API answers.
pub fn segment(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

pub struct CloudClient {
    http: Client,
    retry: RetryPolicy,
    /// The API URL including [`API_BASE_PATH`], without a trailing slash.
    base: String,
    target: String,
    auth: HeaderValue,
}

impl CloudClient {
    /// `api_url` is the Cloud API endpoint (`https://api.elastic-cloud.com`); a URL that
    /// already ends in `/api/v1` is accepted as well.
    pub fn new(
        http: Client,
        retry: RetryPolicy,
        api_url: &str,
        auth: HeaderValue,
    ) -> Result<Self, DriverError> {
        let parsed = url::Url::parse(api_url).map_err(|e| DriverError::Refused {
            reason: format!("invalid Elastic Cloud API URL: {e}"),
        })?;
        let host = parsed.host_str().unwrap_or_default();
        let target = match parsed.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let trimmed = api_url.trim_end_matches('/');
        let base = if trimmed.ends_with(API_BASE_PATH) {
            trimmed.to_string()
        } else {
            format!("{trimmed}{API_BASE_PATH}")
        };
        Ok(Self {
            http,
            retry,
            base,
            target,
            auth,
        })
    }

    /// The same endpoint, authenticating with other credentials.
    pub fn with_auth(&self, auth: HeaderValue) -> Self {
        Self {
            http: self.http.clone(),
            retry: self.retry,
            base: self.base.clone(),
            target: self.target.clone(),
            auth,
        }
    }

    pub fn target(&self) -> &str {
        &self.target
    }

    /// Send a request to `path` (below `/api/v1`); any HTTP status is returned as-is.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotent: bool,
    ) -> Result<JsonResponse, DriverError> {
        send(
            &self.http,
            &self.retry,
            &self.target,
            Call {
                method,
                url: format!("{}{path}", self.base),
                auth: Some(&self.auth),
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
        body: Option<&Value>,
        idempotent: bool,
    ) -> Result<Value, DriverError> {
        let resp = self.raw(method, path, body, idempotent).await?;
        if resp.status.is_success() {
            Ok(resp.body)
        } else {
            Err(self.error(&resp))
        }
    }

    /// A failed answer as a typed error. The Cloud error body is
    /// `{"errors":[{"code","message","fields"?}]}`; the code is also sent in
    /// `x-cloud-error-codes`, which is the fallback when the body is not of that shape.
    pub fn error(&self, resp: &JsonResponse) -> DriverError {
        let status = resp.status.as_u16();
        let errors = resp
            .body
            .get("errors")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let code = errors
            .iter()
            .find_map(|e| e.get("code").and_then(Value::as_str))
            .map(str::to_string)
            .or_else(|| {
                resp.headers
                    .get("x-cloud-error-codes")
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.split(',').next().unwrap_or(v).trim().to_string())
            })
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "unknown".to_string());
        // The errors' `message` texts are the target's words: never kept.
        DriverError::from_answer(&self.target, status, Some(&code))
    }

    /// A response body that does not have the documented shape.
    pub fn protocol(&self, operation: &str, reason: impl Into<String>) -> DriverError {
        DriverError::Protocol {
            target: self.target.clone(),
            operation: operation.into(),
            reason: reason.into(),
        }
    }
}

/// The error's Cloud code, if it is an API error.
pub fn error_code(e: &DriverError) -> Option<&str> {
    match e {
        DriverError::Api { error_type, .. } => Some(error_type),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_secret_shapes() {
        let ok = CloudCredentials::from_secret(&SecretValue::new(
            r#"{"api_key":"essu_abc","api_key_id":"k1"}"#,
        ));
        assert!(matches!(ok, Ok(CloudCredentials { api_key_id: Some(ref id), .. }) if id == "k1"));
        let no_id = CloudCredentials::from_secret(&SecretValue::new(r#"{"api_key":"essu_abc"}"#));
        assert!(matches!(
            no_id,
            Ok(CloudCredentials {
                api_key_id: None,
                ..
            })
        ));
        for bad in [
            r#"{"username":"a","password":"b"}"#,
            r#"{"api_key":""}"#,
            r#"{}"#,
            "essu_abc",
            r#"{"api_key":"k","extra":1}"#,
        ] {
            let e = CloudCredentials::from_secret(&SecretValue::new(bad));
            match e {
                Err(DriverError::BadConnectorSecret { reason }) => {
                    assert!(!reason.contains("essu_abc"), "secret leaked: {reason}");
                }
                _ => panic!("accepted {bad}"),
            }
        }
    }

    #[test]
    fn base_path_is_added_once() {
        let auth = HeaderValue::from_static("ApiKey x");
        let c = CloudClient::new(
            Client::new(),
            RetryPolicy::default(),
            "https://api.elastic-cloud.com/",
            auth.clone(),
        )
        .expect("valid");
        assert_eq!(c.base, "https://api.elastic-cloud.com/api/v1");
        assert_eq!(c.target(), "api.elastic-cloud.com");
        let c = CloudClient::new(
            Client::new(),
            RetryPolicy::default(),
            "http://127.0.0.1:9300/api/v1",
            auth,
        )
        .expect("valid");
        assert_eq!(c.base, "http://127.0.0.1:9300/api/v1");
        assert_eq!(c.target(), "127.0.0.1:9300");
    }
}
