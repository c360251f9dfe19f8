//! The API's routes: what the functions serve = what OpenAPI documents = what API Gateway routes,
//! each to the function that serves it, all behind the JWT authorizer.

use std::collections::BTreeSet;

use crate::common::{
    binary_of, openapi, operations, reference, resolve, resources_of, served, served_routes,
    template,
};

#[test]
fn openapi_documents_exactly_the_routes_the_functions_serve() {
    let doc = openapi();
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let served = served_routes();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not in openapi.yaml: {undocumented:?}; in openapi.yaml but served by no function: {unserved:?}"
    );
}

#[test]
fn template_routes_each_route_to_the_function_that_serves_it() {
    let t = template();
    let mut routed = BTreeSet::new();
    let mut portal_routed = BTreeSet::new();
    for (id, function) in resources_of(&t, "AWS::Serverless::Function") {
        let name = binary_of(function);
        let Some(events) = function["Properties"]["Events"].as_object() else {
            continue;
        };
        for (event_id, event) in events {
            if event["Type"] != "HttpApi" {
                continue;
            }
            let p = &event["Properties"];
            if name == "portal" {
                // The portal's pages are fetched before anyone has a token: its routes, and
                // only its routes, opt out of the authorizer (checked below).
                portal_routed.insert((
                    p["Method"].as_str().expect("Method").to_uppercase(),
                    p["Path"].as_str().expect("Path").to_string(),
                ));
                assert_eq!(
                    p["Auth"],
                    serde_json::json!({ "Authorizer": "NONE" }),
                    "{id}.{event_id}: the portal's pages are served without the authorizer"
                );
                assert_eq!(p["ApiId"], reference("HttpApi"), "{id}.{event_id}");
                assert_eq!(p["PayloadFormatVersion"], "2.0", "{id}.{event_id}");
                continue;
            }
            assert_eq!(
                p["ApiId"],
                reference("HttpApi"),
                "{id}.{event_id}: every route belongs to the one HTTP API"
            );
            assert_eq!(
                p["PayloadFormatVersion"], "2.0",
                "{id}.{event_id}: the functions parse payload format 2.0"
            );
            let method = p["Method"].as_str().expect("Method").to_uppercase();
            let path = p["Path"].as_str().expect("Path").to_string();
            // Only the routes that verify their caller themselves (Slack's signature) go
            // without the JWT authorizer.
            let public = name == "provision"
                && provision::PUBLIC_ROUTES
                    .iter()
                    .any(|r| r.method == method && r.path == path);
            if public {
                assert_eq!(
                    p["Auth"],
                    serde_json::json!({"Authorizer": "NONE"}),
                    "{id}.{event_id}"
                );
            } else {
                assert!(
                    p.get("Auth").is_none(),
                    "{id}.{event_id}: no route may override the default JWT authorizer"
                );
            }
            assert!(
                routed.insert((name.to_string(), method.clone(), path.clone())),
                "{method} {path} is routed twice"
            );
        }
    }
    let expected: BTreeSet<(String, String, String)> = served()
        .into_iter()
        .map(|(f, m, p)| (f.to_string(), m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = expected.difference(&routed).collect();
    let extra: Vec<_> = routed.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "(function, method, path) served but not routed: {missing:?}; routed but not served there: {extra:?}"
    );
    let portal: BTreeSet<(String, String)> = portal::ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(portal_routed, portal, "the portal's routes");
    // No API path can be reached through the portal's greedy route.
    for (_, path) in crate::common::served_routes() {
        assert!(!path.starts_with("/portal"), "{path} is under /portal");
    }
}

#[test]
fn every_route_requires_a_jwt_from_the_configured_issuer() {
    let t = template();
    let api = &t["Resources"]["HttpApi"];
    assert_eq!(api["Type"], "AWS::Serverless::HttpApi");
    let auth = &api["Properties"]["Auth"];
    let default = auth["DefaultAuthorizer"]
        .as_str()
        .expect("a default authorizer covers every route");
    let jwt = &auth["Authorizers"][default];
    assert_eq!(jwt["IdentitySource"], "$request.header.Authorization");
    assert_eq!(jwt["JwtConfiguration"]["issuer"], reference("JwtIssuer"));
    assert_eq!(
        jwt["JwtConfiguration"]["audience"],
        reference("JwtAudience")
    );

    let doc = openapi();
    let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(
        (&scheme["type"], &scheme["scheme"], &scheme["bearerFormat"]),
        (&"http".into(), &"bearer".into(), &"JWT".into())
    );
    assert_eq!(doc["security"], serde_json::json!([{ "bearerAuth": [] }]));
    for (method, path, op) in operations(&doc) {
        if provision::PUBLIC_ROUTES
            .iter()
            .any(|r| r.method == method && r.path == path)
        {
            assert_eq!(op["security"], serde_json::json!([]), "{method} {path}");
            continue;
        }
        assert!(
            op.get("security").is_none(),
            "{method} {path} must not override the bearerAuth requirement"
        );
    }
}

#[test]
fn path_parameters_are_declared_for_every_template_segment() {
    let doc = openapi();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for (method, op) in item.as_object().expect("path item") {
            if !crate::common::HTTP_METHODS.contains(&method.as_str()) {
                continue;
            }
            let declared: BTreeSet<&str> = item["parameters"]
                .as_array()
                .into_iter()
                .chain(op["parameters"].as_array())
                .flatten()
                .map(|p| resolve(&doc, p))
                .filter(|p| p["in"] == "path")
                .map(|p| {
                    assert_eq!(
                        p["required"], true,
                        "{method} {path}: path parameters are required"
                    );
                    p["name"].as_str().expect("parameter name")
                })
                .collect();
            assert_eq!(declared, in_path, "{method} {path}: path parameters");
        }
    }
}

#[test]
fn operations_have_unique_ids_and_a_success_response() {
    let doc = openapi();
    let mut ids = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: operationId"));
        assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path}: no 2xx response"
        );
    }
}
