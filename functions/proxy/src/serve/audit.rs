//! One JSON line per request: who, which grant, what was asked, what was decided, how it ended.
//! Written when the response has been sent in full (or the client went away), so `bytes` and
//! `latency_ms` cover the whole exchange. No header, query string or body is ever logged.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

pub trait AuditSink: Send + Sync {
    fn write(&self, line: &str);
}

/// Standard output: Lambda sends it to CloudWatch Logs, a container runtime to its log driver.
pub struct Stdout;

impl AuditSink for Stdout {
    fn write(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
}

/// Lines kept in memory (tests, the demo).
#[derive(Default)]
pub struct Memory(pub Mutex<Vec<String>>);

impl AuditSink for Memory {
    fn write(&self, line: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line.to_string());
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Forwarded to the cluster (`status` is the cluster's).
    Allow,
    /// Elasticsearch's 403 for what the grant does not cover.
    Deny,
    /// Refused before the grant was consulted (cluster APIs, unknown APIs, bad input, scrolls).
    Refuse,
    /// No usable credential (401).
    Unauthenticated,
    /// The proxy could not reach what it needed (5xx).
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditLine {
    pub kind: &'static str,
    pub at: chrono::DateTime<chrono::Utc>,
    pub integration: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
    pub method: String,
    pub path: String,
    /// The concrete names forwarded (or refused).
    pub indices: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    pub decision: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub status: u16,
    /// Response body bytes sent to the client.
    pub bytes: u64,
    pub latency_ms: f64,
}

/// Writes its line once, when dropped: at the end of a streamed body, or when the client
/// disconnects mid-way (then `bytes` says how far it got).
pub struct Pending {
    line: Option<AuditLine>,
    sink: Arc<dyn AuditSink>,
    started: Instant,
    pub bytes: u64,
}

impl Pending {
    pub fn new(line: AuditLine, sink: Arc<dyn AuditSink>, started: Instant) -> Self {
        Self {
            line: Some(line),
            sink,
            started,
            bytes: 0,
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(mut line) = self.line.take() {
            line.bytes = self.bytes;
            line.latency_ms =
                (self.started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
            match serde_json::to_string(&line) {
                Ok(text) => self.sink.write(&text),
                Err(e) => tracing::error!(error = %e, "audit line not serializable"),
            }
        }
    }
}
