//! What the local stack reads from `infra/template.yaml`, so there is no second list to keep in
//! step: the HTTP API's routes and CORS configuration, the functions' schedule triggers, their
//! table stream and SQS queue subscriptions, the SQS queues themselves, and which environment
//! variables name a resource (`!Ref`).
//!
//! Intrinsic functions appear in serde_yaml_ng's [`Value`] as [`Value::Tagged`] (`!GetAtt X.Arn`
//! is the tag `!GetAtt` on the string `X.Arn`, `!Ref X` the tag `!Ref` on `X`); the long forms
//! (`{"Fn::GetAtt": [X, Arn]}`, `{"Ref": X}`) are plain mappings. Both are read.

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml_ng::Value;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("parsing the template: {0}")]
    Parse(#[from] serde_yaml_ng::Error),
    #[error("the template's {0}")]
    Shape(String),
}

/// One `HttpApi` event of a function: `METHOD /path/{param}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    pub path: String,
    /// The binary `cargo lambda watch` serves (the function's `BuildProperties.Binary`).
    pub function: String,
    pub payload_format: String,
    /// Whether the JWT authorizer guards the route: every route but those whose event says
    /// `Auth: { Authorizer: NONE }` (the portal's pages).
    pub authorized: bool,
}

impl Route {
    /// API Gateway's route key, e.g. `GET /requests/{id}`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// One `Schedule` event of a function (an EventBridge rule with `rate(...)` or `cron(...)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRule {
    /// The event's logical name in the template (e.g. `Sweep`).
    pub name: String,
    pub function: String,
    pub expression: String,
}

/// The HTTP API's `CorsConfiguration` (absent in the template today: no CORS headers then).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub allow_credentials: bool,
    pub max_age: Option<u64>,
}

/// One `SQS` event of a function: a Lambda event source mapping on a queue of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSubscription {
    /// The event's logical name in the template (e.g. `SlackClicks`).
    pub name: String,
    /// The queue's logical id (from `Queue: !GetAtt <id>.Arn`).
    pub queue: String,
    pub function: String,
    /// `BatchSize` (Lambda's default for SQS: 10).
    pub batch_size: u32,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`: the function names the messages to
    /// retry in `batchItemFailures`; without it any successful invocation consumes the batch.
    pub report_failures: bool,
}

/// An `AWS::SQS::Queue` resource: what the local stack needs to create it as declared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SqsQueue {
    /// `VisibilityTimeout` in seconds (SQS's default 30 when absent).
    pub visibility_timeout: Option<u32>,
    /// `MessageRetentionPeriod` in seconds (SQS's default 4 days when absent).
    pub message_retention: Option<u32>,
    pub redrive: Option<Redrive>,
}

/// A queue's `RedrivePolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redrive {
    /// The dead-letter queue's logical id (from `deadLetterTargetArn: !GetAtt <id>.Arn`).
    pub dead_letter: String,
    pub max_receive_count: u32,
}

/// A function's environment variable whose value is `!Ref <resource>` (e.g.
/// `SLACK_CLICK_QUEUE_URL: !Ref SlackClickQueue`, which for a queue is its URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvRef {
    pub function: String,
    pub variable: String,
    /// The logical id referred to.
    pub resource: String,
}

#[derive(Debug, Clone, Default)]
pub struct Template {
    pub routes: Vec<Route>,
    pub schedules: Vec<ScheduleRule>,
    pub cors: Option<Cors>,
    /// Functions subscribed to the table's stream (`Type: DynamoDB` events).
    pub streams: Vec<String>,
    /// Functions subscribed to SQS queues (`Type: SQS` events).
    pub queues: Vec<QueueSubscription>,
    /// The `AWS::SQS::Queue` resources, by logical id.
    pub sqs_queues: BTreeMap<String, SqsQueue>,
    /// The functions' environment variables that are `!Ref` to a resource (parameters are not
    /// resources and are left out).
    pub env_refs: Vec<EnvRef>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The logical id in `!GetAtt <id>.<attribute>` (`!GetAtt [id, attribute]`, `Fn::GetAtt`) when
/// the attribute is `attribute`.
fn get_att(v: &Value, attribute: &str) -> Option<String> {
    let target = match v {
        Value::Tagged(t) if t.tag == "GetAtt" => &t.value,
        Value::Mapping(m) if m.len() == 1 => m.get("Fn::GetAtt")?,
        _ => return None,
    };
    let (id, att) = match target {
        Value::String(s) => s.split_once('.')?,
        Value::Sequence(s) => (s.first()?.as_str()?, s.get(1)?.as_str()?),
        _ => return None,
    };
    (att == attribute).then(|| id.to_string())
}

/// The logical id (or parameter) in `!Ref <id>` (`{"Ref": id}`).
fn reference(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) if t.tag == "Ref" => t.value.as_str().map(str::to_string),
        Value::Mapping(m) if m.len() == 1 => m.get("Ref")?.as_str().map(str::to_string),
        _ => None,
    }
}

/// A number that may be written as a YAML number or a string (`"30"`), as CloudFormation takes it.
fn number(v: &Value) -> Option<u32> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn sqs_queue(logical: &str, props: Option<&Value>) -> Result<SqsQueue, TemplateError> {
    let get = |k: &str| props.and_then(|p| p.get(k));
    let redrive = match get("RedrivePolicy") {
        None => None,
        Some(r) => {
            let shape = || {
                TemplateError::Shape(format!(
                    "queue {logical}'s RedrivePolicy needs deadLetterTargetArn: !GetAtt <queue>.Arn and maxReceiveCount"
                ))
            };
            Some(Redrive {
                dead_letter: r
                    .get("deadLetterTargetArn")
                    .and_then(|a| get_att(a, "Arn"))
                    .ok_or_else(shape)?,
                max_receive_count: r
                    .get("maxReceiveCount")
                    .and_then(number)
                    .ok_or_else(shape)?,
            })
        }
    };
    Ok(SqsQueue {
        visibility_timeout: get("VisibilityTimeout").and_then(number),
        message_retention: get("MessageRetentionPeriod").and_then(number),
        redrive,
    })
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let doc: Value = serde_yaml_ng::from_str(text)?;
        let resources = doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or_else(|| TemplateError::Shape("Resources section is missing".into()))?;
        let mut out = Template::default();
        for (logical, res) in resources {
            let logical = logical.as_str().unwrap_or_default();
            match res.get("Type").and_then(Value::as_str) {
                Some("AWS::SQS::Queue") => {
                    let queue = sqs_queue(logical, res.get("Properties"))?;
                    out.sqs_queues.insert(logical.to_string(), queue);
                }
                Some("AWS::Serverless::HttpApi") => {
                    if let Some(c) = res
                        .get("Properties")
                        .and_then(|p| p.get("CorsConfiguration"))
                    {
                        out.cors = Some(cors(c));
                    }
                }
                Some("AWS::Serverless::Function") => {
                    let function = res
                        .get("Metadata")
                        .and_then(|m| m.get("BuildProperties"))
                        .and_then(|b| b.get("Binary"))
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            TemplateError::Shape(format!(
                                "function {logical} has no Metadata.BuildProperties.Binary"
                            ))
                        })?
                        .to_string();
                    let variables = res
                        .get("Properties")
                        .and_then(|p| p.get("Environment"))
                        .and_then(|e| e.get("Variables"))
                        .and_then(Value::as_mapping);
                    for (variable, value) in variables.into_iter().flatten() {
                        if let (Some(variable), Some(resource)) =
                            (variable.as_str(), reference(value))
                        {
                            out.env_refs.push(EnvRef {
                                function: function.clone(),
                                variable: variable.to_string(),
                                resource,
                            });
                        }
                    }
                    let events = res
                        .get("Properties")
                        .and_then(|p| p.get("Events"))
                        .and_then(Value::as_mapping);
                    for (name, ev) in events.into_iter().flatten() {
                        let name = name.as_str().unwrap_or_default().to_string();
                        let props = ev.get("Properties");
                        let prop = |k: &str| {
                            props
                                .and_then(|p| p.get(k))
                                .and_then(Value::as_str)
                                .map(str::to_string)
                        };
                        match ev.get("Type").and_then(Value::as_str) {
                            Some("HttpApi") => {
                                let (Some(method), Some(path)) = (prop("Method"), prop("Path"))
                                else {
                                    return Err(TemplateError::Shape(format!(
                                        "HttpApi event {name} of {logical} needs Method and Path"
                                    )));
                                };
                                out.routes.push(Route {
                                    method: method.to_ascii_uppercase(),
                                    path,
                                    function: function.clone(),
                                    payload_format: prop("PayloadFormatVersion")
                                        .unwrap_or_else(|| "2.0".into()),
                                    authorized: props
                                        .and_then(|p| p.get("Auth"))
                                        .and_then(|a| a.get("Authorizer"))
                                        .and_then(Value::as_str)
                                        != Some("NONE"),
                                });
                            }
                            Some("DynamoDB") => out.streams.push(function.clone()),
                            Some("SQS") => {
                                let queue = props
                                    .and_then(|p| p.get("Queue"))
                                    .and_then(|q| get_att(q, "Arn"))
                                    .ok_or_else(|| {
                                        TemplateError::Shape(format!(
                                            "SQS event {name} of {logical} needs Queue: !GetAtt <queue>.Arn"
                                        ))
                                    })?;
                                let batch_size = match props.and_then(|p| p.get("BatchSize")) {
                                    None => 10,
                                    Some(b) => number(b).filter(|b| *b > 0).ok_or_else(|| {
                                        TemplateError::Shape(format!(
                                            "SQS event {name} of {logical} has a bad BatchSize"
                                        ))
                                    })?,
                                };
                                let report_failures = props
                                    .and_then(|p| p.get("FunctionResponseTypes"))
                                    .map(strings)
                                    .unwrap_or_default()
                                    .iter()
                                    .any(|t| t == "ReportBatchItemFailures");
                                out.queues.push(QueueSubscription {
                                    name,
                                    queue,
                                    function: function.clone(),
                                    batch_size,
                                    report_failures,
                                });
                            }
                            Some("Schedule") | Some("ScheduleV2") => {
                                let expression = prop("Schedule")
                                    .or_else(|| prop("ScheduleExpression"))
                                    .ok_or_else(|| {
                                        TemplateError::Shape(format!(
                                            "Schedule event {name} of {logical} has no expression"
                                        ))
                                    })?;
                                out.schedules.push(ScheduleRule {
                                    name,
                                    function: function.clone(),
                                    expression,
                                });
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if out.routes.is_empty() {
            return Err(TemplateError::Shape("HTTP API has no routes".into()));
        }
        // Only references to resources: `!Ref` of a parameter is a value the stack sets itself.
        out.env_refs
            .retain(|r| resources.contains_key(r.resource.as_str()));
        for s in &out.queues {
            if !out.sqs_queues.contains_key(&s.queue) {
                return Err(TemplateError::Shape(format!(
                    "SQS event {} of {} names {}, which is not an AWS::SQS::Queue",
                    s.name, s.function, s.queue
                )));
            }
        }
        for (logical, q) in &out.sqs_queues {
            if let Some(r) = &q.redrive
                && !out.sqs_queues.contains_key(&r.dead_letter)
            {
                return Err(TemplateError::Shape(format!(
                    "queue {logical}'s dead-letter queue {} is not an AWS::SQS::Queue",
                    r.dead_letter
                )));
            }
        }
        Ok(out)
    }
}

fn cors(c: &Value) -> Cors {
    let get = |k: &str| c.get(k).map(strings).unwrap_or_default();
    Cors {
        allow_origins: get("AllowOrigins"),
        allow_methods: get("AllowMethods")
            .into_iter()
            .map(|m| m.to_ascii_uppercase())
            .collect(),
        allow_headers: get("AllowHeaders")
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        expose_headers: get("ExposeHeaders"),
        allow_credentials: c
            .get("AllowCredentials")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        max_age: c.get("MaxAge").and_then(Value::as_u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projects_template_routes_every_function() {
        let t = Template::load(&crate::stack::workspace_root().join("infra/template.yaml"))
            .expect("template");
        let keys: Vec<String> = t.routes.iter().map(Route::key).collect();
        assert!(keys.contains(&"POST /requests".to_string()), "{keys:?}");
        assert!(
            keys.contains(&"POST /requests/{id}/revoke".to_string()),
            "{keys:?}"
        );
        let revoke = t
            .routes
            .iter()
            .find(|r| r.key() == "POST /requests/{id}/revoke")
            .expect("revoke route");
        assert_eq!(revoke.function, "revoke");
        assert!(t.routes.iter().all(|r| r.payload_format == "2.0"));
        // Only the portal's pages and Slack's signed interactivity requests are served without
        // a token.
        let open: Vec<String> = t
            .routes
            .iter()
            .filter(|r| !r.authorized)
            .map(|r| format!("{} -> {}", r.key(), r.function))
            .collect();
        assert_eq!(
            open,
            [
                "POST /slack/interactions -> provision",
                "GET /portal -> portal",
                "GET /portal/{proxy+} -> portal",
            ]
        );
        let sweep = t
            .schedules
            .iter()
            .find(|s| s.function == "cleanup")
            .expect("cleanup schedule");
        assert_eq!(sweep.expression, "rate(5 minutes)");
        assert!(t.schedules.iter().any(|s| s.function == "discover"));
        assert!(t.schedules.iter().any(|s| s.function == "rotate"));
    }

    #[test]
    fn the_projects_template_subscribes_provision_to_the_slack_click_queue() {
        let t = Template::load(&crate::stack::workspace_root().join("infra/template.yaml"))
            .expect("template");
        assert_eq!(
            t.queues,
            [QueueSubscription {
                name: "SlackClicks".into(),
                queue: "SlackClickQueue".into(),
                function: "provision".into(),
                batch_size: 5,
                report_failures: true,
            }]
        );
        assert_eq!(
            t.sqs_queues.get("SlackClickQueue"),
            Some(&SqsQueue {
                visibility_timeout: Some(180),
                message_retention: Some(1800),
                redrive: Some(Redrive {
                    dead_letter: "SlackClickDeadLetterQueue".into(),
                    max_receive_count: 5,
                }),
            })
        );
        let dlq = t
            .sqs_queues
            .get("SlackClickDeadLetterQueue")
            .expect("the dead-letter queue");
        assert_eq!(dlq.redrive, None);
        assert_eq!(dlq.message_retention, Some(1_209_600));
        // The notify function's failure destination is a queue of the template too.
        assert!(t.sqs_queues.contains_key("NotifyFailureQueue"));
        let click_url = EnvRef {
            function: "provision".into(),
            variable: "SLACK_CLICK_QUEUE_URL".into(),
            resource: "SlackClickQueue".into(),
        };
        assert!(t.env_refs.contains(&click_url), "{:?}", t.env_refs);
        // `!Ref` of a parameter is no resource.
        assert!(
            !t.env_refs.iter().any(|r| r.variable == "ADMIN_GROUP"),
            "{:?}",
            t.env_refs
        );
    }

    const QUEUED: &str = r#"
Resources:
  Dlq:
    Type: AWS::SQS::Queue
  Work:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: "45"
      RedrivePolicy:
        deadLetterTargetArn: { "Fn::GetAtt": [Dlq, Arn] }
        maxReceiveCount: "2"
  Fn:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: f } }
    Properties:
      Environment:
        Variables:
          WORK_URL: { Ref: Work }
          PLAIN: text
      Events:
        E: { Type: HttpApi, Properties: { Method: get, Path: /x } }
        Q: { Type: SQS, Properties: { Queue: !GetAtt [Work, Arn] } }
"#;

    #[test]
    fn queues_in_long_form_and_with_defaults_are_read() {
        let t = Template::parse(QUEUED).expect("parse");
        assert_eq!(
            t.queues,
            [QueueSubscription {
                name: "Q".into(),
                queue: "Work".into(),
                function: "f".into(),
                batch_size: 10,
                report_failures: false,
            }]
        );
        let work = &t.sqs_queues["Work"];
        assert_eq!(work.visibility_timeout, Some(45));
        assert_eq!(work.message_retention, None);
        assert_eq!(
            work.redrive,
            Some(Redrive {
                dead_letter: "Dlq".into(),
                max_receive_count: 2
            })
        );
        assert_eq!(t.sqs_queues["Dlq"], SqsQueue::default());
        assert_eq!(
            t.env_refs,
            [EnvRef {
                function: "f".into(),
                variable: "WORK_URL".into(),
                resource: "Work".into(),
            }]
        );
    }

    #[test]
    fn a_subscription_to_something_not_a_queue_is_refused() {
        let bad = QUEUED.replace("!GetAtt [Work, Arn]", "!GetAtt Fn.Arn");
        let e = Template::parse(&bad).expect_err("not a queue");
        assert!(e.to_string().contains("not an AWS::SQS::Queue"), "{e}");
        let bad = QUEUED.replace("!GetAtt [Work, Arn]", "!Ref Work");
        let e = Template::parse(&bad).expect_err("a Ref is the URL, not the ARN");
        assert!(e.to_string().contains("needs Queue"), "{e}");
        let bad = QUEUED.replace("[Dlq, Arn]", "[Nowhere, Arn]");
        let e = Template::parse(&bad).expect_err("no such dead-letter queue");
        assert!(e.to_string().contains("dead-letter queue Nowhere"), "{e}");
    }

    #[test]
    fn cors_is_read_when_configured() {
        let t = Template::parse(
            r#"
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: ["http://127.0.0.1:3000"]
        AllowMethods: [get, post]
        AllowHeaders: [Authorization, Content-Type]
        MaxAge: 600
  Fn:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: f } }
    Properties:
      Events:
        E: { Type: HttpApi, Properties: { Method: get, Path: /x } }
"#,
        )
        .expect("parse");
        let c = t.cors.expect("cors");
        assert_eq!(c.allow_methods, ["GET", "POST"]);
        assert_eq!(c.allow_headers, ["authorization", "content-type"]);
        assert_eq!(c.max_age, Some(600));
        assert_eq!(t.routes[0].key(), "GET /x");
    }
}
