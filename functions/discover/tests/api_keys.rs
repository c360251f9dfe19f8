//! `GET /integrations/{name}/api-keys/report`: the cluster's live API keys that never expire or
//! outlive `api_key_max_lifetime_days`, for administrators only, reported and never touched.

use fixtures::flows::{discover_app, granted, provision_app, register};
use fixtures::{ADMIN, Auth, DEV, Env, Person, es_seed, event, http};
use reqwest::Method;
use serde_json::{Value, json};

async fn report(d: &discover::App, who: Person, name: &str) -> (u16, Value) {
    fixtures::response(
        d.handle(http(
            event("discover/get-api-key-report.json"),
            &format!("/integrations/{name}/api-keys/report"),
            who,
            None,
        ))
        .await
        .expect("handler"),
    )
}

/// A key made by the cluster's superuser (not by elastic-jit).
async fn key(env: &Env, name: &str, expiration: Option<&str>) -> String {
    let mut body = json!({"name": name});
    if let Some(e) = expiration {
        body["expiration"] = json!(e);
    }
    let r: Value = env
        .es_as(Method::POST, "/_security/api_key", &Auth::elastic())
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["id"].as_str().expect("created").to_string()
}

#[tokio::test]
async fn keys_that_never_expire_or_outlive_the_maximum_are_reported_and_left_alone() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    let p = provision_app(&env);
    register(&env, &d, json!({"api_key_max_lifetime_days": 90})).await;
    fixtures::flows::flows(&d, &["keys-auto"]).await;
    let forever = key(&env, "ci-forever", None).await;
    let long = key(&env, "ci-long", Some("400d")).await;
    let short = key(&env, "ci-short", Some("30d")).await;
    let gone = key(&env, "ci-invalidated", None).await;
    let s = env
        .es_status(
            Method::DELETE,
            "/_security/api_key",
            &Auth::elastic(),
            Some(json!({"ids": [gone]})),
        )
        .await;
    assert_eq!(s, 200);
    // elastic-jit's own key of a live grant (expiring at the grant's end): not reported.
    granted(&p, DEV, "keys-auto", &["logs-2026.11"]).await;
    env.clear_es_log().await;

    let (s, r) = report(&d, ADMIN, "prod-search").await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["integration"], "prod-search");
    assert_eq!(r["max_lifetime_days"], 90);
    assert_eq!(r["complete"], true);
    assert_eq!(r["keys_checked"], 4, "live keys only: {r}");
    let ids = |f: &str| -> Vec<String> {
        r[f]["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids("never_expire"), vec![forever.clone()]);
    assert_eq!(r["never_expire"]["count"], 1);
    assert_eq!(ids("over_max_lifetime"), vec![long.clone()]);
    assert_eq!(r["over_max_lifetime"]["keys"][0]["managed"], false);
    assert!(!r.to_string().contains(&short));

    // One read, of live keys only, shrunk to the fields judged; nothing invalidated.
    let calls = env.es_requests().await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["method"], "POST");
    assert_eq!(calls[0]["path"], "/_security/_query/api_key");
    assert!(
        calls[0]["query"]
            .as_str()
            .unwrap()
            .starts_with("filter_path=")
    );
    let live = env
        .es_json(Method::GET, &format!("/_security/api_key?id={forever}"))
        .await;
    assert_eq!(live["api_keys"][0]["invalidated"], false);
}

#[tokio::test]
async fn only_admins_get_a_report_and_only_of_a_cluster() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    register(&env, &d, json!({})).await;
    env.clear_es_log().await;
    // A requester (even one who may use the integration's flows) is refused, with no read.
    let (s, r) = report(&d, DEV, "prod-search").await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{r}"
    );
    assert!(env.es_requests().await.is_empty());
    let (s, r) = report(&d, ADMIN, "no-such").await;
    assert_eq!(s, 404, "{r}");
    // Without a maximum only never-expiring keys are findings.
    key(&env, "long", Some("4000d")).await;
    let (s, r) = report(&d, ADMIN, "prod-search").await;
    assert_eq!(s, 200, "{r}");
    assert!(r.get("max_lifetime_days").is_none());
    assert_eq!(r["over_max_lifetime"]["count"], 0);
    // A cluster that fails: a 5xx of ours, never its words.
    env.es_fault("POST", "/_security/_query/api_key", 10, 500)
        .await;
    let (s, r) = report(&d, ADMIN, "prod-search").await;
    assert!(s >= 500, "{s} {r}");
    assert!(!r.to_string().contains("injected fault"), "{r}");
}

#[tokio::test]
async fn the_maximum_is_validated_and_elasticsearch_only() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    let arn = env.connector_secret().await;
    for bad in [json!(0), json!(3651), json!("90d"), json!(-1)] {
        let (s, r) = fixtures::flows::put_integration(
            &d,
            "prod-search",
            json!({"kind": "elasticsearch", "url": env.es.url(), "secret_arn": arn, "allow_insecure_http": true, "api_key_max_lifetime_days": bad}),
        )
        .await;
        assert_eq!(s, 400, "{bad}: {r}");
    }
    let (s, r) = fixtures::flows::put_integration(
        &d,
        "cloud",
        json!({"kind": "elastic_cloud", "organization_id": "org-1", "secret_arn": arn, "api_key_max_lifetime_days": 90}),
    )
    .await;
    assert_eq!(s, 400, "{r}");
    assert!(r.to_string().contains("api_key_max_lifetime_days"), "{r}");
}
