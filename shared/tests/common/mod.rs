//! Helpers shared by the store and secrets tests: a fresh table per test on the harness's
//! AWS endpoint, and sample records.
#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use shared::model::{AccessRequest, Identity, RequestStatus};
use shared::store::{DynamoStore, schema};

pub async fn fresh_store() -> (DynamoStore, aws_sdk_dynamodb::Client) {
    let config = test_harness::aws_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = test_harness::unique_name("ejit");
    schema::create_table(&client, &table)
        .await
        .expect("create table");
    (DynamoStore::new(client.clone(), table), client)
}

pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub fn request(id: &str, sub: &str, status: RequestStatus, at: DateTime<Utc>) -> AccessRequest {
    AccessRequest {
        id: id.into(),
        integration: "prod".into(),
        flow: "logs".into(),
        requester: Identity {
            sub: sub.into(),
            email: Some(format!("{sub}@example.com")),
            groups: vec!["dev".into()],
            ..Identity::default()
        },
        resources: vec!["logs-2026.11".into()],
        requested_resources: vec!["logs-*".into()],
        permission: "read".into(),
        duration_secs: 3600,
        justification: Some("incident 42".into()),
        status,
        status_reason: None,
        approval_steps: vec![],
        decisions: vec![],
        created_at: at,
        updated_at: at,
        approval_expires_at: at + Duration::hours(24),
        approval_reason_required: false,
        escalation: None,
        break_glass: None,
        starts_at: None,
        ends_at: None,
        ended_at: None,
        created_objects: vec![],
        revoke_attempts: 0,
        next_attempt_at: None,
        last_error: None,
        revoke_requested_by: None,
        key_secret_unsettled: false,
        proxy_credential: None,
        expiry_warned_at: None,
        extensions: 0,
        key_renewal: None,
        extends: None,
        bundle: None,
        parent: None,
        history: vec![],
        version: 0,
    }
}
