//! Request bodies: the documented schemas name exactly the fields the Rust types read (they all
//! `deny_unknown_fields`, so a documented field the type lacks would be refused at run time).

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use shared::model::{
    AccessFlowSpec, ApprovalPolicy, ApprovalRule, CredentialMode, DiscoverySelection,
    EscalationSpec, IntegrationKind, IntegrationSpec, OwnerAttribute, PrincipalRef, RequestStatus,
    ResourceOwner, TlsConfig,
};
use shared::policy::NewRequest;

use crate::common::{openapi, resolve};

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["components"]["schemas"]
        .get(name)
        .unwrap_or_else(|| panic!("components.schemas.{name}"))
}

fn properties(doc: &Value, schema: &Value) -> BTreeSet<String> {
    resolve(doc, schema)["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .cloned()
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("object").keys().cloned().collect()
}

/// A value of every documented property, valid in type (not in content).
fn sample(doc: &Value, schema: &Value) -> Value {
    let schema = resolve(doc, schema);
    if let Some(all) = schema["allOf"].as_array() {
        let parts: Vec<Value> = all.iter().map(|s| sample(doc, s)).collect();
        if parts.iter().all(Value::is_object) {
            let mut merged = Map::new();
            for p in parts {
                merged.extend(p.as_object().cloned().unwrap_or_default());
            }
            return Value::Object(merged);
        }
        return parts.into_iter().next().unwrap_or(Value::Null);
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    match schema["type"].as_str() {
        Some("string") => json!("x"),
        Some("integer") => schema["minimum"]
            .clone()
            .as_u64()
            .map_or(json!(1), |m| json!(m)),
        Some("boolean") => json!(true),
        Some("array") => json!([sample(doc, &schema["items"])]),
        Some("object") | None => Value::Object(
            schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, s)| (k.clone(), sample(doc, s)))
                .collect(),
        ),
        Some(other) => panic!("unexpected type {other}"),
    }
}

fn accepts<T: DeserializeOwned>(doc: &Value, name: &str) {
    let value = sample(doc, schema(doc, name));
    if let Err(e) = serde_json::from_value::<T>(value.clone()) {
        panic!(
            "a body with every documented field of {name} is refused by the Rust type: {e}\n{value}"
        );
    }
}

/// Each required property, when left out, makes the body unreadable; optional ones do not.
fn required_matches<T: DeserializeOwned>(doc: &Value, name: &str) {
    let s = schema(doc, name);
    let full = sample(doc, s);
    let required: BTreeSet<String> = s["required"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r.as_str().expect("required name").to_string())
        .collect();
    for field in keys(&full) {
        let mut body = full.clone();
        body.as_object_mut().expect("object").remove(&field);
        let refused = serde_json::from_value::<T>(body).is_err();
        assert_eq!(
            refused,
            required.contains(&field),
            "{name}.{field}: documented as {}required",
            if required.contains(&field) {
                ""
            } else {
                "not "
            }
        );
    }
}

fn full_integration_spec() -> IntegrationSpec {
    IntegrationSpec {
        kind: IntegrationKind::Elasticsearch,
        url: Some("https://es.example.com".into()),
        organization_id: Some("org".into()),
        secret_arn: "arn".into(),
        tls: TlsConfig {
            ca_cert: Some("pem".into()),
        },
        credential_rotation_days: Some(30),
        user_cleanup_days: Some(30),
        api_key_max_lifetime_days: Some(90),
        custom_access_details: Some("details".into()),
        integration_owners: vec![PrincipalRef::group("owners")],
        resource_owner: Some(ResourceOwner {
            tag_key: "owner".into(),
            attribute: OwnerAttribute::User,
        }),
        discovery: DiscoverySelection {
            include: vec!["*".into()],
            exclude: vec!["tmp-*".into()],
        },
        user_prefix: Some("ejit_".into()),
        custom_permissions: vec![crate::common::full_custom_permission()],
        allow_insecure_http: true,
        notifications: Some(full_notifications()),
        authorization: shared::model::Authorization::Proxy,
        proxy_url: Some("https://es-proxy.example.com".into()),
        kibana_url: Some("https://kibana.example.com".into()),
    }
}

/// Every notification setting set, so each must be documented.
fn full_notifications() -> shared::notifications::NotificationSettings {
    shared::notifications::NotificationSettings {
        slack_channel: Some("#jit-approvals".into()),
        slack_direct: false,
        email_people: false,
        emails: vec!["team@example.com".into()],
        webhooks: vec![shared::notifications::Webhook {
            url: "https://hooks.example.com/jit".into(),
            secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:elastic-jit/notify/siem-AbCdEf".into(),
        }],
    }
}

fn full_flow_spec() -> AccessFlowSpec {
    AccessFlowSpec {
        integration: "prod".into(),
        requesters: vec![PrincipalRef::group("devs")],
        resources: vec!["logs-*".into()],
        permissions: vec!["read".into()],
        max_duration: Some("8h".into()),
        auto_approve: false,
        require_justification: true,
        approvers: vec![PrincipalRef::user("lead@example.com")],
        credential_mode: CredentialMode::ApiKey,
        approval_window: Some("1d".into()),
        schedule_horizon: Some("7d".into()),
        description: Some("d".into()),
        notifications: Some(full_notifications()),
        approval: Some(ApprovalPolicy {
            rule: Some(ApprovalRule::Quorum),
            quorum: Some(2),
            require_reason: true,
            escalation: Some(EscalationSpec {
                after: "2h".into(),
                to: vec![PrincipalRef::group("oncall")],
            }),
        }),
        break_glass: true,
        extension: Some(shared::model::ExtensionPolicy {
            max_extensions: 2,
            length: "1h".into(),
            approval: shared::model::ExtensionApproval::Automatic,
            max_total_duration: "24h".into(),
        }),
        bundle: Some(vec![
            shared::model::BundleItem {
                integration: "prod-search".into(),
                resources: vec!["logs-*".into()],
                permission: "read".into(),
            },
            shared::model::BundleItem {
                integration: "cloud".into(),
                resources: vec!["prod".into()],
                permission: "deployment-viewer".into(),
            },
        ]),
    }
}

#[test]
fn integration_spec_is_documented_field_for_field() {
    let doc = openapi();
    let spec = serde_json::to_value(full_integration_spec()).expect("serialize");
    let s = schema(&doc, "IntegrationSpec");
    assert_eq!(
        properties(&doc, s),
        keys(&spec),
        "IntegrationSpec properties"
    );
    for nested in ["tls", "resource_owner", "discovery"] {
        assert_eq!(
            properties(&doc, &s["properties"][nested]),
            keys(&spec[nested]),
            "IntegrationSpec.{nested} properties"
        );
    }
    assert_eq!(
        properties(&doc, &s["properties"]["custom_permissions"]["items"]),
        keys(&spec["custom_permissions"][0]),
        "IntegrationSpec.custom_permissions[] properties"
    );
    assert_eq!(
        properties(&doc, schema(&doc, "RemoteIndexGrant")),
        keys(&spec["custom_permissions"][0]["remote_indices"][0]),
        "IntegrationSpec.custom_permissions[].remote_indices[] properties"
    );
    assert_eq!(
        properties(&doc, schema(&doc, "FieldSecurity")),
        keys(&spec["custom_permissions"][0]["field_security"]),
        "IntegrationSpec.custom_permissions[].field_security properties"
    );
    assert_eq!(
        properties(&doc, schema(&doc, "KibanaGrant")),
        keys(&spec["custom_permissions"][0]["kibana"][0]),
        "IntegrationSpec.custom_permissions[].kibana[] properties"
    );
    accepts::<IntegrationSpec>(&doc, "IntegrationSpec");
    required_matches::<IntegrationSpec>(&doc, "IntegrationSpec");
}

#[test]
fn access_flow_spec_is_documented_field_for_field() {
    let doc = openapi();
    let spec = serde_json::to_value(full_flow_spec()).expect("serialize");
    assert_eq!(
        properties(&doc, schema(&doc, "AccessFlowSpec")),
        keys(&spec),
        "AccessFlowSpec properties"
    );
    let approval = &schema(&doc, "AccessFlowSpec")["properties"]["approval"];
    assert_eq!(
        properties(&doc, approval),
        keys(&spec["approval"]),
        "AccessFlowSpec.approval properties"
    );
    assert_eq!(
        properties(&doc, &approval["properties"]["escalation"]),
        keys(&spec["approval"]["escalation"]),
        "AccessFlowSpec.approval.escalation properties"
    );
    accepts::<AccessFlowSpec>(&doc, "AccessFlowSpec");
    required_matches::<AccessFlowSpec>(&doc, "AccessFlowSpec");
}

#[test]
fn new_request_is_documented_field_for_field() {
    let doc = openapi();
    // `NewRequest` only deserializes: name its fields exhaustively so a new field fails to compile here.
    let body: NewRequest = serde_json::from_value(json!({
        "integration": "prod", "resources": ["logs"], "permission": "read", "duration": "1h"
    }))
    .expect("minimal body");
    let NewRequest {
        integration: _,
        resources: _,
        permission: _,
        duration: _,
        justification: _,
        flow: _,
        starts_at: _,
    } = body;
    let fields: BTreeSet<String> = [
        "integration",
        "resources",
        "permission",
        "duration",
        "justification",
        "flow",
        "starts_at",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(properties(&doc, schema(&doc, "NewRequest")), fields);
    accepts::<NewRequest>(&doc, "NewRequest");
    required_matches::<NewRequest>(&doc, "NewRequest");
}

#[test]
fn request_bodies_use_the_documented_schemas() {
    let doc = openapi();
    let body_ref = |path: &str, method: &str| -> Value {
        doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"].clone()
    };
    let r = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    assert_eq!(
        body_ref("/integrations/{name}", "put"),
        r("IntegrationSpec")
    );
    assert_eq!(body_ref("/flows/{name}", "put"), r("AccessFlowSpec"));
    // A bundle flow's request names the flow, and the flow fixes its items.
    let either = json!({ "oneOf": [r("NewRequest"), r("NewBundleRequest")] });
    assert_eq!(body_ref("/requests", "post"), either);
    assert_eq!(body_ref("/requests/preview", "post"), either);
    let bundle_fields: BTreeSet<String> = ["flow", "duration", "justification", "starts_at"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(
        properties(&doc, schema(&doc, "NewBundleRequest")),
        bundle_fields
    );
    assert_eq!(
        body_ref("/requests/{id}/approve", "post"),
        r("DecisionBody")
    );
    assert_eq!(body_ref("/requests/{id}/revoke", "post"), r("RevokeBody"));
    assert_eq!(
        doc["paths"]["/requests/{id}/approve"]["post"]["requestBody"]["required"], false,
        "approve takes an optional reason"
    );
    assert_eq!(
        doc["paths"]["/requests/{id}/revoke"]["post"]["requestBody"]["required"], false,
        "revoke takes an optional reason"
    );
    assert_eq!(
        doc["paths"]["/requests/{id}/reject"]["post"]["requestBody"]["required"], true,
        "reject needs a reason"
    );
}

#[test]
fn request_statuses_are_the_state_machine_s() {
    let doc = openapi();
    let documented: Vec<&str> = schema(&doc, "RequestStatus")["enum"]
        .as_array()
        .expect("enum")
        .iter()
        .map(|s| s.as_str().expect("status"))
        .collect();
    let code: Vec<&str> = RequestStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(documented, code);
}
