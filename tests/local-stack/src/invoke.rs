//! Invoking a function: through `cargo lambda watch` (its Lambda Invoke API on loopback), or any
//! other [`Invoker`] (tests record invocations instead).

use std::time::Duration;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The invocation did not complete (connection refused, timed out).
    #[error("invoking {function} failed: {message}")]
    Transport { function: String, message: String },
    /// The function ran and failed (an `errorType` result, or a non-2xx from the runtime).
    #[error("{function} failed ({status}): {body}")]
    Function {
        function: String,
        status: u16,
        body: String,
    },
}

#[async_trait::async_trait]
pub trait Invoker: Send + Sync {
    /// Invoke `function` synchronously with `event`; its JSON result.
    async fn invoke(&self, function: &str, event: &Value) -> Result<Value, InvokeError>;
}

/// `POST /2015-03-31/functions/{name}/invocations` on `cargo lambda watch`.
#[derive(Clone)]
pub struct WatchInvoker {
    pub url: String,
    http: reqwest::Client,
    timeout: Duration,
}

impl WatchInvoker {
    pub fn new(url: &str, timeout: Duration) -> Self {
        Self {
            url: url.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
            timeout,
        }
    }
}

#[async_trait::async_trait]
impl Invoker for WatchInvoker {
    async fn invoke(&self, function: &str, event: &Value) -> Result<Value, InvokeError> {
        let url = format!("{}/2015-03-31/functions/{function}/invocations", self.url);
        let sent = self
            .http
            .post(&url)
            .timeout(self.timeout)
            .json(event)
            .send()
            .await;
        let r = sent.map_err(|e| InvokeError::Transport {
            function: function.into(),
            message: if e.is_timeout() {
                format!("timed out after {:?} (E2E_INVOKE_TIMEOUT)", self.timeout)
            } else {
                e.to_string()
            },
        })?;
        let status = r.status().as_u16();
        let text = r.text().await.map_err(|e| InvokeError::Transport {
            function: function.into(),
            message: e.to_string(),
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|_| InvokeError::Function {
            function: function.into(),
            status,
            body: format!("a non-JSON result: {text}"),
        })?;
        if !(200..300).contains(&status) || value.get("errorType").is_some() {
            return Err(InvokeError::Function {
                function: function.into(),
                status,
                body: text,
            });
        }
        Ok(value)
    }
}
