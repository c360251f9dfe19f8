//! `cloud-emulator --listen 127.0.0.1:PORT --organization-id ORG --api-key KEY [--seed FILE]`
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use cloud_emulator::{CloudConfig, RunningCloud, Seed};
use tracing_subscriber::EnvFilter;

/// Elastic Cloud API emulator for tests (see tests/cloud-emulator/README.md).
#[derive(Parser)]
#[command(name = "cloud-emulator", version)]
struct Args {
    /// Loopback address to listen on, e.g. 127.0.0.1:9300 (port 0 picks a free port).
    #[arg(long)]
    listen: SocketAddr,
    /// Id of the emulated organization.
    #[arg(long)]
    organization_id: String,
    /// The organization owner's API key.
    #[arg(long)]
    api_key: String,
    /// JSON seed file: members, API keys, deployments, projects, invitations.
    #[arg(long)]
    seed: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes would break tests and scripts that read the ready line.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    // A test double with a known key must never be reachable from the network.
    if !args.listen.ip().is_loopback() {
        tracing::error!(listen = %args.listen, "refusing to listen on a non-loopback address");
        return ExitCode::from(2);
    }
    let mut config = CloudConfig::new(args.organization_id, args.api_key);
    if let Some(path) = &args.seed {
        match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| Seed::from_json(&text).map_err(|e| e.to_string()))
        {
            Ok(seed) => config.seed = Some(seed),
            Err(error) => {
                tracing::error!(seed = %path.display(), %error, "cannot load seed");
                return ExitCode::from(2);
            }
        }
    }
    let cloud = match RunningCloud::start(config, args.listen).await {
        Ok(cloud) => cloud,
        Err(error) => {
            tracing::error!(listen = %args.listen, %error, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("cloud-emulator listening on {}", cloud.url());
    if let Err(error) = shutdown_signal().await {
        tracing::error!(%error, "cannot wait for signals");
        cloud.shutdown().await;
        return ExitCode::FAILURE;
    }
    tracing::info!("shutting down");
    cloud.shutdown().await;
    ExitCode::SUCCESS
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => Ok(()),
            result = tokio::signal::ctrl_c() => result,
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
