//! `grant_allows` in `GET /requests/{id}`: the role the grant will create, in words, and for
//! the people deciding a pending request, what each of its names is on the cluster now.

use fixtures::flows::{
    approve, ask, discover_app, flows, get_request as get, provision_app, register,
};
use fixtures::{ADMIN, ALICE, Auth, DEV, Env, MALLORY, es_seed};
use reqwest::Method;
use serde_json::{Value, json};

/// The demo cluster plus a data stream alice owns, with two backing indices.
fn seed() -> es_emulator::Seed {
    let mut seed = es_seed();
    seed.data_streams.push(
        serde_json::from_value(
            json!({"name": "logs-app", "_meta": {"owner": "alice@example.com"}, "generations": 2}),
        )
        .unwrap(),
    );
    seed
}

async fn resolve_calls(env: &Env) -> Vec<String> {
    env.es_requests()
        .await
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/_resolve/index"))
        })
        .map(|r| {
            format!(
                "{}?{}",
                r["path"].as_str().unwrap_or_default(),
                r["query"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

async fn pending(env: &Env, resources: Value) -> (provision::App, String) {
    let d = discover_app(env);
    let p = provision_app(env);
    register(env, &d, json!({})).await;
    flows(&d, &["logs-read"]).await;
    let (s, r) = ask(&p, DEV, json!({"integration": "prod-search", "flow": "logs-read", "resources": resources, "permission": "read", "duration": "1h", "justification": "incident 42"})).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("pending")), "{r}");
    (p, r["id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn the_approver_sees_the_role_that_will_be_created_and_what_each_name_is_now() {
    let env = Env::start(seed()).await;
    let (p, id) = pending(&env, json!(["logs-2026.11", "logs-app"])).await;
    env.clear_es_log().await;

    let (s, r) = get(&p, ALICE, &id).await;
    assert_eq!(s, 200, "{r}");
    let g = &r["grant_allows"];
    assert_eq!(g["target"], "elasticsearch");
    assert_eq!(
        g["role_descriptor"],
        json!({"cluster": [], "indices": [{"names": ["logs-2026.11", "logs-app"], "privileges": ["read", "view_index_metadata"], "allow_restricted_indices": false}]})
    );
    assert_eq!(
        g["in_words"],
        json!([
            "index privileges read, view_index_metadata on 2 indices or data streams: logs-2026.11, logs-app",
            "no cluster privileges"
        ])
    );
    assert_eq!(g["resolution"]["status"], "live", "{g}");
    let names = g["resolution"]["names"].as_array().unwrap();
    assert_eq!(names[0]["name"], "logs-2026.11");
    assert_eq!(names[0]["kind"], "index");
    assert_eq!(names[0]["attributes"], json!(["open"]));
    // An index's aliases are not what a role on the index reaches: not listed.
    assert!(names[0].get("reaches").is_none(), "{g}");
    assert_eq!(names[1]["name"], "logs-app");
    assert_eq!(names[1]["kind"], "data_stream");
    let backing = names[1]["reaches"].as_array().unwrap();
    assert_eq!(backing.len(), 2, "{g}");
    assert!(
        backing
            .iter()
            .all(|b| b.as_str().unwrap().starts_with(".ds-logs-app-"))
    );

    // Exactly the granted names, in one read, never a wildcard.
    let calls = resolve_calls(&env).await;
    assert_eq!(
        calls,
        vec!["/_resolve/index/logs-2026.11,logs-app?expand_wildcards=all&ignore_unavailable=true"]
    );

    // What was shown is what is created: the role on the cluster after approval.
    let (s, done) = approve(&p, ALICE, &id).await;
    assert_eq!(
        (s, done["status"].as_str()),
        (200, Some("active")),
        "{done}"
    );
    let role = env
        .es_json(Method::GET, &format!("/_security/role/ejit_grant_{id}"))
        .await;
    let created = &role[format!("ejit_grant_{id}")];
    assert_eq!(created["cluster"], g["role_descriptor"]["cluster"]);
    assert_eq!(
        created["indices"][0]["names"],
        g["role_descriptor"]["indices"][0]["names"]
    );
    assert_eq!(
        created["indices"][0]["privileges"],
        g["role_descriptor"]["indices"][0]["privileges"]
    );

    // Decided: the role is still shown, the cluster no longer read.
    env.clear_es_log().await;
    let (_, after) = get(&p, ALICE, &id).await;
    assert_eq!(after["grant_allows"]["resolution"]["status"], "not_read");
    assert_eq!(
        after["grant_allows"]["role_descriptor"],
        g["role_descriptor"]
    );
    assert!(resolve_calls(&env).await.is_empty());
}

#[tokio::test]
async fn a_name_gone_since_the_request_is_shown_missing() {
    let env = Env::start(es_seed()).await;
    let (p, id) = pending(&env, json!(["logs-*"])).await;
    let s = env
        .es_status(Method::DELETE, "/logs-2026.10", &Auth::elastic(), None)
        .await;
    assert_eq!(s, 200);
    let (_, r) = get(&p, ALICE, &id).await;
    let names = &r["grant_allows"]["resolution"]["names"];
    assert_eq!(
        names,
        &json!([{"name": "logs-2026.10", "kind": "missing"}, {"name": "logs-2026.11", "kind": "index", "attributes": ["open"]}]),
        "{r}"
    );
}

#[tokio::test]
async fn the_requester_and_strangers_cannot_make_it_read_the_cluster() {
    let env = Env::start(seed()).await;
    let (p, id) = pending(&env, json!(["logs-app"])).await;
    env.clear_es_log().await;

    // The requester sees the role (what they asked for) but not what lies behind the names
    // (a data stream's backing indices may be outside what they could list), and polling
    // their own request reads nothing from the cluster.
    for _ in 0..3 {
        let (s, r) = get(&p, DEV, &id).await;
        assert_eq!(s, 200);
        let g = &r["grant_allows"];
        assert_eq!(
            g["role_descriptor"]["indices"][0]["names"],
            json!(["logs-app"])
        );
        assert_eq!(g["resolution"]["status"], "not_read", "{g}");
        assert!(g["resolution"].get("names").is_none());
        assert!(!r.to_string().contains(".ds-logs-app"), "{r}");
    }
    assert!(resolve_calls(&env).await.is_empty());

    // Someone who may not see the request learns nothing, and nothing is read.
    let (s, r) = get(&p, MALLORY, &id).await;
    assert_eq!(s, 404, "{r}");
    assert!(r.get("grant_allows").is_none());
    assert!(resolve_calls(&env).await.is_empty());

    // An administrator may read it (they manage the integration and its discovery anyway).
    let (s, r) = get(&p, ADMIN, &id).await;
    assert_eq!(s, 200);
    assert_eq!(r["grant_allows"]["resolution"]["status"], "live");
    assert_eq!(resolve_calls(&env).await.len(), 1);
}

#[tokio::test]
async fn a_cluster_that_fails_leaves_the_request_readable_and_says_so_without_its_words() {
    let env = Env::start(es_seed()).await;
    let (p, id) = pending(&env, json!(["logs-2026.11"])).await;
    env.es_fault("GET", "/_resolve/index/*", 10, 500).await;
    let (s, r) = get(&p, ALICE, &id).await;
    assert_eq!(s, 200, "{r}");
    let res = &r["grant_allows"]["resolution"];
    assert_eq!(res["status"], "unavailable", "{r}");
    assert!(
        res["reason"]
            .as_str()
            .unwrap()
            .starts_with("the cluster could not be read now")
    );
    // The target's own error text is never echoed.
    assert!(!r.to_string().contains("injected fault"), "{r}");
    // The role is shown all the same.
    assert_eq!(
        r["grant_allows"]["role_descriptor"]["indices"][0]["names"],
        json!(["logs-2026.11"])
    );
}
