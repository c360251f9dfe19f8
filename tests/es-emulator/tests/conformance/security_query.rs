//! users/40_query and the role query API: native objects only, the public fields only,
//! `search_after` paging, and the privilege they need (`read_security`).

use serde_json::{Value, json};

use crate::common::*;

async fn seed_users(es: &Es) {
    for (name, roles) in [
        ("team_ann", json!(["r1"])),
        ("team_bob", json!(["r2"])),
        ("team_cid", json!([])),
        ("other_dan", json!(["r1"])),
    ] {
        let r = es
            .put(
                &format!("/_security/user/{name}"),
                &elastic(),
                json!({"password": "s3krit-password", "roles": roles, "metadata": {"k": name}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

fn names(body: &Value, items: &str, field: &str) -> Vec<String> {
    body[items]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[field].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn query_user_answers_native_users_by_prefix_and_pages_by_search_after() {
    let es = start().await;
    seed_users(&es).await;
    let all = es
        .post("/_security/_query/user", &elastic(), json!({"size": 100}))
        .await;
    assert_eq!(all.status, 200, "{}", all.body);
    // Built-in users (`elastic`, `kibana_system`, …) are never in the result.
    assert_eq!(all.body["total"], 4, "{}", all.body);
    let first = es
        .post(
            "/_security/_query/user",
            &elastic(),
            json!({"query": {"prefix": {"username": "team_"}}, "sort": ["username"], "size": 2}),
        )
        .await;
    assert_eq!(
        (first.body["total"].clone(), first.body["count"].clone()),
        (json!(3), json!(2))
    );
    assert_eq!(
        names(&first.body, "users", "username"),
        ["team_ann", "team_bob"]
    );
    let u = &first.body["users"][0];
    assert_eq!(u["_sort"], json!(["team_ann"]));
    assert_eq!(u["metadata"], json!({"k": "team_ann"}));
    assert_eq!(u["enabled"], true);
    assert!(u.get("password").is_none());
    let next = es
        .post(
            "/_security/_query/user",
            &elastic(),
            json!({"query": {"prefix": {"username": "team_"}}, "sort": ["username"], "size": 2,
                   "search_after": ["team_bob"]}),
        )
        .await;
    assert_eq!(names(&next.body, "users", "username"), ["team_cid"]);
    assert_eq!(next.body["total"], 3);
}

#[tokio::test]
async fn query_user_refuses_metadata_and_unknown_fields() {
    let es = start().await;
    let r = es
        .post(
            "/_security/_query/user",
            &elastic(),
            json!({"query": {"term": {"metadata.k": "x"}}}),
        )
        .await;
    assert_eq!(
        error_of(&r, 400, "illegal_argument_exception"),
        "Field [metadata.k] is not allowed for querying or aggregation"
    );
    let r = es
        .post(
            "/_security/_query/user",
            &elastic(),
            json!({"sort": ["metadata"]}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = es
        .post("/_security/_query/user", &elastic(), json!({"size": 10001}))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = es
        .post("/_security/_query/user", &elastic(), json!({"bogus": 1}))
        .await;
    error_of(&r, 400, "x_content_parse_exception");
}

#[tokio::test]
async fn query_role_answers_native_roles_and_queries_metadata() {
    let es = start().await;
    for (name, meta) in [
        ("team_grant_1", json!({"managed_by": "x", "n": 1})),
        ("team_grant_2", json!({"managed_by": "y", "n": 2})),
        ("other_role", json!({"managed_by": "x"})),
    ] {
        let r = es
            .put(
                &format!("/_security/role/{name}"),
                &elastic(),
                json!({"indices": [{"names": ["logs-*"], "privileges": ["read"]}], "metadata": meta}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let all = es
        .post("/_security/_query/role", &elastic(), json!({"size": 100}))
        .await;
    // Built-in roles (`superuser`, `viewer`, …) are never in the result.
    assert_eq!(all.body["total"], 3, "{}", all.body);
    let by_name = es
        .post(
            "/_security/_query/role",
            &elastic(),
            json!({"query": {"prefix": {"name": "team_grant_"}}, "sort": ["name"]}),
        )
        .await;
    assert_eq!(
        names(&by_name.body, "roles", "name"),
        ["team_grant_1", "team_grant_2"]
    );
    let r = &by_name.body["roles"][0];
    assert_eq!(r["_sort"], json!(["team_grant_1"]));
    assert_eq!(r["indices"][0]["names"], json!(["logs-*"]));
    assert_eq!(r["metadata"]["n"], 1);
    let by_meta = es
        .post(
            "/_security/_query/role",
            &elastic(),
            json!({"query": {"term": {"metadata.managed_by": "x"}}, "sort": ["name"]}),
        )
        .await;
    assert_eq!(
        names(&by_meta.body, "roles", "name"),
        ["other_role", "team_grant_1"]
    );
    let r = es
        .post(
            "/_security/_query/role",
            &elastic(),
            json!({"query": {"term": {"cluster": "all"}}}),
        )
        .await;
    assert_eq!(
        error_of(&r, 400, "illegal_argument_exception"),
        "Field [cluster] is not allowed for querying or aggregation"
    );
}

#[tokio::test]
async fn query_apis_need_read_security() {
    let es = start().await;
    es.put(
        "/_security/role/monitor_only",
        &elastic(),
        json!({"cluster": ["monitor"]}),
    )
    .await;
    es.put(
        "/_security/role/reader",
        &elastic(),
        json!({"cluster": ["read_security"]}),
    )
    .await;
    for (user, role) in [("mon", "monitor_only"), ("rdr", "reader")] {
        es.put(
            &format!("/_security/user/{user}"),
            &elastic(),
            json!({"password": "s3krit-password", "roles": [role]}),
        )
        .await;
    }
    let mon = basic("mon", "s3krit-password");
    let rdr = basic("rdr", "s3krit-password");
    for (path, action) in [
        (
            "/_security/_query/user",
            "cluster:admin/xpack/security/user/query",
        ),
        (
            "/_security/_query/role",
            "cluster:admin/xpack/security/role/query",
        ),
    ] {
        let r = es.post(path, &mon, json!({})).await;
        let reason = error_of(&r, 403, "security_exception");
        assert!(reason.contains(action), "{reason}");
        assert!(reason.contains("read_security"), "{reason}");
        assert_eq!(es.post(path, &rdr, json!({})).await.status, 200);
        assert_eq!(es.get(path, &rdr).await.status, 200);
    }
    let r = es
        .put("/_security/_query/user", &elastic(), json!({}))
        .await;
    assert_eq!(r.status, 405, "{}", r.body);
}
