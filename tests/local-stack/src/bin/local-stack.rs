//! The main job: `bash tests/demo.sh` (or `cargo run -p local-stack`). Starts the local stack,
//! walks the story through the HTTP API with real tokens, then keeps serving (printing the URLs,
//! the demo identities and what the glue fires) until Ctrl-C. With `--once` or `CI=true` it exits
//! after the story: 0 when every step behaved, 1 otherwise. Everything it started is stopped
//! either way.
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

fn once() -> bool {
    std::env::args().skip(1).any(|a| a == "--once")
        || std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

async fn run(out: &mut std::io::Stdout) -> Result<(), String> {
    let started = std::time::Instant::now();
    let mut stack = local_stack::start_stack(out)
        .await
        .map_err(|e| e.to_string())?;
    local_stack::story_on(&mut stack, out)
        .await
        .map_err(|e| e.to_string())?;
    let _ = writeln!(out, "\nstory passed in {:.1?}", started.elapsed());
    if once() {
        return Ok(());
    }
    local_stack::guide::print(&stack, out).map_err(|e| e.to_string())?;
    let Some(mut fired) = stack.glue.as_ref().map(|g| g.log.subscribe()) else {
        return Err("the glue is not running".into());
    };
    loop {
        match fired.recv().await {
            Ok(f) => {
                let _ = writeln!(out, "   glue: {f}");
                let _ = out.flush();
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                return Err("the glue stopped".into());
            }
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut out = std::io::stdout();
    let result = tokio::select! {
        r = run(&mut out) => r,
        // Dropping the run's future drops the stack, which stops every process it started.
        _ = tokio::signal::ctrl_c() => {
            let _ = writeln!(std::io::stdout(), "\nstopping every process the demo started");
            Ok(())
        }
    };
    let _ = std::io::stdout().flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\ndemo FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
