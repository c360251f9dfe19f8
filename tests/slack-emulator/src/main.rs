//! `slack-emulator --listen 127.0.0.1:PORT --config FILE` (the JSON of `SlackConfig`).
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use slack_emulator::{RunningSlack, SlackConfig};

/// Slack Web API emulator for tests (see tests/slack-emulator/README.md).
#[derive(Parser)]
#[command(name = "slack-emulator", version)]
struct Args {
    /// Loopback address to listen on (port 0 picks a free port).
    #[arg(long)]
    listen: SocketAddr,
    /// JSON file: bot_token, signing_secret, team_id, users, channels.
    #[arg(long)]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    // A test double with a known token must never be reachable from the network.
    if !args.listen.ip().is_loopback() {
        tracing::error!(listen = %args.listen, "refusing to listen on a non-loopback address");
        return ExitCode::from(2);
    }
    let cfg: SlackConfig = match std::fs::read_to_string(&args.config)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "reading the config");
            return ExitCode::from(2);
        }
    };
    match RunningSlack::start(cfg, args.listen).await {
        Ok(s) => {
            tracing::info!(url = %s.url(), "slack emulator ready");
            let _ = tokio::signal::ctrl_c().await;
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "starting");
            ExitCode::from(1)
        }
    }
}
