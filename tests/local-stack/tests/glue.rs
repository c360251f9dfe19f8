//! The AWS glue against moto, with a recording invoker: one-time schedules (as the provision
//! function creates them) fire at their time, the template's rules fire on the sped-up clock,
//! and a requested rotation drives the rotate function's four steps.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, Target};
use local_stack::glue::{GlueConfig, RunningGlue, Trigger};
use local_stack::invoke::{InvokeError, Invoker};
use local_stack::stack::{REVOKE_ARN, SCHEDULER_ROLE, workspace_root};
use local_stack::template::Template;
use serde_json::{Value, json};
use shared::scheduler::{EventBridgeScheduler, ExpiryScheduler, SchedulerConfig, schedule_name};

#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<(String, Value)>>,
    fail: bool,
}

#[async_trait::async_trait]
impl Invoker for Recorder {
    async fn invoke(&self, function: &str, event: &Value) -> Result<Value, InvokeError> {
        self.calls
            .lock()
            .unwrap()
            .push((function.to_string(), event.clone()));
        if self.fail {
            return Err(InvokeError::Function {
                function: function.into(),
                status: 200,
                body: "{\"errorType\":\"Boom\"}".into(),
            });
        }
        Ok(json!({"ok": true}))
    }
}

fn window() -> FlexibleTimeWindow {
    FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_expiry_schedule_fires_revoke_once_at_its_time_and_is_deleted() {
    let aws = test_harness::aws_config().await;
    let scheduler = aws_sdk_scheduler::Client::new(&aws);
    let group = test_harness::unique_name("glue");
    scheduler
        .create_schedule_group()
        .name(&group)
        .send()
        .await
        .unwrap();
    // Exactly what the provision function creates for a grant.
    let expiries = EventBridgeScheduler::new(
        scheduler.clone(),
        SchedulerConfig {
            group: group.clone(),
            target_arn: REVOKE_ARN.into(),
            role_arn: SCHEDULER_ROLE.into(),
        },
    );
    let now = chrono::Utc::now();
    expiries
        .schedule_expiry("due-grant", now - chrono::Duration::seconds(2))
        .await
        .unwrap();
    expiries
        .schedule_expiry("later-grant", now + chrono::Duration::hours(1))
        .await
        .unwrap();
    // A schedule aimed at something that is not this stack's function is never fired.
    scheduler
        .create_schedule()
        .group_name(&group)
        .name("foreign")
        .schedule_expression("at(2020-01-01T00:00:00)")
        .flexible_time_window(window())
        .target(
            Target::builder()
                .arn("arn:aws:lambda:us-east-1:123456789012:function:someone-else")
                .role_arn(SCHEDULER_ROLE)
                .input("{}")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let rec = Arc::new(Recorder::default());
    let glue = RunningGlue::start(
        &aws,
        rec.clone() as Arc<dyn Invoker>,
        GlueConfig {
            poll: Duration::from_millis(200),
            schedule_group: Some(group.clone()),
            targets: [(REVOKE_ARN.to_string(), "revoke".to_string())].into(),
            ..GlueConfig::default()
        },
    );
    let due = schedule_name("due-grant");
    let fired = glue
        .log
        .wait_for(Duration::from_secs(20), |f| {
            f.trigger
                == Trigger::OneTime {
                    schedule: due.clone(),
                }
        })
        .await
        .expect("the due schedule fired");
    assert_eq!(fired.function, "revoke");
    assert!(fired.outcome.is_ok());
    // A few more polls: nothing else fires, nothing fires twice.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let calls = rec.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        calls[0],
        (
            "revoke".to_string(),
            json!({"source": "elastic-jit.expiry", "grant_id": "due-grant"})
        )
    );
    // ActionAfterCompletion DELETE: gone; the others stay.
    let gone = scheduler
        .get_schedule()
        .group_name(&group)
        .name(&due)
        .send()
        .await;
    assert!(gone.is_err(), "the fired schedule was deleted");
    for name in [schedule_name("later-grant"), "foreign".to_string()] {
        scheduler
            .get_schedule()
            .group_name(&group)
            .name(&name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name} should remain: {e:?}"));
    }
}

#[tokio::test]
async fn a_failing_delivery_is_retried_a_bounded_number_of_times() {
    let aws = test_harness::aws_config().await;
    let scheduler = aws_sdk_scheduler::Client::new(&aws);
    let group = test_harness::unique_name("glue-fail");
    scheduler
        .create_schedule_group()
        .name(&group)
        .send()
        .await
        .unwrap();
    EventBridgeScheduler::new(
        scheduler.clone(),
        SchedulerConfig {
            group: group.clone(),
            target_arn: REVOKE_ARN.into(),
            role_arn: SCHEDULER_ROLE.into(),
        },
    )
    .schedule_expiry("failing-grant", chrono::Utc::now())
    .await
    .unwrap();
    let rec = Arc::new(Recorder {
        fail: true,
        ..Recorder::default()
    });
    let glue = RunningGlue::start(
        &aws,
        rec.clone() as Arc<dyn Invoker>,
        GlueConfig {
            poll: Duration::from_millis(100),
            schedule_group: Some(group.clone()),
            targets: [(REVOKE_ARN.to_string(), "revoke".to_string())].into(),
            ..GlueConfig::default()
        },
    );
    let max = local_stack::glue::one_time::MAX_ATTEMPTS as usize;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while glue.log.snapshot().len() < max && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A few more polls: no attempt beyond the bound.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let fired = glue.log.snapshot();
    assert_eq!(
        fired.len(),
        local_stack::glue::one_time::MAX_ATTEMPTS as usize,
        "{fired:?}"
    );
    assert!(fired.iter().all(|f| f.outcome.is_err()));
    // Not deleted: the record stays for the operator (and the cleanup sweep revokes anyway).
    scheduler
        .get_schedule()
        .group_name(&group)
        .name(schedule_name("failing-grant"))
        .send()
        .await
        .expect("kept");
}

#[tokio::test]
async fn the_templates_rules_fire_on_the_sped_up_clock() {
    let aws = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .build();
    let template = Template::load(&workspace_root().join("infra/template.yaml")).unwrap();
    let rec = Arc::new(Recorder::default());
    // 5 minutes in 0.1 s; an hour in 1.2 s.
    let glue = RunningGlue::start(
        &aws,
        rec.clone() as Arc<dyn Invoker>,
        GlueConfig {
            poll: Duration::from_millis(50),
            rules: template.schedules,
            speedup: 3000.0,
            ..GlueConfig::default()
        },
    );
    for (rule, function) in [("Sweep", "cleanup"), ("HourlyDiscovery", "discover")] {
        let f = glue
            .log
            .wait_for(Duration::from_secs(10), |f| {
                f.trigger
                    == Trigger::Rule {
                        name: rule.to_string(),
                    }
            })
            .await
            .unwrap_or_else(|| panic!("{rule} did not fire"));
        assert_eq!(f.function, function);
    }
    let calls = rec.calls.lock().unwrap().clone();
    let (_, ev) = calls.iter().find(|(f, _)| f == "cleanup").unwrap();
    assert_eq!(ev["detail-type"], "Scheduled Event");
    assert_eq!(ev["source"], "aws.events");
    assert!(ev["resources"][0].as_str().unwrap().contains(":rule/"));
    // Never faster than the sped-up interval: a few sweeps, not hundreds.
    let sweeps = calls.iter().filter(|(f, _)| f == "cleanup").count();
    assert!(sweeps <= 40, "{sweeps} sweeps");
}

#[tokio::test]
async fn a_requested_rotation_drives_the_four_steps_then_clears_awspending() {
    let aws = test_harness::aws_config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&aws);
    let http = reqwest::Client::new();
    let lambda = local_stack::glue::rotation::register_rotation_lambda(
        &http,
        &test_harness::aws_endpoint(),
        &test_harness::unique_name("rotate"),
    )
    .await
    .expect("rotation lambda");
    let name = test_harness::unique_name("connector");
    let arn = sm
        .create_secret()
        .name(&name)
        .secret_string("{\"username\":\"u\",\"password\":\"p\"}")
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let rec = Arc::new(Recorder::default());
    let glue = RunningGlue::start(
        &aws,
        rec.clone() as Arc<dyn Invoker>,
        GlueConfig {
            poll: Duration::from_millis(200),
            rotation_lambda_arn: Some(lambda.clone()),
            ..GlueConfig::default()
        },
    );
    let token = uuid::Uuid::new_v4().to_string();
    sm.rotate_secret()
        .secret_id(&arn)
        .client_request_token(&token)
        .rotation_lambda_arn(&lambda)
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .send()
        .await
        .expect("rotate_secret");
    glue.log
        .wait_for(
            Duration::from_secs(20),
            |f| matches!(&f.trigger, Trigger::Rotation { step, .. } if step == "finishSecret"),
        )
        .await
        .expect("the rotation finished");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let calls = rec.calls.lock().unwrap().clone();
    let steps: Vec<&str> = calls
        .iter()
        .map(|(f, e)| {
            assert_eq!(f, "rotate");
            assert_eq!(e["SecretId"], arn.as_str());
            assert_eq!(e["ClientRequestToken"], token.as_str());
            e["Step"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        steps,
        ["createSecret", "setSecret", "testSecret", "finishSecret"],
        "each step once, in order"
    );
    let d = sm.describe_secret().secret_id(&arn).send().await.unwrap();
    let stages = d
        .version_ids_to_stages()
        .and_then(|m| m.get(&token))
        .cloned()
        .unwrap_or_default();
    assert!(
        !stages.iter().any(|s| s == "AWSPENDING"),
        "AWSPENDING cleared: {stages:?}"
    );
}

#[tokio::test]
async fn a_stream_consumer_gets_the_tables_records_in_lambdas_shape() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
        ScalarAttributeType, StreamSpecification, StreamViewType,
    };
    let aws = test_harness::aws_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let table = test_harness::unique_name("streamed");
    ddb.create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("table with a stream");
    let rec = Arc::new(Recorder::default());
    let glue = RunningGlue::start(
        &aws,
        rec.clone() as Arc<dyn Invoker>,
        GlueConfig {
            poll: Duration::from_millis(200),
            streams: vec![local_stack::glue::streams::StreamConsumer {
                table: table.clone(),
                function: "notify".into(),
                batch_size: 10,
            }],
            aws_endpoint: Some(test_harness::aws_endpoint()),
            ..GlueConfig::default()
        },
    );
    ddb.put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("request#1".into()))
        .item("status", AttributeValue::S("pending".into()))
        .send()
        .await
        .unwrap();
    glue.log
        .wait_for(
            Duration::from_secs(20),
            |f| matches!(&f.trigger, Trigger::Stream { table: t, .. } if *t == table),
        )
        .await
        .expect("the record was delivered");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let calls = rec.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "delivered once: {calls:?}");
    let (function, ev) = &calls[0];
    assert_eq!(function, "notify");
    let r = &ev["Records"][0];
    assert_eq!(r["eventName"], "INSERT");
    assert_eq!(r["eventSource"], "aws:dynamodb");
    assert_eq!(r["dynamodb"]["NewImage"]["status"], json!({"S": "pending"}));
    assert!(r["eventSourceARN"].as_str().unwrap().contains(&table));
}
