//! An in-process Elasticsearch emulator for tests: security (users, roles, API keys,
//! privileges), discovery and a small data API, with exact error bodies. See README.md.
#![forbid(unsafe_code)]

mod account;
mod api_keys;
mod authn;
mod authz;
mod catalog;
mod control;
mod ctx;
mod discovery;
mod dls;
mod documents;
mod errors;
mod filter_path;
mod glob;
mod ids;
mod kibana;
mod license;
mod media;
mod privileges;
mod query;
mod request;
mod role_api;
mod roles;
mod router;
mod security_query;
mod seed;
mod server;
mod state;
mod users;
mod validation;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use license::License;
pub use seed::{Seed, SeedAlias, SeedDataStream, SeedDoc, SeedGenerated, SeedIndex, SeedUser};

/// How an emulator starts: the `elastic` superuser's password and optional fixtures.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub elastic_password: String,
    pub seed: Option<Seed>,
    /// `false` stands for a cluster run with `xpack.security.enabled: false`: no
    /// authentication, every request served as the superuser, and the security APIs refused.
    pub security: bool,
}

impl EmulatorConfig {
    pub fn new(elastic_password: impl Into<String>) -> Self {
        Self {
            elastic_password: elastic_password.into(),
            seed: None,
            security: true,
        }
    }

    /// A cluster with security disabled (what the authorizing proxy stands in front of).
    pub fn without_security(mut self) -> Self {
        self.security = false;
        self
    }

    pub fn with_seed(mut self, seed: Seed) -> Self {
        self.seed = Some(seed);
        self
    }
}

/// A server task in the caller's runtime. Dropping it aborts the task, so a test that
/// forgets `shutdown` does not leak a listener.
pub struct RunningEmulator {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningEmulator {
    /// Binds `listen` (port 0 picks a free port) and serves until shutdown.
    pub async fn start(config: EmulatorConfig, listen: SocketAddr) -> io::Result<RunningEmulator> {
        let shared = Arc::new(server::Shared::new(
            config.elastic_password,
            config.seed,
            config.security,
        )?);
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let app = server::app(shared);
        let service = app.into_make_service_with_connect_info::<server::ConnKill>();
        let task = tokio::spawn(async move {
            let served = axum::serve(server::KillableListener::new(listener), service)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "es-emulator server stopped");
            }
        });
        Ok(RunningEmulator {
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish (bounded), then ends the task.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
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

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
