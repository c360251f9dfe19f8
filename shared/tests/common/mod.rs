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
    let requester = Identity {
        sub: sub.into(),
        email: Some(format!("{sub}@example.com")),
        groups: vec!["dev".into()],
        ..Identity::default()
    };
    AccessRequest {
        integration: "prod".into(),
        flow: "logs".into(),
        resources: vec!["logs-2026.11".into()],
        requested_resources: vec!["logs-*".into()],
        permission: "read".into(),
        duration_secs: 3600,
        justification: Some("incident 42".into()),
        status,
        approval_expires_at: at + Duration::hours(24),
        ..AccessRequest::fresh(id.into(), requester, at)
    }
}
