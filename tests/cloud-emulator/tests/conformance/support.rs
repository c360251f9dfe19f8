//! Shared helpers: start an emulator seeded with `seeds/demo.json` and call it.

use cloud_emulator::{CloudConfig, RunningCloud, Seed};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

pub const ORG: &str = "org-1";
pub const OWNER_KEY: &str = "owner-secret";
/// Seeded in demo.json: a deployment viewer's key, not an organization owner's.
pub const VIEWER_KEY: &str = "viewer-key-secret";
/// Seeded in demo.json: an owner key that expires on 2099-01-01.
pub const EXPIRING_KEY: &str = "expiring-key-secret";
pub const PROD_SEARCH: &str = "prodsearch0000000000000000000001";
pub const STAGING_LOGS: &str = "staginglogs000000000000000000002";

pub fn demo_seed() -> Seed {
    Seed::from_json(include_str!("../../seeds/demo.json")).expect("demo seed parses")
}

pub struct Cloud {
    pub server: RunningCloud,
    http: reqwest::Client,
}

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Checks the documented error shape: status, body code and the `x-cloud-error-codes` header.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["errors"][0]["code"], code, "body: {}", self.body);
        assert!(
            self.body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "message missing: {}",
            self.body
        );
        assert_eq!(
            self.headers
                .get("x-cloud-error-codes")
                .and_then(|v| v.to_str().ok()),
            Some(code)
        );
    }

    #[track_caller]
    pub fn assert_ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.body);
        &self.body
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Cloud {
    pub async fn start() -> Self {
        Self::start_with(Some(demo_seed())).await
    }

    pub async fn start_with(seed: Option<Seed>) -> Self {
        let mut config = CloudConfig::new(ORG, OWNER_KEY);
        config.seed = seed;
        let server = RunningCloud::start(config, "127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("emulator starts");
        // Never let an ambient HTTP(S)_PROXY intercept loopback traffic.
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        Cloud { server, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        authorization: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Reply, reqwest::Error> {
        let mut request = self.http.request(method, self.url(path));
        if let Some(auth) = authorization {
            request = request.header("Authorization", auth);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// A Cloud API call with `Authorization: ApiKey <key>`.
    pub async fn api(&self, method: Method, path: &str, key: &str, body: Option<&Value>) -> Reply {
        self.send(
            method,
            &format!("/api/v1{path}"),
            Some(&format!("ApiKey {key}")),
            body,
        )
        .await
        .expect("request completes")
    }

    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.api(Method::GET, path, key, None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: &Value) -> Reply {
        self.api(Method::POST, path, key, Some(body)).await
    }

    pub async fn delete(&self, path: &str, key: &str, body: Option<&Value>) -> Reply {
        self.api(Method::DELETE, path, key, body).await
    }

    /// A control call under `/_emulator`.
    pub async fn control(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        self.send(method, &format!("/_emulator{path}"), None, body)
            .await
            .expect("control request completes")
    }

    pub async fn members(&self) -> Vec<Value> {
        let reply = self
            .get(&format!("/organizations/{ORG}/members"), OWNER_KEY)
            .await;
        reply.assert_ok(200)["members"]
            .as_array()
            .expect("members array")
            .clone()
    }

    pub async fn member(&self, user_id: &str) -> Option<Value> {
        self.members()
            .await
            .into_iter()
            .find(|m| m["user_id"] == user_id)
    }

    pub async fn advance_clock(&self, seconds: i64) {
        self.control(
            Method::POST,
            "/clock",
            Some(&serde_json::json!({"advance_seconds": seconds})),
        )
        .await
        .assert_ok(200);
    }
}
