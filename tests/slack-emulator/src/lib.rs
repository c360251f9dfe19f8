//! An emulator of the Slack Web API methods elastic-jit calls, faithful to Slack's documented
//! answers: HTTP 200 with `{"ok": false, "error": "<code>"}` for failures (`not_authed`,
//! `invalid_auth`, `channel_not_found`, `message_not_found`, `users_not_found`,
//! `user_not_found`), and HTTP 429 with `Retry-After` when rate limited (on demand).
//!
//! Methods: `auth.test`, `chat.postMessage`, `chat.update`, `users.lookupByEmail`,
//! `users.info`, and response URLs (`POST /response/<id>`). Arguments are read from the query,
//! a form body or a JSON body, as Slack accepts them.
//!
//! Control (under `/_emulator`): `GET messages` (every message as it now reads, with its
//! history), `GET responses`, `POST faults` (`{"method", "count", "status"?, "retry_after"?,
//! "error"?}`), `DELETE faults`, and `POST interactions`, which sends a signed interactivity
//! request to a URL the way Slack does when a member clicks a button (see [`Click`]).
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub is_bot: bool,
    /// Another organization's member (Slack Connect): their own team id.
    #[serde(default)]
    pub team_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SlackConfig {
    pub bot_token: String,
    pub signing_secret: String,
    pub team_id: String,
    pub users: Vec<User>,
    /// Channel ids that exist (`chat.postMessage` to anything else is `channel_not_found`,
    /// except a member's id, which opens a direct message as Slack does).
    pub channels: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub channel: String,
    pub ts: String,
    pub text: String,
    pub blocks: Value,
    /// Earlier versions (before `chat.update` or a `replace_original` response).
    pub history: Vec<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Fault {
    pub method: String,
    pub count: u32,
    /// HTTP status to answer (429 sends `Retry-After`); default 200 with `error`.
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub retry_after: Option<u64>,
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Default)]
struct World {
    messages: Vec<Message>,
    responses: Vec<Value>,
    faults: Vec<Fault>,
    /// Response URL id → the message it belongs to (channel, ts).
    response_urls: HashMap<String, (String, String)>,
    calls: Vec<String>,
    next_ts: u64,
}

#[derive(Clone)]
struct App {
    cfg: Arc<SlackConfig>,
    world: Arc<Mutex<World>>,
    base: Arc<Mutex<String>>,
}

impl App {
    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn ok(v: Value) -> Response {
    let mut v = v;
    v["ok"] = json!(true);
    axum::Json(v).into_response()
}

fn fail(code: &str) -> Response {
    axum::Json(json!({"ok": false, "error": code})).into_response()
}

fn args(
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> HashMap<String, Value> {
    let mut out: HashMap<String, Value> =
        query.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if ct.starts_with("application/json") {
        if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body) {
            out.extend(m);
        }
    } else {
        for (k, v) in url::form_urlencoded::parse(body) {
            out.insert(k.into_owned(), json!(v.into_owned()));
        }
    }
    out
}

fn user_json(u: &User, team: &str) -> Value {
    json!({"id": u.id, "team_id": u.team_id.as_deref().unwrap_or(team), "deleted": u.deleted, "is_bot": u.is_bot,
           "profile": {"email": u.email}})
}

async fn method(
    State(app): State<App>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    {
        let mut w = app.world();
        w.calls.push(name.clone());
        if let Some(i) = w
            .faults
            .iter()
            .position(|f| f.method == name || f.method == "*")
        {
            let f = w.faults[i].clone();
            if f.count <= 1 {
                w.faults.remove(i);
            } else {
                w.faults[i].count -= 1;
            }
            return match f.status {
                Some(429) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", f.retry_after.unwrap_or(1).to_string())],
                    axum::Json(json!({"ok": false, "error": "ratelimited"})),
                )
                    .into_response(),
                Some(s) => StatusCode::from_u16(s)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                    .into_response(),
                None => fail(f.error.as_deref().unwrap_or("internal_error")),
            };
        }
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token {
        None => return fail("not_authed"),
        Some(t) if t != app.cfg.bot_token => return fail("invalid_auth"),
        Some(_) => {}
    }
    let a = args(&query, &headers, &body);
    let arg = |k: &str| {
        a.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let team = app.cfg.team_id.clone();
    match name.as_str() {
        "auth.test" => ok(json!({"team_id": team, "user_id": "UBOT", "bot_id": "BBOT"})),
        "users.lookupByEmail" => {
            let email = arg("email");
            match app
                .cfg
                .users
                .iter()
                .find(|u| u.email.eq_ignore_ascii_case(&email))
            {
                Some(u) => ok(json!({"user": user_json(u, &team)})),
                None => fail("users_not_found"),
            }
        }
        "users.info" => match app.cfg.users.iter().find(|u| u.id == arg("user")) {
            Some(u) => ok(json!({"user": user_json(u, &team)})),
            None => fail("user_not_found"),
        },
        "chat.postMessage" => {
            let channel = arg("channel");
            let channel = if app.cfg.channels.contains(&channel) {
                channel
            } else if app.cfg.users.iter().any(|u| u.id == channel) {
                format!("D{channel}")
            } else {
                return fail("channel_not_found");
            };
            let text = arg("text");
            if text.is_empty() && !a.contains_key("blocks") {
                return fail("no_text");
            }
            let mut w = app.world();
            w.next_ts += 1;
            let ts = format!("1700000000.{:06}", w.next_ts);
            let msg = Message {
                channel: channel.clone(),
                ts: ts.clone(),
                text: text.clone(),
                blocks: a.get("blocks").cloned().unwrap_or(Value::Null),
                history: vec![],
            };
            w.messages.push(msg);
            ok(json!({"channel": channel, "ts": ts, "message": {"text": text}}))
        }
        "chat.update" => {
            let (channel, ts) = (arg("channel"), arg("ts"));
            let mut w = app.world();
            let Some(m) = w
                .messages
                .iter_mut()
                .find(|m| m.channel == channel && m.ts == ts)
            else {
                return fail("message_not_found");
            };
            m.history.push(json!({"text": m.text, "blocks": m.blocks}));
            m.text = arg("text");
            m.blocks = a.get("blocks").cloned().unwrap_or(Value::Null);
            ok(json!({"channel": channel, "ts": ts, "text": m.text}))
        }
        _ => fail("unknown_method"),
    }
}

async fn response_url(State(app): State<App>, Path(id): Path<String>, body: Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    };
    let mut w = app.world();
    let Some((channel, ts)) = w.response_urls.get(&id).cloned() else {
        return (StatusCode::NOT_FOUND, "no_such_response_url").into_response();
    };
    if v["replace_original"].as_bool() == Some(true)
        && let Some(m) = w
            .messages
            .iter_mut()
            .find(|m| m.channel == channel && m.ts == ts)
    {
        m.history.push(json!({"text": m.text, "blocks": m.blocks}));
        m.text = v["text"].as_str().unwrap_or_default().to_string();
        m.blocks = v["blocks"].clone();
    }
    w.responses
        .push(json!({"channel": channel, "ts": ts, "body": v}));
    (StatusCode::OK, "ok").into_response()
}

async fn messages(State(app): State<App>) -> Response {
    axum::Json(json!({"messages": app.world().messages})).into_response()
}

async fn responses(State(app): State<App>) -> Response {
    axum::Json(json!({"responses": app.world().responses})).into_response()
}

async fn faults(State(app): State<App>, axum::Json(f): axum::Json<Fault>) -> Response {
    app.world().faults.push(f);
    StatusCode::NO_CONTENT.into_response()
}

async fn clear_faults(State(app): State<App>) -> Response {
    app.world().faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

/// A member clicking a button on a message the bot posted.
#[derive(Debug, Clone, Deserialize)]
pub struct Click {
    /// Where Slack sends the interactivity request (the app's Request URL).
    pub url: String,
    pub user: String,
    /// `approve` or `reject`.
    pub action: String,
    /// The message clicked (its buttons' value is sent as the action's value).
    pub channel: String,
    pub ts: String,
    /// Seconds added to the signing time (negative: an old, replayed request).
    #[serde(default)]
    pub age_secs: i64,
}

/// Slack's v0 signature of `body` at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

async fn interact(State(app): State<App>, axum::Json(c): axum::Json<Click>) -> Response {
    let (value, response_id) = {
        let mut w = app.world();
        let Some(m) = w
            .messages
            .iter()
            .find(|m| m.channel == c.channel && m.ts == c.ts)
        else {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": "message_not_found"})),
            )
                .into_response();
        };
        // A client that has not redrawn yet still shows the buttons of an earlier version
        // (a double click, or two people at once): those can be clicked too.
        let versions =
            std::iter::once(&m.blocks).chain(m.history.iter().rev().map(|h| &h["blocks"]));
        let value = versions
            .flat_map(|v| v.as_array().cloned().unwrap_or_default())
            .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
            .find(|e| e["action_id"] == json!(c.action))
            .and_then(|e| e["value"].as_str().map(str::to_string));
        let Some(value) = value else {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": "no_such_button"})),
            )
                .into_response();
        };
        w.next_ts += 1;
        let id = format!("r{}", w.next_ts);
        w.response_urls
            .insert(id.clone(), (c.channel.clone(), c.ts.clone()));
        (value, id)
    };
    let base = app
        .base
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let payload = json!({
        "type": "block_actions",
        "team": {"id": app.cfg.team_id},
        "user": {"id": c.user, "team_id": app.cfg.team_id},
        "container": {"type": "message", "channel_id": c.channel, "message_ts": c.ts},
        "response_url": format!("{base}/response/{response_id}"),
        "actions": [{"type": "button", "action_id": c.action, "value": value}],
    });
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let ts = unix_now() + c.age_secs;
    let sent = reqwest::Client::new()
        .post(&c.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header(
            "x-slack-signature",
            sign(&app.cfg.signing_secret, ts, &body),
        )
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) => {
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            axum::Json(json!({"status": status, "body": text})).into_response()
        }
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            axum::Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

/// A running emulator; stops when dropped.
pub struct RunningSlack {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl RunningSlack {
    pub async fn start(cfg: SlackConfig, listen: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = App {
            cfg: Arc::new(cfg),
            world: Arc::new(Mutex::new(World::default())),
            base: Arc::new(Mutex::new(format!("http://{addr}"))),
        };
        let router = Router::new()
            .route("/api/{method}", any(method))
            .route("/response/{id}", post(response_url))
            .route("/_emulator/messages", get(messages))
            .route("/_emulator/responses", get(responses))
            .route("/_emulator/faults", post(faults).delete(clear_faults))
            .route("/_emulator/interactions", post(interact))
            .with_state(app);
        let task = tokio::spawn(async move {
            // The server ends only with the task (dropped with the handle).
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { addr, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The Web API base a client is configured with.
    pub fn api_url(&self) -> String {
        format!("http://{}/api/", self.addr)
    }
}

impl Drop for RunningSlack {
    fn drop(&mut self) {
        self.task.abort();
    }
}
