//! `GET /_license`, and document- and field-level security: refused on put-role without the
//! licence (`NativeRolesStore.putRole`, `LicenseUtils.newComplianceException`), role queries
//! checked when the role is saved (`DLSRoleQueryValidator`, templates excepted), and enforced
//! on `_search` ("Controlling access at the document and field level").

use serde_json::{Value, json};

use crate::common::*;

fn seed() -> Value {
    json!({"indices": [{"name": "orders", "documents": [
        {"id": "1", "source": {"owner": "ann", "team": "payments", "amount": 10, "customer": {"name": "A", "ssn": "111"}}},
        {"id": "2", "source": {"owner": "ben", "team": "payments", "amount": 20, "customer": {"name": "B", "ssn": "222"}}},
        {"id": "3", "source": {"owner": "ann", "team": "risk", "amount": 30, "customer": {"name": "C", "ssn": "333"}}}
    ]}]})
}

async fn platinum(es: &Es) {
    let r = es
        .control("PUT", "license", Some(json!({"type": "platinum"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn put_field_security_role(es: &Es) -> Resp {
    es.put(
        "/_security/role/r",
        &elastic(),
        json!({"indices": [{"names": ["orders"], "privileges": ["read"], "field_security": {"grant": ["*"]}}]}),
    )
    .await
}

fn ids(r: &Resp) -> Vec<String> {
    let mut ids: Vec<String> = r.body["hits"]["hits"]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .map(|h| h["_id"].as_str().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_new_cluster_has_an_active_basic_licence_and_monitor_reads_it() {
    let es = start().await;
    let r = es.get("/_license", &elastic()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["license"]["type"], "basic");
    assert_eq!(r.body["license"]["status"], "active");
    assert!(r.body["license"].get("expiry_date_in_millis").is_none());
    platinum(&es).await;
    let r = es.get("/_license", &elastic()).await;
    assert_eq!(r.body["license"]["type"], "platinum");
    assert!(r.body["license"]["expiry_date_in_millis"].is_i64());
    let nobody = es.user_with_role("nobody", "none_role", json!({})).await;
    let r = es.get("/_license", &nobody).await;
    let reason = error_of(&r, 403, "security_exception");
    assert!(
        reason.starts_with("action [cluster:monitor/xpack/license/get] is unauthorized"),
        "{reason}"
    );
    let r = es
        .control("PUT", "license", Some(json!({"type": "diamond"})))
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn document_or_field_security_is_refused_without_the_licence() {
    let es = start().await;
    for entry in [
        json!({"names": ["orders"], "privileges": ["read"], "query": {"term": {"team": "payments"}}}),
        json!({"names": ["orders"], "privileges": ["read"], "field_security": {"grant": ["*"]}}),
    ] {
        let r = es
            .put("/_security/role/r", &elastic(), json!({"indices": [entry]}))
            .await;
        assert_eq!(
            r.body,
            json!({"error": {"root_cause": [{"type": "security_exception",
                "reason": "current license is non-compliant for [field and document level security]",
                "license.expired.feature": "field and document level security"}],
                "type": "security_exception",
                "reason": "current license is non-compliant for [field and document level security]",
                "license.expired.feature": "field and document level security"}, "status": 403})
        );
    }
    let r = es.get("/_security/role/r", &elastic()).await;
    assert_eq!(r.status, 404, "nothing was stored");
    // An expired platinum licence allows it no more than basic does.
    es.control(
        "PUT",
        "license",
        Some(json!({"type": "platinum", "status": "expired"})),
    )
    .await;
    let r = put_field_security_role(&es).await;
    assert_eq!(r.status, 403);
    es.control("PUT", "license", Some(json!({"type": "trial"})))
        .await;
    let r = put_field_security_role(&es).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_role_query_must_parse_unless_it_is_a_template() {
    let es = start().await;
    platinum(&es).await;
    let r = es
        .put(
            "/_security/role/r",
            &elastic(),
            json!({"indices": [{"names": ["index-a", "*"], "privileges": ["read"], "query": "{ \"unknown\": {\"\"} }"}]}),
        )
        .await;
    assert_eq!(
        error_of(&r, 400, "parse_exception"),
        "failed to parse field 'query' for indices [index-a,*] at index privilege [0] of role descriptor"
    );
    let r = es
        .put(
            "/_security/role/r",
            &elastic(),
            json!({"indices": [{"names": ["a"], "privileges": ["read"],
                   "query": {"template": {"source": {"term": {"owner": "{{_user.username}}"}}}}}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Stored and returned as a string, as Elasticsearch does.
    let g = es.get("/_security/role/r", &elastic()).await;
    let q = g.body["r"]["indices"][0]["query"].as_str().unwrap();
    let back: Value = serde_json::from_str(q).unwrap();
    assert_eq!(
        back,
        json!({"template": {"source": {"term": {"owner": "{{_user.username}}"}}}})
    );
}

#[tokio::test]
async fn search_shows_only_the_documents_and_fields_the_roles_allow() {
    let es = start_with(Some(seed())).await;
    platinum(&es).await;
    let payments = es
        .user_with_role(
            "pay",
            "payments_only",
            json!({"indices": [{"names": ["orders"], "privileges": ["read"],
                   "query": {"bool": {"filter": [{"term": {"team": "payments"}}]}},
                   "field_security": {"grant": ["*"], "except": ["customer.ssn"]}}]}),
        )
        .await;
    let r = es.get("/orders/_search", &payments).await;
    assert_eq!(ids(&r), ["1", "2"], "{}", r.body);
    for hit in r.body["hits"]["hits"].as_array().unwrap() {
        assert!(hit["_source"]["customer"].get("ssn").is_none(), "{hit}");
        assert!(hit["_source"]["customer"]["name"].is_string(), "{hit}");
    }
    // A hidden field cannot be searched on either.
    let r = es
        .post(
            "/orders/_search",
            &payments,
            json!({"query": {"term": {"customer.ssn": "111"}}}),
        )
        .await;
    assert_eq!(ids(&r), Vec::<String>::new());

    // A second role without a query on the same index shows every document (roles unite).
    let r = es
        .put(
            "/_security/role/all_orders",
            &elastic(),
            json!({"indices": [{"names": ["orders"], "privileges": ["read"], "field_security": {"grant": ["amount"]}}]}),
        )
        .await;
    assert_eq!(r.status, 200);
    let both = es.user("both", &["payments_only", "all_orders"]).await;
    let r = es.get("/orders/_search", &both).await;
    assert_eq!(ids(&r), ["1", "2", "3"]);
    let risk = r.body["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["_id"] == "3")
        .unwrap();
    assert!(risk["_source"].get("amount").is_some());
}

#[tokio::test]
async fn a_query_template_is_rendered_with_the_searching_user() {
    let es = start_with(Some(seed())).await;
    platinum(&es).await;
    let r = es
        .put(
            "/_security/role/own",
            &elastic(),
            json!({"indices": [{"names": ["orders"], "privileges": ["read"],
                   "query": {"template": {"source": {"term": {"owner": "{{_user.username}}"}}}}}]}),
        )
        .await;
    assert_eq!(r.status, 200);
    let ann = es.user("ann", &["own"]).await;
    let ben = es.user("ben", &["own"]).await;
    assert_eq!(ids(&es.get("/orders/_search", &ann).await), ["1", "3"]);
    assert_eq!(ids(&es.get("/orders/_search", &ben).await), ["2"]);
    // A user whose name would break out of the JSON string finds nothing: values are escaped.
    let odd = es.user("ann\"}}", &["own"]).await;
    let r = es.get("/orders/_search", &odd).await;
    assert_eq!(ids(&r), Vec::<String>::new(), "{}", r.body);
}
