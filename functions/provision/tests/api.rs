//! The provision function end to end against moto's server and the Elasticsearch emulator:
//! request → approval by the resource owner → credentials that read exactly what was granted.

use std::sync::Arc;

use chrono::Duration;
use fixtures::flows::{
    approve, ask, auth_of, call, credentials, discover_app, flows, provision_app, register,
};
use fixtures::{ALICE, Auth, CAROL, DEV, Env, MALLORY, Person, es_seed, event, http};
use reqwest::Method;
use serde_json::{Value, json};
use shared::model::AuditSubject;
use shared::store::{AuditStore, PrincipalStore, RequestStore, ResourceStore};

fn apps(env: &Env) -> (discover::App, provision::App) {
    (discover_app(env), provision_app(env))
}

/// Register `prod-search` and the named flows.
async fn setup(env: &Env, d: &discover::App, wanted: &[&str]) {
    register(env, d, json!({})).await;
    flows(d, wanted).await;
}

fn basic(c: &Value) -> Auth {
    auth_of(c)
}

#[tokio::test]
async fn the_owner_approves_and_the_credentials_read_exactly_what_was_granted() {
    let env = Env::start(es_seed()).await;
    let (d, p) = apps(&env);
    setup(&env, &d, &["logs-read"]).await;

    // The sample event asks for read on logs-* for 2 h with a justification.
    let (s, r) = call(
        &p,
        http(event("provision/post-request.json"), "/requests", DEV, None),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["status"], "pending");
    assert_eq!(r["resources"], json!(["logs-2026.10", "logs-2026.11"]));
    assert_eq!(
        r["approval_steps"][0]["approvers"],
        json!([{"type": "user", "value": "alice@example.com"}])
    );
    let id = r["id"].as_str().unwrap().to_string();

    // The same idempotency key returns the same request.
    let (s, again) = call(
        &p,
        http(event("provision/post-request.json"), "/requests", DEV, None),
    )
    .await;
    assert_eq!((s, again["id"].as_str()), (200, Some(id.as_str())));

    // Nobody approves their own request; a stranger does not even see it.
    assert_eq!(approve(&p, DEV, &id).await.0, 403);
    assert_eq!(approve(&p, MALLORY, &id).await.0, 404);
    let (_, listing) = call(
        &p,
        http(
            event("provision/get-requests.json"),
            "/requests",
            ALICE,
            None,
        ),
    )
    .await;
    assert_eq!(listing["to_decide"][0]["id"], id.as_str());
    assert_eq!(listing["to_decide"][0]["can_decide"], true);
    assert_eq!(
        credentials(&p, DEV, &id).await.0,
        409,
        "no credentials before approval"
    );

    let (s, r) = approve(&p, ALICE, &id).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("active")), "{r}");
    let ends_at = r["ends_at"].as_str().unwrap().to_string();

    // The expiry schedule, read back: one-time, at the grant's end, targeting revoke.
    let schedule = env
        .scheduler_client
        .get_schedule()
        .name(format!("ejit-{id}"))
        .group_name(&env.schedule_group)
        .send()
        .await
        .unwrap();
    assert_eq!(
        schedule.schedule_expression(),
        Some("at(2026-11-23T12:00:00)")
    );
    assert!(ends_at.starts_with("2026-11-23T12:00:00"));
    let target = schedule.target().unwrap();
    assert_eq!(target.arn(), fixtures::REVOKE_ARN);
    let input: Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(
        input,
        json!({"source": "elastic-jit.expiry", "grant_id": id})
    );

    let (s, c) = credentials(&p, DEV, &id).await;
    assert_eq!(s, 200, "{}", fixtures::redacted(&c));
    assert_eq!(
        (c["mode"].as_str(), c["username"].as_str()),
        (Some("user"), Some("ejit_dev@example.com"))
    );
    assert_eq!(
        c["custom_access_details"],
        "Use Kibana at https://kibana.example.internal"
    );
    assert_eq!(c["url"], env.es.url());
    let me = basic(&c);
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &me, None)
            .await,
        200
    );
    assert_eq!(
        env.es_status(Method::GET, "/secrets-1/_search", &me, None)
            .await,
        403
    );
    assert_eq!(
        env.es_status(
            Method::PUT,
            "/logs-2026.11/_doc/9",
            &me,
            Some(json!({"x": 1}))
        )
        .await,
        403
    );
    // Only the requester reads credentials.
    assert_eq!(credentials(&p, ALICE, &id).await.0, 403);
    assert_eq!(credentials(&p, MALLORY, &id).await.0, 403);

    // Everything made is marked as managed, with the grant id.
    let role = env
        .es_json(Method::GET, &format!("/_security/role/ejit_grant_{id}"))
        .await;
    assert_eq!(
        role[format!("ejit_grant_{id}")]["metadata"]["grant_id"],
        id.as_str()
    );

    // The audit trail holds every decision, never the password.
    let trail = env
        .store
        .audit_of(&AuditSubject::Request(id.clone()), 20, None)
        .await
        .unwrap();
    let actions: Vec<_> = trail.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["request.created", "request.approved", "grant.provisioned"]
    );
    assert!(
        !serde_json::to_string(&trail.items)
            .unwrap()
            .contains(c["password"].as_str().unwrap())
    );

    // A second grant for the now existing account: put role + put user, nothing else.
    let (s, r2) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "write", "duration": "1h", "justification": "backfill", "flow": "logs-read"})).await;
    assert_eq!(s, 201, "{r2}");
    env.clear_es_log().await;
    let (s, r2) = approve(&p, ALICE, r2["id"].as_str().unwrap()).await;
    assert_eq!((s, r2["status"].as_str()), (200, Some("active")), "{r2}");
    let calls: Vec<String> = env
        .es_requests()
        .await
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls[0].starts_with("PUT /_security/role/")
            && calls[1].starts_with("PUT /_security/user/"),
        "{calls:?}"
    );
    // The old password still works (no password change for an existing account), both grants hold.
    assert_eq!(
        env.es_status(
            Method::PUT,
            "/logs-2026.10/_doc/9",
            &me,
            Some(json!({"x": 1}))
        )
        .await,
        201
    );
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &me, None)
            .await,
        200
    );
}

#[tokio::test]
async fn api_key_mode_costs_one_more_request_and_the_key_is_scoped() {
    let env = Env::start(es_seed()).await;
    let (d, p) = apps(&env);
    setup(&env, &d, &["logs-keys", "logs-auto"]).await;
    // First a user-mode grant creates the account, so the key grant below is for an existing one.
    let (_, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-*"], "permission": "read", "duration": "1h", "flow": "logs-auto"})).await;
    assert_eq!(r["status"], "active", "{r}");
    let (s, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h", "flow": "logs-keys"})).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("pending")), "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    env.clear_es_log().await;
    let (_, r) = approve(&p, ALICE, &id).await;
    assert_eq!(r["status"], "active", "{r}");
    assert_eq!(env.es_requests().await.len(), 3);
    let (s, c) = credentials(&p, DEV, &id).await;
    assert_eq!(
        (s, c["mode"].as_str()),
        (200, Some("api_key")),
        "{}",
        fixtures::redacted(&c)
    );
    let key = Auth::ApiKey(c["api_key"].as_str().unwrap().into());
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &key, None)
            .await,
        200
    );
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.10/_search", &key, None)
            .await,
        403,
        "the key has only this grant's names"
    );
    assert_eq!(
        env.es_status(Method::GET, "/secrets-1/_search", &key, None)
            .await,
        403
    );
    // Elasticsearch itself expires the key at the grant's end.
    let keys = env
        .es_json(
            Method::GET,
            &format!(
                "/_security/api_key?id={}",
                c["api_key_id"].as_str().unwrap()
            ),
        )
        .await;
    let expiration = keys["api_keys"][0]["expiration"].as_i64().unwrap();
    let created = keys["api_keys"][0]["creation"].as_i64().unwrap();
    assert_eq!((expiration - created) / 1000, 3600);
}

#[tokio::test]
async fn concurrent_approvals_provision_once() {
    let env = Env::start(es_seed()).await;
    let (d, p) = apps(&env);
    setup(&env, &d, &["logs-leads"]).await;
    let p = Arc::new(p);
    for round in 0..3 {
        let (s, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "read", "duration": "1h", "flow": "logs-leads"})).await;
        assert_eq!(s, 201, "{r}");
        let id = r["id"].as_str().unwrap().to_string();
        let (a, b) = tokio::join!(approve(&p, ALICE, &id), approve(&p, CAROL, &id));
        let statuses = [a.0, b.0];
        assert!(
            statuses.contains(&200) && statuses.contains(&409),
            "round {round}: {a:?} {b:?}"
        );
        let trail = env
            .store
            .audit_of(&AuditSubject::Request(id.clone()), 20, None)
            .await
            .unwrap();
        assert_eq!(
            trail
                .items
                .iter()
                .filter(|e| e.action == "grant.provisioned")
                .count(),
            1
        );
        assert_eq!(
            trail
                .items
                .iter()
                .filter(|e| e.action == "request.approved")
                .count(),
            1
        );
        let roles = env.es_json(Method::GET, "/_security/role").await;
        assert_eq!(
            roles
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| k.ends_with(&id))
                .count(),
            1
        );
    }
}

#[tokio::test]
async fn concurrent_grants_for_one_requester_both_end_up_on_the_account() {
    let env = Env::start(es_seed()).await;
    let (d, p) = apps(&env);
    setup(&env, &d, &["logs-auto"]).await;
    let one = json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "read", "duration": "1h", "flow": "logs-auto"});
    let two = json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h", "flow": "logs-auto"});
    let ((s1, r1), (s2, r2)) = tokio::join!(ask(&p, DEV, one), ask(&p, DEV, two));
    assert_eq!((s1, s2), (201, 201), "{r1} {r2}");
    assert_eq!(
        (r1["status"].as_str(), r2["status"].as_str()),
        (Some("active"), Some("active")),
        "{r1} {r2}"
    );
    let user = env
        .es_json(Method::GET, "/_security/user/ejit_dev@example.com")
        .await;
    let mut roles: Vec<String> =
        serde_json::from_value(user["ejit_dev@example.com"]["roles"].clone()).unwrap();
    roles.sort();
    let mut expected = vec![
        format!("ejit_grant_{}", r1["id"].as_str().unwrap()),
        format!("ejit_grant_{}", r2["id"].as_str().unwrap()),
    ];
    expected.sort();
    assert_eq!(roles, expected);
    let (_, c) = credentials(&p, DEV, r1["id"].as_str().unwrap()).await;
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.10/_search", &basic(&c), None)
            .await,
        200
    );
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &basic(&c), None)
            .await,
        200
    );
    let principal = env
        .store
        .get_principal("prod-search", "ejit_dev@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(principal.active_grants.len(), 2);
    assert!(principal.lock_owner.is_none());
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_nothing_is_stored() {
    let env = Env::start(es_seed()).await;
    let (d, p) = apps(&env);
    setup(&env, &d, &["logs-read", "logs-leads"]).await;
    let base = json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h", "justification": "x"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let cases = [
        (
            with("integration", json!("nope")),
            400,
            "unknown_integration",
        ),
        (
            with("resources", json!(["nope-*"])),
            400,
            "unknown_resource",
        ),
        (with("resources", json!([])), 400, "invalid_resources"),
        (with("resources", json!(["a,b"])), 400, "invalid_resources"),
        (
            with("permission", json!("deployment-viewer")),
            400,
            "unknown_permission",
        ),
        (with("duration", json!("forever")), 400, "invalid_duration"),
        (with("duration", json!("59s")), 400, "invalid_duration"),
        (with("duration", json!("9h")), 403, "no_matching_flow"),
        (
            with("resources", json!(["secrets-1"])),
            403,
            "no_matching_flow",
        ),
        (
            with("justification", Value::Null),
            400,
            "justification_required",
        ),
        (with("colour", json!("red")), 400, "unknown_field"),
        (with("duration", json!(60)), 400, "invalid_field"),
    ];
    for (body, status, code) in cases {
        let mut b = body.clone();
        if code == "justification_required" {
            b["flow"] = json!("logs-read");
        }
        let (s, r) = ask(&p, DEV, b).await;
        assert_eq!(
            (s, r["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {r}"
        );
    }
    // A requester outside the flow's groups.
    let outsider = Person {
        sub: "x-1",
        email: "x@example.com",
        groups: "[sales]",
    };
    assert_eq!(
        ask(&p, outsider, base.clone()).await.1["error"]["code"],
        "no_matching_flow"
    );
    // An identity that cannot become an Elasticsearch username.
    let odd = Person {
        sub: "odd",
        email: "zoë@example.com",
        groups: "[developers]",
    };
    assert_eq!(
        ask(&p, odd, base.clone()).await.1["error"]["code"],
        "identity_not_mappable"
    );
    let mut bad_key = http(
        event("provision/post-request.json"),
        "/requests",
        DEV,
        Some(base),
    );
    bad_key["headers"]["idempotency-key"] = json!("has space");
    assert_eq!(
        call(&p, bad_key).await.1["error"]["code"],
        "invalid_idempotency_key"
    );
    // Reject needs a reason.
    let (_, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "read", "duration": "1h", "flow": "logs-leads"})).await;
    let id = r["id"].as_str().unwrap();
    let reject = |who, body| {
        http(
            event("provision/reject.json"),
            &format!("/requests/{id}/reject"),
            who,
            body,
        )
    };
    assert_eq!(
        call(&p, reject(CAROL, Some(json!({})))).await.1["error"]["code"],
        "reason_required"
    );
    let (s, r) = call(&p, reject(CAROL, None)).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("rejected")));
    assert_eq!(
        approve(&p, ALICE, id).await.1["error"]["code"],
        "not_pending"
    );
    let (s, r) = call(
        &p,
        http(
            event("provision/get-request.json"),
            &format!("/requests/{id}"),
            DEV,
            None,
        ),
    )
    .await;
    assert_eq!(
        (s, r["status_reason"].as_str()),
        (200, Some("use the staging cluster"))
    );
    assert_eq!(
        call(
            &p,
            http(
                event("provision/get-request.json"),
                &format!("/requests/{id}"),
                MALLORY,
                None
            )
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn a_provision_that_fails_half_way_is_undone_and_the_request_fails() {
    let env = Env::start(es_seed()).await;
    let (d, p) = apps(&env);
    setup(&env, &d, &["logs-auto"]).await;
    env.es_fault("PUT", "/_security/user/*", 5, 500).await;
    let (s, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h", "flow": "logs-auto"})).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("failed")), "{r}");
    assert!(r["status_reason"].as_str().unwrap().contains("500"), "{r}");
    assert_eq!(r["created_objects"], json!([]), "undone");
    let id = r["id"].as_str().unwrap();
    let missing = env
        .es_as(
            Method::GET,
            &format!("/_security/role/ejit_grant_{id}"),
            &Auth::elastic(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404, "the role was removed again");
    let principal = env
        .store
        .get_principal("prod-search", "ejit_dev@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(principal.active_grants.is_empty() && principal.lock_owner.is_none());
    env.clear_es_faults().await;
    // The next try works, and the stored password is the account's.
    let (_, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h", "flow": "logs-auto"})).await;
    assert_eq!(r["status"], "active", "{r}");
    let (_, c) = credentials(&p, DEV, r["id"].as_str().unwrap()).await;
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &basic(&c), None)
            .await,
        200
    );
}

#[tokio::test]
async fn pending_requests_expire_after_their_approval_window() {
    let env = Env::start(es_seed()).await;
    let (d, p) = apps(&env);
    setup(&env, &d, &["logs-leads"]).await;
    let (_, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "read", "duration": "1h", "flow": "logs-leads"})).await;
    let id = r["id"].as_str().unwrap().to_string();
    env.clock.advance(Duration::hours(25));
    let (s, e) = approve(&p, ALICE, &id).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("approval_window_elapsed"))
    );
    let stored = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(stored.status.as_str(), "expired");
}

/// Counts every item DynamoDB hands back to the client it is installed on, so a test can say
/// how much a handler read, whatever store calls it made.
#[derive(Debug, Default, Clone)]
struct ItemsRead(Arc<std::sync::atomic::AtomicUsize>);

impl ItemsRead {
    fn take(&self) -> usize {
        self.0.swap(0, std::sync::atomic::Ordering::SeqCst)
    }
}

impl aws_sdk_dynamodb::config::Intercept for ItemsRead {
    fn name(&self) -> &'static str {
        "ItemsRead"
    }

    fn read_after_deserialization(
        &self,
        ctx: &aws_sdk_dynamodb::config::interceptors::AfterDeserializationInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        use aws_sdk_dynamodb::operation::{
            batch_get_item::BatchGetItemOutput, get_item::GetItemOutput, query::QueryOutput,
            scan::ScanOutput,
        };
        let Ok(out) = ctx.output_or_error() else {
            return Ok(());
        };
        let n = if let Some(o) = out.downcast_ref::<QueryOutput>() {
            o.items().len()
        } else if let Some(o) = out.downcast_ref::<ScanOutput>() {
            o.items().len()
        } else if let Some(o) = out.downcast_ref::<BatchGetItemOutput>() {
            o.responses()
                .map_or(0, |r| r.values().map(Vec::len).sum::<usize>())
        } else if let Some(o) = out.downcast_ref::<GetItemOutput>() {
            usize::from(o.item().is_some())
        } else {
            0
        };
        self.0.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

/// The test's table through a client that counts what it reads, with an open-request cap.
fn counted_store(env: &Env, max_open: u32) -> (Arc<shared::store::DynamoStore>, ItemsRead) {
    let counter = ItemsRead::default();
    let conf = env
        .dynamodb
        .config()
        .to_builder()
        .interceptor(counter.clone())
        .build();
    let mut cfg = shared::store::StoreConfig::new(env.store.table());
    cfg.max_open_requests = max_open;
    let store =
        shared::store::DynamoStore::with_config(aws_sdk_dynamodb::Client::from_conf(conf), cfg);
    (Arc::new(store), counter)
}

/// `count` copies of request `template`'s stored item from Mallory, each waiting for bob,
/// with bob's approver-index items, as the store writes them.
async fn flood(env: &Env, template: &str, count: usize) {
    use aws_sdk_dynamodb::types::{AttributeValue as A, PutRequest, WriteRequest};
    let table = env.store.table().to_string();
    let item = env
        .dynamodb
        .get_item()
        .table_name(&table)
        .key("pk", A::S(format!("REQUEST#{template}")))
        .key("sk", A::S("REQUEST".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let bob = A::L(vec![A::M(
        [("type", "user"), ("value", "bob@example.com")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), A::S(v.into())))
            .collect(),
    )]);
    let mallory = MALLORY.key();
    let mut writes = Vec::new();
    for i in 0..count {
        let id = format!("flood-{i:04}");
        let created_key = format!("{:015}#{id}", fixtures::t0().timestamp_millis() + i as i64);
        let mut r = item.clone();
        r.insert("pk".into(), A::S(format!("REQUEST#{id}")));
        r.insert("id".into(), A::S(id.clone()));
        r.insert("requester_sub".into(), A::S(mallory.clone()));
        r.insert("open_requester".into(), A::S(mallory.clone()));
        r.insert("created_key".into(), A::S(created_key.clone()));
        r.insert("history".into(), A::L(vec![]));
        if let Some(A::M(who)) = r.get_mut("requester") {
            who.insert("sub".into(), A::S(MALLORY.sub.into()));
            who.insert("email".into(), A::S(MALLORY.email.into()));
            who.insert("issuer".into(), A::S(fixtures::ISSUER.into()));
        }
        if let Some(A::L(steps)) = r.get_mut("approval_steps") {
            for step in steps {
                if let A::M(step) = step {
                    step.insert("approvers".into(), bob.clone());
                }
            }
        }
        let index = [
            ("pk", A::S("APPROVER#email:bob@example.com".into())),
            ("sk", A::S(created_key)),
            ("entity", A::S("approver_index".into())),
            ("request_id", A::S(id)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for it in [r, index] {
            writes.push(
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(it)).build().unwrap())
                    .build(),
            );
        }
    }
    for chunk in writes.chunks(25) {
        let out = env
            .dynamodb
            .batch_write_item()
            .request_items(&table, chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert!(out.unprocessed_items().is_none_or(|u| u.is_empty()));
    }
    let pending = env
        .store
        .due_requests("pending", None, 1000, None)
        .await
        .unwrap();
    assert_eq!(
        pending.items.len(),
        count + 1,
        "the flood is stored and pending"
    );
}

fn list_requests(who: Person) -> Value {
    http(event("provision/get-requests.json"), "/requests", who, None)
}

#[tokio::test]
async fn listing_reads_only_the_callers_own_keys_however_many_others_wait() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    setup(&env, &d, &["logs-leads"]).await;
    let (store, read) = counted_store(&env, 20);
    let mut p = provision_app(&env);
    p.services.store = store.clone();

    // One request the group `leads` decides.
    let (s, mine) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "read", "duration": "1h", "flow": "logs-leads"})).await;
    assert_eq!(s, 201, "{mine}");
    let mine_id = mine["id"].as_str().unwrap().to_string();

    // 600 pending requests from someone else, for someone else (bob) to decide. They are
    // copies of the stored item written in batches: one transaction each would take moto
    // minutes, and only what the listing reads matters here.
    flood(&env, &mine_id, 600).await;

    // Carol (group leads) sees exactly the one she may decide, reading a handful of items.
    read.take();
    let (s, listing) = call(&p, list_requests(CAROL)).await;
    assert_eq!(s, 200, "{listing}");
    let ids: Vec<&str> = listing["to_decide"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine_id.as_str()]);
    assert_eq!(listing["to_decide"][0]["can_decide"], true);
    assert_eq!(listing["to_decide_truncated"], false);
    let items = read.take();
    assert!(items <= 5, "Carol's list read {items} items");

    // The requester's own list is bounded by its page size; the flood is not in it.
    let (_, own) = call(&p, list_requests(DEV)).await;
    assert_eq!(own["requests"].as_array().unwrap().len(), 1);
    assert_eq!(own["to_decide"], json!([]));
    assert!(read.take() <= 5);

    // Once decided, the request leaves Carol's queue in the same write.
    let (s, _) = approve(&p, CAROL, &mine_id).await;
    assert_eq!(s, 200);
    read.take();
    let (_, after) = call(&p, list_requests(CAROL)).await;
    assert_eq!(after["to_decide"], json!([]));
    assert!(
        read.take() <= 2,
        "the decided request left no index item behind"
    );
}

#[tokio::test]
async fn open_requests_are_capped_per_requester() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    setup(&env, &d, &["logs-leads"]).await;
    let (store, _) = counted_store(&env, 2);
    let mut p = provision_app(&env);
    p.services.store = store;
    let body = json!({"integration": "prod-search", "resources": ["logs-2026.10"], "permission": "read", "duration": "1h", "flow": "logs-leads"});
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (s, r) = ask(&p, DEV, body.clone()).await;
        assert_eq!(s, 201, "{r}");
        ids.push(r["id"].as_str().unwrap().to_string());
    }
    let (s, e) = ask(&p, DEV, body.clone()).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (429, Some("too_many_open_requests")),
        "{e}"
    );
    // Another requester is not affected.
    let (s, _) = ask(&p, MALLORY, body.clone()).await;
    assert_eq!(s, 201);
    // A decided request frees its slot.
    let reject = http(
        event("provision/reject.json"),
        &format!("/requests/{}/reject", ids[0]),
        CAROL,
        Some(json!({"reason": "not now"})),
    );
    assert_eq!(call(&p, reject).await.0, 200);
    let (s, r) = ask(&p, DEV, body).await;
    assert_eq!(s, 201, "{r}");
}

/// The demo cluster plus an alias `logs-everything` over `logs-2026.11` and bob's `secrets-1`.
fn seed_with_wide_alias() -> es_emulator::Seed {
    serde_json::from_value(json!({
        "indices": [
            {"name": "logs-2026.11", "mappings": {"_meta": {"owner": "alice@example.com"}}, "aliases": ["logs", "logs-everything"],
             "documents": [{"id": "1", "source": {"message": "user login"}}]},
            {"name": "logs-2026.10", "mappings": {"_meta": {"owner": "alice@example.com"}}, "aliases": ["logs"],
             "documents": [{"id": "1", "source": {"message": "october"}}]},
            {"name": "secrets-1", "mappings": {"_meta": {"owner": "bob@example.com"}}, "aliases": ["logs-everything"],
             "documents": [{"id": "1", "source": {"secret": "s3cr3t"}}]}
        ],
        "users": [{"username": "connector", "password": fixtures::CONNECTOR_PASSWORD, "roles": ["jit_connector"]}],
        "roles": {"jit_connector": {"cluster": ["monitor", "manage_security"],
                                    "indices": [{"names": ["*"], "privileges": ["monitor", "view_index_metadata"]}]}}
    }))
    .unwrap()
}

#[tokio::test]
async fn an_alias_never_widens_a_grant() {
    let env = Env::start(seed_with_wide_alias()).await;
    let (d, p) = apps(&env);
    setup(&env, &d, &["logs-read"]).await;
    let alias = env
        .store
        .get_resources("prod-search", &["logs-everything".into()])
        .await
        .unwrap();
    assert_eq!(alias[0].targets, ["logs-2026.11", "secrets-1"]);

    // Through the logs-* flow, the alias is refused: secrets-1 is behind it.
    let (s, e) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-everything"], "permission": "read", "duration": "1h", "justification": "incident", "flow": "logs-read"})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("no_matching_flow")),
        "{e}"
    );
    assert!(e.to_string().contains("secrets-1"), "{e}");

    // A logs-* request does not silently pick up the alias.
    let (s, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-*"], "permission": "read", "duration": "1h", "justification": "incident"})).await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["resources"], json!(["logs-2026.10", "logs-2026.11"]));
    assert_eq!(r["grant_reaches"], r["resources"]);
    let id = r["id"].as_str().unwrap().to_string();
    assert_eq!(approve(&p, ALICE, &id).await.0, 200);
    let (_, c) = credentials(&p, DEV, &id).await;
    let me = basic(&c);
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &me, None)
            .await,
        200
    );
    for path in [
        "/secrets-1/_search",
        "/logs-everything/_search",
        "/secrets-1/_doc/1",
    ] {
        assert_eq!(
            env.es_status(Method::GET, path, &me, None).await,
            403,
            "{path}"
        );
    }

    // A flow covering both indices offers the alias, as its indices, and secrets-1's owner
    // must approve too.
    let (s, f) = fixtures::flows::put_flow(&d, "everything", json!({"integration": "prod-search", "requesters": [{"type": "group", "value": "developers"}], "resources": ["logs-*", "secrets-*"], "permissions": ["read"]})).await;
    assert_eq!(s, 201, "{f}");
    let (s, r) = ask(&p, MALLORY, json!({"integration": "prod-search", "resources": ["logs-everything"], "permission": "read", "duration": "1h", "flow": "everything"})).await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["resources"], json!(["logs-2026.11", "secrets-1"]));
    assert_eq!(r["requested_resources"], json!(["logs-everything"]));
    assert_eq!(
        r["via_aliases"],
        json!({"logs-everything": ["logs-2026.11", "secrets-1"]})
    );
    let approvers: Vec<&Value> = r["approval_steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["approvers"].as_array().unwrap())
        .collect();
    assert!(
        approvers.contains(&&json!({"type": "user", "value": "bob@example.com"})),
        "{r}"
    );
    let id = r["id"].as_str().unwrap().to_string();
    let (s, r) = approve(&p, ALICE, &id).await;
    assert_eq!(
        (s, r["status"].as_str()),
        (200, Some("pending")),
        "alice alone is not enough"
    );
}

#[tokio::test]
async fn cloud_roles_apply_only_to_their_own_kind_of_resource() {
    use fixtures::cloud::{CloudEnv, INTEGRATION, ORG, PROD, PROJECT, ask_cloud, cloud_flows};
    let env = CloudEnv::start().await;
    let (d, p) = apps(&env);
    env.register(&d).await;
    cloud_flows(&d, &["deploy-auto"]).await;

    // A deployment role through `*` on the organization or a serverless project: refused
    // before anything is stored or sent to the Cloud API.
    for target in [ORG, PROJECT] {
        let (s, e) = ask_cloud(&p, DEV, "deploy-auto", &[target], "deployment-viewer").await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (400, Some("permission_scope_mismatch")),
            "{e}"
        );
    }
    let (s, r) = ask_cloud(&p, DEV, "deploy-auto", &[PROD], "deployment-viewer").await;
    assert_eq!((s, r["status"].as_str()), (201, Some("active")), "{r}");
    let members = env.members().await;
    assert!(
        !json!(members).to_string().contains(&format!("\"{ORG}\"]")),
        "no assignment names the organization id as a deployment"
    );

    // A flow whose patterns reach only the organization cannot offer a deployment role.
    let (s, e) = fixtures::flows::put_flow(
        &d,
        "org-deploy",
        json!({"integration": INTEGRATION, "requesters": [{"type": "group", "value": "developers"}],
               "resources": [ORG], "permissions": ["deployment-viewer"]}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("permission_scope_mismatch")),
        "{e}"
    );
}

fn discover_get(path: &str, who: Person) -> Value {
    http(event("discover/get-integrations.json"), path, who, None)
}

async fn discover_call(d: &discover::App, ev: Value) -> (u16, Value) {
    fixtures::response(d.handle(ev).await.unwrap())
}

#[tokio::test]
async fn requesters_see_only_what_their_flows_offer() {
    let env = Env::start(seed_with_wide_alias()).await;
    let (d, _) = apps(&env);
    setup(&env, &d, &["logs-read"]).await;

    // A developer (a requester of logs-read) sees the integration and its owners (who approve
    // an unowned resource), without its internals.
    let (s, list) = discover_call(&d, discover_get("/integrations", DEV)).await;
    assert_eq!(s, 200, "{list}");
    let shown = &list["integrations"][0];
    assert_eq!(shown["name"], "prod-search");
    assert_eq!(shown["flows"], json!(["logs-read"]));
    assert_eq!(
        shown["integration_owners"],
        json!([{"type": "group", "value": "search-platform"}])
    );
    for hidden in [
        "secret_arn",
        "resource_owner",
        "discovery",
        "tls",
        "last_discovery_error",
    ] {
        assert!(shown.get(hidden).is_none(), "{hidden} leaked: {shown}");
    }
    let (s, one) = discover_call(&d, discover_get("/integrations/prod-search", DEV)).await;
    assert_eq!((s, one.get("secret_arn")), (200, None), "{one}");

    // Resources: what logs-* offers, with their owners; not secrets-1, not the alias that
    // reaches it, and no alias internals.
    let (s, res) =
        discover_call(&d, discover_get("/integrations/prod-search/resources", DEV)).await;
    assert_eq!(s, 200, "{res}");
    let names: Vec<&str> = res["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["logs", "logs-2026.10", "logs-2026.11"], "{res}");
    assert_eq!(res["resources"][2]["owner"], "alice@example.com", "{res}");
    assert!(res["resources"][0].get("targets").is_none(), "{res}");

    // Flows: only those the caller may use, without requester or approver lists.
    let (_, flows) = discover_call(&d, discover_get("/flows", DEV)).await;
    assert_eq!(flows["flows"][0]["name"], "logs-read");
    assert!(flows["flows"][0].get("requesters").is_none());

    // Carol is a requester of no flow: she sees nothing, and names are not confirmed.
    let (_, list) = discover_call(&d, discover_get("/integrations", CAROL)).await;
    assert_eq!(list["integrations"], json!([]));
    for path in [
        "/integrations/prod-search",
        "/integrations/prod-search/resources",
        "/flows/logs-read",
    ] {
        assert_eq!(
            discover_call(&d, discover_get(path, CAROL)).await.0,
            404,
            "{path}"
        );
    }
    let (_, flows) = discover_call(&d, discover_get("/flows", CAROL)).await;
    assert_eq!(flows["flows"], json!([]));

    // Admins see everything.
    let (_, all) = discover_call(&d, discover_get("/integrations", fixtures::ADMIN)).await;
    assert!(all["integrations"][0]["secret_arn"].is_string());
    let (_, res) = discover_call(
        &d,
        discover_get("/integrations/prod-search/resources", fixtures::ADMIN),
    )
    .await;
    assert_eq!(res["resources"].as_array().unwrap().len(), 5, "{res}");
}

#[tokio::test]
async fn a_live_integration_cannot_be_pointed_elsewhere() {
    let env = Env::start(es_seed()).await;
    let (d, p) = apps(&env);
    setup(&env, &d, &["logs-auto"]).await;
    let grant = fixtures::flows::granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
    let id = grant["id"].as_str().unwrap();
    let arn = env.connector_secret().await;
    let put = |body: Value| fixtures::flows::put_integration(&d, "prod-search", body);
    let body = |extra: Value| {
        let mut b = json!({
            "kind": "elasticsearch", "url": env.es.url(), "secret_arn": arn,
            "integration_owners": [{"type": "group", "value": "search-platform"}],
            "resource_owner": {"tag_key": "owner", "attribute": "user"},
            "allow_insecure_http": true
        });
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    // A new user prefix (or URL) would make revoke act on accounts that do not exist.
    for change in [
        json!({"user_prefix": "other_"}),
        json!({"url": format!("{}/", env.es.url().replace("127.0.0.1", "localhost"))}),
    ] {
        let (s, e) = put(body(change.clone())).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (409, Some("integration_in_use")),
            "{change}: {e}"
        );
        assert!(e["error"]["message"].as_str().unwrap().contains(id), "{e}");
        assert_eq!(e["error"]["details"]["grants"]["active"]["count"], 1, "{e}");
        assert_eq!(e["error"]["details"]["accounts"]["count"], 1, "{e}");
    }
    // Settings that do not move the grants still change (a new connector secret included).
    let (s, r) = put(body(json!({"custom_access_details": "Kibana moved"}))).await;
    assert_eq!(s, 200, "{r}");
    let stored = env.store.get_request(id).await.unwrap().unwrap();
    assert_eq!(stored.status.as_str(), "active");
    // Deleting is refused too, and names the grant.
    let (s, e) = discover_call(
        &d,
        http(
            event("discover/delete-integration.json"),
            "/integrations/prod-search",
            fixtures::ADMIN,
            None,
        ),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("integration_in_use")),
        "{e}"
    );
}

fn failed_revocations(who: Person) -> Value {
    http(
        event("provision/get-failed-revocations.json"),
        "/failed-revocations",
        who,
        None,
    )
}

#[tokio::test]
async fn only_admins_list_failed_revocations_and_see_each_one() {
    let env = Env::start(es_seed()).await;
    let (d, p) = apps(&env);
    setup(&env, &d, &["logs-read"]).await;
    let (s, r) = ask(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h", "justification": "INC-1", "flow": "logs-read"})).await;
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    assert_eq!(approve(&p, ALICE, &id).await.0, 200);

    // Nothing failed yet: an empty page.
    let (s, body) = call(&p, failed_revocations(fixtures::ADMIN)).await;
    assert_eq!((s, &body["requests"]), (200, &json!([])), "{body}");

    // The grant's revocation failed (as revoke records it when the target is unreachable).
    let mut stored = env.store.get_request(&id).await.unwrap().unwrap();
    let version = stored.version;
    stored
        .transition(
            shared::model::RequestStatus::RevokeFailed,
            chrono::Utc::now(),
        )
        .unwrap();
    stored.revoke_attempts = 1;
    stored.next_attempt_at = Some(chrono::Utc::now() + Duration::minutes(5));
    env.store
        .update_request(&stored, version, &[])
        .await
        .unwrap();

    let (s, body) = call(&p, failed_revocations(fixtures::ADMIN)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["requests"][0]["id"], json!(id));
    assert_eq!(body["requests"][0]["status"], "revoke_failed");
    assert_eq!(body["requests"].as_array().unwrap().len(), 1);
    assert!(body["next_cursor"].is_null());

    // The requester, the approver and a stranger may not list them.
    for who in [DEV, ALICE, MALLORY] {
        let (s, body) = call(&p, failed_revocations(who)).await;
        assert_eq!(s, 403, "{body}");
        assert_eq!(body["error"]["code"], "forbidden");
    }
    // A bad page size is a clear 400.
    let mut ev = failed_revocations(fixtures::ADMIN);
    ev["queryStringParameters"] = json!({"limit": "0"});
    ev["rawQueryString"] = json!("limit=0");
    assert_eq!(call(&p, ev).await.0, 400);
}

async fn preview(p: &provision::App, who: Person, body: Value) -> (u16, Value) {
    call(
        p,
        http(
            event("provision/preview-request.json"),
            "/requests/preview",
            who,
            Some(body),
        ),
    )
    .await
}

#[tokio::test]
async fn a_preview_says_who_would_approve_and_stores_nothing() {
    let env = Env::start(es_seed()).await;
    let (d, p) = apps(&env);
    setup(&env, &d, &["logs-read"]).await;

    // The sample event: read on logs-* for 2 h. No justification yet: still previewed.
    let (s, r) = call(
        &p,
        http(
            event("provision/preview-request.json"),
            "/requests/preview",
            DEV,
            None,
        ),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["resources"], json!(["logs-2026.10", "logs-2026.11"]));
    assert_eq!(r["flow"], "logs-read");
    assert_eq!(r["auto_approve"], false);
    assert_eq!(
        r["approval_steps"][0]["approvers"],
        json!([{"type": "user", "value": "alice@example.com"}])
    );
    let (s, r) = preview(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h"})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["resources"], json!(["logs-2026.11"]));

    // Nothing was stored: no request, nothing for alice to decide.
    let (s, mine) = call(&p, list_requests(DEV)).await;
    assert_eq!((s, &mine["requests"]), (200, &json!([])), "{mine}");
    let (_, queue) = call(&p, list_requests(ALICE)).await;
    assert_eq!(queue["to_decide"], json!([]));
    let pending = env
        .store
        .due_requests("pending", None, 10, None)
        .await
        .unwrap();
    assert!(pending.items.is_empty());

    // The checks of a create apply: an unknown resource, a duration beyond the flow, and a
    // flow that does not exist are refused as a create would refuse them.
    let (s, r) = preview(&p, DEV, json!({"integration": "prod-search", "resources": ["nope-*"], "permission": "read", "duration": "1h"})).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (400, Some("unknown_resource")),
        "{r}"
    );
    let (s, r) = preview(&p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "30d"})).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (403, Some("no_matching_flow")),
        "{r}"
    );
    let (s, r) = preview(&p, DEV, json!({"integration": "prod-search", "flow": "no-such-flow", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h"})).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (403, Some("no_matching_flow")),
        "{r}"
    );
}

/// A custom permission is provisioned as it is defined when the grant is made: changing one that
/// a scheduled, approved or active grant uses would give access its approvers never saw (a
/// document query removed, a remote cluster or Kibana space added). Where the connector's
/// credentials go (`kibana_url`) moves only as `url` does.
#[tokio::test]
async fn a_custom_permission_in_use_cannot_change_under_its_grants() {
    let env = Env::start(es_seed()).await;
    let (d, p) = apps(&env);
    let append = json!({"name": "append", "privileges": ["create_doc"]});
    fixtures::flows::register(&env, &d, json!({"custom_permissions": [append]})).await;
    let (s, b) = fixtures::flows::put_flow(
        &d,
        "append-auto",
        json!({"integration": "prod-search", "requesters": [{"type": "group", "value": "developers"}],
               "resources": ["logs-*"], "permissions": ["append"], "auto_approve": true}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, r) = fixtures::flows::ask(
        &p,
        DEV,
        json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "append",
               "duration": "1h", "flow": "append-auto"}),
    )
    .await;
    assert_eq!((s, r["status"].as_str()), (201, Some("active")), "{r}");
    let id = r["id"].as_str().unwrap();
    let (env, d) = (&env, &d);
    let put = |extra: Value| async move {
        let body = fixtures::flows::registration(env, extra).await;
        fixtures::flows::put_integration(d, "prod-search", body).await
    };
    for changed in [
        json!([{"name": "append", "privileges": ["create_doc", "read"]}]),
        json!([]),
    ] {
        let (s, e) = put(json!({"custom_permissions": changed})).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (409, Some("permission_in_use")),
            "{changed}: {e}"
        );
        assert!(e["error"]["message"].as_str().unwrap().contains(id), "{e}");
    }
    let (s, e) =
        put(json!({"custom_permissions": [append], "kibana_url": "https://kibana.example.com"}))
            .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("integration_in_use")),
        "{e}"
    );
    // A new permission beside it is fine, and the grant keeps what it was approved with.
    let (s, r) = put(json!({"custom_permissions": [append, {"name": "append2", "privileges": ["create_doc", "read"]}]})).await;
    assert_eq!(s, 200, "{r}");
}
