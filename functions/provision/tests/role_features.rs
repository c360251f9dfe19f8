//! Custom permissions that carry more than index privileges on the requested names (issue 21):
//! remote clusters' indices, document- and field-level security. What approvers are shown is
//! what the cluster gets, and nothing a requester sends can add to it.

use fixtures::flows::{
    approve, ask, auth_of, credentials, discover_app, flow_spec, get_request as get, provision_app,
    put_flow, put_integration, register, registration,
};
use fixtures::{ALICE, Auth, DEV, Env, MALLORY, Person, es_seed};
use reqwest::Method;
use serde_json::{Value, json};

fn remote_permission() -> Value {
    json!({"custom_permissions": [{
        "name": "read-eu", "privileges": ["read", "view_index_metadata"],
        "remote_indices": [{"resources": ["eu-cluster:logs-*", "eu-cluster:audit", "us-cluster:logs-*"],
                            "privileges": ["read", "read_cross_cluster"]}]
    }]})
}

/// Approves `id` as alice and reads the role its grant created.
async fn approved_role(env: &Env, p: &provision::App, id: &str) -> Value {
    let (s, done) = approve(p, ALICE, id).await;
    assert_eq!(
        (s, done["status"].as_str()),
        (200, Some("active")),
        "{done}"
    );
    let name = format!("ejit_grant_{id}");
    let role = env
        .es_json(Method::GET, &format!("/_security/role/{name}"))
        .await;
    role[&name].clone()
}

/// The integration with `extra`, and flow `eu` offering `read-eu` on `logs-*`.
async fn setup(env: &Env, extra: Value, flow: Value) -> provision::App {
    let d = discover_app(env);
    register(env, &d, extra).await;
    let mut spec = flow_spec("logs-read");
    spec["permissions"] = json!(["read-eu"]);
    for (k, v) in flow.as_object().into_iter().flatten() {
        spec[k] = v.clone();
    }
    let (s, b) = put_flow(&d, "eu", spec).await;
    assert_eq!(s, 201, "{b}");
    provision_app(env)
}

/// The codes of a 400's field errors.
fn error_codes(b: &Value) -> Vec<&str> {
    b["error"]["details"]
        .as_array()
        .map(|a| a.iter().filter_map(|d| d["code"].as_str()).collect())
        .unwrap_or_default()
}

fn asking(permission: &str) -> Value {
    json!({"integration": "prod-search", "flow": "eu", "resources": ["logs-2026.11"],
           "permission": permission, "duration": "1h", "justification": "incident 42"})
}

#[tokio::test]
async fn remote_indices_are_shown_to_the_approver_and_created_as_shown() {
    let env = Env::start(es_seed()).await;
    let p = setup(&env, remote_permission(), json!({})).await;
    let (s, r) = ask(&p, DEV, asking("read-eu")).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("pending")), "{r}");
    let id = r["id"].as_str().unwrap().to_string();

    let (_, r) = get(&p, ALICE, &id).await;
    let g = &r["grant_allows"];
    let remote = json!([
        {"clusters": ["eu-cluster"], "names": ["logs-*", "audit"], "privileges": ["read", "read_cross_cluster"], "allow_restricted_indices": false},
        {"clusters": ["us-cluster"], "names": ["logs-*"], "privileges": ["read", "read_cross_cluster"], "allow_restricted_indices": false}
    ]);
    assert_eq!(g["role_descriptor"]["remote_indices"], remote, "{g}");
    assert_eq!(
        g["in_words"][1],
        "remote index privileges read, read_cross_cluster on cluster eu-cluster: logs-*, audit"
    );
    assert_eq!(
        g["in_words"][2],
        "remote index privileges read, read_cross_cluster on cluster us-cluster: logs-*"
    );

    let role = approved_role(&env, &p, &id).await;
    // Elasticsearch writes `clusters` after the index fields; the content is what was shown.
    let created = role["remote_indices"].as_array().unwrap();
    assert_eq!(created.len(), 2, "{role}");
    for (c, shown) in created.iter().zip(remote.as_array().unwrap()) {
        for field in [
            "clusters",
            "names",
            "privileges",
            "allow_restricted_indices",
        ] {
            assert_eq!(c[field], shown[field], "{field}: {role}");
        }
    }
    assert_eq!(
        role["indices"][0]["names"],
        json!(["logs-2026.11"]),
        "the local part still names only the requested resources"
    );
}

#[tokio::test]
async fn an_api_key_grant_carries_the_remote_indices_too() {
    let env = Env::start(es_seed()).await;
    let p = setup(
        &env,
        remote_permission(),
        json!({"auto_approve": true, "credential_mode": "api_key", "require_justification": false}),
    )
    .await;
    let (s, r) = ask(&p, DEV, asking("read-eu")).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("active")), "{r}");
    let id = r["id"].as_str().unwrap();
    let (_, c) = credentials(&p, DEV, id).await;
    let key_id = c["api_key_id"].as_str().expect("an api key");
    let keys = env
        .es_json(Method::GET, &format!("/_security/api_key?id={key_id}"))
        .await;
    let descriptors = &keys["api_keys"][0]["role_descriptors"];
    let remote = &descriptors["grant"]["remote_indices"];
    assert_eq!(remote[0]["clusters"], json!(["eu-cluster"]), "{keys}");
    assert_eq!(remote[1]["clusters"], json!(["us-cluster"]), "{keys}");
}

#[tokio::test]
async fn a_requester_cannot_add_remote_clusters() {
    let env = Env::start(es_seed()).await;
    let p = setup(&env, remote_permission(), json!({})).await;
    // Not a field of a request.
    let mut body = asking("read-eu");
    body["remote_indices"] = json!([{"clusters": ["*"], "names": ["*"], "privileges": ["all"]}]);
    let (s, r) = ask(&p, DEV, body).await;
    assert_eq!(s, 400, "{r}");
    // A remote name as a resource: nothing discovered is called that, and a remote cluster's
    // indices are never discovered.
    for resource in ["eu-cluster:logs-*", "*:logs-*", "eu-cluster:*"] {
        let mut body = asking("read-eu");
        body["resources"] = json!([resource]);
        let (s, r) = ask(&p, DEV, body).await;
        assert_eq!(s, 400, "{resource}: {r}");
    }
    let roles = env.es_json(Method::GET, "/_security/role").await;
    assert!(
        roles
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.starts_with("ejit_grant_")),
        "nothing was created: {roles}"
    );
}

#[tokio::test]
async fn an_admin_cannot_save_a_wildcard_cluster_alias() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    let arn = env.connector_secret().await;
    let (s, b) = fixtures::flows::put_integration(
        &d,
        "prod-search",
        json!({"kind": "elasticsearch", "url": env.es.url(), "secret_arn": arn, "allow_insecure_http": true,
               "custom_permissions": [{"name": "all-remotes", "privileges": ["read"],
                   "remote_indices": [{"resources": ["*:logs-*", "eu:a,b"], "privileges": ["read"]}]}]}),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    let codes = error_codes(&b);
    assert!(codes.contains(&"invalid_cluster_alias"), "{b}");
    assert!(codes.contains(&"invalid_pattern"), "{b}");
}

/// Each requester's own documents, with a field nobody should see.
fn seed_with_documents() -> es_emulator::Seed {
    let mut seed = es_seed();
    let docs: Vec<es_emulator::SeedDoc> = serde_json::from_value(json!([
        {"id": "d1", "source": {"by": "dev@example.com", "msg": "dev's", "card": "4111"}},
        {"id": "d2", "source": {"by": "mallory@example.com", "msg": "mallory's", "card": "5500"}},
        {"id": "d3", "source": {"by": "dev@example.com", "msg": "dev's too", "card": "3400"}}
    ]))
    .unwrap();
    seed.indices[0].documents = docs;
    seed
}

fn own_documents() -> Value {
    json!({"custom_permissions": [{
        "name": "own-docs", "privileges": ["read"],
        "query": {"term": {"by": "{{_user.email}}"}},
        "field_security": {"grant": ["*"], "except": ["card"]}
    }]})
}

async fn search_as(env: &Env, p: &provision::App, who: Person) -> Value {
    let mut body = asking("own-docs");
    body["flow"] = json!("own");
    let (s, r) = ask(p, who, body).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("active")), "{r}");
    let (_, c) = credentials(p, who, r["id"].as_str().unwrap()).await;
    env.es_json_as(Method::GET, "/logs-2026.11/_search", &auth_of(&c), None)
        .await
}

fn sources(found: &Value) -> Vec<Value> {
    let mut out: Vec<Value> = found["hits"]["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("hits: {found}"))
        .iter()
        .map(|h| h["_source"].clone())
        .collect();
    out.sort_by_key(|v| v["msg"].as_str().unwrap_or_default().to_string());
    out
}

#[tokio::test]
async fn document_security_needs_the_licence_and_each_requester_sees_only_their_own() {
    let env = Env::start(seed_with_documents()).await;
    let d = discover_app(&env);
    // A basic licence does not include it: refused when saved, with the reason.
    let (s, b) =
        put_integration(&d, "prod-search", registration(&env, own_documents()).await).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("license_not_sufficient")),
        "{b}"
    );
    let message = b["error"]["message"].as_str().unwrap();
    assert!(message.contains("(basic, active)"), "{message}");
    assert!(
        message.contains("platinum, enterprise or trial"),
        "{message}"
    );

    env.es_license("platinum").await;
    register(&env, &d, own_documents()).await;
    let mut spec = flow_spec("logs-auto");
    spec["permissions"] = json!(["own-docs"]);
    let (s, b) = put_flow(&d, "own", spec).await;
    assert_eq!(s, 201, "{b}");
    let p = provision_app(&env);

    let dev = search_as(&env, &p, DEV).await;
    assert_eq!(
        sources(&dev),
        [
            json!({"by": "dev@example.com", "msg": "dev's"}),
            json!({"by": "dev@example.com", "msg": "dev's too"})
        ]
    );
    let mallory = search_as(&env, &p, MALLORY).await;
    assert_eq!(
        sources(&mallory),
        [json!({"by": "mallory@example.com", "msg": "mallory's"})]
    );
}

#[tokio::test]
async fn the_approver_reads_the_query_and_fields_and_the_role_carries_them() {
    let env = Env::start(seed_with_documents()).await;
    env.es_license("trial").await;
    let p = setup(&env, own_documents(), json!({"permissions": ["own-docs"]})).await;
    let (s, r) = ask(&p, DEV, asking("own-docs")).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("pending")), "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    let (_, r) = get(&p, ALICE, &id).await;
    let g = &r["grant_allows"];
    let entry = &g["role_descriptor"]["indices"][0];
    assert_eq!(
        entry["query"],
        json!({"template": {"source": {"term": {"by": "{{_user.email}}"}}}})
    );
    assert_eq!(
        entry["field_security"],
        json!({"grant": ["*"], "except": ["card"]})
    );
    let words: Vec<&str> = g["in_words"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        words.contains(&"only documents matching {\"term\":{\"by\":\"{{_user.email}}\"}} ({{_user.…}} is the requester's own account)"),
        "{words:?}"
    );
    assert!(
        words.contains(&"only the fields * except card"),
        "{words:?}"
    );
    let role = approved_role(&env, &p, &id).await;
    let stored: Value =
        serde_json::from_str(role["indices"][0]["query"].as_str().unwrap()).unwrap();
    assert_eq!(stored, entry["query"]);
    assert_eq!(
        role["indices"][0]["field_security"],
        entry["field_security"]
    );
}

#[tokio::test]
async fn a_requester_cannot_send_a_query_or_fields_of_their_own() {
    let env = Env::start(seed_with_documents()).await;
    env.es_license("platinum").await;
    let p = setup(&env, own_documents(), json!({"permissions": ["own-docs"]})).await;
    for (field, value) in [
        ("query", json!({"match_all": {}})),
        ("field_security", json!({"grant": ["*"]})),
        ("template", json!({"source": "{}"})),
    ] {
        let mut body = asking("own-docs");
        body[field] = value;
        let (s, r) = ask(&p, DEV, body).await;
        assert_eq!(s, 400, "{field}: {r}");
    }
}

#[tokio::test]
async fn an_admin_cannot_save_a_script_or_another_requesters_attributes() {
    let env = Env::start(seed_with_documents()).await;
    env.es_license("platinum").await;
    let d = discover_app(&env);
    for (query, code) in [
        (
            json!({"script": {"script": {"source": "doc['by'].value != null"}}}),
            "query_not_allowed",
        ),
        (
            json!({"wrapper": {"query": "eyJtYXRjaF9hbGwiOnt9fQ=="}}),
            "query_not_allowed",
        ),
        (
            json!({"term": {"by": "{{_user.metadata.other}}"}}),
            "invalid_template_variable",
        ),
        (
            json!({"term": {"by": "{{{_user.email}}}"}}),
            "invalid_template_variable",
        ),
        // A requester's verified address `.+|x@example.com` is a regexp matching everyone.
        (
            json!({"regexp": {"by": "{{_user.email}}"}}),
            "invalid_template_variable",
        ),
        (
            json!({"query_string": {"query": "by:{{_user.username}}"}}),
            "invalid_template_variable",
        ),
        (
            json!({"terms_set": {"by": {"terms": ["a"],
                "minimum_should_match_script": {"source": "1"}}}}),
            "query_not_allowed",
        ),
        (
            json!({"more_like_this": {"fields": ["by"],
                "like": [{"_index": "secrets", "_id": "1"}]}}),
            "query_not_allowed",
        ),
    ] {
        let body = registration(
            &env,
            json!({"custom_permissions": [{"name": "p", "privileges": ["read"], "query": query}]}),
        )
        .await;
        let (s, b) = put_integration(&d, "prod-search", body).await;
        assert_eq!(s, 400, "{b}");
        let codes = error_codes(&b);
        assert!(codes.contains(&code), "{query}: {b}");
    }
}

#[tokio::test]
async fn kibana_spaces_are_granted_to_the_requesters_account_only_where_named() {
    let env = Env::start(es_seed()).await;
    let p = setup(
        &env,
        json!({"custom_permissions": [{"name": "discover-payments", "privileges": ["read"],
               "kibana": [{"spaces": ["payments"], "privileges": ["feature_discover.read"]}]}]}),
        json!({"permissions": ["discover-payments"], "auto_approve": true, "require_justification": false}),
    )
    .await;
    // A requester cannot add spaces of their own.
    let mut body = asking("discover-payments");
    body["kibana"] = json!([{"spaces": ["*"], "privileges": ["space_all"]}]);
    assert_eq!(ask(&p, DEV, body).await.0, 400);

    let (s, r) = ask(&p, DEV, asking("discover-payments")).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("active")), "{r}");
    let id = r["id"].as_str().unwrap();
    let (_, shown) = get(&p, DEV, id).await;
    let g = &shown["grant_allows"];
    assert_eq!(
        g["role_descriptor"]["applications"],
        json!([{"application": "kibana-.kibana", "privileges": ["feature_discover.read"], "resources": ["space:payments"]}])
    );
    assert!(
        g["in_words"].as_array().unwrap().contains(&json!(
            "Kibana privileges feature_discover.read in space payments"
        )),
        "{g}"
    );
    let (_, c) = credentials(&p, DEV, id).await;
    let answer = env
        .es_json_as(
            Method::POST,
            "/_security/user/_has_privileges",
            &auth_of(&c),
            Some(json!({"application": [{"application": "kibana-.kibana",
                   "privileges": ["feature_discover.read", "space_all"],
                   "resources": ["space:payments", "space:default"]}]})),
        )
        .await;
    assert_eq!(
        answer["application"]["kibana-.kibana"],
        json!({"space:payments": {"feature_discover.read": true, "space_all": false},
               "space:default": {"feature_discover.read": false, "space_all": false}}),
        "{answer}"
    );
}

#[tokio::test]
async fn an_admin_cannot_grant_every_kibana_space() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    for (kibana, code) in [
        (
            json!([{"spaces": ["*"], "privileges": ["space_read"]}]),
            "invalid_kibana_space",
        ),
        (
            json!([{"spaces": ["payments"], "privileges": ["all"]}]),
            "unknown_kibana_privilege",
        ),
    ] {
        let body = registration(
            &env,
            json!({"custom_permissions": [{"name": "k", "privileges": ["read"], "kibana": kibana}]}),
        )
        .await;
        let (s, b) = put_integration(&d, "prod-search", body).await;
        assert_eq!(s, 400, "{b}");
        assert_eq!(b["error"]["details"][0]["code"], code, "{b}");
    }
}

/// The demo cluster with a Kibana beside it holding `payments` and `ops`.
fn seed_with_kibana() -> es_emulator::Seed {
    let mut seed = es_seed();
    seed.kibana_spaces = serde_json::from_value(json!([
        {"id": "payments", "name": "Payments"}, {"id": "ops", "name": "Operations"}
    ]))
    .unwrap();
    seed
}

#[tokio::test]
async fn with_a_kibana_url_the_spaces_named_must_be_ones_kibana_shows_the_connector() {
    let env = Env::start(seed_with_kibana()).await;
    let d = discover_app(&env);
    let with_spaces = |spaces: Value| {
        json!({"kibana_url": env.es.url(), "custom_permissions": [{"name": "k", "privileges": ["read"],
               "kibana": [{"spaces": spaces, "privileges": ["space_read"]}]}]})
    };
    // The connector holds no Kibana privilege yet: Kibana lists it no space.
    let body = registration(&env, with_spaces(json!(["payments"]))).await;
    let (s, b) = put_integration(&d, "prod-search", body).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("unknown_kibana_space")),
        "{b}"
    );
    assert_eq!(
        b["error"]["details"],
        json!({"missing": ["payments"], "known": []})
    );

    let s = env
        .es_status(
            Method::PUT,
            "/_security/role/jit_connector",
            &Auth::elastic(),
            Some(json!({"cluster": ["monitor", "manage_security"],
                "indices": [{"names": ["*"], "privileges": ["monitor", "view_index_metadata"]}],
                "applications": [{"application": "kibana-.kibana", "privileges": ["space_read"], "resources": ["*"]}]})),
        )
        .await;
    assert_eq!(s, 200);
    let body = registration(&env, with_spaces(json!(["payments", "marketing"]))).await;
    let (s, b) = put_integration(&d, "prod-search", body).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(
        b["error"]["details"],
        json!({"missing": ["marketing"], "known": ["payments", "ops"]})
    );
    register(&env, &d, with_spaces(json!(["payments", "ops"]))).await;
    let spaces_read = env
        .es_requests()
        .await
        .iter()
        .filter(|r| r["path"] == "/api/spaces/space")
        .count();
    assert_eq!(spaces_read, 3, "one read per save");

    // Discovery of the spaces, for administrators writing permissions: what Kibana lists to the
    // connector, now. Nobody else may ask (it reads Kibana with the connector's credentials).
    let spaces_of = |who: fixtures::Person| {
        let ev = fixtures::http(
            fixtures::event("discover/get-kibana-spaces.json"),
            "/integrations/prod-search/kibana-spaces",
            who,
            None,
        );
        let d = &d;
        async move { fixtures::response(d.handle(ev).await.expect("handler")) }
    };
    let (s, b) = spaces_of(fixtures::ADMIN).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["spaces"],
        json!([{"id": "payments", "name": "Payments"}, {"id": "ops", "name": "Operations"}])
    );
    let (s, b) = spaces_of(fixtures::DEV).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{b}"
    );
    // Without a kibana_url the spaces are typed: 409 says so.
    let body = registration(&env, json!({})).await;
    let (s, b) = put_integration(&d, "prod-search", body).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = spaces_of(fixtures::ADMIN).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("no_kibana_url")),
        "{b}"
    );
}
