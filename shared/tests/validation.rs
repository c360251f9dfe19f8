//! Every configuration rule, each checked by its stable error code and the field it names.

use std::time::Duration;

use chrono::Utc;
use shared::model::{
    AccessFlowSpec, CredentialMode, CustomPermission, Integration, IntegrationKind,
    IntegrationSpec, OwnerAttribute, PrincipalRef, ResourceOwner,
};

const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:es-connector-AbCdEf";

fn es() -> IntegrationSpec {
    serde_json::from_value(serde_json::json!({
        "kind": "elasticsearch",
        "url": "https://es.example.com:9200",
        "secret_arn": ARN,
    }))
    .unwrap()
}

fn cloud() -> IntegrationSpec {
    serde_json::from_value(serde_json::json!({
        "kind": "elastic_cloud",
        "organization_id": "1234567890",
        "secret_arn": ARN,
    }))
    .unwrap()
}

/// The codes and fields of the errors `spec` produces under `name`.
fn errors(spec: &IntegrationSpec, name: &str) -> Vec<(&'static str, String)> {
    match spec.validate(name) {
        Ok(()) => vec![],
        Err(e) => e.0.into_iter().map(|f| (f.code, f.field)).collect(),
    }
}

fn assert_only(spec: &IntegrationSpec, code: &str, field: &str) {
    let got = errors(spec, "prod");
    assert_eq!(
        got,
        vec![(code_static(code), field.to_string())],
        "spec: {spec:?}"
    );
}

fn code_static(code: &str) -> &'static str {
    Box::leak(code.to_string().into_boxed_str())
}

#[test]
fn minimal_specs_are_valid() {
    assert!(es().validate("prod").is_ok());
    assert!(cloud().validate("cloud_org-1").is_ok());
}

#[test]
fn integration_names_are_letters_digits_dash_underscore_1_to_64() {
    for bad in ["", "has space", "dot.ted", "slash/", "é", &"x".repeat(65)] {
        assert_eq!(
            errors(&es(), bad),
            vec![("invalid_name", "name".to_string())],
            "{bad:?}"
        );
    }
    assert!(es().validate(&"x".repeat(64)).is_ok());
    assert!(es().validate("A-b_9").is_ok());
}

#[test]
fn url_must_be_http_or_https_with_a_host_and_no_credentials() {
    for (url, code) in [
        ("ftp://es.example.com", "invalid_url"),
        ("not a url", "invalid_url"),
        ("https://user:pw@es.example.com", "url_has_credentials"),
        ("https://user@es.example.com", "url_has_credentials"),
        ("https://es.example.com/?q=1", "invalid_url"),
    ] {
        let mut s = es();
        s.url = Some(url.into());
        assert_only(&s, code, "url");
    }
    let mut s = es();
    s.url = None;
    assert_only(&s, "missing_url", "url");
    // Plain http only with the explicit opt-in (local use).
    s.url = Some("http://127.0.0.1:9200".into());
    assert_only(&s, "insecure_url", "url");
    s.allow_insecure_http = true;
    assert!(s.validate("prod").is_ok());
}

#[test]
fn cloud_needs_an_organization_id() {
    let mut c = cloud();
    c.organization_id = None;
    assert_only(&c, "missing_organization_id", "organization_id");
    c.organization_id = Some("   ".into());
    assert_only(&c, "missing_organization_id", "organization_id");
    let mut e = es();
    e.organization_id = Some("123".into());
    assert_only(&e, "setting_not_supported", "organization_id");
}

#[test]
fn secret_arn_must_be_well_formed() {
    for bad in [
        "",
        "my-secret",
        "arn:aws:s3:::bucket",
        "arn:aws:secretsmanager:us-east-1:1234:secret:x",
        "arn:aws:secretsmanager:us-east-1:123456789012:parameter:x",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:bad name",
    ] {
        let mut s = es();
        s.secret_arn = bad.into();
        assert_only(&s, "invalid_secret_arn", "secret_arn");
    }
}

#[test]
fn rotation_and_cleanup_days_are_whole_days_1_to_3650_for_elasticsearch_only() {
    for field in ["credential_rotation_days", "user_cleanup_days"] {
        for (days, ok) in [(0, false), (1, true), (3650, true), (3651, false)] {
            let mut s = es();
            match field {
                "credential_rotation_days" => s.credential_rotation_days = Some(days),
                _ => s.user_cleanup_days = Some(days),
            }
            if ok {
                assert!(s.validate("prod").is_ok());
            } else {
                assert_only(&s, "invalid_days", field);
            }
        }
        let mut c = cloud();
        match field {
            "credential_rotation_days" => c.credential_rotation_days = Some(7),
            _ => c.user_cleanup_days = Some(7),
        }
        assert_only(&c, "setting_not_supported", field);
    }
    // Fractional days are not whole days: the JSON parser refuses them.
    let bad = serde_json::from_value::<IntegrationSpec>(serde_json::json!({
        "kind": "elasticsearch", "url": "https://x", "secret_arn": ARN, "user_cleanup_days": 1.5
    }));
    assert!(bad.is_err());
}

#[test]
fn custom_access_details_are_at_most_400_characters() {
    let mut s = es();
    s.custom_access_details = Some("é".repeat(400));
    assert!(
        s.validate("prod").is_ok(),
        "400 characters, even multi-byte, are fine"
    );
    s.custom_access_details = Some("a".repeat(401));
    assert_only(
        &s,
        "custom_access_details_too_long",
        "custom_access_details",
    );
}

#[test]
fn a_resource_owner_needs_an_integration_owner() {
    let mut s = es();
    s.resource_owner = Some(ResourceOwner {
        tag_key: "owner".into(),
        attribute: OwnerAttribute::Group,
    });
    assert_only(
        &s,
        "resource_owner_requires_integration_owner",
        "integration_owners",
    );
    s.integration_owners = vec![PrincipalRef::group("search-admins")];
    assert!(s.validate("prod").is_ok());
    s.resource_owner.as_mut().unwrap().tag_key = " owner".into();
    assert_only(&s, "invalid_tag_key", "resource_owner.tag_key");
    let mut c = cloud();
    c.resource_owner = Some(ResourceOwner {
        tag_key: "team".into(),
        attribute: OwnerAttribute::User,
    });
    assert_only(
        &c,
        "resource_owner_requires_integration_owner",
        "integration_owners",
    );
}

#[test]
fn owners_must_be_well_formed_users_or_groups() {
    let mut s = es();
    s.integration_owners = vec![PrincipalRef::user(""), PrincipalRef::group("ok")];
    assert_only(&s, "invalid_principal", "integration_owners[0].value");
    let bad_kind = serde_json::from_value::<IntegrationSpec>(serde_json::json!({
        "kind": "elasticsearch", "url": "https://x", "secret_arn": ARN,
        "integration_owners": [{"type": "role", "value": "x"}]
    }));
    assert!(bad_kind.is_err(), "only user or group");
}

#[test]
fn discovery_patterns_select_resources() {
    let mut s = es();
    s.discovery.include = vec![];
    assert_only(&s, "empty_patterns", "discovery.include");
    s.discovery.include = vec!["logs-*".into(), "a,b".into()];
    assert_only(&s, "invalid_pattern", "discovery.include[1]");
    s.discovery.include = vec!["logs-*".into()];
    s.discovery.exclude = vec!["".into()];
    assert_only(&s, "invalid_pattern", "discovery.exclude[0]");
}

#[test]
fn tls_prefix_and_custom_permissions_are_checked() {
    let mut s = es();
    s.tls.ca_cert = Some("not a pem".into());
    assert_only(&s, "invalid_ca_cert", "tls.ca_cert");
    let mut s = es();
    s.user_prefix = Some("bad prefix".into());
    assert_only(&s, "invalid_user_prefix", "user_prefix");
    let mut s = es();
    s.custom_permissions = vec![CustomPermission {
        name: "append".into(),
        privileges: vec!["create_doc".into(), "fly".into()],
        ..Default::default()
    }];
    assert_only(&s, "unknown_privilege", "custom_permissions[0].privileges");
    s.custom_permissions = vec![CustomPermission {
        name: "read".into(),
        privileges: vec!["read".into()],
        ..Default::default()
    }];
    assert_only(&s, "duplicate_permission", "custom_permissions[0].name");
    s.custom_permissions = vec![CustomPermission {
        name: "append".into(),
        privileges: vec![],
        ..Default::default()
    }];
    assert_only(&s, "empty_privileges", "custom_permissions[0].privileges");
    let mut c = cloud();
    c.tls.ca_cert = Some("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----".into());
    assert_only(&c, "setting_not_supported", "tls.ca_cert");
}

#[test]
fn a_custom_permission_may_carry_remote_indices_on_a_native_integration_only() {
    let remote: IntegrationSpec = serde_json::from_value(serde_json::json!({
        "kind": "elasticsearch", "url": "https://x", "secret_arn": ARN,
        "custom_permissions": [{"name": "read-eu", "privileges": ["read"],
            "remote_indices": [{"resources": ["eu-cluster:logs-*"], "privileges": ["read", "read_cross_cluster"]}]}]
    }))
    .unwrap();
    assert!(remote.validate("x").is_ok());
    let mut bad = remote.clone();
    bad.custom_permissions[0].remote_indices[0].resources = vec!["*:logs-*".into()];
    assert_only(
        &bad,
        "invalid_cluster_alias",
        "custom_permissions[0].remote_indices[0].resources[0]",
    );
    let mut proxy = remote.clone();
    proxy.authorization = shared::model::Authorization::Proxy;
    assert_only(
        &proxy,
        "setting_not_supported",
        "custom_permissions[0].remote_indices",
    );
    let mut kibana_on_proxy = proxy.clone();
    kibana_on_proxy.custom_permissions[0].remote_indices.clear();
    kibana_on_proxy.custom_permissions[0].kibana = vec![shared::model::KibanaGrant {
        spaces: vec!["payments".into()],
        privileges: vec!["space_read".into()],
    }];
    assert_only(
        &kibana_on_proxy,
        "setting_not_supported",
        "custom_permissions[0].kibana",
    );
    let mut kibana_url = remote.clone();
    kibana_url.kibana_url = Some("http://kibana.internal".into());
    assert_only(&kibana_url, "insecure_url", "kibana_url");
    kibana_url.kibana_url = Some("https://kibana.internal".into());
    assert!(kibana_url.validate("x").is_ok());
    let mut cloud_kibana = cloud();
    cloud_kibana.kibana_url = Some("https://kibana.internal".into());
    assert_only(&cloud_kibana, "setting_not_supported", "kibana_url");
    // The entry's own fields are closed: no `clusters` or `query` slipped in beside them.
    let smuggled = serde_json::from_value::<IntegrationSpec>(serde_json::json!({
        "kind": "elasticsearch", "url": "https://x", "secret_arn": ARN,
        "custom_permissions": [{"name": "r", "privileges": ["read"],
            "remote_indices": [{"resources": ["eu:logs"], "privileges": ["read"], "clusters": ["*"]}]}]
    }));
    assert!(smuggled.unwrap_err().to_string().contains("unknown field"));
}

#[test]
fn the_sample_event_with_role_templates_is_a_valid_integration() {
    let event: serde_json::Value = serde_json::from_str(include_str!(
        "../../events/discover/put-integration-role-templates.json"
    ))
    .unwrap();
    let spec: IntegrationSpec =
        serde_json::from_str(event["body"].as_str().unwrap()).expect("the body parses");
    assert_eq!(spec.validate("prod-search"), Ok(()));
    assert_eq!(spec.kibana_spaces(), ["payments"]);
}

#[test]
fn unknown_fields_and_wrong_types_are_refused_by_the_parser() {
    let unknown = serde_json::from_value::<IntegrationSpec>(serde_json::json!({
        "kind": "elasticsearch", "url": "https://x", "secret_arn": ARN, "pasword": "x"
    }));
    assert!(
        unknown
            .unwrap_err()
            .to_string()
            .contains("unknown field `pasword`")
    );
    let wrong = serde_json::from_value::<IntegrationSpec>(serde_json::json!({
        "kind": "mysql", "secret_arn": ARN
    }));
    assert!(wrong.is_err());
}

#[test]
fn all_problems_are_reported_at_once() {
    let mut s = es();
    s.url = Some("ftp://x".into());
    s.secret_arn = "nope".into();
    s.custom_access_details = Some("a".repeat(500));
    let codes: Vec<_> = errors(&s, "bad name").into_iter().map(|(c, _)| c).collect();
    assert_eq!(
        codes,
        [
            "invalid_name",
            "invalid_url",
            "invalid_secret_arn",
            "custom_access_details_too_long"
        ]
    );
}

fn integration(spec: IntegrationSpec) -> Integration {
    Integration {
        name: "prod".into(),
        spec,
        version: 1,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        last_discovery_at: None,
        last_discovery_error: None,
        pending_retires: vec![],
        managed_by: None,
    }
}

fn flow() -> AccessFlowSpec {
    AccessFlowSpec {
        integration: "prod".into(),
        requesters: vec![PrincipalRef::group("dev")],
        resources: vec!["logs-*".into()],
        permissions: vec!["read".into()],
        max_duration: None,
        auto_approve: false,
        require_justification: false,
        approvers: vec![],
        credential_mode: CredentialMode::User,
        approval_window: None,
        schedule_horizon: None,
        description: None,
        notifications: None,
        approval: None,
        break_glass: false,
        extension: None,
        bundle: None,
    }
}

fn flow_errors(f: &AccessFlowSpec, i: Option<&Integration>) -> Vec<(&'static str, String)> {
    match f.validate("logs", i) {
        Ok(()) => vec![],
        Err(e) => e.0.into_iter().map(|x| (x.code, x.field)).collect(),
    }
}

#[test]
fn flows_name_a_known_integration_patterns_and_permissions() {
    let i = integration(es());
    assert!(flow().validate("logs", Some(&i)).is_ok());
    assert_eq!(flow().max_duration().as_secs(), 8 * 3600, "default 8 h");
    assert_eq!(
        flow_errors(&flow(), None),
        vec![("unknown_integration", "integration".into())]
    );
    let mut f = flow();
    f.resources = vec![];
    assert_eq!(
        flow_errors(&f, Some(&i)),
        vec![("empty_resource_patterns", "resources".into())]
    );
    let mut f = flow();
    f.permissions = vec!["read".into(), "deployment-viewer".into()];
    assert_eq!(
        flow_errors(&f, Some(&i)),
        vec![("unknown_permission", "permissions[1]".into())]
    );
    let mut f = flow();
    f.permissions = vec![];
    assert_eq!(
        flow_errors(&f, Some(&i)),
        vec![("empty_permissions", "permissions".into())]
    );
    let mut f = flow();
    f.requesters = vec![];
    assert_eq!(
        flow_errors(&f, Some(&i)),
        vec![("empty_requesters", "requesters".into())]
    );
    let mut f = flow();
    f.approvers = vec![PrincipalRef::user(" bob")];
    assert_eq!(
        flow_errors(&f, Some(&i)),
        vec![("invalid_principal", "approvers[0].value".into())]
    );

    let c = integration(cloud());
    let mut f = flow();
    f.permissions = vec!["deployment-viewer".into()];
    assert!(f.validate("logs", Some(&c)).is_ok());
    f.credential_mode = CredentialMode::ApiKey;
    assert_eq!(
        flow_errors(&f, Some(&c)),
        vec![("setting_not_supported", "credential_mode".into())]
    );
}

#[test]
fn max_duration_is_between_5_minutes_and_90_days() {
    let i = integration(es());
    for (d, ok) in [
        ("4m", false),
        ("5m", true),
        ("8h", true),
        ("90d", true),
        ("91d", false),
        ("forever", false),
    ] {
        let mut f = flow();
        f.max_duration = Some(d.into());
        if ok {
            assert!(f.validate("logs", Some(&i)).is_ok(), "{d}");
        } else {
            assert_eq!(
                flow_errors(&f, Some(&i)),
                vec![("invalid_max_duration", "max_duration".into())],
                "{d}"
            );
        }
    }
    let mut f = flow();
    f.approval_window = Some("1m".into());
    assert_eq!(
        flow_errors(&f, Some(&i)),
        vec![("invalid_approval_window", "approval_window".into())]
    );
    let mut f = flow();
    assert_eq!(f.schedule_horizon(), Duration::from_secs(14 * 86400));
    for (h, ok) in [
        ("1m", false),
        ("5m", true),
        ("2d", true),
        ("90d", true),
        ("91d", false),
        ("soon", false),
    ] {
        f.schedule_horizon = Some(h.into());
        if ok {
            assert!(f.validate("logs", Some(&i)).is_ok(), "{h}");
        } else {
            assert_eq!(
                flow_errors(&f, Some(&i)),
                vec![("invalid_schedule_horizon", "schedule_horizon".into())],
                "{h}"
            );
        }
    }
}

#[test]
fn custom_permissions_resolve_on_their_integration_only() {
    let mut spec = es();
    spec.custom_permissions = vec![CustomPermission {
        name: "append".into(),
        privileges: vec!["create_doc".into()],
        ..Default::default()
    }];
    let i = integration(spec);
    let mut f = flow();
    f.permissions = vec!["append".into(), "write".into(), "manage".into()];
    assert!(f.validate("logs", Some(&i)).is_ok());
    assert_eq!(i.kind(), IntegrationKind::Elasticsearch);
}

#[test]
fn proxy_authorization_is_elasticsearch_only_and_has_no_account_settings() {
    let mut spec = es();
    spec.authorization = shared::model::Authorization::Proxy;
    spec.proxy_url = Some("https://es-proxy.example.com".into());
    assert_eq!(errors(&spec, "prod"), vec![]);
    // Round trip: `native` is the default and is not written back.
    let native = serde_json::to_value(es()).unwrap();
    assert!(native.get("authorization").is_none());
    let proxy = serde_json::to_value(&spec).unwrap();
    assert_eq!(proxy["authorization"], "proxy");

    let mut rotating = spec.clone();
    rotating.credential_rotation_days = Some(30);
    assert_only(
        &rotating,
        "setting_not_supported",
        "credential_rotation_days",
    );
    let mut cleaning = spec.clone();
    cleaning.user_cleanup_days = Some(30);
    assert_only(&cleaning, "setting_not_supported", "user_cleanup_days");
    let mut plain = spec.clone();
    plain.proxy_url = Some("http://es-proxy.example.com".into());
    assert_only(&plain, "insecure_url", "proxy_url");

    let mut native_with_url = es();
    native_with_url.proxy_url = Some("https://es-proxy.example.com".into());
    assert_only(&native_with_url, "setting_not_supported", "proxy_url");
    let mut cloud_proxy = cloud();
    cloud_proxy.authorization = shared::model::Authorization::Proxy;
    assert_only(&cloud_proxy, "setting_not_supported", "authorization");
    let unknown: Result<IntegrationSpec, _> = serde_json::from_value(serde_json::json!({
        "kind": "elasticsearch", "url": "https://es.example.com", "secret_arn": ARN,
        "authorization": "none",
    }));
    assert!(unknown.is_err(), "an unknown authorization is refused");
}
