//! Notifications and Slack approvals end to end: a request's changes read from the table's
//! real stream (moto), the notify handler delivering them to the Slack emulator, moto's SES and
//! a webhook receiver, and the provision function's Slack route behind a local HTTP front that
//! the emulator clicks through, signed as Slack signs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use fixtures::flows::{self, discover_app, register};
use fixtures::{CAROL, DEV, Env, MALLORY, es_seed, event, response};
use hmac::{Hmac, Mac};
use notify::channels::{Email, Slack, Webhooks};
use notify::{App, NotifyConfig};
use serde_json::{Value, json};
use sha2::Sha256;
use shared::clock::SystemClock;
use shared::slack::SlackClient;
use shared::slack::interactions::InteractionConfig;
use slack_emulator::{RunningSlack, SlackConfig, User};

const SIGNING_SECRET: &str = "slack-signing-secret-for-tests";
const BOT_TOKEN: &str = "xoxb-test-bot-token";
const HMAC_KEY: &str = "webhook-hmac-key";
const PUBLIC_URL: &str = "https://jit.example.com";

/// The webhook receiver: every request's signature header and body.
type Hooks = Arc<Mutex<Vec<(String, String)>>>;

struct World {
    env: Env,
    slack: RunningSlack,
    notify: App,
    provision: Arc<provision::App>,
    stream: StreamReader,
    clicks: ClickQueueReader,
    hooks: Hooks,
    front: String,
    http: reqwest::Client,
    from: String,
    endpoint: String,
}

fn slack_config() -> SlackConfig {
    let user = |id: &str, email: &str| User {
        id: id.into(),
        email: email.into(),
        deleted: false,
        is_bot: false,
        team_id: None,
    };
    SlackConfig {
        bot_token: BOT_TOKEN.into(),
        signing_secret: SIGNING_SECRET.into(),
        team_id: "T0JIT".into(),
        users: vec![
            user("U0CAROL", CAROL.email),
            user("U0DEV", DEV.email),
            user("U0MALLORY", MALLORY.email),
            // Carol's address, claimed by a member of another organization in a shared channel.
            User {
                team_id: Some("T0ELSEWHERE".into()),
                ..user("W0EXTERNAL", CAROL.email)
            },
        ],
        channels: vec!["C0APPROVALS".into()],
    }
}

fn slack_client(s: &RunningSlack) -> SlackClient {
    let mut c =
        SlackClient::with_default_http(&s.api_url(), BOT_TOKEN.to_string().into()).expect("client");
    c.max_wait = Duration::from_secs(2);
    c.retries = 2;
    c
}

/// Serve `POST /slack/interactions` as API Gateway would: the raw body and headers in a
/// payload 2.0 event (no authorizer) to the provision function.
async fn front(
    State(app): State<Arc<provision::App>>,
    headers: HeaderMap,
    body: Bytes,
) -> (axum::http::StatusCode, String) {
    let mut ev = event("provision/slack-interaction.json");
    for h in ["x-slack-request-timestamp", "x-slack-signature"] {
        match headers.get(h).and_then(|v| v.to_str().ok()) {
            Some(v) => ev["headers"][h] = json!(v),
            None => {
                if let Some(m) = ev["headers"].as_object_mut() {
                    m.remove(h);
                }
            }
        }
    }
    ev["body"] = json!(String::from_utf8_lossy(&body));
    let out = app.handle(ev).await.expect("handler");
    let status = out["statusCode"].as_u64().unwrap_or(500) as u16;
    (
        axum::http::StatusCode::from_u16(status).expect("status"),
        out["body"].as_str().unwrap_or_default().to_string(),
    )
}

async fn hook(State(hooks): State<Hooks>, headers: HeaderMap, body: Bytes) -> &'static str {
    let sig = headers
        .get("x-elasticjit-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    hooks
        .lock()
        .unwrap()
        .push((sig, String::from_utf8_lossy(&body).into_owned()));
    "ok"
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// Reads the table's stream from its start, as an event source mapping does.
struct StreamReader {
    http: reqwest::Client,
    endpoint: String,
    arn: String,
    iterators: HashMap<String, Option<String>>,
}

impl StreamReader {
    async fn call(&self, target: &str, body: Value) -> Value {
        let r = self
            .http
            .post(&self.endpoint)
            .header("X-Amz-Target", format!("DynamoDBStreams_20120810.{target}"))
            .header("Content-Type", "application/x-amz-json-1.0")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20261123/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .await
            .expect("stream call");
        r.json().await.expect("stream JSON")
    }

    /// Every record written since the last read, as the `{"Records": [...]}` Lambda delivers.
    async fn next(&mut self) -> Value {
        let desc = self
            .call("DescribeStream", json!({"StreamArn": self.arn}))
            .await;
        let shards: Vec<String> = desc["StreamDescription"]["Shards"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["ShardId"].as_str().map(str::to_string))
            .collect();
        let mut records = vec![];
        for shard in shards {
            if !self.iterators.contains_key(&shard) {
                let it = self
                    .call(
                        "GetShardIterator",
                        json!({"StreamArn": self.arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
                    )
                    .await;
                self.iterators.insert(
                    shard.clone(),
                    it["ShardIterator"].as_str().map(str::to_string),
                );
            }
            let Some(Some(it)) = self.iterators.get(&shard).cloned() else {
                continue;
            };
            let got = self
                .call("GetRecords", json!({"ShardIterator": it, "Limit": 1000}))
                .await;
            for mut r in got["Records"].as_array().cloned().unwrap_or_default() {
                r["eventSourceARN"] = json!(self.arn);
                records.push(r);
            }
            self.iterators
                .insert(shard, got["NextShardIterator"].as_str().map(str::to_string));
        }
        json!({ "Records": records })
    }
}

/// The Slack click queue in moto, read as Lambda's SQS event source mapping reads it.
struct ClickQueueReader {
    sqs: aws_sdk_sqs::Client,
    url: String,
    arn: String,
}

impl ClickQueueReader {
    async fn create(sqs: aws_sdk_sqs::Client) -> Self {
        let url = sqs
            .create_queue()
            .queue_name(test_harness::unique_name("slack-clicks"))
            .send()
            .await
            .expect("queue")
            .queue_url
            .expect("queue url");
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .expect("queue arn");
        Self { sqs, url, arn }
    }

    /// What the queue holds now, as the `{"Records": [...]}` an SQS event source delivers
    /// (None when empty), and the messages' receipt handles by id.
    async fn batch(&self) -> Option<(Value, HashMap<String, String>)> {
        let got = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive");
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            return None;
        }
        let mut handles = HashMap::new();
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let id = m.message_id.clone().unwrap_or_default();
                handles.insert(id.clone(), m.receipt_handle.clone().unwrap_or_default());
                let attributes: HashMap<String, String> = m
                    .attributes
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k.as_str().to_string(), v))
                    .collect();
                json!({
                    "messageId": id,
                    "receiptHandle": m.receipt_handle,
                    "body": m.body,
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body,
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.arn,
                    "awsRegion": "us-east-1",
                })
            })
            .collect();
        Some((json!({ "Records": records }), handles))
    }

    /// After the function's answer: delete what succeeded; what it reported as failed comes
    /// back at once (the visibility timeout cut short, so tests need not wait for it).
    async fn settle(&self, handles: &HashMap<String, String>, out: &Value) {
        let failed: Vec<&str> = out["batchItemFailures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["itemIdentifier"].as_str())
            .collect();
        for (id, handle) in handles {
            if failed.contains(&id.as_str()) {
                self.sqs
                    .change_message_visibility()
                    .queue_url(&self.url)
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .send()
                    .await
                    .expect("release");
            } else {
                self.sqs
                    .delete_message()
                    .queue_url(&self.url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("delete");
            }
        }
    }

    /// Put a message on the queue as someone with `sqs:SendMessage` could.
    async fn send(&self, body: &str) {
        self.sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .expect("send");
    }
}

async fn start() -> World {
    start_trusting(true).await
}

/// `trust`: the stack setting that lets a Slack profile email identify a person.
async fn start_trusting(trust: bool) -> World {
    start_world(trust, None, json!([{"type": "user", "value": CAROL.email}])).await
}

/// A world whose flow is approved by `approvers`, with Slack emails trusted or not and group
/// proofs counted for `groups_for`.
async fn start_world(trust: bool, groups_for: Option<chrono::Duration>, approvers: Value) -> World {
    let env = Env::start(es_seed()).await;
    let endpoint = test_harness::aws_endpoint();
    let aws = test_harness::aws_config().await;
    let table = env.store.table().to_string();
    env.dynamodb
        .update_table()
        .table_name(&table)
        .stream_specification(
            aws_sdk_dynamodb::types::StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("stream");
    let arn = env
        .dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .table
        .and_then(|t| t.latest_stream_arn)
        .expect("stream arn");
    let slack = RunningSlack::start(slack_config(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("slack emulator");
    let hooks: Hooks = Arc::default();
    let hook_url = serve(
        axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(hooks.clone()),
    )
    .await;
    let ses = aws_sdk_sesv2::Client::new(&aws);
    let from = format!("{}@example.com", test_harness::unique_name("jit"));
    ses.create_email_identity()
        .email_identity(&from)
        .send()
        .await
        .expect("SES identity");

    // The flow: carol approves by email; the approvals channel, a team list and a SIEM webhook
    // hear everything.
    let d = discover_app(&env);
    register(&env, &d, json!({})).await;
    let hook_secret = env.secret(json!({"hmac_key": HMAC_KEY})).await;
    let mut spec = flows::flow_spec("logs-read");
    spec["approvers"] = approvers;
    spec["notifications"] = json!({
        "slack_channel": "C0APPROVALS",
        "emails": ["team@example.com"],
        "webhooks": [{"url": format!("{hook_url}/hook"), "secret_arn": hook_secret}]
    });
    let (s, b) = flows::put_flow(&d, "logs-read", spec).await;
    assert_eq!(s, 201, "{b}");

    // Real time: Slack signs with the wall clock, and the route checks against its clock.
    let mut services = flows::services(&env);
    services.clock = Arc::new(SystemClock);
    let clicks = ClickQueueReader::create(aws_sdk_sqs::Client::new(&aws)).await;
    let provision = Arc::new(provision::App {
        services,
        auth: flows::auth(),
        slack: Some(provision::slack::SlackInteractions::new(
            slack_client(&slack),
            InteractionConfig {
                signing_secret: SIGNING_SECRET.to_string().into(),
                trust_slack_email: trust,
                public_url: PUBLIC_URL.into(),
                team_id: Some("T0JIT".into()),
                trust_groups_for: groups_for,
            },
            Arc::new(provision::slack::clicks::SqsClickQueue::new(
                aws_sdk_sqs::Client::new(&aws),
                clicks.url.clone(),
            )),
        )),
        start_target: provision::start::StartTarget::default(),
    });
    let front_url = serve(
        axum::Router::new()
            .route("/slack/interactions", axum::routing::post(front))
            .with_state(provision.clone()),
    )
    .await;
    let notify = App {
        store: env.store.clone(),
        clock: Arc::new(SystemClock),
        slack: Some(Slack {
            client: slack_client(&slack),
        }),
        email: Some(Email {
            client: ses,
            from: from.clone(),
        }),
        webhooks: Webhooks {
            secrets: env.secrets.clone(),
            allow_loopback: true,
            timeout: Duration::from_secs(5),
        },
        cfg: NotifyConfig {
            public_url: PUBLIC_URL.into(),
            ops_slack_channel: None,
            ops_emails: vec![],
            slack_buttons: true,
            lease: chrono::Duration::minutes(2),
        },
    };
    let http = reqwest::Client::new();
    World {
        stream: StreamReader {
            http: http.clone(),
            endpoint: endpoint.clone(),
            arn,
            iterators: HashMap::new(),
        },
        clicks,
        env,
        slack,
        notify,
        provision,
        hooks,
        front: format!("{front_url}/slack/interactions"),
        http,
        from,
        endpoint,
    }
}

impl World {
    async fn ask(&self) -> String {
        let (s, r) = flows::ask(
            &self.provision,
            DEV,
            json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read",
                   "duration": "1h", "justification": "INC-4711 login errors", "flow": "logs-read"}),
        )
        .await;
        assert_eq!((s, r["status"].as_str()), (201, Some("pending")), "{r}");
        r["id"].as_str().unwrap().to_string()
    }

    /// One of the Slack emulator's logs (`messages`, `responses`), oldest first.
    async fn emulator_log(&self, log: &str) -> Vec<Value> {
        let v: Value = self
            .http
            .get(format!("{}/_emulator/{log}", self.slack.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v[log].as_array().cloned().unwrap_or_default()
    }

    async fn messages(&self) -> Vec<Value> {
        self.emulator_log("messages").await
    }

    /// The bodies posted to interactions' `response_url`s, in order.
    async fn responses(&self) -> Vec<Value> {
        self.emulator_log("responses")
            .await
            .into_iter()
            .map(|r| r["body"].clone())
            .collect()
    }

    /// What those bodies said, in order.
    async fn said(&self) -> Vec<String> {
        self.responses()
            .await
            .iter()
            .map(|b| b["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    async fn emails(&self) -> Vec<Value> {
        let v: Value = self
            .http
            .get(format!("{}/moto-api/data.json", self.endpoint))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["ses"]["Message"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["source"] == json!(self.from))
            .cloned()
            .collect()
    }

    async fn fault(&self, f: Value) {
        let r = self
            .http
            .post(format!("{}/_emulator/faults", self.slack.url()))
            .json(&f)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    /// Click a button as `user`, signed as Slack signs it `age_secs` ago; the route's answer.
    /// The click is then decided from the queue, as the function's SQS event source would.
    async fn click(&self, user: &str, action: &str, msg: &Value, age_secs: i64) -> Value {
        let answer = self.click_only(user, action, msg, age_secs).await;
        self.decide_queued().await;
        answer
    }

    /// Deliver the queued clicks to the provision function until none is left (at most a few
    /// rounds: a click reported as failed comes back); its answers.
    async fn decide_queued(&self) -> Vec<Value> {
        let mut answers = vec![];
        for _ in 0..5 {
            let Some((batch, handles)) = self.clicks.batch().await else {
                break;
            };
            let out = self.provision.handle(batch).await.expect("provision");
            self.clicks.settle(&handles, &out).await;
            answers.push(out);
        }
        answers
    }

    /// Click without deciding: only the route runs.
    async fn click_only(&self, user: &str, action: &str, msg: &Value, age_secs: i64) -> Value {
        self.http
            .post(format!("{}/_emulator/interactions", self.slack.url()))
            .json(&json!({"url": self.front, "user": user, "action": action,
                          "channel": msg["channel"], "ts": msg["ts"], "age_secs": age_secs}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn status(&self, id: &str) -> String {
        use shared::store::RequestStore;
        let r = self.env.store.get_request(id).await.unwrap().unwrap();
        r.status.as_str().to_string()
    }

    /// Deliver what the stream holds now; the handler's answer.
    async fn deliver(&mut self) -> (Value, Value) {
        let batch = self.stream.next().await;
        let out = self.notify.handle(batch.clone()).await.expect("notify");
        (batch, out)
    }
}

fn texts_to(messages: &[Value], channel: &str) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["channel"] == json!(channel))
        .map(|m| m["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn failures(out: &Value) -> usize {
    out["batchItemFailures"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_request_reaches_each_channel_once_and_its_approver_approves_from_slack() {
    let mut w = start().await;
    let id = w.ask().await;
    let (batch, out) = w.deliver().await;
    assert_eq!(failures(&out), 0, "{out}");

    // Carol (named by email) gets a direct message with buttons and why she is asked; the
    // approvals channel gets the request; the requester hears nothing yet.
    let msgs = w.messages().await;
    let dm = texts_to(&msgs, "DU0CAROL");
    assert_eq!(dm.len(), 1, "{msgs:?}");
    for part in [
        DEV.email,
        "read",
        "logs-2026.11",
        "1h",
        "INC-4711",
        "You are asked as: flow approvers",
        // What the grant allows, in the words `GET /requests/{id}` uses.
        "It allows: index privileges read, view_index_metadata on 1 index or data stream: logs-2026.11; no cluster privileges.",
        &format!("{PUBLIC_URL}/portal/#/requests/{id}"),
    ] {
        assert!(dm[0].contains(part), "{part:?} missing from {}", dm[0]);
    }
    assert_eq!(texts_to(&msgs, "C0APPROVALS").len(), 1);
    assert!(texts_to(&msgs, "DU0DEV").is_empty());
    let carol_dm = msgs
        .iter()
        .find(|m| m["channel"] == json!("DU0CAROL"))
        .unwrap()
        .clone();
    let buttons: Vec<&str> = carol_dm["blocks"][1]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action_id"].as_str())
        .collect();
    assert_eq!(buttons, ["approve", "reject", "open"]);

    // Email to carol and the team list, read back from moto's SES.
    let emails = w.emails().await;
    let to: Vec<String> = emails
        .iter()
        .map(|m| {
            m["destinations"]["ToAddresses"][0]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(to.len(), 2, "{emails:?}");
    assert!(to.contains(&CAROL.email.to_string()) && to.contains(&"team@example.com".to_string()));
    assert!(
        emails[0]["subject"]
            .as_str()
            .unwrap()
            .contains("waiting for approval")
    );

    // The webhook: signed as the README says a receiver verifies it.
    let hooks = w.hooks.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1);
    let (sig, body) = &hooks[0];
    let (t, v1) = sig.split_once(",v1=").unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(HMAC_KEY.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    mac.verify_slice(&hex::decode(v1).unwrap())
        .expect("valid webhook signature");
    let hook: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        (hook["type"].as_str(), hook["request"]["id"].as_str()),
        (Some("request.created"), Some(id.as_str()))
    );

    // The same batch again (Lambda retries whole batches): nobody hears it twice.
    let again = w.notify.handle(batch).await.unwrap();
    assert_eq!(failures(&again), 0);
    assert_eq!(w.messages().await.len(), msgs.len());
    assert_eq!(w.emails().await.len(), 2);
    assert_eq!(w.hooks.lock().unwrap().len(), 1);

    // A forged request (wrong secret) and a replayed one (signed ten minutes ago) are refused.
    let form = "payload=%7B%7D";
    let now = chrono::Utc::now().timestamp();
    let forged = w
        .http
        .post(&w.front)
        .header("x-slack-request-timestamp", now.to_string())
        .header(
            "x-slack-signature",
            slack_emulator::sign("not-the-secret", now, form),
        )
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);
    let replayed = w.click("U0CAROL", "approve", &carol_dm, -600).await;
    assert_eq!(replayed["status"], json!(401), "{replayed}");
    assert_eq!(w.status(&id).await, "pending");

    // Mallory (not an approver) clicks the channel's button: refused, told why, nothing changes.
    let channel_msg = msgs
        .iter()
        .find(|m| m["channel"] == json!("C0APPROVALS"))
        .unwrap()
        .clone();
    let r = w.click("U0MALLORY", "approve", &channel_msg, 0).await;
    assert_eq!(r["status"], json!(200), "{r}");
    // Nor a member of another organization (Slack Connect) showing an approver's email.
    let r = w.click("W0EXTERNAL", "approve", &channel_msg, 0).await;
    assert_eq!(r["status"], json!(200), "{r}");
    // The requester cannot approve their own request from Slack either.
    let r = w.click("U0DEV", "approve", &channel_msg, 0).await;
    assert_eq!(r["status"], json!(200), "{r}");
    assert_eq!(w.status(&id).await, "pending");
    let said = w.said().await;
    assert!(said[0].contains("not named as an approver"), "{said:?}");
    assert!(said[1].contains("other Slack organizations"), "{said:?}");
    assert!(said[2].contains("their own request"), "{said:?}");
    assert_eq!(w.responses().await[0]["replace_original"], json!(false));

    // Carol approves from her direct message: approved, provisioned, message replaced in place.
    let r = w.click("U0CAROL", "approve", &carol_dm, 0).await;
    assert_eq!(r["status"], json!(200), "{r}");
    assert_eq!(w.status(&id).await, "active");
    let msgs = w.messages().await;
    let now_reads = texts_to(&msgs, "DU0CAROL");
    assert!(
        now_reads[0].starts_with(&format!("Approved by {}", CAROL.email)),
        "{now_reads:?}"
    );
    let (s, body) = response(
        w.provision
            .handle(fixtures::http(
                event("provision/get-request.json"),
                &format!("/requests/{id}"),
                DEV,
                None,
            ))
            .await
            .unwrap(),
    );
    assert_eq!(s, 200);
    assert_eq!(body["decisions"][0]["by"], json!(CAROL.email), "{body}");

    // A second click is harmless: still active, the message shows where the request stands.
    let r = w.click("U0CAROL", "approve", &carol_dm, 0).await;
    assert_eq!(r["status"], json!(200), "{r}");
    assert_eq!(w.status(&id).await, "active");

    // The next batch: the requester hears of the approval (with who) and the credentials, and
    // the approvals channel's message no longer offers buttons.
    let (_, out) = w.deliver().await;
    assert_eq!(failures(&out), 0, "{out}");
    let channel_now = w
        .messages()
        .await
        .into_iter()
        .find(|m| m["channel"] == json!("C0APPROVALS"))
        .unwrap();
    assert!(
        channel_now["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Approved by {}", CAROL.email)),
        "{channel_now}"
    );
    assert!(
        !channel_now["blocks"].to_string().contains("\"approve\""),
        "{channel_now}"
    );
    let dev = texts_to(&w.messages().await, "DU0DEV");
    assert_eq!(dev.len(), 2, "{dev:?}");
    assert!(
        dev.iter()
            .any(|t| t.contains(&format!("approved by {}", CAROL.email))),
        "{dev:?}"
    );
    assert!(
        dev.iter().any(|t| t.contains("credentials are ready")),
        "{dev:?}"
    );

    // Fifty minutes later the sweep sees the hour-long grant end within 15 minutes: the
    // requester alone hears it, once, and the grant still works.
    let channel_before = texts_to(&w.messages().await, "C0APPROVALS").len();
    let to_team = |emails: Vec<Value>| {
        emails
            .iter()
            .filter(|m| m["destinations"]["ToAddresses"][0] == json!("team@example.com"))
            .count()
    };
    let team_before = to_team(w.emails().await);
    // (The sweep reads the test clock; this world's provision ran on the wall clock.)
    w.env
        .clock
        .set(chrono::Utc::now() + chrono::Duration::minutes(50));
    let c = fixtures::flows::cleanup_app(&w.env);
    let sweep = || async {
        c.handle(
            event("cleanup/schedule.json"),
            std::time::Instant::now() + Duration::from_secs(60),
        )
        .await
        .unwrap()
    };
    let report = sweep().await;
    assert_eq!(report["expiry_warnings"], 1, "{report}");
    assert_eq!(w.status(&id).await, "active");
    let (_, out) = w.deliver().await;
    assert_eq!(failures(&out), 0, "{out}");
    let dev = texts_to(&w.messages().await, "DU0DEV");
    let warned: Vec<&String> = dev.iter().filter(|t| t.contains("ends soon")).collect();
    assert_eq!(warned.len(), 1, "{dev:?}");
    assert!(warned[0].contains("logs-2026.11"), "{warned:?}");
    assert_eq!(
        texts_to(&w.messages().await, "C0APPROVALS").len(),
        channel_before,
        "the channel does not hear it"
    );
    assert_eq!(to_team(w.emails().await), team_before, "nor the team list");
    // The next sweep does not warn again, and a replayed record sends nothing twice.
    assert_eq!(sweep().await["expiry_warnings"], 0);
    let (_, out) = w.deliver().await;
    assert_eq!(failures(&out), 0, "{out}");
    let dev_after = texts_to(&w.messages().await, "DU0DEV");
    assert_eq!(dev_after.len(), dev.len(), "{dev_after:?}");
}

/// Carol's direct message about the world's first request.
async fn carol_dm(w: &World) -> Value {
    w.messages()
        .await
        .into_iter()
        .find(|m| m["channel"] == json!("DU0CAROL"))
        .expect("carol's message")
}

#[tokio::test]
async fn a_click_is_answered_before_a_slow_provision_and_a_redelivered_click_decides_once() {
    let mut w = start().await;
    let id = w.ask().await;
    let (_, out) = w.deliver().await;
    assert_eq!(failures(&out), 0, "{out}");
    let dm = carol_dm(&w).await;

    // The cluster answers the grant's first security call after 5 s: provisioning inside the
    // click would outlast the three seconds Slack waits.
    w.env.es_latency("*", "/_security/*", 1, 5000).await;
    let started = std::time::Instant::now();
    let r = w.click_only("U0CAROL", "approve", &dm, 0).await;
    let answered = started.elapsed();
    assert_eq!(r["status"], json!(200), "{r}");
    assert!(
        answered < Duration::from_secs(5),
        "the route waited for the decision: {answered:?}"
    );
    assert_eq!(
        w.status(&id).await,
        "pending",
        "decided only from the queue"
    );
    assert!(w.said().await.is_empty());

    // The queue hands the click out twice (SQS delivers at least once): one decision and one
    // approval event; the message shows the outcome both times.
    let (batch, handles) = w.clicks.batch().await.expect("the click is queued");
    let deciding = std::time::Instant::now();
    let first = w.provision.handle(batch.clone()).await.unwrap();
    assert!(
        deciding.elapsed() >= Duration::from_secs(5),
        "the slow cluster was in the decision's path"
    );
    assert_eq!(failures(&first), 0, "{first}");
    assert_eq!(w.status(&id).await, "active");
    let again = w.provision.handle(batch).await.unwrap();
    assert_eq!(failures(&again), 0, "{again}");
    w.clicks.settle(&handles, &again).await;
    assert!(w.clicks.batch().await.is_none(), "nothing left queued");
    let said = w.said().await;
    assert_eq!(said.len(), 2, "{said:?}");
    for t in &said {
        assert!(
            t.starts_with(&format!("Approved by {}", CAROL.email)),
            "{said:?}"
        );
    }
    use shared::store::{AuditStore, RequestStore};
    let r = w.env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(r.decisions.len(), 1, "{:?}", r.decisions);
    let approvals = w
        .env
        .store
        .audit_of(&shared::model::AuditSubject::Request(id.clone()), 50, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.action == "request.approved")
        .count();
    assert_eq!(approvals, 1);
}

#[tokio::test]
async fn a_forged_or_stale_queued_click_decides_nothing_and_slack_failures_are_retried() {
    let mut w = start().await;
    let id = w.ask().await;
    let (_, out) = w.deliver().await;
    assert_eq!(failures(&out), 0, "{out}");
    let dm = carol_dm(&w).await;
    let now = chrono::Utc::now().timestamp();

    // Someone allowed to send to the queue, but without Slack's signing secret, forges Carol's
    // approval; a click sealed 31 minutes ago (past its response_url) and junk arrive too.
    // Each is dropped: nothing decided, nothing sent again.
    let click = |at: i64| {
        json!({"user": "U0CAROL", "team": "T0JIT", "kind": "approve", "request_id": id,
               "response_url": null, "clicked_at": at})
        .to_string()
    };
    let forged = click(now);
    w.clicks
        .send(&json!({"click": forged, "seal": shared::slack::signature::seal(b"a guess", forged.as_bytes())}).to_string())
        .await;
    let stale = click(now - 31 * 60);
    w.clicks
        .send(&json!({"click": stale, "seal": shared::slack::signature::seal(SIGNING_SECRET.as_bytes(), stale.as_bytes())}).to_string())
        .await;
    w.clicks.send("not a click").await;
    let answers = w.decide_queued().await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(
        failures(&answers[0]),
        0,
        "dropped, not retried: {answers:?}"
    );
    assert_eq!(w.status(&id).await, "pending");

    // Slack cannot say who clicked (users.info down): the click comes back twice, and on its
    // last delivery the member is told to try again; nothing is decided.
    w.fault(json!({"method": "users.info", "count": 1000, "status": 503}))
        .await;
    let r = w.click_only("U0CAROL", "approve", &dm, 0).await;
    assert_eq!(r["status"], json!(200), "{r}");
    let answers = w.decide_queued().await;
    let failed: Vec<usize> = answers.iter().map(failures).collect();
    assert_eq!(failed, vec![1, 1, 0], "{answers:?}");
    assert_eq!(w.status(&id).await, "pending");
    let said = w.said().await;
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("could not tell who you are"), "{said:?}");

    // Slack is back and Carol clicks again: approved once.
    w.http
        .delete(format!("{}/_emulator/faults", w.slack.url()))
        .send()
        .await
        .unwrap();
    w.click("U0CAROL", "approve", &dm, 0).await;
    assert_eq!(w.status(&id).await, "active");
    let said = w.said().await;
    assert!(
        said[1].starts_with(&format!("Approved by {}", CAROL.email)),
        "{said:?}"
    );

    // The queue gone: the route says so (Slack shows the member the app failed), rather than
    // answering as if the click were taken.
    w.clicks
        .sqs
        .delete_queue()
        .queue_url(&w.clicks.url)
        .send()
        .await
        .unwrap();
    let r = w.click_only("U0CAROL", "reject", &dm, 0).await;
    assert_eq!(r["status"], json!(503), "{r}");
    assert!(
        r["body"].as_str().unwrap().contains("click_not_queued"),
        "{r}"
    );
}

#[tokio::test]
async fn a_slack_outage_or_429_is_retried_and_never_blocks_an_approval() {
    let mut w = start().await;
    // Rate limited once: the client waits Retry-After and the message goes out once.
    w.fault(json!({"method": "chat.postMessage", "count": 1, "status": 429, "retry_after": 1}))
        .await;
    let first = w.ask().await;
    let (_, out) = w.deliver().await;
    assert_eq!(failures(&out), 0, "{out}");
    assert_eq!(texts_to(&w.messages().await, "DU0CAROL").len(), 1);

    // Slack down: the batch fails (the event source mapping retries it), the approval through
    // the API goes through regardless, and once Slack is back each message goes out once.
    w.fault(json!({"method": "*", "count": 1000, "status": 503}))
        .await;
    let second = w.ask().await;
    let (batch, out) = w.deliver().await;
    assert_eq!(failures(&out), 1, "{out}");
    let (s, r) = flows::approve(&w.provision, CAROL, &second).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("active")), "{r}");
    assert_eq!(w.status(&first).await, "pending");
    w.http
        .delete(format!("{}/_emulator/faults", w.slack.url()))
        .send()
        .await
        .unwrap();
    let retried = w.notify.handle(batch).await.unwrap();
    assert_eq!(failures(&retried), 0, "{retried}");
    let (_, out) = w.deliver().await;
    assert_eq!(failures(&out), 0, "{out}");
    let msgs = w.messages().await;
    assert_eq!(
        texts_to(&msgs, "DU0CAROL").len(),
        2,
        "one per request: {msgs:?}"
    );
    assert_eq!(
        texts_to(&msgs, "C0APPROVALS").len(),
        2 + 2,
        "created x2, approved, active"
    );
}

#[tokio::test]
async fn notification_targets_are_checked_on_save_and_hidden_from_requesters() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    register(&env, &d, json!({})).await;
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:elastic-jit/notify/siem-AbCdEf";
    // An administrator's typo or a hostile admin: webhooks to the metadata service, a private
    // address or plain http elsewhere are refused, each named.
    for (url, why) in [
        ("http://169.254.169.254/latest/meta-data/iam/", "metadata"),
        ("https://10.1.2.3/hook", "private"),
        ("http://hooks.example.com/hook", "cleartext"),
        ("https://user:pw@hooks.example.com/", "credentials"),
    ] {
        let mut spec = flows::flow_spec("logs-read");
        spec["notifications"] = json!({"webhooks": [{"url": url, "secret_arn": arn}]});
        let (s, b) = flows::put_flow(&d, "logs-read", spec).await;
        assert_eq!(s, 400, "{why}: {b}");
        assert!(b.to_string().contains("invalid_webhook_url"), "{why}: {b}");
    }
    let mut spec = flows::flow_spec("logs-read");
    spec["notifications"] = json!({"slack_channel": "#jit", "emails": ["team@example.com"],
                                   "webhooks": [{"url": "https://hooks.example.com/jit", "secret_arn": arn}]});
    let (s, b) = flows::put_flow(&d, "logs-read", spec).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["notifications"]["slack_channel"], json!("#jit"));
    // A requester reads the flow without where its notifications go.
    let (s, b) = response(
        d.handle(fixtures::http(
            event("discover/get-flow.json"),
            "/flows/logs-read",
            DEV,
            None,
        ))
        .await
        .unwrap(),
    );
    assert_eq!(s, 200, "{b}");
    assert!(b.get("notifications").is_none(), "{b}");
}

#[tokio::test]
async fn without_the_trusted_email_setting_a_button_only_leads_to_the_portal() {
    let mut w = start_trusting(false).await;
    let id = w.ask().await;
    let (_, out) = w.deliver().await;
    assert_eq!(failures(&out), 0, "{out}");
    let dm = w
        .messages()
        .await
        .into_iter()
        .find(|m| m["channel"] == json!("DU0CAROL"))
        .unwrap();
    let r = w.click_only("U0CAROL", "approve", &dm, 0).await;
    assert_eq!(r["status"], json!(200), "{r}");
    // Refused by the route itself: nothing is queued for a click no one could make count.
    assert!(w.clicks.batch().await.is_none(), "nothing queued");
    assert_eq!(
        w.status(&id).await,
        "pending",
        "no decision from an unverified identity"
    );
    let said = w.said().await.first().cloned().unwrap_or_default();
    assert!(
        said.contains("turned off") && said.contains(&format!("/portal/#/requests/{id}")),
        "{said}"
    );
}

/// With `SLACK_TRUST_GROUPS_FOR`, a member who approves through a group decides from Slack once
/// their IdP login (a call to the API with their token) proved the group within the window; a
/// stale proof, another person's group or their own request does not count.
#[tokio::test]
async fn a_group_approver_decides_from_slack_after_a_recent_login() {
    let mut w = start_world(
        true,
        Some(chrono::Duration::hours(8)),
        json!([{"type": "group", "value": "leads"}]),
    )
    .await;
    let id = w.ask().await;
    let (_, out) = w.deliver().await;
    assert_eq!(failures(&out), 0, "{out}");
    let msg = w
        .messages()
        .await
        .into_iter()
        .find(|m| m["channel"] == json!("C0APPROVALS"))
        .expect("the approvals channel's message");
    // A call to the API as `who` with a token issued `ago` (its `iat`).
    let log_in = |who: fixtures::Person, ago: chrono::Duration| {
        let mut ev = fixtures::http(event("provision/get-requests.json"), "/requests", who, None);
        let iat = (chrono::Utc::now() - ago).timestamp();
        let claims = &mut ev["requestContext"]["authorizer"]["jwt"]["claims"];
        claims["iat"] = json!(iat.to_string());
        claims["exp"] = json!((iat + 3600).to_string());
        fixtures::with_token(&mut ev);
        ev
    };

    // No login yet: Carol's Slack identity has no groups.
    let r = w.click("U0CAROL", "approve", &msg, 0).await;
    assert_eq!(r["status"], json!(200), "{r}");
    assert_eq!(w.status(&id).await, "pending");
    let said = w.said().await.last().cloned().unwrap_or_default();
    assert!(said.contains("Sign in to the portal"), "{said}");

    // A login nine hours ago is older than the window.
    let (s, _) = response(
        w.provision
            .handle(log_in(CAROL, chrono::Duration::hours(9)))
            .await
            .unwrap(),
    );
    assert_eq!(s, 200);
    w.click("U0CAROL", "approve", &msg, 0).await;
    assert_eq!(
        w.status(&id).await,
        "pending",
        "a stale proof does not count"
    );

    // A second identity whose token claims Mallory's email, unverified, and the leads group:
    // an unverified email names nobody, so nothing is kept for Mallory's Slack account.
    let eve = fixtures::Person {
        sub: "7e7e7e7e-eve",
        email: MALLORY.email,
        groups: "leads",
    };
    let mut ev = log_in(eve, chrono::Duration::minutes(1));
    ev["requestContext"]["authorizer"]["jwt"]["claims"]["email_verified"] = json!("false");
    fixtures::with_token(&mut ev);
    let (s, _) = response(w.provision.handle(ev).await.unwrap());
    assert_eq!(s, 200);
    w.click("U0MALLORY", "approve", &msg, 0).await;
    assert_eq!(
        w.status(&id).await,
        "pending",
        "an unverified email proves nothing"
    );

    // Mallory logs in (developers, not leads): her groups do not make her an approver.
    let (s, _) = response(
        w.provision
            .handle(log_in(MALLORY, chrono::Duration::minutes(1)))
            .await
            .unwrap(),
    );
    assert_eq!(s, 200);
    w.click("U0MALLORY", "approve", &msg, 0).await;
    assert_eq!(w.status(&id).await, "pending");

    // Carol logs in now: the group counts, and the click approves as her IdP identity.
    let (s, _) = response(
        w.provision
            .handle(log_in(CAROL, chrono::Duration::minutes(1)))
            .await
            .unwrap(),
    );
    assert_eq!(s, 200);
    let r = w.click("U0CAROL", "approve", &msg, 0).await;
    assert_eq!(r["status"], json!(200), "{r}");
    assert_eq!(w.status(&id).await, "active");
    use shared::store::RequestStore;
    let stored = w.env.store.get_request(&id).await.unwrap().unwrap();
    let by = &stored.decisions.last().unwrap().by;
    assert!(by.contains(CAROL.email), "{by}");
}

/// A request with a start ahead: approved, the requester is told when access starts (and
/// nothing is granted yet). Another is cancelled by its requester: the approver is told the
/// decision is no longer needed, and the message that asked her loses its buttons.
#[tokio::test]
async fn a_scheduled_start_tells_the_requester_when_and_a_cancel_tells_the_approvers() {
    let mut w = start().await;
    let start = chrono::Utc::now() + chrono::Duration::hours(2);
    let (s, r) = flows::ask(
        &w.provision,
        DEV,
        json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read",
               "duration": "1h", "justification": "INC-4712 planned upgrade", "flow": "logs-read",
               "starts_at": start.to_rfc3339()}),
    )
    .await;
    assert_eq!((s, r["status"].as_str()), (201, Some("pending")), "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    let (_, out) = w.deliver().await;
    assert_eq!(failures(&out), 0, "{out}");
    let asked = texts_to(&w.messages().await, "DU0CAROL");
    let when = start.format("%Y-%m-%d %H:%M").to_string();
    assert!(asked[0].contains(&format!("from {when} UTC")), "{asked:?}");

    let (s, r) = flows::approve(&w.provision, CAROL, &id).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("scheduled")), "{r}");
    let (_, out) = w.deliver().await;
    assert_eq!(failures(&out), 0, "{out}");
    let dev = texts_to(&w.messages().await, "DU0DEV");
    assert_eq!(dev.len(), 1, "{dev:?}");
    assert!(
        dev[0].contains(&format!("access starts at {when} UTC")) && dev[0].contains("cancel"),
        "{dev:?}"
    );
    assert!(!dev[0].contains("Read your credentials"), "{dev:?}");

    // A second request, withdrawn before anyone decided.
    let other = w.ask().await;
    let (_, out) = w.deliver().await;
    assert_eq!(failures(&out), 0, "{out}");
    let before = texts_to(&w.messages().await, "DU0CAROL").len();
    let cancelled = fixtures::flows::call(
        &w.provision,
        fixtures::http(
            event("provision/cancel.json"),
            &format!("/requests/{other}/cancel"),
            DEV,
            None,
        ),
    )
    .await;
    assert_eq!(cancelled.0, 200, "{}", cancelled.1);
    let (_, out) = w.deliver().await;
    assert_eq!(failures(&out), 0, "{out}");
    let msgs = w.messages().await;
    let carol = texts_to(&msgs, "DU0CAROL");
    assert_eq!(carol.len(), before + 1, "{carol:?}");
    let told = carol.last().unwrap();
    assert!(
        told.contains("cancelled by its requester") && told.contains("no decision is needed"),
        "{told}"
    );
    // The message that asked her for a decision no longer offers one.
    let asking = msgs
        .iter()
        .filter(|m| m["channel"] == json!("DU0CAROL"))
        .find(|m| {
            m["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("Cancelled by the requester"))
        })
        .unwrap_or_else(|| panic!("the request message was updated: {msgs:?}"));
    assert!(
        !asking["blocks"].to_string().contains("\"approve\""),
        "{asking}"
    );
    let hooks = w.hooks.lock().unwrap().clone();
    assert!(
        hooks
            .iter()
            .any(|(_, b)| b.contains("\"request.cancelled\"") && b.contains(&other)),
        "the webhook hears it too"
    );
}
