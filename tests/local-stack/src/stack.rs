//! Everything the story runs against, started on loopback: moto's server (or `AWS_ENDPOINT_URL`),
//! the Elasticsearch and Elastic Cloud emulators, the five functions under `cargo lambda watch`,
//! and in this process the identity provider, the API gateway and the AWS glue. Dropping the
//! stack stops every process and task it started.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use serde_json::Value;

use crate::gateway::{Gateway, JwtAuthorizer, RunningGateway};
use crate::glue::queues::CreatedQueue;
use crate::glue::{GlueConfig, RunningGlue};
use crate::idp::{AUDIENCE, IdpConfig, RunningIdp};
use crate::invoke::{Invoker, WatchInvoker};
use crate::procs::{Proc, free_port, run_to_end};
use crate::template::Template;
use crate::{StoryError, Timeouts};

pub const FUNCTIONS: [&str; 7] = [
    "discover",
    "provision",
    "revoke",
    "rotate",
    "cleanup",
    "portal",
    "notify",
];
/// Built with the functions but not served by `cargo lambda watch`: the story starts the
/// authorizing proxy in server mode (`proxy --serve`) itself.
pub const PROXY_BINARY: &str = "proxy";
pub const ELASTIC_PASSWORD: &str = "demo-elastic-password";
pub const CLOUD_ORG: &str = "demo-org";
pub const CLOUD_API_KEY: &str = "demo-owner-api-key";
pub const ADMIN_GROUP: &str = "jit-admins";
pub const REVOKE_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:elastic-jit-revoke";
pub const SCHEDULER_ROLE: &str = "arn:aws:iam::123456789012:role/elastic-jit-scheduler";
/// The provision function, which scheduled starts invoke (in AWS it learns its own ARN from
/// the invocation; `cargo lambda watch` is told it).
pub const PROVISION_ARN: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:elastic-jit-provision";
/// The local stack's cap on the template's queues' `VisibilityTimeout` (seconds). The template
/// gives the Slack click queue 180 s (six times the function's timeout, as AWS advises for an SQS
/// event source), so a click that failed would come back only after 3 minutes; locally it comes
/// back after 10 s. The glue invokes one batch at a time and deletes with the receipt handle it
/// received, so a slow invocation (a first compile under `cargo lambda watch`) is not delivered
/// twice meanwhile.
pub const LOCAL_MAX_VISIBILITY_TIMEOUT: u32 = 10;

/// How much faster the template's rate()/cron() schedules run (`GLUE_SPEEDUP`, default 1).
fn speedup() -> f64 {
    std::env::var("GLUE_SPEEDUP")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|f| f.is_finite() && *f >= 1.0)
        .unwrap_or(1.0)
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    p.canonicalize().unwrap_or(p)
}

/// The cargo target directory (shared with the rest of the workspace).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                workspace_root().join(p)
            }
        })
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn venv() -> PathBuf {
    std::env::var_os("ELASTIC_JIT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv"))
}

fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

/// `cargo-lambda` from the project's virtualenv, else from PATH.
fn cargo_lambda() -> PathBuf {
    let in_venv = venv().join("bin/cargo-lambda");
    if in_venv.exists() {
        in_venv
    } else {
        PathBuf::from("cargo-lambda")
    }
}

/// PATH with the virtualenv's `bin/` and cargo's directory in front.
fn path_env() -> std::ffi::OsString {
    let mut dirs = vec![venv().join("bin")];
    if let Some(dir) = cargo().parent().filter(|d| !d.as_os_str().is_empty()) {
        dirs.push(dir.to_path_buf());
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// The names this run gives its AWS resources (unique, so an external endpoint can be shared).
pub struct Names {
    pub table: String,
    pub schedule_group: String,
    pub secret_prefix: String,
    pub suffix: String,
}

impl Names {
    /// The name of the template's queue `logical` (e.g. `elastic-jit-demo-1a2b3c4d-SlackClickQueue`).
    pub fn queue(&self, logical: &str) -> String {
        format!("elastic-jit-demo-{}-{logical}", self.suffix)
    }

    fn new() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let suffix = id[..8].to_string();
        Self {
            table: format!("elastic-jit-demo-{suffix}"),
            schedule_group: format!("elastic-jit-demo-{suffix}"),
            secret_prefix: format!("elastic-jit-demo-{suffix}/"),
            suffix,
        }
    }
}

pub struct Stack {
    pub log_dir: PathBuf,
    pub aws_endpoint: String,
    pub aws: SdkConfig,
    pub es_url: String,
    /// A second cluster, with security off: the proxy's.
    pub plain_es_url: String,
    pub cloud_url: String,
    pub lambda_url: String,
    pub names: Names,
    pub http: reqwest::Client,
    /// The local HTTP API (the gateway), e.g. `http://127.0.0.1:PORT`.
    pub api_url: String,
    pub idp: Option<RunningIdp>,
    pub gateway: Option<RunningGateway>,
    pub glue: Option<RunningGlue>,
    pub invoker: Option<Arc<WatchInvoker>>,
    /// The moto Lambda standing for the rotate function (a secret's rotation Lambda).
    pub rotation_lambda_arn: Option<String>,
    pub speedup: f64,
    /// The Slack emulator and the Slack app's secret (notifications and Slack approvals).
    pub slack: Option<crate::notify::LocalSlack>,
    /// Where the gateway will listen: the functions' `PUBLIC_URL` (links in messages).
    gateway_addr: String,
    /// The AWS endpoint the functions send email through (SES), read back by the demo.
    pub ses_endpoint: String,
    /// The template's SQS queues as created for this stack, by logical id.
    pub queues: std::collections::BTreeMap<String, CreatedQueue>,
    /// `infra/template.yaml`, read once at start.
    template: Template,
    timeouts: Timeouts,
    // Stopped in reverse order of start when the stack is dropped.
    procs: Vec<Proc>,
}

impl Stack {
    /// Build the binaries, start every process, create the table, the schedule group.
    pub async fn start(
        timeouts: Timeouts,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Self, StoryError> {
        Self::start_with(timeouts, IdpConfig::from_env(), progress).await
    }

    /// As [`start`](Self::start), with the identity provider's settings given (e.g. token
    /// lifetimes short enough for a test to see a session end).
    pub async fn start_with(
        timeouts: Timeouts,
        idp: IdpConfig,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Self, StoryError> {
        let root = workspace_root();
        // Unique even for two stacks started by one test process in the same second.
        let run = format!(
            "{}-{}-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..6]
        );
        let log_dir = target_dir().join("e2e").join(run);
        std::fs::create_dir_all(&log_dir)
            .map_err(|e| StoryError::setup(format!("create {}: {e}", log_dir.display())))?;
        progress(&format!("logs of every process: {}", log_dir.display()));

        // The function binaries, built as `cargo lambda watch` builds them (`cargo run --bin`
        // in the workspace), so that watch finds them fresh; and the two emulators.
        let started = Instant::now();
        let mut build = Command::new(cargo());
        build
            .current_dir(&root)
            .env("PATH", path_env())
            .args(["build", "--locked", "--bins"]);
        for p in FUNCTIONS
            .iter()
            .chain(&["es-emulator", "cloud-emulator", PROXY_BINARY])
        {
            build.args(["-p", p]);
        }
        progress("building the function binaries and the emulators (cargo build)");
        run_to_end("cargo-build", build, &log_dir, timeouts.build).await?;
        progress(&format!("built in {:.1?}", started.elapsed()));

        let mut stack = Self {
            log_dir,
            aws_endpoint: String::new(),
            aws: aws_config::SdkConfig::builder().build(),
            es_url: String::new(),
            plain_es_url: String::new(),
            cloud_url: String::new(),
            lambda_url: String::new(),
            names: Names::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| StoryError::setup(format!("http client: {e}")))?,
            api_url: String::new(),
            idp: None,
            gateway: None,
            glue: None,
            invoker: None,
            rotation_lambda_arn: None,
            speedup: speedup(),
            slack: None,
            gateway_addr: String::new(),
            ses_endpoint: String::new(),
            queues: Default::default(),
            template: Template::load(&root.join("infra/template.yaml"))
                .map_err(|e| StoryError::setup(e.to_string()))?,
            timeouts,
            procs: Vec::new(),
        };

        stack.aws_endpoint = match std::env::var("AWS_ENDPOINT_URL") {
            Ok(url) if !url.is_empty() => {
                progress(&format!("AWS endpoint from AWS_ENDPOINT_URL: {url}"));
                url
            }
            _ => {
                let url = stack.start_moto().await?;
                progress("moto server started");
                url
            }
        };
        stack.aws = aws_config(&stack.aws_endpoint).await;
        stack.ses_endpoint = if std::env::var("AWS_ENDPOINT_URL").is_ok_and(|u| !u.is_empty()) {
            stack.aws_endpoint.clone()
        } else {
            stack.start_moto_named("moto-ses").await?
        };
        progress(&format!("AWS at {}", stack.aws_endpoint));

        let debug = target_dir().join("debug");
        let mut es = Command::new(debug.join("es-emulator"));
        es.args([
            "--listen",
            "127.0.0.1:0",
            "--elastic-password",
            ELASTIC_PASSWORD,
        ])
        .arg("--seed")
        .arg(root.join("tests/es-emulator/seeds/demo.json"));
        stack.es_url = stack
            .start_announced("es-emulator", es, "es-emulator listening on")
            .await?;
        progress(&format!("Elasticsearch emulator at {}", stack.es_url));

        let mut plain = Command::new(debug.join("es-emulator"));
        plain
            .args(["--listen", "127.0.0.1:0", "--without-security"])
            .args(["--elastic-password", ELASTIC_PASSWORD])
            .arg("--seed")
            .arg(root.join("tests/es-emulator/seeds/demo.json"));
        stack.plain_es_url = stack
            .start_announced("es-emulator-plain", plain, "es-emulator listening on")
            .await?;
        progress(&format!(
            "Elasticsearch emulator without security at {}",
            stack.plain_es_url
        ));

        let mut cloud = Command::new(debug.join("cloud-emulator"));
        cloud
            .args(["--listen", "127.0.0.1:0", "--organization-id", CLOUD_ORG])
            .args(["--api-key", CLOUD_API_KEY])
            .arg("--seed")
            .arg(root.join("tests/cloud-emulator/seeds/demo.json"));
        stack.cloud_url = stack
            .start_announced("cloud-emulator", cloud, "cloud-emulator listening on")
            .await?;
        progress(&format!("Elastic Cloud emulator at {}", stack.cloud_url));

        stack.create_aws_resources().await?;
        progress(&format!(
            "DynamoDB table {}, schedule group {}",
            stack.names.table, stack.names.schedule_group
        ));
        if !stack.queues.is_empty() {
            let names: Vec<&str> = stack.queues.values().map(|q| q.name.as_str()).collect();
            progress(&format!(
                "SQS queues {} (visibility timeouts capped at {LOCAL_MAX_VISIBILITY_TIMEOUT} s)",
                names.join(", ")
            ));
        }

        // The identity provider first: the portal function is configured with its issuer.
        let idp = RunningIdp::start(idp)
            .await
            .map_err(|e| StoryError::setup(e.to_string()))?;
        progress(&format!("identity provider at {}", idp.issuer()));
        stack.idp = Some(idp);
        stack.slack = Some(
            crate::notify::start(
                &stack.aws,
                &stack.ses_endpoint,
                &format!("elastic-jit-demo-{}/notify/", stack.names.suffix),
            )
            .await?,
        );
        stack.gateway_addr = format!("127.0.0.1:{}", free_port()?);
        progress(&format!(
            "Slack emulator at {} (notify's messages; approvals from its buttons)",
            stack
                .slack
                .as_ref()
                .map(|s| s.emulator.url())
                .unwrap_or_default()
        ));

        stack.start_watch().await?;
        progress(&format!(
            "cargo lambda watch serving {} at {}",
            FUNCTIONS.join(", "),
            stack.lambda_url
        ));
        stack.start_local(progress).await?;
        Ok(stack)
    }

    /// The identity provider, the gateway in front of the functions and the glue.
    async fn start_local(&mut self, progress: &mut dyn FnMut(&str)) -> Result<(), StoryError> {
        let idp = self
            .idp
            .take()
            .ok_or_else(|| StoryError::setup("the identity provider is not running"))?;
        let template = self.template.clone();
        let invoker = Arc::new(WatchInvoker::new(&self.lambda_url, self.timeouts.invoke));
        let authorizer = JwtAuthorizer::discover(idp.issuer(), vec![AUDIENCE.to_string()])
            .await
            .map_err(|e| StoryError::setup(e.to_string()))?;
        let routes = template.routes.len();
        let gateway = RunningGateway::start_on(
            Gateway::new(
                template.routes.clone(),
                template.cors.clone(),
                authorizer,
                invoker.clone() as Arc<dyn Invoker>,
            ),
            &self.gateway_addr,
        )
        .await
        .map_err(|e| StoryError::setup(format!("gateway: {e}")))?;
        self.api_url = gateway.url.clone();
        progress(&format!(
            "HTTP API at {} ({routes} routes from infra/template.yaml, JWT authorizer: issuer {}, audience {AUDIENCE})",
            self.api_url,
            idp.issuer()
        ));
        self.rotation_lambda_arn = match crate::glue::rotation::register_rotation_lambda(
            &self.http,
            &self.aws_endpoint,
            &format!("elastic-jit-rotate-{}", self.names.suffix),
        )
        .await
        {
            Ok(arn) => Some(arn),
            Err(e) => {
                progress(&format!("rotation glue off: {e}"));
                None
            }
        };
        let cfg = GlueConfig {
            schedule_group: Some(self.names.schedule_group.clone()),
            targets: [
                (REVOKE_ARN.to_string(), "revoke".to_string()),
                (PROVISION_ARN.to_string(), "provision".to_string()),
            ]
            .into(),
            rules: template.schedules.clone(),
            speedup: self.speedup,
            rotation_lambda_arn: self.rotation_lambda_arn.clone(),
            aws_endpoint: Some(self.aws_endpoint.clone()),
            // The template's stream subscribers (notify) get the table's changes.
            streams: template
                .streams
                .iter()
                .map(|f| crate::glue::streams::StreamConsumer {
                    table: self.names.table.clone(),
                    function: f.clone(),
                    batch_size: 25,
                })
                .collect(),
            // The template's queue subscribers (provision, on the Slack click queue).
            queues: template
                .queues
                .iter()
                .filter_map(|s| {
                    let q = self.queues.get(&s.queue)?;
                    Some(crate::glue::queues::QueueConsumer {
                        queue_url: q.url.clone(),
                        function: s.function.clone(),
                        batch_size: s.batch_size,
                        report_failures: s.report_failures,
                    })
                })
                .collect(),
            ..GlueConfig::default()
        };
        let rules: Vec<String> = template
            .schedules
            .iter()
            .map(|r| format!("{} {} -> {}", r.name, r.expression, r.function))
            .collect();
        self.glue = Some(RunningGlue::start(
            &self.aws,
            invoker.clone() as Arc<dyn Invoker>,
            cfg,
        ));
        progress(&format!(
            "glue: one-time schedules of group {} fire revoke; rules {} (speed-up x{}); rotation requests drive rotate",
            self.names.schedule_group,
            rules.join(", "),
            self.speedup
        ));
        for s in &template.queues {
            if let Some(q) = self.queues.get(&s.queue) {
                progress(&format!(
                    "glue: queue {} feeds {} (batches of {}{})",
                    q.name,
                    s.function,
                    s.batch_size,
                    if s.report_failures {
                        ", batchItemFailures retried"
                    } else {
                        ""
                    }
                ));
            }
        }
        self.idp = Some(idp);
        self.gateway = Some(gateway);
        self.invoker = Some(invoker);
        Ok(())
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The identity provider's issuer URL.
    pub fn issuer(&self) -> &str {
        self.idp.as_ref().map(RunningIdp::issuer).unwrap_or("")
    }

    async fn start_moto(&mut self) -> Result<String, StoryError> {
        self.start_moto_named("moto").await
    }

    /// A moto server of its own for SES: moto's model dump (the only way to read sent mail
    /// back) fails once a Lambda function exists without Docker, as the rotation stand-in does.
    async fn start_moto_named(&mut self, name: &str) -> Result<String, StoryError> {
        let python = venv().join("bin/python");
        if !python.exists() {
            return Err(StoryError::setup(format!(
                "moto is not installed at {}: run `bash tests/demo.sh` or `bash tests/test.sh` once (they create .venv)",
                python.display()
            )));
        }
        let port = free_port()?;
        let mut cmd = Command::new(python);
        cmd.args(["-c", test_harness::MOTO_LAUNCHER, &port.to_string()]);
        let mut p = Proc::spawn(name, cmd, &self.log_dir, true)?;
        p.wait_for_line("ready", self.timeouts.start).await?;
        p.wait_for_port(port, self.timeouts.start).await?;
        self.procs.push(p);
        Ok(format!("http://127.0.0.1:{port}"))
    }

    /// Start an emulator on port 0 and read its URL from its ready line.
    async fn start_announced(
        &mut self,
        name: &str,
        cmd: Command,
        ready: &str,
    ) -> Result<String, StoryError> {
        let mut p = Proc::spawn(name, cmd, &self.log_dir, false)?;
        let url = p.wait_for_line(ready, self.timeouts.start).await?;
        self.procs.push(p);
        if !url.starts_with("http://127.0.0.1:") {
            return Err(StoryError::setup(format!(
                "{name} announced {url:?}, not a loopback URL"
            )));
        }
        Ok(url)
    }

    async fn create_aws_resources(&mut self) -> Result<(), StoryError> {
        let dynamodb = aws_sdk_dynamodb::Client::new(&self.aws);
        shared::store::schema::create_table(&dynamodb, &self.names.table)
            .await
            .map_err(|e| StoryError::setup(format!("create table {}: {e}", self.names.table)))?;
        // As the template's table: its stream feeds the notify function.
        dynamodb
            .update_table()
            .table_name(&self.names.table)
            .stream_specification(
                aws_sdk_dynamodb::types::StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewAndOldImages)
                    .build()
                    .map_err(|e| StoryError::setup(format!("stream spec: {e}")))?,
            )
            .send()
            .await
            .map_err(|e| StoryError::setup(format!("enable the table's stream: {e}")))?;
        aws_sdk_scheduler::Client::new(&self.aws)
            .create_schedule_group()
            .name(&self.names.schedule_group)
            .send()
            .await
            .map_err(|e| {
                StoryError::setup(format!(
                    "create schedule group: {}",
                    aws_sdk_scheduler::error::DisplayErrorContext(e)
                ))
            })?;
        // The template's queues, as it declares them (dead-letter queues first).
        self.queues = crate::glue::queues::create_queues(
            &aws_sdk_sqs::Client::new(&self.aws),
            &self.template.sqs_queues,
            |logical| self.names.queue(logical),
            Some(LOCAL_MAX_VISIBILITY_TIMEOUT),
        )
        .await
        .map_err(|e| StoryError::setup(format!("create the SQS queues: {e}")))?;
        Ok(())
    }

    /// The functions' environment variables that are `!Ref <queue>` in the template, with the
    /// created queue's URL (a queue's `Ref` is its URL), e.g. `SLACK_CLICK_QUEUE_URL`.
    /// `cargo lambda watch` gives every function the same environment, so each gets them all.
    fn queue_env(&self) -> Vec<(String, String)> {
        self.template
            .env_refs
            .iter()
            .filter_map(|r| {
                let q = self.queues.get(&r.resource)?;
                Some((r.variable.clone(), q.url.clone()))
            })
            .collect()
    }

    /// `cargo lambda watch` on a free loopback port, the functions' environment on it.
    async fn start_watch(&mut self) -> Result<(), StoryError> {
        let mut last = None;
        // Another process may take the port between the probe and watch's bind: try a few.
        for _ in 0..3 {
            let port = free_port()?;
            let mut cmd = Command::new(cargo_lambda());
            cmd.current_dir(workspace_root())
                .args(["lambda", "watch", "--ignore-changes"])
                .args(["-A", "127.0.0.1", "-P", &port.to_string()])
                .args(["--timeout", &self.timeouts.invoke.as_secs().to_string()])
                .env("PATH", path_env())
                .env("CARGO", cargo())
                .env_remove("AWS_PROFILE")
                .env_remove("AWS_SESSION_TOKEN")
                .env_remove("AWS_LAMBDA_LOG_FORMAT")
                .env("TABLE_NAME", &self.names.table)
                .env("ADMIN_GROUP", ADMIN_GROUP)
                .env("GROUPS_CLAIM", "groups")
                .env("CREDENTIAL_SECRET_PREFIX", &self.names.secret_prefix)
                // The story names each connector secret <this prefix><integration>.
                .env("CONNECTOR_SECRET_PREFIX", self.connector_prefix())
                .env("SCHEDULE_GROUP", &self.names.schedule_group)
                .env("REVOKE_FUNCTION_ARN", REVOKE_ARN)
                .env("PROVISION_FUNCTION_ARN", PROVISION_ARN)
                .env("SCHEDULER_ROLE_ARN", SCHEDULER_ROLE)
                .env("AWS_ENDPOINT_URL", &self.aws_endpoint)
                .env("AWS_REGION", "us-east-1")
                .env("AWS_DEFAULT_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing")
                .env("RUST_LOG", "info")
                // The portal: the template's JwtIssuer, PortalClientId and PortalScopes.
                .env("OIDC_ISSUER", self.issuer())
                .env("OIDC_CLIENT_ID", crate::idp::CLIENT_ID)
                .env("OIDC_SCOPES", "openid email profile")
                .envs(self.queue_env());
            if let Some(slack) = &self.slack {
                cmd.envs(crate::notify::env(
                    slack,
                    &format!("http://{}", self.gateway_addr),
                ))
                .env("AWS_ENDPOINT_URL_SESV2", &self.ses_endpoint);
            }
            let mut p = Proc::spawn("cargo-lambda-watch", cmd, &self.log_dir, false)?;
            match p.wait_for_port(port, self.timeouts.start).await {
                Ok(()) => {
                    self.procs.push(p);
                    self.lambda_url = format!("http://127.0.0.1:{port}");
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| StoryError::setup("cargo lambda watch did not start")))
    }

    /// The connector secrets' name prefix the functions are configured with.
    pub fn connector_prefix(&self) -> String {
        format!("elastic-jit-demo-{}/connector/", self.names.suffix)
    }

    /// Starts the authorizing proxy in server mode for `integration` on 127.0.0.1:`port`, as a
    /// container would run it (`proxy --serve`), with a 1 s configuration and grant cache so a
    /// revoke shows at once. Its audit lines (stdout) are in [`Self::proxy_log`].
    pub async fn start_proxy(
        &mut self,
        integration: &str,
        port: u16,
    ) -> Result<String, StoryError> {
        let mut cmd = Command::new(target_dir().join("debug").join(PROXY_BINARY));
        cmd.arg("--serve")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env("TABLE_NAME", &self.names.table)
            .env("PROXY_INTEGRATION", integration)
            .env("CONNECTOR_SECRET_PREFIX", self.connector_prefix())
            .env("PROXY_LISTEN", format!("127.0.0.1:{port}"))
            .env("PROXY_CACHE_TTL_MS", "1000")
            .env("PROXY_CONFIG_TTL_MS", "1000")
            .env("AWS_ENDPOINT_URL", &self.aws_endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("RUST_LOG", "info");
        let mut p = Proc::spawn(PROXY_BINARY, cmd, &self.log_dir, false)?;
        p.wait_for_port(port, self.timeouts.start).await?;
        self.procs.push(p);
        Ok(format!("http://127.0.0.1:{port}"))
    }

    /// The proxy server's output: its audit lines, among its logs.
    pub fn proxy_log(&self) -> PathBuf {
        self.log_dir.join(format!("{PROXY_BINARY}.log"))
    }

    /// Invoke `function` with `event` through `cargo lambda watch`; the function's JSON result.
    pub async fn invoke(&mut self, function: &str, event: &Value) -> Result<Value, String> {
        let invoker = self
            .invoker
            .clone()
            .unwrap_or_else(|| Arc::new(WatchInvoker::new(&self.lambda_url, self.timeouts.invoke)));
        match invoker.invoke(function, event).await {
            Ok(v) => Ok(v),
            Err(e) => {
                let mut msg = e.to_string();
                if let Some(w) = self
                    .procs
                    .iter_mut()
                    .find(|p| p.name == "cargo-lambda-watch")
                    && let Err(gone) = w.check_running()
                {
                    msg = format!("{msg}\n{gone}");
                }
                Err(msg)
            }
        }
    }

    /// The output of every process, for a failure report.
    pub fn logs(&self, lines: usize) -> String {
        let mut out = String::new();
        let build = self.log_dir.join("cargo-build.log");
        for (name, log) in std::iter::once(("cargo-build".to_string(), build))
            .chain(self.procs.iter().map(|p| (p.name.clone(), p.log.clone())))
        {
            out.push_str(&format!(
                "--- {name} (last {lines} lines of {}) ---\n{}\n",
                log.display(),
                crate::procs::tail(&log, lines)
            ));
        }
        out
    }

    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// Stop every process, last started first.
    pub fn stop(&mut self) {
        self.glue = None;
        self.gateway = None;
        self.idp = None;
        while let Some(mut p) = self.procs.pop() {
            p.stop();
        }
    }

    pub fn pids(&self) -> Vec<(String, u32)> {
        self.procs
            .iter()
            .map(|p| (p.name.clone(), p.id()))
            .collect()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SDK configuration for the endpoint: fixed test credentials and region.
pub async fn aws_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "e2e"))
        .endpoint_url(endpoint)
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .load()
        .await
}
