//! api_key/10_basic, 11_invalidation, grant, query, expiry and the derived-key rule.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::common::*;

async fn api_key_user(es: &Es) -> Auth {
    es.user_with_role(
        "api_key_user",
        "admin_role",
        json!({"cluster": ["manage_api_key"], "indices": [{"names": "*", "privileges": ["all"]}],
               "applications": [{"application": "myapp", "privileges": ["*"], "resources": ["*"]}]}),
    )
    .await
}

fn create_body() -> Value {
    json!({"name": "my-api-key", "expiration": "1d",
           "role_descriptors": {
               "role-a": {"cluster": ["all"], "index": [{"names": ["index-a"], "privileges": ["read"]}]},
               "role-b": {"cluster": ["manage"], "index": [{"names": ["index-b"], "privileges": ["all"]}]}}})
}

#[tokio::test]
async fn create_and_authenticate_with_api_key() {
    let es = start().await;
    let user = api_key_user(&es).await;
    let r = es.post("/_security/api_key", &user, create_body()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "my-api-key");
    let id = r.body["id"].as_str().unwrap();
    let key = r.body["api_key"].as_str().unwrap();
    assert!(r.body["expiration"].as_i64().unwrap() > 0);
    assert_eq!(
        r.body["encoded"],
        json!(STANDARD.encode(format!("{id}:{key}")))
    );
    let auth = Auth::ApiKey(r.body["encoded"].as_str().unwrap().into());
    let a = es.get("/_security/_authenticate", &auth).await;
    assert_eq!(a.body["username"], "api_key_user");
    assert_eq!(a.body["roles"], json!([]));
    assert_eq!(
        a.body["authentication_realm"],
        json!({"name": "_es_api_key", "type": "_es_api_key"})
    );
    assert_eq!(a.body["authentication_type"], "api_key");
    assert_eq!(a.body["api_key"]["name"], "my-api-key");
    assert_eq!(a.body["api_key"]["id"], json!(id));
}

#[tokio::test]
async fn get_api_key_filters_and_404() {
    let es = start().await;
    let user = api_key_user(&es).await;
    let created = es.post("/_security/api_key", &user, create_body()).await;
    let id = created.body["id"].as_str().unwrap().to_string();
    let r = es.get(&format!("/_security/api_key?id={id}"), &user).await;
    let k = &r.body["api_keys"][0];
    assert_eq!(k["id"], json!(id));
    assert_eq!(k["name"], "my-api-key");
    assert_eq!(k["username"], "api_key_user");
    assert_eq!(k["invalidated"], json!(false));
    assert_eq!(k["realm"], "default_native");
    assert!(k["creation"].as_i64().unwrap() > 0);
    assert!(k["role_descriptors"]["role-a"].is_object());
    assert!(k.get("limited_by").is_none());
    let r = es.get("/_security/api_key?owner=true", &user).await;
    assert_eq!(r.body["api_keys"].as_array().unwrap().len(), 1);
    let r = es
        .get("/_security/api_key?name=my-*&with_limited_by=true", &user)
        .await;
    assert_eq!(
        r.body["api_keys"][0]["limited_by"][0]["admin_role"]["cluster"],
        json!(["manage_api_key"])
    );
    let r = es.get("/_security/api_key?id=nope", &user).await;
    assert_eq!((r.status, r.body), (404, json!({"api_keys": []})));
    let r = es.get("/_security/api_key?name=nope", &user).await;
    assert_eq!((r.status, r.body), (200, json!({"api_keys": []})));
    let r = es.get("/_security/api_key?id=x&username=y", &user).await;
    assert_eq!(
        error_of(&r, 400, "action_request_validation_exception"),
        "Validation Failed: 1: username or realm name must not be specified when the api key id(s) or api key name are specified;"
    );
}

#[tokio::test]
async fn invalidate_by_ids() {
    let es = start().await;
    let user = api_key_user(&es).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let r = es
            .post(
                "/_security/api_key",
                &user,
                json!({"name": format!("k{n}"), "role_descriptors": {}}),
            )
            .await;
        ids.push(r.body["id"].clone());
    }
    let r = es
        .call(
            "DELETE",
            "/_security/api_key",
            &user,
            Some(json!({"ids": ids})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["invalidated_api_keys"].as_array().unwrap().len(), 3);
    assert_eq!(r.body["previously_invalidated_api_keys"], json!([]));
    assert_eq!(r.body["error_count"], json!(0));
    assert!(r.body.get("error_details").is_none());
    let r = es
        .get(
            &format!("/_security/api_key?id={}", ids[0].as_str().unwrap()),
            &user,
        )
        .await;
    assert_eq!(r.body["api_keys"][0]["invalidated"], json!(true));
    assert!(r.body["api_keys"][0]["invalidation"].as_i64().is_some());
    let r = es
        .get("/_security/api_key?owner=true&active_only=true", &user)
        .await;
    assert_eq!(r.body["api_keys"], json!([]));
    let r = es
        .call(
            "DELETE",
            "/_security/api_key",
            &user,
            Some(json!({"name": "nothing-matches"})),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"invalidated_api_keys": [], "previously_invalidated_api_keys": [], "error_count": 0})
    );
    let r = es
        .call("DELETE", "/_security/api_key", &user, Some(json!({})))
        .await;
    assert_eq!(
        error_of(&r, 400, "action_request_validation_exception"),
        "Validation Failed: 1: One of [api key id(s), api key name, username, realm name] must be specified if [owner] flag is false;"
    );
}

#[tokio::test]
async fn invalidated_key_is_rejected() {
    let es = start().await;
    let user = api_key_user(&es).await;
    let r = es
        .post("/_security/api_key", &user, json!({"name": "k"}))
        .await;
    let auth = Auth::ApiKey(r.body["encoded"].as_str().unwrap().into());
    assert_eq!(es.get("/_security/_authenticate", &auth).await.status, 200);
    es.call(
        "DELETE",
        "/_security/api_key",
        &user,
        Some(json!({"ids": [r.body["id"]]})),
    )
    .await;
    let r = es.get("/_security/_authenticate", &auth).await;
    error_of(&r, 401, "security_exception");
    let bad = Auth::ApiKey(STANDARD.encode("nope:nope"));
    error_of(&es.get("/", &bad).await, 401, "security_exception");
}

#[tokio::test]
async fn invalidation_privileges() {
    let es = start().await;
    es.put(
        "/_security/role/user_role",
        &elastic(),
        json!({"cluster": ["manage_own_api_key"]}),
    )
    .await;
    es.put(
        "/_security/role/manager_role",
        &elastic(),
        json!({"cluster": ["manage_api_key"]}),
    )
    .await;
    let u1 = es.user("api_key_user_1", &["user_role"]).await;
    let u2 = es.user("api_key_user_2", &["user_role"]).await;
    let manager = es.user("api_key_manager", &["manager_role"]).await;
    es.post("/_security/api_key", &u1, json!({"name": "k1"}))
        .await;
    es.post("/_security/api_key", &u2, json!({"name": "k2"}))
        .await;
    let r = es
        .call(
            "DELETE",
            "/_security/api_key",
            &u1,
            Some(json!({"username": "api_key_user_2"})),
        )
        .await;
    assert_eq!(
        error_of(&r, 403, "security_exception"),
        "action [cluster:admin/xpack/security/api_key/invalidate] is unauthorized for user [api_key_user_1] with effective roles [user_role], this action is granted by the cluster privileges [manage_api_key,manage_security,all]"
    );
    let r = es
        .call(
            "DELETE",
            "/_security/api_key",
            &u1,
            Some(json!({"realm_name": "default_native"})),
        )
        .await;
    error_of(&r, 403, "security_exception");
    let r = es
        .call(
            "DELETE",
            "/_security/api_key",
            &u1,
            Some(json!({"owner": true})),
        )
        .await;
    assert_eq!(r.body["invalidated_api_keys"].as_array().unwrap().len(), 1);
    let r = es
        .post("/_security/api_key", &u1, json!({"name": "k1b"}))
        .await;
    assert_eq!(r.status, 200);
    let r = es
        .call(
            "DELETE",
            "/_security/api_key",
            &manager,
            Some(json!({"username": "api_key_user_1"})),
        )
        .await;
    assert_eq!(r.body["invalidated_api_keys"].as_array().unwrap().len(), 1);
    es.post("/_security/api_key", &u1, json!({"name": "k1c"}))
        .await;
    let r = es
        .call(
            "DELETE",
            "/_security/api_key",
            &manager,
            Some(json!({"realm_name": "default_native"})),
        )
        .await;
    assert_eq!(r.body["invalidated_api_keys"].as_array().unwrap().len(), 2);
    // Own-only visibility for GET.
    let r = es.get("/_security/api_key", &u1).await;
    error_of(&r, 403, "security_exception");
    let r = es.get("/_security/api_key?owner=true", &u1).await;
    assert!(
        r.body["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["username"] == "api_key_user_1")
    );
    let r = es.get("/_security/api_key", &manager).await;
    assert_eq!(r.body["api_keys"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn has_privileges_for_api_key() {
    let es = start().await;
    let user = api_key_user(&es).await;
    let r = es
        .post(
            "/_security/api_key",
            &user,
            json!({"name": "k", "role_descriptors": {
                "role-a": {"index": [{"names": ["index-a"], "privileges": ["read"]}],
                           "applications": [{"application": "myapp", "privileges": ["read"], "resources": ["*"]}]},
                "role-b": {"index": [{"names": ["index-b"], "privileges": ["all"]}]}}}),
        )
        .await;
    let auth = Auth::ApiKey(r.body["encoded"].as_str().unwrap().into());
    let r = es
        .post(
            "/_security/user/_has_privileges",
            &auth,
            json!({"cluster": ["manage_api_key"],
                   "index": [{"names": ["*", "index-a"], "privileges": ["read", "index", "write"]},
                             {"names": ["index-a", "index-b"], "privileges": ["read", "write"]}],
                   "application": [{"application": "myapp", "privileges": ["read", "write"], "resources": ["r1"]}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["username"], "api_key_user");
    assert_eq!(r.body["has_all_requested"], json!(false));
    assert_eq!(r.body["cluster"], json!({"manage_api_key": false}));
    assert_eq!(
        r.body["index"]["*"],
        json!({"read": false, "index": false, "write": false})
    );
    assert_eq!(
        r.body["index"]["index-a"],
        json!({"read": true, "index": false, "write": false})
    );
    assert_eq!(
        r.body["index"]["index-b"],
        json!({"read": true, "write": true})
    );
    assert_eq!(
        r.body["application"],
        json!({"myapp": {"r1": {"read": true, "write": false}}})
    );
}

#[tokio::test]
async fn key_is_limited_by_owner_snapshot() {
    let es = start_with(Some(json!({"indices": [{"name": "logs-1", "documents": [{"id": "1", "source": {"a": 1}}]}, {"name": "other"}]}))).await;
    let owner = es
        .user_with_role("owner", "owner_role", json!({"cluster": ["manage_own_api_key"], "indices": [{"names": ["logs-*"], "privileges": ["read"]}]}))
        .await;
    // Asks for more than the owner has: the intersection applies.
    let r = es
        .post("/_security/api_key", &owner, json!({"name": "k", "role_descriptors": {"r": {"indices": [{"names": ["*"], "privileges": ["all"]}]}}}))
        .await;
    let key = Auth::ApiKey(r.body["encoded"].as_str().unwrap().into());
    assert_eq!(es.get("/logs-1/_search", &key).await.status, 200);
    let r = es.get("/other/_search", &key).await;
    let reason = error_of(&r, 403, "security_exception");
    assert!(
        reason.starts_with("action [indices:data/read/search] is unauthorized for API key id ["),
        "{reason}"
    );
    assert!(reason.ends_with("] of user [owner] on indices [other], this action is granted by the index privileges [read,all]"), "{reason}");
    // Removing the owner's role does not change the key: it keeps the snapshot.
    es.put(
        "/_security/role/owner_role",
        &elastic(),
        json!({"cluster": []}),
    )
    .await;
    assert_eq!(es.get("/logs-1/_search", &key).await.status, 200);
    assert_eq!(es.get("/logs-1/_search", &owner).await.status, 403);
}

#[tokio::test]
async fn derived_keys_need_explicit_empty_descriptor() {
    let es = start().await;
    let user = api_key_user(&es).await;
    let r = es
        .post("/_security/api_key", &user, json!({"name": "parent"}))
        .await;
    let key = Auth::ApiKey(r.body["encoded"].as_str().unwrap().into());
    for body in [
        json!({"name": "child"}),
        json!({"name": "child", "role_descriptors": {}}),
        json!({"name": "child", "role_descriptors": {"r": {"cluster": ["monitor"]}}}),
    ] {
        let r = es.post("/_security/api_key", &key, body).await;
        assert_eq!(
            error_of(&r, 400, "illegal_argument_exception"),
            "creating derived api keys requires an explicit role descriptor that is empty (has no privileges)"
        );
    }
    let r = es
        .post(
            "/_security/api_key",
            &key,
            json!({"name": "child", "role_descriptors": {"r": {}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn create_validation() {
    let es = start().await;
    let user = api_key_user(&es).await;
    let r = es
        .post("/_security/api_key", &user, json!({"expiration": "1d"}))
        .await;
    assert_eq!(
        error_of(&r, 400, "action_request_validation_exception"),
        "Validation Failed: 1: api key name is required;"
    );
    let r = es
        .post(
            "/_security/api_key",
            &user,
            json!({"name": "k", "bogus": 1}),
        )
        .await;
    let reason = error_of(&r, 400, "x_content_parse_exception");
    assert!(
        reason.ends_with("[api_key_request] unknown field [bogus]"),
        "{reason}"
    );
    let r = es
        .post(
            "/_security/api_key",
            &user,
            json!({"name": "k", "expiration": "1x"}),
        )
        .await;
    error_of(&r, 400, "parse_exception");
    let r = es
        .post(
            "/_security/api_key",
            &user,
            json!({"name": "k", "role_descriptors": {"r": {"cluster": ["nope"]}}}),
        )
        .await;
    let reason = error_of(&r, 400, "action_request_validation_exception");
    assert!(
        reason.starts_with("Validation Failed: 1: unknown cluster privilege [nope]"),
        "{reason}"
    );
    let nobody = es.user("nobody", &[]).await;
    let r = es
        .post("/_security/api_key", &nobody, json!({"name": "k"}))
        .await;
    assert_eq!(
        error_of(&r, 403, "security_exception"),
        "action [cluster:admin/xpack/security/api_key/create] is unauthorized for user [nobody] with effective roles [], this action is granted by the cluster privileges [manage_own_api_key,manage_api_key,manage_security,all]"
    );
}

#[tokio::test]
async fn grant_api_key_with_password() {
    let es = start_with(Some(
        json!({"indices": [{"name": "logs-1"}, {"name": "secrets-1"}]}),
    ))
    .await;
    let granter = es
        .user_with_role(
            "granter",
            "granter_role",
            json!({"cluster": ["grant_api_key"]}),
        )
        .await;
    es.user_with_role(
        "alice",
        "alice_role",
        json!({"indices": [{"names": ["logs-*"], "privileges": ["read"]}]}),
    )
    .await;
    let body = json!({"grant_type": "password", "username": "alice", "password": "alice-password",
                      "api_key": {"name": "jit-grant-1", "expiration": "1h", "metadata": {"managed_by": "elastic-jit"},
                                  "role_descriptors": {"g": {"indices": [{"names": ["logs-1"], "privileges": ["read"]}]}}}});
    let r = es
        .post("/_security/api_key/grant", &granter, body.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "jit-grant-1");
    let key = Auth::ApiKey(r.body["encoded"].as_str().unwrap().into());
    let a = es.get("/_security/_authenticate", &key).await;
    assert_eq!(a.body["username"], "alice");
    assert_eq!(es.get("/logs-1/_search", &key).await.status, 200);
    assert_eq!(es.get("/secrets-1/_search", &key).await.status, 403);
    let k = es
        .get(
            &format!(
                "/_security/api_key?id={}&with_limited_by=true",
                r.body["id"].as_str().unwrap()
            ),
            &elastic(),
        )
        .await;
    assert_eq!(
        k.body["api_keys"][0]["limited_by"][0]["alice_role"]["indices"][0]["names"],
        json!(["logs-*"])
    );
    assert_eq!(
        k.body["api_keys"][0]["metadata"],
        json!({"managed_by": "elastic-jit"})
    );
    let mut wrong = body.clone();
    wrong["password"] = json!("wrong-password");
    let r = es.post("/_security/api_key/grant", &granter, wrong).await;
    error_of(&r, 401, "security_exception");
    let r = es
        .post(
            "/_security/api_key/grant",
            &granter,
            json!({"api_key": {"name": "x"}}),
        )
        .await;
    assert_eq!(
        error_of(&r, 400, "action_request_validation_exception"),
        "Validation Failed: 1: [grant_type] is required;"
    );
    let r = es
        .post(
            "/_security/api_key/grant",
            &basic("alice", "alice-password"),
            body,
        )
        .await;
    assert_eq!(
        error_of(&r, 403, "security_exception"),
        "action [cluster:admin/xpack/security/api_key/grant] is unauthorized for user [alice] with effective roles [alice_role], this action is granted by the cluster privileges [grant_api_key,manage_api_key,manage_security,all]"
    );
}

#[tokio::test]
async fn expiration_is_enforced_with_the_clock() {
    let es = start().await;
    let user = api_key_user(&es).await;
    let r = es
        .post(
            "/_security/api_key",
            &user,
            json!({"name": "short", "expiration": "1h"}),
        )
        .await;
    let key = Auth::ApiKey(r.body["encoded"].as_str().unwrap().into());
    assert_eq!(es.get("/_security/_authenticate", &key).await.status, 200);
    es.control("POST", "clock", Some(json!({"advance_seconds": 3601})))
        .await;
    let r = es.get("/_security/_authenticate", &key).await;
    let reason = error_of(&r, 401, "security_exception");
    assert!(reason.starts_with("unable to authenticate"), "{reason}");
    assert_eq!(
        r.body["error"]["additional_unsuccessful_credentials"],
        "API key: api key is expired"
    );
    let r = es
        .get("/_security/api_key?owner=true&active_only=true", &user)
        .await;
    assert_eq!(r.body["api_keys"], json!([]));
}

#[tokio::test]
async fn query_api_keys() {
    let es = start().await;
    let user = api_key_user(&es).await;
    for (n, meta) in [("jit-a", "g1"), ("jit-b", "g2"), ("other", "g3")] {
        es.post(
            "/_security/api_key",
            &user,
            json!({"name": n, "metadata": {"managed_by": "elastic-jit", "grant_id": meta}}),
        )
        .await;
        es.control("POST", "clock", Some(json!({"advance_seconds": 1})))
            .await;
    }
    let r = es.post("/_security/_query/api_key", &user, json!({"query": {"prefix": {"name": "jit-"}}, "sort": [{"creation": {"order": "desc"}}]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["total"].clone(), r.body["count"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(r.body["api_keys"][0]["name"], "jit-b");
    assert!(r.body["api_keys"][0]["_sort"].is_array());
    let r = es
        .post("/_security/_query/api_key", &user, json!({"query": {"bool": {"filter": [{"term": {"metadata.grant_id": "g3"}}, {"term": {"invalidated": false}}]}}}))
        .await;
    assert_eq!(r.body["api_keys"][0]["name"], "other");
    let r = es
        .post(
            "/_security/_query/api_key",
            &user,
            json!({"from": 2, "size": 5, "sort": ["name"]}),
        )
        .await;
    assert_eq!(
        (r.body["total"].clone(), r.body["count"].clone()),
        (json!(3), json!(1))
    );
    let r = es
        .post(
            "/_security/_query/api_key",
            &user,
            json!({"query": {"term": {"api_key_hash": "x"}}}),
        )
        .await;
    assert_eq!(
        error_of(&r, 400, "illegal_argument_exception"),
        "Field [api_key_hash] is not allowed for querying or aggregation"
    );
    let r = es.get("/_security/_query/api_key", &user).await;
    assert_eq!(r.body["total"], json!(3));
}

/// Source: elastic/elasticsearch
/// `x-pack/plugin/security/src/main/java/org/elasticsearch/xpack/security/support/FieldNameTranslators.java`,
/// `API_KEY_FIELD_NAME_TRANSLATORS` (the query-level names: username, realm_name, name, type,
/// creation, expiration, invalidated, invalidation, metadata), `translateFieldSortBuilders` (only
/// `_doc` passes untranslated) and `translate` ("Field [..] is not allowed for querying or
/// aggregation", "Field name pattern [..] ..."): `id` and `realm` are neither queryable nor
/// sortable.
#[tokio::test]
async fn query_api_keys_refuses_id_realm_and_unknown_sort_fields() {
    let es = start().await;
    let user = api_key_user(&es).await;
    es.post("/_security/api_key", &user, json!({"name": "k"}))
        .await;
    for (body, field) in [
        (json!({"sort": ["id"]}), "id"),
        (json!({"sort": [{"id": {"order": "asc"}}]}), "id"),
        (json!({"query": {"term": {"id": "x"}}}), "id"),
        (
            json!({"query": {"term": {"realm": "default_native"}}}),
            "realm",
        ),
        (json!({"sort": ["realm"]}), "realm"),
        (
            json!({"sort": ["creation", "api_key_hash"]}),
            "api_key_hash",
        ),
        (
            json!({"query": {"bool": {"filter": [{"exists": {"field": "id"}}]}}}),
            "id",
        ),
    ] {
        let r = es
            .post("/_security/_query/api_key", &user, body.clone())
            .await;
        assert_eq!(
            error_of(&r, 400, "illegal_argument_exception"),
            format!("Field [{field}] is not allowed for querying or aggregation"),
            "{body}"
        );
    }
    let r = es
        .post("/_security/_query/api_key", &user, json!({"sort": ["na*"]}))
        .await;
    assert_eq!(
        error_of(&r, 400, "illegal_argument_exception"),
        "Field name pattern [na*] is not allowed for querying or aggregation"
    );
    // The allowed names, `realm_name` among them, and `_doc` are accepted.
    let r = es
        .post(
            "/_security/_query/api_key",
            &user,
            json!({"query": {"term": {"realm_name": "default_native"}}, "sort": ["creation", "name", "_doc"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["count"], 1);
}

/// Source: elastic/elasticsearch-specification `specification/security/query_api_keys/QueryApiKeysRequest.ts`
/// (`search_after`: "Search after definition"; `sort` values come back in each key's `_sort`) and
/// the Elasticsearch paginate-search-results guide (`search_after` takes the previous page's
/// last sort values; the total still counts every match).
#[tokio::test]
async fn query_api_keys_pages_with_search_after() {
    let es = start().await;
    let user = api_key_user(&es).await;
    for n in ["k1", "k2", "k3", "k4", "k5"] {
        es.post("/_security/api_key", &user, json!({"name": n}))
            .await;
    }
    let mut seen = Vec::new();
    let mut after: Option<Value> = None;
    for _ in 0..10 {
        let mut body = json!({"size": 2, "sort": ["creation", "name"]});
        if let Some(a) = &after {
            body["search_after"] = a.clone();
        }
        let r = es.post("/_security/_query/api_key", &user, body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["total"], 5, "total counts every match");
        let keys = r.body["api_keys"].as_array().unwrap().clone();
        seen.extend(keys.iter().map(|k| k["name"].as_str().unwrap().to_string()));
        if keys.len() < 2 {
            break;
        }
        after = Some(keys.last().unwrap()["_sort"].clone());
    }
    assert_eq!(seen, ["k1", "k2", "k3", "k4", "k5"]);
}

/// Source: elastic/elasticsearch `libs/core/src/main/java/org/elasticsearch/core/TimeValue.java`
/// (`parseTimeValue`: units matched on the lower-cased value, `m` case-sensitive; "fractional
/// time values are not supported"; "unit is missing or unrecognized").
#[tokio::test]
async fn api_key_expiration_parses_as_a_time_value() {
    let es = start().await;
    let user = api_key_user(&es).await;
    for ok in ["1D", "36H", "90S", "2m", "1500MS"] {
        let r = es
            .post(
                "/_security/api_key",
                &user,
                json!({"name": ok, "expiration": ok}),
            )
            .await;
        assert_eq!(r.status, 200, "{ok}: {}", r.body);
    }
    let r = es
        .post(
            "/_security/api_key",
            &user,
            json!({"name": "frac", "expiration": "1.5d"}),
        )
        .await;
    assert!(
        r.body
            .to_string()
            .contains("failed to parse [1.5d], fractional time values are not supported"),
        "{}",
        r.body
    );
    assert_eq!(r.status, 400);
    // `M` is months in date math, never minutes.
    let r = es
        .post(
            "/_security/api_key",
            &user,
            json!({"name": "months", "expiration": "2M"}),
        )
        .await;
    assert!(
        r.body.to_string().contains("failed to parse setting [expiration] with value [2M] as a time value: unit is missing or unrecognized"),
        "{}",
        r.body
    );
}
