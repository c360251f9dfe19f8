//! The operations the benchmark measures, each through a function's real handler: register,
//! discover, request, approve + provision (user and API-key mode), credentials, revoke (both
//! modes) and a sweep of overdue grants. [`Invoke`] says how a function is run: in-process
//! (the suite's budget test) or as a release binary behind the loopback runtime API.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use fixtures::aws_faults::{AwsCall, AwsFaultProxy, count_of, tally};
use fixtures::{ADMIN, CAROL, DEV, Env, MALLORY, Person, event, http, response};
use serde::Serialize;
use serde_json::{Value, json};
use shared::store::{IntegrationStore, RequestStore};

use crate::budget::Counts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Function {
    Discover,
    Provision,
    Revoke,
    Cleanup,
    Rotate,
}

impl Function {
    pub const ALL: [Function; 5] = [
        Self::Discover,
        Self::Provision,
        Self::Revoke,
        Self::Cleanup,
        Self::Rotate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Discover => "discover",
            Self::Provision => "provision",
            Self::Revoke => "revoke",
            Self::Cleanup => "cleanup",
            Self::Rotate => "rotate",
        }
    }
}

/// Runs one invocation of a function and returns its answer.
#[async_trait::async_trait]
pub trait Invoke: Send + Sync {
    async fn invoke(&self, function: Function, event: Value) -> Value;
}

/// How the functions tell time: the test's manual clock, or the real one (release binaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Time {
    Manual,
    Real,
}

/// One measured invocation.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub op: String,
    pub function: Function,
    pub counts: Counts,
    /// Calls by `service:Action` (`es:METHOD /path` for the target).
    pub calls: BTreeMap<String, usize>,
    /// DynamoDB reads that asked for strong consistency.
    pub consistent_reads: usize,
    /// Items the DynamoDB queries returned.
    pub query_items: usize,
    /// Where the time went: milliseconds spent in AWS calls, by `service:Action`.
    pub aws_ms: BTreeMap<String, f64>,
    #[serde(skip)]
    pub elapsed: Duration,
    #[serde(skip)]
    pub answer: Value,
}

impl Measured {
    /// The answer's status code and body (API events).
    pub fn response(&self) -> (u16, Value) {
        response(self.answer.clone())
    }
}

pub struct Bench<'a> {
    pub env: &'a Env,
    pub proxy: &'a AwsFaultProxy,
    pub invoke: &'a dyn Invoke,
    pub time: Time,
}

/// The integration every operation works on.
pub const INTEGRATION: &str = "prod-search";

/// An API-key flow with an approver, beside the fixtures' flows.
fn keys_leads() -> Value {
    json!({"integration": INTEGRATION, "requesters": [{"type": "group", "value": "developers"}],
           "resources": ["logs-*"], "permissions": ["read"], "credential_mode": "api_key",
           "approvers": [{"type": "group", "value": "leads"}]})
}

impl Bench<'_> {
    /// Invoke `function` with `event` and count everything it caused.
    pub async fn measure(&self, op: &str, function: Function, event: Value) -> Measured {
        self.measure_on(&self.env.es.url(), op, function, event)
            .await
    }

    /// [`Self::measure`], counting the requests of the emulator at `target`.
    pub async fn measure_on(
        &self,
        target: &str,
        op: &str,
        function: Function,
        event: Value,
    ) -> Measured {
        let log = format!("{target}/_emulator/requests");
        self.env.http.delete(&log).send().await.expect("clear log");
        self.proxy.take_calls();
        let started = Instant::now();
        let answer = self.invoke.invoke(function, event).await;
        let elapsed = started.elapsed();
        let calls: Vec<AwsCall> = self.proxy.take_calls();
        let target: Value = self
            .env
            .http
            .get(&log)
            .send()
            .await
            .expect("log")
            .json()
            .await
            .expect("log JSON");
        let target = target["requests"].as_array().cloned().unwrap_or_default();
        let mut by_name = tally(&calls);
        for r in &target {
            let name = format!(
                "es:{} {}",
                r["method"].as_str().unwrap_or_default(),
                generic_path(r["path"].as_str().unwrap_or_default())
            );
            *by_name.entry(name).or_insert(0) += 1;
        }
        let count = |name: &str| calls.iter().filter(|c| c.name() == name).count();
        Measured {
            op: op.to_string(),
            function,
            counts: Counts {
                dynamodb: count_of(&calls, "dynamodb"),
                secret_reads: count("secretsmanager:GetSecretValue"),
                target: target.len(),
                single_reads: count("dynamodb:GetItem"),
            },
            calls: by_name,
            consistent_reads: calls.iter().filter(|c| c.consistent).count(),
            query_items: calls.iter().filter_map(|c| c.items).sum(),
            aws_ms: calls.iter().fold(BTreeMap::new(), |mut m, c| {
                *m.entry(c.name()).or_insert(0.0) += c.elapsed.as_secs_f64() * 1000.0;
                m
            }),
            elapsed,
            answer,
        }
    }

    /// `PUT /integrations/prod-search` as the admin (the connector secret is made first).
    pub async fn register(&self) -> Measured {
        self.register_at(INTEGRATION, &self.env.es.url()).await
    }

    /// Register `name` for the cluster at `url` (its connector user as in the fixtures' seed).
    pub async fn register_at(&self, name: &str, url: &str) -> Measured {
        let arn = self
            .env
            .secret_for(
                name,
                json!({"username": "connector", "password": fixtures::CONNECTOR_PASSWORD}),
            )
            .await;
        let body = json!({
            "kind": "elasticsearch", "url": url, "secret_arn": arn,
            "integration_owners": [{"type": "group", "value": "search-platform"}],
            "resource_owner": {"tag_key": "owner", "attribute": "user"},
            "user_cleanup_days": 7, "allow_insecure_http": true
        });
        let ev = http(
            event("discover/put-integration.json"),
            &format!("/integrations/{name}"),
            ADMIN,
            Some(body),
        );
        let m = self
            .measure_on(url, "register", Function::Discover, ev)
            .await;
        assert_eq!(m.response().0, 201, "register: {}", m.response().1);
        m
    }

    pub async fn discover(&self, op: &str) -> Measured {
        self.discover_at(op, INTEGRATION, &self.env.es.url()).await
    }

    /// `POST /integrations/{name}/discover` of the cluster at `url`.
    pub async fn discover_at(&self, op: &str, name: &str, url: &str) -> Measured {
        let ev = http(
            event("discover/post-discover.json"),
            &format!("/integrations/{name}/discover"),
            ADMIN,
            None,
        );
        let m = self.measure_on(url, op, Function::Discover, ev).await;
        assert_eq!(m.response().0, 200, "discover: {}", m.response().1);
        m
    }

    /// The flows the operations use.
    pub async fn flows(&self) {
        let mut specs: Vec<(&str, Value)> = ["logs-leads", "logs-auto"]
            .iter()
            .map(|n| (*n, fixtures::flows::flow_spec(n)))
            .collect();
        specs.push(("keys-leads", keys_leads()));
        for (name, spec) in specs {
            let ev = http(
                event("discover/put-flow.json"),
                &format!("/flows/{name}"),
                ADMIN,
                Some(spec),
            );
            let m = self.measure("flow", Function::Discover, ev).await;
            assert_eq!(m.response().0, 201, "flow {name}: {}", m.response().1);
        }
    }

    /// `POST /requests` as `who` through `flow`.
    pub async fn request(&self, op: &str, who: Person, flow: &str, resource: &str) -> Measured {
        let mut ev = http(
            event("provision/post-request.json"),
            "/requests",
            who,
            Some(json!({"integration": INTEGRATION, "resources": [resource],
                        "permission": "read", "duration": "1h", "flow": flow})),
        );
        if let Some(h) = ev["headers"].as_object_mut() {
            h.remove("idempotency-key");
        }
        let m = self.measure(op, Function::Provision, ev).await;
        assert_eq!(m.response().0, 201, "request: {}", m.response().1);
        m
    }

    pub async fn approve(&self, op: &str, who: Person, id: &str) -> Measured {
        let ev = http(
            event("provision/approve.json"),
            &format!("/requests/{id}/approve"),
            who,
            None,
        );
        let m = self.measure(op, Function::Provision, ev).await;
        let (status, body) = m.response();
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("active")),
            "approve: {body}"
        );
        m
    }

    pub async fn credentials(&self, who: Person, id: &str) -> Measured {
        let ev = http(
            event("provision/get-credentials.json"),
            &format!("/requests/{id}/credentials"),
            who,
            None,
        );
        let m = self.measure("credentials", Function::Provision, ev).await;
        assert_eq!(m.response().0, 200, "credentials");
        m
    }

    pub async fn revoke(&self, op: &str, who: Person, id: &str) -> Measured {
        let ev = http(
            event("revoke/post-revoke.json"),
            &format!("/requests/{id}/revoke"),
            who,
            None,
        );
        let m = self.measure(op, Function::Revoke, ev).await;
        let (status, body) = m.response();
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("revoked")),
            "revoke: {body}"
        );
        m
    }

    /// A request through a one-approver flow, approved: (request, approve) measurements and
    /// the grant's id. `who` must be new to the integration for a first-grant measurement.
    pub async fn grant(&self, who: Person, flow: &str, op: &str) -> (Measured, Measured, String) {
        let asked = self.request("request", who, flow, "logs-2026.10").await;
        let id = asked.response().1["id"]
            .as_str()
            .expect("request id")
            .to_string();
        let approved = self.approve(op, CAROL, &id).await;
        (asked, approved, id)
    }

    /// A sweep finding `n` overdue grants, each of a different person (so their accounts'
    /// leases never wait on each other). Returns the sweep's measurement; its answer is the
    /// run's report ([`sweep_problem`] says what is wrong with it).
    pub async fn sweep(&self, n: usize) -> Measured {
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let who = person(&format!("sweep-{i}"));
            let asked = self
                .request("setup", who, "logs-auto", "logs-2026.11")
                .await;
            assert_eq!(asked.response().1["status"], "active", "setup grant {i}");
            ids.push(
                asked.response().1["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        match self.time {
            // Past every grant's end and the provisioning grace period.
            Time::Manual => self.env.clock.advance(chrono::Duration::hours(2)),
            Time::Real => {
                for id in &ids {
                    let mut r = self
                        .env
                        .store
                        .get_request(id)
                        .await
                        .expect("read")
                        .expect("grant");
                    let expected = r.version;
                    r.ends_at = Some(Utc::now() - chrono::Duration::minutes(1));
                    self.env
                        .store
                        .update_request(&r, expected, &[])
                        .await
                        .expect("overdue");
                }
            }
        }
        self.measure(
            &format!("sweep {n}"),
            Function::Cleanup,
            event("cleanup/schedule.json"),
        )
        .await
    }
}

impl Bench<'_> {
    /// A rotation of the integration's connector secret, as Secrets Manager drives it: the
    /// rotation is started (not measured), then each of the four steps is one measurement.
    pub async fn rotation(&self) -> Vec<Measured> {
        let integration = self
            .env
            .store
            .get_integration(INTEGRATION)
            .await
            .expect("read")
            .expect("registered");
        let secret = integration.spec.secret_arn;
        let token = format!(
            "{:08x}-0000-4000-8000-000000000000",
            Utc::now().timestamp_subsec_nanos()
        );
        self.env.begin_rotation(&secret, &token).await;
        let mut out = Vec::new();
        for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
            let mut ev = event(&format!("rotate/{step}.json"));
            ev["SecretId"] = json!(secret);
            ev["ClientRequestToken"] = json!(token);
            let m = self
                .measure(&format!("rotation: {step}"), Function::Rotate, ev)
                .await;
            assert!(m.answer.get("error").is_none(), "{step}: {}", m.answer);
            out.push(m);
        }
        out
    }
}

/// A target path with the names of users and roles left out, so one call shape counts once.
fn generic_path(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let named = i > 0
                && matches!(parts[i - 1], "user" | "role")
                && !p.starts_with('_')
                && parts.get(1) == Some(&"_security");
            if named { "{name}" } else { p }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Why a sweep of `n` overdue grants did not do its job in one run, if it did not.
pub fn sweep_problem(m: &Measured, n: usize) -> Option<String> {
    let r = &m.answer;
    (r["expired"] != json!(n) || r["complete"] != json!(true) || r["errors"] != json!(0)).then(
        || {
            format!(
                "{}: expected {n} expired in one complete run, got {r}",
                m.op
            )
        },
    )
}

/// A developer no other operation uses (a fresh account on the target).
pub fn person(name: &str) -> Person {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    Person {
        sub: leak(format!("bench-{name}")),
        email: leak(format!("{name}@bench.example.com")),
        groups: "[developers]",
    }
}

/// The single-invocation operations, in order: register, discover, request, approve +
/// provision in both modes, credentials, revoke in both modes.
pub async fn story(b: &Bench<'_>) -> Vec<Measured> {
    let mut out = vec![b.register().await];
    out.push(b.discover("discover").await);
    b.flows().await;
    let (asked, user, user_grant) = b.grant(DEV, "logs-leads", "approve+provision (user)").await;
    out.push(asked);
    out.push(user);
    out.push(b.credentials(DEV, &user_grant).await);
    let (_, key, key_grant) = b
        .grant(MALLORY, "keys-leads", "approve+provision (api_key)")
        .await;
    out.push(key);
    out.push(b.revoke("revoke (user)", DEV, &user_grant).await);
    out.push(b.revoke("revoke (api_key)", MALLORY, &key_grant).await);
    out
}
