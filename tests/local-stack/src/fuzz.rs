//! Property-based fuzzing of the running HTTP API against `infra/openapi.yaml` with schemathesis
//! (from PyPI, installed into `.venv` by `tests/setup.sh`): no 5xx, every status, content type
//! and body as the description says (the error schema requires the stable `code`), as an
//! administrator on every operation and as a requester on the read operations (whose answers are
//! the requester views). Bounded: a fixed seed, a few examples per operation, one worker (moto
//! serves one request at a time), and a wall-clock limit.

use std::process::Command;
use std::time::Duration;

use crate::StoryError;
use crate::procs::run_to_end;
use crate::stack::{Stack, workspace_root};

/// Checked on every response: no 5xx, documented status codes and content types, and the body
/// against its schema (the read views' schemas list every field; the error schema requires the
/// stable `code`).
pub const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";
pub const SEED: &str = "20261202";
pub const MAX_EXAMPLES: &str = "5";

fn schemathesis() -> std::path::PathBuf {
    std::env::var_os("ELASTIC_JIT_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv"))
        .join("bin/schemathesis")
}

/// Run schemathesis against the stack's API with `token` (an administrator's access token, the
/// richest view): every operation with [`CHECKS`], within `limit`.
pub async fn run(stack: &Stack, token: &str, limit: Duration) -> Result<(), StoryError> {
    let cmd = command(stack, token, CHECKS)?;
    run_to_end("schemathesis", cmd, stack.log_dir(), limit).await
}

/// The read operations as a requester (`token`), with [`CHECKS`] within `limit`: their bodies
/// are the requester views (fewer fields than an administrator's), checked against the same
/// description.
pub async fn run_reads(stack: &Stack, token: &str, limit: Duration) -> Result<(), StoryError> {
    let mut cmd = command(stack, token, CHECKS)?;
    cmd.args(["--include-method", "GET"]);
    run_to_end("schemathesis-requester", cmd, stack.log_dir(), limit).await
}

fn command(stack: &Stack, token: &str, checks: &str) -> Result<Command, StoryError> {
    let bin = schemathesis();
    if !bin.exists() {
        return Err(StoryError::setup(format!(
            "schemathesis is not installed at {}: run `bash tests/test.sh` once (tests/setup.sh installs it)",
            bin.display()
        )));
    }
    let mut cmd = Command::new(&bin);
    // Hypothesis keeps its example database in the working directory: the run's log directory.
    cmd.current_dir(stack.log_dir())
        .arg("run")
        .arg(workspace_root().join("infra/openapi.yaml"))
        .args(["--url", &stack.api_url])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", checks])
        .args(["--seed", SEED, "--max-examples", MAX_EXAMPLES])
        .args(["--workers", "1", "--request-timeout", "60"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--output-sanitize", "true"])
        .env("NO_COLOR", "1");
    Ok(cmd)
}
