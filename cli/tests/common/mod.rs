//! What the command-line tests share: one person's `elastic-jit` in their own configuration
//! folder, signed in through the device flow at the local stack's identity provider, and an
//! administrator's token and connector secrets for setting a stack up.
// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use local_stack::idp::client::IdpClient;
use local_stack::stack::Stack;
use serde_json::{Value, json};

pub type Res<T> = Result<T, String>;

/// One person's `elastic-jit`, with their own configuration folder.
pub struct Person {
    pub dir: PathBuf,
}

pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Person {
    pub fn new(root: &Path, name: &str) -> Self {
        let dir = root.join(format!("cli-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        Self { dir }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_elastic-jit"));
        c.args(args)
            .env("ELASTIC_JIT_CONFIG_DIR", &self.dir)
            .env_remove("ELASTIC_JIT_API")
            .env_remove("ELASTIC_JIT_ISSUER")
            .env_remove("ELASTIC_JIT_CLIENT_ID");
        c
    }

    pub fn run(&self, args: &[&str]) -> Res<Ran> {
        let out = self
            .command(args)
            .output()
            .map_err(|e| format!("elastic-jit {args:?}: {e}"))?;
        Ok(Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        })
    }

    /// Succeeds, and its JSON output.
    pub fn json(&self, args: &[&str]) -> Res<Value> {
        let r = self.run(args)?;
        if r.code != 0 {
            return Err(format!(
                "elastic-jit {args:?} exited {}: {}",
                r.code, r.stderr
            ));
        }
        serde_json::from_str(&r.stdout).map_err(|e| format!("{args:?}: {e}: {}", r.stdout))
    }

    /// `login` through the device flow, the person approving the code at the IdP's page.
    pub async fn login(&self, stack: &Stack, identity: &str) -> Res<()> {
        let mut child = self
            .command(&[
                "login",
                // The device flow whatever the machine: on a desktop the default is the browser.
                "--device",
                "--api",
                &stack.api_url,
                "--issuer",
                stack.issuer(),
                "--client-id",
                local_stack::idp::CLIENT_ID,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("login: {e}"))?;
        let stderr = child.stderr.take().ok_or("login: no stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let code = rx
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| "login printed no code".to_string())
            .and_then(|line| {
                line.rsplit(' ')
                    .next()
                    .filter(|_| line.contains("enter the code"))
                    .map(str::to_string)
                    .ok_or(format!("login said {line:?}"))
            })?;
        IdpClient::new(stack.issuer())
            .map_err(|e| e.to_string())?
            .device_decide(&code, Some(identity))
            .await
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                let said: Vec<String> = rx.try_iter().collect();
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("login exited {status}: {said:?}"))
                };
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err("login did not finish".into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// An administrator's access token (the IdP's `admin` identity), for setting up and checking
/// through the API directly.
pub async fn admin_token(stack: &Stack) -> Res<String> {
    Ok(IdpClient::new(stack.issuer())
        .map_err(|e| e.to_string())?
        .login("admin")
        .await
        .map_err(|e| e.to_string())?
        .access_token)
}

/// The connector secret of integration `name` (bound to it by its name), its ARN.
pub async fn connector_secret(stack: &Stack, name: &str) -> Res<String> {
    Ok(aws_sdk_secretsmanager::Client::new(&stack.aws)
        .create_secret()
        .name(format!("{}{name}", stack.connector_prefix()))
        .secret_string(
            json!({"username": "elastic-jit-connector", "password": "connector-password"})
                .to_string(),
        )
        .send()
        .await
        .map_err(|e| format!("connector secret: {e}"))?
        .arn()
        .unwrap_or_default()
        .to_string())
}

/// An API call as `token`, its status and JSON body.
pub async fn call(
    stack: &Stack,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> Res<(u16, Value)> {
    let mut rb = stack
        .http
        .request(method.clone(), format!("{}{path}", stack.api_url))
        .timeout(stack.timeouts().invoke)
        .bearer_auth(token);
    if let Some(b) = body {
        rb = rb.json(b);
    }
    let r = rb
        .send()
        .await
        .map_err(|e| format!("{method} {path}: {e}"))?;
    let status = r.status().as_u16();
    let v = r.json().await.unwrap_or(Value::Null);
    Ok((status, v))
}
