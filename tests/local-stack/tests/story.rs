//! The demo's story as a test: the real function binaries under `cargo lambda watch`, moto and
//! both emulators on free loopback ports. Needs `.venv` with moto and cargo-lambda
//! (`bash tests/test.sh` installs both).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_story_through_cargo_lambda() {
    let mut out = Vec::new();
    let result = e2e::run_story(&mut out).await;
    let text = String::from_utf8_lossy(&out);
    // Shown by the test runner on failure (and with --nocapture).
    println!("{text}");
    if let Err(e) = result {
        panic!("{e}");
    }
}
