//! HTTP for the drivers: clients built once per process (one per distinct CA bundle, since a
//! custom CA is part of a client's TLS configuration), JSON calls with typed errors, and
//! bounded retries with backoff and jitter for calls that are safe to repeat.
//!
//! Every call also honours the deadline of the work it runs in ([`within_deadline`]): its
//! timeout is cut to the time left and no retry starts that cannot finish before it, so an
//! invocation still has time to record what happened before Lambda stops it.

use std::collections::HashMap;
use std::error::Error as _;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::header::HeaderValue;
use reqwest::{Client, Method, StatusCode};

use super::error::DriverError;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    fn delays(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_jitter()
            .build()
    }
}

/// The process's HTTP clients. Cloning a `reqwest::Client` shares its connection pool. None is
/// built before a target is first called, so functions and routes that never call one pay
/// nothing for it at init; all trust the process's one root store ([`crate::tls_roots`]).
pub struct HttpClients {
    by_ca: Mutex<HashMap<Option<String>, Client>>,
    pub retry: RetryPolicy,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Less time than this left before the deadline: a call is not started at all.
const MIN_ATTEMPT: Duration = Duration::from_millis(50);

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Run `work` so that every target call inside it ends by `deadline`. A task-local rather than a
/// parameter: the budget belongs to the invocation, and every driver call under it inherits it
/// without each `Driver` method carrying it.
pub async fn within_deadline<F: Future>(deadline: Instant, work: F) -> F::Output {
    let deadline = match current_deadline() {
        Some(outer) => outer.min(deadline),
        None => deadline,
    };
    DEADLINE.scope(deadline, work).await
}

/// The deadline of the current work, if it has one.
pub fn current_deadline() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// Time left before the current deadline (`None`: no deadline set).
pub fn time_left() -> Option<Duration> {
    current_deadline().map(|d| d.saturating_duration_since(Instant::now()))
}

fn builder() -> reqwest::ClientBuilder {
    Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("elastic-jit/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
}

impl HttpClients {
    pub fn new() -> Result<Self, DriverError> {
        Ok(Self {
            by_ca: Mutex::new(HashMap::new()),
            retry: RetryPolicy::default(),
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The client for a target: the default one, or one that also trusts `ca_pem`.
    pub fn client(&self, ca_pem: Option<&str>) -> Result<Client, DriverError> {
        let key = ca_pem.map(str::to_string);
        let mut cache = self.by_ca.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.get(&key) {
            return Ok(c.clone());
        }
        let target = if ca_pem.is_some() {
            "tls.ca_cert"
        } else {
            "http client"
        };
        let tls = crate::tls_roots::client_config(ca_pem).map_err(|reason| DriverError::Tls {
            target: target.into(),
            reason,
        })?;
        let client = builder()
            .tls_backend_preconfigured(tls)
            .build()
            .map_err(|e| DriverError::Tls {
                target: target.into(),
                reason: e.to_string(),
            })?;
        cache.insert(key, client.clone());
        Ok(client)
    }
}

/// A JSON response: status and parsed body (`Null` when empty).
#[derive(Debug, Clone)]
pub struct JsonResponse {
    pub status: StatusCode,
    pub body: serde_json::Value,
    pub headers: reqwest::header::HeaderMap,
}

/// One HTTP call to a target, described so it can be sent more than once.
pub struct Call<'a> {
    pub method: Method,
    pub url: String,
    /// `None` for a cluster without security (a proxy integration's connector secret `{}`).
    pub auth: Option<&'a HeaderValue>,
    pub body: Option<&'a serde_json::Value>,
    /// Repeating it cannot do harm (reads, PUT-by-name, DELETE).
    pub idempotent: bool,
}

/// Send `call`, retrying connection failures and 5xx/429 answers when the call is idempotent.
/// Any HTTP answer that is not retried is returned as-is for the caller to interpret.
pub async fn send(
    client: &Client,
    retry: &RetryPolicy,
    target: &str,
    call: Call<'_>,
) -> Result<JsonResponse, DriverError> {
    let mut delays = retry.delays();
    loop {
        let timeout = match time_left() {
            Some(left) if left < MIN_ATTEMPT => {
                return Err(DriverError::Timeout {
                    target: target.into(),
                });
            }
            Some(left) => left.min(REQUEST_TIMEOUT),
            None => REQUEST_TIMEOUT,
        };
        let outcome = send_once(client, target, &call, timeout).await;
        let again = call.idempotent
            && match &outcome {
                Err(e) => e.is_retryable(),
                Ok(r) => {
                    r.status.as_u16() == 429
                        || (r.status.is_server_error() && r.status != StatusCode::NOT_IMPLEMENTED)
                }
            };
        if !again {
            return outcome;
        }
        match delays.next() {
            // A retry that could not finish before the deadline is not started.
            Some(d) if time_left().is_some_and(|left| left < d + MIN_ATTEMPT) => return outcome,
            Some(d) => {
                tracing::warn!(target_host = target, method = %call.method, delay_ms = d.as_millis() as u64, "retrying after a transient failure");
                tokio::time::sleep(d).await;
            }
            None => return outcome,
        }
    }
}

async fn send_once(
    client: &Client,
    target: &str,
    call: &Call<'_>,
    timeout: Duration,
) -> Result<JsonResponse, DriverError> {
    let mut req = client
        .request(call.method.clone(), &call.url)
        .timeout(timeout)
        .header(reqwest::header::ACCEPT, "application/json");
    if let Some(auth) = call.auth {
        req = req.header(reqwest::header::AUTHORIZATION, auth.clone());
    }
    if let Some(body) = call.body {
        req = req.json(body);
    }
    let resp = req.send().await.map_err(|e| transport_error(target, &e))?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| transport_error(target, &e))?;
    let body = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|e| DriverError::Protocol {
            target: target.into(),
            operation: format!("{} {}", call.method, path_of(&call.url)),
            reason: format!("response ({status}) is not JSON: {e}"),
        })?
    };
    Ok(JsonResponse {
        status,
        body,
        headers,
    })
}

fn path_of(url: &str) -> &str {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(url)
}

/// Classify a transport failure; the chain is searched because reqwest wraps the TLS error.
fn transport_error(target: &str, e: &reqwest::Error) -> DriverError {
    if e.is_timeout() {
        return DriverError::Timeout {
            target: target.into(),
        };
    }
    let mut chain = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        chain.push(s.to_string());
        source = s.source();
    }
    let text = chain.join(": ");
    let lower = text.to_lowercase();
    if [
        "certificate",
        "tls",
        "handshake",
        "unknownissuer",
        "corrupt message",
        "invalidcontenttype",
    ]
    .iter()
    .any(|w| lower.contains(w))
    {
        DriverError::Tls {
            target: target.into(),
            reason: text,
        }
    } else {
        DriverError::Unreachable {
            target: target.into(),
            reason: if text.is_empty() { e.to_string() } else { text },
        }
    }
}

/// An `Authorization` header value marked sensitive, so it is never printed.
pub fn sensitive_header(value: &str) -> Result<HeaderValue, DriverError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| DriverError::BadConnectorSecret {
        reason: "the credential contains characters not allowed in an HTTP header".into(),
    })?;
    v.set_sensitive(true);
    Ok(v)
}
