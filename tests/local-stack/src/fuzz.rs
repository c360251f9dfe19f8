//! Property-based fuzzing of the running HTTP API against `infra/openapi.yaml` with schemathesis
//! (from PyPI, installed into `.venv` by `tests/setup.sh`): no 5xx, every status, content type
//! and body as the description says (the error schema requires the stable `code`). Bounded: a
//! fixed seed, a few examples per operation, one worker (moto serves one request at a time), and
//! a wall-clock limit.

use std::process::Command;
use std::time::Duration;

use crate::StoryError;
use crate::procs::run_to_end;
use crate::stack::{Stack, workspace_root};

/// The checks that make "matches the description": see `schemathesis run --help`.
pub const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";
pub const SEED: &str = "20261202";
pub const MAX_EXAMPLES: &str = "5";

fn schemathesis() -> std::path::PathBuf {
    std::env::var_os("ELASTIC_JIT_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv"))
        .join("bin/schemathesis")
}

/// Run schemathesis against the stack's API with `token` (an access token).
pub async fn run(stack: &Stack, token: &str, limit: Duration) -> Result<(), StoryError> {
    let bin = schemathesis();
    if !bin.exists() {
        return Err(StoryError::setup(format!(
            "schemathesis is not installed at {}: run `bash tests/test.sh` once (tests/setup.sh installs it)",
            bin.display()
        )));
    }
    let mut cmd = Command::new(bin);
    // Hypothesis keeps its example database in the working directory: the run's log directory.
    cmd.current_dir(stack.log_dir())
        .arg("run")
        .arg(workspace_root().join("infra/openapi.yaml"))
        .args(["--url", &stack.api_url])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", CHECKS])
        .args(["--seed", SEED, "--max-examples", MAX_EXAMPLES])
        .args(["--workers", "1", "--request-timeout", "60"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--output-sanitize", "true"])
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false");
    run_to_end("schemathesis", cmd, stack.log_dir(), limit).await
}
