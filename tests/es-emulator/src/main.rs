//! `es-emulator --listen 127.0.0.1:PORT --elastic-password PW [--seed FILE] [--without-security]`
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use es_emulator::{EmulatorConfig, RunningEmulator, Seed};
use tokio::signal::unix::{SignalKind, signal};

/// Elasticsearch emulator for tests (security, discovery and data APIs).
#[derive(Parser, Debug)]
#[command(name = "es-emulator", version)]
struct Args {
    /// Loopback address to listen on, e.g. 127.0.0.1:9200 (port 0 picks a free port).
    #[arg(long)]
    listen: SocketAddr,
    /// Password of the reserved `elastic` superuser.
    #[arg(long)]
    elastic_password: String,
    /// JSON seed file with indices, data streams, aliases, users and roles.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Run as a cluster with `xpack.security.enabled: false` (no authentication; what the
    /// authorizing proxy stands in front of).
    #[arg(long)]
    without_security: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    // The emulator accepts any password it is given; never expose it beyond this host.
    if !args.listen.ip().is_loopback() {
        tracing::error!(
            listen = %args.listen,
            "refusing to listen on a non-loopback address; use 127.0.0.1 or ::1"
        );
        return ExitCode::from(2);
    }
    let mut config = EmulatorConfig::new(args.elastic_password);
    if args.without_security {
        config = config.without_security();
    }
    if let Some(path) = &args.seed {
        match Seed::from_file(path) {
            Ok(seed) => config.seed = Some(seed),
            Err(e) => {
                tracing::error!(seed = %path.display(), error = %e, "cannot load seed");
                return ExitCode::from(2);
            }
        }
    }
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(t), Ok(i)) => (t, i),
        _ => {
            tracing::error!("cannot install signal handlers");
            return ExitCode::from(1);
        }
    };
    let emulator = match RunningEmulator::start(config, args.listen).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(listen = %args.listen, error = %e, "cannot start");
            return ExitCode::from(1);
        }
    };
    tracing::info!("es-emulator listening on {}", emulator.url());
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
        _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
    }
    emulator.shutdown().await;
    ExitCode::SUCCESS
}
