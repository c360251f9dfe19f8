//! The story, step by step, each step checked. Functions are only ever reached through
//! `cargo lambda watch`; the emulators are used the way a person with the credentials would.

/// A bundle: two grants on two integrations, approved as one.
mod bundle;
mod extension;

use std::io::Write;

use reqwest::Method;
use serde_json::{Value, json};

use crate::StoryError;
use crate::idp::client::IdpClient;
use crate::idp::identities::{ADMIN, ALICE, BOB, CAROL, DEV, EVE, Identity};
use crate::stack::{CLOUD_API_KEY, CLOUD_ORG, Stack};

/// The authorizing proxy in front of a cluster without security.
mod proxy;
/// A scheduled start: approved before its start, provisioned by its one-time schedule.
mod scheduled;

const ES_INTEGRATION: &str = "demo-search";
const CLOUD_INTEGRATION: &str = "demo-cloud";
const CONNECTOR_USER: &str = "elastic-jit-connector";
const CONNECTOR_PASSWORD: &str = "connector-password";
/// The Cloud seed's deployment owned by alice, and the organization member bob.
const DEPLOYMENT_NAME: &str = "prod-search";
const BOB_USER_ID: &str = "bob-1";
const CLOUD_ROLE: &str = "deployment-viewer";

struct Teller<'a, W: Write> {
    stack: &'a mut Stack,
    out: &'a mut W,
    n: usize,
    current: String,
    /// Access tokens, by login, from the identity provider's authorization-code flow.
    tokens: std::collections::HashMap<&'static str, String>,
}

impl<'a, W: Write> Teller<'a, W> {
    fn step(&mut self, title: &str) -> Result<(), StoryError> {
        self.n += 1;
        self.current = format!("{}. {title}", self.n);
        writeln!(self.out, "\n[{:>2}] {title}", self.n)?;
        self.out.flush()?;
        Ok(())
    }

    fn say(&mut self, text: impl AsRef<str>) -> Result<(), StoryError> {
        for line in text.as_ref().lines() {
            writeln!(self.out, "     {line}")?;
        }
        self.out.flush()?;
        Ok(())
    }

    fn fail(&self, message: impl Into<String>) -> StoryError {
        StoryError::step(self.current.clone(), message)
    }

    fn section(&mut self, title: &str) -> Result<(), StoryError> {
        writeln!(self.out, "\n== {title}")?;
        Ok(())
    }

    /// Log in as `who` at the identity provider (authorization code + PKCE): an access token.
    async fn login(&mut self, who: Identity) -> Result<(), StoryError> {
        let client = IdpClient::new(self.stack.issuer()).map_err(|e| self.fail(e.to_string()))?;
        let t = client
            .login(who.login)
            .await
            .map_err(|e| self.fail(format!("login as {}: {e}", who.login)))?;
        self.say(format!(
            "{:<6} logged in (code + PKCE): access token for sub {}, groups {:?}, expires in {} s",
            who.login, who.sub, who.groups, t.expires_in
        ))?;
        self.tokens.insert(who.login, t.access_token);
        Ok(())
    }

    /// Call the local HTTP API as `who` with their access token; check the status.
    async fn api(
        &mut self,
        method_path: &str,
        who: Identity,
        body: Option<Value>,
        want: u16,
    ) -> Result<Value, StoryError> {
        let (method, path) = method_path
            .split_once(' ')
            .ok_or_else(|| self.fail(format!("bad route {method_path}")))?;
        let token = self
            .tokens
            .get(who.login)
            .cloned()
            .ok_or_else(|| self.fail(format!("{} has not logged in", who.login)))?;
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| self.fail(format!("bad method in {method_path}")))?;
        let started = std::time::Instant::now();
        let mut r = self
            .stack
            .http
            .request(method.clone(), format!("{}{path}", self.stack.api_url))
            // A function's first invocation under `cargo lambda watch` may compile it.
            .timeout(self.stack.timeouts().invoke)
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r
            .send()
            .await
            .map_err(|e| self.fail(format!("HTTP API: {e}")))?;
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .map_err(|_| self.fail(format!("body is not JSON: {text}")))?
        };
        self.say(format!(
            "{method} {path} as {} -> {status} ({} ms)",
            who.login,
            started.elapsed().as_millis()
        ))?;
        if status != want {
            return Err(self.fail(format!(
                "{method} {path} as {} returned {status}, expected {want}: {body}",
                who.login
            )));
        }
        Ok(body)
    }

    /// A request to the Elasticsearch emulator with Basic credentials; status and JSON body.
    async fn es(
        &mut self,
        method: Method,
        path: &str,
        user: &str,
        password: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), StoryError> {
        let mut r = self
            .stack
            .http
            .request(method, format!("{}{path}", self.stack.es_url))
            .basic_auth(user, Some(password));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r
            .send()
            .await
            .map_err(|e| self.fail(format!("Elasticsearch emulator: {e}")))?;
        let status = r.status().as_u16();
        let body = r.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// The Cloud organization's members, as the emulator's owner key sees them.
    async fn cloud_members(&mut self) -> Result<Vec<Value>, StoryError> {
        let r = self
            .stack
            .http
            .get(format!(
                "{}/api/v1/organizations/{CLOUD_ORG}/members",
                self.stack.cloud_url
            ))
            .header("Authorization", format!("ApiKey {CLOUD_API_KEY}"))
            .send()
            .await
            .map_err(|e| self.fail(format!("Elastic Cloud emulator: {e}")))?;
        if !r.status().is_success() {
            return Err(self.fail(format!("Cloud members: {}", r.status())));
        }
        let body: Value = r
            .json()
            .await
            .map_err(|e| self.fail(format!("Cloud members: {e}")))?;
        Ok(body["members"].as_array().cloned().unwrap_or_default())
    }

    /// `POST /requests` as `who`; the new request's id, after checking it is `want`.
    async fn ask(&mut self, who: Identity, body: Value, want: &str) -> Result<String, StoryError> {
        let body = self.api("POST /requests", who, Some(body), 201).await?;
        let id = str_of(&body, "id").to_string();
        self.expect_status(&body, want)?;
        Ok(id)
    }

    /// `POST /requests/{id}/{action}` as `who` with `reason`; checks the request is then `want`.
    async fn decide(
        &mut self,
        who: Identity,
        id: &str,
        action: &str,
        reason: &str,
        want: &str,
    ) -> Result<Value, StoryError> {
        let body = self
            .api(
                &format!("POST /requests/{id}/{action}"),
                who,
                Some(json!({ "reason": reason })),
                200,
            )
            .await?;
        self.expect_status(&body, want)?;
        Ok(body)
    }

    fn expect_status(&mut self, request: &Value, want: &str) -> Result<(), StoryError> {
        self.say(format!(
            "request {}: {}",
            str_of(request, "id"),
            str_of(request, "status")
        ))?;
        if request["status"] != want {
            return Err(self.fail(format!("expected a {want} request: {request}")));
        }
        Ok(())
    }

    /// The discovered resources of `integration`, as the admin sees them.
    async fn resources(&mut self, integration: &str) -> Result<Vec<Value>, StoryError> {
        let body = self
            .api(
                &format!("GET /integrations/{integration}/resources?limit=50"),
                ADMIN,
                None,
                200,
            )
            .await?;
        Ok(body["resources"].as_array().cloned().unwrap_or_default())
    }

    /// Store `integration`'s connector secret under the name the integration is bound to.
    async fn connector_secret(
        &mut self,
        integration: &str,
        value: Value,
    ) -> Result<(String, String), StoryError> {
        let name = format!(
            "elastic-jit-demo-{}/connector/{integration}",
            self.stack.names.suffix
        );
        let arn = self.create_secret(&name, value).await?;
        Ok((name, arn))
    }

    async fn create_secret(&mut self, name: &str, value: Value) -> Result<String, StoryError> {
        let client = aws_sdk_secretsmanager::Client::new(&self.stack.aws);
        let made = client
            .create_secret()
            .name(name)
            .secret_string(value.to_string())
            .send()
            .await
            .map_err(|e| {
                self.fail(format!(
                    "create secret {name}: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                ))
            })?;
        made.arn()
            .map(str::to_string)
            .ok_or_else(|| self.fail("Secrets Manager returned no ARN"))
    }

    fn show_history(&mut self, request: &Value) -> Result<usize, StoryError> {
        let history = request["history"]
            .as_array()
            .cloned()
            .ok_or_else(|| self.fail(format!("no history in {request}")))?;
        for h in &history {
            let outcome = match &h["outcome"] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            self.say(format!(
                "{}  {:<24} by {:<22} {}",
                h["at"].as_str().unwrap_or("?"),
                h["action"].as_str().unwrap_or("?"),
                h["actor"].as_str().unwrap_or("?"),
                outcome
            ))?;
        }
        Ok(history.len())
    }
}

fn str_of<'v>(v: &'v Value, key: &str) -> &'v str {
    v[key].as_str().unwrap_or("")
}

pub async fn run<W: Write>(stack: &mut Stack, out: &mut W) -> Result<(), StoryError> {
    let mut t = Teller {
        stack,
        out,
        n: 0,
        current: String::new(),
        tokens: Default::default(),
    };
    identity(&mut t).await?;
    let short = elasticsearch(&mut t).await?;
    extension::extension(&mut t).await?;
    // Its start comes while the story goes on; it is checked after the expiry.
    let later = scheduled::ask_and_approve(&mut t).await?;
    cloud(&mut t).await?;
    rotation(&mut t).await?;
    expiry(&mut t, short).await?;
    scheduled::started(&mut t, later).await?;
    notifications(&mut t).await?;
    // Last: bob's short grant has ended, so the bundle's grant is the only one on his account.
    bundle::bundle(&mut t).await?;
    proxy::proxy(&mut t).await?;
    writeln!(
        t.out,
        "\n== The story ran to the end: every step behaved as expected"
    )?;
    Ok(())
}

/// A grant that expires by itself: its id, its holder's Elasticsearch credentials, and when it
/// was approved.
struct ShortGrant {
    id: String,
    user: String,
    password: String,
    approved: std::time::Instant,
}

/// A short break-glass grant (the policy's `MIN_DURATION` is 1 minute): its expiry schedule
/// revokes it while the story goes on (the 5-minute cleanup sweep is only the backstop).
const SHORT_DURATION: std::time::Duration = std::time::Duration::from_secs(120);

async fn identity<W: Write>(t: &mut Teller<'_, W>) -> Result<(), StoryError> {
    t.section("Identity: tokens from the identity provider, checked by the HTTP API")?;
    t.step("the gateway refuses requests without a valid token")?;
    let lines = crate::guide::refusals(t.stack)
        .await
        .map_err(|e| t.fail(e))?;
    for line in lines {
        t.say(line)?;
    }
    t.step("admin, alice, dev, bob, eve and carol log in at the identity provider")?;
    for who in [ADMIN, ALICE, DEV, BOB, EVE, CAROL] {
        t.login(who).await?;
    }

    t.step("carol's one group \"developers jit-admins\" does not make her an admin")?;
    let body = t.api("GET /integrations", CAROL, None, 200).await?;
    let seen = body["integrations"].as_array().map_or(0, Vec::len);
    t.say(format!(
        "carol sees {seen} integrations (only those offered to her)"
    ))?;
    let body = t
        .api(
            "PUT /integrations/carols-own",
            CAROL,
            Some(json!({"kind": "elasticsearch", "url": "https://127.0.0.1:9"})),
            403,
        )
        .await?;
    t.say(format!("refused: {}", str_of(&body, "code")))?;
    Ok(())
}

/// Bob's 2-minute grant is revoked by its expiry schedule: nobody calls revoke.
async fn expiry<W: Write>(t: &mut Teller<'_, W>, g: ShortGrant) -> Result<(), StoryError> {
    t.section("Expiry: bob's 2-minute grant ends by itself")?;
    t.step("the expiry schedule fires the revoke function (nobody calls revoke)")?;
    let schedule = shared::scheduler::schedule_name(&g.id);
    let left = SHORT_DURATION.saturating_sub(g.approved.elapsed());
    t.say(format!(
        "waiting for schedule {schedule} (about {} s left of the grant)",
        left.as_secs()
    ))?;
    let log = t
        .stack
        .glue
        .as_ref()
        .map(|g| g.log.clone())
        .ok_or_else(|| t.fail("the glue is not running"))?;
    let want = crate::glue::Trigger::OneTime {
        schedule: schedule.clone(),
    };
    // Bounded: the grant's end, plus the time the glue and the revoke function need.
    let fired = log
        .wait_for(left + std::time::Duration::from_secs(90), |f| {
            f.trigger == want && f.outcome.is_ok()
        })
        .await
        .ok_or_else(|| {
            t.fail(format!(
                "schedule {schedule} did not fire successfully: {:?}",
                log.snapshot()
            ))
        })?;
    t.say(fired.to_string())?;

    t.step("bob's request is expired; his credentials no longer work")?;
    let body = t
        .api(&format!("GET /requests/{}", g.id), BOB, None, 200)
        .await?;
    t.say(format!("request {}: {}", g.id, str_of(&body, "status")))?;
    if body["status"] != "expired" {
        return Err(t.fail(format!("expected an expired request: {body}")));
    }
    t.show_history(&body)?;
    let (s, _) = t
        .es(
            Method::GET,
            "/logs-2026.11/_search",
            &g.user,
            &g.password,
            None,
        )
        .await?;
    t.say(format!("GET /logs-2026.11/_search as {} -> {s}", g.user))?;
    if s != 401 && s != 403 {
        return Err(t.fail(format!("expected 401 or 403 after expiry, got {s}")));
    }
    Ok(())
}

/// The connector's password is rotated by the rotate function's four steps, which the glue
/// delivers when rotation is requested; the integration keeps working with the new password.
async fn rotation<W: Write>(t: &mut Teller<'_, W>) -> Result<(), StoryError> {
    t.section("Rotation: the connector's password, by Secrets Manager's four steps")?;
    let Some(lambda) = t.stack.rotation_lambda_arn.clone() else {
        t.say("rotation glue is off (no moto Lambda API at this AWS endpoint): skipped")?;
        return Ok(());
    };
    t.step(
        "admin turns on rotation of the connector secret (rotate function as its rotation Lambda)",
    )?;
    let secret = format!(
        "elastic-jit-demo-{}/connector/{ES_INTEGRATION}",
        t.stack.names.suffix
    );
    let sm = aws_sdk_secretsmanager::Client::new(&t.stack.aws);
    let started = sm
        .rotate_secret()
        .secret_id(&secret)
        .rotation_lambda_arn(&lambda)
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            t.fail(format!(
                "rotate-secret: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            ))
        })?;
    let token = started.version_id().unwrap_or_default().to_string();
    t.say(format!("rotation requested, token {token}"))?;
    let log = t
        .stack
        .glue
        .as_ref()
        .map(|g| g.log.clone())
        .ok_or_else(|| t.fail("the glue is not running"))?;
    let is_step = |f: &crate::glue::Fired| matches!(&f.trigger, crate::glue::Trigger::Rotation { token: k, .. } if *k == token);
    let limit = t.stack.timeouts().invoke * 4;
    let done = log
        .wait_for(limit, |f| {
            is_step(f)
                && (f.outcome.is_err()
                    || matches!(&f.trigger, crate::glue::Trigger::Rotation { step, .. } if step == "finishSecret"))
        })
        .await;
    for f in log.snapshot().iter().filter(|f| is_step(f)) {
        t.say(f.to_string())?;
    }
    match done {
        Some(f) if f.outcome.is_ok() => {}
        _ => return Err(t.fail("the rotation did not complete")),
    }
    let (s, _) = t
        .es(
            Method::GET,
            "/_security/_authenticate",
            CONNECTOR_USER,
            CONNECTOR_PASSWORD,
            None,
        )
        .await?;
    t.say(format!("the old connector password -> {s}"))?;
    if s != 401 {
        return Err(t.fail(format!("the old password still works ({s})")));
    }

    t.step("admin re-runs discovery: the integration works with the rotated password")?;
    // The functions keep connector credentials in memory for 30 s (functions/rotate/README.md):
    // one that read the old password just before the rotation is refused until then.
    t.say("waiting out the functions' 30 s credential cache")?;
    tokio::time::sleep(std::time::Duration::from_secs(31)).await;
    t.api(
        &format!("POST /integrations/{ES_INTEGRATION}/discover"),
        ADMIN,
        None,
        200,
    )
    .await?;
    Ok(())
}

/// Bob asks for 2 minutes of read access; alice approves; his credentials work.
async fn short_grant<W: Write>(t: &mut Teller<'_, W>) -> Result<ShortGrant, StoryError> {
    t.step("bob requests read on logs-* for 2 minutes")?;
    let id = t
        .ask(
            BOB,
            json!({
                "integration": ES_INTEGRATION,
                "flow": "logs-read",
                "resources": ["logs-*"],
                "permission": "read",
                "duration": "2m",
                "justification": "INC-4713: a quick look"
            }),
            "pending",
        )
        .await?;
    t.step("alice approves bob's 2-minute request")?;
    t.decide(ALICE, &id, "approve", "short and sweet", "active")
        .await?;
    let approved = std::time::Instant::now();
    let creds = t
        .api(&format!("GET /requests/{id}/credentials"), BOB, None, 200)
        .await?;
    let user = str_of(&creds, "username").to_string();
    let password = str_of(&creds, "password").to_string();
    let (s, _) = t
        .es(Method::GET, "/logs-2026.11/_search", &user, &password, None)
        .await?;
    t.say(format!("GET /logs-2026.11/_search as {user} -> {s}"))?;
    if s != 200 {
        return Err(t.fail(format!(
            "expected 200 with bob's fresh credentials, got {s}"
        )));
    }
    Ok(ShortGrant {
        id,
        user,
        password,
        approved,
    })
}

async fn elasticsearch<W: Write>(t: &mut Teller<'_, W>) -> Result<ShortGrant, StoryError> {
    t.section("Elasticsearch: just-in-time read access to logs-*")?;

    t.step("admin stores the connector's credentials in Secrets Manager")?;
    let (secret_name, arn) = t
        .connector_secret(
            ES_INTEGRATION,
            json!({"username": CONNECTOR_USER, "password": CONNECTOR_PASSWORD}),
        )
        .await?;
    t.say(format!("secret {secret_name} (user {CONNECTOR_USER})"))?;

    t.step(&format!("admin registers integration {ES_INTEGRATION}"))?;
    let es_url = t.stack.es_url.clone();
    let body = t
        .api(
            &format!("PUT /integrations/{ES_INTEGRATION}"),
            ADMIN,
            Some(json!({
                "kind": "elasticsearch",
                "url": es_url,
                "secret_arn": arn,
                "custom_access_details": "Local demo: query the emulator directly.",
                "integration_owners": [{"type": "group", "value": "search-platform"}],
                "resource_owner": {"tag_key": "owner", "attribute": "user"},
                "user_cleanup_days": 7,
                "allow_insecure_http": true
            })),
            201,
        )
        .await?;
    t.say(format!(
        "registered {} ({} at {})",
        str_of(&body, "name"),
        body["spec"]["kind"]
            .as_str()
            .or(body["kind"].as_str())
            .unwrap_or("elasticsearch"),
        es_url
    ))?;

    t.step("admin lists the discovered resources")?;
    let resources = t.resources(ES_INTEGRATION).await?;
    for r in &resources {
        t.say(format!(
            "{:<28} {:<14} owner {}",
            str_of(r, "name"),
            str_of(r, "kind"),
            r["owner"].as_str().unwrap_or("-")
        ))?;
    }
    let logs = resources.iter().find(|r| r["name"] == "logs-2026.11");
    if logs.is_none_or(|r| r["owner"] != "alice@example.com") {
        return Err(t.fail(format!(
            "logs-2026.11 owned by alice@example.com not among the resources: {resources:?}"
        )));
    }

    t.step("admin creates flow logs-read: developers may read logs-*, the owner approves")?;
    t.api(
        "PUT /flows/logs-read",
        ADMIN,
        Some(json!({
            "integration": ES_INTEGRATION,
            "requesters": [{"type": "group", "value": "developers"}],
            "resources": ["logs-*"],
            "permissions": ["read"],
            "max_duration": "8h",
            "require_justification": true
        })),
        201,
    )
    .await?;

    let short = short_grant(t).await?;

    t.step("dev requests read on logs-* for 1h")?;
    let id = t
        .ask(
            DEV,
            json!({
                "integration": ES_INTEGRATION,
                "flow": "logs-read",
                "resources": ["logs-*"],
                "permission": "read",
                "duration": "1h",
                "justification": "INC-4711: checking login errors"
            }),
            "pending",
        )
        .await?;

    t.step("eve, whose token claims alice's email unverified, cannot approve it")?;
    let body = t
        .api(
            &format!("POST /requests/{id}/approve"),
            EVE,
            Some(json!({"reason": "I am alice"})),
            404,
        )
        .await?;
    t.say(format!(
        "refused: {} (an unverified email counts for nothing)",
        str_of(&body, "code")
    ))?;

    t.step("alice (owner of logs-*) approves")?;
    t.decide(ALICE, &id, "approve", "looks fine", "active")
        .await?;

    t.step("dev fetches the credentials")?;
    let creds = t
        .api(&format!("GET /requests/{id}/credentials"), DEV, None, 200)
        .await?;
    let user = str_of(&creds, "username").to_string();
    let password = str_of(&creds, "password").to_string();
    if user.is_empty() || password.is_empty() {
        let keys: Vec<&String> = creds
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        return Err(t.fail(format!(
            "no username/password in the credentials (fields {keys:?})"
        )));
    }
    t.say(format!("username {user}, password received (********)"))?;

    t.step("dev searches logs-2026.11 with them")?;
    let (s, body) = t
        .es(Method::GET, "/logs-2026.11/_search", &user, &password, None)
        .await?;
    t.say(format!("GET /logs-2026.11/_search -> {s}"))?;
    if s != 200 {
        return Err(t.fail(format!("expected 200: {body}")));
    }
    let hits = body["hits"]["hits"].as_array().cloned().unwrap_or_default();
    for h in &hits {
        t.say(format!("  hit: {}", h["_source"]))?;
    }

    t.step("dev tries secrets-1 (not granted)")?;
    let (s, body) = t
        .es(Method::GET, "/secrets-1/_search", &user, &password, None)
        .await?;
    t.say(format!(
        "GET /secrets-1/_search -> {s} {}",
        body["error"]["type"].as_str().unwrap_or("")
    ))?;
    if s != 403 {
        return Err(t.fail(format!("expected 403: {body}")));
    }

    t.step("dev tries to write to logs-2026.11 (read only)")?;
    let (s, body) = t
        .es(
            Method::PUT,
            "/logs-2026.11/_doc/demo-write",
            &user,
            &password,
            Some(json!({"message": "should be refused"})),
        )
        .await?;
    t.say(format!(
        "PUT /logs-2026.11/_doc/demo-write -> {s} {}",
        body["error"]["type"].as_str().unwrap_or("")
    ))?;
    if s != 403 {
        return Err(t.fail(format!("expected 403: {body}")));
    }

    t.step("dev revokes the grant")?;
    t.decide(DEV, &id, "revoke", "incident closed", "revoked")
        .await?;

    t.step("the same credentials no longer work")?;
    let (s, _) = t
        .es(Method::GET, "/logs-2026.11/_search", &user, &password, None)
        .await?;
    t.say(format!("GET /logs-2026.11/_search -> {s}"))?;
    if s != 401 && s != 403 {
        return Err(t.fail(format!("expected 401 or 403 after revoke, got {s}")));
    }

    t.step("the cleanup sweep runs (scheduled event)")?;
    let event = crate::events::sample("cleanup/schedule.json")?;
    let started = std::time::Instant::now();
    let summary = t
        .stack
        .invoke("cleanup", &event)
        .await
        .map_err(|e| t.fail(e))?;
    t.say(format!(
        "cleanup -> {} ({} ms)",
        summary,
        started.elapsed().as_millis()
    ))?;
    if summary["complete"] != true || summary["errors"] != 0 {
        return Err(t.fail(format!("the sweep did not finish cleanly: {summary}")));
    }

    t.step("dev reads the request's audit trail")?;
    let body = t
        .api(&format!("GET /requests/{id}"), DEV, None, 200)
        .await?;
    t.say(format!("request {id}: {}", str_of(&body, "status")))?;
    let n = t.show_history(&body)?;
    if n < 3 {
        return Err(t.fail(format!(
            "expected at least created, approved and revoked in the history: {body}"
        )));
    }
    Ok(short)
}

async fn cloud<W: Write>(t: &mut Teller<'_, W>) -> Result<(), StoryError> {
    t.section("Elastic Cloud: a deployment role for bob")?;

    t.step("admin stores the Cloud API key in Secrets Manager")?;
    let (secret_name, arn) = t
        .connector_secret(
            CLOUD_INTEGRATION,
            json!({"api_key": CLOUD_API_KEY, "api_key_id": "owner-key"}),
        )
        .await?;
    t.say(format!("secret {secret_name} (key id owner-key)"))?;

    t.step(&format!(
        "admin registers integration {CLOUD_INTEGRATION} (organization {CLOUD_ORG})"
    ))?;
    let cloud_url = t.stack.cloud_url.clone();
    t.api(
        &format!("PUT /integrations/{CLOUD_INTEGRATION}"),
        ADMIN,
        Some(json!({
            "kind": "elastic_cloud",
            "url": cloud_url,
            "organization_id": CLOUD_ORG,
            "secret_arn": arn,
            "integration_owners": [{"type": "group", "value": "search-platform"}],
            "resource_owner": {"tag_key": "owner", "attribute": "user"},
            "allow_insecure_http": true
        })),
        201,
    )
    .await?;

    t.step("admin lists the discovered Cloud resources")?;
    let resources = t.resources(CLOUD_INTEGRATION).await?;
    for r in &resources {
        t.say(format!(
            "{:<34} {:<24} {:<18} owner {}",
            str_of(r, "name"),
            str_of(r, "kind"),
            r["display_name"].as_str().unwrap_or("-"),
            r["owner"].as_str().unwrap_or("-")
        ))?;
    }
    let deployment = resources
        .iter()
        .find(|r| r["display_name"] == DEPLOYMENT_NAME)
        .map(|r| str_of(r, "name").to_string())
        .ok_or_else(|| {
            t.fail(format!(
                "deployment {DEPLOYMENT_NAME} not discovered: {resources:?}"
            ))
        })?;

    t.step(&format!(
        "admin creates flow cloud-viewers: developers may get {CLOUD_ROLE}"
    ))?;
    t.api(
        "PUT /flows/cloud-viewers",
        ADMIN,
        Some(json!({
            "integration": CLOUD_INTEGRATION,
            "requesters": [{"type": "group", "value": "developers"}],
            "resources": [deployment],
            "permissions": [CLOUD_ROLE],
            "max_duration": "8h"
        })),
        201,
    )
    .await?;

    t.step(&format!("bob requests {CLOUD_ROLE} on {DEPLOYMENT_NAME}"))?;
    let id = t
        .ask(
            BOB,
            json!({
                "integration": CLOUD_INTEGRATION,
                "flow": "cloud-viewers",
                "resources": [deployment],
                "permission": CLOUD_ROLE,
                "duration": "1h",
                "justification": "INC-4712: slow queries on prod-search"
            }),
            "pending",
        )
        .await?;

    t.step(&format!("alice (owner of {DEPLOYMENT_NAME}) approves"))?;
    t.decide(ALICE, &id, "approve", "ok for today", "active")
        .await?;

    t.step("bob's role assignments at Elastic Cloud")?;
    let held = bob_holds(t, &deployment).await?;
    if !held {
        return Err(t.fail(format!("bob does not hold {CLOUD_ROLE} on {deployment}")));
    }

    t.step("bob revokes the grant")?;
    t.decide(BOB, &id, "revoke", "done", "revoked").await?;

    t.step("bob's role assignments at Elastic Cloud, after the revoke")?;
    let held = bob_holds(t, &deployment).await?;
    if held {
        return Err(t.fail(format!("bob still holds {CLOUD_ROLE} on {deployment}")));
    }

    t.step("bob reads the request's audit trail")?;
    let body = t
        .api(&format!("GET /requests/{id}"), BOB, None, 200)
        .await?;
    t.show_history(&body)?;
    Ok(())
}

/// Print bob's deployment role assignments; does he hold the role on `deployment`?
async fn bob_holds<W: Write>(t: &mut Teller<'_, W>, deployment: &str) -> Result<bool, StoryError> {
    let members = t.cloud_members().await?;
    let bob = members
        .iter()
        .find(|m| m["user_id"] == BOB_USER_ID)
        .cloned()
        .ok_or_else(|| t.fail(format!("{BOB_USER_ID} is not a member")))?;
    let assignments = bob["role_assignments"]["deployment"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if assignments.is_empty() {
        t.say(format!(
            "{BOB_USER_ID} ({}): no deployment roles",
            str_of(&bob, "email")
        ))?;
    }
    let mut held = false;
    for a in &assignments {
        let ids: Vec<&str> = a["deployment_ids"]
            .as_array()
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        t.say(format!(
            "{BOB_USER_ID} ({}): {} on {}",
            str_of(&bob, "email"),
            str_of(a, "role_id"),
            if a["all"] == true {
                "all deployments".to_string()
            } else {
                ids.join(", ")
            }
        ))?;
        if a["role_id"] == CLOUD_ROLE && (a["all"] == true || ids.contains(&deployment)) {
            held = true;
        }
    }
    Ok(held)
}

/// Dev asks again, and alice (the owner of logs-*, an approver named by email) approves from the
/// button of notify's direct message to her, through the Slack emulator. `/slack/interactions`
/// only queues the click (SQS); the provision function decides it from the queue, delivered by
/// the glue as Lambda's SQS event source mapping delivers it, and tells Slack the outcome through
/// the click's `response_url`.
async fn slack_click<W: Write>(t: &mut Teller<'_, W>) -> Result<(), StoryError> {
    const LIMIT: std::time::Duration = std::time::Duration::from_secs(20);
    t.step("dev requests read on logs-* again; alice approves it from her Slack message")?;
    let id = t
        .ask(
            DEV,
            json!({
                "integration": ES_INTEGRATION,
                "flow": "logs-read",
                "resources": ["logs-*"],
                "permission": "read",
                "duration": "1h",
                "justification": "INC-4714: approved from Slack"
            }),
            "pending",
        )
        .await?;
    let slack = t
        .stack
        .slack
        .as_ref()
        .map(|s| s.emulator.url())
        .ok_or_else(|| t.fail("the stack has no Slack emulator"))?;
    let http = t.stack.http.clone();
    let get = |path: &'static str| {
        let (http, url) = (http.clone(), format!("{slack}{path}"));
        async move {
            let r = http.get(url).send().await.map_err(|e| e.to_string())?;
            r.json::<Value>().await.map_err(|e| e.to_string())
        }
    };
    // notify's direct message to alice about this request, with its buttons.
    let is_button = |e: &Value| e["action_id"] == "approve";
    let deadline = std::time::Instant::now() + LIMIT;
    let message = loop {
        let v = get("/_emulator/messages").await.map_err(|e| t.fail(e))?;
        let found = v["messages"].as_array().into_iter().flatten().find(|m| {
            m["channel"] == "DU0ALICE"
                && m["text"].as_str().is_some_and(|x| x.contains(&id))
                && m["blocks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|b| b["elements"].as_array().into_iter().flatten())
                    .any(is_button)
        });
        if let Some(m) = found {
            break m.clone();
        }
        if std::time::Instant::now() >= deadline {
            return Err(t.fail(format!(
                "no direct message with buttons to alice about {id} within {LIMIT:?}"
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    let (channel, ts) = (str_of(&message, "channel"), str_of(&message, "ts"));
    t.say(format!(
        "notify's message {ts} in {channel}: {}",
        str_of(&message, "text").lines().next().unwrap_or_default()
    ))?;
    let clicked_at = std::time::Instant::now();
    let r = http
        .post(format!("{slack}/_emulator/interactions"))
        .json(&json!({
            "url": format!("{}/slack/interactions", t.stack.api_url),
            "user": "U0ALICE",
            "action": "approve",
            "channel": channel,
            "ts": ts,
        }))
        .send()
        .await
        .map_err(|e| t.fail(format!("Slack emulator: {e}")))?;
    let answer: Value = r.json().await.unwrap_or(Value::Null);
    t.say(format!(
        "alice clicks approve: POST /slack/interactions (signed by the emulator) -> {} in {} ms",
        answer["status"],
        clicked_at.elapsed().as_millis()
    ))?;
    if answer["status"] != 200 {
        return Err(t.fail(format!("Slack's request was not accepted: {answer}")));
    }
    // Decided from the queue: the request is active and Slack got the outcome.
    let token = t
        .tokens
        .get(DEV.login)
        .cloned()
        .ok_or_else(|| t.fail("dev has not logged in"))?;
    let deadline = clicked_at + LIMIT;
    let (request, response) = loop {
        let request: Value = http
            .get(format!("{}/requests/{id}", t.stack.api_url))
            .bearer_auth(&token)
            .send()
            .await
            .map_err(|e| t.fail(format!("HTTP API: {e}")))?
            .json()
            .await
            .unwrap_or(Value::Null);
        let responses = get("/_emulator/responses").await.map_err(|e| t.fail(e))?;
        let response = responses["responses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["channel"] == channel && r["ts"] == ts)
            .cloned();
        match response {
            Some(response) if request["status"] == "active" => break (request, response),
            _ if std::time::Instant::now() >= deadline => {
                return Err(t.fail(format!(
                    "the click was not decided within {LIMIT:?}: request {}, Slack responses {responses}",
                    request["status"]
                )));
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    };
    t.say(format!(
        "decided from the queue in {} ms: request {id} is {}",
        clicked_at.elapsed().as_millis(),
        str_of(&request, "status")
    ))?;
    // The glue records the delivery once the invocation has returned.
    if let Some(log) = t.stack.glue.as_ref().map(|g| g.log.clone()) {
        let fired = log
            .wait_for(std::time::Duration::from_secs(5), |f| {
                matches!(f.trigger, crate::glue::Trigger::Queue { .. })
            })
            .await;
        if let Some(f) = fired {
            t.say(format!("glue: {f}"))?;
        }
    }
    t.say(format!(
        "Slack's response_url got: {}",
        response["body"]["text"]
            .as_str()
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or_default()
    ))?;
    t.step("dev revokes the grant approved from Slack")?;
    t.decide(DEV, &id, "revoke", "checked from Slack", "revoked")
        .await?;
    Ok(())
}

/// What the notify function told people along the way: it is fed by the glue's poller of the
/// table's stream, as the template's event source mapping feeds it on AWS.
async fn notifications<W: Write>(t: &mut Teller<'_, W>) -> Result<(), StoryError> {
    t.section("Notifications: Slack messages and emails sent from the table's stream")?;
    slack_click(t).await?;
    t.step("the Slack messages (from the Slack emulator) and the emails (from moto's SES)")?;
    let Some(slack) = t.stack.slack.as_ref() else {
        return Err(t.fail("the stack has no Slack emulator"));
    };
    // The poller runs every half second; the last changes may still be on their way.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let (messages, emails) = loop {
        let m = crate::notify::slack_messages(&t.stack.http, slack)
            .await
            .map_err(|e| t.fail(e))?;
        let e = crate::notify::emails(&t.stack.http, &t.stack.ses_endpoint)
            .await
            .map_err(|e| t.fail(e))?;
        if (m.iter().any(|l| l.contains("credentials are ready")) && !e.is_empty())
            || std::time::Instant::now() >= deadline
        {
            break (m, e);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    if messages.is_empty() || emails.is_empty() {
        return Err(t.fail(format!(
            "expected Slack messages and emails; got {} and {}",
            messages.len(),
            emails.len()
        )));
    }
    for line in messages.iter().chain(&emails) {
        t.say(line)?;
    }
    Ok(())
}
