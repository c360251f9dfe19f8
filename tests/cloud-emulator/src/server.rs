//! The HTTP server: routing, the front middleware (request log, faults, authentication), and the
//! handle tests hold.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, OriginalUri, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth::{self, EXPIRATION_HEADER};
use crate::connection::{Connection, SeverableListener};
use crate::error::{ERROR_CODES_HEADER, error_response};
use crate::faults::{self, FaultSpec};
use crate::state::{RequestRecord, World};
use crate::views::timestamp;
use crate::{CloudConfig, api, control};

pub const CONTROL_PREFIX: &str = "/_emulator";

/// Shared by every handler.
#[derive(Clone)]
pub struct App {
    pub config: Arc<CloudConfig>,
    world: Arc<Mutex<World>>,
}

impl App {
    pub fn new(config: CloudConfig) -> std::io::Result<Self> {
        let world = World::build(&config)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        Ok(Self {
            config: Arc::new(config),
            world: Arc::new(Mutex::new(world)),
        })
    }

    /// Every handler finishes its work under one lock, so each request sees and leaves a
    /// consistent world; a poisoned lock (a panicking handler) must not wedge later tests.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub fn router(app: App) -> Router {
    Router::new()
        .nest("/api/v1", api::router())
        .nest(CONTROL_PREFIX, control::router())
        .fallback(api::not_found)
        .layer(middleware::from_fn_with_state(app.clone(), front))
        .with_state(app)
}

/// Runs before every Cloud API handler: takes a matching fault, authenticates, attaches the
/// expiration header, and records the request. Control endpoints pass straight through.
async fn front(State(app): State<App>, mut request: Request, next: Next) -> Response {
    // Nested routers see a stripped path; the log and fault patterns use the full one.
    let uri = request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri().clone(), |o| o.0.clone());
    let path = uri.path().to_owned();
    if path == CONTROL_PREFIX || path.starts_with(&format!("{CONTROL_PREFIX}/")) {
        return next.run(request).await;
    }
    let method = request.method().as_str().to_owned();
    let query = uri.query().map(str::to_owned);
    let (authenticated, fault) = {
        let mut world = app.world();
        let authenticated = auth::authenticate(&world, request.headers());
        let fault = faults::take(&mut world.faults, &method, &path);
        (authenticated, fault)
    };
    let principal = authenticated.as_ref().ok().map(|c| c.user_id.clone());
    let api_key_id = authenticated.as_ref().ok().map(|c| c.key_id.clone());
    let connection = request
        .extensions()
        .get::<ConnectInfo<Connection>>()
        .map(|c| c.0.clone());

    let mut dropped = false;
    let response = match fault {
        Some(fault) if fault.status.is_some() || fault.drop_connection => {
            tokio::time::sleep(Duration::from_millis(fault.latency_ms)).await;
            if fault.drop_connection
                && let Some(connection) = &connection
            {
                connection.sever();
                dropped = true;
            }
            injected(&fault)
        }
        fault => {
            if let Some(fault) = fault {
                tokio::time::sleep(Duration::from_millis(fault.latency_ms)).await;
            }
            match authenticated {
                Err(error) => error.into_response(),
                Ok(caller) => {
                    let expiration = caller.expiration_date;
                    request.extensions_mut().insert(caller);
                    let mut response = next.run(request).await;
                    if let Some(at) = expiration
                        && let Ok(value) = HeaderValue::from_str(&timestamp(at))
                    {
                        response.headers_mut().insert(EXPIRATION_HEADER, value);
                    }
                    response
                }
            }
        }
    };

    let status = if dropped {
        0
    } else {
        response.status().as_u16()
    };
    tracing::info!(
        method = %method,
        path = %path,
        principal = principal.as_deref().unwrap_or("-"),
        status,
        dropped,
        "request"
    );
    app.world().requests.push(RequestRecord {
        method,
        path,
        query,
        principal,
        api_key_id,
        status,
        dropped,
    });
    response
}

fn injected(fault: &FaultSpec) -> Response {
    let status = fault
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match &fault.body {
        None => error_response(status, "emulator.injected_fault", "Injected fault."),
        Some(body) => {
            let mut response = (status, axum::Json(body.clone())).into_response();
            // Keep header and body consistent when the test supplies a Cloud error body.
            if let Some(code) = body
                .pointer("/errors/0/code")
                .and_then(serde_json::Value::as_str)
                && let Ok(value) = HeaderValue::from_str(code)
            {
                response.headers_mut().insert(ERROR_CODES_HEADER, value);
            }
            response
        }
    }
}

/// A running emulator. Dropping it stops the server task; `shutdown` stops it gracefully.
pub struct RunningCloud {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningCloud {
    /// Binds `listen` (port 0 picks a free port) and serves on a task of the current runtime.
    pub async fn start(config: CloudConfig, listen: SocketAddr) -> std::io::Result<RunningCloud> {
        let app = App::new(config)?;
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let service = router(app).into_make_service_with_connect_info::<Connection>();
        let task = tokio::spawn(async move {
            let served = axum::serve(SeverableListener(listener), service)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "cloud emulator server failed");
            }
        });
        Ok(RunningCloud {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL without a trailing slash; the Cloud API lives under `/api/v1`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish (at most a few seconds), then returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for RunningCloud {
    fn drop(&mut self) {
        // The signal makes open keep-alive connections close; the abort stops accepting at once.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
