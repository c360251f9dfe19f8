//! The local end-to-end demo: `bash tests/demo.sh` (or `cargo run -p e2e --bin demo`).
//! Exits 0 when every step of the story behaved, 1 otherwise; stops everything it started,
//! also on Ctrl-C.
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let started = std::time::Instant::now();
    let mut out = std::io::stdout();
    let result = tokio::select! {
        r = e2e::run_story(&mut out) => r.map_err(|e| e.to_string()),
        // Dropping the story's future drops its guards, which stop every process.
        _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
    };
    let _ = out.flush();
    match result {
        Ok(()) => {
            println!("\ndemo passed in {:.1?}", started.elapsed());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\ndemo FAILED after {:.1?}: {e}", started.elapsed());
            ExitCode::FAILURE
        }
    }
}
