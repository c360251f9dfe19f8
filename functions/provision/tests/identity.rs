//! Identity cannot be escalated: each test is an attack that worked before persons were
//! issuer + `sub`, emails counted only when verified, groups were read exactly and inputs were
//! checked. Every one goes through the real handlers, moto and the Elasticsearch emulator.

use fixtures::flows::{
    approve, ask, call, credentials, discover_app, flows, provision_app, register,
};
use fixtures::{ADMIN, ALICE, CAROL, DEV, Env, Person, es_seed, event, http, with_token};
use serde_json::{Value, json};
use shared::model::{PrincipalState, RequestStatus};
use shared::store::{PrincipalStore, RequestStore};

const ISS: &str = "https://idp.example.com";

async fn setup(env: &Env, flow_names: &[&str]) -> (discover::App, provision::App) {
    let d = discover_app(env);
    register(env, &d, json!({})).await;
    flows(&d, flow_names).await;
    (d, provision_app(env))
}

/// `who`'s event with their email claim changed: `None` removes it, `verified` sets
/// `email_verified`.
fn as_person(mut ev: Value, email: Option<&str>, verified: bool) -> Value {
    let claims = ev["requestContext"]["authorizer"]["jwt"]["claims"]
        .as_object_mut()
        .unwrap();
    match email {
        Some(e) => {
            claims.insert("email".into(), json!(e));
        }
        None => {
            claims.remove("email");
        }
    }
    claims.insert("email_verified".into(), json!(verified.to_string()));
    with_token(&mut ev);
    ev
}

fn logs_auto() -> Value {
    json!({"integration": "prod-search", "resources": ["logs-*"], "permission": "read",
           "duration": "1h", "flow": "logs-auto"})
}

fn request_event(who: Person, email: Option<&str>, verified: bool, body: Value) -> Value {
    let mut ev = http(
        event("provision/post-request.json"),
        "/requests",
        who,
        Some(body),
    );
    ev["headers"]
        .as_object_mut()
        .unwrap()
        .remove("idempotency-key");
    as_person(ev, email, verified)
}

fn get_event(name: &str, path: &str, who: Person, email: Option<&str>, verified: bool) -> Value {
    as_person(http(event(name), path, who, None), email, verified)
}

const TWIN: Person = Person {
    sub: "7e7e7e7e-twin",
    email: "DEV@Example.COM",
    groups: "[developers]",
};

/// Someone whose `sub` is dev's email: a `sub` must never stand in for an email.
const SUB_AS_EMAIL: Person = Person {
    sub: "dev@example.com",
    email: "",
    groups: "[developers]",
};

#[tokio::test]
async fn one_person_one_account_whatever_email_or_sub_a_second_identity_carries() {
    let env = Env::start(es_seed()).await;
    let (_, p) = setup(&env, &["logs-auto"]).await;
    let (s, mine) = ask(&p, DEV, logs_auto()).await;
    assert_eq!(
        (s, mine["status"].as_str()),
        (201, Some("active")),
        "{mine}"
    );
    let id = mine["id"].as_str().unwrap();
    let (s, c) = credentials(&p, DEV, id).await;
    assert_eq!(s, 200);
    assert_eq!(c["username"], "ejit_dev@example.com");

    // The same verified email in other letter case, another person: a clear 409, no account.
    let (s, r) = call(&p, request_event(TWIN, Some(TWIN.email), true, logs_auto())).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (409, Some("account_owned_by_another_person")),
        "{r}"
    );
    // ... and dev's credentials are dev's alone.
    let path = format!("/requests/{id}/credentials");
    let (s, r) = call(
        &p,
        get_event(
            "provision/get-credentials.json",
            &path,
            TWIN,
            Some(TWIN.email),
            true,
        ),
    )
    .await;
    assert_eq!(s, 403, "{}", fixtures::redacted(&r));
    assert!(r.get("password").is_none());

    // No email, and a `sub` equal to dev's email: its own account, never dev's.
    let (s, r) = call(&p, request_event(SUB_AS_EMAIL, None, false, logs_auto())).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("active")), "{r}");
    let other = r["id"].as_str().unwrap().to_string();
    let (s, c) = call(
        &p,
        get_event(
            "provision/get-credentials.json",
            &format!("/requests/{other}/credentials"),
            SUB_AS_EMAIL,
            None,
            false,
        ),
    )
    .await;
    assert_eq!(s, 200);
    let name = c["username"].as_str().unwrap();
    assert!(
        name.starts_with("ejit_id-") && !name.contains('@'),
        "{name}"
    );
    let (s, _) = call(
        &p,
        get_event(
            "provision/get-credentials.json",
            &path,
            SUB_AS_EMAIL,
            None,
            false,
        ),
    )
    .await;
    assert_eq!(s, 403);

    // An unverified email is not used: the same claim, unverified, gets an id-based account.
    let unverified = Person {
        sub: "6d6d6d6d-unverified",
        email: "dev@example.com",
        groups: "[developers]",
    };
    let (s, r) = call(
        &p,
        request_event(unverified, Some(unverified.email), false, logs_auto()),
    )
    .await;
    assert_eq!((s, r["status"].as_str()), (201, Some("active")), "{r}");
    assert_eq!(
        r["requester"].get("email"),
        None,
        "unverified email dropped: {r}"
    );

    // Dev's own listing does not include the others' requests.
    let (_, listing) = call(
        &p,
        http(event("provision/get-requests.json"), "/requests", DEV, None),
    )
    .await;
    let ids: Vec<&str> = listing["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id]);
}

#[tokio::test]
async fn an_account_claimed_by_another_person_fails_the_provision_instead_of_being_shared() {
    let env = Env::start(es_seed()).await;
    let (_, p) = setup(&env, &["logs-leads"]).await;
    let body = json!({"integration": "prod-search", "resources": ["logs-2026.10"],
                      "permission": "read", "duration": "1h"});
    let (s, r) = ask(&p, DEV, body).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("pending")), "{r}");
    let id = r["id"].as_str().unwrap();
    // Meanwhile the account name is taken by another person (e.g. an IdP that reissued the
    // email): provisioning checks the owner under the account's lease.
    let mut taken = PrincipalState::new(
        "prod-search",
        "ejit_dev@example.com",
        "someone-else",
        fixtures::t0(),
    );
    taken.owner_issuer = Some(ISS.into());
    env.store.save_principal(&taken, None, &[]).await.unwrap();

    let (s, r) = approve(&p, CAROL, id).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("failed")), "{r}");
    assert!(
        r["status_reason"]
            .as_str()
            .unwrap()
            .starts_with("account_owned_by_another_person"),
        "{r}"
    );
    let stored = env
        .store
        .get_principal("prod-search", "ejit_dev@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.owner_sub, "someone-else");
    assert!(stored.active_grants.is_empty() && stored.lock_owner.is_none());
    assert!(env.es_requests().await.iter().all(|r| {
        r["method"] == "GET"
            || r["path"]
                .as_str()
                .is_some_and(|p| !p.contains("dev@example.com"))
    }));
}

#[tokio::test]
async fn nobody_approves_their_own_request_under_a_second_identity() {
    let env = Env::start(es_seed()).await;
    let (_, p) = setup(&env, &["logs-leads", "logs-read"]).await;

    // Alice's second identity (another sub, her verified email in capitals) asks; the flow's
    // approvers are the leads, alice among them.
    let second = Person {
        sub: "a1a1a1a1-alice-2",
        email: "ALICE@EXAMPLE.COM",
        groups: "[developers]",
    };
    let body = json!({"integration": "prod-search", "resources": ["logs-2026.10"],
                      "permission": "read", "duration": "1h"});
    let (s, r) = call(&p, request_event(second, Some(second.email), true, body)).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("pending")), "{r}");
    let id = r["id"].as_str().unwrap();
    let (s, r) = approve(&p, ALICE, id).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{r}"
    );
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
    assert!(
        listing["to_decide"].as_array().unwrap().is_empty(),
        "{listing}"
    );
    let (s, r) = approve(&p, CAROL, id).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("active")), "{r}");

    // A `sub` equal to the owner's email is not the owner: it cannot approve (or see) dev's
    // request that alice, the owner of logs-*, must approve.
    let body = json!({"integration": "prod-search", "resources": ["logs-*"], "permission": "read",
                      "duration": "1h", "justification": "INC-1", "flow": "logs-read"});
    let (s, r) = ask(&p, DEV, body).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("pending")), "{r}");
    let id = r["id"].as_str().unwrap();
    let impostor = Person {
        sub: "alice@example.com",
        email: "",
        groups: "[leads]",
    };
    let mut ev = http(
        event("provision/approve.json"),
        &format!("/requests/{id}/approve"),
        impostor,
        None,
    );
    ev = as_person(ev, None, false);
    let (s, _) = call(&p, ev).await;
    assert_eq!(s, 404);
    // An unverified claim of alice's email is no better.
    let unverified = Person {
        sub: "b2b2b2b2-claims-alice",
        email: "alice@example.com",
        groups: "[developers]",
    };
    let ev = as_person(
        http(
            event("provision/approve.json"),
            &format!("/requests/{id}/approve"),
            unverified,
            None,
        ),
        Some("alice@example.com"),
        false,
    );
    assert_eq!(call(&p, ev).await.0, 404);
    assert_eq!(
        env.store.get_request(id).await.unwrap().unwrap().status,
        RequestStatus::Pending
    );
}

#[tokio::test]
async fn group_membership_is_exactly_what_the_idp_issued() {
    let env = Env::start(es_seed()).await;
    let d = discover_app(&env);
    // A group whose name contains the admin group, in the token's exact list; the authorizer's
    // copy flattens it to a string that once split into two groups.
    for groups in [
        json!(["ops jit-admins"]),
        json!(["contractors,jit-admins"]),
        json!("ops jit-admins"),
    ] {
        let mut ev = http(
            event("discover/put-integration.json"),
            "/integrations/sneaky",
            DEV,
            None,
        );
        let flat = match &groups {
            Value::Array(a) => format!("[{}]", a[0].as_str().unwrap()),
            other => other.as_str().unwrap().to_string(),
        };
        ev["requestContext"]["authorizer"]["jwt"]["claims"]["groups"] = json!(flat);
        fixtures::with_token_overrides(&mut ev, &json!({ "groups": groups }));
        let (s, b) = fixtures::response(d.handle(ev).await.expect("handler"));
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{groups}: {b}"
        );
    }
    // Without the token the flattened list cannot be read exactly: refused, not split.
    let mut ev = http(
        event("discover/get-integrations.json"),
        "/integrations",
        ADMIN,
        None,
    );
    ev["headers"]
        .as_object_mut()
        .unwrap()
        .remove("authorization");
    let (s, b) = fixtures::response(d.handle(ev).await.expect("handler"));
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("groups_claim_ambiguous")),
        "{b}"
    );
    // A token that is not the one the authorizer verified is refused.
    let mut ev = http(
        event("discover/get-integrations.json"),
        "/integrations",
        DEV,
        None,
    );
    fixtures::with_token_overrides(
        &mut ev,
        &json!({"sub": ADMIN.sub, "groups": ["jit-admins"]}),
    );
    let (s, b) = fixtures::response(d.handle(ev).await.expect("handler"));
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("token_mismatch")),
        "{b}"
    );
}

#[tokio::test]
async fn array_valued_claims_in_the_event_get_a_normal_answer() {
    let env = Env::start(es_seed()).await;
    let (_, p) = setup(&env, &["logs-auto"]).await;
    let mut ev = http(
        event("provision/post-request.json"),
        "/requests",
        DEV,
        Some(logs_auto()),
    );
    // As some authorizers and tools send them: real JSON arrays, numbers and booleans.
    let claims = &mut ev["requestContext"]["authorizer"]["jwt"]["claims"];
    claims["groups"] = json!(["developers"]);
    claims["email_verified"] = json!(true);
    claims["exp"] = json!(1795431600);
    claims["iat"] = json!(1795428000);
    claims["amr"] = json!(["pwd", {"x": 1}]);
    let out = p.handle(ev).await.expect("an answer, not a function error");
    let (s, r) = fixtures::response(out);
    assert_eq!((s, r["status"].as_str()), (201, Some("active")), "{r}");
    assert_eq!(r["requester"]["groups"], json!(["developers"]));
}

#[tokio::test]
async fn inputs_with_control_characters_unsafe_emails_or_a_reused_key_are_refused() {
    let env = Env::start(es_seed()).await;
    let (_, p) = setup(&env, &["logs-auto", "logs-leads"]).await;
    let leads = |extra: Value| {
        let mut b = json!({"integration": "prod-search", "resources": ["logs-2026.10"],
                           "permission": "read", "duration": "1h"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (body, field) in [
        (
            leads(json!({"justification": "INC-1\u{0}DROP"})),
            "justification",
        ),
        (
            leads(json!({"justification": "ok\u{1b}[2Jcleared"})),
            "justification",
        ),
        (
            leads(json!({"resources": ["logs-2026.10\u{0}"]})),
            "resources[0]",
        ),
        (leads(json!({"flow": "logs-leads\u{202e}"})), "flow"),
    ] {
        let (s, r) = ask(&p, DEV, body).await;
        assert_eq!(
            (
                s,
                r["error"]["details"][0]["code"].as_str(),
                r["error"]["details"][0]["field"].as_str()
            ),
            (400, Some("control_character"), Some(field)),
            "{r}"
        );
    }
    // Line breaks and tabs are fine in free text.
    let (s, r) = ask(
        &p,
        DEV,
        leads(json!({"justification": "INC-1\n\tsee ticket"})),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    let mut ev = http(
        event("provision/reject.json"),
        &format!("/requests/{id}/reject"),
        CAROL,
        Some(json!({"reason": "no\u{0}"})),
    );
    with_token(&mut ev);
    let (s, r) = call(&p, ev).await;
    assert_eq!(
        (s, r["error"]["details"][0]["code"].as_str()),
        (400, Some("control_character")),
        "{r}"
    );

    // An email that cannot be an Elasticsearch username as it is.
    for email in [
        "dev,admin@example.com",
        "\"dev admin\"@example.com",
        "dév@example.com",
        "dev'x@example.com",
    ] {
        let who = Person {
            sub: "c3c3c3c3-odd",
            email: "",
            groups: "[developers]",
        };
        let (s, r) = call(&p, request_event(who, Some(email), true, logs_auto())).await;
        assert_eq!(
            (s, r["error"]["code"].as_str()),
            (400, Some("identity_not_mappable")),
            "{email}: {r}"
        );
    }

    // The same Idempotency-Key: same body → the first request; another body → 422.
    let keyed = |body: Value| {
        let mut ev = http(
            event("provision/post-request.json"),
            "/requests",
            DEV,
            Some(body),
        );
        ev["headers"]["idempotency-key"] = json!("key-1");
        ev
    };
    let (s, first) = call(&p, keyed(leads(json!({})))).await;
    assert_eq!(s, 201, "{first}");
    let (s, again) = call(&p, keyed(leads(json!({})))).await;
    assert_eq!((s, again["id"].clone()), (200, first["id"].clone()));
    for other in [
        leads(json!({"duration": "2h"})),
        leads(json!({"justification": "different"})),
        leads(json!({"resources": ["logs-2026.11"]})),
        logs_auto(),
    ] {
        let (s, r) = call(&p, keyed(other)).await;
        assert_eq!(
            (s, r["error"]["code"].as_str()),
            (422, Some("idempotency_key_reused")),
            "{r}"
        );
    }
    // Another person's use of the same key is their own.
    let mut ev = http(
        event("provision/post-request.json"),
        "/requests",
        fixtures::MALLORY,
        Some(leads(json!({}))),
    );
    ev["headers"]["idempotency-key"] = json!("key-1");
    assert_eq!(call(&p, ev).await.0, 201);
}

#[tokio::test]
async fn a_password_rotation_never_touches_an_account_that_changed_owner() {
    use shared::requester_rotation::{RequesterRotationError, rotate_principal};
    use shared::store::IntegrationStore;
    use shared::targets::DriverFactory;

    let env = Env::start(es_seed()).await;
    let (_, p) = setup(&env, &["logs-auto"]).await;
    let (s, r) = ask(&p, DEV, logs_auto()).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("active")), "{r}");
    let integration = env
        .store
        .get_integration("prod-search")
        .await
        .unwrap()
        .unwrap();
    let stored = env
        .store
        .get_principal("prod-search", "ejit_dev@example.com")
        .await
        .unwrap()
        .unwrap();
    // A rotation started for someone else's account of that name (read before the account
    // changed hands): it must not replace the current owner's password.
    let mut stale = stored.clone();
    stale.owner_sub = "someone-else".into();
    let driver = env.targets.driver(&integration).await.unwrap();
    let err = rotate_principal(
        &*env.store,
        &*env.secrets,
        driver.as_ref(),
        &integration,
        &stale,
        fixtures::t0(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, RequesterRotationError::OwnerChanged { .. }),
        "{err}"
    );
    assert_eq!(err.code(), "account_owned_by_another_person");
    let after = env
        .store
        .get_principal("prod-search", "ejit_dev@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.version, stored.version, "nothing written");
}
