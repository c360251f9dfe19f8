//! The AWS glue against moto, with a recording invoker: one-time schedules (as the provision
//! function creates them) fire at their time, the template's rules fire on the sped-up clock,
//! a requested rotation drives the rotate function's four steps, a table's stream feeds its
//! subscriber, and a queue's messages reach its subscriber as Lambda's SQS event source mapping
//! delivers them (reported failures retried, then dead-lettered).

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

/// Reads the event as the provision function does (`aws_lambda_events`' `SqsEvent`) and answers
/// its `SqsBatchResponse`: a failure for each record whose body is "fail".
#[derive(Default)]
struct PartlyFailing {
    events: Mutex<Vec<(String, Value)>>,
}

#[async_trait::async_trait]
impl Invoker for PartlyFailing {
    async fn invoke(&self, function: &str, event: &Value) -> Result<Value, InvokeError> {
        self.events
            .lock()
            .unwrap()
            .push((function.to_string(), event.clone()));
        let batch: aws_lambda_events::sqs::SqsEvent = serde_json::from_value(event.clone())
            .map_err(|e| InvokeError::Function {
                function: function.into(),
                status: 200,
                body: format!("not an SqsEvent: {e}"),
            })?;
        let mut answer = aws_lambda_events::sqs::SqsBatchResponse::default();
        for m in batch.records {
            if m.body.as_deref() == Some("fail") {
                answer.add_failure(m.message_id.unwrap_or_default());
            }
        }
        Ok(serde_json::to_value(answer).unwrap())
    }
}

#[tokio::test]
async fn a_queue_subscriber_gets_lambdas_sqs_event_and_what_it_reports_failed_is_retried_then_dead_lettered()
 {
    use aws_sdk_sqs::types::QueueAttributeName;
    let aws = test_harness::aws_config().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    // The template's queues as the local stack creates them, with a 1 s visibility timeout.
    let template = Template::load(&workspace_root().join("infra/template.yaml")).unwrap();
    let prefix = test_harness::unique_name("glue");
    let queues = local_stack::glue::queues::create_queues(
        &sqs,
        &template.sqs_queues,
        |logical| format!("{prefix}-{logical}"),
        Some(1),
    )
    .await
    .expect("the template's queues");
    let subscription = template
        .queues
        .iter()
        .find(|s| s.function == "provision")
        .expect("provision's SQS event");
    let clicks = &queues[&subscription.queue];
    let dlq = &queues["SlackClickDeadLetterQueue"];
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&clicks.url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attrs = attrs.attributes().unwrap();
    assert_eq!(attrs[&QueueAttributeName::VisibilityTimeout], "1");
    assert_eq!(attrs[&QueueAttributeName::MessageRetentionPeriod], "1800");
    let redrive: Value = serde_json::from_str(&attrs[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], dlq.arn.as_str());
    // As the template declares it.
    let max_receives = template.sqs_queues["SlackClickQueue"]
        .redrive
        .as_ref()
        .expect("a redrive policy")
        .max_receive_count as usize;
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        max_receives.to_string()
    );

    let mut sent = Vec::new();
    for body in ["ok", "fail"] {
        let out = sqs
            .send_message()
            .queue_url(&clicks.url)
            .message_body(body)
            .send()
            .await
            .unwrap();
        sent.push((
            out.message_id().unwrap().to_string(),
            out.md5_of_message_body().unwrap().to_string(),
        ));
    }
    let rec = Arc::new(PartlyFailing::default());
    let glue = RunningGlue::start(
        &aws,
        rec.clone() as Arc<dyn Invoker>,
        GlueConfig {
            poll: Duration::from_millis(200),
            queues: vec![local_stack::glue::queues::QueueConsumer {
                queue_url: clicks.url.clone(),
                function: subscription.function.clone(),
                batch_size: subscription.batch_size,
                report_failures: subscription.report_failures,
            }],
            ..GlueConfig::default()
        },
    );

    // The failed message lands in the dead-letter queue after maxReceiveCount receives.
    let deadline = std::time::Instant::now() + Duration::from_secs(45);
    let dead = loop {
        let got = sqs
            .receive_message()
            .queue_url(&dlq.url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        if !got.messages().is_empty() {
            break got.messages().to_vec();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing reached the dead-letter queue: {:?}",
            glue.log.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let fired = glue.log.snapshot();
    drop(glue);
    let triggers: Vec<&Trigger> = fired.iter().map(|f| &f.trigger).collect();
    assert_eq!(
        triggers.first(),
        Some(&&Trigger::Queue {
            queue: clicks.name.clone(),
            messages: 2
        }),
        "{fired:?}"
    );
    assert!(fired.iter().all(|f| f.outcome.is_ok()), "{fired:?}");
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].body(), Some("fail"));
    assert_eq!(dead[0].message_id(), Some(sent[1].0.as_str()));

    let events = rec.events.lock().unwrap().clone();
    assert_eq!(
        events.len(),
        max_receives,
        "maxReceiveCount receives of the failed message: {events:?}"
    );
    // The first batch holds both messages, in Lambda's SQS event shape.
    let (function, first) = &events[0];
    assert_eq!(function, "provision");
    let records = first["Records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{first}");
    for ((id, md5), r) in sent.iter().zip(records) {
        assert_eq!(r["messageId"], id.as_str());
        assert_eq!(r["md5OfBody"], md5.as_str());
        assert!(!r["receiptHandle"].as_str().unwrap().is_empty());
        assert_eq!(r["eventSource"], "aws:sqs");
        assert_eq!(r["eventSourceARN"], clicks.arn.as_str());
        assert_eq!(r["awsRegion"], "us-east-1");
        assert_eq!(r["messageAttributes"], json!({}));
        assert_eq!(r["attributes"]["ApproximateReceiveCount"], "1");
        for a in [
            "SentTimestamp",
            "SenderId",
            "ApproximateFirstReceiveTimestamp",
        ] {
            assert!(r["attributes"][a].is_string(), "{a} missing: {r}");
        }
    }
    assert_eq!(records[0]["body"], "ok");
    assert_eq!(records[1]["body"], "fail");
    // Then only the failed one comes back, once per visibility timeout: the other was deleted.
    for (n, (_, e)) in events.iter().enumerate().skip(1) {
        let records = e["Records"].as_array().unwrap();
        assert_eq!(records.len(), 1, "{e}");
        assert_eq!(records[0]["body"], "fail");
        assert_eq!(
            records[0]["attributes"]["ApproximateReceiveCount"],
            (n + 1).to_string()
        );
    }
    let left = sqs
        .get_queue_attributes()
        .queue_url(&clicks.url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let left = left.attributes().unwrap();
    assert_eq!(
        (
            left[&QueueAttributeName::ApproximateNumberOfMessages].as_str(),
            left[&QueueAttributeName::ApproximateNumberOfMessagesNotVisible].as_str()
        ),
        ("0", "0"),
        "the click queue is empty"
    );
}
