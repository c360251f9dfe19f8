//! The standalone server (ECS, EC2, a sidecar): HTTP/1.1 on hyper, response bodies streamed
//! chunk by chunk from the cluster, never held whole.
//!
//! No client holds a connection, or the memory behind it, longer than it keeps up: headers
//! must arrive within `header_timeout` (idle keep-alive connections included), a body within
//! `body_timeout`; a write the client does not take within `write_timeout` ends the connection;
//! no connection lives past `connection_lifetime`. Connections are capped globally and per peer
//! (more are closed at once), a request head is held only up to [`MAX_HEAD_BYTES`], and a body
//! buffer grows only as bytes arrive.

pub mod limits;

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
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::serve::answer::{AnswerBody, upstream_stream};
use crate::serve::{BodyError, Incoming, Proxy, Served};
use limits::{PeerSlots, WriteDeadline};

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    /// How long one write may wait for the client to read (progress resets it).
    pub write_timeout: Duration,
    /// The longest any connection lives; a request in flight then gets `write_timeout` more to
    /// finish before the connection is cut.
    pub connection_lifetime: Duration,
    pub max_connections: usize,
    /// Per peer: an IPv4 address or an IPv6 /64. Behind a load balancer every client shares
    /// its address: raise it to `max_connections` there.
    pub max_connections_per_peer: usize,
    /// Request-body bytes all connections may hold at once (each body is held until its
    /// request is answered). Past it a body is answered 503 rather than buffered: otherwise
    /// `max_connections` bodies of 16 MiB each could be held at once.
    pub max_buffered_body_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            connection_lifetime: Duration::from_secs(600),
            max_connections: 1024,
            max_connections_per_peer: 64,
            max_buffered_body_bytes: 256 * 1024 * 1024,
        }
    }
}

/// The most a connection's read buffer holds: a request head must fit (hyper answers 431
/// otherwise), and so must pipelined requests waiting their turn. hyper's default (about
/// 400 KiB) would let 1024 slow-header connections pin 400 MiB before any is authenticated;
/// Elasticsearch itself takes a 4 KiB request line and 16 KiB of headers, and a 64 KiB URI
/// (the longest `http::Uri` holds) still fits.
pub const MAX_HEAD_BYTES: usize = 80 * 1024;

/// Where a body buffer starts, whatever `Content-Length` claims: a client that announces the
/// limit and sends nothing must not make the server allocate it.
const INITIAL_BODY_CAPACITY: usize = 64 * 1024;

/// Serves until `shutdown` resolves; connections in flight finish on their own.
pub async fn serve(
    proxy: Arc<Proxy>,
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let bodies = Arc::new(Semaphore::new(
        config.max_buffered_body_bytes.min(Semaphore::MAX_PERMITS),
    ));
    let peers = PeerSlots::new(config.max_connections_per_peer);
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
        // Over either cap: close at once rather than queue (a flood must not pin memory).
        let Some(peer_slot) = peers.try_acquire(peer.ip()) else {
            tracing::debug!(peer = %peer, "per-peer connection cap reached");
            drop(stream);
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let proxy = proxy.clone();
        let config = config.clone();
        let bodies = bodies.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                handle(proxy.clone(), bodies.clone(), config.body_timeout, req)
            });
            let io = TokioIo::new(WriteDeadline::new(stream, config.write_timeout));
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(config.header_timeout)
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(io, svc);
            tokio::pin!(conn);
            let ended = tokio::select! {
                r = conn.as_mut() => r,
                _ = tokio::time::sleep(config.connection_lifetime) => {
                    conn.as_mut().graceful_shutdown();
                    tokio::time::timeout(config.write_timeout, conn.as_mut())
                        .await
                        .unwrap_or(Ok(()))
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, peer = %peer, "connection ended");
            }
            drop(permit);
            drop(peer_slot);
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
    bodies: Arc<Semaphore>,
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
        .serve(incoming, |limit| {
            read(body, declared, limit, Budget(bodies), body_timeout)
        })
        .await;
    Ok(respond(served))
}

/// The bytes all buffered bodies may take, shared by every connection.
struct Budget(Arc<Semaphore>);

impl Budget {
    /// Permits for `bytes` more, or `Busy` at once (waiting would hold the connection).
    fn take(&self, held: &mut Option<OwnedSemaphorePermit>, bytes: usize) -> Result<(), BodyError> {
        if bytes == 0 {
            return Ok(());
        }
        let n = u32::try_from(bytes).map_err(|_| BodyError::TooLarge)?;
        let more = self
            .0
            .clone()
            .try_acquire_many_owned(n)
            .map_err(|_| BodyError::Busy)?;
        match held {
            Some(p) => p.merge(more),
            None => *held = Some(more),
        }
        Ok(())
    }
}

/// A body and its share of the budget, given back when the last reference to the body drops
/// (after it has been forwarded), not when reading ends.
struct Held {
    bytes: Vec<u8>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

async fn read(
    body: HyperBody,
    declared: Option<usize>,
    limit: usize,
    budget: Budget,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    if declared.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let collect = async {
        let mut permit = None;
        let mut out = Vec::with_capacity(initial_capacity(declared));
        budget.take(&mut permit, out.capacity())?;
        let mut stream = Body::new(body).into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| BodyError::Broken)?;
            let needed = out.len() + chunk.len();
            if needed > limit {
                return Err(BodyError::TooLarge);
            }
            // Doubling, but never past the limit (a plain extend could reserve twice it).
            if needed > out.capacity() {
                let before = out.capacity();
                let target = grown(before, needed, limit);
                budget.take(&mut permit, target - before)?;
                out.reserve_exact(target - out.len());
                // The allocator may round up: what it gave is what is held.
                budget.take(&mut permit, out.capacity().saturating_sub(target))?;
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Bytes::from_owner(Held {
            bytes: out,
            _permit: permit,
        }))
    };
    tokio::time::timeout(timeout, collect)
        .await
        .unwrap_or(Err(BodyError::Timeout))
}

/// The next buffer capacity for `needed` bytes: doubled, at least `needed`, at most `limit`.
fn grown(capacity: usize, needed: usize, limit: usize) -> usize {
    capacity.saturating_mul(2).max(needed).min(limit)
}

fn initial_capacity(declared: Option<usize>) -> usize {
    declared.unwrap_or(0).min(INITIAL_BODY_CAPACITY)
}

fn respond(served: Served) -> http::Response<Body> {
    let Served { answer, mut audit } = served;
    let body = match answer.body {
        AnswerBody::Full(b) => {
            audit.bytes = b.len() as u64;
            drop(audit);
            Body::from(b)
        }
        AnswerBody::Upstream(resp) => Body::from_stream(upstream_stream(resp, audit)),
    };
    let mut out = http::Response::new(body);
    *out.status_mut() = answer.status;
    for (k, v) in answer.headers {
        out.headers_mut().append(k, v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_length_does_not_size_the_buffer() {
        assert_eq!(initial_capacity(None), 0);
        assert_eq!(initial_capacity(Some(100)), 100);
        assert_eq!(
            initial_capacity(Some(16 * 1024 * 1024)),
            INITIAL_BODY_CAPACITY
        );
        assert_eq!(initial_capacity(Some(usize::MAX)), INITIAL_BODY_CAPACITY);
    }

    #[test]
    fn a_body_buffer_grows_with_what_arrived_and_never_past_the_limit() {
        assert_eq!(grown(0, 10, 100), 10);
        assert_eq!(grown(10, 11, 100), 20);
        assert_eq!(grown(60, 61, 100), 100, "doubling stops at the limit");
        assert_eq!(grown(usize::MAX, usize::MAX, 100), 100);
    }
}
