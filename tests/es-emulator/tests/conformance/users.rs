//! users/10_basic, 15_overwrite_user, 30_enable_disable, 31_create_disabled.

use serde_json::json;

use crate::common::*;

fn joe_body() -> serde_json::Value {
    json!({"password": "s3krit-password", "roles": ["superuser"], "full_name": "Bazooka Joe",
           "email": "joe@bazooka.gum", "metadata": {"key1": "val1", "key2": "val2"}})
}

#[tokio::test]
async fn put_get_and_authenticate_user() {
    let es = start().await;
    let r = es.put("/_security/user/joe", &elastic(), joe_body()).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"created": true})));
    let joe = basic("joe", "s3krit-password");
    let h = es.get("/_cluster/health", &joe).await;
    assert_eq!(h.body["timed_out"], json!(false));
    let g = es.get("/_security/user/joe", &elastic()).await;
    assert_eq!(g.status, 200);
    let u = &g.body["joe"];
    assert_eq!(u["username"], "joe");
    assert_eq!(u["roles"][0], "superuser");
    assert_eq!(u["full_name"], "Bazooka Joe");
    assert_eq!(u["email"], "joe@bazooka.gum");
    assert_eq!(u["metadata"], json!({"key1": "val1", "key2": "val2"}));
    assert_eq!(u["enabled"], json!(true));
    assert!(u.get("password").is_none());
}

#[tokio::test]
async fn username_in_body_must_match_path() {
    let es = start().await;
    let mut body = joe_body();
    body["username"] = json!("joe");
    let r = es
        .put("/_security/user/joe", &elastic(), body.clone())
        .await;
    assert_eq!(r.body, json!({"created": true}));
    body["username"] = json!("bob");
    let r = es.put("/_security/user/joe", &elastic(), body).await;
    let reason = error_of(&r, 400, "illegal_argument_exception");
    assert_eq!(
        reason,
        "[username] in source does not match the username provided [joe]"
    );
}

#[tokio::test]
async fn overwrite_user_reports_created_false() {
    let es = start().await;
    es.put("/_security/user/joe", &elastic(), joe_body()).await;
    let r = es
        .put(
            "/_security/user/joe",
            &elastic(),
            json!({"password": "s3krit-password2", "roles": ["superuser", "foo"], "full_name": "Bazooka Joe 2",
                   "email": "joe2@bazooka.gum", "metadata": {"key3": "val3"}}),
        )
        .await;
    assert_eq!(r.body, json!({"created": false}));
    let g = es.get("/_security/user/joe", &elastic()).await;
    assert_eq!(g.body["joe"]["roles"], json!(["superuser", "foo"]));
    assert_eq!(g.body["joe"]["metadata"], json!({"key3": "val3"}));
    assert_eq!(
        es.get(
            "/_security/_authenticate",
            &basic("joe", "s3krit-password2")
        )
        .await
        .status,
        200
    );
    assert_eq!(
        es.get("/_security/_authenticate", &basic("joe", "s3krit-password"))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn update_without_password_keeps_hash_and_new_user_needs_password() {
    let es = start().await;
    let r = es
        .put("/_security/user/nopw", &elastic(), json!({"roles": []}))
        .await;
    let reason = error_of(&r, 400, "validation_exception");
    assert_eq!(
        reason,
        "Validation Failed: 1: password must be specified unless you are updating an existing user;"
    );
    es.put("/_security/user/joe", &elastic(), joe_body()).await;
    let r = es
        .put(
            "/_security/user/joe",
            &elastic(),
            json!({"roles": ["viewer"]}),
        )
        .await;
    assert_eq!(r.body, json!({"created": false}));
    let a = es
        .get("/_security/_authenticate", &basic("joe", "s3krit-password"))
        .await;
    assert_eq!(a.body["roles"], json!(["viewer"]));
}

#[tokio::test]
async fn put_user_validations() {
    let es = start().await;
    let r = es
        .put(
            "/_security/user/joe",
            &elastic(),
            json!({"password": "short", "roles": []}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"error":{"root_cause":[{"type":"validation_exception","reason":"Validation Failed: 1: passwords must be at least [6] characters long;"}],"type":"validation_exception","reason":"Validation Failed: 1: passwords must be at least [6] characters long;"},"status":400})
    );
    let r = es
        .put(
            "/_security/user/joe",
            &elastic(),
            json!({"password": "long-enough"}),
        )
        .await;
    assert_eq!(
        error_of(&r, 400, "action_request_validation_exception"),
        "Validation Failed: 1: roles are missing;"
    );
    let r = es
        .put(
            "/_security/user/joe",
            &elastic(),
            json!({"password": "long-enough", "metadata": {"_x": 1}}),
        )
        .await;
    assert_eq!(
        error_of(&r, 400, "action_request_validation_exception"),
        "Validation Failed: 1: roles are missing;2: metadata keys may not start with [_];"
    );
    let r = es
        .put(
            "/_security/user/joe",
            &elastic(),
            json!({"password": "long-enough", "roles": [], "nope": 1}),
        )
        .await;
    assert_eq!(
        error_of(&r, 400, "parse_exception"),
        "failed to parse add user request. unexpected field [nope]"
    );
    let r = es
        .put(
            "/_security/user/%20joe",
            &elastic(),
            json!({"password": "long-enough", "roles": []}),
        )
        .await;
    let reason = error_of(&r, 400, "action_request_validation_exception");
    assert!(
        reason.starts_with(
            "Validation Failed: 1: User names must be at least 1 and no more than 507 characters."
        ),
        "{reason}"
    );
    let r = es
        .put(
            "/_security/user/elastic",
            &elastic(),
            json!({"password": "long-enough", "roles": []}),
        )
        .await;
    assert_eq!(
        error_of(&r, 400, "action_request_validation_exception"),
        "Validation Failed: 1: user [elastic] is reserved and only the password can be changed;"
    );
    let r = es
        .put(
            "/_security/user/joe",
            &elastic(),
            json!({"password": "long-enough", "roles": "a,b", "enabled": "yes"}),
        )
        .await;
    error_of(&r, 400, "parse_exception");
    // Unknown roles are accepted.
    let r = es
        .put(
            "/_security/user/joe",
            &elastic(),
            json!({"password": "long-enough", "roles": "no_such_role,other"}),
        )
        .await;
    assert_eq!(r.body, json!({"created": true}));
}

#[tokio::test]
async fn get_users_404_rule_and_reserved_metadata() {
    let es = start().await;
    es.put("/_security/user/joe", &elastic(), joe_body()).await;
    let r = es.get("/_security/user/nobody", &elastic()).await;
    assert_eq!((r.status, r.body), (404, json!({})));
    let r = es.get("/_security/user/nobody,joe", &elastic()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.as_object().unwrap().len(), 1);
    let r = es.get("/_security/user", &elastic()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["elastic"]["metadata"], json!({"_reserved": true}));
    assert_eq!(r.body["elastic"]["roles"], json!(["superuser"]));
    assert_eq!(r.body["kibana"]["metadata"]["_deprecated"], json!(true));
    assert!(r.body["joe"].is_object());
}

#[tokio::test]
async fn delete_user_found_and_reserved() {
    let es = start().await;
    es.put("/_security/user/joe", &elastic(), joe_body()).await;
    let r = es.delete("/_security/user/joe", &elastic()).await;
    assert_eq!((r.status, r.body), (200, json!({"found": true})));
    let r = es.delete("/_security/user/joe", &elastic()).await;
    assert_eq!((r.status, r.body), (404, json!({"found": false})));
    let r = es.delete("/_security/user/elastic", &elastic()).await;
    assert_eq!(
        error_of(&r, 400, "illegal_argument_exception"),
        "user [elastic] is reserved and cannot be deleted"
    );
}

#[tokio::test]
async fn enable_disable_and_self_rule() {
    let es = start().await;
    es.put("/_security/user/joe", &elastic(), joe_body()).await;
    let joe = basic("joe", "s3krit-password");
    let r = es
        .call("PUT", "/_security/user/joe/_disable", &elastic(), None)
        .await;
    assert_eq!((r.status, r.body), (200, json!({})));
    let r = es.get("/_security/_authenticate", &joe).await;
    assert_eq!(
        error_of(&r, 401, "security_exception"),
        "unable to authenticate user [joe] for REST request [/_security/_authenticate]"
    );
    // Idempotent.
    assert_eq!(
        es.call("PUT", "/_security/user/joe/_disable", &elastic(), None)
            .await
            .status,
        200
    );
    assert_eq!(
        es.call("POST", "/_security/user/joe/_enable", &elastic(), None)
            .await
            .status,
        200
    );
    assert_eq!(
        es.call("POST", "/_security/user/joe/_enable", &elastic(), None)
            .await
            .status,
        200
    );
    assert_eq!(es.get("/_security/_authenticate", &joe).await.status, 200);
    let r = es
        .call("PUT", "/_security/user/joe/_disable", &joe, None)
        .await;
    assert_eq!(
        error_of(&r, 400, "illegal_argument_exception"),
        "users may not update the enabled status of their own account"
    );
    let r = es
        .call("PUT", "/_security/user/ghost/_enable", &elastic(), None)
        .await;
    assert_eq!(
        error_of(&r, 400, "validation_exception"),
        "Validation Failed: 1: only existing users can be enabled;"
    );
    // Reserved users can be disabled.
    assert_eq!(
        es.call(
            "PUT",
            "/_security/user/kibana_system/_disable",
            &elastic(),
            None
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn create_disabled_user() {
    let es = start().await;
    let mut body = joe_body();
    body["enabled"] = json!(false);
    assert_eq!(
        es.put("/_security/user/joe", &elastic(), body).await.body,
        json!({"created": true})
    );
    let joe = basic("joe", "s3krit-password");
    assert_eq!(es.get("/_security/_authenticate", &joe).await.status, 401);
    es.call("PUT", "/_security/user/joe/_enable", &elastic(), None)
        .await;
    assert_eq!(es.get("/_security/_authenticate", &joe).await.status, 200);
}

#[tokio::test]
async fn put_user_with_password_hash() {
    let es = start().await;
    es.user("bob", &["superuser"]).await;
    let users = es.control("GET", "state/users", None).await;
    let hash = users.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "bob")
        .unwrap()["password_hash"]
        .clone();
    let r = es
        .put(
            "/_security/user/joe",
            &elastic(),
            json!({"password_hash": hash, "roles": ["superuser"]}),
        )
        .await;
    assert_eq!(r.body, json!({"created": true}));
    let a = es
        .get("/_security/_authenticate", &basic("joe", "bob-password"))
        .await;
    assert_eq!(a.body["username"], "joe");
    let r = es
        .put(
            "/_security/user/x",
            &elastic(),
            json!({"password_hash": "$2a$10$notsupported", "roles": []}),
        )
        .await;
    error_of(&r, 400, "illegal_argument_exception");
}

#[tokio::test]
async fn user_apis_need_manage_or_read_security() {
    let es = start().await;
    let mon = es
        .user_with_role("mon", "mon_role", json!({"cluster": ["monitor"]}))
        .await;
    let r = es
        .put(
            "/_security/user/x",
            &mon,
            json!({"password": "long-enough", "roles": []}),
        )
        .await;
    assert_eq!(
        error_of(&r, 403, "security_exception"),
        "action [cluster:admin/xpack/security/user/put] is unauthorized for user [mon] with effective roles [mon_role], this action is granted by the cluster privileges [manage_security,all]"
    );
    let r = es.get("/_security/user", &mon).await;
    assert_eq!(
        error_of(&r, 403, "security_exception"),
        "action [cluster:admin/xpack/security/user/get] is unauthorized for user [mon] with effective roles [mon_role], this action is granted by the cluster privileges [read_security,manage_security,all]"
    );
    let reader = es
        .user_with_role("rs", "rs_role", json!({"cluster": ["read_security"]}))
        .await;
    assert_eq!(es.get("/_security/user", &reader).await.status, 200);
    assert_eq!(es.delete("/_security/user/mon", &reader).await.status, 403);
}
