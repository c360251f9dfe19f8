//! The payload format 2.0 event API Gateway's HTTP API sends to a Lambda proxy integration
//! ("Create AWS Lambda proxy integrations for HTTP APIs", docs.aws.amazon.com/apigateway/latest/
//! developerguide/http-api-develop-integrations-lambda.html), and the response it reads back.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use serde_json::{Map, Value, json};

use crate::template::Route;

/// The request as it reached the gateway.
pub struct Incoming<'a> {
    pub method: &'a str,
    /// The path exactly as sent (still percent-encoded): the event's `rawPath`.
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub host: &'a str,
    pub request_id: &'a str,
}

/// A claim as the event's `claims` map carries it: API Gateway passes every claim as a string;
/// an array becomes its elements joined by spaces in brackets (`["a","b c"]` → `"[a b c]"`, so
/// group names with spaces cannot be told apart: the functions take groups from the token
/// itself), numbers and booleans their JSON text. Observed behaviour, recorded in
/// floci-io/floci#2011 (measured against API Gateway) and in elastic-jit's DESIGN.md.
pub fn flatten_claim(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(flatten_claim).collect();
            format!("[{}]", parts.join(" "))
        }
        other => other.to_string(),
    }
}

pub fn flatten_claims(claims: &Map<String, Value>) -> Map<String, Value> {
    claims
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(flatten_claim(v))))
        .collect()
}

/// Is a body of this content type passed as text? HTTP APIs infer the encoding from the request's
/// content type: text types pass through, anything else arrives base64-encoded with
/// `isBase64Encoded: true` (AWS Compute Blog, "Handling binary data using Amazon API Gateway
/// HTTP APIs"). A body without a content type counts as binary.
pub fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime.starts_with("text/")
        || mime == "application/json"
        || mime.ends_with("+json")
        || mime == "application/xml"
        || mime.ends_with("+xml")
        || mime == "application/javascript"
        || mime == "application/x-www-form-urlencoded"
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

/// Build the event for `route` with the authorizer's verified `claims`.
pub fn build(
    req: &Incoming<'_>,
    route: &Route,
    path_params: &BTreeMap<String, String>,
    claims: &Map<String, Value>,
) -> Value {
    // Format 2.0: lower-case header names; duplicates joined with commas; cookies apart.
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies: Vec<String> = Vec::new();
    for (name, value) in req.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == http::header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string),
            );
            continue;
        }
        headers
            .entry(name.as_str().to_ascii_lowercase())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    headers.insert("x-forwarded-for".into(), "127.0.0.1".into());
    headers.insert("x-forwarded-proto".into(), "http".into());
    let port = req.host.rsplit(':').next().unwrap_or("80").to_string();
    headers.insert("x-forwarded-port".into(), port);

    // Duplicate query parameters are joined with commas, values decoded.
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(req.raw_query.as_bytes()) {
        query
            .entry(k.into_owned())
            .and_modify(|x| {
                x.push(',');
                x.push_str(&v);
            })
            .or_insert_with(|| v.into_owned());
    }

    let now = chrono::Utc::now();
    let mut ev = json!({
        "version": "2.0",
        "routeKey": route.key(),
        "rawPath": req.raw_path,
        "rawQueryString": req.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "authorizer": {
                "jwt": {
                    "claims": flatten_claims(claims),
                    // Routes without authorization scopes get no scopes (DefinitelyTyped#75458
                    // records a real event: `"scopes": null` next to a `scope` claim).
                    "scopes": null
                }
            },
            "domainName": req.host,
            "domainPrefix": req.host.split(['.', ':']).next().unwrap_or(""),
            "http": {
                "method": req.method,
                "path": req.raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": req.headers.get(http::header::USER_AGENT)
                    .and_then(|v| v.to_str().ok()).unwrap_or("")
            },
            "requestId": req.request_id,
            "routeKey": route.key(),
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis()
        },
        "isBase64Encoded": false
    });
    if !cookies.is_empty() {
        ev["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        ev["queryStringParameters"] = json!(query);
    }
    if !path_params.is_empty() {
        let decoded: BTreeMap<&String, String> = path_params
            .iter()
            .map(|(k, v)| (k, percent_decode(v)))
            .collect();
        ev["pathParameters"] = json!(decoded);
    }
    if !req.body.is_empty() {
        let ct = req
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        match std::str::from_utf8(req.body) {
            Ok(text) if is_text(ct) => ev["body"] = json!(text),
            _ => {
                ev["body"] = json!(STANDARD.encode(req.body));
                ev["isBase64Encoded"] = json!(true);
            }
        }
    }
    ev
}

/// The HTTP response for a function's result. Format 2.0 accepts a full response object
/// (`statusCode`, `headers`, `cookies`, `body`, `isBase64Encoded`); a result without
/// `statusCode` is taken as a JSON body with status 200 (the documented inference).
pub struct Outgoing {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub fn read_response(result: &Value) -> Option<Outgoing> {
    let Some(status) = result.get("statusCode") else {
        return Some(Outgoing {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: result.to_string().into_bytes(),
        });
    };
    let status = u16::try_from(status.as_u64()?)
        .ok()
        .filter(|s| (100..600).contains(s))?;
    let mut headers = Vec::new();
    if let Some(h) = result.get("headers").and_then(Value::as_object) {
        for (k, v) in h {
            headers.push((
                k.clone(),
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string()),
            ));
        }
    }
    if let Some(h) = result.get("multiValueHeaders").and_then(Value::as_object) {
        for (k, vs) in h {
            for v in vs.as_array().into_iter().flatten() {
                headers.push((k.clone(), v.as_str().unwrap_or_default().to_string()));
            }
        }
    }
    for c in result
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        headers.push((
            "set-cookie".into(),
            c.as_str().unwrap_or_default().to_string(),
        ));
    }
    let body = match result.get("body").and_then(Value::as_str) {
        None => Vec::new(),
        Some(b) if result.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
            STANDARD.decode(b).ok()?
        }
        Some(b) => b.as_bytes().to_vec(),
    };
    Some(Outgoing {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_flatten_as_api_gateway_does() {
        assert_eq!(
            flatten_claim(&json!(["jit-admins", "platform"])),
            "[jit-admins platform]"
        );
        // One group with a space: indistinguishable from two once flattened.
        assert_eq!(
            flatten_claim(&json!(["developers jit-admins"])),
            "[developers jit-admins]"
        );
        assert_eq!(flatten_claim(&json!(true)), "true");
        assert_eq!(flatten_claim(&json!(1700000000)), "1700000000");
        assert_eq!(flatten_claim(&json!("s")), "s");
        assert_eq!(flatten_claim(&json!([])), "[]");
    }

    #[test]
    fn text_and_binary_bodies() {
        assert!(is_text(Some("application/json; charset=utf-8")));
        assert!(is_text(Some("text/plain")));
        assert!(!is_text(Some("application/octet-stream")));
        assert!(!is_text(None));
    }

    #[test]
    fn the_event_has_the_v2_shape() {
        let mut h = HeaderMap::new();
        h.insert("content-type", "application/json".parse().unwrap());
        h.append("x-dup", "a".parse().unwrap());
        h.append("x-dup", "b".parse().unwrap());
        h.insert("cookie", "a=1; b=2".parse().unwrap());
        h.insert("authorization", "Bearer abc".parse().unwrap());
        let req = Incoming {
            method: "GET",
            raw_path: "/requests/r%201",
            raw_query: "limit=5&x=1&x=2",
            headers: &h,
            body: b"{\"a\":1}",
            host: "127.0.0.1:4000",
            request_id: "rid",
        };
        let route = Route {
            method: "GET".into(),
            path: "/requests/{id}".into(),
            function: "provision".into(),
            payload_format: "2.0".into(),
            public: false,
        };
        let params = BTreeMap::from([("id".to_string(), "r%201".to_string())]);
        let claims = json!({"sub": "s", "groups": ["a b", "c"], "email_verified": true});
        let ev = build(&req, &route, &params, claims.as_object().unwrap());
        assert_eq!(ev["routeKey"], "GET /requests/{id}");
        assert_eq!(ev["rawPath"], "/requests/r%201");
        assert_eq!(ev["pathParameters"]["id"], "r 1");
        assert_eq!(ev["queryStringParameters"]["x"], "1,2");
        assert_eq!(ev["headers"]["x-dup"], "a,b");
        assert_eq!(ev["headers"]["authorization"], "Bearer abc");
        assert!(ev["headers"].get("cookie").is_none());
        assert_eq!(ev["cookies"], json!(["a=1", "b=2"]));
        let c = &ev["requestContext"]["authorizer"]["jwt"]["claims"];
        assert_eq!(c["groups"], "[a b c]");
        assert_eq!(c["email_verified"], "true");
        assert_eq!(
            ev["requestContext"]["authorizer"]["jwt"]["scopes"],
            Value::Null
        );
        assert_eq!(ev["body"], "{\"a\":1}");
        assert_eq!(ev["isBase64Encoded"], false);
        // The functions' own event type reads it.
        let parsed: aws_lambda_events::apigw::ApiGatewayV2httpRequest =
            serde_json::from_value(ev).expect("a v2 event");
        assert_eq!(parsed.route_key.as_deref(), Some("GET /requests/{id}"));
    }

    #[test]
    fn binary_bodies_are_base64() {
        let mut h = HeaderMap::new();
        h.insert("content-type", "application/octet-stream".parse().unwrap());
        let req = Incoming {
            method: "POST",
            raw_path: "/requests",
            raw_query: "",
            headers: &h,
            body: &[0xff, 0x00],
            host: "127.0.0.1:1",
            request_id: "r",
        };
        let route = Route {
            method: "POST".into(),
            path: "/requests".into(),
            function: "provision".into(),
            payload_format: "2.0".into(),
            public: false,
        };
        let ev = build(&req, &route, &BTreeMap::new(), &Map::new());
        assert_eq!(ev["isBase64Encoded"], true);
        assert_eq!(ev["body"], "/wA=");
    }
}
