//! Shared helpers: an emulator per test and a small JSON client.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use es_emulator::{EmulatorConfig, RunningEmulator, Seed};
use serde_json::{Value, json};

pub const ELASTIC_PW: &str = "elastic-pw";

#[derive(Clone)]
pub enum Auth {
    None,
    Basic(String, String),
    ApiKey(String),
    Raw(String),
}

pub fn basic(user: &str, pw: &str) -> Auth {
    Auth::Basic(user.into(), pw.into())
}

pub fn elastic() -> Auth {
    basic("elastic", ELASTIC_PW)
}

pub struct Es {
    pub emulator: RunningEmulator,
    pub client: reqwest::Client,
}

pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

pub async fn start() -> Es {
    start_with(None).await
}

pub async fn start_with(seed: Option<Value>) -> Es {
    let mut config = EmulatorConfig::new(ELASTIC_PW);
    if let Some(s) = seed {
        config.seed = Some(Seed::from_json_str(&s.to_string()).expect("valid seed"));
    }
    let emulator = RunningEmulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator starts");
    Es {
        emulator,
        client: reqwest::Client::new(),
    }
}

impl Es {
    pub async fn call(&self, method: &str, path: &str, auth: &Auth, body: Option<Value>) -> Resp {
        let url = format!("{}{}", self.emulator.url(), path);
        let mut rb = self
            .client
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url);
        rb = match auth {
            Auth::None => rb,
            Auth::Basic(u, p) => rb.header(
                "authorization",
                format!("Basic {}", STANDARD.encode(format!("{u}:{p}"))),
            ),
            Auth::ApiKey(enc) => rb.header("authorization", format!("ApiKey {enc}")),
            Auth::Raw(v) => rb.header("authorization", v.clone()),
        };
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> Resp {
        self.call("GET", path, auth, None).await
    }

    pub async fn put(&self, path: &str, auth: &Auth, body: Value) -> Resp {
        self.call("PUT", path, auth, Some(body)).await
    }

    pub async fn post(&self, path: &str, auth: &Auth, body: Value) -> Resp {
        self.call("POST", path, auth, Some(body)).await
    }

    pub async fn delete(&self, path: &str, auth: &Auth) -> Resp {
        self.call("DELETE", path, auth, None).await
    }

    /// Creates a role and a user holding it (password `<name>-password`).
    pub async fn user_with_role(&self, user: &str, role: &str, role_body: Value) -> Auth {
        let r = self
            .put(&format!("/_security/role/{role}"), &elastic(), role_body)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        self.user(user, &[role]).await
    }

    pub async fn user(&self, user: &str, roles: &[&str]) -> Auth {
        let pw = format!("{user}-password");
        let r = self
            .put(
                &format!("/_security/user/{user}"),
                &elastic(),
                json!({"password": pw, "roles": roles}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        basic(user, &pw)
    }

    pub async fn control(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.call(method, &format!("/_emulator/{path}"), &Auth::None, body)
            .await
    }
}

/// Asserts the standard error shape and returns the reason.
pub fn error_of(r: &Resp, status: u16, kind: &str) -> String {
    assert_eq!(r.status, status, "unexpected status, body: {}", r.body);
    assert_eq!(r.body["status"], json!(status), "{}", r.body);
    assert_eq!(r.body["error"]["type"], json!(kind), "{}", r.body);
    assert_eq!(
        r.body["error"]["root_cause"][0]["type"],
        json!(kind),
        "{}",
        r.body
    );
    assert_eq!(
        r.body["error"]["root_cause"][0]["reason"], r.body["error"]["reason"],
        "{}",
        r.body
    );
    r.body["error"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
