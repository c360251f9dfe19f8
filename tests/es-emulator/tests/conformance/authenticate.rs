//! authenticate/10_basic, security/10_forbidden and the 401 bodies.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn authenticate_native_user() {
    let es = start().await;
    es.put(
        "/_security/user/authenticate_user",
        &elastic(),
        json!({"password": "s3krit-password", "roles": ["superuser"], "full_name": "Authenticate User"}),
    )
    .await;
    let r = es
        .get(
            "/_security/_authenticate",
            &basic("authenticate_user", "s3krit-password"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["username"], "authenticate_user");
    assert_eq!(r.body["roles"][0], "superuser");
    assert_eq!(r.body["full_name"], "Authenticate User");
    assert_eq!(r.body["email"], json!(null));
    assert_eq!(r.body["enabled"], json!(true));
    assert_eq!(r.body["authentication_type"], "realm");
    assert_eq!(
        r.body["authentication_realm"],
        json!({"name": "default_native", "type": "native"})
    );
    assert_eq!(
        r.body["lookup_realm"],
        json!({"name": "default_native", "type": "native"})
    );
}

#[tokio::test]
async fn missing_credentials_body_and_header() {
    let es = start().await;
    let r = es.get("/?pretty", &Auth::None).await;
    let challenge = json!([
        "Basic realm=\"security\", charset=\"UTF-8\"",
        "Bearer realm=\"security\"",
        "ApiKey"
    ]);
    assert_eq!(
        r.body,
        json!({"error":{"root_cause":[{"type":"security_exception","reason":"missing authentication credentials for REST request [/?pretty]","header":{"WWW-Authenticate":challenge}}],"type":"security_exception","reason":"missing authentication credentials for REST request [/?pretty]","header":{"WWW-Authenticate":challenge}},"status":401})
    );
    let values: Vec<&str> = r
        .headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        values,
        [
            "Basic realm=\"security\", charset=\"UTF-8\"",
            "Bearer realm=\"security\"",
            "ApiKey"
        ]
    );
}

#[tokio::test]
async fn invalid_credentials_are_401_everywhere() {
    let es = start().await;
    let wrong = basic("elastic", "wrong");
    for (method, path) in [
        ("GET", "/"),
        ("POST", "/_bulk"),
        ("GET", "/_security/user"),
        ("GET", "/nope/_search"),
    ] {
        let r = es.call(method, path, &wrong, None).await;
        let reason = error_of(&r, 401, "security_exception");
        assert_eq!(
            reason,
            format!("unable to authenticate user [elastic] for REST request [{path}]")
        );
    }
    let r = es.get("/", &basic("ghost", "whatever")).await;
    error_of(&r, 401, "security_exception");
    let r = es.get("/", &Auth::Raw("Bearer abc".into())).await;
    error_of(&r, 401, "security_exception");
    let r = es.get("/", &Auth::Raw("Basic !!!".into())).await;
    error_of(&r, 401, "security_exception");
}

#[tokio::test]
async fn reserved_user_without_password_cannot_log_in() {
    let es = start().await;
    let r = es
        .get("/_security/_authenticate", &basic("kibana_system", ""))
        .await;
    error_of(&r, 401, "security_exception");
    let r = es.get("/_security/_authenticate", &elastic()).await;
    assert_eq!(
        r.body["authentication_realm"],
        json!({"name": "reserved", "type": "reserved"})
    );
    assert_eq!(r.body["metadata"], json!({"_reserved": true}));
}

#[tokio::test]
async fn info_needs_monitor() {
    let es = start().await;
    let r = es.get("/", &elastic()).await;
    assert_eq!(r.body["tagline"], "You Know, for Search");
    assert!(
        r.body["version"]["number"]
            .as_str()
            .unwrap()
            .starts_with('9')
    );
    assert_eq!(r.headers["x-elastic-product"], "Elasticsearch");
    let nobody = es.user("nobody", &[]).await;
    let r = es.get("/", &nobody).await;
    assert_eq!(
        error_of(&r, 403, "security_exception"),
        "action [cluster:monitor/main] is unauthorized for user [nobody] with effective roles [], this action is granted by the cluster privileges [monitor,manage,all]"
    );
    assert!(
        r.body["error"].get("header").is_none(),
        "403 carries no header"
    );
    let ghost_roles = es.user("fluent", &["all", "manage", "monitor"]).await;
    let r = es.get("/", &ghost_roles).await;
    assert_eq!(
        error_of(&r, 403, "security_exception"),
        "action [cluster:monitor/main] is unauthorized for user [fluent] with effective roles [] (assigned roles [all,manage,monitor] were not found), this action is granted by the cluster privileges [monitor,manage,all]"
    );
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods() {
    let es = start().await;
    let r = es.get("/_nope/x", &elastic()).await;
    assert_eq!(
        (r.status, r.body),
        (
            400,
            json!({"error": "no handler found for uri [/_nope/x] and method [GET]"})
        )
    );
    let r = es
        .call("GET", "/_security/user/joe/_enable", &elastic(), None)
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.body["status"], json!(405));
    let r = es.get("/_security/user?bogus=1", &elastic()).await;
    assert_eq!(
        error_of(&r, 400, "illegal_argument_exception"),
        "request [/_security/user] contains unrecognized parameter: [bogus]"
    );
}
