//! The real `cloud-emulator` binary: starts with a seed, answers, exits 0 on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cloud-emulator"))
}

#[tokio::test]
async fn runs_with_a_seed_and_exits_cleanly_on_sigterm() {
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/seeds/demo.json");
    let mut child = binary()
        .args([
            "--listen",
            "127.0.0.1:0",
            "--organization-id",
            "org-bin",
            "--api-key",
            "bin-secret",
            "--seed",
            seed,
        ])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("binary starts");

    // Read stderr on a thread: the ready line first, then every request line.
    let stderr = child.stderr.take().expect("stderr");
    let (lines_tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let ready = lines
        .recv_timeout(Duration::from_secs(20))
        .expect("ready line");
    let url = ready
        .split("cloud-emulator listening on ")
        .nth(1)
        .expect("ready line names the URL")
        .trim()
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let reply = http
        .get(format!("{url}/api/v1/deployments"))
        .header("Authorization", "ApiKey bin-secret")
        .send()
        .await
        .expect("emulator answers");
    assert_eq!(reply.status().as_u16(), 200);
    let body: serde_json::Value = reply.json().await.expect("json");
    assert_eq!(body["deployments"][0]["name"], "prod-search");

    let request_line = lines
        .recv_timeout(Duration::from_secs(5))
        .expect("request log line");
    assert!(
        request_line.contains("/api/v1/deployments"),
        "{request_line}"
    );
    assert!(request_line.contains("owner-1"), "{request_line}");
    assert!(
        !request_line.contains("bin-secret"),
        "the key is never logged"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn refuses_a_non_loopback_address() {
    let output = binary()
        .args([
            "--listen",
            "0.0.0.0:0",
            "--organization-id",
            "org",
            "--api-key",
            "k",
        ])
        .output()
        .expect("binary runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("non-loopback"));
}

#[test]
fn refuses_an_unreadable_seed() {
    let output = binary()
        .args([
            "--listen",
            "127.0.0.1:0",
            "--organization-id",
            "org",
            "--api-key",
            "k",
            "--seed",
            "/nonexistent/seed.json",
        ])
        .output()
        .expect("binary runs");
    assert_eq!(output.status.code(), Some(2));
}
