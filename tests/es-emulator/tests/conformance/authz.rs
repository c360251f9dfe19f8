//! Authorization: denial bodies, restricted indices, reserved roles and has_privileges.

use serde_json::json;

use crate::common::*;

fn seed() -> serde_json::Value {
    json!({"indices": [{"name": "logs-1", "documents": [{"id": "1", "source": {"m": "x"}}]}, {"name": "secrets-1"}]})
}

#[tokio::test]
async fn connector_prerequisite_check() {
    let es = start().await;
    let conn = es
        .user_with_role("connector", "jit_connector", json!({"cluster": ["monitor", "manage_security"], "indices": [{"names": ["*"], "privileges": ["monitor"]}]}))
        .await;
    let r = es
        .post("/_security/user/_has_privileges", &conn,
              json!({"cluster": ["monitor", "manage_security", "manage_api_key", "grant_api_key", "read_security", "manage"],
                     "index": [{"names": ["*"], "privileges": ["monitor", "read"]}]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["username"], "connector");
    assert_eq!(
        r.body["cluster"],
        json!({"monitor": true, "manage_security": true, "manage_api_key": true, "grant_api_key": true, "read_security": true, "manage": false})
    );
    assert_eq!(
        r.body["index"]["*"],
        json!({"monitor": true, "read": false})
    );
    assert_eq!(r.body["has_all_requested"], json!(false));
    assert_eq!(r.body["application"], json!({}));
    let r = es
        .post(
            "/_security/user/_has_privileges",
            &conn,
            json!({"cluster": ["bogus"]}),
        )
        .await;
    error_of(&r, 400, "illegal_argument_exception");
    let r = es
        .post(
            "/_security/user/elastic/_has_privileges",
            &conn,
            json!({"cluster": ["monitor"]}),
        )
        .await;
    assert_eq!(
        error_of(&r, 400, "illegal_argument_exception"),
        "users may only check the privileges of their own account"
    );
}

#[tokio::test]
async fn superuser_has_everything_but_restricted_writes() {
    let es = start().await;
    let r = es
        .post("/_security/user/_has_privileges", &elastic(),
              json!({"cluster": ["all"], "index": [{"names": ["*"], "privileges": ["all"]},
                                                   {"names": [".security-7"], "privileges": ["read", "write"], "allow_restricted_indices": true}]}))
        .await;
    assert_eq!(r.body["cluster"]["all"], json!(true));
    assert_eq!(r.body["index"]["*"]["all"], json!(true));
    assert_eq!(
        r.body["index"][".security-7"],
        json!({"read": true, "write": false})
    );
}

#[tokio::test]
async fn restricted_indices_need_allow_restricted() {
    let es = start().await;
    let admin = es
        .user_with_role(
            "idx_admin",
            "idx_admin",
            json!({"indices": [{"names": ["*"], "privileges": ["all"]}]}),
        )
        .await;
    let r = es.get("/.security-7/_search", &admin).await;
    assert_eq!(
        error_of(&r, 403, "security_exception"),
        "action [indices:data/read/search] is unauthorized for user [idx_admin] with effective roles [idx_admin] on restricted indices [.security-7], this action is granted by the index privileges [read,all]"
    );
    let r = es
        .get("/_resolve/index/*?expand_wildcards=all", &admin)
        .await;
    assert!(
        r.body["indices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["name"] != ".security-7"),
        "{}",
        r.body
    );
    let r = es
        .get("/_resolve/index/*?expand_wildcards=all", &elastic())
        .await;
    let sec = r.body["indices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == ".security-7")
        .cloned()
        .unwrap();
    assert_eq!(sec["attributes"], json!(["hidden", "open", "system"]));
}

#[tokio::test]
async fn reserved_viewer_and_editor_roles() {
    let es = start_with(Some(seed())).await;
    let viewer = es.user("v", &["viewer"]).await;
    let editor = es.user("e", &["editor"]).await;
    assert_eq!(es.get("/secrets-1/_search", &viewer).await.status, 200);
    assert_eq!(es.get("/logs-1/_mapping", &viewer).await.status, 200);
    let r = es.put("/logs-1/_doc/2", &viewer, json!({"a": 1})).await;
    error_of(&r, 403, "security_exception");
    let r = es.put("/logs-1/_doc/2", &editor, json!({"a": 1})).await;
    error_of(&r, 403, "security_exception");
    let r = es.put("/_security/role/x", &editor, json!({})).await;
    error_of(&r, 403, "security_exception");
    let mon = es.user("m", &["monitoring_user"]).await;
    assert_eq!(es.get("/", &mon).await.status, 200);
}

#[tokio::test]
async fn create_doc_cannot_overwrite() {
    let es = start_with(Some(seed())).await;
    let w = es
        .user_with_role(
            "w",
            "w",
            json!({"indices": [{"names": ["logs-*"], "privileges": ["create_doc"]}]}),
        )
        .await;
    let r = es.post("/logs-1/_doc", &w, json!({"a": 1})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = es.put("/logs-1/_create/9", &w, json!({"a": 1})).await;
    assert_eq!(r.status, 201);
    let r = es.put("/logs-1/_doc/9", &w, json!({"a": 2})).await;
    let reason = error_of(&r, 403, "security_exception");
    assert!(
        reason.starts_with("action [indices:data/write/bulk[s]] is unauthorized for user [w]"),
        "{reason}"
    );
}

#[tokio::test]
async fn write_to_missing_index_needs_auto_create() {
    let es = start_with(Some(seed())).await;
    let w = es
        .user_with_role(
            "w",
            "w",
            json!({"indices": [{"names": ["logs-*"], "privileges": ["write"]}]}),
        )
        .await;
    let r = es.put("/logs-2/_doc/1", &w, json!({"a": 1})).await;
    assert_eq!(
        error_of(&r, 403, "security_exception"),
        "action [indices:admin/auto_create] is unauthorized for user [w] with effective roles [w] on indices [logs-2], this action is granted by the index privileges [auto_configure,create_index,manage,all]"
    );
    es.put(
        "/_security/role/w",
        &elastic(),
        json!({"indices": [{"names": ["logs-*"], "privileges": ["write", "create_index"]}]}),
    )
    .await;
    assert_eq!(
        es.put("/logs-2/_doc/1", &w, json!({"a": 1})).await.status,
        201
    );
}
