//! The development identity provider over HTTP: PKCE, code reuse, device flow, refresh, and
//! tokens the gateway's authorizer accepts.

use std::time::Duration;

use local_stack::gateway::JwtAuthorizer;
use local_stack::idp::client::{IdpClient, REDIRECT_URI};
use local_stack::idp::{AUDIENCE, CLIENT_ID, IdpConfig, RunningIdp};
use serde_json::Value;

async fn idp() -> (RunningIdp, IdpClient) {
    let cfg = IdpConfig {
        access_token_ttl: Duration::from_secs(120),
        device_interval: Duration::from_secs(1),
        ..IdpConfig::default()
    };
    let idp = RunningIdp::start(cfg).await.expect("idp");
    let client = IdpClient::new(idp.issuer()).expect("client");
    (idp, client)
}

fn refused(e: &local_stack::idp::client::ClientError) -> &str {
    e.oauth_error().unwrap_or("not refused")
}

#[tokio::test]
async fn the_discovery_document_and_jwks_describe_the_provider() {
    let (idp, _) = idp().await;
    let doc: Value = reqwest::get(format!("{}/.well-known/openid-configuration", idp.issuer()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], idp.issuer());
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert!(doc["device_authorization_endpoint"].is_string());
    let jwks: Value = reqwest::get(doc["jwks_uri"].as_str().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["kid"], idp.idp.key.kid.as_str());
    // Public material only.
    assert!(key.get("d").is_none() && key.get("p").is_none());
}

#[tokio::test]
async fn a_pkce_login_gives_tokens_the_authorizer_accepts_with_exact_claims() {
    let (idp, client) = idp().await;
    let t = client.login("carol").await.expect("login");
    assert_eq!(t.token_type, "Bearer");
    assert_eq!(t.expires_in, 120);
    let authz = JwtAuthorizer::discover(idp.issuer(), vec![AUDIENCE.into()])
        .await
        .expect("authorizer");
    let claims = authz
        .authorize(Some(&format!("Bearer {}", t.access_token)))
        .await
        .expect("valid");
    assert_eq!(claims["sub"], "2d3e4f5a-carol");
    // One group whose name has a space: an array of one, exactly as issued.
    assert_eq!(
        claims["groups"],
        serde_json::json!(["developers jit-admins"])
    );
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["iss"], idp.issuer());
    let eve = client.login("eve").await.expect("login");
    let claims = authz
        .authorize(Some(&eve.access_token))
        .await
        .expect("valid without the Bearer prefix too");
    assert_eq!(claims["email_verified"], false);
    // The ID token is signed by the same key.
    authz.authorize(Some(&t.id_token)).await.expect("id token");
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused_and_spends_the_code() {
    let (_idp, client) = idp().await;
    let a = client.authorize("dev").await.expect("code");
    // Change the last character to one it is not (a fixed "x" equals it one time in 66).
    let (head, last) = a.verifier.split_at(a.verifier.len() - 1);
    let other = format!("{head}{}", if last == "x" { "y" } else { "x" });
    assert_ne!(other, a.verifier);
    let e = client
        .exchange(&a.code, &other)
        .await
        .expect_err("mismatch");
    assert_eq!(refused(&e), "invalid_grant", "{e}");
    assert!(
        e.to_string().contains("code_verifier does not match"),
        "{e}"
    );
    // The right verifier afterwards does not help: the code is spent.
    let e = client
        .exchange(&a.code, &a.verifier)
        .await
        .expect_err("spent");
    assert_eq!(refused(&e), "invalid_grant", "{e}");
    // A verifier outside RFC 7636's grammar is refused as such.
    let b = client.authorize("dev").await.expect("code");
    let e = client
        .exchange(&b.code, "short")
        .await
        .expect_err("grammar");
    assert!(e.to_string().contains("43 to 128"), "{e}");
}

#[tokio::test]
async fn a_reused_code_is_refused_and_revokes_what_it_issued() {
    let (_idp, client) = idp().await;
    let a = client.authorize("dev").await.expect("code");
    let first = client.exchange(&a.code, &a.verifier).await.expect("first");
    let e = client
        .exchange(&a.code, &a.verifier)
        .await
        .expect_err("reuse");
    assert_eq!(refused(&e), "invalid_grant", "{e}");
    assert!(e.to_string().contains("already used"), "{e}");
    let e = client
        .refresh(&first.refresh_token)
        .await
        .expect_err("revoked");
    assert_eq!(refused(&e), "invalid_grant", "{e}");
}

#[tokio::test]
async fn login_requests_without_s256_pkce_or_with_a_foreign_redirect_are_refused() {
    let (idp, _) = idp().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let base = |redirect: &str, method: &str| {
        vec![
            ("client_id", CLIENT_ID.to_string()),
            ("redirect_uri", redirect.to_string()),
            ("response_type", "code".to_string()),
            ("code_challenge", challenge.to_string()),
            ("code_challenge_method", method.to_string()),
            ("identity", "admin".to_string()),
        ]
    };
    for (params, why) in [
        (base(REDIRECT_URI, "plain"), "plain"),
        (base(REDIRECT_URI, ""), "S256"),
        (base("https://attacker.example/cb", "S256"), "loopback"),
        (
            base("http://127.0.0.1.attacker.example/cb", "S256"),
            "loopback",
        ),
    ] {
        for post in [false, true] {
            let url = format!("{}/authorize", idp.issuer());
            let r = if post {
                http.post(&url).form(&params).send().await.unwrap()
            } else {
                http.get(&url).query(&params).send().await.unwrap()
            };
            assert_eq!(r.status(), 400, "{params:?}");
            assert!(r.headers().get("location").is_none());
            let text = r.text().await.unwrap();
            assert!(text.contains(why), "{text}");
        }
    }
    // Injected markup in a forwarded parameter is escaped on the login page.
    let mut p = base(REDIRECT_URI, "S256");
    p.push(("state", "\"><script>alert(1)</script>".into()));
    let text = http
        .get(format!("{}/authorize", idp.issuer()))
        .query(&p)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("<script>alert"), "{text}");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_used_one_is_refused() {
    let (idp, client) = idp().await;
    let t = client.login("alice").await.expect("login");
    let r = client.refresh(&t.refresh_token).await.expect("refresh");
    assert_ne!(r.refresh_token, t.refresh_token);
    assert_ne!(r.access_token, t.access_token);
    let authz = JwtAuthorizer::discover(idp.issuer(), vec![AUDIENCE.into()])
        .await
        .unwrap();
    let claims = authz.authorize(Some(&r.access_token)).await.expect("valid");
    assert_eq!(claims["sub"], "1b2c3d4e-alice");
    let e = client.refresh(&t.refresh_token).await.expect_err("used");
    assert_eq!(refused(&e), "invalid_grant", "{e}");
    client
        .refresh(&r.refresh_token)
        .await
        .expect("the new one works");
    let e = client.refresh("made-up").await.expect_err("unknown");
    assert_eq!(refused(&e), "invalid_grant", "{e}");
}

#[tokio::test]
async fn the_device_flow_polls_pending_slows_down_then_issues_once() {
    let (idp, client) = idp().await;
    let start = client.device_start().await.expect("device authorization");
    let device_code = start["device_code"].as_str().unwrap().to_string();
    let user_code = start["user_code"].as_str().unwrap().to_string();
    assert_eq!(start["interval"], 1);
    assert_eq!(
        start["verification_uri"].as_str().unwrap(),
        format!("{}/device", idp.issuer())
    );
    let e = client.device_poll(&device_code).await.expect_err("pending");
    assert_eq!(refused(&e), "authorization_pending", "{e}");
    let e = client
        .device_poll(&device_code)
        .await
        .expect_err("too fast");
    assert_eq!(refused(&e), "slow_down", "{e}");
    // A wrong code is refused on the page; the right one (any case, no dash) approves.
    assert!(
        client
            .device_decide("BBBB-BBBB", Some("dev"))
            .await
            .is_err()
    );
    client
        .device_decide(&user_code.replace('-', "").to_lowercase(), Some("dev"))
        .await
        .expect("approve");
    assert!(
        client
            .device_decide(&user_code, Some("admin"))
            .await
            .is_err(),
        "approved once only"
    );
    // slow_down raised the interval from 1 s to 6 s.
    tokio::time::sleep(Duration::from_millis(6100)).await;
    let t = client.device_poll(&device_code).await.expect("tokens");
    let authz = JwtAuthorizer::discover(idp.issuer(), vec![AUDIENCE.into()])
        .await
        .unwrap();
    let claims = authz.authorize(Some(&t.access_token)).await.expect("valid");
    assert_eq!(claims["sub"], "8a7b6c5d-dev");
    let e = client.device_poll(&device_code).await.expect_err("spent");
    assert_eq!(refused(&e), "invalid_grant", "{e}");
}

#[tokio::test]
async fn a_denied_device_gets_access_denied() {
    let (_idp, client) = idp().await;
    let start = client.device_start().await.expect("device authorization");
    let device_code = start["device_code"].as_str().unwrap();
    client
        .device_decide(start["user_code"].as_str().unwrap(), None)
        .await
        .expect("deny");
    let e = client.device_poll(device_code).await.expect_err("denied");
    assert_eq!(refused(&e), "access_denied", "{e}");
}

/// The portal (a browser page on the gateway's loopback origin) reads discovery and posts to the
/// token endpoint cross-origin; nothing else is opened to other origins.
#[tokio::test]
async fn browser_clients_on_loopback_origins_may_read_discovery_and_tokens_and_no_one_else() {
    let (idp, _) = idp().await;
    let http = reqwest::Client::new();
    let acao = |r: &reqwest::Response| {
        r.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_string())
    };
    let portal = "http://127.0.0.1:4321";
    let discovery = format!("{}/.well-known/openid-configuration", idp.issuer());
    let r = http
        .get(&discovery)
        .header("origin", portal)
        .send()
        .await
        .unwrap();
    assert_eq!(acao(&r).as_deref(), Some(portal));
    // A token request from the page: refused (no such code) but readable by it.
    let r = http
        .post(format!("{}/token", idp.issuer()))
        .header("origin", portal)
        .form(&[("grant_type", "authorization_code"), ("code", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(acao(&r).as_deref(), Some(portal));
    assert_eq!(r.status().as_u16(), 400);
    // Another site's page, or the login page, gets no CORS answer.
    for (origin, path) in [
        ("https://evil.example", "/.well-known/openid-configuration"),
        ("http://127.0.0.1.evil.example", "/token"),
        ("null", "/jwks.json"),
        (portal, "/login"),
        (portal, "/authorize"),
    ] {
        let r = http
            .get(format!("{}{path}", idp.issuer()))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(acao(&r), None, "{origin} {path}");
    }
}
