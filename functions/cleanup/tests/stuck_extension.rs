//! An approved extension request whose outcome was never recorded (the function ended between
//! moving its grant's end and marking the request): the sweep settles it from the grant's own
//! record, `applied` when the grant records it, `failed` otherwise, and never extends anything.

use chrono::Duration;
use fixtures::flows::sweep;
use fixtures::flows::{
    approve, ask, call, cleanup_app, discover_app, flow_spec, provision_app, put_flow, register,
};
use fixtures::{ALICE, DEV, Env, es_seed, event, http};
use serde_json::json;
use shared::model::{AccessRequest, RequestStatus};
use shared::store::RequestStore;

/// Put `r` back as approved and unsettled, as a function that died before its last write
/// left it.
async fn as_if_cut_short(env: &Env, mut r: AccessRequest) -> AccessRequest {
    let expected = r.version;
    r.status = RequestStatus::Approved;
    r.status_reason = None;
    r.ended_at = None;
    env.store.update_request(&r, expected, &[]).await.unwrap()
}

#[tokio::test]
async fn an_extension_request_cut_short_is_settled_from_its_grants_record() {
    let env = Env::start(es_seed()).await;
    let (d, p, c) = (discover_app(&env), provision_app(&env), cleanup_app(&env));
    register(&env, &d, json!({})).await;
    let mut spec = flow_spec("logs-read");
    spec["extension"] = json!({"max_extensions": 2, "length": "2h", "max_total_duration": "12h", "approval": "required"});
    assert_eq!(put_flow(&d, "logs-read", spec).await.0, 201);
    let (_, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "4h", "flow": "logs-read", "justification": "INC-1"})).await;
    let grant = r["id"].as_str().unwrap().to_string();
    let (_, r) = approve(&p, ALICE, &grant).await;
    assert_eq!(r["status"], "active", "{r}");
    let (s, x) = call(
        &p,
        http(
            event("provision/extend.json"),
            &format!("/requests/{grant}/extend"),
            DEV,
            Some(json!({"duration": "1h", "justification": "INC-1 goes on"})),
        ),
    )
    .await;
    assert_eq!(s, 202, "{x}");
    let ext = x["id"].as_str().unwrap().to_string();
    let (_, a) = approve(&p, ALICE, &ext).await;
    assert_eq!(a["status"], "applied", "{a}");
    let extended = env.store.get_request(&grant).await.unwrap().unwrap();
    let ends_at = extended.ends_at;

    // Applied to the grant, its own outcome lost: settled as applied.
    let applied = env.store.get_request(&ext).await.unwrap().unwrap();
    as_if_cut_short(&env, applied.clone()).await;
    // An approved extension request the grant never applied (another copy): failed.
    let mut never = applied;
    never.id = format!("{}-x", never.id);
    never.version = 0;
    never.status = RequestStatus::Approved;
    never.status_reason = None;
    never.ended_at = None;
    never.history.clear();
    env.store.create_request(&never, None, &[]).await.unwrap();

    env.clock.advance(Duration::minutes(30));
    let out = sweep(&c).await;
    let settled = env.store.get_request(&ext).await.unwrap().unwrap();
    assert_eq!(settled.status, RequestStatus::Applied, "{out}");
    assert!(
        settled
            .history
            .iter()
            .any(|e| e.action == "request.applied" && e.actor == "system:cleanup")
    );
    let failed = env.store.get_request(&never.id).await.unwrap().unwrap();
    assert_eq!(failed.status, RequestStatus::Failed, "{out}");
    // Nothing was extended by the sweep: the grant ends where the one extension put it.
    let after = env.store.get_request(&grant).await.unwrap().unwrap();
    assert_eq!((after.ends_at, after.extensions), (ends_at, 1));
    assert_eq!(after.status, RequestStatus::Active);
}
