//! The standalone server (ECS, EC2, a sidecar): HTTP/1.1 on hyper, response bodies streamed
//! chunk by chunk from the cluster, never held whole. Slow clients are cut off: headers must
//! arrive within `header_timeout`, a body within `body_timeout`; connections are capped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use futures::StreamExt;
use hyper::body::Incoming as HyperBody;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::serve::answer::AnswerBody;
use crate::serve::audit::Pending;
use crate::serve::{BodyError, Incoming, Proxy, Served};

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

/// Serves until `shutdown` resolves; connections in flight finish on their own.
pub async fn serve(
    proxy: Arc<Proxy>,
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(config.max_connections));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // Over the cap: close at once rather than queue (a flood must not pin memory).
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let proxy = proxy.clone();
        let config = config.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(proxy.clone(), config.body_timeout, req));
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(config.header_timeout)
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, peer = %peer, "connection ended");
            }
            drop(permit);
        });
    }
}

/// Binds `addr` and serves (the binary's entry point).
pub async fn run(proxy: Arc<Proxy>, addr: SocketAddr, config: ServerConfig) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "proxy listening");
    serve(proxy, listener, config, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    Ok(())
}

async fn handle(
    proxy: Arc<Proxy>,
    body_timeout: Duration,
    req: http::Request<HyperBody>,
) -> Result<http::Response<Body>, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let incoming = Incoming {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts.headers,
    };
    let declared = incoming
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let served = proxy
        .serve(incoming, |limit| read(body, declared, limit, body_timeout))
        .await;
    Ok(respond(served))
}

async fn read(
    body: HyperBody,
    declared: Option<usize>,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    if declared.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let collect = async {
        let mut out = Vec::with_capacity(declared.unwrap_or(0));
        let mut stream = Body::new(body).into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| BodyError::Broken)?;
            if out.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge);
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(out))
    };
    tokio::time::timeout(timeout, collect)
        .await
        .unwrap_or(Err(BodyError::Timeout))
}

fn respond(served: Served) -> http::Response<Body> {
    let Served { answer, mut audit } = served;
    let body = match answer.body {
        AnswerBody::Full(b) => {
            audit.bytes = b.len() as u64;
            drop(audit);
            Body::from(b)
        }
        AnswerBody::Upstream(resp) => Body::from_stream(stream_of(resp, audit)),
    };
    let mut out = http::Response::new(body);
    *out.status_mut() = answer.status;
    for (k, v) in answer.headers {
        out.headers_mut().append(k, v);
    }
    out
}

/// The cluster's body as it arrives, counted into the audit line, which is written when the
/// stream ends or is dropped (client gone).
fn stream_of(
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
