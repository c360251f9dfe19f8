//! Least privilege: every action named, never a wildcard action, never a Scan, and each function's
//! role allowed exactly the calls that function makes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::common::{binary_of, resources_of, template};

/// Every statement of every policy document in the template, with where it is.
fn statements(t: &Value) -> Vec<(String, &Value)> {
    fn walk<'a>(at: String, v: &'a Value, out: &mut Vec<(String, &'a Value)>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    if (k == "PolicyDocument" || k == "AssumeRolePolicyDocument")
                        && let Some(list) = child["Statement"].as_array()
                    {
                        for (i, s) in list.iter().enumerate() {
                            out.push((format!("{at}.{k}.Statement[{i}]"), s));
                        }
                    }
                    walk(format!("{at}.{k}"), child, out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(format!("{at}[{i}]"), child, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("Resources".into(), &t["Resources"], &mut out);
    out
}

fn actions(statement: &Value) -> Vec<&str> {
    match &statement["Action"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a
            .iter()
            .map(|a| a.as_str().expect("action is a string"))
            .collect(),
        other => panic!("Action must be a string or a list, got {other}"),
    }
}

#[test]
fn every_action_is_concrete_and_nothing_scans() {
    let t = template();
    let all = statements(&t);
    assert!(all.len() > 10, "policy statements were found");
    for (at, s) in &all {
        assert!(
            s.get("NotAction").is_none(),
            "{at}: NotAction grants everything else"
        );
        assert!(s.get("NotResource").is_none(), "{at}: NotResource");
        // The one Deny: the click queue's policy keeps every other principal from sending.
        let queue_guard = at.starts_with("Resources.SlackClickQueuePolicy.");
        assert_eq!(
            s["Effect"],
            if queue_guard { "Deny" } else { "Allow" },
            "{at}: only Allow statements are expected (and the click queue's guard)"
        );
        for a in actions(s) {
            let (service, name) = a
                .split_once(':')
                .unwrap_or_else(|| panic!("{at}: {a:?} is not service:Action"));
            assert!(
                !service.is_empty()
                    && service
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric()),
                "{at}: {a:?} must be one concrete action (no `*`)"
            );
            assert_ne!(a, "dynamodb:Scan", "{at}: no Scan on any path");
            assert_ne!(
                a, "dynamodb:TransactWriteItems",
                "{at}: not an IAM action (transactions are authorized per item)"
            );
        }
        // `*` may appear only inside a resource ARN, never as the whole resource.
        let resources: Vec<&Value> = match &s["Resource"] {
            Value::Array(list) => list.iter().collect(),
            Value::Null => vec![],
            one => vec![one],
        };
        for r in resources {
            assert_ne!(r, "*", "{at}: a wildcard resource");
        }
    }
}

fn policy_actions(role: &Value) -> BTreeSet<String> {
    role["Properties"]["Policies"]
        .as_array()
        .expect("inline policies")
        .iter()
        .flat_map(|p| {
            p["PolicyDocument"]["Statement"]
                .as_array()
                .expect("statements")
        })
        .flat_map(|s| actions(s).into_iter().map(str::to_string))
        .collect()
}

/// The calls each function makes (shared/src/store, secrets, scheduler; see the function crates).
fn expected_actions() -> BTreeMap<&'static str, BTreeSet<String>> {
    let logs = ["logs:CreateLogStream", "logs:PutLogEvents"];
    let state = [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
    ];
    let per_function: [(&str, &[&str]); 5] = [
        (
            "discover",
            &[
                "dynamodb:BatchWriteItem",
                "dynamodb:BatchGetItem",
                "secretsmanager:GetSecretValue",
            ],
        ),
        (
            "provision",
            &[
                "dynamodb:BatchGetItem",
                "dynamodb:UpdateItem",
                "secretsmanager:GetSecretValue",
                "secretsmanager:CreateSecret",
                "secretsmanager:PutSecretValue",
                "secretsmanager:DescribeSecret",
                "secretsmanager:TagResource",
                "scheduler:CreateSchedule",
                "scheduler:UpdateSchedule",
                // A cancelled request's start schedule.
                "scheduler:DeleteSchedule",
                "iam:PassRole",
                // The Slack click queue: the route sends, the event source receives as it.
                "sqs:SendMessage",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
            ],
        ),
        (
            "revoke",
            &[
                "dynamodb:BatchGetItem",
                "dynamodb:UpdateItem",
                "secretsmanager:GetSecretValue",
                "secretsmanager:DeleteSecret",
                "scheduler:DeleteSchedule",
            ],
        ),
        (
            "cleanup",
            &[
                "dynamodb:BatchGetItem",
                "dynamodb:UpdateItem",
                "secretsmanager:GetSecretValue",
                "secretsmanager:DeleteSecret",
                "scheduler:DeleteSchedule",
                // Missed scheduled starts are armed again (the provision function provisions).
                "scheduler:CreateSchedule",
                "scheduler:UpdateSchedule",
                "iam:PassRole",
            ],
        ),
        (
            "rotate",
            &[
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:DescribeSecret",
                "secretsmanager:UpdateSecretVersionStage",
                "secretsmanager:RotateSecret",
                "secretsmanager:ListSecretVersionIds",
            ],
        ),
    ];
    let notify: BTreeSet<String> = [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
        "sqs:SendMessage",
        "secretsmanager:GetSecretValue",
        "ses:SendEmail",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    let mut out: BTreeMap<&'static str, BTreeSet<String>> = per_function
        .into_iter()
        .map(|(f, own)| {
            let set = logs
                .iter()
                .chain(state.iter())
                .chain(own.iter())
                .map(|a| (*a).to_string())
                .collect();
            (f, set)
        })
        .chain(std::iter::once(("notify", notify)))
        .collect();
    // The portal serves embedded files: it touches nothing of AWS but its logs.
    out.insert("portal", logs.iter().map(|a| (*a).to_string()).collect());
    // The proxy reads grant records and its integration by key, and its connector secret.
    out.insert(
        "proxy",
        logs.iter()
            .chain(&["dynamodb:GetItem", "secretsmanager:GetSecretValue"])
            .map(|a| (*a).to_string())
            .collect(),
    );
    out
}

#[test]
fn each_function_role_allows_exactly_what_the_function_calls() {
    let t = template();
    let mut expected = expected_actions();
    for (id, function) in resources_of(&t, "AWS::Serverless::Function") {
        let name = binary_of(function);
        assert!(
            function["Properties"].get("Policies").is_none(),
            "{id}: permissions belong in its own role, not SAM policy templates"
        );
        let role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: Role is !GetAtt <its role>.Arn"));
        let role = &t["Resources"][role_id];
        assert_eq!(
            role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
            "lambda.amazonaws.com",
            "{role_id}"
        );
        let want = expected
            .remove(name)
            .unwrap_or_else(|| panic!("{id}: unexpected function {name}"));
        assert_eq!(policy_actions(role), want, "{role_id} ({name})");
    }
    assert!(
        expected.is_empty(),
        "functions missing from the template: {:?}",
        expected.keys()
    );
}

#[test]
fn the_scheduler_role_may_only_invoke_the_revoke_and_provision_functions() {
    let t = template();
    let role = &t["Resources"]["SchedulerRole"];
    assert_eq!(
        role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "scheduler.amazonaws.com"
    );
    assert_eq!(
        policy_actions(role),
        BTreeSet::from(["lambda:InvokeFunction".to_string()])
    );
    let statement = &role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0];
    assert_eq!(
        statement["Resource"],
        serde_json::json!({ "Fn::GetAtt": ["RevokeFunction", "Arn"] })
    );
    // Start schedules invoke the provision function, through a policy of its own (inline, it
    // would make the role and the function refer to each other); no other policy names the role.
    let attached: Vec<(String, &Value)> = resources_of(&t, "AWS::IAM::Policy")
        .into_iter()
        .filter(|(_, p)| {
            p["Properties"]["Roles"]
                .as_array()
                .is_some_and(|r| r.contains(&serde_json::json!({ "Ref": "SchedulerRole" })))
        })
        .map(|(id, p)| (id.to_string(), p))
        .collect();
    assert_eq!(attached.len(), 1, "{attached:?}");
    let doc = &attached[0].1["Properties"]["PolicyDocument"];
    let statements = doc["Statement"].as_array().expect("statements");
    assert_eq!(statements.len(), 1);
    assert_eq!(actions(&statements[0]), vec!["lambda:InvokeFunction"]);
    assert_eq!(statements[0]["Effect"], "Allow");
    assert_eq!(
        statements[0]["Resource"],
        serde_json::json!({ "Fn::GetAtt": ["ProvisionFunction", "Arn"] })
    );
}

/// `!Sub` ARN text of a statement's resource(s).
fn resource_texts(statement: &Value) -> Vec<String> {
    let list: Vec<&Value> = match &statement["Resource"] {
        Value::Array(l) => l.iter().collect(),
        Value::Null => vec![],
        one => vec![one],
    };
    list.iter()
        .map(|r| match r {
            Value::String(s) => s.clone(),
            other => other
                .get("Fn::Sub")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| other.to_string()),
        })
        .collect()
}

const CONNECTOR_SECRETS: &str = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${ConnectorSecretPrefix}*";
/// The proxy's own integration's connector secret, by both names it may have (see "Connector
/// secrets": `<prefix><integration>` with Secrets Manager's suffix, or under
/// `<prefix><integration>/`): the internet-facing proxy reads no other cluster's credentials.
const PROXY_CONNECTOR_SECRETS: [&str; 2] = [
    "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${ConnectorSecretPrefix}${ProxyIntegration}-??????",
    "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${ConnectorSecretPrefix}${ProxyIntegration}/*",
];
const CREDENTIAL_SECRETS: &str = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${CredentialSecretPrefix}*";
/// The Slack app's secret and the webhooks' HMAC keys (notify reads them all).
const NOTIFY_SECRETS: &str = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${NotifySecretPrefix}*";
/// The Slack app's secret alone (provision, for the Slack interactions route).
const SLACK_SECRET: &str = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${NotifySecretPrefix}slack-*";

/// Which Secrets Manager calls each function makes on which secrets: connector secrets are
/// only read (and rotated by rotate); requester credential secrets are written by provision,
/// rotated by rotate, and only deleted by revoke and cleanup, which never read one.
#[test]
fn secrets_manager_calls_are_scoped_to_the_secrets_each_function_handles() {
    let t = template();
    let connector_read = ["secretsmanager:GetSecretValue"];
    let expected: BTreeMap<&str, (Vec<&str>, Vec<&str>)> = BTreeMap::from([
        ("discover", (connector_read.to_vec(), vec![])),
        (
            "provision",
            (
                connector_read.to_vec(),
                vec![
                    "secretsmanager:CreateSecret",
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:TagResource",
                ],
            ),
        ),
        (
            "revoke",
            (connector_read.to_vec(), vec!["secretsmanager:DeleteSecret"]),
        ),
        ("notify", (vec![], vec![])),
        (
            "cleanup",
            (connector_read.to_vec(), vec!["secretsmanager:DeleteSecret"]),
        ),
        (
            "rotate",
            (
                vec![
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:GetSecretValue",
                    // setSecret looks for the version an interrupted rotation left on the target.
                    "secretsmanager:ListSecretVersionIds",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:RotateSecret",
                    "secretsmanager:UpdateSecretVersionStage",
                ],
                vec![
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:UpdateSecretVersionStage",
                ],
            ),
        ),
        // The portal reads no secret at all.
        ("portal", (vec![], vec![])),
        // The proxy reads only its own connector secret (below); grant secrets (the plaintext
        // credentials) never.
        ("proxy", (vec![], vec![])),
    ]);
    for (id, function) in resources_of(&t, "AWS::Serverless::Function") {
        let name = binary_of(function);
        let role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
            .as_str()
            .unwrap();
        let mut on: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for policy in t["Resources"][role_id]["Properties"]["Policies"]
            .as_array()
            .unwrap()
        {
            for st in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                for a in actions(st)
                    .into_iter()
                    .filter(|a| a.starts_with("secretsmanager:"))
                {
                    for r in resource_texts(st) {
                        assert!(
                            [
                                CONNECTOR_SECRETS,
                                CREDENTIAL_SECRETS,
                                NOTIFY_SECRETS,
                                SLACK_SECRET
                            ]
                            .contains(&r.as_str())
                                || (name == "proxy"
                                    && PROXY_CONNECTOR_SECRETS.contains(&r.as_str())),
                            "{id}: {a} on {r}: secrets calls are scoped to one of the prefixes"
                        );
                        on.entry(r).or_default().insert(a.to_string());
                    }
                }
            }
        }
        let (connector, credential) = &expected[name];
        let set = |v: &Vec<&str>| v.iter().map(|a| a.to_string()).collect::<BTreeSet<_>>();
        for r in PROXY_CONNECTOR_SECRETS {
            let want = if name == "proxy" {
                set(&vec!["secretsmanager:GetSecretValue"])
            } else {
                BTreeSet::new()
            };
            assert_eq!(on.remove(r).unwrap_or_default(), want, "{id}: {r}");
        }
        assert_eq!(
            on.remove(CONNECTOR_SECRETS).unwrap_or_default(),
            set(connector),
            "{id}: connector secrets"
        );
        assert_eq!(
            on.remove(CREDENTIAL_SECRETS).unwrap_or_default(),
            set(credential),
            "{id}: credential secrets"
        );
        // Slack's and the webhooks' secrets are read only by the two functions that use them.
        let read = set(&vec!["secretsmanager:GetSecretValue"]);
        let (notify_secrets, slack_secret) = match name {
            "notify" => (read.clone(), BTreeSet::new()),
            "provision" => (BTreeSet::new(), read.clone()),
            _ => (BTreeSet::new(), BTreeSet::new()),
        };
        assert_eq!(
            on.remove(NOTIFY_SECRETS).unwrap_or_default(),
            notify_secrets,
            "{id}: notify secrets"
        );
        assert_eq!(
            on.remove(SLACK_SECRET).unwrap_or_default(),
            slack_secret,
            "{id}: the Slack secret"
        );
    }
}

#[test]
fn only_connector_secret_rotations_in_this_account_may_invoke_rotate() {
    let t = template();
    let perms = resources_of(&t, "AWS::Lambda::Permission");
    assert!(!perms.is_empty());
    for (id, p) in perms {
        let props = &p["Properties"];
        if props["Principal"] != "secretsmanager.amazonaws.com" {
            continue;
        }
        assert_eq!(
            props["SourceAccount"],
            serde_json::json!({"Ref": "AWS::AccountId"}),
            "{id}"
        );
        assert_eq!(
            props["SourceArn"]["Fn::Sub"].as_str(),
            Some(CONNECTOR_SECRETS),
            "{id}: SourceArn limits invocations to rotations of connector secrets"
        );
    }
}

#[test]
fn the_slack_click_queue_is_provisions_alone_and_outlasts_a_decision() {
    let t = template();
    let provision = resources_of(&t, "AWS::Serverless::Function")
        .into_iter()
        .find(|(_, f)| binary_of(f) == "provision")
        .map(|(_, f)| f)
        .expect("provision");
    let event = &provision["Properties"]["Events"]["SlackClicks"];
    assert_eq!(event["Type"], "SQS");
    assert_eq!(
        event["Properties"]["Queue"]["Fn::GetAtt"][0],
        "SlackClickQueue"
    );
    assert_eq!(
        event["Properties"]["FunctionResponseTypes"][0], "ReportBatchItemFailures",
        "a click that failed alone is redelivered alone"
    );
    let queue = &t["Resources"]["SlackClickQueue"]["Properties"];
    let timeout = provision["Properties"]
        .get("Timeout")
        .or(t["Globals"]["Function"].get("Timeout"))
        .and_then(Value::as_u64)
        .expect("timeout");
    assert!(
        queue["VisibilityTimeout"]
            .as_u64()
            .expect("VisibilityTimeout")
            >= 6 * timeout,
        "AWS: at least six times the function's timeout"
    );
    let max_receives = queue["RedrivePolicy"]["maxReceiveCount"]
        .as_u64()
        .expect("maxReceiveCount");
    assert!(
        max_receives >= u64::from(provision::slack::clicks::TELL_ON_ATTEMPT) + 2,
        "the member is told before the queue gives up, with room for lost deliveries"
    );
    assert!(
        max_receives * queue["VisibilityTimeout"].as_u64().unwrap()
            <= queue["MessageRetentionPeriod"].as_u64().unwrap(),
        "every delivery happens within the retention"
    );
    assert_eq!(
        queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0],
        "SlackClickDeadLetterQueue"
    );
    // A click is worth deciding only while its response_url lives.
    assert!(
        queue["MessageRetentionPeriod"].as_u64().expect("retention")
            >= shared::slack::interactions::CLICK_LIFETIME_SECS as u64
    );
    // Only provision's role may send to it or read it: every SQS grant names one queue, and
    // only provision's names this one; its queue policy denies everyone else sending.
    for (at, s) in statements(&t) {
        if s["Effect"] != "Allow" || !actions(s).iter().any(|a| a.starts_with("sqs:")) {
            continue;
        }
        let queue = s["Resource"]["Fn::GetAtt"][0]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: an SQS grant names one queue of the stack"));
        if queue == "SlackClickQueue" {
            assert!(at.contains("ProvisionRole"), "{at} reaches the click queue");
        }
    }
    let guard =
        &t["Resources"]["SlackClickQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(guard["Effect"], "Deny");
    assert_eq!(guard["Action"], "sqs:SendMessage");
    assert_eq!(
        guard["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]["Fn::GetAtt"][0],
        "ProvisionRole"
    );
    let alarm = &t["Resources"]["SlackClicksFailingAlarm"]["Properties"];
    assert_eq!(
        alarm["Dimensions"][0]["Value"]["Fn::GetAtt"][0],
        "SlackClickDeadLetterQueue"
    );
}

/// Schedules are scoped by name: the cleanup function arms missed start schedules
/// (`ejit-start-*`) and may make or move no expiry schedule; the provision function deletes only
/// start schedules (a cancelled request's), never a grant's expiry schedule.
#[test]
fn schedule_rights_are_scoped_to_the_kind_of_schedule() {
    let t = template();
    let resource_of = |role: &str, action: &str| -> Vec<String> {
        statements(&t)
            .into_iter()
            .filter(|(at, s)| at.contains(role) && actions(s).contains(&action))
            .map(|(_, s)| s["Resource"].to_string())
            .collect()
    };
    for (role, action) in [
        ("CleanupRole", "scheduler:CreateSchedule"),
        ("CleanupRole", "scheduler:UpdateSchedule"),
        ("ProvisionRole", "scheduler:DeleteSchedule"),
    ] {
        let found = resource_of(role, action);
        assert!(!found.is_empty(), "{role} has {action}");
        for r in found {
            assert!(r.contains("ejit-start-*"), "{role} {action} reaches {r}");
        }
    }
}

/// The proxy's table access is point reads of the integration and of grant records only.
#[test]
fn the_proxy_reads_only_grant_and_integration_items() {
    let t = template();
    let statements =
        t["Resources"]["ProxyRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .expect("proxy statements");
    let table: Vec<&Value> = statements
        .iter()
        .filter(|s| actions(s).iter().any(|a| a.starts_with("dynamodb:")))
        .collect();
    assert_eq!(table.len(), 1);
    assert_eq!(actions(table[0]), vec!["dynamodb:GetItem"]);
    assert_eq!(
        table[0]["Resource"],
        serde_json::json!({"Fn::GetAtt": ["Table", "Arn"]}),
        "the table itself, no index"
    );
    assert_eq!(
        table[0]["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
        // shared/src/store/keys.rs: INTEGRATION_PK and request_pk(id).
        serde_json::json!(["INTEGRATION", "REQUEST#*"])
    );
}

/// Invoking discover directly is administering elastic-jit (a CloudFormation custom resource
/// event saves integrations and flows as a stack, README "Integrations and flows as code"): the
/// template lets only what SAM wires for its events call it (the HTTP API's routes, the hourly
/// schedule), and no policy or permission of its own names it.
#[test]
fn nothing_in_the_template_may_invoke_the_discover_function_directly() {
    let t = template();
    let names_discover = |v: &Value| v.to_string().contains("DiscoverFunction");
    for (id, p) in resources_of(&t, "AWS::Lambda::Permission") {
        assert!(
            !names_discover(&p["Properties"]["FunctionName"]),
            "{id} lets someone invoke the discover function"
        );
    }
    for (at, s) in statements(&t) {
        let invokes = actions(s)
            .iter()
            .any(|a| matches!(*a, "lambda:InvokeFunction" | "lambda:*" | "*"));
        if invokes && s["Effect"] == "Allow" {
            assert!(
                !names_discover(&s["Resource"]) && s["Resource"] != "*",
                "{at} may invoke the discover function"
            );
        }
    }
    // SAM's policy templates grant invocation too (LambdaInvokePolicy).
    for (id, f) in resources_of(&t, "AWS::Serverless::Function") {
        let policies = f["Properties"]["Policies"].to_string();
        assert!(
            !(policies.contains("LambdaInvokePolicy") && policies.contains("DiscoverFunction")),
            "{id} may invoke the discover function"
        );
    }
    let events = t["Resources"]["DiscoverFunction"]["Properties"]["Events"]
        .as_object()
        .expect("discover's events");
    for (name, e) in events {
        assert!(
            matches!(e["Type"].as_str(), Some("HttpApi" | "Schedule")),
            "discover event {name} is a {}: only the HTTP API and its schedule call it",
            e["Type"]
        );
    }
}
