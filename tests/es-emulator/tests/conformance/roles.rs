//! roles/10_basic, 11_idx_arrays, 20_get_missing, plus validation and reserved roles.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn put_get_role_and_use_it() {
    let es = start().await;
    let r = es
        .put(
            "/_security/role/admin_role",
            &elastic(),
            json!({"cluster": ["all"], "metadata": {"key1": "val1", "key2": "val2"},
                   "indices": [{"names": "*", "privileges": ["all"]}]}),
        )
        .await;
    assert_eq!(r.body, json!({"role": {"created": true}}));
    let joe = es.user("joe", &["admin_role"]).await;
    let r = es
        .put(
            "/_security/role/backwards_role",
            &joe,
            json!({"indices": [{"privileges": ["all"], "names": "*"}], "cluster": ["all"]}),
        )
        .await;
    assert_eq!(r.body, json!({"role": {"created": true}}));
    let g = es.get("/_security/role/admin_role", &elastic()).await;
    let role = &g.body["admin_role"];
    assert_eq!(role["cluster"][0], "all");
    assert_eq!(role["metadata"]["key1"], "val1");
    assert_eq!(role["indices"][0]["names"][0], "*");
    assert_eq!(role["indices"][0]["privileges"][0], "all");
    assert_eq!(role["indices"][0]["allow_restricted_indices"], json!(false));
    assert_eq!(role["transient_metadata"], json!({"enabled": true}));
    let r = es
        .put(
            "/_security/role/admin_role",
            &elastic(),
            json!({"cluster": ["monitor"]}),
        )
        .await;
    assert_eq!(r.body, json!({"role": {"created": false}}));
}

#[tokio::test]
async fn index_name_arrays_round_trip_and_grant_access() {
    let es = start_with(Some(json!({"indices": [{"name": "foo", "documents": [{"id": "1", "source": {"a": 1}}]}, {"name": "bar"}]}))).await;
    let joe = es
        .user_with_role(
            "joe",
            "idx_role",
            json!({"cluster": ["monitor"], "indices": [{"names": ["foo", "bar"], "privileges": ["all"]}]}),
        )
        .await;
    let g = es.get("/_security/role/idx_role", &elastic()).await;
    assert_eq!(
        g.body["idx_role"]["indices"][0]["names"],
        json!(["foo", "bar"])
    );
    let d = es.get("/foo/_doc/1", &joe).await;
    assert_eq!(d.body["found"], json!(true));
    assert_eq!(es.get("/_cluster/health", &joe).await.status, 200);
}

#[tokio::test]
async fn get_missing_roles_is_404_empty() {
    let es = start().await;
    let r = es.get("/_security/role/foo", &elastic()).await;
    assert_eq!((r.status, r.body), (404, json!({})));
    let r = es.get("/_security/role/foo,bar", &elastic()).await;
    assert_eq!((r.status, r.body), (404, json!({})));
    let r = es.get("/_security/role/foo,superuser", &elastic()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["superuser"]["metadata"], json!({"_reserved": true}));
    let all = es.get("/_security/role", &elastic()).await;
    for reserved in [
        "superuser",
        "viewer",
        "editor",
        "kibana_system",
        "monitoring_user",
    ] {
        assert_eq!(
            all.body[reserved]["metadata"]["_reserved"],
            json!(true),
            "{reserved}"
        );
    }
}

#[tokio::test]
async fn metadata_and_description_round_trip() {
    let es = start().await;
    let body = json!({"description": "grant for alice", "indices": [{"names": ["logs-*"], "privileges": ["read", "view_index_metadata"]}],
                      "metadata": {"managed_by": "elastic-jit", "grant_id": "g-1"}});
    es.put("/_security/role/jit_grant_g-1", &elastic(), body)
        .await;
    let g = es.get("/_security/role/jit_grant_g-1", &elastic()).await;
    let role = &g.body["jit_grant_g-1"];
    assert_eq!(
        role["metadata"],
        json!({"managed_by": "elastic-jit", "grant_id": "g-1"})
    );
    assert_eq!(role["description"], "grant for alice");
    assert_eq!(role["cluster"], json!([]));
    assert_eq!(role["run_as"], json!([]));
    assert_eq!(role["applications"], json!([]));
}

#[tokio::test]
async fn role_validation_errors() {
    let es = start().await;
    let r = es
        .put(
            "/_security/role/superuser",
            &elastic(),
            json!({"cluster": ["all"]}),
        )
        .await;
    assert_eq!(
        error_of(&r, 400, "action_request_validation_exception"),
        "Validation Failed: 1: Role [superuser] is reserved and may not be used.;"
    );
    let r = es
        .put(
            "/_security/role/r",
            &elastic(),
            json!({"cluster": ["foo"], "indices": [{"names": ["*"], "privileges": ["bar"]}]}),
        )
        .await;
    let reason = error_of(&r, 400, "action_request_validation_exception");
    assert!(reason.starts_with("Validation Failed: 1: unknown cluster privilege [foo]. a privilege must be either one of the predefined cluster privilege names ["), "{reason}");
    assert!(reason.contains(";2: unknown index privilege [bar]. a privilege must be either one of the predefined fixed indices privileges ["), "{reason}");
    assert!(
        reason.ends_with("or a pattern over one of the available index actions;"),
        "{reason}"
    );
    let r = es.put("/_security/role/r", &elastic(), json!({"cluster": ["cluster:monitor/*"], "indices": [{"names": ["*"], "privileges": ["indices:data/read/*"]}]})).await;
    assert_eq!(
        r.status, 200,
        "raw action patterns are accepted: {}",
        r.body
    );
    let r = es
        .put(
            "/_security/role/r",
            &elastic(),
            json!({"metadata": {"_private": true}}),
        )
        .await;
    assert_eq!(
        error_of(&r, 400, "action_request_validation_exception"),
        "Validation Failed: 1: role descriptor metadata keys may not start with [_];"
    );
    let r = es
        .put("/_security/role/r", &elastic(), json!({"clusters": []}))
        .await;
    assert_eq!(
        error_of(&r, 400, "parse_exception"),
        "failed to parse role [r]. unexpected field [clusters]"
    );
    let r = es
        .put(
            "/_security/role/r",
            &elastic(),
            json!({"indices": [{"names": ["*"], "privileges": ["read"], "bogus": 1}]}),
        )
        .await;
    assert_eq!(
        error_of(&r, 400, "parse_exception"),
        "failed to parse indices privileges for role [r]. unexpected field [bogus]"
    );
    let r = es
        .put(
            "/_security/role/r",
            &elastic(),
            json!({"description": "x".repeat(1001)}),
        )
        .await;
    assert_eq!(
        error_of(&r, 400, "action_request_validation_exception"),
        "Validation Failed: 1: Role description must be less than 1000 characters.;"
    );
}

#[tokio::test]
async fn delete_role() {
    let es = start().await;
    es.put(
        "/_security/role/r",
        &elastic(),
        json!({"cluster": ["monitor"]}),
    )
    .await;
    let r = es.delete("/_security/role/r", &elastic()).await;
    assert_eq!((r.status, r.body), (200, json!({"found": true})));
    let r = es.delete("/_security/role/r", &elastic()).await;
    assert_eq!((r.status, r.body), (404, json!({"found": false})));
    let r = es.delete("/_security/role/superuser", &elastic()).await;
    assert_eq!(
        error_of(&r, 400, "illegal_argument_exception"),
        "role [superuser] is reserved and cannot be deleted"
    );
}

#[tokio::test]
async fn role_changes_apply_to_existing_users_immediately() {
    let es = start_with(Some(json!({"indices": [{"name": "logs-1"}]}))).await;
    let u = es
        .user_with_role(
            "u",
            "r",
            json!({"indices": [{"names": ["logs-*"], "privileges": ["read"]}]}),
        )
        .await;
    assert_eq!(es.get("/logs-1/_search", &u).await.status, 200);
    es.delete("/_security/role/r", &elastic()).await;
    let r = es.get("/logs-1/_search", &u).await;
    assert_eq!(
        error_of(&r, 403, "security_exception"),
        "action [indices:data/read/search] is unauthorized for user [u] with effective roles [] (assigned roles [r] were not found) on indices [logs-1], this action is granted by the index privileges [read,all]"
    );
}
