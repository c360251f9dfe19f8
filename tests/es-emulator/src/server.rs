//! The HTTP server: connection handling (including dropping a connection on demand),
//! faults, authentication, dispatch, `filter_path`, and the request log.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::authn;
use crate::ctx::Ctx;
use crate::errors::{ApiResponse, es_error};
use crate::request::Req;
use crate::seed::{Seed, initial_state};
use crate::state::{LogEntry, State};

/// Largest request body accepted (bulk-sized seeds are loaded from files, not requests).
const MAX_BODY: usize = 64 * 1024 * 1024;

pub struct Shared {
    state: Mutex<State>,
    elastic_password: String,
    seed: Option<Seed>,
    security: bool,
}

impl Shared {
    pub fn new(elastic_password: String, seed: Option<Seed>, security: bool) -> io::Result<Self> {
        let state = initial_state(&elastic_password, seed.as_ref())?;
        Ok(Shared {
            state: Mutex::new(state),
            elastic_password,
            seed,
            security,
        })
    }

    /// A poisoned lock only means a handler panicked mid-update; the state is still the
    /// best there is, and tests should keep running.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn fresh_state(&self) -> io::Result<State> {
        initial_state(&self.elastic_password, self.seed.as_ref())
    }
}

/// A TCP stream that a fault can cut: once killed, writes fail and reads see EOF, so
/// hyper closes the connection without sending a response.
pub struct KillableStream {
    inner: TcpStream,
    killed: Arc<AtomicBool>,
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

fn killed_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection dropped by injected fault",
    )
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed_error()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed_error()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

pub struct KillableListener {
    inner: TcpListener,
}

impl KillableListener {
    pub fn new(inner: TcpListener) -> Self {
        Self { inner }
    }
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let io = KillableStream {
                        inner: stream,
                        killed: Arc::new(AtomicBool::new(false)),
                    };
                    return (io, addr);
                }
                // Resource exhaustion (e.g. EMFILE) is transient; back off and retry.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Per-connection handle a handler uses to drop its connection.
#[derive(Clone)]
pub struct ConnKill(Arc<AtomicBool>);

impl Connected<IncomingStream<'_, KillableListener>> for ConnKill {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        ConnKill(stream.io().killed.clone())
    }
}

pub fn app(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

fn fault_body(status: u16) -> Value {
    es_error(
        status,
        "emulated_fault",
        "fault injected by es-emulator",
        serde_json::Map::new(),
    )
    .body
    .unwrap_or(Value::Null)
}

async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    ConnectInfo(kill): ConnectInfo<ConnKill>,
    request: Request,
) -> Response {
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (content_type, accept) = (
        header_text(request.headers(), "content-type"),
        header_text(request.headers(), "accept"),
    );
    let body = match axum::body::to_bytes(request.into_body(), MAX_BODY).await {
        Ok(b) => b.to_vec(),
        Err(_) => {
            return to_http(
                &ApiResponse::new(413, json!({"error": "request body too large"})),
                None,
                false,
            );
        }
    };

    if path == "/_emulator" || path.starts_with("/_emulator/") {
        let resp = crate::control::handle(&shared, &method, &path, &body);
        return to_http(&resp, None, false);
    }

    let media =
        match crate::media::negotiate(content_type.as_deref(), accept.as_deref(), !body.is_empty())
        {
            Ok(m) => m,
            Err(resp) => return to_http(&resp, None, false),
        };
    let req = Req::new(&method, &path, query.as_deref(), body, authorization);
    let fault = shared.lock().take_fault(&method, &path);
    let mut fault_kind = None;
    if let Some(f) = &fault {
        if f.latency_ms > 0 {
            fault_kind = Some("latency");
            tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
        }
        if f.drop_connection {
            kill.0.store(true, Ordering::SeqCst);
            record(&shared, &req, 0, Some("drop_connection"));
            return Response::new(Body::empty());
        }
        if let Some(status) = f.status {
            let resp =
                ApiResponse::new(status, f.body.clone().unwrap_or_else(|| fault_body(status)));
            record(&shared, &req, status, Some("status"));
            return to_http(&resp, None, false);
        }
    }

    let (resp, principal) = {
        let mut state = shared.lock();
        let authenticated = if shared.security {
            authn::authenticate(&state, &req)
        } else {
            without_security(&state, &req, &shared.elastic_password)
        };
        let outcome = match authenticated {
            Err(e) => (e, None),
            Ok(principal) => {
                let mut ctx = Ctx {
                    state: &mut state,
                    req: &req,
                    principal: &principal,
                };
                (crate::router::dispatch(&mut ctx), Some(principal))
            }
        };
        push_log(
            &mut state,
            &req,
            outcome.1.as_ref(),
            outcome.0.status,
            fault_kind,
        );
        outcome
    };
    tracing::info!(
        method = %req.method,
        path = %req.path,
        principal = principal.as_ref().map(|p| p.username.as_str()).unwrap_or("-"),
        status = resp.status,
        "request"
    );
    let pretty = req.bool_param("pretty", false).unwrap_or(false);
    let mut response = to_http(&resp, req.param("filter_path"), pretty);
    if !resp.plain_text
        && let Ok(v) = HeaderValue::from_str(&media.json_content_type())
    {
        response.headers_mut().insert("content-type", v);
    }
    response
}

/// `xpack.security.enabled: false`: nobody is authenticated (any `Authorization` is ignored)
/// and everything is allowed, so requests run as the superuser; the security APIs answer
/// what a basic-licensed cluster with security off answers (the 500 Kibana reports as
/// "[exception] Security must be explicitly enabled when using a [basic] license ...").
fn without_security(
    state: &State,
    req: &Req,
    elastic_password: &str,
) -> Result<authn::Principal, ApiResponse> {
    if req.path == "/_security" || req.path.starts_with("/_security/") {
        return Err(es_error(
            500,
            "exception",
            "Security must be explicitly enabled when using a [basic] license. Enable security \
             by setting [xpack.security.enabled] to [true] in the elasticsearch.yml file and \
             restart the node.",
            serde_json::Map::new(),
        ));
    }
    authn::authenticate_password(state, "elastic", elastic_password)
        .ok_or_else(|| es_error(500, "exception", "no superuser", serde_json::Map::new()))
}

fn header_text(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn push_log(
    state: &mut State,
    req: &Req,
    principal: Option<&authn::Principal>,
    status: u16,
    fault: Option<&'static str>,
) {
    state.log.push(LogEntry {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query_string.clone(),
        principal: principal.map(authn::Principal::log_name),
        api_key_id: principal.and_then(|p| p.api_key.as_ref().map(|k| k.id.clone())),
        status,
        fault,
    });
}

/// Logs a request a fault answered; the principal is still worked out for the log.
fn record(shared: &Shared, req: &Req, status: u16, fault: Option<&'static str>) {
    let mut state = shared.lock();
    let principal = authn::authenticate(&state, req).ok();
    push_log(&mut state, req, principal.as_ref(), status, fault);
    tracing::info!(
        method = %req.method,
        path = %req.path,
        principal = principal.as_ref().map(|p| p.username.as_str()).unwrap_or("-"),
        status,
        fault = fault.unwrap_or("-"),
        "request"
    );
}

fn to_http(resp: &ApiResponse, filter_path: Option<&str>, pretty: bool) -> Response {
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (content_type, body) = match &resp.body {
        None => ("application/json", Vec::new()),
        Some(Value::String(text)) if resp.plain_text => {
            ("text/plain; charset=UTF-8", text.clone().into_bytes())
        }
        Some(v) => {
            let filtered;
            let v = match filter_path.filter(|f| !f.is_empty()) {
                Some(f) => {
                    filtered = crate::filter_path::apply(v, f);
                    &filtered
                }
                None => v,
            };
            let bytes = if pretty {
                serde_json::to_vec_pretty(v)
            } else {
                serde_json::to_vec(v)
            };
            ("application/json", bytes.unwrap_or_default())
        }
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    // Official Elasticsearch clients refuse servers that do not send this.
    headers.insert(
        "x-elastic-product",
        HeaderValue::from_static("Elasticsearch"),
    );
    for (k, v) in &resp.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v))
        {
            headers.append(name, value);
        }
    }
    response
}
