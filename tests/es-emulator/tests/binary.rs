//! The standalone binary: starts with a seed, answers, logs, and exits 0 on SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::test]
async fn binary_serves_seed_and_exits_cleanly_on_sigterm() {
    let port = free_port();
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/seeds/demo.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_es-emulator"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--elastic-password",
            "bin-secret-pw",
            "--seed",
            seed,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let stderr = child.stderr.take().expect("stderr");
    let lines = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });

    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let resp = loop {
        match client
            .get(format!("{url}/_security/_authenticate"))
            .basic_auth("elastic-jit-connector", Some("connector-password"))
            .send()
            .await
        {
            Ok(r) => break r,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("emulator did not come up: {e}"),
        }
    };
    assert_eq!(resp.status().as_u16(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["roles"], serde_json::json!(["jit_connector"]));
    let r = client
        .get(format!("{url}/_mapping?filter_path=*.mappings._meta"))
        .basic_auth("elastic", Some("bin-secret-pw"))
        .send()
        .await
        .unwrap();
    let mappings: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        mappings["secrets-1"]["mappings"]["_meta"]["owner"],
        "bob@example.com"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "emulator did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(exit.code(), Some(0));
    let log = lines.join().unwrap().join("\n");
    assert!(
        log.contains(&format!("es-emulator listening on http://127.0.0.1:{port}")),
        "{log}"
    );
    assert!(
        log.contains("principal=\"elastic-jit-connector\"")
            || log.contains("principal=elastic-jit-connector"),
        "{log}"
    );
    assert!(
        !log.contains("bin-secret-pw") && !log.contains("connector-password"),
        "credentials must never be logged"
    );
}

#[test]
fn binary_refuses_non_loopback_listen() {
    let out = Command::new(env!("CARGO_BIN_EXE_es-emulator"))
        .args(["--listen", "0.0.0.0:0", "--elastic-password", "x-password"])
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("non-loopback"));
}
