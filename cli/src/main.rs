//! `elastic-jit`: sign in at the identity provider, then request, approve and use
//! just-in-time access from a terminal. See the README's "Command line" section.
#![forbid(unsafe_code)]

use clap::{CommandFactory, Parser};

mod api;
mod args;
mod commands;
mod complete;
mod declared;
mod error;
mod login;
mod loopback;
mod output;
mod settings;
mod tokens;

fn main() {
    // A shell asking for completions (`COMPLETE=bash elastic-jit -- ...`) is answered here and
    // the process ends; before any runtime exists, since completers run their own.
    clap_complete::CompleteEnv::with_factory(args::Cli::command).complete();
    let cli = args::Cli::parse();
    let code = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => match rt.block_on(commands::run(cli)) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e}");
                e.exit_code()
            }
        },
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            6
        }
    };
    std::process::exit(code);
}
