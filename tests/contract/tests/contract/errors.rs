//! Error bodies: what `shared::api::ApiError` produces validates against the documented Error
//! schema, and every operation documents the 4xx statuses its handler can return.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use shared::api::{ApiError, Route, match_route};
use shared::store::StoreError;
use shared::validation::ValidationErrors;

use crate::common::{openapi, operations, resolve, served_routes};

/// A structural check of `value` against the subset of JSON Schema the document uses for bodies:
/// `$ref`, `type`, `required`, `properties`, `additionalProperties: false`, `items`, `enum`,
/// `oneOf`, `allOf`.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            check(doc, s, value, at)?;
        }
    }
    if let Some(any) = schema["oneOf"].as_array() {
        let fits = any
            .iter()
            .filter(|s| check(doc, s, value, at).is_ok())
            .count();
        if fits != 1 {
            return Err(format!("{at}: matches {fits} of the oneOf alternatives"));
        }
    }
    if value.is_null() && schema["nullable"] == true {
        return Ok(());
    }
    if let Some(t) = schema["type"].as_str() {
        let ok = match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => false,
        };
        if !ok {
            return Err(format!("{at}: expected {t}, got {value}"));
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Some(obj) = value.as_object() {
        for r in schema["required"].as_array().into_iter().flatten() {
            let r = r.as_str().unwrap_or_default();
            if !obj.contains_key(r) {
                return Err(format!("{at}: missing required {r}"));
            }
        }
        let props = schema["properties"].as_object();
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => check(doc, s, v, &format!("{at}.{k}"))?,
                None if schema["additionalProperties"] == false => {
                    return Err(format!("{at}: property {k} is not allowed"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (i, v) in list.iter().enumerate() {
            check(doc, items, v, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn error_schema() -> Value {
    json!({ "$ref": "#/components/schemas/Error" })
}

/// Error bodies the functions really produce, from the constructors and conversions they use.
fn sample_errors() -> Vec<ApiError> {
    let mut validation = ValidationErrors::default();
    validation.push("invalid_name", "name", "name must be 1 to 64 characters");
    validation.push("invalid_url", "url", "url must use http or https");
    let routes = [Route {
        method: "GET",
        path: "/requests",
    }];
    let segments = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    vec![
        ApiError::new(404, "not_found", "integration \"prod\" does not exist"),
        ApiError::not_found("request", "r-1"),
        ApiError::forbidden("only administrators may change integrations"),
        ApiError::bad_request("invalid_duration", "duration must be at least 1m"),
        ApiError::from(validation),
        ApiError::new(409, "integration_in_use", "delete the flows first")
            .with_details(json!({ "flows": ["logs"] })),
        ApiError::from(StoreError::Conflict {
            entity: "request",
            id: "r-1".into(),
        }),
        ApiError::from(StoreError::InvalidCursor),
        ApiError::from(StoreError::Backend {
            op: "Query",
            code: "ThrottlingException".into(),
            transient: true,
        }),
        ApiError::internal("test", &"a cause that must not reach the caller"),
        match_route(&routes, "DELETE", &segments("/requests")).unwrap_err(),
        match_route(&routes, "GET", &segments("/nowhere")).unwrap_err(),
    ]
}

#[test]
fn error_bodies_validate_against_the_error_schema() {
    let doc = openapi();
    for e in sample_errors() {
        let body = e.body();
        check(&doc, &error_schema(), &body, "body")
            .unwrap_or_else(|m| panic!("{e}: {body} does not fit the Error schema: {m}"));
        let code = body["error"]["code"].as_str().expect("code");
        assert!(
            code.starts_with(|c: char| c.is_ascii_lowercase())
                && code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{code} fits the documented code pattern"
        );
    }
    let validation = ApiError::from({
        let mut v = ValidationErrors::default();
        v.push("invalid_name", "name", "bad");
        v
    })
    .body();
    check(
        &doc,
        &json!({ "type": "array", "items": { "$ref": "#/components/schemas/FieldError" } }),
        &validation["error"]["details"],
        "details",
    )
    .unwrap_or_else(|m| panic!("validation details do not fit FieldError: {m}"));
    assert!(
        !ApiError::internal("x", &"secret cause")
            .body()
            .to_string()
            .contains("secret cause"),
        "internal errors never carry their cause"
    );
}

#[test]
fn the_error_schema_rejects_other_shapes() {
    let doc = openapi();
    for bad in [
        json!({ "message": "Unauthorized" }),
        json!({ "error": { "code": "x" } }),
        json!({ "error": { "code": "x", "message": "m", "stack": "..." } }),
        json!({ "error": "not_found" }),
    ] {
        assert!(
            check(&doc, &error_schema(), &bad, "body").is_err(),
            "{bad} was accepted"
        );
    }
}

/// The 4xx statuses each handler can return (read from the handlers and `shared::policy`), that
/// the document must declare at least. 401 comes from the authorizer or a token without `sub`.
fn minimum_client_errors() -> BTreeMap<(&'static str, &'static str), &'static [u16]> {
    BTreeMap::from([
        (("GET", "/integrations"), &[401][..]),
        (
            ("PUT", "/integrations/{name}"),
            &[400, 401, 403, 409, 413][..],
        ),
        (("GET", "/integrations/{name}"), &[400, 401, 404][..]),
        (
            ("DELETE", "/integrations/{name}"),
            &[400, 401, 403, 404, 409][..],
        ),
        (
            ("POST", "/integrations/{name}/discover"),
            &[400, 401, 403, 404][..],
        ),
        (
            ("GET", "/integrations/{name}/resources"),
            &[400, 401, 404][..],
        ),
        (
            ("GET", "/integrations/{name}/api-keys/report"),
            &[400, 401, 403, 404, 409][..],
        ),
        (
            ("GET", "/integrations/{name}/kibana-spaces"),
            &[400, 401, 403, 404, 409][..],
        ),
        (
            ("POST", "/integrations/{name}/rotate"),
            &[400, 401, 403, 404, 409][..],
        ),
        (("GET", "/flows"), &[401][..]),
        (("PUT", "/flows/{name}"), &[400, 401, 403, 409, 413][..]),
        (("GET", "/flows/{name}"), &[400, 401, 404][..]),
        (("DELETE", "/flows/{name}"), &[400, 401, 403, 404, 409][..]),
        (("POST", "/requests"), &[400, 401, 403, 409, 413, 429][..]),
        (("GET", "/requests"), &[400, 401][..]),
        (("GET", "/requests/{id}"), &[401, 404][..]),
        (
            ("POST", "/requests/{id}/approve"),
            &[400, 401, 403, 404, 409][..],
        ),
        (
            ("POST", "/requests/{id}/reject"),
            &[400, 401, 403, 404, 409][..],
        ),
        (
            ("POST", "/requests/{id}/cancel"),
            &[400, 401, 403, 404, 409][..],
        ),
        (
            ("GET", "/requests/{id}/credentials"),
            &[400, 401, 403, 404, 409][..],
        ),
        (
            ("POST", "/requests/{id}/revoke"),
            &[400, 401, 403, 404, 409][..],
        ),
        (("GET", "/failed-revocations"), &[400, 401, 403][..]),
        (("GET", "/audit"), &[400, 401, 403][..]),
        (
            ("POST", "/requests/preview"),
            &[400, 401, 403, 409, 413][..],
        ),
        (
            ("POST", "/requests/{id}/review"),
            &[400, 401, 403, 404, 409, 413][..],
        ),
        (("GET", "/reviews"), &[400, 401][..]),
        (
            ("POST", "/requests/{id}/extend"),
            &[400, 401, 403, 404, 409, 413, 429][..],
        ),
        // 401: a missing, wrong or stale Slack signature (no JWT on this route).
        (("POST", "/slack/interactions"), &[400, 401, 404][..]),
    ])
}

#[test]
fn every_operation_declares_the_client_errors_its_handler_returns() {
    let doc = openapi();
    let minimum = minimum_client_errors();
    let covered: BTreeSet<(String, String)> = minimum
        .keys()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        covered,
        served_routes(),
        "the table above covers every served route"
    );
    for (method, path, op) in operations(&doc) {
        let declared: BTreeSet<u16> = op["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .filter_map(|s| s.parse().ok())
            .collect();
        for status in minimum[&(method.as_str(), path.as_str())] {
            assert!(
                declared.contains(status),
                "{method} {path} does not declare {status}"
            );
        }
        for status in [500, 503] {
            assert!(
                declared.contains(&status),
                "{method} {path} does not declare {status}"
            );
        }
    }
}

#[test]
fn every_error_response_uses_the_error_schema() {
    let doc = openapi();
    let error = error_schema();
    for (method, path, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().expect("responses") {
            if !(status.starts_with('4') || status.starts_with('5')) {
                continue;
            }
            let schema = &resolve(&doc, response)["content"]["application/json"]["schema"];
            let uses_error = *schema == error
                || schema["oneOf"]
                    .as_array()
                    .is_some_and(|alternatives| alternatives.contains(&error));
            assert!(
                uses_error,
                "{method} {path} {status}: the body is the Error schema"
            );
        }
    }
}
