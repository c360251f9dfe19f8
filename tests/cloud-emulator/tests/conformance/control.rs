//! `/_emulator/*`: faults, request log, reset, clock, state.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Cloud, ORG, OWNER_KEY, VIEWER_KEY};

async fn add_fault(cloud: &Cloud, fault: Value) {
    cloud
        .control(Method::POST, "/faults", Some(&fault))
        .await
        .assert_ok(201);
}

async fn requests(cloud: &Cloud) -> Vec<Value> {
    cloud
        .control(Method::GET, "/requests", None)
        .await
        .assert_ok(200)["requests"]
        .as_array()
        .expect("requests")
        .clone()
}

#[tokio::test]
async fn a_counted_fault_answers_with_its_status_then_clears() {
    let cloud = Cloud::start().await;
    add_fault(
        &cloud,
        json!({"method": "POST", "path": "/api/v1/users/*/role_assignments", "count": 1, "status": 500}),
    )
    .await;
    let body = json!({"organization": [{"role_id": "billing-admin", "organization_id": ORG}]});
    // Other methods and paths are untouched.
    cloud.get("/deployments", OWNER_KEY).await.assert_ok(200);
    cloud
        .post("/users/bob-1/role_assignments", OWNER_KEY, &body)
        .await
        .assert_error(500, "emulator.injected_fault");
    // The faulted call changed nothing; the retry succeeds.
    assert_eq!(
        cloud.member("bob-1").await.expect("bob")["role_assignments"]["organization"],
        json!([])
    );
    cloud
        .post("/users/bob-1/role_assignments", OWNER_KEY, &body)
        .await
        .assert_ok(200);
    let faults = cloud.control(Method::GET, "/faults", None).await;
    assert_eq!(faults.assert_ok(200)["faults"], json!([]));
}

#[tokio::test]
async fn a_fault_body_is_returned_verbatim_with_its_code_in_the_header() {
    let cloud = Cloud::start().await;
    add_fault(
        &cloud,
        json!({"path": "/api/v1/organizations/**", "status": 429, "count": 2,
               "body": {"errors": [{"code": "organization.invitations_rate_limit_exceeded", "message": "Slow down."}]}}),
    )
    .await;
    for _ in 0..2 {
        cloud
            .post(
                &format!("/organizations/{ORG}/invitations"),
                OWNER_KEY,
                &json!({"emails": ["x@example.com"]}),
            )
            .await
            .assert_error(429, "organization.invitations_rate_limit_exceeded");
    }
    cloud
        .post(
            &format!("/organizations/{ORG}/invitations"),
            OWNER_KEY,
            &json!({"emails": ["x@example.com"]}),
        )
        .await
        .assert_ok(201);
}

#[tokio::test]
async fn a_fault_can_drop_the_connection() {
    let cloud = Cloud::start().await;
    add_fault(
        &cloud,
        json!({"method": "DELETE", "path": "/api/v1/users/*/role_assignments", "count": 1, "drop_connection": true}),
    )
    .await;
    let body = json!({"organization": [{"role_id": "billing-admin", "organization_id": ORG}]});
    let dropped = cloud
        .send(
            Method::DELETE,
            "/api/v1/users/bob-1/role_assignments",
            Some(&format!("ApiKey {OWNER_KEY}")),
            Some(&body),
        )
        .await;
    assert!(dropped.is_err(), "expected a transport error");
    cloud
        .delete("/users/bob-1/role_assignments", OWNER_KEY, Some(&body))
        .await
        .assert_ok(200);
    let log = requests(&cloud).await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["dropped"], true);
    assert_eq!(log[0]["status"], 0);
    assert_eq!(log[1]["dropped"], false);
    assert_eq!(log[1]["status"], 200);
}

#[tokio::test]
async fn a_latency_fault_delays_the_real_answer() {
    let cloud = Cloud::start().await;
    add_fault(
        &cloud,
        json!({"path": "/api/v1/deployments", "latency_ms": 300, "count": 1}),
    )
    .await;
    let started = Instant::now();
    cloud.get("/deployments", OWNER_KEY).await.assert_ok(200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn faults_are_validated_listed_and_cleared() {
    let cloud = Cloud::start().await;
    for bad in [
        json!({"path": "/api/v1/deployments"}),
        json!({"path": "api/v1/deployments", "status": 500}),
        json!({"path": "/api/v1/deployments", "status": 1000}),
        json!({"path": "/api/v1/deployments", "status": 500, "count": 0}),
        json!({"path": "/api/v1/deployments", "status": 500, "colour": "red"}),
    ] {
        cloud
            .control(Method::POST, "/faults", Some(&bad))
            .await
            .assert_error(400, "emulator.invalid_request");
    }
    add_fault(
        &cloud,
        json!({"path": "/api/v1/deployments", "status": 503}),
    )
    .await;
    let listed = cloud.control(Method::GET, "/faults", None).await;
    assert_eq!(listed.assert_ok(200)["faults"][0]["status"], 503);
    for _ in 0..3 {
        cloud
            .get("/deployments", OWNER_KEY)
            .await
            .assert_error(503, "emulator.injected_fault");
    }
    cloud
        .control(Method::DELETE, "/faults", None)
        .await
        .assert_ok(200);
    cloud.get("/deployments", OWNER_KEY).await.assert_ok(200);
}

#[tokio::test]
async fn the_request_log_records_cloud_calls_only() {
    let cloud = Cloud::start().await;
    cloud
        .get(
            &format!("/deployments/{}?show_metadata=true", "x"),
            VIEWER_KEY,
        )
        .await;
    cloud
        .send(Method::GET, "/api/v1/organizations", None, None)
        .await
        .expect("request completes");
    cloud
        .control(Method::GET, "/clock", None)
        .await
        .assert_ok(200);
    let log = requests(&cloud).await;
    assert_eq!(
        log,
        [
            json!({"method": "GET", "path": "/api/v1/deployments/x", "query": "show_metadata=true",
                   "principal": "viewer-1", "api_key_id": "viewer-key", "status": 404, "dropped": false}),
            json!({"method": "GET", "path": "/api/v1/organizations", "query": null,
                   "principal": null, "api_key_id": null, "status": 401, "dropped": false}),
        ]
    );
    cloud
        .control(Method::DELETE, "/requests", None)
        .await
        .assert_ok(200);
    assert!(requests(&cloud).await.is_empty());
}

#[tokio::test]
async fn reset_restores_the_seed() {
    let cloud = Cloud::start().await;
    cloud
        .delete(
            &format!("/organizations/{ORG}/members/bob-1"),
            OWNER_KEY,
            None,
        )
        .await
        .assert_ok(200);
    let created = cloud
        .post(
            "/users/auth/keys",
            OWNER_KEY,
            &json!({"description": "temp"}),
        )
        .await;
    let key = created.assert_ok(201)["key"]
        .as_str()
        .expect("key")
        .to_owned();
    add_fault(
        &cloud,
        json!({"path": "/api/v1/**", "status": 500, "count": 100}),
    )
    .await;
    cloud.advance_clock(60).await;

    cloud
        .control(Method::POST, "/reset", None)
        .await
        .assert_ok(200);
    assert!(cloud.member("bob-1").await.is_some());
    cloud
        .get("/organizations", &key)
        .await
        .assert_error(401, "root.unauthorized");
    let clock = cloud.control(Method::GET, "/clock", None).await;
    assert_eq!(clock.assert_ok(200)["offset_seconds"], 0);
    // Only the two calls after the reset remain in the log.
    assert_eq!(requests(&cloud).await.len(), 2);
}

#[tokio::test]
async fn the_clock_only_moves_forward() {
    let cloud = Cloud::start().await;
    let before = cloud.control(Method::GET, "/clock", None).await;
    assert_eq!(before.assert_ok(200)["offset_seconds"], 0);
    let after = cloud
        .control(
            Method::POST,
            "/clock",
            Some(&json!({"advance_seconds": 7200})),
        )
        .await;
    assert_eq!(after.assert_ok(200)["offset_seconds"], 7200);
    cloud
        .control(
            Method::POST,
            "/clock",
            Some(&json!({"advance_seconds": -1})),
        )
        .await
        .assert_error(400, "emulator.invalid_request");
}

#[tokio::test]
async fn the_state_dump_never_contains_secrets() {
    let cloud = Cloud::start().await;
    let state = cloud.control(Method::GET, "/state", None).await;
    let state = state.assert_ok(200);
    assert_eq!(state["organization"]["id"], ORG);
    assert_eq!(state["api_keys"].as_array().map(Vec::len), Some(3));
    let text = state.to_string();
    assert!(!text.contains(OWNER_KEY) && !text.contains(VIEWER_KEY));
}

#[tokio::test]
async fn control_endpoints_are_not_cloud_apis() {
    let cloud = Cloud::start().await;
    cloud
        .get("/_emulator/requests", OWNER_KEY)
        .await
        .assert_error(404, "root.not_found");
}
