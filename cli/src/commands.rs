//! What each command does.

use std::io::IsTerminal;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::api::{Api, segment};
use crate::args::{Cli, Command, LoginArgs, Output, RequestArgs};
use crate::declared;
use crate::error::{CliError, Result};
use crate::output::{self, print_json};
use crate::settings::{self, Settings, checked_url};
use crate::tokens;

/// How often `request --wait` looks again.
const WAIT_POLL: Duration = Duration::from_secs(2);

pub async fn run(cli: Cli) -> Result<i32> {
    let out = cli.output;
    let dir = settings::config_dir()?;
    match cli.command {
        Command::Login(a) => login(&dir, a).await?,
        Command::Logout => {
            tokens::forget(&dir)?;
            eprintln!("signed out");
        }
        Command::Whoami => whoami(&Api::signed_in(&dir).await?, out)?,
        Command::Requests { to_decide } => {
            let api = Api::signed_in(&dir).await?;
            let v = api.get("/requests").await?;
            let key = if to_decide { "to_decide" } else { "requests" };
            output::requests(out, v[key].as_array().map(Vec::as_slice).unwrap_or(&[]));
        }
        Command::Show { id } => {
            let api = Api::signed_in(&dir).await?;
            let v = api.get(&format!("/requests/{}", segment(&id)?)).await?;
            one(out, &v);
        }
        Command::Request(a) => request(&Api::signed_in(&dir).await?, out, a).await?,
        Command::Approve { id, reason } => {
            decide(&dir, out, &id, "approve", json!({ "reason": reason })).await?
        }
        Command::Reject { id, reason } => {
            decide(&dir, out, &id, "reject", json!({ "reason": reason })).await?
        }
        Command::Revoke { id, reason } => {
            decide(&dir, out, &id, "revoke", json!({ "reason": reason })).await?
        }
        Command::Cancel { id, reason } => {
            decide(&dir, out, &id, "cancel", json!({ "reason": reason })).await?
        }
        Command::Extend {
            id,
            duration,
            justification,
        } => {
            let body = json!({ "duration": duration, "justification": justification });
            decide(&dir, out, &id, "extend", body).await?
        }
        Command::Creds { id, env } => {
            let creds = credentials(&Api::signed_in(&dir).await?, &id).await?;
            if env {
                for (k, v) in env_of(&creds)? {
                    println!("export {k}={}", shell_quote(&v));
                }
            } else if out == Output::Json {
                print_json(&creds);
            } else {
                print_credentials(&creds);
            }
        }
        Command::Exec { id, command } => {
            let creds = credentials(&Api::signed_in(&dir).await?, &id).await?;
            return exec(&creds, &command);
        }
        Command::Plan(a) => return declared::plan(&Api::signed_in(&dir).await?, out, a).await,
        Command::Apply(a) => return declared::apply(&Api::signed_in(&dir).await?, out, a).await,
        Command::Export(a) => declared::export(&Api::signed_in(&dir).await?, out, a).await?,
        Command::Completions { shell } => crate::complete::registration(shell)?,
    }
    Ok(0)
}

async fn login(dir: &std::path::Path, a: LoginArgs) -> Result<()> {
    let stored = settings::load(dir)?;
    let pick = |given: Option<String>, kept: Option<&str>, what: &str, flag: &str| {
        given
            .or_else(|| kept.map(str::to_string))
            .ok_or_else(|| CliError::config(format!("the {what} is not known yet: pass {flag}")))
    };
    let s = Settings {
        api_url: checked_url(
            "API URL",
            &pick(
                a.api,
                stored.as_ref().map(|s| s.api_url.as_str()),
                "API URL",
                "--api",
            )?,
        )?,
        issuer: checked_url(
            "issuer",
            &pick(
                a.issuer,
                stored.as_ref().map(|s| s.issuer.as_str()),
                "issuer",
                "--issuer",
            )?,
        )?,
        client_id: pick(
            a.client_id,
            stored.as_ref().map(|s| s.client_id.as_str()),
            "client id",
            "--client-id",
        )?,
    };
    let browser = crate::login::Browser {
        open: !a.no_open,
        port: a.port,
        timeout: Duration::from_secs(a.timeout),
    };
    let t =
        match crate::login::Flow::choose(a.browser, a.device, browser, |k| std::env::var(k).ok()) {
            crate::login::Flow::Device => crate::login::device_login(&s).await?,
            crate::login::Flow::Browser(b) => crate::login::browser_login(&s, b).await?,
        };
    settings::save(dir, &s)?;
    tokens::save(dir, &t)?;
    let claims = claims(&t.access_token);
    eprintln!(
        "signed in as {}",
        claims["email"]
            .as_str()
            .or(claims["sub"].as_str())
            .unwrap_or("?")
    );
    Ok(())
}

/// The access token's claims, for display only (the API verifies the token; this does not).
fn claims(token: &str) -> Value {
    token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

fn whoami(api: &Api, out: Output) -> Result<()> {
    let c = claims(api.access_token());
    let me = json!({
        "sub": c["sub"],
        "email": c["email"],
        "email_verified": c["email_verified"],
        "groups": c["groups"],
        "issuer": c["iss"],
        "expires_at": c["exp"].as_i64().and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
        "api": api.settings.api_url,
    });
    match out {
        Output::Json => print_json(&me),
        Output::Table => {
            for (k, v) in me.as_object().into_iter().flatten() {
                println!(
                    "{k:<15}{}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_string)
                );
            }
        }
    }
    Ok(())
}

fn one(out: Output, v: &Value) {
    match out {
        Output::Json => print_json(v),
        Output::Table => output::requests(out, std::slice::from_ref(v)),
    }
}

async fn decide(
    dir: &std::path::Path,
    out: Output,
    id: &str,
    action: &str,
    body: Value,
) -> Result<()> {
    let api = Api::signed_in(dir).await?;
    let v = api
        .post(&format!("/requests/{}/{action}", segment(id)?), &body)
        .await?;
    one(out, &v);
    Ok(())
}

async fn request(api: &Api, out: Output, a: RequestArgs) -> Result<()> {
    let body = json!({
        "integration": a.integration,
        "resources": a.resources,
        "permission": a.permission,
        "duration": a.duration,
        "justification": a.justification,
        "flow": a.flow,
        "starts_at": a.starts_at,
    });
    // One key per invocation: a retry inside it (none today) could never ask twice.
    let key = uuid::Uuid::new_v4().to_string();
    let mut v = api
        .call(reqwest::Method::POST, "/requests", Some(&body), Some(&key))
        .await?;
    if a.wait {
        let id = segment(v["id"].as_str().unwrap_or_default())?;
        let spin = std::io::stderr().is_terminal();
        let frames = ['|', '/', '-', '\\'];
        let mut n = 0usize;
        while matches!(v["status"].as_str(), Some("pending" | "approved")) {
            if spin {
                eprint!(
                    "\r{} waiting: {}   ",
                    frames[n % frames.len()],
                    v["status"].as_str().unwrap_or("")
                );
                n += 1;
            }
            tokio::time::sleep(WAIT_POLL).await;
            v = api.get(&format!("/requests/{id}")).await?;
        }
        if spin {
            eprintln!();
        }
    }
    one(out, &v);
    Ok(())
}

async fn credentials(api: &Api, id: &str) -> Result<Value> {
    api.get(&format!("/requests/{}/credentials", segment(id)?))
        .await
}

/// The environment a command gets for a grant's credentials.
fn env_of(c: &Value) -> Result<Vec<(&'static str, String)>> {
    let s = |k: &str| c[k].as_str().map(str::to_string);
    let mut env = vec![];
    if let Some(url) = s("url") {
        env.push(("ELASTICSEARCH_URL", url));
    }
    match c["mode"].as_str() {
        Some("user") | Some("proxy") => {
            env.push(("ELASTICSEARCH_USERNAME", s("username").unwrap_or_default()));
            env.push(("ELASTICSEARCH_PASSWORD", s("password").unwrap_or_default()));
            if let Some(k) = s("api_key") {
                env.push(("ELASTIC_API_KEY", k));
            }
        }
        Some("api_key") => env.push(("ELASTIC_API_KEY", s("api_key").unwrap_or_default())),
        _ => {
            return Err(CliError::Api {
                status: 409,
                code: "no_credentials".into(),
                message: "this grant has no credentials to pass on (an Elastic Cloud role is \
                          used by signing in to Elastic Cloud)"
                    .into(),
            });
        }
    }
    Ok(env)
}

fn shell_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

fn print_credentials(c: &Value) {
    for k in [
        "integration",
        "mode",
        "url",
        "username",
        "password",
        "api_key_id",
        "api_key",
        "expires_at",
        "custom_access_details",
    ] {
        if let Some(v) = c[k].as_str() {
            println!("{k:<22}{v}");
        }
    }
}

fn exec(creds: &Value, command: &[String]) -> Result<i32> {
    let env = env_of(creds)?;
    let (program, args) = command
        .split_first()
        .ok_or_else(|| CliError::config("exec needs a command after --"))?;
    let status = std::process::Command::new(program)
        .args(args)
        .envs(env)
        .status()
        .map_err(|e| CliError::config(format!("cannot run {program}: {e}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return Ok(128 + sig);
        }
    }
    Ok(status.code().unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn credentials_become_the_variables_clients_read() {
        let user =
            json!({"mode": "user", "url": "https://es:9200", "username": "u", "password": "p'w"});
        assert_eq!(
            env_of(&user).unwrap(),
            vec![
                ("ELASTICSEARCH_URL", "https://es:9200".to_string()),
                ("ELASTICSEARCH_USERNAME", "u".to_string()),
                ("ELASTICSEARCH_PASSWORD", "p'w".to_string()),
            ]
        );
        let key = json!({"mode": "api_key", "url": "https://es:9200", "api_key": "abc=="});
        assert_eq!(
            env_of(&key).unwrap()[1],
            ("ELASTIC_API_KEY", "abc==".to_string())
        );
        let cloud = json!({"kind": "elastic_cloud"});
        assert_eq!(env_of(&cloud).unwrap_err().exit_code(), 1);
        assert_eq!(shell_quote("p'w"), r"'p'\''w'");
    }

    #[test]
    fn the_command_line_is_consistent_and_ids_stay_one_path_segment() {
        Cli::command().debug_assert();
        for bad in ["../integrations", "a/b", "", "x?y"] {
            assert!(segment(bad).is_err(), "{bad}");
        }
        assert!(segment("3f6c1a9e-2b7d-4c1e-9a0b-1234567890ab").is_ok());
    }
}
