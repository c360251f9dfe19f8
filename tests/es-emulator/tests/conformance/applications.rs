//! Application privileges on roles, as Kibana keeps its spaces and features
//! (`kibana-.kibana`, resources `space:<id>`): they round-trip and `_has_privileges` answers
//! per resource.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn kibana_space_privileges_round_trip_and_are_checked_per_space() {
    let es = start().await;
    let app = json!([{"application": "kibana-.kibana", "privileges": ["feature_discover.read"],
                      "resources": ["space:payments"]}]);
    let ann = es
        .user_with_role("ann", "discover_payments", json!({"applications": app}))
        .await;
    let g = es
        .get("/_security/role/discover_payments", &elastic())
        .await;
    assert_eq!(g.body["discover_payments"]["applications"], app);
    let r = es
        .post(
            "/_security/user/_has_privileges",
            &ann,
            json!({"application": [{"application": "kibana-.kibana",
                   "privileges": ["feature_discover.read"],
                   "resources": ["space:payments", "space:ops"]}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["has_all_requested"], json!(false));
    assert_eq!(
        r.body["application"]["kibana-.kibana"],
        json!({"space:payments": {"feature_discover.read": true},
               "space:ops": {"feature_discover.read": false}})
    );
}

#[tokio::test]
async fn the_tiny_kibana_lists_only_the_spaces_the_caller_holds_a_privilege_in() {
    let es = start_with(Some(json!({"kibana_spaces": [
        {"id": "payments", "name": "Payments"}, {"id": "ops", "name": "Operations"}]})))
    .await;
    let all = es.get("/api/spaces/space", &elastic()).await;
    let ids: Vec<&str> = all
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, ["payments", "ops"], "the superuser sees every space");
    let ann = es
        .user_with_role(
            "ann",
            "payments_reader",
            json!({"applications": [{"application": "kibana-.kibana", "privileges": ["feature_discover.read"], "resources": ["space:payments"]}]}),
        )
        .await;
    let mine = es.get("/api/spaces/space", &ann).await;
    assert_eq!(mine.status, 200);
    assert_eq!(mine.body[0]["id"], "payments");
    assert_eq!(mine.body.as_array().unwrap().len(), 1, "{}", mine.body);
    let none = es.user_with_role("bob", "no_kibana", json!({})).await;
    assert_eq!(es.get("/api/spaces/space", &none).await.body, json!([]));
}
