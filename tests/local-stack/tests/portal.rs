//! The portal in a real browser (Debian's chromium under chromedriver, driven over WebDriver by
//! fantoccini) against the local stack: the real function binaries under `cargo lambda watch`
//! behind the local HTTP API, the development identity provider's login page, the Elasticsearch
//! emulator. A requester logs in, asks, an owner approves in a second browser session, the
//! requester copies credentials that then work against the emulator, an admin edits an
//! integration and sees the Preview. Screenshots go to target/portal-screenshots/.
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver (`bash tests/test.sh` installs them) and
//! `.venv` with moto and cargo-lambda.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use local_stack::idp::client::IdpClient;
use local_stack::procs::{Proc, free_port};
use local_stack::stack::{Stack, target_dir};
use serde_json::{Value, json};

const INTEGRATION: &str = "portal-search";
const FLOW: &str = "portal-logs-read";
const WAIT: Duration = Duration::from_secs(30);
/// With markup in it: it must reach the approver as text.
const JUSTIFICATION: &str = "INC-4711: login errors <img src=x>";

type Res<T> = Result<T, String>;

fn e(context: &str) -> impl Fn(fantoccini::error::CmdError) -> String + '_ {
    move |err| format!("{context}: {err}")
}

/// chromedriver on a free loopback port, stopped (with every browser it started) when dropped.
async fn chromedriver(log_dir: &std::path::Path) -> Res<(Proc, String)> {
    for bin in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        if !std::path::Path::new(bin).exists() {
            return Err(format!(
                "{bin} is missing: install Debian's chromium and chromium-driver (bash tests/test.sh does)"
            ));
        }
    }
    let port = free_port().map_err(|e| e.to_string())?;
    let mut cmd = Command::new("/usr/bin/chromedriver");
    cmd.arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1");
    let mut p = Proc::spawn("chromedriver", cmd, log_dir, false).map_err(|e| e.to_string())?;
    p.wait_for_port(port, WAIT)
        .await
        .map_err(|e| e.to_string())?;
    Ok((p, format!("http://127.0.0.1:{port}")))
}

/// A fresh headless browser session with its own profile (no shared storage between sessions).
async fn browser(driver: &str, profile: &std::path::Path) -> Res<Client> {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect::<Vec<_>>();
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args }
    });
    let serde_json::Value::Object(caps) = caps else {
        return Err("capabilities".into());
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver)
        .await
        .map_err(|err| format!("start a chromium session: {err}"))
}

async fn shot(c: &Client, name: &str) -> Res<()> {
    let dir = target_dir().join("portal-screenshots");
    std::fs::create_dir_all(&dir).map_err(|err| err.to_string())?;
    let png = c.screenshot().await.map_err(e("screenshot"))?;
    std::fs::write(dir.join(format!("{name}.png")), png).map_err(|err| err.to_string())
}

async fn text_of(c: &Client, css: &str) -> Res<String> {
    let el = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .map_err(e(css))?;
    el.text().await.map_err(e(css))
}

async fn click(c: &Client, css: &str) -> Res<()> {
    let el = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .map_err(e(css))?;
    el.click().await.map_err(e(css))
}

async fn type_into(c: &Client, css: &str, text: &str) -> Res<()> {
    let el = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .map_err(e(css))?;
    el.clear().await.map_err(e(css))?;
    el.send_keys(text).await.map_err(e(css))
}

async fn value_of(c: &Client, css: &str) -> Res<String> {
    let el = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .map_err(e(css))?;
    Ok(el.prop("value").await.map_err(e(css))?.unwrap_or_default())
}

/// Wait until the page's JavaScript `condition` is true.
async fn until(c: &Client, what: &str, condition: &str) -> Res<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        let v = c
            // Mid-navigation the page may be the IdP's or half loaded: not yet, not an error.
            .execute(
                &format!("try {{ return Boolean({condition}); }} catch (_) {{ return false; }}"),
                vec![],
            )
            .await;
        if matches!(v, Ok(Value::Bool(true))) {
            return Ok(());
        }
        if Instant::now() > deadline {
            let body = c
                .execute("return document.body.innerText", vec![])
                .await
                .unwrap_or_default();
            return Err(format!(
                "{what}: not within {WAIT:?}; the page shows: {body}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Open the portal and log in at the identity provider's page as `login`.
async fn log_in(c: &Client, portal: &str, login: &str) -> Res<()> {
    c.goto(portal).await.map_err(e("open the portal"))?;
    click(c, "#login").await?;
    click(c, &format!("#login-{login}")).await?;
    until(
        c,
        &format!("logged in as {login}"),
        "document.getElementById('who').textContent.startsWith('Logged in as')",
    )
    .await
}

/// Nothing that looks like a token (a JWT) is in web storage or the address bar.
async fn no_token_stored(c: &Client) -> Res<()> {
    let dump = c
        .execute(
            "return JSON.stringify([Object.assign({}, localStorage), Object.assign({}, sessionStorage), location.href]);",
            vec![],
        )
        .await
        .map_err(e("read web storage"))?;
    let dump = dump.as_str().unwrap_or_default().to_string();
    if dump.contains("eyJ") || dump.contains("access_token") || dump.contains("code=") {
        return Err(format!(
            "a token or code is kept outside memory: {} bytes of storage mention one",
            dump.len()
        ));
    }
    Ok(())
}

/// What the story needs before anyone opens a browser: an integration (alice owns logs-*) and
/// a flow for the developers, set up through the API as an administrator's script would.
async fn set_up(stack: &Stack) -> Res<()> {
    let name = format!(
        "elastic-jit-demo-{}/connector/{INTEGRATION}",
        stack.names.suffix
    );
    let arn = aws_sdk_secretsmanager::Client::new(&stack.aws)
        .create_secret()
        .name(&name)
        .secret_string(
            json!({"username": "elastic-jit-connector", "password": "connector-password"})
                .to_string(),
        )
        .send()
        .await
        .map_err(|e| {
            format!(
                "create the connector secret: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        })?
        .arn()
        .unwrap_or_default()
        .to_string();
    // A fresh token for each call: the session test's tokens live 40 seconds, and the first
    // call to a function under `cargo lambda watch` may take longer than that.
    let put = |path: String, body: Value| async move {
        let token = admin_token(stack).await?;
        let r = stack
            .http
            .put(format!("{}{path}", stack.api_url))
            .timeout(stack.timeouts().invoke)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("PUT {path}: {e}"))?;
        if !r.status().is_success() {
            return Err(format!(
                "PUT {path}: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ));
        }
        Ok(())
    };
    put(
        format!("/integrations/{INTEGRATION}"),
        json!({
            "kind": "elasticsearch",
            "url": stack.es_url,
            "secret_arn": arn,
            "integration_owners": [{"type": "group", "value": "search-platform"}],
            "resource_owner": {"tag_key": "owner", "attribute": "user"},
            "allow_insecure_http": true
        }),
    )
    .await?;
    put(
        format!("/flows/{FLOW}"),
        json!({
            "integration": INTEGRATION,
            "requesters": [{"type": "group", "value": "developers"}],
            "resources": ["logs-*"],
            "permissions": ["read"],
            "max_duration": "8h",
            "require_justification": true,
            "extension": {"max_extensions": 1, "length": "1h", "max_total_duration": "8h"},
            // Settings the admin's form must keep when it saves the flow (it once dropped
            // what it had no field for).
            "schedule_horizon": "7d",
            "approval": {"require_reason": false, "escalation": {"after": "6h", "to": [{"type": "group", "value": "leads"}]}},
            "notifications": {"emails": ["secops@example.com"]}
        }),
    )
    .await
}

/// A fresh admin token from the development IdP.
async fn admin_token(stack: &Stack) -> Res<String> {
    Ok(IdpClient::new(stack.issuer())
        .map_err(|e| e.to_string())?
        .login("admin")
        .await
        .map_err(|e| e.to_string())?
        .access_token)
}

/// `GET path` on the API as the admin.
async fn admin_get(stack: &Stack, path: &str) -> Res<Value> {
    let token = admin_token(stack).await?;
    let r = stack
        .http
        .get(format!("{}{path}", stack.api_url))
        .timeout(stack.timeouts().invoke)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    let status = r.status();
    let body: Value = r.json().await.map_err(|e| format!("GET {path}: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET {path}: {status} {body}"));
    }
    Ok(body)
}

async fn story(stack: &Stack, driver: &str, profiles: &std::path::Path) -> Res<()> {
    let portal = format!("{}/portal", stack.api_url);
    let dev = browser(driver, &profiles.join("requester")).await?;
    let owner = browser(driver, &profiles.join("owner")).await?;

    // The requester logs in (code + PKCE at the IdP's page) and finds what they may request.
    log_in(&dev, &portal, "dev").await?;
    no_token_stored(&dev).await?;
    text_of(&dev, &format!("[data-flow=\"{FLOW}\"]")).await?;
    let owners = text_of(
        &dev,
        &format!("[data-flow=\"{FLOW}\"] [data-testid=integration-owners]"),
    )
    .await?;
    if !owners.contains("search-platform") {
        return Err(format!(
            "the integration's owners are not shown: {owners:?}"
        ));
    }
    shot(&dev, "1-request-catalog").await?;
    click(&dev, &format!("[data-flow=\"{FLOW}\"] a")).await?;

    // The form: search the resources, pick one, see who approves.
    type_into(&dev, "[data-testid=resource-search]", "2026.11").await?;
    click(&dev, "input[data-resource=\"logs-2026.11\"]").await?;
    // Who must approve, computed by the API's preview before anything is sent.
    until(
        &dev,
        "the approvers before sending",
        "document.querySelector('[data-approvers]').textContent.includes('owner of logs-2026.11: user alice@example.com')",
    )
    .await?;
    // The justification is required: said next to the field, in words, before anything is sent.
    click(&dev, "form button[type=submit]").await?;
    let err = text_of(&dev, "textarea[name=justification] + .field-error").await?;
    if !err.contains("requires a justification") {
        return Err(format!("missing justification: {err}"));
    }
    type_into(&dev, "textarea[name=justification]", JUSTIFICATION).await?;
    // An API refusal (a duration beyond the flow's 8h) is shown next to the duration, not as JSON.
    type_into(&dev, "input[name=duration]", "9h").await?;
    click(&dev, "form button[type=submit]").await?;
    until(
        &dev,
        "the API's refusal next to a field",
        "document.querySelector('.field-error, .error')",
    )
    .await?;
    let refusal = dev
        .execute(
            "return document.querySelector('.field-error, .error').textContent",
            vec![],
        )
        .await
        .map_err(e("read the refusal"))?;
    let refusal = refusal.as_str().unwrap_or_default();
    if refusal.contains('{') || refusal.contains("\"code\"") || refusal.is_empty() {
        return Err(format!("the refusal is not in words: {refusal:?}"));
    }

    // A reload forgets the session (tokens are only in memory) but not the draft.
    dev.refresh().await.map_err(e("reload"))?;
    click(&dev, "#login").await?;
    click(&dev, "#login-dev").await?;
    until(&dev, "the draft after logging in again", &format!("document.querySelector('textarea[name=justification]') && document.querySelector('textarea[name=justification]').value === {}", json!(JUSTIFICATION))).await?;
    no_token_stored(&dev).await?;
    type_into(&dev, "input[name=duration]", "1h").await?;
    // Tall enough to show the whole form, who must approve included.
    dev.set_window_size(1280, 1500).await.map_err(e("resize"))?;
    until(
        &dev,
        "the approvers after the reload",
        "document.querySelector('[data-approvers]').textContent.includes('alice@example.com')",
    )
    .await?;
    shot(&dev, "2-request-form").await?;
    dev.set_window_size(1280, 1000).await.map_err(e("resize"))?;
    click(&dev, "form button[type=submit]").await?;
    until(
        &dev,
        "the new request, pending",
        "document.querySelector('[data-status=pending]')",
    )
    .await?;
    let url = dev.current_url().await.map_err(e("url"))?;
    let id = url
        .fragment()
        .and_then(|f| f.strip_prefix("/requests/"))
        .ok_or_else(|| format!("not on the request's page: {url}"))?
        .to_string();
    let waiting = text_of(&dev, ".steps").await?;
    if !waiting.contains("alice@example.com") {
        return Err(format!(
            "the request does not say alice must approve: {waiting}"
        ));
    }

    // The requester is not offered a decision on their own request.
    dev.goto(&format!("{portal}#/approve"))
        .await
        .map_err(e("queue"))?;
    until(&dev, "the requester's queue", "document.querySelector('main h1') && document.querySelector('main h1').textContent === 'To approve' && document.querySelector('main .cards, main h1 ~ div p')").await?;
    let offered = dev
        .find_all(Locator::Css(&format!(
            "[data-decide=\"{id}\"] [data-action=approve]"
        )))
        .await
        .map_err(e("queue"))?;
    if !offered.is_empty() {
        return Err("the requester is offered to approve their own request".into());
    }

    // The owner approves in a second browser session, with a reason.
    log_in(&owner, &format!("{portal}#/approve"), "alice").await?;
    click(&owner, "a[data-nav=approve]").await?;
    let card = text_of(&owner, &format!("[data-decide=\"{id}\"]")).await?;
    for want in [
        "dev@example.com",
        JUSTIFICATION,
        "logs-2026.11",
        "owner of logs-2026.11",
        "read, view_index_metadata",
    ] {
        if !card.contains(want) {
            return Err(format!("the approver's card lacks {want:?}: {card}"));
        }
    }
    // Markup typed by a requester stays text on the approver's page.
    let injected = owner
        .execute(
            "return document.querySelectorAll('main img, main script:not([src])').length",
            vec![],
        )
        .await
        .map_err(e("markup"))?;
    if injected != json!(0) {
        return Err("the requester's justification became markup".into());
    }
    shot(&owner, "3-approver-queue").await?;
    // Before deciding: exactly what the grant allows, and what its name is on the cluster now.
    click(&owner, &format!("[data-allows-link=\"{id}\"]")).await?;
    until(
        &owner,
        "what the grant allows",
        "document.querySelector('[data-resolved=\"logs-2026.11\"][data-kind=index]')",
    )
    .await?;
    let allows = text_of(&owner, "[data-allows]").await?;
    for want in [
        "index privileges read, view_index_metadata on 1 index or data stream: logs-2026.11",
        "no cluster privileges",
    ] {
        if !allows.contains(want) {
            return Err(format!("the request view lacks {want:?}: {allows}"));
        }
    }
    shot(&owner, "3b-what-the-grant-allows").await?;
    click(&owner, "a[data-nav=approve]").await?;
    until(
        &owner,
        "the queue again",
        &format!("document.querySelector('[data-reason=\"{id}\"]')"),
    )
    .await?;
    type_into(
        &owner,
        &format!("[data-reason=\"{id}\"]"),
        "ok for INC-4711",
    )
    .await?;
    click(
        &owner,
        &format!("[data-decide=\"{id}\"] [data-action=approve]"),
    )
    .await?;
    until(&owner, "the approval", "document.querySelector('.notice') && document.querySelector('.notice').textContent.includes('active')").await?;

    // The admin (same second browser, after logging out) edits the integration's access
    // details and sees the Preview as requesters will.
    click(&owner, "#logout").await?;
    until(&owner, "logged out", "document.querySelector('#login')").await?;
    log_in(&owner, &portal, "admin").await?;
    owner
        .goto(&format!("{portal}#/admin/integrations/{INTEGRATION}"))
        .await
        .map_err(e("admin"))?;
    let details = "Query logs with Kibana: https://kibana.example.com/app/discover\n\nTickets: #search-oncall";
    type_into(&owner, "[data-testid=custom-access-details]", details).await?;
    let counter = text_of(&owner, "[data-counter]").await?;
    let n = details.chars().count();
    if counter != format!("{n} / 400 characters") {
        return Err(format!("the counter says {counter:?}"));
    }
    let preview = text_of(&owner, "[data-preview]").await?;
    if !preview.contains("https://kibana.example.com/app/discover")
        || !preview.contains("Tickets: #search-oncall")
    {
        return Err(format!("the Preview shows {preview:?}"));
    }
    click(&owner, "form button[type=submit]").await?;
    until(
        &owner,
        "the saved integration",
        "document.querySelector('[data-saved]')",
    )
    .await?;
    owner
        .execute(
            "document.querySelector('[data-testid=custom-access-details]').closest('.field').scrollIntoView()",
            vec![],
        )
        .await
        .map_err(e("scroll"))?;
    shot(&owner, "4-admin-preview").await?;
    let preview_html = owner
        .execute(
            "return document.querySelector('[data-preview] [data-access-details]').outerHTML",
            vec![],
        )
        .await
        .map_err(e("preview"))?;

    // The failed revocations page answers from the API (none have failed here).
    owner
        .goto(&format!("{portal}#/admin/failed"))
        .await
        .map_err(e("failed revocations"))?;
    until(
        &owner,
        "the failed revocations page",
        "document.querySelector('main .notice') && document.querySelector('main .notice').textContent.includes('No failed revocation')",
    )
    .await?;

    // The audit log: the story so far, newest first; filtered to this integration's request
    // events; a window that ends before it starts is refused next to its field.
    owner
        .goto(&format!("{portal}#/admin/audit"))
        .await
        .map_err(e("audit log"))?;
    until(
        &owner,
        "the approval in the audit log",
        "document.querySelector('[data-audit-action=\"request.approved\"]')",
    )
    .await?;
    owner
        .execute(
            &format!(
                "document.querySelector('select[name=integration]').value = {}; \
                 document.querySelector('input[name=action]').value = 'request.'; \
                 document.querySelector('form.filters button[type=submit]').click();",
                json!(INTEGRATION)
            ),
            vec![],
        )
        .await
        .map_err(e("filter the audit log"))?;
    until(
        &owner,
        "only request events of the integration",
        "(() => { const rows = [...document.querySelectorAll('[data-audit-action]')]; \
         return rows.length > 0 && rows.every((r) => r.dataset.auditAction.startsWith('request.')) \
         && rows.some((r) => r.dataset.auditAction === 'request.created'); })()",
    )
    .await?;
    shot(&owner, "5-admin-audit").await?;
    owner
        .execute(
            "document.querySelector('input[name=since]').value = '2999-01-01T00:00'; \
             document.querySelector('form.filters button[type=submit]').click();",
            vec![],
        )
        .await
        .map_err(e("a window in the future"))?;
    let refusal = text_of(&owner, "input[name=since] + .field-error").await?;
    if !refusal.contains("since must not be after until") {
        return Err(format!("the refused window: {refusal:?}"));
    }

    // The flow's settings: a longest grant beyond the 90-day limit is refused in words next to
    // the field; a valid one is saved.
    owner
        .goto(&format!("{portal}#/admin/flows"))
        .await
        .map_err(e("flows"))?;
    click(&owner, &format!("[data-flow-link=\"{FLOW}\"]")).await?;
    type_into(&owner, "input[name=max_duration]", "100d").await?;
    click(&owner, "form button[type=submit]").await?;
    until(
        &owner,
        "the refused duration",
        "document.querySelector('.field-error, .error')",
    )
    .await?;
    let refusal = owner
        .execute(
            "return document.querySelector('.field-error, .error').textContent",
            vec![],
        )
        .await
        .map_err(e("refusal"))?;
    let refusal = refusal.as_str().unwrap_or_default();
    if refusal.is_empty() || refusal.contains('{') {
        return Err(format!("the flow's refusal is not in words: {refusal:?}"));
    }
    // Invalid notifications are refused next to their field, before anything is sent.
    type_into(&owner, "textarea[name=notifications]", "{not json").await?;
    click(&owner, "form button[type=submit]").await?;
    let refusal = text_of(&owner, "textarea[name=notifications] + .field-error").await?;
    if !refusal.contains("JSON object") {
        return Err(format!("the refused notifications: {refusal:?}"));
    }
    type_into(
        &owner,
        "textarea[name=notifications]",
        r#"{"emails": ["secops@example.com"]}"#,
    )
    .await?;
    type_into(&owner, "input[name=max_duration]", "8h").await?;
    // The form shows the flow's lifecycle settings; one is changed here.
    if value_of(&owner, "input[name=escalation_after]").await? != "6h" {
        return Err("the form does not show the flow's escalation".into());
    }
    type_into(&owner, "input[name=schedule_horizon]", "10d").await?;
    click(&owner, "form button[type=submit]").await?;
    until(
        &owner,
        "the saved flow",
        "document.querySelector('[data-saved]')",
    )
    .await?;
    let saved = admin_get(stack, &format!("/flows/{FLOW}")).await?;
    let kept = (
        saved["schedule_horizon"].as_str(),
        saved["approval"]["escalation"]["after"].as_str(),
        saved["approval"]["escalation"]["to"][0]["value"].as_str(),
        saved["notifications"]["emails"][0].as_str(),
        saved["extension"]["max_extensions"].as_u64(),
    );
    if kept
        != (
            // Durations come back in the API's own words.
            Some("10days"),
            Some("6h"),
            Some("leads"),
            Some("secops@example.com"),
            Some(1),
        )
    {
        return Err(format!("the form's save lost settings: {saved}"));
    }

    // The requester's page turns active by itself; the credentials are shown once, copied,
    // and work against Elasticsearch.
    dev.goto(&format!("{portal}#/requests/{id}"))
        .await
        .map_err(e("request"))?;
    click(&dev, "[data-action=show-credentials]").await?;
    let user = value_of(&dev, "[data-credential=username]").await?;
    let password = value_of(&dev, "[data-credential=password]").await?;
    let es_url = value_of(&dev, "[data-credential=url]").await?;
    click(&dev, "[data-copy=password]").await?;
    // The clipboard write is asynchronous: the button says so once it is done.
    until(
        &dev,
        "the password copied",
        "document.querySelector('[data-copy=password]').textContent === 'Copied'",
    )
    .await?;
    let shown = dev
        .execute(
            "return document.querySelector('[data-credentials] [data-access-details]').outerHTML",
            vec![],
        )
        .await
        .map_err(e("access details"))?;
    if shown != preview_html {
        return Err(format!(
            "the requester sees {shown} but the admin's Preview showed {preview_html}"
        ));
    }
    let countdown = text_of(&dev, ".countdown").await?;
    if !countdown.starts_with("expires in ") || !countdown.contains('m') {
        return Err(format!("countdown: {countdown}"));
    }
    // The screenshot must not carry the password.
    dev.execute(
        "document.querySelector('[data-credential=password]').type = 'password'",
        vec![],
    )
    .await
    .map_err(e("mask"))?;
    shot(&dev, "5-credentials").await?;
    let search = |u: String, p: String| {
        let http = stack.http.clone();
        let url = format!("{es_url}/logs-2026.11/_search");
        async move {
            http.get(url)
                .basic_auth(u, Some(p))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .map_err(|e| format!("Elasticsearch emulator: {e}"))
        }
    };
    let status = search(user.clone(), password.clone()).await?;
    if status != 200 {
        return Err(format!(
            "the copied credentials got {status} from Elasticsearch"
        ));
    }

    // Extend from the page (the flow, saved above through the admin's form, still offers it):
    // the grant's end moves, nothing is left to extend, and the credentials keep working.
    type_into(&dev, "[data-field=extend-duration]", "30m").await?;
    type_into(&dev, "[data-field=extend-justification]", "a little longer").await?;
    click(&dev, "[data-action=extend]").await?;
    until(
        &dev,
        "the extended grant",
        "document.querySelector('[data-extend]').textContent.includes('cannot be extended further')",
    )
    .await?;
    let status = search(user.clone(), password.clone()).await?;
    if status != 200 {
        return Err(format!("the extended grant's credentials got {status}"));
    }

    // Revoke from the page: the credentials stop working.
    click(&dev, "[data-action=revoke]").await?;
    until(
        &dev,
        "the revoked request",
        "document.querySelector('[data-status=revoked]')",
    )
    .await?;
    let status = search(user, password).await?;
    if status != 401 && status != 403 {
        return Err(format!("revoked credentials still get {status}"));
    }

    // A request that starts later: the form takes a start (the browser's local time), the
    // preview says when access would begin, and the requester withdraws it from its page.
    dev.goto(&format!("{portal}#/request"))
        .await
        .map_err(e("catalog"))?;
    click(&dev, &format!("[data-flow=\"{FLOW}\"] a")).await?;
    type_into(&dev, "[data-testid=resource-search]", "2026.11").await?;
    click(&dev, "input[data-resource=\"logs-2026.11\"]").await?;
    type_into(
        &dev,
        "textarea[name=justification]",
        "CHG-1042 planned reindex",
    )
    .await?;
    dev.execute(
        "const d = new Date(Date.now() + 3 * 3600 * 1000); const p = (n) => String(n).padStart(2, '0'); \
         const i = document.querySelector('input[name=starts_at]'); \
         i.value = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`; \
         i.dispatchEvent(new Event('change', { bubbles: true }));",
        vec![],
    )
    .await
    .map_err(e("set the start"))?;
    until(
        &dev,
        "the preview of the start",
        "document.querySelector('[data-approvers] [data-start]') && document.querySelector('[data-approvers] [data-start]').textContent.includes('Access would start at')",
    )
    .await?;
    click(&dev, "form button[type=submit]").await?;
    until(
        &dev,
        "the request with its start, pending",
        "document.querySelector('[data-status=pending]') && document.querySelector('[data-starts]')",
    )
    .await?;
    shot(&dev, "6-scheduled-request").await?;
    click(&dev, "[data-action=cancel]").await?;
    until(
        &dev,
        "the cancelled request",
        "document.querySelector('[data-status=cancelled]') && !document.querySelector('[data-action=cancel]')",
    )
    .await?;

    // My requests, at phone width.
    dev.set_window_size(390, 844).await.map_err(e("resize"))?;
    dev.goto(&format!("{portal}#/requests"))
        .await
        .map_err(e("my requests"))?;
    text_of(&dev, &format!("[data-request=\"{id}\"]")).await?;
    shot(&dev, "7-my-requests-phone").await?;
    no_token_stored(&dev).await?;

    let _ = dev.close().await;
    let _ = owner.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requester_an_owner_and_an_admin_do_the_story_in_chromium() {
    local_stack::run_on_stack(
        "portal browser story",
        local_stack::idp::IdpConfig::from_env(),
        |stack| {
            Box::pin(async move {
                set_up(stack).await?;
                let (_driver, url) = chromedriver(stack.log_dir()).await?;
                let profiles: PathBuf = stack.log_dir().join("chromium-profiles");
                story(stack, &url, &profiles).await
            })
        },
    )
    .await;
}

/// A session that really ends: access tokens that live 40 seconds and a refresh token that is
/// spent sooner, so when the access token expires the page cannot renew it silently. The user,
/// half-way through the request form, is sent to the identity provider's login and comes back
/// to the same form with what they typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_sends_the_user_to_log_in_again_and_keeps_the_form() {
    const ACCESS_TTL: Duration = Duration::from_secs(40);
    let idp = local_stack::idp::IdpConfig {
        access_token_ttl: ACCESS_TTL,
        refresh_token_ttl: Duration::from_secs(5),
        ..Default::default()
    };
    local_stack::run_on_stack("portal session expiry", idp, |stack| {
        Box::pin(async move {
            set_up(stack).await?;
            let (_driver, url) = chromedriver(stack.log_dir()).await?;
            let dev = browser(&url, &stack.log_dir().join("chromium-expiry")).await?;
            let portal = format!("{}/portal", stack.api_url);
            log_in(&dev, &portal, "dev").await?;
            let logged_in = Instant::now();
            // Through the page's own link: navigating would reload and forget the session.
            click(&dev, &format!("[data-flow=\"{FLOW}\"] a")).await?;
            type_into(&dev, "textarea[name=justification]", JUSTIFICATION).await?;
            type_into(&dev, "input[name=duration]", "2h").await?;
            if logged_in.elapsed() >= ACCESS_TTL {
                return Err(
                    "the machine is too slow: the form was filled after the token expired".into(),
                );
            }
            // No click, no reload: the page itself notices the end of the session.
            let login_page = dev
                .wait()
                .at_most(ACCESS_TTL + WAIT)
                .for_element(Locator::Css("#login-dev"))
                .await;
            login_page.map_err(e("the identity provider's login after the token expired"))?;
            if logged_in.elapsed() < ACCESS_TTL {
                return Err(format!(
                    "sent to log in after {:?}, before the token expired",
                    logged_in.elapsed()
                ));
            }
            click(&dev, "#login-dev").await?;
            until(
                &dev,
                "the form with what was typed, after logging in again",
                &format!(
                    "location.hash === '#/request/{FLOW}' \
                     && document.querySelector('textarea[name=justification]').value === {} \
                     && document.querySelector('input[name=duration]').value === '2h'",
                    json!(JUSTIFICATION)
                ),
            )
            .await?;
            no_token_stored(&dev).await?;
            let _ = dev.close().await;
            Ok(())
        })
    })
    .await;
}
