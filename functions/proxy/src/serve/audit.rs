//! One JSON line per request: who, which grant, what was asked, what was decided, how it ended.
//! Written when the response has been sent in full (or the client went away), so `bytes` and
//! `latency_ms` cover the whole exchange. No header, query string or body is ever logged.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use crate::text::clip;

/// The longest `path` or `reason` written (both carry caller input).
pub const MAX_FIELD_BYTES: usize = 1024;
/// The most index names written; the rest are counted in `indices_omitted`.
pub const MAX_INDICES: usize = 64;

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
    /// The concrete names forwarded (or refused), at most [`MAX_INDICES`].
    pub indices: Vec<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub indices_omitted: usize,
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

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl AuditLine {
    /// Bounds what the caller controls, so one line stays small whatever was sent.
    fn bounded(mut self) -> Self {
        self.path = clip(&self.path, MAX_FIELD_BYTES);
        self.reason = self.reason.map(|r| clip(&r, MAX_FIELD_BYTES));
        self.user = self.user.map(|u| clip(&u, MAX_FIELD_BYTES));
        if self.indices.len() > MAX_INDICES {
            self.indices_omitted += self.indices.len() - MAX_INDICES;
            self.indices.truncate(MAX_INDICES);
        }
        for i in &mut self.indices {
            *i = clip(i, MAX_FIELD_BYTES);
        }
        self
    }
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
        if let Some(line) = self.line.take() {
            let mut line = line.bounded();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_stays_small_whatever_the_caller_sent() {
        let memory = Arc::new(Memory::default());
        let line = AuditLine {
            kind: "proxy_request",
            at: chrono::Utc::now(),
            integration: "i".into(),
            user: Some("u".repeat(100_000)),
            requester: None,
            grant_id: None,
            api_key_id: None,
            method: "GET".into(),
            path: format!("/{}/_search", "a".repeat(1_000_000)),
            indices: (0..10_000).map(|i| format!("idx-{i}")).collect(),
            indices_omitted: 0,
            action: None,
            decision: Outcome::Deny,
            reason: Some("r".repeat(1_000_000)),
            status: 403,
            bytes: 0,
            latency_ms: 0.0,
        };
        drop(Pending::new(line, memory.clone(), Instant::now()));
        let written = memory.0.lock().unwrap();
        assert!(written[0].len() < 8 * 1024, "{}", written[0].len());
        let v: serde_json::Value = serde_json::from_str(&written[0]).unwrap();
        assert_eq!(v["indices"].as_array().unwrap().len(), MAX_INDICES);
        assert_eq!(v["indices_omitted"], 10_000 - MAX_INDICES);
        assert!(v["path"].as_str().unwrap().ends_with("..."));
    }
}
