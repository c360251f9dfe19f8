//! `remote_indices` on put role and API keys (`RoleDescriptor.parseRemoteIndices`,
//! `RoleDescriptorRequestValidator`; `RoleDescriptorTests.testParseRemoteIndicesPrivilegesFailsWhenClustersFieldMissing`).

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn remote_indices_round_trip_with_clusters_last() {
    let es = start().await;
    let r = es
        .put(
            "/_security/role/ccs",
            &elastic(),
            json!({"remote_indices": [{"clusters": ["eu-cluster"], "names": "logs-*",
                   "privileges": ["read", "read_cross_cluster"]}]}),
        )
        .await;
    assert_eq!(r.body, json!({"role": {"created": true}}));
    let g = es.get("/_security/role/ccs", &elastic()).await;
    assert_eq!(
        g.body["ccs"]["remote_indices"],
        json!([{"names": ["logs-*"], "privileges": ["read", "read_cross_cluster"],
                "allow_restricted_indices": false, "clusters": ["eu-cluster"]}])
    );
    // A role without remote indices has no such field at all.
    es.put(
        "/_security/role/local",
        &elastic(),
        json!({"indices": [{"names": ["a"], "privileges": ["read"]}]}),
    )
    .await;
    let g = es.get("/_security/role/local", &elastic()).await;
    assert!(
        g.body["local"].get("remote_indices").is_none(),
        "{}",
        g.body
    );
}

#[tokio::test]
async fn remote_indices_are_parsed_and_validated_as_elasticsearch_does() {
    let es = start().await;
    let admin = elastic();
    let put = |body| es.put("/_security/role/r", &admin, body);
    let r =
        put(json!({"remote_indices": [{"names": ["idx1", "idx2"], "privileges": ["all"]}]})).await;
    assert_eq!(
        error_of(&r, 400, "parse_exception"),
        "failed to parse remote indices privileges for role [r]. missing required [clusters] field"
    );
    let r = put(
        json!({"indices": [{"names": ["idx1"], "privileges": ["all"], "clusters": ["remote"]}]}),
    )
    .await;
    assert_eq!(
        error_of(&r, 400, "parse_exception"),
        "failed to parse indices privileges for role [r]. unexpected field [clusters]"
    );
    let r = put(json!({"remote_indices": {"clusters": ["a"]}})).await;
    assert_eq!(
        error_of(&r, 400, "parse_exception"),
        "failed to parse remote indices privileges for role [r]. expected field [remote_indices] value to be an array, but found [START_OBJECT] instead"
    );
    let r = put(json!({"remote_indices": [{"clusters": ["a"], "privileges": ["read"]}]})).await;
    assert_eq!(
        error_of(&r, 400, "parse_exception"),
        "failed to parse indices privileges for role [r]. missing required [names] field"
    );
    let r = put(json!({"remote_indices": [{"clusters": ["", "b"], "names": ["x"], "privileges": ["read", "fly"]}]})).await;
    let reason = error_of(&r, 400, "action_request_validation_exception");
    assert!(
        reason.starts_with(
            "Validation Failed: 1: remote index cluster alias cannot be an empty string;2: unknown index privilege [fly]."
        ),
        "{reason}"
    );
}

#[tokio::test]
async fn api_key_role_descriptors_take_remote_indices_too() {
    let es = start().await;
    let r = es
        .post(
            "/_security/api_key",
            &elastic(),
            json!({"name": "k", "role_descriptors": {"r": {"remote_indices": [{"names": ["*"], "privileges": ["read"]}]}}}),
        )
        .await;
    assert_eq!(
        error_of(&r, 400, "parse_exception"),
        "failed to parse remote indices privileges for role [r]. missing required [clusters] field"
    );
    let r = es
        .post(
            "/_security/api_key",
            &elastic(),
            json!({"name": "k", "role_descriptors": {"r": {"remote_indices": [{"clusters": ["eu"], "names": ["*"], "privileges": ["read"]}]}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}
