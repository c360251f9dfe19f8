//! Loading the two documents, with CloudFormation's short-form tags (`!Ref`, `!Sub`, …) turned
//! into their JSON form (`{"Ref": …}`, `{"Fn::Sub": …}`) so tests read one shape.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Map, Value};
use serde_yaml_ng::Value as Yaml;
use shared::api::Route;

pub fn infra_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../infra")
        .join(name)
}

fn load(name: &str) -> Value {
    let path = infra_file(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let yaml: Yaml = serde_yaml_ng::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
    to_json(yaml)
}

pub fn template() -> Value {
    load("template.yaml")
}

pub fn openapi() -> Value {
    load("openapi.yaml")
}

fn to_json(y: Yaml) -> Value {
    match y {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => serde_json::to_value(&n).unwrap_or(Value::Null),
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Yaml::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (key(k), to_json(v)))
                .collect::<Map<_, _>>(),
        ),
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let value = to_json(tagged.value);
            let (name, value) = match (tag, value) {
                ("Ref", v) => ("Ref".to_string(), v),
                ("Condition", v) => ("Condition".to_string(), v),
                ("GetAtt", Value::String(s)) => {
                    let (resource, attribute) = s.split_once('.').unwrap_or((&s, ""));
                    (
                        "Fn::GetAtt".to_string(),
                        Value::Array(vec![resource.into(), attribute.into()]),
                    )
                }
                (other, v) => (format!("Fn::{other}"), v),
            };
            let mut m = Map::new();
            m.insert(name, value);
            Value::Object(m)
        }
    }
}

fn key(k: Yaml) -> String {
    match k {
        Yaml::String(s) => s,
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        other => panic!("unexpected mapping key {other:?}"),
    }
}

/// `{"Ref": name}`.
pub fn reference(name: &str) -> Value {
    serde_json::json!({ "Ref": name })
}

/// Resources of one type, by logical id.
pub fn resources_of<'a>(template: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    template["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id.as_str(), r))
        .collect()
}

/// The function a SAM function resource builds: its Cargo binary (= package = function name).
pub fn binary_of(function: &Value) -> &str {
    function["Metadata"]["BuildProperties"]["Binary"]
        .as_str()
        .expect("Metadata.BuildProperties.Binary")
}

/// Every route the API serves, as (function, method, path).
pub fn served() -> BTreeSet<(&'static str, &'static str, &'static str)> {
    let exported: [(&str, &[Route]); 5] = [
        ("discover", discover::ROUTES),
        ("provision", provision::ROUTES),
        ("provision", provision::PUBLIC_ROUTES),
        ("revoke", revoke::ROUTES),
        ("rotate", rotate::ROUTES),
    ];
    let mut all = BTreeSet::new();
    for (function, routes) in exported {
        for r in routes {
            assert!(
                all.insert((function, r.method, r.path)),
                "{function} lists {} {} twice",
                r.method,
                r.path
            );
        }
    }
    all
}

/// Every route as (method, path), without the function.
pub fn served_routes() -> BTreeSet<(String, String)> {
    served()
        .into_iter()
        .map(|(_, m, p)| (m.to_string(), p.to_string()))
        .collect()
}

/// Resolve a local `$ref` (`#/components/...`) in the OpenAPI document; other values as they are.
pub fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("only local $refs are used: {r}"));
            let target = doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {r}"));
            resolve(doc, target)
        }
        None => v,
    }
}

pub const HTTP_METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

/// Every operation of the OpenAPI document: (METHOD, path, operation).
pub fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if HTTP_METHODS.contains(&method.as_str()) {
                out.push((method.to_uppercase(), path.clone(), op));
            }
        }
    }
    out
}

/// A custom permission with every field set, so each must be documented.
pub fn full_custom_permission() -> shared::model::CustomPermission {
    shared::model::CustomPermission {
        name: "append".into(),
        privileges: vec!["create_doc".into()],
        remote_indices: vec![shared::model::RemoteIndexGrant {
            resources: vec!["eu-cluster:logs-*".into()],
            privileges: vec!["read".into(), "read_cross_cluster".into()],
        }],
        query: serde_json::json!({"term": {"owner": "{{_user.email}}"}})
            .as_object()
            .cloned(),
        field_security: Some(shared::model::FieldSecurity {
            grant: vec!["*".into()],
            except: vec!["card".into()],
        }),
        kibana: vec![shared::model::KibanaGrant {
            spaces: vec!["payments".into()],
            privileges: vec!["feature_discover.read".into()],
        }],
    }
}
