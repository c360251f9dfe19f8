//! The command line against the whole local stack (moto, the Elasticsearch emulator, the
//! functions under `cargo lambda watch`, the development IdP and the API gateway): dev signs in
//! with the device flow, asks for access, alice (signed in as herself, in her own
//! configuration folder) approves it, dev runs a command that reaches Elasticsearch with the
//! grant's credentials from its environment, revokes, and the same command is refused.

mod common;

use std::time::{Duration, Instant};

use common::{Person, Res, admin_token, call, connector_secret};
use local_stack::stack::Stack;
use serde_json::json;

const INTEGRATION: &str = "cli-search";
const FLOW: &str = "cli-logs-read";

/// The integration (alice owns logs-*) and a flow for the developers, as an admin's script
/// would set them up.
async fn set_up(stack: &Stack) -> Res<()> {
    let admin = admin_token(stack).await?;
    let arn = connector_secret(stack, INTEGRATION).await?;
    for (path, body) in [
        (
            format!("/integrations/{INTEGRATION}"),
            json!({"kind": "elasticsearch", "url": stack.es_url, "secret_arn": arn,
                   "integration_owners": [{"type": "group", "value": "search-platform"}],
                   "resource_owner": {"tag_key": "owner", "attribute": "user"},
                   "allow_insecure_http": true}),
        ),
        (
            format!("/flows/{FLOW}"),
            json!({"integration": INTEGRATION, "requesters": [{"type": "group", "value": "developers"}],
                   "resources": ["logs-*"], "permissions": ["read"], "max_duration": "8h",
                   "require_justification": true}),
        ),
    ] {
        let (status, _) = call(stack, &admin, reqwest::Method::PUT, &path, Some(&body)).await?;
        if !(200..300).contains(&status) {
            return Err(format!("PUT {path}: {status}"));
        }
    }
    Ok(())
}

/// What a command run by `exec` gets from Elasticsearch with the grant's credentials.
const SEARCH: &str = "import os, base64, urllib.request, urllib.error\n\
u = os.environ['ELASTICSEARCH_URL'] + '/logs-2026.11/_search'\n\
a = base64.b64encode((os.environ['ELASTICSEARCH_USERNAME'] + ':' + os.environ['ELASTICSEARCH_PASSWORD']).encode()).decode()\n\
r = urllib.request.Request(u, headers={'Authorization': 'Basic ' + a})\n\
try:\n    print(urllib.request.urlopen(r).status)\nexcept urllib.error.HTTPError as e:\n    print(e.code)\n";

async fn story(stack: &Stack) -> Res<()> {
    set_up(stack).await?;
    let root = stack.log_dir().to_path_buf();
    let (dev, alice) = (Person::new(&root, "dev"), Person::new(&root, "alice"));

    // Not signed in: a clear line and exit code 3.
    let r = dev.run(&["requests"])?;
    if r.code != 3 || !r.stderr.contains("elastic-jit login") {
        return Err(format!("before login: {} {}", r.code, r.stderr));
    }
    dev.login(stack, "dev").await?;
    alice.login(stack, "alice").await?;
    let me = dev.json(&["whoami", "-o", "json"])?;
    if me["email"] != "dev@example.com" {
        return Err(format!("whoami: {me}"));
    }

    // A bad request: the API's stable code on one line, exit code 1.
    let ask = [
        "request",
        "--integration",
        INTEGRATION,
        "--resource",
        "logs-2026.11",
        "--permission",
        "read",
        "--duration",
        "1h",
    ];
    let r = dev.run(&ask)?;
    if r.code != 1 || !r.stderr.contains("(justification_required)") {
        return Err(format!("no justification: {} {}", r.code, r.stderr));
    }
    let asked = dev.json(&[&ask[..], &["--justification", "INC-4711", "-o", "json"]].concat())?;
    let id = asked["id"].as_str().ok_or("no id")?.to_string();
    if asked["status"] != "pending" {
        return Err(format!("asked: {asked}"));
    }
    // dev cannot approve his own request; alice sees it waiting for her and approves it.
    let r = dev.run(&["approve", &id])?;
    if r.code != 1 {
        return Err(format!("self-approval: {} {}", r.code, r.stderr));
    }
    let waiting = alice.json(&["requests", "--to-decide", "-o", "json"])?;
    if !waiting
        .as_array()
        .is_some_and(|w| w.iter().any(|r| r["id"] == id.as_str()))
    {
        return Err(format!("alice's queue: {waiting}"));
    }
    let table = alice.run(&["requests", "--to-decide"])?;
    if !table.stdout.starts_with("ID") || !table.stdout.contains(&id) {
        return Err(format!("the table: {}", table.stdout));
    }
    alice.json(&["approve", &id, "--reason", "on call", "-o", "json"])?;

    // The grant's credentials reach Elasticsearch through `exec`, from the environment only.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shown = dev.json(&["show", &id, "-o", "json"])?;
        if shown["status"] == "active" {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("never active: {shown}"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let r = dev.run(&["exec", &id, "--", "python3", "-c", SEARCH])?;
    if (r.code, r.stdout.trim()) != (0, "200") {
        return Err(format!("exec: {} {} {}", r.code, r.stdout, r.stderr));
    }
    let env = dev.run(&["creds", &id, "--env"])?;
    if !env.stdout.contains("export ELASTICSEARCH_PASSWORD='") {
        return Err(format!("creds --env: {}", env.stdout));
    }
    // Nothing but the settings and the tokens is kept on disk, and the tokens only for dev.
    let mut kept: Vec<String> = std::fs::read_dir(&dev.dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    kept.sort();
    if kept != ["config.json", "tokens.json"] {
        return Err(format!("dev's folder holds {kept:?}"));
    }
    let password = env
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("export ELASTICSEARCH_PASSWORD="))
        .unwrap_or_default()
        .trim_matches('\'')
        .to_string();
    for f in &kept {
        let text = std::fs::read_to_string(dev.dir.join(f)).unwrap_or_default();
        if password.is_empty() || text.contains(&password) {
            return Err(format!("{f} holds the grant's password"));
        }
    }

    // Revoked: the same command is refused by Elasticsearch, and its exit code says so.
    dev.json(&["revoke", &id, "--reason", "done", "-o", "json"])?;
    let r = dev.run(&["exec", &id, "--", "python3", "-c", SEARCH])?;
    if r.code == 0 && r.stdout.trim() == "200" {
        return Err("revoked credentials still work".into());
    }
    // An id that is not one is refused before anything is sent.
    let r = dev.run(&["show", "../integrations"])?;
    if r.code != 1 || !r.stderr.contains("(invalid_id)") {
        return Err(format!("a bad id: {} {}", r.code, r.stderr));
    }
    let r = dev.run(&["logout"])?;
    if r.code != 0 || dev.run(&["requests"])?.code != 3 {
        return Err("logout did not sign out".into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engineer_requests_uses_and_revokes_access_from_the_terminal() {
    local_stack::run_on_stack(
        "command line story",
        local_stack::idp::IdpConfig::from_env(),
        |stack| Box::pin(story(stack)),
    )
    .await;
}
