//! `plan`, `apply` and `export` against the whole local stack: an administrator declares an
//! integration and flows in YAML, sees the plan, applies it, applies it again (nothing is
//! written), changes a field, exports and plans the export (no change), prunes; bad files, a
//! developer's apply and the plan of someone who sees nothing at all are refused in one line
//! with their code and apply nothing.

mod common;

use std::path::Path;

use common::{Person, Ran, Res, admin_token, call, connector_secret};
use local_stack::stack::Stack;

const SEARCH: &str = "gitops-search";
/// Sorts after SEARCH: its refusal comes after SEARCH's update.
const OTHER: &str = "gitops-zz";

fn write(path: &Path, text: &str) -> Res<()> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The declared integration (`details`: its custom access details) and its two flows
/// (`logs_duration`: the first one's `max_duration`).
fn access(stack: &Stack, arn: &str, details: &str, logs_duration: &str) -> String {
    format!(
        "# The search platform's access, as code.\n\
integrations:\n  {SEARCH}:\n    kind: elasticsearch\n    url: {}\n    secret_arn: {arn}\n    \
allow_insecure_http: true\n    custom_access_details: {details}\n    \
integration_owners: [{{type: group, value: search-platform}}]\n\
flows:\n  gitops-logs:\n    integration: {SEARCH}\n    requesters: [{{type: group, value: developers}}]\n    \
resources: ['logs-*']\n    permissions: [read]\n    max_duration: {logs_duration}\n    \
require_justification: true\n  gitops-metrics:\n    integration: {SEARCH}\n    \
requesters: [{{type: group, value: developers}}]\n    resources: ['metrics-*']\n    \
permissions: [read]\n",
        stack.es_url
    )
}

/// Every integration's and flow's name, version and update time: what a write would change.
async fn versions(stack: &Stack, admin: &str) -> Res<Vec<String>> {
    let mut out = Vec::new();
    for (path, key) in [("/integrations", "integrations"), ("/flows", "flows")] {
        let (status, v) = call(stack, admin, reqwest::Method::GET, path, None).await?;
        if status != 200 {
            return Err(format!("GET {path}: {status} {v}"));
        }
        for i in v[key].as_array().into_iter().flatten() {
            out.push(format!(
                "{key}/{} v{} {}",
                i["name"].as_str().unwrap_or(""),
                i["version"],
                i["updated_at"]
            ));
        }
    }
    out.sort();
    Ok(out)
}

fn ok(r: Ran, what: &str) -> Res<Ran> {
    if r.code == 0 {
        Ok(r)
    } else {
        Err(format!("{what}: exited {}: {}", r.code, r.stderr))
    }
}

/// Refused: the exit code, and one error line (the last; progress lines may come before it)
/// ending with the stable code.
fn refused(r: &Ran, exit: i32, code: &str, what: &str) -> Res<()> {
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    let last = r.stderr.trim().lines().last().unwrap_or_default();
    if r.code != exit || errors != [last] || !last.ends_with(&format!("({code})")) {
        return Err(format!("{what}: exited {} with {:?}", r.code, r.stderr));
    }
    Ok(())
}

async fn story(stack: &Stack) -> Res<()> {
    let root = stack.log_dir().join("apply");
    let _ = std::fs::remove_dir_all(&root);
    let files = root.join("access");
    let exported = root.join("exported");
    for d in [&files, &exported] {
        std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
    }
    let arn = connector_secret(stack, SEARCH).await?;
    let other_arn = connector_secret(stack, OTHER).await?;
    let admin_api = admin_token(stack).await?;
    let (admin, dev) = (Person::new(&root, "admin"), Person::new(&root, "dev"));
    admin.login(stack, "admin").await?;
    dev.login(stack, "dev").await?;
    let main = files.join("search.yaml");
    let dir = files.to_str().ok_or("path")?;
    write(&main, &access(stack, &arn, "one", "2h"))?;

    // The plan of a new file: creates, integration first, and it changes nothing.
    let plan = admin.json(&["plan", "-f", dir, "-o", "json"])?;
    let order: Vec<String> = plan["changes"]
        .as_array()
        .ok_or("no changes")?
        .iter()
        .map(|c| format!("{} {} {}", c["action"], c["kind"], c["name"]).replace('"', ""))
        .collect();
    if order
        != [
            format!("create integration {SEARCH}"),
            "create flow gitops-logs".into(),
            "create flow gitops-metrics".into(),
        ]
    {
        return Err(format!("first plan: {plan}"));
    }
    let r = admin.run(&["plan", "-f", dir, "--exit-code"])?;
    if r.code != 7 || !r.stdout.contains(&format!("+ integration {SEARCH}")) {
        return Err(format!("plan --exit-code: {} {}", r.code, r.stdout));
    }
    // Not a terminal and no --yes: refused, nothing applied.
    let r = admin.run(&["apply", "-f", dir])?;
    refused(&r, 6, "confirmation_required", "apply without --yes")?;
    if !versions(stack, &admin_api).await?.is_empty() {
        return Err("an unconfirmed apply wrote something".into());
    }

    // Applied; the second apply changes nothing and writes nothing.
    let r = ok(admin.run(&["apply", "-f", dir, "--yes"])?, "first apply")?;
    if !r.stderr.contains("Applied: 3 create, 0 change, 0 delete.") {
        return Err(format!("first apply said {}", r.stderr));
    }
    let before = versions(stack, &admin_api).await?;
    if before.len() != 3 {
        return Err(format!("after the first apply: {before:?}"));
    }
    let r = ok(admin.run(&["apply", "-f", dir, "--yes"])?, "second apply")?;
    if !r.stdout.starts_with("No changes") || versions(stack, &admin_api).await? != before {
        return Err(format!("the second apply: {} {}", r.stdout, r.stderr));
    }
    ok(
        admin.run(&["plan", "-f", dir, "--exit-code"])?,
        "plan, no changes",
    )?;

    // A change: the field's diff, old → new; only that flow is written.
    write(&main, &access(stack, &arn, "one", "4h"))?;
    let r = ok(admin.run(&["plan", "-f", dir])?, "plan of a change")?;
    if !r.stdout.contains("~ flow gitops-logs")
        || !r.stdout.contains("max_duration: \"2h\" → \"4h\"")
        || !r
            .stdout
            .contains("Plan: 0 to create, 1 to change, 0 to delete.")
    {
        return Err(format!("plan of a change: {}", r.stdout));
    }
    ok(admin.run(&["apply", "-f", dir, "-y"])?, "apply a change")?;
    let after = versions(stack, &admin_api).await?;
    let changed: Vec<&String> = after.iter().filter(|v| !before.contains(v)).collect();
    if changed.len() != 1 || !changed[0].starts_with("flows/gitops-logs ") {
        return Err(format!("the change wrote {changed:?}"));
    }
    let (_, flow) = call(
        stack,
        &admin_api,
        reqwest::Method::GET,
        "/flows/gitops-logs",
        None,
    )
    .await?;
    if flow["max_duration"] != "4h" {
        return Err(format!("the flow after the change: {flow}"));
    }

    // Export round-trips: planning the exported files shows no change, even with --prune.
    let out = exported.to_str().ok_or("path")?;
    ok(admin.run(&["export", out])?, "export")?;
    let r = admin.run(&["plan", "-f", out, "--prune", "--exit-code"])?;
    if r.code != 0 || !r.stdout.starts_with("No changes") {
        return Err(format!(
            "plan of the export: {} {} {}",
            r.code, r.stdout, r.stderr
        ));
    }
    let yaml = ok(admin.run(&["export"])?, "export to stdout")?.stdout;
    if !yaml.contains(&format!("  {SEARCH}:\n    kind: elasticsearch")) || yaml.contains("version")
    {
        return Err(format!("export: {yaml}"));
    }
    let r = admin.run(&["export", out])?;
    refused(&r, 6, "file_exists", "export over existing files")?;

    // Bad files: one line, exit 6, nothing applied.
    let now = versions(stack, &admin_api).await?;
    let bad = root.join("bad.yaml");
    let cases = [
        ("integrations: [\n", "invalid_yaml"),
        (
            "integrations:\n  x:\n    kind: elasticsearch\n    password: hunter2\n",
            "unknown_field",
        ),
        (
            "flows:\n  gitops-logs:\n    integration: gitops-search\n    requesters: []\n",
            "duplicate_name",
        ),
        (
            "flows:\n  stray:\n    integration: nowhere\n    requesters: []\n",
            "unknown_integration",
        ),
    ];
    for (text, code) in cases {
        write(&bad, text)?;
        let r = admin.run(&["apply", "-f", dir, bad.to_str().ok_or("path")?, "--yes"])?;
        refused(&r, 6, code, code)?;
        if r.stderr.contains("hunter2") {
            return Err("an error echoed a secret".into());
        }
    }
    if versions(stack, &admin_api).await? != now {
        return Err("a refused file applied something".into());
    }

    // The API refuses half-way (a connector secret bound to another integration): its code in
    // one line, what was applied before it (in the plan's order), and a re-run continues from
    // there.
    write(
        &bad,
        &format!(
            "integrations:\n  {OTHER}:\n    kind: elasticsearch\n    url: {}\n    \
             secret_arn: {arn}\n    allow_insecure_http: true\n",
            stack.es_url
        ),
    )?;
    let with_bad = ["apply", "-f", dir, bad.to_str().ok_or("path")?, "--yes"];
    write(&main, &access(stack, &arn, "two", "3h"))?;
    let r = admin.run(&with_bad)?;
    refused(&r, 1, "validation_failed", "a refused PUT")?;
    if !r.stderr.contains("(connector_secret_not_bound)")
        || !r
            .stderr
            .contains(&format!("create integration {OTHER} failed"))
        || !r.stderr.contains(&format!(
            "applied before it (1 of 3): update integration {SEARCH}"
        ))
    {
        return Err(format!("a refused PUT: {}", r.stderr));
    }
    write(
        &bad,
        &std::fs::read_to_string(&bad)
            .map_err(|e| e.to_string())?
            .replace(&arn, &other_arn),
    )?;
    let r = ok(admin.run(&with_bad)?, "the re-run")?;
    if !r.stderr.contains("Applied: 1 create, 1 change, 0 delete.")
        || r.stderr.contains(&format!("update integration {SEARCH}"))
    {
        return Err(format!("the re-run: {}", r.stderr));
    }

    // --prune deletes only what no file declares (the second integration, a flow), flows first.
    let text = access(stack, &arn, "two", "3h");
    write(
        &main,
        &text[..text.find("  gitops-metrics:").ok_or("no metrics")?],
    )?;
    let plan = admin.json(&["plan", "-f", dir, bad.to_str().ok_or("path")?, "-o", "json"])?;
    if plan["delete"] != 0 {
        return Err(format!("a plan without --prune deletes: {plan}"));
    }
    let plan = admin.json(&["plan", "-f", dir, "--prune", "-o", "json"])?;
    let deletes: Vec<String> = plan["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| format!("{} {} {}", c["action"], c["kind"], c["name"]).replace('"', ""))
        .collect();
    if deletes
        != [
            "delete flow gitops-metrics".to_string(),
            format!("delete integration {OTHER}"),
        ]
    {
        return Err(format!("the prune plan: {plan}"));
    }
    let kept = versions(stack, &admin_api).await?;
    ok(
        admin.run(&["apply", "-f", dir, "--prune", "--yes"])?,
        "prune",
    )?;
    let left = versions(stack, &admin_api).await?;
    let expected: Vec<&String> = kept
        .iter()
        .filter(|v| !v.contains("gitops-metrics ") && !v.contains(&format!("{OTHER} ")))
        .collect();
    if left.iter().collect::<Vec<_>>() != expected {
        return Err(format!("after the prune: {left:?} (was {kept:?})"));
    }

    // A developer (not an administrator) is refused with the API's code, and nothing changes.
    let r = dev.run(&["apply", "-f", dir, "--yes"])?;
    refused(&r, 1, "forbidden", "a developer's apply")?;
    if versions(stack, &admin_api).await? != left {
        return Err("a developer's apply changed something".into());
    }
    // Someone who may request through none of these flows sees no integration and no flow:
    // not an empty stack to fill, but refused up front with the API's code by every command.
    let alice = Person::new(&root, "alice");
    alice.login(stack, "alice").await?;
    let (_, seen) = call(stack, &admin_api, reqwest::Method::GET, "/flows", None).await?;
    if seen["flows"].as_array().is_none_or(Vec::is_empty) {
        return Err("nothing deployed for alice not to see".into());
    }
    for args in [
        &["plan", "-f", dir][..],
        &["apply", "-f", dir, "--yes"],
        &["export"],
    ] {
        let r = alice.run(args)?;
        refused(&r, 1, "forbidden", &format!("alice's {}", args[0]))?;
        if r.stdout.contains("create") {
            return Err(format!("alice got a plan: {}", r.stdout));
        }
    }
    if versions(stack, &admin_api).await? != left {
        return Err("a non-administrator's apply changed something".into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_plan_apply_and_export_access_as_code() {
    local_stack::run_on_stack(
        "apply story",
        local_stack::idp::IdpConfig::from_env(),
        |stack| Box::pin(story(stack)),
    )
    .await;
}
