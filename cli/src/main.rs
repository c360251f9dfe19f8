//! `elastic-jit`: sign in at the identity provider, then request, approve and use
//! just-in-time access from a terminal. See the README's "Command line" section.
#![forbid(unsafe_code)]

use clap::Parser;

mod api;
mod args;
mod commands;
mod declared;
mod error;
mod login;
mod output;
mod settings;
mod tokens;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cli = args::Cli::parse();
    let code = match commands::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
