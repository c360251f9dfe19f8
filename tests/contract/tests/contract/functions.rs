//! The five functions as the code expects to be run: names, runtime, build, logging, and the
//! environment each reads at start-up (a missing variable fails every cold start).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::common::{binary_of, resources_of, template};

fn property<'a>(t: &'a Value, function: &'a Value, name: &str) -> &'a Value {
    match function["Properties"].get(name) {
        Some(v) => v,
        None => &t["Globals"]["Function"][name],
    }
}

fn environment(t: &Value, function: &Value) -> BTreeSet<String> {
    let global = t["Globals"]["Function"]["Environment"]["Variables"].as_object();
    let own = function["Properties"]["Environment"]["Variables"].as_object();
    global
        .into_iter()
        .chain(own)
        .flat_map(|m| m.keys().cloned())
        .collect()
}

#[test]
fn every_function_built_with_cargo_lambda_for_arm64() {
    let t = template();
    let makefile =
        std::fs::read_to_string(crate::common::infra_file("Makefile")).expect("infra/Makefile");
    let mut seen = BTreeMap::new();
    for (id, f) in resources_of(&t, "AWS::Serverless::Function") {
        let name = binary_of(f);
        // `sam build` compiles nothing: infra/Makefile, run from the repository root, packages
        // the bootstrap the one workspace build made for this function.
        assert_eq!(f["Metadata"]["BuildMethod"], "makefile", "{id}");
        assert_eq!(f["Metadata"]["ContextPath"], ".", "{id}: infra/Makefile");
        assert_eq!(
            f["Metadata"]["WorkingDirectory"], "..",
            "{id}: the repository root"
        );
        assert!(
            makefile.contains(&format!("build-{id}:\n\t$(call package,{name})\n")),
            "{id}: infra/Makefile packages target/lambda/{name}/bootstrap"
        );
        assert_eq!(
            f["Properties"]["CodeUri"],
            format!("../functions/{name}"),
            "{id}: the function's own package in the workspace"
        );
        assert!(
            crate::common::infra_file(&format!("../functions/{name}/Cargo.toml")).exists(),
            "{id}: CodeUri is a package of the workspace"
        );
        assert_eq!(property(&t, f, "Runtime"), "provided.al2023", "{id}");
        assert_eq!(property(&t, f, "Handler"), "bootstrap", "{id}");
        assert_eq!(
            property(&t, f, "Architectures"),
            &serde_json::json!(["arm64"]),
            "{id}"
        );
        let logging = &f["Properties"]["LoggingConfig"];
        assert_eq!(
            logging["LogFormat"], "JSON",
            "{id}: AWS_LAMBDA_LOG_FORMAT=JSON"
        );
        assert_eq!(
            logging["ApplicationLogLevel"], "INFO",
            "{id}: never TRACE (raw events)"
        );
        let group = logging["LogGroup"]["Ref"]
            .as_str()
            .expect("LoggingConfig.LogGroup");
        assert_eq!(
            t["Resources"][group]["Properties"]["RetentionInDays"]["Ref"], "LogRetentionDays",
            "{id}: its log group has the retention parameter"
        );
        let timeout = property(&t, f, "Timeout").as_u64().expect("Timeout");
        let memory = property(&t, f, "MemorySize").as_u64().expect("MemorySize");
        seen.insert(name.to_string(), (timeout, memory));
    }
    let expected: BTreeMap<String, (u64, u64)> = [
        ("cleanup", (300, 512)),
        ("discover", (30, 256)),
        ("notify", (60, 256)),
        ("provision", (30, 256)),
        ("revoke", (30, 256)),
        ("rotate", (60, 256)),
        ("portal", (10, 128)),
        ("proxy", (30, 256)),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_string(), v))
    .collect();
    assert_eq!(seen, expected, "function -> (timeout, memory)");
}

#[test]
fn each_function_gets_the_environment_it_reads() {
    let t = template();
    let api = [
        "TABLE_NAME",
        "CONNECTOR_SECRET_PREFIX",
        "ADMIN_GROUP",
        "GROUPS_CLAIM",
        "IDP_EMAIL_AUTHORITATIVE",
    ];
    let expected: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("discover", api.to_vec()),
        (
            "provision",
            [
                api.as_slice(),
                &[
                    "CREDENTIAL_SECRET_PREFIX",
                    "SCHEDULE_GROUP",
                    "REVOKE_FUNCTION_ARN",
                    "SCHEDULER_ROLE_ARN",
                    "MAX_OPEN_REQUESTS",
                    "SLACK_SECRET_ARN",
                    "SLACK_TRUST_EMAIL",
                    "SLACK_TRUST_GROUPS_FOR",
                    "SLACK_TEAM_ID",
                    "SLACK_CLICK_QUEUE_URL",
                    "PUBLIC_URL",
                ],
            ]
            .concat(),
        ),
        (
            "revoke",
            [
                api.as_slice(),
                &["CREDENTIAL_SECRET_PREFIX", "SCHEDULE_GROUP"],
            ]
            .concat(),
        ),
        (
            "rotate",
            [api.as_slice(), &["CREDENTIAL_SECRET_PREFIX"]].concat(),
        ),
        (
            "notify",
            vec![
                "TABLE_NAME",
                "CONNECTOR_SECRET_PREFIX",
                "PUBLIC_URL",
                "SLACK_SECRET_ARN",
                "SLACK_BUTTONS",
                "EMAIL_FROM",
                "OPS_SLACK_CHANNEL",
                "OPS_EMAILS",
            ],
        ),
        (
            "cleanup",
            vec![
                "TABLE_NAME",
                "CONNECTOR_SECRET_PREFIX",
                "CREDENTIAL_SECRET_PREFIX",
                "SCHEDULE_GROUP",
                // Missed scheduled starts are armed again, to provision, as SchedulerRole.
                "PROVISION_FUNCTION_ARN",
                "SCHEDULER_ROLE_ARN",
            ],
        ),
        // The globals reach it too; it reads only its OIDC settings (portal::Config).
        (
            "portal",
            vec![
                "TABLE_NAME",
                "CONNECTOR_SECRET_PREFIX",
                "OIDC_ISSUER",
                "OIDC_CLIENT_ID",
                "OIDC_SCOPES",
                "OIDC_CONNECT_ORIGINS",
            ],
        ),
        (
            "proxy",
            vec![
                "TABLE_NAME",
                "CONNECTOR_SECRET_PREFIX",
                "PROXY_INTEGRATION",
                "PROXY_CACHE_TTL_MS",
                "PROXY_CATALOG_TTL_MS",
                "PROXY_CONFIG_TTL_MS",
                "PROXY_UPSTREAM_TIMEOUT_SECS",
            ],
        ),
    ]);
    for (id, f) in resources_of(&t, "AWS::Serverless::Function") {
        let name = binary_of(f);
        let want: BTreeSet<String> = expected[name].iter().map(|v| (*v).to_string()).collect();
        assert_eq!(environment(&t, f), want, "{id}: environment variables");
    }
}

#[test]
fn schedules_drive_the_sweep_the_discovery_and_the_requester_rotation() {
    let t = template();
    let mut schedules = BTreeMap::new();
    for (_, f) in resources_of(&t, "AWS::Serverless::Function") {
        for event in f["Properties"]["Events"]
            .as_object()
            .into_iter()
            .flat_map(|e| e.values())
        {
            if event["Type"] == "Schedule" {
                let expr = event["Properties"]["Schedule"]
                    .as_str()
                    .expect("Schedule")
                    .to_string();
                schedules.insert(binary_of(f).to_string(), expr);
            }
        }
    }
    assert_eq!(schedules["cleanup"], "rate(5 minutes)");
    assert_eq!(schedules["discover"], "rate(1 hour)");
    assert!(
        schedules["rotate"].starts_with("cron(") && schedules["rotate"].contains("* * ? *)"),
        "rotate runs daily: {}",
        schedules["rotate"]
    );
    assert_eq!(schedules.len(), 3);
}
