//! The demo's story as a test, through the local HTTP API with real tokens (the real function
//! binaries under `cargo lambda watch`, moto and both emulators on free loopback ports), then
//! schemathesis fuzzing `infra/openapi.yaml` against the same running API. Needs `.venv` with
//! moto, cargo-lambda and schemathesis (`bash tests/test.sh` installs them).

use std::time::Duration;

use local_stack::idp::client::IdpClient;

/// The wall-clock bound of each fuzzing run (the suite must stay well under 30 minutes on 2 cores).
const FUZZ_LIMIT: Duration = Duration::from_secs(480);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_through_the_local_http_api_then_api_fuzzing() {
    let mut out = Vec::new();
    let result = async {
        let mut stack = local_stack::start_stack(&mut out).await?;
        local_stack::story_on(&mut stack, &mut out).await?;
        let idp = IdpClient::new(stack.issuer())
            .map_err(|e| local_stack::StoryError::setup(e.to_string()))?;
        let token = |login: &'static str| async {
            idp.login(login)
                .await
                .map(|t| t.access_token)
                .map_err(|e| local_stack::StoryError::setup(e.to_string()))
        };
        // The richest view of the API is an administrator's; a requester (bob, who has used
        // the demo's flows) reads the reduced views.
        let admin = token("admin").await?;
        let mut fuzzed = local_stack::fuzz::run(&stack, &admin, FUZZ_LIMIT).await;
        if fuzzed.is_ok() {
            // Logged in now: the first run may take longer than a token lives.
            let requester = token("bob").await?;
            fuzzed = local_stack::fuzz::run_reads(&stack, &requester, FUZZ_LIMIT).await;
        }
        if fuzzed.is_err() {
            out.extend_from_slice(stack.logs(40).as_bytes());
        }
        fuzzed
    }
    .await;
    // Shown by the test runner on failure (and with --nocapture).
    println!("{}", String::from_utf8_lossy(&out));
    if let Err(e) = result {
        panic!("{e}");
    }
}
