//! Test harness: an AWS endpoint for tests, isolated per test by unique names.
//!
//! By default it starts moto's server from the project's `.venv` on a free loopback port, once
//! per test process. The server watches its stdin and exits when the test process goes away,
//! so nothing outlives a run. With `AWS_ENDPOINT_URL` set (e.g. LocalStack) that endpoint is
//! used instead and nothing is started.
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub use aws_config::SdkConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;

/// Runs moto's server on one thread, so each API call is applied whole before the next starts:
/// moto's conditional writes are not atomic across threads, and DynamoDB's are (a threaded
/// server let two racing conditional puts both succeed). It answers HTTP/1.0, closing every
/// connection, so one thread never waits on an idle keep-alive client. It exits when stdin
/// closes (when the process that started it ends) or on SIGTERM. After "ready" its stdout and
/// stderr point at /dev/null: the starter stops reading the pipe, and a write into a closed pipe
/// would break a request. Run as `python -c MOTO_LAUNCHER PORT`.
pub const MOTO_LAUNCHER: &str = r#"
import os, signal, sys, threading
from werkzeug.serving import make_server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
app = DomainDispatcherApplication(create_backend_app)
server = make_server("127.0.0.1", int(sys.argv[1]), app, threaded=False, request_handler=MotoRequestHandler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("ready", flush=True)
devnull = os.open(os.devnull, os.O_WRONLY)
os.dup2(devnull, 1)
os.dup2(devnull, 2)
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: done.set())
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
done.wait()
server.shutdown()
"#;

/// Prepended to [`MOTO_LAUNCHER`] when [`MOTO_ROLLBACK_ENV`] is `undo-log` (the benchmark's
/// default): moto 5.1 and later deep-copy the whole table once per write of a
/// TransactWriteItems, to roll a failed transaction back, so a transaction's cost grows with
/// the table (README "Benchmark"; `tests/bench/python/moto_transaction_cost.py`). This keeps a
/// copy of only the items the transaction names, taken before moto applies it, and puts them
/// back (or removes what was created) when moto raises, which is what the table copy achieved:
/// moto's own code still checks, applies and cancels every write. DynamoDB's cost does not
/// depend on the table's size either, so measured times are closer to it. Tests use stock moto.
pub const MOTO_UNDO_LOG_PATCH: &str = include_str!("../python/moto_undo_log.py");

/// Set to `undo-log` to start moto with [`MOTO_UNDO_LOG_PATCH`] (the benchmark sets it).
pub const MOTO_ROLLBACK_ENV: &str = "ELASTIC_JIT_MOTO_ROLLBACK";

/// Is moto (started by this process) rolling transactions back by an undo log?
pub fn moto_undo_log() -> bool {
    std::env::var(MOTO_ROLLBACK_ENV).is_ok_and(|v| v == "undo-log")
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

/// A free TCP port on 127.0.0.1 (the OS picks it; it is released for the caller to bind).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral loopback port")
}

/// A name no other test uses: `prefix-<12 hex>`.
pub fn unique_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..12])
}

/// A moto server this process started; it is killed when dropped (and exits by itself when
/// this process ends: it watches its stdin).
pub struct MotoServer {
    pub endpoint: String,
    child: Mutex<Child>,
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        if let Ok(child) = self.child.get_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

static MOTO: OnceLock<MotoServer> = OnceLock::new();

fn moto_python() -> PathBuf {
    if let Ok(p) = std::env::var("ELASTIC_JIT_VENV") {
        return PathBuf::from(p).join("bin/python");
    }
    workspace_root().join(".venv/bin/python")
}

impl MotoServer {
    /// A new moto server on a free loopback port; with `undo_log`, its transactions roll back
    /// by [`MOTO_UNDO_LOG_PATCH`] instead of a table copy.
    pub fn start(undo_log: bool) -> Self {
        let python = moto_python();
        assert!(
            python.exists(),
            "moto's server is not installed at {}: run `bash tests/test.sh` once (it creates .venv)",
            python.display()
        );
        let launcher = if undo_log {
            format!("{MOTO_UNDO_LOG_PATCH}{MOTO_LAUNCHER}")
        } else {
            MOTO_LAUNCHER.to_string()
        };
        let mut last_error = String::new();
        // Another process may take the port between our probe and moto's bind: try a few.
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&python)
                .args(["-c", &launcher, &port.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("start moto's server");
            let stdout = child.stdout.take().expect("moto stdout");
            let mut line = String::new();
            let ready =
                BufReader::new(stdout).read_line(&mut line).is_ok() && line.trim() == "ready";
            if ready {
                return Self {
                    endpoint: format!("http://127.0.0.1:{port}"),
                    child: Mutex::new(child),
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_error = format!("moto did not become ready on port {port}");
        }
        panic!("{last_error}");
    }
}

/// The AWS endpoint tests talk to: `AWS_ENDPOINT_URL` if set, else this process's moto server.
pub fn aws_endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => MOTO
            .get_or_init(|| MotoServer::start(moto_undo_log()))
            .endpoint
            .clone(),
    }
}

/// SDK configuration for the test endpoint: fixed test credentials and region, short timeouts.
pub async fn aws_config() -> SdkConfig {
    aws_config_at(&aws_endpoint(), false).await
}

/// Under fault tests, an AWS call attempt slower than this times out (production:
/// `shared::config::aws_sdk_config`'s 4 s). Longer than production on purpose: one moto
/// serves every test of a fault binary one request at a time, and on a loaded 2-core CI
/// machine a healthy call queued behind the others took over 3 s, which the tests then saw
/// as a fault. A slow-call case still costs seconds, not tens of seconds.
pub const FAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(6000);

/// SDK configuration for `endpoint`; with `fast_retries`, two attempts 10 ms apart, each
/// bounded by [`FAULT_ATTEMPT_TIMEOUT`] (fault tests, where the SDK's default backoff of up to
/// seconds per call would dominate).
pub async fn aws_config_at(endpoint: &str, fast_retries: bool) -> SdkConfig {
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    let mut timeouts =
        aws_config::timeout::TimeoutConfig::builder().operation_timeout(Duration::from_secs(30));
    if fast_retries {
        loader = loader.retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(10)),
        );
        timeouts = timeouts
            .operation_attempt_timeout(FAULT_ATTEMPT_TIMEOUT)
            .operation_timeout(FAULT_ATTEMPT_TIMEOUT * 3);
    }
    loader
        .region(Region::new(region))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "test-harness",
        ))
        .endpoint_url(endpoint)
        .timeout_config(timeouts.build())
        .load()
        .await
}
