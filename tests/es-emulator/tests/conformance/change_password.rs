//! change_password/10_basic.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn admin_changes_password() {
    let es = start().await;
    let joe = es.user("joe", &["superuser"]).await;
    let r = es
        .put(
            "/_security/user/joe/_password",
            &elastic(),
            json!({"password": "s3krit-password2"}),
        )
        .await;
    assert_eq!((r.status, r.body), (200, json!({})));
    assert_eq!(es.get("/_security/_authenticate", &joe).await.status, 401);
    assert_eq!(
        es.get(
            "/_security/_authenticate",
            &basic("joe", "s3krit-password2")
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn change_by_existing_hash_keeps_credentials() {
    let es = start().await;
    let joe = es.user("joe", &["superuser"]).await;
    let users = es.control("GET", "state/users", None).await;
    let hash = users.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "joe")
        .unwrap()["password_hash"]
        .clone();
    let r = es
        .put(
            "/_security/user/joe/_password",
            &elastic(),
            json!({"password_hash": hash}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(es.get("/_security/_authenticate", &joe).await.status, 200);
}

#[tokio::test]
async fn unprivileged_user_changes_own_password_only() {
    let es = start().await;
    let user = es
        .user_with_role("unpriv", "user", json!({"cluster": ["monitor"]}))
        .await;
    es.user("anotheruser", &[]).await;
    let r = es
        .put(
            "/_security/user/_password",
            &user,
            json!({"password": "s3krit-password2"}),
        )
        .await;
    assert_eq!((r.status, r.body), (200, json!({})));
    let user = basic("unpriv", "s3krit-password2");
    assert_eq!(es.get("/_security/_authenticate", &user).await.status, 200);
    let r = es
        .put(
            "/_security/user/unpriv/_password",
            &user,
            json!({"password": "s3krit-password3"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let user = basic("unpriv", "s3krit-password3");
    let r = es
        .put(
            "/_security/user/anotheruser/_password",
            &user,
            json!({"password": "s3krit-password2"}),
        )
        .await;
    assert_eq!(
        error_of(&r, 403, "security_exception"),
        "action [cluster:admin/xpack/security/user/change_password] is unauthorized for user [unpriv] with effective roles [user], this action is granted by the cluster privileges [manage_security,all]"
    );
}

#[tokio::test]
async fn change_password_validation() {
    let es = start().await;
    let r = es
        .put(
            "/_security/user/joe/_password",
            &elastic(),
            json!({"password": "abc"}),
        )
        .await;
    assert_eq!(
        error_of(&r, 400, "validation_exception"),
        "Validation Failed: 1: passwords must be at least [6] characters long;"
    );
    let r = es
        .put(
            "/_security/user/nobody/_password",
            &elastic(),
            json!({"password": "long-enough"}),
        )
        .await;
    assert_eq!(
        error_of(&r, 400, "validation_exception"),
        "Validation Failed: 1: user must exist in order to change password;"
    );
    let r = es
        .put(
            "/_security/user/elastic/_password",
            &elastic(),
            json!({"password": "new-elastic-pw"}),
        )
        .await;
    assert_eq!(r.status, 200, "reserved users may change password");
    assert_eq!(
        es.get("/", &basic("elastic", "new-elastic-pw"))
            .await
            .status,
        200
    );
    let r = es
        .put(
            "/_security/user/kibana_system/_password",
            &basic("elastic", "new-elastic-pw"),
            json!({"password": "kibana-pw"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let a = es
        .get(
            "/_security/_authenticate",
            &basic("kibana_system", "kibana-pw"),
        )
        .await;
    assert_eq!(
        a.body["authentication_realm"],
        json!({"name": "reserved", "type": "reserved"})
    );
    let r = es
        .put(
            "/_security/user/_password",
            &basic("elastic", "new-elastic-pw"),
            json!({"pass": "x"}),
        )
        .await;
    assert_eq!(
        error_of(&r, 400, "parse_exception"),
        "failed to parse change password request. unexpected field [pass]"
    );
}
