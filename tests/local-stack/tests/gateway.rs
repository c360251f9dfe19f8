//! The local HTTP API with its JWT authorizer, in front of a recording invoker: what API Gateway
//! refuses, the event it builds (routes from infra/template.yaml), and how it maps responses.

use std::sync::{Arc, Mutex};

use local_stack::gateway::{Gateway, JwtAuthorizer, RunningGateway};
use local_stack::idp::client::IdpClient;
use local_stack::idp::identities::DEV;
use local_stack::idp::{AUDIENCE, IdpConfig, RunningIdp, SigningKey};
use local_stack::invoke::{InvokeError, Invoker};
use local_stack::stack::workspace_root;
use local_stack::template::Template;
use serde_json::{Value, json};

/// Records every invocation and answers with a canned response (or fails).
struct Recorder {
    calls: Mutex<Vec<(String, Value)>>,
    answer: Mutex<Result<Value, String>>,
}

#[async_trait::async_trait]
impl Invoker for Recorder {
    async fn invoke(&self, function: &str, event: &Value) -> Result<Value, InvokeError> {
        self.calls
            .lock()
            .unwrap()
            .push((function.to_string(), event.clone()));
        self.answer
            .lock()
            .unwrap()
            .clone()
            .map_err(|body| InvokeError::Function {
                function: function.into(),
                status: 200,
                body,
            })
    }
}

struct Setup {
    idp: RunningIdp,
    gw: RunningGateway,
    rec: Arc<Recorder>,
    http: reqwest::Client,
}

async fn setup() -> Setup {
    let idp = RunningIdp::start(IdpConfig::default()).await.expect("idp");
    let template = Template::load(&workspace_root().join("infra/template.yaml")).expect("template");
    let rec = Arc::new(Recorder {
        calls: Mutex::new(Vec::new()),
        answer: Mutex::new(Ok(json!({
            "statusCode": 201,
            "headers": {"content-type": "application/json", "x-custom": "1"},
            "body": "{\"ok\":true}",
            "isBase64Encoded": false
        }))),
    });
    let authz = JwtAuthorizer::discover(idp.issuer(), vec![AUDIENCE.into()])
        .await
        .expect("authorizer");
    let gw = RunningGateway::start(Gateway::new(
        template.routes,
        template.cors,
        authz,
        rec.clone() as Arc<dyn Invoker>,
    ))
    .await
    .expect("gateway");
    Setup {
        idp,
        gw,
        rec,
        http: reqwest::Client::new(),
    }
}

async fn get(s: &Setup, path: &str, token: Option<&str>) -> (u16, String, Value) {
    let mut r = s.http.get(format!("{}{path}", s.gw.url));
    if let Some(t) = token {
        r = r.header("Authorization", t);
    }
    let r = r.send().await.expect("gateway reachable");
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, challenge, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn bad_tokens_get_api_gateways_401_and_never_reach_a_function() {
    let s = setup().await;
    let idp = &s.idp.idp;
    let unauthorized = json!({"message": "Unauthorized"});
    let bearer = |t: &str| format!("Bearer {t}");

    let (st, ch, body) = get(&s, "/requests", None).await;
    assert_eq!((st, ch.as_str(), &body), (401, "Bearer", &unauthorized));
    let (st, _, _) = get(&s, "/requests", Some("Bearer ")).await;
    assert_eq!(st, 401);

    let now = chrono::Utc::now().timestamp();
    let mut expired = idp.claims_for(DEV, "access", None);
    (expired.iat, expired.nbf, expired.exp) = (now - 1200, now - 1200, now - 1);
    let mut wrong_aud = idp.claims_for(DEV, "access", None);
    wrong_aud.aud = "another-api".into();
    let mut wrong_iss = idp.claims_for(DEV, "access", None);
    wrong_iss.iss = "http://127.0.0.1:1".into();
    let mut future = idp.claims_for(DEV, "access", None);
    future.nbf = now + 600;
    let mut foreign = SigningKey::generate().expect("key");
    foreign.kid = idp.key.kid.clone();
    let other_kid = SigningKey::generate().expect("key");
    let valid = idp.claims_for(DEV, "access", None);
    // An unsigned token (`alg: none`) with valid claims.
    let unsigned = {
        use base64::Engine;
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "kid": idp.key.kid})),
            b64(&serde_json::to_value(&valid).unwrap())
        )
    };
    let cases = [
        (idp.sign(&expired).unwrap(), "the token has expired"),
        (
            idp.sign(&wrong_aud).unwrap(),
            "the token does not have a valid audience",
        ),
        (
            idp.sign(&wrong_iss).unwrap(),
            "the token does not have a valid issuer",
        ),
        (idp.sign(&future).unwrap(), "the token is not valid yet"),
        (
            foreign.sign(&valid).unwrap(),
            "the token signature is invalid",
        ),
        (
            other_kid.sign(&valid).unwrap(),
            "the token's kid is not in the issuer's JWKS",
        ),
        (unsigned, "the token"),
        ("not.a.jwt".to_string(), "the token is malformed"),
    ];
    for (token, reason) in cases {
        let (st, ch, body) = get(&s, "/requests", Some(&bearer(&token))).await;
        assert_eq!(st, 401, "{reason}");
        assert_eq!(body, unauthorized, "{reason}");
        assert!(
            ch.starts_with("Bearer scope=\"\" error=\"invalid_token\" error_description=\"")
                && ch.contains(reason),
            "{reason}: {ch}"
        );
    }
    assert!(
        s.rec.calls.lock().unwrap().is_empty(),
        "no function was invoked"
    );

    // The same claims signed by the provider pass.
    let (st, _, _) = get(&s, "/requests", Some(&bearer(&idp.sign(&valid).unwrap()))).await;
    assert_eq!(st, 201);
}

#[tokio::test]
async fn routes_come_from_the_template_and_unknown_ones_are_404() {
    let s = setup().await;
    let token = format!(
        "Bearer {}",
        IdpClient::new(s.idp.issuer())
            .unwrap()
            .login("dev")
            .await
            .unwrap()
            .access_token
    );
    for path in [
        "/nowhere",
        "/requests/",
        "/requests/a/b/c",
        "/integrations/x/secret",
    ] {
        let (st, _, body) = get(&s, path, Some(&token)).await;
        assert_eq!((st, body), (404, json!({"message": "Not Found"})), "{path}");
    }
    // No route for the method either (the template configures no CORS, so OPTIONS too).
    let r = s
        .http
        .delete(format!("{}/requests/abc", s.gw.url))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = s
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/requests", s.gw.url))
        .header("Origin", "http://127.0.0.1:3000")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert!(s.rec.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_event_is_api_gateways_v2_event_with_flattened_claims_and_the_token() {
    let s = setup().await;
    let client = IdpClient::new(s.idp.issuer()).unwrap();
    let carol = client.login("carol").await.unwrap().access_token;
    let auth = format!("Bearer {carol}");
    let r = s
        .http
        .post(format!("{}/requests/r%2D1/approve?x=1&x=2", s.gw.url))
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .header("Cookie", "a=1; b=2")
        .body("{\"reason\":\"ok\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-custom"], "1");
    assert!(r.headers().get("apigw-requestid").is_some());
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"ok": true}));

    let calls = s.rec.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let (function, ev) = &calls[0];
    assert_eq!(function, "provision");
    assert_eq!(ev["version"], "2.0");
    assert_eq!(ev["routeKey"], "POST /requests/{id}/approve");
    assert_eq!(
        ev["requestContext"]["routeKey"],
        "POST /requests/{id}/approve"
    );
    assert_eq!(ev["rawPath"], "/requests/r%2D1/approve");
    assert_eq!(ev["rawQueryString"], "x=1&x=2");
    assert_eq!(ev["queryStringParameters"]["x"], "1,2");
    assert_eq!(ev["pathParameters"]["id"], "r-1");
    assert_eq!(ev["requestContext"]["http"]["method"], "POST");
    assert_eq!(ev["requestContext"]["stage"], "$default");
    assert_eq!(ev["body"], "{\"reason\":\"ok\"}");
    assert_eq!(ev["isBase64Encoded"], false);
    assert_eq!(ev["cookies"], json!(["a=1", "b=2"]));
    // The token passes through unchanged; the claims map is API Gateway's flattened form.
    assert_eq!(ev["headers"]["authorization"], auth.as_str());
    let claims = &ev["requestContext"]["authorizer"]["jwt"]["claims"];
    assert_eq!(claims["sub"], "2d3e4f5a-carol");
    assert_eq!(claims["groups"], "[developers jit-admins]");
    assert_eq!(claims["email_verified"], "true");
    assert!(claims["exp"].as_str().unwrap().parse::<i64>().is_ok());
    assert!(claims.as_object().unwrap().values().all(Value::is_string));
    assert_eq!(
        ev["requestContext"]["authorizer"]["jwt"]["scopes"],
        Value::Null
    );
    // The functions' event type reads it.
    let parsed: aws_lambda_events::apigw::ApiGatewayV2httpRequest =
        serde_json::from_value(ev.clone()).expect("a v2 event");
    assert_eq!(parsed.raw_path.as_deref(), Some("/requests/r%2D1/approve"));
}

#[tokio::test]
async fn a_failing_function_is_a_500_without_details() {
    let s = setup().await;
    *s.rec.answer.lock().unwrap() =
        Err("{\"errorType\":\"Panic\",\"errorMessage\":\"secret internals\"}".into());
    let token = IdpClient::new(s.idp.issuer())
        .unwrap()
        .login("admin")
        .await
        .unwrap()
        .access_token;
    let r = s
        .http
        .get(format!("{}/integrations", s.gw.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"message": "Internal Server Error"})
    );
    assert_eq!(s.rec.calls.lock().unwrap()[0].0, "discover");

    // A result without statusCode is a 200 JSON body (format 2.0's inference).
    *s.rec.answer.lock().unwrap() = Ok(json!({"inferred": true}));
    let r = s
        .http
        .get(format!("{}/integrations", s.gw.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"inferred": true}));
}

#[tokio::test]
async fn cors_follows_the_templates_configuration() {
    let idp = RunningIdp::start(IdpConfig::default()).await.expect("idp");
    let template = Template::parse(
        r#"
Resources:
  HttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: ["http://127.0.0.1:3000"]
        AllowMethods: [GET, POST]
        AllowHeaders: [authorization, content-type]
        MaxAge: 600
  ProvisionFunction:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: provision } }
    Properties:
      Events:
        ListRequests: { Type: HttpApi, Properties: { Method: GET, Path: /requests } }
"#,
    )
    .expect("template");
    let rec = Arc::new(Recorder {
        calls: Mutex::new(Vec::new()),
        answer: Mutex::new(Ok(json!({"statusCode": 200, "body": "{}"}))),
    });
    let authz = JwtAuthorizer::discover(idp.issuer(), vec![AUDIENCE.into()])
        .await
        .unwrap();
    let gw = RunningGateway::start(Gateway::new(
        template.routes,
        template.cors,
        authz,
        rec.clone() as Arc<dyn Invoker>,
    ))
    .await
    .unwrap();
    let http = reqwest::Client::new();
    // A preflight is answered by the gateway, without a token, for an allowed origin.
    let r = http
        .request(reqwest::Method::OPTIONS, format!("{}/requests", gw.url))
        .header("Origin", "http://127.0.0.1:3000")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "http://127.0.0.1:3000");
    assert_eq!(h["access-control-allow-methods"], "GET,POST");
    assert_eq!(
        h["access-control-allow-headers"],
        "authorization,content-type"
    );
    assert_eq!(h["access-control-max-age"], "600");
    // Another origin gets no CORS headers.
    let r = http
        .request(reqwest::Method::OPTIONS, format!("{}/requests", gw.url))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // A real request from the allowed origin carries the header, also on a 401.
    let r = http
        .get(format!("{}/requests", gw.url))
        .header("Origin", "http://127.0.0.1:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://127.0.0.1:3000"
    );
    assert!(rec.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_portal_pages_need_no_token_and_the_api_still_does() {
    let s = setup().await;
    *s.rec.answer.lock().unwrap() = Ok(json!({
        "statusCode": 200,
        "headers": {"content-type": "text/html"},
        "body": "<!doctype html>",
        "isBase64Encoded": false
    }));
    for path in ["/portal", "/portal/js/app.js", "/portal/vendor/x/y.js"] {
        let r = s
            .http
            .get(format!("{}{path}", s.gw.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
    let calls = s.rec.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 3);
    for (function, ev) in &calls {
        assert_eq!(function, "portal");
        // No authorizer ran: the event carries no identity at all.
        assert!(ev["requestContext"].get("authorizer").is_none(), "{ev}");
    }
    assert_eq!(calls[1].1["routeKey"], "GET /portal/{proxy+}");
    assert_eq!(calls[1].1["pathParameters"]["proxy"], "js/app.js");
    // A token-less caller gets the pages only: the API, a POST to the portal, and paths beside
    // it stay behind the authorizer or unrouted.
    let (st, _, _) = get(&s, "/requests", None).await;
    assert_eq!(st, 401);
    for (method, path, want) in [
        ("POST", "/portal", 404),
        ("GET", "/portal/", 404),
        ("GET", "/portalx", 404),
    ] {
        let r = s
            .http
            .request(method.parse().unwrap(), format!("{}{path}", s.gw.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "{method} {path}");
    }
    assert_eq!(s.rec.calls.lock().unwrap().len(), 3);
}
