//! The Lambda front end: a function URL with `InvokeMode: RESPONSE_STREAM` (payload format
//! 2.0). The answer streams as the cluster sends it (the runtime writes the status and headers
//! as the streaming prelude), so a large search result is never held whole, and is not bound by
//! a buffered response's 6 MB. Request bodies still arrive whole in the event: Lambda limits
//! them to 6 MB, and the engine's own limit applies as in the server.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use axum::body::Bytes;
use base64::Engine;
use lambda_runtime::{MetadataPrelude, StreamResponse};

use crate::serve::answer::{ByteStream, body_stream};
use crate::serve::{BodyError, Incoming, Proxy, Served};

pub async fn handle(proxy: &Proxy, event: ApiGatewayV2httpRequest) -> StreamResponse<ByteStream> {
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
    respond(served)
}

fn respond(served: Served) -> StreamResponse<ByteStream> {
    let Served { answer, audit } = served;
    let mut headers = http::HeaderMap::new();
    for (k, v) in answer.headers {
        headers.append(k, v);
    }
    StreamResponse {
        metadata_prelude: MetadataPrelude {
            status_code: answer.status,
            headers,
            cookies: Vec::new(),
        },
        stream: body_stream(answer.body, audit),
    }
}
