//! Response bodies: what the functions' views emit, validated against the response schemas
//! `infra/openapi.yaml` gives each operation (the API fuzzer checks the same against the running
//! API, but only with the calls it happens to make and as one caller). Every read schema lists
//! its fields exhaustively, so a field added to a view but not described fails here, and so does
//! a requester view that would carry an administrator's field.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value, json};
use shared::discovery::DiscoverySummary;
use shared::model::{
    AccessFlow, AccessFlowSpec, AccessRequest, ApprovalStep, AuditEvent, AuditSubject, BreakGlass,
    CredentialMode, Decision, DecisionKind, DiscoverySelection, Escalation, Identity, Integration,
    IntegrationKind, IntegrationSpec, OwnerAttribute, PendingRetire, PrincipalRef, RequestStatus,
    Resource, ResourceKind, ResourceOwner, Review, ReviewOutcome, StepApproval, TargetObject,
    TlsConfig,
};

use crate::common::{openapi, operations, resolve};

/// OpenAPI 3.0 schemas as JSON Schema 2020-12: `nullable: true` becomes a `null` alternative.
fn to_json_schema(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(to_json_schema).collect()),
        Value::Object(map) => {
            let nullable = map.get("nullable") == Some(&Value::Bool(true));
            let mut out: Map<String, Value> = map
                .iter()
                .filter(|(k, _)| k.as_str() != "nullable")
                .map(|(k, v)| (k.clone(), to_json_schema(v)))
                .collect();
            if !nullable {
                return Value::Object(out);
            }
            match out.get("type").cloned() {
                Some(Value::String(t)) => {
                    out.insert("type".into(), json!([t, "null"]));
                    if let Some(Value::Array(values)) = out.get_mut("enum") {
                        values.push(Value::Null);
                    }
                    Value::Object(out)
                }
                _ => json!({ "anyOf": [Value::Object(out), { "type": "null" }] }),
            }
        }
        other => other.clone(),
    }
}

/// The JSON schema of an operation's `status` answer, with the whole document beside it so its
/// `$ref`s resolve.
fn response_schema(doc: &Value, method: &str, path: &str, status: &str) -> Value {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    let response = resolve(doc, &op["responses"][status]);
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} documents no JSON schema for {status}"
    );
    let mut root = to_json_schema(doc);
    let root_map = root.as_object_mut().expect("document");
    for (k, v) in to_json_schema(schema).as_object().expect("schema") {
        root_map.insert(k.clone(), v.clone());
    }
    root
}

/// The problems `body` has as the `status` answer of `method path`; empty when it matches.
fn mismatches(doc: &Value, method: &str, path: &str, status: &str, body: &Value) -> Vec<String> {
    let schema = response_schema(doc, method, path, status);
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("the schema of {method} {path} {status} does not compile: {e}"));
    validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[track_caller]
fn assert_matches(doc: &Value, method: &str, path: &str, status: &str, body: &Value) {
    let problems = mismatches(doc, method, path, status, body);
    assert!(
        problems.is_empty(),
        "{method} {path} {status} does not match infra/openapi.yaml:\n  {}\nbody: {body:#}",
        problems.join("\n  ")
    );
}

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 10, minute, 0).unwrap()
}

fn full_spec(kind: IntegrationKind) -> IntegrationSpec {
    IntegrationSpec {
        kind,
        url: Some("https://es.example.com:9200".into()),
        organization_id: Some("org-1".into()),
        secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:elastic-jit/connectors/prod-AbCdEf".into(),
        tls: TlsConfig {
            ca_cert: Some("-----BEGIN CERTIFICATE-----".into()),
        },
        credential_rotation_days: Some(30),
        user_cleanup_days: Some(7),
        api_key_max_lifetime_days: Some(90),
        custom_access_details: Some("VPN first".into()),
        integration_owners: vec![PrincipalRef::group("search-owners")],
        resource_owner: Some(ResourceOwner {
            tag_key: "owner".into(),
            attribute: OwnerAttribute::User,
        }),
        discovery: DiscoverySelection {
            include: vec!["logs-*".into()],
            exclude: vec!["logs-debug-*".into()],
        },
        user_prefix: Some("ejit_".into()),
        custom_permissions: vec![crate::common::full_custom_permission()],
        allow_insecure_http: true,
        notifications: None,
        authorization: Default::default(),
        proxy_url: None,
        kibana_url: Some("https://kibana.example.com".into()),
    }
}

/// The stack of the records a CloudFormation custom resource made.
const STACK: &str = "arn:aws:cloudformation:eu-west-1:111122223333:stack/search-access/5b3f1c20-c8a7-11f0-9b1a-0a1b2c3d4e5f";

/// Every optional field set (and old connector credentials pending retirement; made by a
/// stack), and none.
fn integrations() -> [Integration; 2] {
    let full = Integration {
        name: "prod-search".into(),
        spec: full_spec(IntegrationKind::Elasticsearch),
        version: 3,
        created_at: at(0),
        updated_at: at(1),
        last_discovery_at: Some(at(2)),
        last_discovery_error: Some("target answered 503".into()),
        pending_retires: vec![PendingRetire {
            secret_version: "v-old".into(),
            token: "t-1".into(),
            credential_id: Some("key-1".into()),
            since: at(3),
            attempts: 2,
            next_attempt_at: at(9),
            last_error: "target answered 503".into(),
        }],
        managed_by: Some(format!("cloudformation:{STACK}/SearchIntegration")),
    };
    let bare = Integration {
        name: "cloud".into(),
        spec: serde_json::from_value(json!({
            "kind": "elastic_cloud", "organization_id": "org-1", "secret_arn": "arn:x"
        }))
        .expect("minimal spec"),
        version: 0,
        created_at: at(0),
        updated_at: at(0),
        last_discovery_at: None,
        last_discovery_error: None,
        pending_retires: vec![],
        managed_by: None,
    };
    [full, bare]
}

fn flows() -> [AccessFlow; 2] {
    let full = AccessFlow {
        name: "logs-read".into(),
        spec: AccessFlowSpec {
            integration: "prod-search".into(),
            requesters: vec![PrincipalRef::group("developers")],
            resources: vec!["logs-*".into()],
            permissions: vec!["read".into(), "append".into()],
            max_duration: Some("2h".into()),
            auto_approve: true,
            require_justification: true,
            approvers: vec![PrincipalRef::user("lead@example.com")],
            credential_mode: CredentialMode::ApiKey,
            approval_window: Some("2d".into()),
            schedule_horizon: None,
            description: Some("Read the logs".into()),
            notifications: None,
            approval: None,
            break_glass: false,
            extension: None,
            bundle: None,
        },
        version: 2,
        created_at: at(0),
        updated_at: at(1),
        managed_by: Some(format!("cloudformation:{STACK}/LogsFlow")),
    };
    let bare = AccessFlow {
        name: "cloud-view".into(),
        spec: serde_json::from_value(json!({
            "integration": "cloud", "requesters": [{"type": "user", "value": "bob@example.com"}],
            "resources": ["*"], "permissions": ["deployment-viewer"]
        }))
        .expect("minimal flow"),
        version: 0,
        created_at: at(0),
        updated_at: at(0),
        managed_by: None,
    };
    [full, bare]
}

fn resources() -> Vec<Resource> {
    let r = |name: &str, kind| Resource {
        integration: "prod-search".into(),
        name: name.into(),
        kind,
        display_name: None,
        owner: None,
        targets: vec![],
        discovered_at: at(2),
        gone_since: None,
    };
    vec![
        Resource {
            owner: Some("alice@example.com".into()),
            ..r("logs-2026.11", ResourceKind::Index)
        },
        Resource {
            targets: vec!["logs-2026.11".into()],
            ..r("logs", ResourceKind::Alias)
        },
        Resource {
            targets: vec![".ds-metrics-1".into()],
            gone_since: Some(at(5)),
            ..r("metrics", ResourceKind::DataStream)
        },
        Resource {
            display_name: Some("prod-search".into()),
            owner: Some("alice@example.com".into()),
            ..r("d-1", ResourceKind::Deployment)
        },
        r("org-1", ResourceKind::Organization),
        Resource {
            display_name: Some("search project".into()),
            ..r("p-1", ResourceKind::ElasticsearchProject)
        },
    ]
}

fn person(sub: &str, email: Option<&str>) -> Identity {
    Identity {
        sub: sub.into(),
        issuer: Some("https://idp.example.com".into()),
        email: email.map(String::from),
        email_verified: email.is_some(),
        groups: vec!["developers".into()],
    }
}

/// A grant with every optional field and every kind of target object, and a bare pending request.
fn requests() -> [AccessRequest; 2] {
    let created = AuditEvent::new(
        at(0),
        "bob@example.com",
        "request.created",
        AuditSubject::Request("r-1".into()),
    )
    .with_integration("prod-search")
    .with_details(json!({ "via_aliases": { "logs": ["logs-2026.11"] } }));
    let failed = AuditEvent::new(
        at(4),
        "system:revoke",
        "grant.revoke_failed",
        AuditSubject::Request("r-1".into()),
    )
    .failed();
    let full = AccessRequest {
        id: "r-1".into(),
        integration: "prod-search".into(),
        flow: "logs-read".into(),
        requester: person("bob-sub", Some("bob@example.com")),
        resources: vec!["logs-2026.11".into()],
        requested_resources: vec!["logs".into()],
        permission: "read".into(),
        duration_secs: 120,
        justification: Some("INC-4713".into()),
        status: RequestStatus::RevokeFailed,
        status_reason: Some("target unreachable".into()),
        approval_steps: vec![ApprovalStep {
            label: "2 of owner of logs-2026.11".into(),
            approvers: vec![
                PrincipalRef::user("alice@example.com"),
                PrincipalRef::user("carol@example.com"),
            ],
            required: 2,
            approvals: vec![
                StepApproval {
                    by: "carol@example.com".into(),
                    by_person: "person:def".into(),
                    at: at(1),
                },
                StepApproval {
                    by: "alice@example.com".into(),
                    by_person: "person:abc".into(),
                    at: at(1),
                },
            ],
            approved_by: Some("alice@example.com".into()),
            approved_at: Some(at(1)),
            items: vec![0],
            escalate_to: Some(vec![PrincipalRef::group("search-admins")]),
        }],
        decisions: vec![Decision {
            by: "alice@example.com".into(),
            by_person: Some("person:abc".into()),
            kind: DecisionKind::Approve,
            reason: Some("short and sweet".into()),
            at: at(1),
        }],
        created_at: at(0),
        updated_at: at(4),
        approval_expires_at: at(30),
        approval_reason_required: true,
        escalation: Some(Escalation {
            at: at(1),
            to: vec![PrincipalRef::group("oncall")],
            escalated_at: Some(at(1)),
        }),
        break_glass: Some(BreakGlass {
            review: Some(Review {
                by: "alice@example.com".into(),
                by_person: "person:abc".into(),
                outcome: ReviewOutcome::Justified,
                note: Some("INC-4713 was real".into()),
                at: at(5),
            }),
        }),
        starts_at: Some(at(1)),
        ends_at: Some(at(3)),
        ended_at: Some(at(4)),
        created_objects: vec![
            TargetObject::EsUser {
                username: "ejit_bob".into(),
            },
            TargetObject::EsRole {
                name: "ejit_grant_r-1".into(),
            },
            TargetObject::EsApiKey {
                id: "k-1".into(),
                name: "ejit_grant_r-1".into(),
            },
            TargetObject::CloudRoleAssignment {
                user_id: "bob-1".into(),
                role_id: "deployment-viewer".into(),
                resource_id: Some("d-1".into()),
            },
            TargetObject::CloudInvitation {
                token: "inv-1".into(),
                email: "bob@example.com".into(),
                role_id: "organization-admin".into(),
                resource_id: None,
            },
        ],
        revoke_attempts: 2,
        next_attempt_at: Some(at(8)),
        last_error: Some("target answered 503".into()),
        revoke_requested_by: Some("bob@example.com".into()),
        key_secret_unsettled: false,
        proxy_credential: None,
        expiry_warned_at: None,
        extensions: 2,
        key_renewal: Some(shared::model::KeyRenewal {
            name: "ejit_grant_r-1_ext3".into(),
            ends_at: at(50),
            started_at: at(8),
            by: "bob@example.com".into(),
            justification: None,
        }),
        extends: Some("g-0".into()),
        bundle: Some(vec![shared::model::BundlePart {
            integration: "prod-search".into(),
            resources: vec!["logs-2026.11".into()],
            requested_resources: vec!["logs-*".into()],
            permission: "read".into(),
        }]),
        parent: Some("p-1".into()),
        history: vec![created, failed],
        version: 7,
    };
    // Every optional part left out (the `full` request above names every field on purpose).
    let bare = AccessRequest {
        integration: "cloud".into(),
        flow: "cloud-view".into(),
        resources: vec!["d-1".into()],
        permission: "deployment-viewer".into(),
        duration_secs: 3600,
        approval_expires_at: at(30),
        ..AccessRequest::fresh("r-2".into(), person("eve-sub", None), at(0))
    };
    [full, bare]
}

fn summary() -> DiscoverySummary {
    DiscoverySummary {
        total: 5,
        added: 2,
        updated: 1,
        gone: 1,
        unchanged: 1,
    }
}

#[test]
fn integration_views_match_their_operations() {
    let doc = openapi();
    let flows = flows();
    let offering: Vec<&AccessFlow> = flows.iter().collect();
    for i in integrations() {
        let admin = discover::views::integration(&i);
        let requester = discover::views::integration_for_requester(&i, &offering);
        assert_matches(
            &doc,
            "get",
            "/integrations",
            "200",
            &json!({ "integrations": [admin, requester] }),
        );
        let get = "/integrations/{name}";
        assert_matches(
            &doc,
            "get",
            get,
            "200",
            &discover::views::integration_for_admin(&i),
        );
        assert_matches(&doc, "get", get, "200", &requester);
        let saved = discover::views::integration_saved(&i, &summary());
        assert_matches(&doc, "put", get, "200", &saved);
        assert_matches(&doc, "put", get, "201", &saved);
    }
}

#[test]
fn flow_views_match_their_operations() {
    let doc = openapi();
    // A bundle flow names its items instead of an integration, resources and permissions.
    let mut bundle = flows()[1].clone();
    bundle.spec.integration.clear();
    bundle.spec.resources.clear();
    bundle.spec.permissions.clear();
    bundle.spec.bundle = Some(vec![
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
    ]);
    for f in flows().into_iter().chain([bundle]) {
        let admin = discover::views::flow(&f);
        let requester = discover::views::flow_for_requester(&f);
        assert_matches(
            &doc,
            "get",
            "/flows",
            "200",
            &json!({ "flows": [admin, requester] }),
        );
        assert_matches(&doc, "get", "/flows/{name}", "200", &admin);
        assert_matches(&doc, "get", "/flows/{name}", "200", &requester);
        assert_matches(&doc, "put", "/flows/{name}", "200", &admin);
        assert_matches(&doc, "put", "/flows/{name}", "201", &admin);
    }
}

#[test]
fn resource_views_match_their_operation() {
    let doc = openapi();
    let path = "/integrations/{name}/resources";
    for r in resources() {
        for shown in [
            discover::views::resource(&r),
            discover::views::resource_for_requester(&r),
        ] {
            for next in [Value::Null, json!("c-1")] {
                assert_matches(
                    &doc,
                    "get",
                    path,
                    "200",
                    &json!({ "resources": [shown.clone()], "next_cursor": next }),
                );
            }
        }
    }
}

#[test]
fn request_views_match_their_operations() {
    let doc = openapi();
    let approver = person("alice-sub", Some("alice@example.com"));
    for r in requests() {
        let mut shown = provision::views::request(&r, &approver);
        // A bundle parent's answer lists its children.
        shown["children"] = json!([shared::model::child_summary(&r)]);
        for (method, path, status) in [
            ("post", "/requests", "200"),
            ("post", "/requests", "201"),
            ("get", "/requests/{id}", "200"),
            ("post", "/requests/{id}/approve", "200"),
            ("post", "/requests/{id}/reject", "200"),
        ] {
            assert_matches(&doc, method, path, status, &shown);
        }
        assert_matches(
            &doc,
            "get",
            "/requests",
            "200",
            &json!({
                "requests": [shown.clone()], "next_cursor": "c-1",
                "to_decide": [shown.clone()], "to_decide_truncated": false,
            }),
        );
        // The requester's view of an active grant says how far it may be extended.
        let policy = shared::model::ExtensionPolicy {
            max_extensions: 3,
            length: "1h".into(),
            approval: shared::model::ExtensionApproval::Automatic,
            max_total_duration: "8h".into(),
        };
        let mut active = r.clone();
        active.status = RequestStatus::Active;
        active.starts_at = Some(at(0));
        active.ends_at = Some(at(45));
        for (grant, policy) in [
            (&active, Some(&policy)),
            (&r, Some(&policy)),
            (&active, None),
        ] {
            let shown = provision::views::request_with_extension(grant, &grant.requester, policy);
            assert_eq!(
                shown["extension"].is_null(),
                policy.is_none() || grant.status != RequestStatus::Active
            );
            assert!(shown.get("key_renewal").is_none(), "internal bookkeeping");
            assert_matches(&doc, "get", "/requests/{id}", "200", &shown);
            assert_matches(&doc, "post", "/requests/{id}/extend", "200", &shown);
        }
        let revoked = revoke::view(&r);
        assert_matches(&doc, "post", "/requests/{id}/revoke", "200", &revoked);
        assert_matches(&doc, "post", "/requests/{id}/revoke", "202", &revoked);
    }
}

/// A proxy grant's record carries its credential's salted hashes (the proxy reads them): no
/// view of a request, from any function and in any state (a revoke that failed leaves them),
/// lets them out.
#[test]
fn no_request_view_carries_the_proxy_credential_hashes() {
    let doc = openapi();
    let issued = shared::proxy_credentials::issue("ejit_", "r-1", &["read".to_string()]);
    let hashes = serde_json::to_value(&issued.record).unwrap();
    let secrets: Vec<String> = ["password", "key"]
        .iter()
        .flat_map(|k| {
            ["hash", "salt"]
                .iter()
                .map(|f| hashes[k][f].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let viewer = person("alice-sub", Some("alice@example.com"));
    for mut r in requests() {
        r.proxy_credential = Some(issued.record.clone());
        for status in [
            RequestStatus::Active,
            RequestStatus::RevokeFailed,
            RequestStatus::Revoked,
        ] {
            r.status = status;
            let views = [
                ("provision request", provision::views::request(&r, &viewer)),
                (
                    "provision request with extension",
                    provision::views::request_with_extension(&r, &r.requester, None),
                ),
                ("revoke", revoke::view(&r)),
                ("bundle child summary", shared::model::child_summary(&r)),
            ];
            for (name, v) in views {
                assert!(v.get("proxy_credential").is_none(), "{name}: {v}");
                let text = v.to_string();
                for s in &secrets {
                    assert!(!text.contains(s.as_str()), "{name} carries a hash or salt");
                }
            }
            assert_matches(
                &doc,
                "post",
                "/requests/{id}/revoke",
                "200",
                &revoke::view(&r),
            );
        }
    }
}

/// `GET /integrations/{name}/kibana-spaces`: none, and spaces with and without a name.
#[test]
fn kibana_spaces_match_their_operation() {
    use shared::model::KibanaSpace;
    let doc = openapi();
    let path = "/integrations/{name}/kibana-spaces";
    for spaces in [
        vec![],
        vec![
            KibanaSpace {
                id: "payments".into(),
                name: Some("Payments".into()),
            },
            KibanaSpace {
                id: "ops".into(),
                name: None,
            },
        ],
    ] {
        assert_matches(
            &doc,
            "get",
            path,
            "200",
            &discover::views::kibana_spaces("prod-search", &spaces),
        );
    }
}

/// `GET /integrations/{name}/api-keys/report`: empty, and with a finding of each kind.
#[test]
fn api_key_report_matches_its_operation() {
    use shared::key_hygiene::{ApiKeyReport, KeyFinding};
    let doc = openapi();
    let path = "/integrations/{name}/api-keys/report";
    let empty = ApiKeyReport::new(at(0), None);
    assert_matches(
        &doc,
        "get",
        path,
        "200",
        &discover::views::api_key_report("prod-search", &empty),
    );
    let mut r = ApiKeyReport::new(at(0), Some(90));
    for (expires, managed) in [
        (None, false),
        (Some(at(0) + chrono::Duration::days(400)), true),
    ] {
        r.judge(KeyFinding {
            id: "k-1".into(),
            name: "ci".into(),
            username: Some("ci-bot".into()),
            creation: at(0),
            expiration: expires,
            managed,
            grant_id: managed.then(|| "g-1".into()),
        });
    }
    assert_eq!((r.never_expire.count, r.over_max_lifetime.count), (1, 1));
    assert_matches(
        &doc,
        "get",
        path,
        "200",
        &discover::views::api_key_report("prod-search", &r),
    );
}

/// `grant_allows` of `GET /requests/{id}`: each target's scope, with each resolution.
#[test]
fn grant_allows_matches_the_request_operation() {
    use shared::grant_scope::{GrantScope, Resolution, ResolvedKind, ResolvedName};
    let doc = openapi();
    let [es, cloud] = integrations();
    let [mut r, _] = requests();
    r.status = RequestStatus::Pending;
    let approver = person("alice-sub", Some("alice@example.com"));
    let names = vec![
        ResolvedName {
            name: "logs-2026.11".into(),
            kind: ResolvedKind::Index,
            attributes: vec!["open".into()],
            reaches: vec![],
        },
        ResolvedName {
            name: "logs-app".into(),
            kind: ResolvedKind::DataStream,
            attributes: vec![],
            reaches: vec![".ds-logs-app-000001".into()],
        },
        ResolvedName {
            name: "gone".into(),
            kind: ResolvedKind::Missing,
            attributes: vec![],
            reaches: vec![],
        },
    ];
    let scope = GrantScope::of(&r, &es).expect("read is offered");
    for resolution in [
        Resolution::Live {
            read_at: at(1),
            names,
        },
        Resolution::NotRead {
            reason: "not for you".into(),
        },
        Resolution::Unavailable {
            reason: "down".into(),
        },
    ] {
        let mut shown = provision::views::request(&r, &approver);
        shown["grant_allows"] = provision::views::grant_allows(&scope, Some(&resolution));
        assert_matches(&doc, "get", "/requests/{id}", "200", &shown);
    }
    // A custom permission with remote clusters' indices.
    let mut x = r.clone();
    x.permission = "append".into();
    let scope = GrantScope::of(&x, &es).expect("a custom permission");
    let mut shown = provision::views::request(&x, &approver);
    shown["grant_allows"] = provision::views::grant_allows(&scope, None);
    assert_eq!(
        shown["grant_allows"]["role_descriptor"]["remote_indices"][0]["clusters"],
        json!(["eu-cluster"])
    );
    assert!(
        shown["grant_allows"]["role_descriptor"]["indices"][0]["query"]["template"].is_object()
    );
    assert!(shown["grant_allows"]["role_descriptor"]["applications"][0]["resources"].is_array());
    assert_matches(&doc, "get", "/requests/{id}", "200", &shown);
    let mut c = r.clone();
    c.integration = cloud.name.clone();
    c.permission = "deployment-viewer".into();
    let scope = GrantScope::of(&c, &cloud).expect("a Cloud role");
    let mut shown = provision::views::request(&c, &approver);
    shown["grant_allows"] = provision::views::grant_allows(&scope, None);
    assert_matches(&doc, "get", "/requests/{id}", "200", &shown);
    // An integration gone since: null.
    shown["grant_allows"] = Value::Null;
    assert_matches(&doc, "get", "/requests/{id}", "200", &shown);
}

#[test]
fn discovery_and_rotation_answers_match_their_operations() {
    let doc = openapi();
    // As `discover_now` and `rotate_now` build them.
    assert_matches(
        &doc,
        "post",
        "/integrations/{name}/discover",
        "200",
        &json!({ "integration": "prod-search", "discovery": summary() }),
    );
    assert_matches(
        &doc,
        "post",
        "/integrations/{name}/rotate",
        "202",
        &json!({
            "integration": "prod-search", "secret_arn": "arn:x",
            "version_id": "v-2", "status": "rotation_started",
        }),
    );
}

/// The check is not vacuous: the drift it exists for is refused.
#[test]
fn undescribed_or_leaked_fields_are_refused() {
    let doc = openapi();
    let [i, _] = integrations();
    let flows = flows();
    let offering: Vec<&AccessFlow> = flows.iter().collect();
    let get = "/integrations/{name}";

    // A requester view that carried the connector secret, a flow's approvers or an alias's
    // internals.
    let mut leaked = discover::views::integration_for_requester(&i, &offering);
    leaked["secret_arn"] = json!(i.spec.secret_arn);
    assert!(!mismatches(&doc, "get", get, "200", &leaked).is_empty());
    let mut leaked = discover::views::flow_for_requester(&flows[0]);
    leaked["approvers"] = json!(flows[0].spec.approvers);
    assert!(!mismatches(&doc, "get", "/flows/{name}", "200", &leaked).is_empty());
    // Which stack manages a flow is the administrators' business too.
    assert!(flows[0].managed_by.is_some());
    assert!(
        discover::views::flow_for_requester(&flows[0])
            .get("managed_by")
            .is_none()
    );
    let mut leaked = discover::views::flow_for_requester(&flows[0]);
    leaked["managed_by"] = json!(flows[0].managed_by);
    assert!(!mismatches(&doc, "get", "/flows/{name}", "200", &leaked).is_empty());
    let mut leaked = discover::views::resource_for_requester(&resources()[0]);
    leaked["targets"] = json!(["logs-2026.11"]);
    let page = json!({ "resources": [leaked], "next_cursor": null });
    assert!(!mismatches(&doc, "get", "/integrations/{name}/resources", "200", &page).is_empty());

    // The stored metadata the PUT body schema did not describe (the bug this test came with):
    // the read schemas must not be the PUT body's.
    let spec_only = serde_json::to_value(&i.spec).expect("spec");
    assert!(!mismatches(&doc, "get", get, "200", &spec_only).is_empty());
    let mut stray = discover::views::integration(&i);
    stray["internal"] = json!(true);
    assert!(!mismatches(&doc, "get", get, "200", &stray).is_empty());

    // The request's concurrency version is internal.
    let [r, _] = requests();
    let mut stray = provision::views::request(&r, &person("alice-sub", None));
    stray["version"] = json!(r.version);
    assert!(!mismatches(&doc, "get", "/requests/{id}", "200", &stray).is_empty());
}

/// Every successful answer with a body documents its JSON schema (so the fuzzer checks it).
#[test]
fn every_success_with_a_body_documents_its_schema() {
    let doc = openapi();
    for (method, path, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().expect("responses") {
            if !status.starts_with('2') || status == "204" {
                continue;
            }
            let response = resolve(&doc, response);
            assert!(
                response["content"]["application/json"]["schema"].is_object(),
                "{method} {path} {status} documents no JSON schema"
            );
        }
    }
}
