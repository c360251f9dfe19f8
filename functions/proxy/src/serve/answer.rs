//! What the proxy answers: a local body (refusals, 401s) or the cluster's response, streamed.

use std::pin::Pin;

use axum::body::Bytes;
use futures::Stream;
use http::{HeaderName, HeaderValue, StatusCode};

use super::audit::Pending;

/// A response body as both front ends send it: chunks as they come.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

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

/// The answer's body as a stream, its size counted into the audit line, which is written when
/// the stream ends or is dropped (the client went away).
pub fn body_stream(body: AnswerBody, mut audit: Pending) -> ByteStream {
    match body {
        AnswerBody::Full(b) => {
            audit.bytes = b.len() as u64;
            drop(audit);
            Box::pin(futures::stream::once(async move { Ok(b) }))
        }
        AnswerBody::Upstream(resp) => Box::pin(upstream_stream(resp, audit)),
    }
}

/// The cluster's body as it arrives, counted into the audit line, which is written when the
/// stream ends or is dropped (client gone).
pub fn upstream_stream(
    resp: reqwest::Response,
    audit: Pending,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    futures::stream::unfold(Some((resp, audit)), |state| async move {
        let (mut resp, mut audit) = state?;
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                audit.bytes += chunk.len() as u64;
                Some((Ok(chunk), Some((resp, audit))))
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e.without_url(), "cluster response cut short");
                Some((Err(std::io::Error::other("upstream body failed")), None))
            }
        }
    })
}
