//! The Lambda front end (function URL or HTTP API, payload format 2.0). Lambda's buffered
//! responses hold at most 6 MB, so a cluster answer over [`MAX_RESPONSE_BYTES`] is refused
//! with a 502 naming the limit (use the server for large results); request bodies over
//! Lambda's own 6 MB never arrive.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use axum::body::Bytes;
use base64::Engine;

use crate::serve::answer::{Answer, AnswerBody};
use crate::serve::{BodyError, Incoming, Proxy, Served};

/// What a buffered Lambda response may carry (6 MB, less room for headers and encoding).
pub const MAX_RESPONSE_BYTES: usize = 5 * 1024 * 1024;

pub async fn handle(proxy: &Proxy, event: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let body = match (&event.body, event.is_base64_encoded) {
        (None, _) => Ok(Bytes::new()),
        (Some(b), false) => Ok(Bytes::from(b.clone().into_bytes())),
        (Some(b), true) => base64::engine::general_purpose::STANDARD
            .decode(b)
            .map(Bytes::from)
            .map_err(|_| BodyError::Broken),
    };
    let incoming = Incoming {
        method: event.request_context.http.method.as_str().to_string(),
        path: event.raw_path.clone().unwrap_or_else(|| "/".into()),
        query: event.raw_query_string.clone().unwrap_or_default(),
        headers: event.headers.clone(),
    };
    let served = proxy
        .serve(incoming, |limit| async move {
            let b = body?;
            if b.len() > limit {
                Err(BodyError::TooLarge)
            } else {
                Ok(b)
            }
        })
        .await;
    respond(served).await
}

async fn respond(served: Served) -> ApiGatewayV2httpResponse {
    let Served { answer, mut audit } = served;
    let Answer {
        status,
        headers,
        body,
    } = answer;
    let (status, headers, bytes) = match body {
        AnswerBody::Full(b) => (status, headers, b),
        AnswerBody::Upstream(mut resp) => {
            let mut out = Vec::new();
            let mut over = false;
            loop {
                match resp.chunk().await {
                    Ok(Some(c)) if out.len() + c.len() <= MAX_RESPONSE_BYTES => {
                        out.extend_from_slice(&c)
                    }
                    Ok(Some(_)) => {
                        over = true;
                        break;
                    }
                    Ok(None) => break,
                    Err(_) => {
                        let a = Answer::unavailable(502, "the cluster's answer was cut short");
                        return finish(a.status, a.headers, body_of(a.body), audit);
                    }
                }
            }
            if over {
                let a = Answer::unavailable(
                    502,
                    "the cluster's answer is over the Lambda front end's 5 MiB limit; narrow \
                     the request or use the proxy server",
                );
                return finish(a.status, a.headers, body_of(a.body), audit);
            }
            (status, headers, Bytes::from(out))
        }
    };
    audit.bytes = bytes.len() as u64;
    finish(status, headers, bytes, audit)
}

fn body_of(b: AnswerBody) -> Bytes {
    match b {
        AnswerBody::Full(b) => b,
        AnswerBody::Upstream(_) => Bytes::new(),
    }
}

fn finish(
    status: http::StatusCode,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    bytes: Bytes,
    mut audit: crate::serve::audit::Pending,
) -> ApiGatewayV2httpResponse {
    audit.bytes = bytes.len() as u64;
    let mut map = http::HeaderMap::new();
    for (k, v) in headers {
        map.append(k, v);
    }
    let text = std::str::from_utf8(&bytes).is_ok();
    let mut r = ApiGatewayV2httpResponse::default();
    r.status_code = i64::from(status.as_u16());
    r.headers = map;
    r.body = Some(if text {
        Body::Text(String::from_utf8_lossy(&bytes).into_owned())
    } else {
        Body::Binary(bytes.to_vec())
    });
    r.is_base64_encoded = !text;
    r
}
