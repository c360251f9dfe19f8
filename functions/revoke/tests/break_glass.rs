//! Break-glass grants and the revoke function: their integration's owners may end them, and a
//! review landing while a revocation is under way neither fails it nor is lost.

use fixtures::flows::{
    ask, auth_of, call, credentials, discover_app, provision_app, put_flow, register, revoke_app,
};
use fixtures::{ALICE, CAROL, DEV, Env, Person, es_seed, event, http, response};
use reqwest::Method;
use serde_json::{Value, json};
use shared::revocation::{Cause, Outcome};
use shared::store::RequestStore;

async fn setup(env: &Env) -> provision::App {
    let d = discover_app(env);
    register(env, &d, json!({})).await;
    let (s, b) = put_flow(
        &d,
        "emergency",
        json!({"integration": "prod-search", "requesters": [{"type": "group", "value": "developers"}],
               "resources": ["logs-*"], "permissions": ["read"], "break_glass": true}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    provision_app(env)
}

async fn break_glass(p: &provision::App) -> (String, Value) {
    let (s, r) = ask(p, DEV, json!({"integration": "prod-search", "resources": ["logs-2026.11"], "permission": "read", "duration": "30m", "flow": "emergency", "justification": "INC-1"})).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("active")), "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    let (_, creds) = credentials(p, DEV, &id).await;
    (id, creds)
}

async fn review(p: &provision::App, who: Person, id: &str) -> (u16, Value) {
    call(
        p,
        http(
            event("provision/approve.json"),
            &format!("/requests/{id}/review"),
            who,
            Some(json!({"outcome": "not_justified", "note": "no incident"})),
        ),
    )
    .await
}

#[tokio::test]
async fn an_owner_reviewing_a_break_glass_grant_may_end_it_and_nobody_else_new_may() {
    let env = Env::start(es_seed()).await;
    let p = setup(&env).await;
    let r = revoke_app(&env);
    let (id, creds) = break_glass(&p).await;
    let revoke_by = |who: Person| {
        let r = &r;
        let id = id.clone();
        async move {
            response(
                r.handle(http(
                    event("revoke/post-revoke.json"),
                    &format!("/requests/{id}/revoke"),
                    who,
                    None,
                ))
                .await
                .unwrap(),
            )
        }
    };
    let (s, _) = revoke_by(CAROL).await;
    assert_eq!(s, 404, "not an owner of the integration");
    // alice owns it (the search-platform group).
    let (s, b) = revoke_by(ALICE).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("revoked")), "{b}");
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &auth_of(&creds), None)
            .await,
        401
    );
}

#[tokio::test]
async fn a_review_racing_a_revocation_is_kept_and_the_revocation_completes() {
    let env = Env::start(es_seed()).await;
    let p = setup(&env).await;
    let r = revoke_app(&env);
    let (id, creds) = break_glass(&p).await;
    // The revocation read the grant, then the review landed, then the revocation writes.
    let stale = env.store.get_request(&id).await.unwrap().unwrap();
    let (s, b) = review(&p, ALICE, &id).await;
    assert_eq!(s, 200, "{b}");
    let cause = Cause::Manual {
        by: "dev@example.com".into(),
        reason: None,
    };
    let outcome = r
        .revoker()
        .revoke_request(stale, cause, None)
        .await
        .unwrap();
    let Outcome::Done(done) = outcome else {
        panic!("not done: {outcome:?}");
    };
    assert_eq!(done.status.as_str(), "revoked");
    let stored = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(stored.status.as_str(), "revoked");
    let review = stored
        .break_glass
        .unwrap()
        .review
        .expect("the review is kept");
    assert_eq!(review.by, "alice@example.com");
    let actions: Vec<&str> = stored.history.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"request.reviewed") && actions.contains(&"grant.revoked"),
        "{actions:?}"
    );
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &auth_of(&creds), None)
            .await,
        401
    );

    // A lifecycle change meanwhile (here its attempts moved) is not written over: the grant is
    // revoked again as it is now, and ends revoked with nothing left.
    let (id, creds) = break_glass(&p).await;
    let stale = env.store.get_request(&id).await.unwrap().unwrap();
    let mut changed = stale.clone();
    changed.revoke_attempts = 3;
    env.store
        .update_request(&changed, stale.version, &[])
        .await
        .unwrap();
    let cause = Cause::Manual {
        by: "dev@example.com".into(),
        reason: None,
    };
    let outcome = r
        .revoker()
        .revoke_request(stale, cause, None)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Done(_)), "{outcome:?}");
    let stored = env.store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(stored.status.as_str(), "revoked");
    assert_eq!(stored.revoke_attempts, 3, "the concurrent change is kept");
    assert_eq!(
        env.es_status(Method::GET, "/logs-2026.11/_search", &auth_of(&creds), None)
            .await,
        401
    );
}
