//! The emulator binary driven by Elastic's official Python client (`elasticsearch` 9.x from
//! PyPI, installed into the project's virtualenv by `tests/setup.sh`): every endpoint the driver
//! uses and every call a credential holder typically makes, so a missing product header, an
//! unreadable media type or a wrong response shape fails the suite (script:
//! `tests/python/official_client.py`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The project's test virtualenv, as `tests/setup.sh` makes it (`ELASTIC_JIT_VENV` overrides).
fn python() -> PathBuf {
    let venv = std::env::var("ELASTIC_JIT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    venv.join("bin/python")
}

/// Kills the emulator however the test ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_official_python_client_works_against_the_emulator() {
    let python = python();
    let installed = Command::new(&python)
        .args([
            "-c",
            "import elasticsearch, sys; sys.exit(0 if elasticsearch.__version__[0] == 9 else 1)",
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed,
        "the official Python client (elasticsearch 9.x) is not installed for {}: run `bash tests/test.sh` once",
        python.display()
    );
    let port = free_port();
    let password = "py-client-elastic-pw";
    let _emulator = Child(
        Command::new(env!("CARGO_BIN_EXE_es-emulator"))
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--elastic-password",
                password,
                "--seed",
                concat!(env!("CARGO_MANIFEST_DIR"), "/seeds/demo.json"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("emulator starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "emulator did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = Command::new(&python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/official_client.py"
        ))
        .arg(format!("http://127.0.0.1:{port}"))
        .arg(password)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("all ok"),
        "official client run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
