//! The orphan sweep judges what is live on the cluster against the records: each shape a killed
//! or half-recorded provision leaves behind is repaired, and lookalikes elastic-jit did not make
//! are never touched. Also the API-key inventory the sweep reads (`_query/api_key` paging).

use chrono::Duration;
use fixtures::flows::sweep;
use fixtures::flows::{
    auth_of, cleanup_app, credentials, discover_app, flows, granted, provision_app, register,
};
use fixtures::{Auth, DEV, Env, es_seed, t0};
use reqwest::Method;
use serde_json::{Value, json};
use shared::clock::Clock;
use shared::model::{AccessRequest, Identity, PrincipalState, RequestStatus, TargetObject};
use shared::store::{IntegrationStore, PrincipalStore, RequestStore};
use shared::targets::DriverFactory;

const INTEGRATION: &str = "prod-search";

fn managed(grant: Option<&str>, requester: &str) -> Value {
    let mut m =
        json!({"managed_by": "elastic-jit", "integration": INTEGRATION, "requester": requester});
    if let Some(g) = grant {
        m["grant_id"] = json!(g);
    }
    m
}

fn request(id: &str, status: RequestStatus, sub: &str, email: &str) -> AccessRequest {
    // Recent enough that the stuck-request sweep leaves an `approved` one alone.
    let at = t0();
    let requester = Identity {
        sub: sub.into(),
        email: Some(email.into()),
        groups: vec!["developers".into()],
        issuer: Some("https://idp.example.com".into()),
        email_verified: true,
    };
    AccessRequest {
        integration: INTEGRATION.into(),
        flow: "keys-auto".into(),
        resources: vec!["logs-2026.11".into()],
        requested_resources: vec!["logs-2026.11".into()],
        permission: "read".into(),
        duration_secs: 3600,
        status,
        approval_expires_at: at + Duration::hours(1),
        ..AccessRequest::fresh(id.into(), requester, at)
    }
}

async fn set_status(env: &Env, id: &str, status: RequestStatus) {
    let mut r = env.store.get_request(id).await.unwrap().unwrap();
    let v = r.version;
    r.status = status;
    env.store.update_request(&r, v, &[]).await.unwrap();
}

async fn put(env: &Env, path: &str, body: Value) {
    let s = env
        .es_status(Method::PUT, path, &Auth::elastic(), Some(body))
        .await;
    assert!(s < 300, "{path}: {s}");
}

async fn user(env: &Env, name: &str) -> Value {
    env.es_json(Method::GET, &format!("/_security/user/{name}"))
        .await[name]
        .clone()
}

async fn exists(env: &Env, path: &str) -> bool {
    env.es_status(Method::GET, path, &Auth::elastic(), None)
        .await
        == 200
}

/// Creates an API key as `elastic`; returns its id and encoded credential.
async fn api_key(env: &Env, name: &str, metadata: Value) -> (String, String) {
    let k: Value = env
        .es_as(Method::POST, "/_security/api_key", &Auth::elastic())
        .json(&json!({"name": name, "metadata": metadata}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        k["id"].as_str().unwrap().into(),
        k["encoded"].as_str().unwrap().into(),
    )
}

async fn key_works(env: &Env, encoded: &str) -> bool {
    env.es_status(
        Method::GET,
        "/_security/_authenticate",
        &Auth::ApiKey(encoded.into()),
        None,
    )
    .await
        == 200
}

/// The integration's driver, as the sweep builds it.
async fn driver(env: &Env) -> Box<dyn shared::driver::Driver> {
    let integration = env
        .store
        .get_integration(INTEGRATION)
        .await
        .unwrap()
        .unwrap();
    env.targets.driver(&integration).await.unwrap()
}

/// The lookalikes every test plants: a user, a role and a key named like elastic-jit's but not
/// marked as made by it (or marked for another integration). None may ever change.
async fn plant_lookalikes(env: &Env) -> String {
    put(
        env,
        "/_security/role/ejit_grant_lookalike",
        json!({"indices": [{"names": ["logs-*"], "privileges": ["read"]}], "metadata": {"managed_by": "terraform", "grant_id": "lookalike"}}),
    )
    .await;
    put(
        env,
        "/_security/user/ejit_erin2@example.com",
        json!({"password": "lookalike-pw", "roles": ["ejit_grant_lookalike"], "metadata": {"integration": INTEGRATION}}),
    )
    .await;
    put(
        env,
        "/_security/role/ejit_grant_elsewhere",
        json!({"indices": [{"names": ["x"], "privileges": ["read"]}], "metadata": {"managed_by": "elastic-jit", "integration": "another", "grant_id": "elsewhere"}}),
    )
    .await;
    api_key(
        env,
        "ejit_grant_lookalike",
        json!({"grant_id": "lookalike"}),
    )
    .await
    .1
}

async fn assert_lookalikes_untouched(env: &Env, key: &str) {
    let u = user(env, "ejit_erin2@example.com").await;
    assert_eq!(u["enabled"], true, "{u}");
    assert_eq!(u["roles"], json!(["ejit_grant_lookalike"]));
    assert!(exists(env, "/_security/role/ejit_grant_lookalike").await);
    assert!(exists(env, "/_security/role/ejit_grant_elsewhere").await);
    assert!(key_works(env, key).await, "an unmanaged key stays valid");
}

/// A first provision killed during `api_key/grant`: the account exists, enabled, holding the
/// grant's role, while its record says nothing is granted and its lease has lapsed.
#[tokio::test]
async fn an_account_left_by_a_killed_first_provision_is_disabled_and_stripped() {
    let env = Env::start(es_seed()).await;
    let (d, c) = (discover_app(&env), cleanup_app(&env));
    register(&env, &d, json!({})).await;
    let lookalike_key = plant_lookalikes(&env).await;
    let now = env.clock.now();
    let (grant, name) = ("killed-1", "ejit_erin@example.com");
    env.store
        .create_request(
            &request(
                grant,
                RequestStatus::Approved,
                "erin-sub",
                "erin@example.com",
            ),
            None,
            &[],
        )
        .await
        .unwrap();
    let mut p = PrincipalState::new(INTEGRATION, name, "erin-sub", now - Duration::minutes(20));
    p.lock_owner = Some(grant.into());
    p.lock_until = Some(now - Duration::minutes(19));
    env.store.save_principal(&p, None, &[]).await.unwrap();
    put(
        &env,
        &format!("/_security/role/ejit_grant_{grant}"),
        json!({"indices": [{"names": ["logs-2026.11"], "privileges": ["read"]}], "metadata": managed(Some(grant), "erin-sub")}),
    )
    .await;
    put(
        &env,
        &format!("/_security/user/{name}"),
        json!({"password": "erin-password", "roles": [format!("ejit_grant_{grant}")], "email": "erin@example.com",
               "full_name": "erin@example.com", "metadata": managed(None, "erin-sub")}),
    )
    .await;
    let erin = Auth::Basic(name.into(), "erin-password".into());
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &erin, None)
            .await,
        200,
        "the leftover account reads the index"
    );

    let report = sweep(&c).await;
    assert_eq!(report["errors"], 0, "{report}");
    let u = user(&env, name).await;
    assert_eq!(u["enabled"], false, "{u}");
    assert_eq!(u["roles"], json!([]));
    assert_eq!(
        u["email"], "erin@example.com",
        "the document is kept as it was"
    );
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &erin, None)
            .await,
        401
    );
    // The grant is still `approved`, so its role waits for the stuck-request sweep.
    assert!(exists(&env, &format!("/_security/role/ejit_grant_{grant}")).await);
    let record = env
        .store
        .get_principal(INTEGRATION, name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((record.enabled, record.lock_owner.clone()), (false, None));

    set_status(&env, grant, RequestStatus::Failed).await;
    sweep(&c).await;
    assert!(!exists(&env, &format!("/_security/role/ejit_grant_{grant}")).await);
    assert_lookalikes_untouched(&env, &lookalike_key).await;
}

/// A second provision killed after minting its key: the live account keeps its active grant's
/// role and access; the dead grant's role and key go once the grant is no longer live.
#[tokio::test]
async fn a_killed_second_grant_is_stripped_from_a_live_account_and_its_key_invalidated() {
    let env = Env::start(es_seed()).await;
    let (d, p, c) = (discover_app(&env), provision_app(&env), cleanup_app(&env));
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-auto"]).await;
    let lookalike_key = plant_lookalikes(&env).await;
    let live = granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
    let live_id = live["id"].as_str().unwrap();
    let live_role = format!("ejit_grant_{live_id}");
    let (_, creds) = credentials(&p, DEV, live_id).await;
    let name = "ejit_dev@example.com";
    let dead = "killed-2";
    env.store
        .create_request(
            &request(dead, RequestStatus::Approved, DEV.sub, DEV.email),
            None,
            &[],
        )
        .await
        .unwrap();
    put(
        &env,
        &format!("/_security/role/ejit_grant_{dead}"),
        json!({"indices": [{"names": ["secrets-1"], "privileges": ["read"]}], "metadata": managed(Some(dead), DEV.sub)}),
    )
    .await;
    put(
        &env,
        &format!("/_security/user/{name}"),
        json!({"roles": [live_role, format!("ejit_grant_{dead}")], "email": DEV.email, "metadata": managed(None, DEV.sub)}),
    )
    .await;
    let (_, dead_key) = api_key(
        &env,
        &format!("ejit_grant_{dead}"),
        managed(Some(dead), DEV.sub),
    )
    .await;

    let report = sweep(&c).await;
    assert_eq!(report["errors"], 0, "{report}");
    let u = user(&env, name).await;
    assert_eq!(
        (u["enabled"].clone(), u["roles"].clone()),
        (json!(true), json!([live_role])),
        "{u}"
    );
    assert_eq!(
        env.es_status(Method::GET, "/secrets-1/_search", &auth_of(&creds), None)
            .await,
        403,
        "the dead grant's access is gone"
    );
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &auth_of(&creds), None)
            .await,
        200,
        "the live grant still works"
    );
    assert!(
        key_works(&env, &dead_key).await,
        "kept while its grant is approved"
    );

    set_status(&env, dead, RequestStatus::Failed).await;
    sweep(&c).await;
    assert!(!key_works(&env, &dead_key).await, "invalidated");
    assert!(!exists(&env, &format!("/_security/role/ejit_grant_{dead}")).await);
    assert!(exists(&env, &format!("/_security/role/{live_role}")).await);
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &auth_of(&creds), None)
            .await,
        200
    );
    assert_lookalikes_untouched(&env, &lookalike_key).await;
}

/// A record still naming a grant that has ended (its account was never rewritten): the account
/// is disabled and stripped, the role deleted, and the record corrected.
#[tokio::test]
async fn an_account_whose_record_names_an_ended_grant_is_disabled_and_the_record_corrected() {
    let env = Env::start(es_seed()).await;
    let (d, c) = (discover_app(&env), cleanup_app(&env));
    register(&env, &d, json!({"user_cleanup_days": 7})).await;
    let lookalike_key = plant_lookalikes(&env).await;
    let now = env.clock.now();
    let (grant, name) = ("ended-1", "ejit_frank@example.com");
    env.store
        .create_request(
            &request(
                grant,
                RequestStatus::Expired,
                "frank-sub",
                "frank@example.com",
            ),
            None,
            &[],
        )
        .await
        .unwrap();
    let mut p = PrincipalState::new(INTEGRATION, name, "frank-sub", now - Duration::hours(2));
    p.active_grants = vec![grant.into()];
    p.roles = vec![format!("ejit_grant_{grant}")];
    p.enabled = true;
    p.provisioned = true;
    env.store.save_principal(&p, None, &[]).await.unwrap();
    put(
        &env,
        &format!("/_security/role/ejit_grant_{grant}"),
        json!({"indices": [{"names": ["logs-*"], "privileges": ["read"]}], "metadata": managed(Some(grant), "frank-sub")}),
    )
    .await;
    put(
        &env,
        &format!("/_security/user/{name}"),
        json!({"password": "frank-password", "roles": [format!("ejit_grant_{grant}")], "metadata": managed(None, "frank-sub")}),
    )
    .await;

    let report = sweep(&c).await;
    assert_eq!(report["errors"], 0, "{report}");
    let u = user(&env, name).await;
    assert_eq!(
        (u["enabled"].clone(), u["roles"].clone()),
        (json!(false), json!([])),
        "{u}"
    );
    assert!(!exists(&env, &format!("/_security/role/ejit_grant_{grant}")).await);
    let record = env
        .store
        .get_principal(INTEGRATION, name)
        .await
        .unwrap()
        .unwrap();
    assert!(record.active_grants.is_empty() && record.roles.is_empty());
    assert!(!record.enabled);
    assert_eq!(
        record.cleanup_due_at,
        Some(now + Duration::days(7)),
        "idle cleanup follows"
    );
    assert_lookalikes_untouched(&env, &lookalike_key).await;
    // Nothing left to repair: a second run changes nothing.
    let again = sweep(&c).await;
    assert_eq!(again["orphans_removed"], 0, "{again}");
}

/// The inventory pages `_query/api_key` past one page with `search_after`, sorting only by
/// fields Elasticsearch allows (not `id`), and lists only keys marked as elastic-jit's.
#[tokio::test]
async fn the_key_inventory_pages_past_a_thousand_managed_keys() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    register(&env, &d, json!({})).await;
    use futures::StreamExt;
    let total = 1005;
    futures::stream::iter(0..total)
        .map(|i| {
            let env = &env;
            async move {
                api_key(
                    env,
                    &format!("ejit_grant_bulk-{i:04}"),
                    managed(Some(&format!("bulk-{i:04}")), "bulk-sub"),
                )
                .await
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    api_key(&env, "unmanaged", json!({})).await;
    env.clear_es_log().await;
    let driver = driver(&env).await;
    let listed = driver.list_managed().await.expect("inventory");
    let mut keys: Vec<String> = listed
        .iter()
        .filter_map(|m| match &m.object {
            TargetObject::EsApiKey { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(
        keys.len(),
        total,
        "every managed key once, the unmanaged one not at all"
    );
    let queries: Vec<Value> = env
        .es_requests()
        .await
        .into_iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.contains("_query/api_key"))
        })
        .collect();
    assert_eq!(queries.len(), 2, "two pages: {queries:?}");
}

/// The inventory asks the cluster only for names under the integration's prefix (the user and
/// role query APIs), never for every user and role; a cluster older than those APIs (no handler
/// for the path) is listed whole once and filtered, with the same result.
#[tokio::test]
async fn the_inventory_asks_only_for_the_integrations_names_and_falls_back_on_older_clusters() {
    let env = Env::start(es_seed()).await;
    let (d, c) = (discover_app(&env), cleanup_app(&env));
    register(&env, &d, json!({})).await;
    // The integration's orphans, then another team's objects under another prefix: never asked
    // for, never returned.
    for (role, user, sub) in [
        ("ejit_grant_gone", "ejit_gone@example.com", "sub-1"),
        ("team_reader", "team_carol", "sub-2"),
    ] {
        put(
            &env,
            &format!("/_security/role/{role}"),
            json!({"indices": [{"names": ["logs-*"], "privileges": ["read"]}], "metadata": managed(Some(sub), sub)}),
        )
        .await;
        put(
            &env,
            &format!("/_security/user/{user}"),
            json!({"password": "orphan-password", "roles": [role], "metadata": managed(None, sub)}),
        )
        .await;
    }
    let driver = driver(&env).await;
    let names = |listed: &[shared::driver::ManagedObject]| {
        let mut n: Vec<String> = listed
            .iter()
            .filter_map(|m| match &m.object {
                TargetObject::EsUser { username } => Some(username.clone()),
                TargetObject::EsRole { name } => Some(name.clone()),
                _ => None,
            })
            .collect();
        n.sort();
        n
    };
    let paths = |log: &[Value]| -> Vec<String> {
        log.iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["method"].as_str().unwrap(),
                    r["path"].as_str().unwrap()
                )
            })
            .collect()
    };

    env.clear_es_log().await;
    let listed = driver.list_managed().await.expect("inventory");
    assert_eq!(names(&listed), ["ejit_gone@example.com", "ejit_grant_gone"]);
    let asked = paths(&env.es_requests().await);
    assert_eq!(
        asked,
        [
            "POST /_security/_query/user",
            "POST /_security/_query/role",
            "POST /_security/_query/api_key"
        ]
    );

    // An 8.13 cluster: no handler for either query path.
    for path in ["/_security/_query/user", "/_security/_query/role"] {
        let r = env
            .http
            .post(format!("{}/_emulator/faults", env.es.url()))
            .json(&json!({"method": "POST", "path": path, "count": 1, "status": 400,
                          "body": {"error": format!("no handler found for uri [{path}] and method [POST]")}}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    env.clear_es_log().await;
    let fallback = driver
        .list_managed()
        .await
        .expect("inventory on an older cluster");
    assert_eq!(names(&fallback), names(&listed));
    let asked = paths(&env.es_requests().await);
    assert_eq!(
        asked,
        [
            "POST /_security/_query/user",
            "GET /_security/user",
            "POST /_security/_query/role",
            "GET /_security/role",
            "POST /_security/_query/api_key"
        ]
    );

    // Any other refusal of the query is an error, not a silent full listing.
    env.es_fault("POST", "/_security/_query/user", 1, 403).await;
    assert!(driver.list_managed().await.is_err());

    // The sweep itself removes the orphans under the prefix and leaves the other team's alone.
    sweep(&c).await;
    assert!(!exists(&env, "/_security/role/ejit_grant_gone").await);
    assert!(!exists(&env, "/_security/user/ejit_gone@example.com").await);
    assert!(exists(&env, "/_security/role/team_reader").await);
    assert!(exists(&env, "/_security/user/team_carol").await);
}
