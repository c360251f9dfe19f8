//! What the proxy answers: a local body (refusals, 401s) or the cluster's response, streamed.

use axum::body::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};

/// Elasticsearch's 401 challenge: the schemes the proxy accepts, as a secured cluster lists them.
pub const WWW_AUTHENTICATE: [&str; 2] = ["Basic realm=\"security\", charset=\"UTF-8\"", "ApiKey"];

pub enum AnswerBody {
    Full(Bytes),
    /// The cluster's response, read chunk by chunk as the client takes it.
    Upstream(reqwest::Response),
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: AnswerBody,
}

impl Answer {
    /// A JSON body made here (never the cluster's).
    pub fn json(status: u16, body: String) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            // Elasticsearch sends the product header on every answer; clients check it.
            headers: vec![
                (
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (
                    HeaderName::from_static("x-elastic-product"),
                    HeaderValue::from_static("Elasticsearch"),
                ),
            ],
            body: AnswerBody::Full(Bytes::from(body)),
        }
    }

    /// Elasticsearch's 401 for a request without usable credentials, with its challenge both
    /// in the body and as `WWW-Authenticate` headers (clients read either).
    pub fn unauthenticated(reason: &str, api_key_detail: Option<&str>) -> Self {
        let mut cause = serde_json::json!({
            "type": "security_exception",
            "reason": reason,
        });
        if let Some(d) = api_key_detail {
            cause["additional_unsuccessful_credentials"] = format!("API key: {d}").into();
        }
        cause["header"] = serde_json::json!({ "WWW-Authenticate": WWW_AUTHENTICATE });
        let body = serde_json::json!({
            "error": {"root_cause": [cause.clone()], "type": cause["type"], "reason": cause["reason"],
                      "header": cause["header"]},
            "status": 401,
        });
        let mut a = Self::json(401, body.to_string());
        for v in WWW_AUTHENTICATE {
            a.headers
                .push((http::header::WWW_AUTHENTICATE, HeaderValue::from_static(v)));
        }
        a
    }

    /// A failure of the proxy or of the path to the cluster, Elasticsearch-shaped, naming no
    /// internals.
    pub fn unavailable(status: u16, reason: &str) -> Self {
        let kind = serde_json::Value::from("proxy_exception");
        let reason = serde_json::Value::from(reason);
        Self::json(
            status,
            format!(
                r#"{{"error":{{"root_cause":[{{"type":{kind},"reason":{reason}}}],"type":{kind},"reason":{reason}}},"status":{status}}}"#
            ),
        )
    }
}
