//! A loopback Lambda Runtime API for one function process: the process polls
//! `GET /2018-06-01/runtime/invocation/next`, answers on `…/{id}/response` or `…/{id}/error`,
//! and reports a failed start on `/init/error`, exactly as on Lambda. The benchmark queues an
//! event with [`RuntimeApi::invoke`] and waits for the answer; the first poll marks the end of
//! the process's initialisation (its cold start).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// How long an invocation may run (its deadline is sent to the function).
pub const INVOCATION_TIMEOUT: Duration = Duration::from_secs(300);

type Answer = Result<Value, String>;

struct Queued {
    id: String,
    event: Value,
    answer: oneshot::Sender<Answer>,
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::Receiver<Queued>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    /// When the process first asked for work.
    first_poll: Mutex<Option<Instant>>,
    init_error: Mutex<Option<String>>,
    function_arn: String,
}

pub struct RuntimeApi {
    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    sender: mpsc::Sender<Queued>,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RuntimeApi {
    pub async fn start(function: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let (sender, receiver) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(receiver),
            waiting: Mutex::new(HashMap::new()),
            first_poll: Mutex::new(None),
            init_error: Mutex::new(None),
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function}"),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            address,
            sender,
            shared,
            task,
        })
    }

    /// Queue `event` and wait for the function's answer.
    pub async fn invoke(&self, event: Value) -> Answer {
        let (answer, wait) = oneshot::channel();
        let id = uuid_like();
        self.sender
            .send(Queued { id, event, answer })
            .await
            .map_err(|_| "the runtime API stopped".to_string())?;
        // A process whose start failed never polls: answered with its init error at once
        // rather than after the invocation's whole timeout.
        let failed_start = async {
            loop {
                if let Some(e) = self.init_error() {
                    return e;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        };
        tokio::select! {
            answer = tokio::time::timeout(INVOCATION_TIMEOUT, wait) => match answer {
                Ok(Ok(a)) => a,
                Ok(Err(_)) => Err("the invocation was dropped".into()),
                Err(_) => Err("the invocation timed out".into()),
            },
            e = failed_start => Err(format!("the function did not start: {e}")),
        }
    }

    /// When the process first polled for work (its initialisation ended), if it has.
    pub fn first_poll(&self) -> Option<Instant> {
        *lock(&self.shared.first_poll)
    }

    pub fn init_error(&self) -> Option<String> {
        lock(&self.shared.init_error).clone()
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("bench-{:016x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

async fn next(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    lock(&s.first_poll).get_or_insert_with(Instant::now);
    let Some(q) = s.queue.lock().await.recv().await else {
        return (StatusCode::GONE, HeaderMap::new(), Vec::new());
    };
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        + INVOCATION_TIMEOUT;
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", q.id.clone());
    set(
        "lambda-runtime-deadline-ms",
        deadline.as_millis().to_string(),
    );
    set(
        "lambda-runtime-invoked-function-arn",
        s.function_arn.clone(),
    );
    set("lambda-runtime-trace-id", format!("Root=1-{}", q.id));
    set("content-type", "application/json".into());
    lock(&s.waiting).insert(q.id, q.answer);
    (StatusCode::OK, headers, q.event.to_string().into_bytes())
}

fn finish(s: &Shared, id: &str, answer: Answer) -> StatusCode {
    match lock(&s.waiting).remove(id) {
        Some(tx) => {
            let _ = tx.send(answer);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn response(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    finish(&s, &id, Ok(value))
}

async fn error(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    finish(&s, &id, Err(String::from_utf8_lossy(&body).into_owned()))
}

async fn init_error(State(s): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    *lock(&s.init_error) = Some(String::from_utf8_lossy(&body).into_owned());
    StatusCode::ACCEPTED
}
