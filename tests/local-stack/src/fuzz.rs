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

/// Checks on every operation: no 5xx, documented status codes and content types.
pub const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance";
/// The bodies against their schemas (the error schema requires the stable `code`), on every
/// operation but [`SCHEMA_MISMATCH`].
pub const SCHEMA_CHECK: &str = "response_schema_conformance";
/// Operations whose 200 bodies do not match `infra/openapi.yaml` today: the description gives
/// them the PUT body's schema (`AccessFlowSpec`, `IntegrationSpec`, `additionalProperties:
/// false`), while the functions answer the stored object, which adds `name`, `version`,
/// `created_at`, `updated_at` (and `last_discovery_at`, `last_discovery_error` for
/// integrations). Reported to be fixed in the description; until then their bodies are not
/// schema-checked here (their status codes and content types still are).
pub const SCHEMA_MISMATCH: [&str; 6] = [
    "listFlows",
    "getFlow",
    "putFlow",
    "listIntegrations",
    "getIntegration",
    "putIntegration",
];
pub const SEED: &str = "20261202";
pub const MAX_EXAMPLES: &str = "5";

fn schemathesis() -> std::path::PathBuf {
    std::env::var_os("ELASTIC_JIT_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv"))
        .join("bin/schemathesis")
}

/// Run schemathesis against the stack's API with `token` (an access token): every operation
/// with [`CHECKS`], then [`SCHEMA_CHECK`] on all but [`SCHEMA_MISMATCH`]; each run within `limit`.
pub async fn run(stack: &Stack, token: &str, limit: Duration) -> Result<(), StoryError> {
    let bin = schemathesis();
    if !bin.exists() {
        return Err(StoryError::setup(format!(
            "schemathesis is not installed at {}: run `bash tests/test.sh` once (tests/setup.sh installs it)",
            bin.display()
        )));
    }
    let command = |checks: &str, excluded: &[&str]| {
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
        for id in excluded {
            cmd.args(["--exclude-operation-id", id]);
        }
        cmd
    };
    run_to_end("schemathesis", command(CHECKS, &[]), stack.log_dir(), limit).await?;
    run_to_end(
        "schemathesis-schemas",
        command(SCHEMA_CHECK, &SCHEMA_MISMATCH),
        stack.log_dir(),
        limit,
    )
    .await
}
