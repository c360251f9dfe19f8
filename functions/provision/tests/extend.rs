//! Extending an active grant (`POST /requests/{id}/extend`) against moto's server and the
//! Elasticsearch emulator: limits, who may, the schedule and the API key moving with the end,
//! and the races with expiry and with another extension.

use chrono::Duration;
use fixtures::flows::get_request as get;
use fixtures::flows::{
    approve, ask, auth_of, call, credentials, discover_app, flow_spec, granted, provision_app,
    put_flow, register, revoke_app,
};
use fixtures::{ADMIN, ALICE, Auth, DEV, Env, MALLORY, Person, es_seed, event, http};
use reqwest::Method;
use serde_json::{Value, json};
use shared::grants::grant_secret_name;
use shared::model::{AuditSubject, KeyRenewal, TargetObject};
use shared::revocation::Cause;
use shared::secrets::{AWSCURRENT, SecretStore, SecretValue};
use shared::store::{AuditStore, RequestStore};

/// `name` (a flow of the fixtures) offering extensions: two, each at most 1 h, 3 h in all.
async fn extendable(env: &Env, d: &discover::App, names: &[&str]) {
    register(env, d, json!({})).await;
    for name in names {
        let mut spec = flow_spec(name);
        spec["max_duration"] = json!("1h");
        spec["extension"] =
            json!({"max_extensions": 2, "length": "1h", "max_total_duration": "3h"});
        let (s, b) = put_flow(d, name, spec).await;
        assert_eq!(s, 201, "{b}");
    }
}

async fn extend(p: &provision::App, who: Person, id: &str, body: Value) -> (u16, Value) {
    call(
        p,
        http(
            event("provision/extend.json"),
            &format!("/requests/{id}/extend"),
            who,
            Some(body),
        ),
    )
    .await
}

async fn trail(env: &Env, id: &str) -> Vec<String> {
    env.store
        .audit_of(&AuditSubject::Request(id.into()), 50, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.action)
        .collect()
}

async fn schedule_of(env: &Env, id: &str) -> String {
    env.scheduler_client
        .get_schedule()
        .name(format!("ejit-{id}"))
        .group_name(&env.schedule_group)
        .send()
        .await
        .unwrap()
        .schedule_expression()
        .unwrap_or_default()
        .to_string()
}

fn expiry(id: &str) -> Value {
    let mut e = event("revoke/expiry.json");
    e["grant_id"] = json!(id);
    e
}

#[tokio::test]
async fn an_automatic_extension_moves_the_end_and_the_schedule_within_the_flows_limits() {
    let env = Env::start(es_seed()).await;
    let (d, p) = (discover_app(&env), provision_app(&env));
    extendable(&env, &d, &["logs-auto"]).await;
    let grant = granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
    let id = grant["id"].as_str().unwrap().to_string();
    assert_eq!(grant["ends_at"], "2026-11-23T11:00:00Z");

    // The requester is told how far they may go.
    let (s, r) = get(&p, DEV, &id).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r["extension"],
        json!({"approval": "automatic", "remaining": 2, "max_extension": "1h", "max_extension_secs": 3600, "latest_end": "2026-11-23T13:00:00Z"})
    );

    // Bad input: 400, nothing changes.
    for (body, code) in [
        (json!({"duration": "soon"}), "invalid_duration"),
        (json!({"duration": "2h"}), "extension_too_long"),
        (json!({"duration": "0s"}), "invalid_duration"),
        (json!({"duration": "59s"}), "invalid_duration"),
        (
            json!({"duration": "1h", "until": "forever"}),
            "unknown_field",
        ),
        (
            json!({"duration": "1h", "justification": "a\u{7}b"}),
            "validation_failed",
        ),
    ] {
        let (s, e) = extend(&p, DEV, &id, body.clone()).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}: {e}"
        );
    }
    // Only the requester: an administrator who may read it is refused, a stranger (or an
    // approver-to-be of nothing here) is told it does not exist.
    let (s, e) = extend(&p, ADMIN, &id, json!({"duration": "1h"})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(
        extend(&p, MALLORY, &id, json!({"duration": "1h"})).await.0,
        404
    );
    assert_eq!(
        extend(&p, ALICE, &id, json!({"duration": "1h"})).await.0,
        404
    );
    assert_eq!(
        extend(&p, DEV, "no-such-grant", json!({"duration": "1h"}))
            .await
            .0,
        404
    );
    let before = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(before.extensions, 0);
    assert_eq!(before.ends_at, Some(fixtures::t0() + Duration::hours(1)));

    // The sweep's reminder for the old end is cleared by the extension.
    let mut warned = before.clone();
    warned.expiry_warned_at = Some(fixtures::t0());
    let warned = env
        .store
        .update_request(&warned, before.version, &[])
        .await
        .unwrap();

    let (s, r) = extend(
        &p,
        DEV,
        &id,
        json!({"duration": "30m", "justification": "INC-4711 still open"}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["ends_at"], "2026-11-23T11:30:00Z");
    assert_eq!(r["extensions"], 1);
    assert_eq!(r["status"], "active");
    assert_eq!(r["extension"]["remaining"], 1);
    assert!(r.get("key_renewal").is_none());
    assert_eq!(schedule_of(&env, &id).await, "at(2026-11-23T11:30:00)");
    let stored = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(stored.version, warned.version + 1, "one write");
    assert_eq!(stored.expiry_warned_at, None);
    let extended = stored
        .history
        .iter()
        .find(|e| e.action == "grant.extended")
        .expect("audited with the change");
    assert_eq!(extended.actor, "dev@example.com");
    assert_eq!(extended.details["from"], "2026-11-23T11:00:00Z");
    assert_eq!(extended.details["to"], "2026-11-23T11:30:00Z");
    assert_eq!(extended.details["justification"], "INC-4711 still open");
    assert!(
        trail(&env, &id)
            .await
            .contains(&"grant.extended".to_string())
    );

    // The credentials keep working, and the second extension may add only what is left.
    let (_, c) = credentials(&p, DEV, &id).await;
    assert_eq!(c["expires_at"], "2026-11-23T11:30:00Z");
    let me = auth_of(&c);
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &me, None)
            .await,
        200
    );
    let (s, r) = extend(&p, DEV, &id, json!({"duration": "1h"})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["ends_at"], "2026-11-23T12:30:00Z");
    assert_eq!(r["extension"]["remaining"], 0);
    let (s, e) = extend(&p, DEV, &id, json!({"duration": "10m"})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("extension_limit_reached")),
        "{e}"
    );
}

#[tokio::test]
async fn a_flow_without_extension_refuses_and_a_justification_is_required_where_the_flow_says() {
    let env = Env::start(es_seed()).await;
    let (d, p) = (discover_app(&env), provision_app(&env));
    register(&env, &d, json!({})).await;
    let (s, b) = put_flow(&d, "logs-auto", flow_spec("logs-auto")).await;
    assert_eq!(s, 201, "{b}");
    let grant = granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
    let id = grant["id"].as_str().unwrap().to_string();
    let (_, r) = get(&p, DEV, &id).await;
    assert_eq!(r["extension"], Value::Null);
    let (s, e) = extend(&p, DEV, &id, json!({"duration": "10m"})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("extension_not_offered")),
        "{e}"
    );
    // Turning extensions on with a required justification applies to live grants.
    let mut spec = flow_spec("logs-auto");
    spec["require_justification"] = json!(true);
    spec["extension"] = json!({"max_extensions": 1, "length": "1h", "max_total_duration": "8h"});
    assert_eq!(put_flow(&d, "logs-auto", spec).await.0, 200);
    let (s, e) = extend(&p, DEV, &id, json!({"duration": "10m"})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("justification_required"))
    );
    let (s, r) = extend(
        &p,
        DEV,
        &id,
        json!({"duration": "10m", "justification": "more"}),
    )
    .await;
    assert_eq!(
        (s, r["ends_at"].as_str()),
        (200, Some("2026-11-23T11:10:00Z")),
        "{r}"
    );
    // A flow whose extension policy does not hold together is refused.
    let mut bad = flow_spec("logs-auto");
    bad["extension"] = json!({"max_extensions": 0, "length": "1m", "max_total_duration": "1h", "approval": "automatic"});
    let (s, e) = put_flow(&d, "logs-bad", bad).await;
    assert_eq!(s, 400, "{e}");
    let fields: Vec<&str> = e["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "extension.max_extensions",
            "extension.length",
            "extension.max_total_duration"
        ],
        "{e}"
    );
}

#[tokio::test]
async fn extend_racing_expiry() {
    let env = Env::start(es_seed()).await;
    let (d, p, rv) = (discover_app(&env), provision_app(&env), revoke_app(&env));
    extendable(&env, &d, &["logs-auto"]).await;
    let grant = granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
    let id = grant["id"].as_str().unwrap().to_string();
    let (_, c) = credentials(&p, DEV, &id).await;
    let me = auth_of(&c);
    let (s, r) = extend(&p, DEV, &id, json!({"duration": "1h"})).await;
    assert_eq!(
        (s, r["ends_at"].as_str()),
        (200, Some("2026-11-23T12:00:00Z")),
        "{r}"
    );

    // The schedule for the OLD end, already in flight, and the sweep's backstop at that time:
    // neither revokes.
    env.clock.advance(Duration::hours(1));
    let out = rv.handle(expiry(&id)).await.unwrap();
    assert_eq!(out["outcome"], "unchanged", "{out}");
    let current = env.store.get_request(&id).await.unwrap().unwrap();
    let swept = rv
        .revoker()
        .revoke_request(current, Cause::Expiry, None)
        .await
        .unwrap();
    assert!(
        matches!(swept, shared::revocation::Outcome::Unchanged(_)),
        "{swept:?}"
    );
    let current = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(current.status.as_str(), "active");
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &me, None)
            .await,
        200,
        "access is not interrupted"
    );

    // Within five minutes of the end it is too late: 409, nothing changes.
    env.clock.advance(Duration::minutes(56));
    let (s, e) = extend(&p, DEV, &id, json!({"duration": "10m"})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("grant_not_active")),
        "{e}"
    );
    let unchanged = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(unchanged.version, current.version);

    // At the new end the expiry revokes; an extension after that is refused and changes nothing.
    env.clock.advance(Duration::minutes(4));
    let out = rv.handle(expiry(&id)).await.unwrap();
    assert_eq!(out["outcome"], "revoked", "{out}");
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &me, None)
            .await,
        401
    );
    let ended = env.store.get_request(&id).await.unwrap().unwrap();
    let (s, e) = extend(&p, DEV, &id, json!({"duration": "10m"})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("grant_not_active")),
        "{e}"
    );
    let after = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(after.version, ended.version);
    assert_eq!(after.status.as_str(), "expired");
}

#[tokio::test]
async fn exactly_one_of_two_concurrent_extensions_applies() {
    let env = Env::start(es_seed()).await;
    let (d, p) = (discover_app(&env), provision_app(&env));
    extendable(&env, &d, &["logs-auto", "keys-auto"]).await;
    for flow in ["logs-auto", "keys-auto"] {
        let grant = granted(&p, DEV, flow, &["logs-2026.11"]).await;
        let id = grant["id"].as_str().unwrap().to_string();
        let (a, b) = tokio::join!(
            extend(&p, DEV, &id, json!({"duration": "1h"})),
            extend(&p, DEV, &id, json!({"duration": "30m"})),
        );
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "{flow}: {} / {}", a.1, b.1);
        let lost = if a.0 == 409 { &a.1 } else { &b.1 };
        assert!(
            ["grant_changed", "extension_in_progress"]
                .contains(&lost["error"]["code"].as_str().unwrap_or_default()),
            "{lost}"
        );
        let won = if a.0 == 200 { &a.1 } else { &b.1 };
        let stored = env.store.get_request(&id).await.unwrap().unwrap();
        assert_eq!(stored.extensions, 1, "{flow}");
        assert_eq!(
            stored
                .ends_at
                .map(|e| e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            won["ends_at"].as_str().map(str::to_string)
        );
        let keys = stored
            .created_objects
            .iter()
            .filter(|o| matches!(o, shared::model::TargetObject::EsApiKey { .. }))
            .count();
        assert_eq!(keys, if flow == "keys-auto" { 2 } else { 0 }, "{flow}");
    }
}

#[tokio::test]
async fn an_api_key_grant_gets_a_new_key_to_the_new_end_and_the_old_one_works_until_its_own() {
    let env = Env::start(es_seed()).await;
    let (d, p, rv) = (discover_app(&env), provision_app(&env), revoke_app(&env));
    extendable(&env, &d, &["keys-auto"]).await;
    let grant = granted(&p, DEV, "keys-auto", &["logs-2026.11"]).await;
    let id = grant["id"].as_str().unwrap().to_string();
    let (_, c1) = credentials(&p, DEV, &id).await;
    let old = auth_of(&c1);

    let (s, r) = extend(&p, DEV, &id, json!({"duration": "1h"})).await;
    assert_eq!(
        (s, r["ends_at"].as_str()),
        (200, Some("2026-11-23T12:00:00Z")),
        "{r}"
    );
    let (s, c2) = credentials(&p, DEV, &id).await;
    assert_eq!(s, 200);
    assert_eq!(c2["expires_at"], "2026-11-23T12:00:00Z");
    assert_ne!(c2["api_key_id"], c1["api_key_id"], "a new key");
    let new = auth_of(&c2);
    for key in [&old, &new] {
        assert_eq!(
            env.es_status(Method::GET, "/logs-2026.11/_search", key, None)
                .await,
            200
        );
        assert_eq!(
            env.es_status(Method::GET, "/logs-2026.10/_search", key, None)
                .await,
            403,
            "the new key is scoped like the old"
        );
    }
    // Elasticsearch expires the new key at the new end.
    let keys = env
        .es_json(
            Method::GET,
            &format!(
                "/_security/api_key?id={}",
                c2["api_key_id"].as_str().unwrap()
            ),
        )
        .await;
    let k = &keys["api_keys"][0];
    assert_eq!(
        (k["expiration"].as_i64().unwrap() - k["creation"].as_i64().unwrap()) / 1000,
        7200
    );
    assert_eq!(k["metadata"]["grant_id"], id.as_str());
    let stored = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(stored.key_renewal, None);
    let actions = trail(&env, &id).await;
    assert!(actions.contains(&"grant.extension_started".to_string()));
    assert!(actions.contains(&"grant.extended".to_string()));

    // Revoking ends both keys.
    let (s, _) = fixtures::response(
        rv.handle(http(
            event("revoke/post-revoke.json"),
            &format!("/requests/{id}/revoke"),
            DEV,
            None,
        ))
        .await
        .unwrap(),
    );
    assert_eq!(s, 200);
    for key in [&old, &new] {
        assert_eq!(
            env.es_status(Method::GET, "/logs-2026.11/_search", key, None)
                .await,
            401
        );
    }
}

/// A key issued by an extension cut short before its record: known only by name.
async fn stray_key(env: &Env, p: &provision::App, id: &str, name: &str) -> Auth {
    let mut r = env.store.get_request(id).await.unwrap().unwrap();
    let expected = r.version;
    let now = p.services.clock.now();
    r.key_renewal = Some(KeyRenewal {
        name: name.into(),
        ends_at: now + Duration::hours(2),
        started_at: now,
        by: "dev@example.com".into(),
        justification: None,
    });
    env.store.update_request(&r, expected, &[]).await.unwrap();
    // What the cut-short attempt had asked Elasticsearch for (as the connector can).
    let key = env
        .es_as(Method::POST, "/_security/api_key/grant", &Auth::elastic())
        .json(&json!({
            "grant_type": "password",
            "username": "elastic",
            "password": fixtures::ELASTIC_PASSWORD,
            "api_key": {"name": name, "expiration": "2h"}
        }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    Auth::ApiKey(key["encoded"].as_str().expect("granted").into())
}

/// An extension stores its new key before it records it. When the record does not land (the
/// function dies, the write fails), that key is invalidated: the requester must still be
/// handed the grant's recorded key, which keeps working, never the dead one.
#[tokio::test]
async fn credentials_hand_out_the_recorded_key_when_an_extensions_record_did_not_land() {
    let env = Env::start(es_seed()).await;
    let (d, p) = (discover_app(&env), provision_app(&env));
    extendable(&env, &d, &["keys-auto"]).await;
    let grant = granted(&p, DEV, "keys-auto", &["logs-2026.11"]).await;
    let id = grant["id"].as_str().unwrap().to_string();
    let stored = env.store.get_request(&id).await.unwrap().unwrap();
    let recorded = stored
        .created_objects
        .iter()
        .find_map(|o| match o {
            TargetObject::EsApiKey { id, .. } => Some(id.clone()),
            _ => None,
        })
        .expect("an api_key grant records its key");
    let name = grant_secret_name(&p.services.config.secret_prefix, &stored.integration, &id);
    let unrecorded = json!({"api_key": "dW5yZWNvcmRlZDprZXk=", "id": "unrecorded-key"});
    env.secrets
        .put(
            &name,
            &SecretValue::new(unrecorded.to_string()),
            None,
            &[AWSCURRENT],
        )
        .await
        .unwrap();

    let (s, c) = credentials(&p, DEV, &id).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["api_key_id"], recorded.as_str());
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &auth_of(&c), None)
            .await,
        200,
        "the recorded key works"
    );
}

#[tokio::test]
async fn an_extension_cut_short_leaves_no_untracked_key_and_a_later_one_takes_over() {
    let env = Env::start(es_seed()).await;
    let (d, p, rv) = (discover_app(&env), provision_app(&env), revoke_app(&env));
    extendable(&env, &d, &["keys-auto"]).await;

    // Taken over after a minute: the stray key of that name is invalidated, a new one issued.
    let grant = granted(&p, DEV, "keys-auto", &["logs-2026.11"]).await;
    let id = grant["id"].as_str().unwrap().to_string();
    let name = format!("ejit_grant_{id}_ext1");
    let stray = stray_key(&env, &p, &id, &name).await;
    assert_eq!(env.es_status(Method::GET, "/", &stray, None).await, 200);
    let (s, e) = extend(&p, DEV, &id, json!({"duration": "1h"})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("extension_in_progress")),
        "{e}"
    );
    env.clock.advance(Duration::seconds(61));
    let (s, r) = extend(&p, DEV, &id, json!({"duration": "1h"})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(env.es_status(Method::GET, "/", &stray, None).await, 401);
    let (_, c) = credentials(&p, DEV, &id).await;
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &auth_of(&c), None)
            .await,
        200
    );

    // Ended while an extension was cut short: revoke invalidates the key by its name.
    let grant = granted(&p, DEV, "keys-auto", &["logs-2026.11"]).await;
    let id = grant["id"].as_str().unwrap().to_string();
    let stray = stray_key(&env, &p, &id, &format!("ejit_grant_{id}_ext1")).await;
    env.clock.advance(Duration::hours(1));
    let out = rv.handle(expiry(&id)).await.unwrap();
    assert_eq!(out["outcome"], "revoked", "{out}");
    assert_eq!(env.es_status(Method::GET, "/", &stray, None).await, 401);
}

#[tokio::test]
async fn an_extension_that_needs_approval_waits_for_the_grants_approvers_and_never_shortens_access()
{
    let env = Env::start(es_seed()).await;
    let (d, p, rv) = (discover_app(&env), provision_app(&env), revoke_app(&env));
    register(&env, &d, json!({})).await;
    let mut spec = flow_spec("logs-read");
    spec["extension"] = json!({"max_extensions": 2, "length": "2h", "max_total_duration": "12h", "approval": "required"});
    assert_eq!(put_flow(&d, "logs-read", spec).await.0, 201);
    let asked = json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "1h", "flow": "logs-read", "justification": "INC-1"});

    let (_, r) = ask(&p, DEV, asked.clone()).await;
    let id = r["id"].as_str().unwrap().to_string();
    let (_, r) = approve(&p, ALICE, &id).await;
    assert_eq!(r["status"], "active", "{r}");
    let (_, c) = credentials(&p, DEV, &id).await;
    let me = auth_of(&c);

    let (s, x) = extend(
        &p,
        DEV,
        &id,
        json!({"duration": "2h", "justification": "INC-1 goes on"}),
    )
    .await;
    assert_eq!((s, x["status"].as_str()), (202, Some("pending")), "{x}");
    assert_eq!(x["extends"], id.as_str());
    assert_eq!(x["duration"], "2h");
    assert_eq!(
        x["approval_steps"][0]["approvers"],
        r["approval_steps"][0]["approvers"]
    );
    assert_eq!(
        x["approval_expires_at"], "2026-11-23T10:55:00Z",
        "it waits no longer than the grant can be extended"
    );
    let ext = x["id"].as_str().unwrap().to_string();
    // Pending: the grant keeps its end.
    let grant = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(grant.ends_at, Some(fixtures::t0() + Duration::hours(1)));
    assert_eq!(grant.extensions, 0);
    // Nobody decides their own extension; the owner does, and the grant's end moves.
    assert_eq!(approve(&p, DEV, &ext).await.0, 403);
    assert_eq!(approve(&p, MALLORY, &ext).await.0, 404);
    let (s, done) = approve(&p, ALICE, &ext).await;
    assert_eq!(
        (s, done["status"].as_str()),
        (200, Some("applied")),
        "{done}"
    );
    let grant = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(grant.ends_at, Some(fixtures::t0() + Duration::hours(3)));
    assert_eq!(grant.extensions, 1);
    let extended = grant
        .history
        .iter()
        .find(|e| e.action == "grant.extended")
        .expect("audited");
    assert_eq!(extended.details["extension_request"], ext.as_str());
    assert_eq!(schedule_of(&env, &id).await, "at(2026-11-23T13:00:00)");
    assert!(
        trail(&env, &ext)
            .await
            .contains(&"request.applied".to_string())
    );
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &me, None)
            .await,
        200
    );
    // Nothing was provisioned for the extension request itself.
    let stored = env.store.get_request(&ext).await.unwrap().unwrap();
    assert!(stored.created_objects.is_empty() && stored.ends_at.is_none());
    assert_eq!(credentials(&p, DEV, &ext).await.0, 409);

    // An extension approved after its grant was revoked fails with the reason; nothing moves.
    let (s, x) = extend(
        &p,
        DEV,
        &id,
        json!({"duration": "1h", "justification": "more"}),
    )
    .await;
    assert_eq!(s, 202, "{x}");
    let late = x["id"].as_str().unwrap().to_string();
    let (s, _) = fixtures::response(
        rv.handle(http(
            event("revoke/post-revoke.json"),
            &format!("/requests/{id}/revoke"),
            DEV,
            None,
        ))
        .await
        .unwrap(),
    );
    assert_eq!(s, 200);
    let (s, failed) = approve(&p, ALICE, &late).await;
    assert_eq!(
        (s, failed["status"].as_str()),
        (200, Some("failed")),
        "{failed}"
    );
    assert!(
        failed["status_reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("grant_not_active"),
        "{failed}"
    );
    let grant = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(grant.status.as_str(), "revoked");
    assert_eq!(grant.extensions, 1);
}

/// DEV's extension of `id` is refused for `why` (the flow no longer offers the grant), and the
/// grant is left as it was.
async fn not_offered(env: &Env, p: &provision::App, id: &str, why: &str) {
    let before = env.store.get_request(id).await.unwrap().unwrap();
    let (s, e) = extend(p, DEV, id, json!({"duration": "10m"})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("extension_not_offered")),
        "{e}"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(why),
        "{e}"
    );
    let after = env.store.get_request(id).await.unwrap().unwrap();
    assert_eq!(
        (after.version, after.ends_at),
        (before.version, before.ends_at)
    );
}

/// The flow as it is now must still grant this access to this requester: one who is no longer
/// among its requesters, or a resource no longer in its patterns, cannot stretch an old grant.
#[tokio::test]
async fn a_grant_the_flow_no_longer_offers_is_not_extended() {
    let env = Env::start(es_seed()).await;
    let (d, p) = (discover_app(&env), provision_app(&env));
    extendable(&env, &d, &["logs-auto"]).await;
    let grant = granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
    let id = grant["id"].as_str().unwrap().to_string();
    let mut spec = flow_spec("logs-auto");
    spec["max_duration"] = json!("1h");
    spec["extension"] = json!({"max_extensions": 2, "length": "1h", "max_total_duration": "3h"});
    spec["requesters"] = json!([{"type": "group", "value": "leads"}]);
    assert_eq!(put_flow(&d, "logs-auto", spec).await.0, 200);
    not_offered(&env, &p, &id, "no longer one of flow").await;
}

/// The granted index was deleted and an alias made under its name (discovery recorded it):
/// the role already names it, but an extension must not stretch access to what the alias now
/// reaches, which nobody approved.
#[tokio::test]
async fn a_grant_whose_index_became_an_alias_is_not_extended() {
    let env = Env::start(es_seed()).await;
    let (d, p) = (discover_app(&env), provision_app(&env));
    extendable(&env, &d, &["logs-auto"]).await;
    let grant = granted(&p, DEV, "logs-auto", &["logs-2026.11"]).await;
    let id = grant["id"].as_str().unwrap().to_string();
    fixtures::flows::index_became_alias(&env, "logs-2026.11", &["secrets-1"]).await;
    not_offered(&env, &p, &id, "\"logs-2026.11\" is now an alias").await;
}

/// Scheduler as seen by an extension whose call reaches it after a later extension's: before
/// the first call goes through, another extension records an end one hour later and moves the
/// schedule there; then the first (earlier) end lands last.
struct OvertakenOnce {
    inner: std::sync::Arc<dyn shared::scheduler::ExpiryScheduler>,
    store: std::sync::Arc<dyn shared::store::Store>,
    done: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl shared::scheduler::ExpiryScheduler for OvertakenOnce {
    async fn schedule_expiry(
        &self,
        grant_id: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), shared::scheduler::SchedulerError> {
        if !self.done.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let mut later = self.store.get_request(grant_id).await.unwrap().unwrap();
            let v = later.version;
            let end = later.ends_at.unwrap() + Duration::hours(1);
            later.ends_at = Some(end);
            later.extensions += 1;
            self.store.update_request(&later, v, &[]).await.unwrap();
            self.inner.schedule_expiry(grant_id, end).await?;
        }
        self.inner.schedule_expiry(grant_id, at).await
    }

    async fn cancel_expiry(&self, grant_id: &str) -> Result<(), shared::scheduler::SchedulerError> {
        self.inner.cancel_expiry(grant_id).await
    }
}

#[tokio::test]
async fn extensions_reaching_the_scheduler_out_of_order_leave_it_at_the_last_end() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    extendable(&env, &d, &["logs-auto"]).await;
    let grant = granted(&provision_app(&env), DEV, "logs-auto", &["logs-2026.11"]).await;
    let id = grant["id"].as_str().unwrap().to_string();
    let mut p = provision_app(&env);
    p.services.scheduler = std::sync::Arc::new(OvertakenOnce {
        inner: env.scheduler.clone(),
        store: env.store.clone(),
        done: false.into(),
    });
    let (s, r) = extend(&p, DEV, &id, json!({"duration": "30m"})).await;
    assert_eq!(s, 200, "{r}");
    let stored = env.store.get_request(&id).await.unwrap().unwrap();
    // 11:00 + 30 min (this extension) + 1 h (the one that overtook it).
    assert_eq!(
        stored.ends_at.map(|e| e.to_rfc3339()),
        Some("2026-11-23T12:30:00+00:00".to_string())
    );
    assert_eq!(schedule_of(&env, &id).await, "at(2026-11-23T12:30:00)");
}
