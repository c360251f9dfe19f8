//! The Elastic Cloud driver against the Cloud API emulator (`tests/cloud-emulator`): one
//! emulator per test on a free loopback port, the driver built directly (no AWS).

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use cloud_emulator::{CloudConfig, OWNER_KEY_ID, RunningCloud, Seed};
use serde_json::{Value, json};

use shared::driver::cloud::{CloudDriver, KEY_ID_REQUIRED, MISSING_OWNER_ROLE, OLD_KEY_WITHOUT_ID};
use shared::driver::http::{HttpClients, RetryPolicy};
use shared::driver::{
    DiscoveredResource, Driver, DriverError, GrantPlan, PrincipalPlan, RevokePlan,
};
use shared::model::{
    CloudRoleScope, CredentialMode, DiscoverySelection, Identity, Integration, IntegrationKind,
    IntegrationSpec, OwnerAttribute, ResolvedPermission, ResourceKind, ResourceOwner, TargetObject,
    TlsConfig,
};
use shared::secrets::SecretValue;

const ORG: &str = "org-1";
const OWNER_KEY: &str = "owner-secret";
const VIEWER_KEY: &str = "viewer-key-secret";
const WORKLOAD_KEY: &str = "workload-key-secret";
const PROD: &str = "prodsearch0000000000000000000001";
const STAGING: &str = "staginglogs000000000000000000002";
const LEGACY: &str = "legacyapp00000000000000000000003";
const PROJECT: &str = "0123456789abcdef0123456789abcdef";

const SEED: &str = r#"{
  "organization_name": "Demo organization",
  "other_organizations": [{"id": "other-org", "name": "Somebody else's"}],
  "users": [
    {"user_id": "bob-1", "email": "Bob@Example.com", "name": "Bob"},
    {"user_id": "carol-1", "email": "carol@example.com",
     "role_assignments": {"deployment": [
       {"role_id": "deployment-editor", "all": false, "deployment_ids": ["prodsearch0000000000000000000001"]}
     ]}},
    {"user_id": "viewer-1", "email": "viewer@example.com",
     "role_assignments": {"deployment": [{"role_id": "deployment-viewer", "all": true}]}}
  ],
  "api_keys": [
    {"id": "viewer-key", "key": "viewer-key-secret", "user_id": "viewer-1",
     "description": "not an owner"},
    {"id": "workload-key", "key": "workload-key-secret", "user_id": "carol-1",
     "description": "creates and lists keys, but is no owner",
     "role_assignments": {"organization": [{"role_id": "workload-credentials-owner"}]}}
  ],
  "deployments": [
    {"id": "prodsearch0000000000000000000001", "name": "prod-search",
     "tags": [{"key": "owner", "value": "alice@example.com"}, {"key": "team", "value": "search"}]},
    {"id": "staginglogs000000000000000000002", "name": "staging-logs"},
    {"id": "legacyapp00000000000000000000003", "name": "legacy-app",
     "tags": [{"key": "owner", "value": "dan@example.com"}]}
  ],
  "projects": [
    {"id": "0123456789abcdef0123456789abcdef", "name": "vector-playground",
     "tags": [{"key": "owner", "value": "carol@example.com"}]}
  ]
}"#;

struct Env {
    cloud: RunningCloud,
    http: reqwest::Client,
}

impl Env {
    async fn start() -> Self {
        let seed = Seed::from_json(SEED).expect("seed parses");
        let config = CloudConfig::new(ORG, OWNER_KEY).with_seed(seed);
        let cloud = RunningCloud::start(config, "127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("emulator starts");
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        Self { cloud, http }
    }

    fn integration(&self, organization_id: &str) -> Integration {
        Integration {
            name: "cloud".into(),
            spec: IntegrationSpec {
                kind: IntegrationKind::ElasticCloud,
                url: Some(self.cloud.url()),
                organization_id: Some(organization_id.into()),
                secret_arn: "arn:aws:secretsmanager:us-east-1:000000000000:secret:cloud".into(),
                tls: TlsConfig::default(),
                credential_rotation_days: Some(30),
                user_cleanup_days: None,
                api_key_max_lifetime_days: None,
                custom_access_details: None,
                integration_owners: vec![],
                resource_owner: Some(ResourceOwner {
                    tag_key: "owner".into(),
                    attribute: OwnerAttribute::User,
                }),
                discovery: DiscoverySelection::default(),
                user_prefix: None,
                custom_permissions: vec![],
                allow_insecure_http: true,
                notifications: None,
                authorization: Default::default(),
                proxy_url: None,
                kibana_url: None,
            },
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            last_discovery_at: None,
            last_discovery_error: None,
            pending_retires: vec![],
            managed_by: None,
        }
    }

    fn driver_for(&self, integration: &Integration, secret: &SecretValue) -> CloudDriver {
        let clients = HttpClients::new()
            .expect("clients")
            .with_retry(RetryPolicy {
                max_retries: 2,
                min_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
            });
        CloudDriver::new(&clients, integration, secret).expect("driver")
    }

    /// A driver whose secret names the key's own id, as the README asks.
    fn driver_with_key(&self, key: &str) -> CloudDriver {
        let id = match key {
            OWNER_KEY => Some(OWNER_KEY_ID),
            VIEWER_KEY => Some("viewer-key"),
            WORKLOAD_KEY => Some("workload-key"),
            _ => None,
        };
        self.driver_for(&self.integration(ORG), &key_secret(key, id))
    }

    fn driver(&self) -> CloudDriver {
        self.driver_with_key(OWNER_KEY)
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.cloud.url()))
            .header("Authorization", format!("ApiKey {OWNER_KEY}"));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("emulator answers");
        let status = resp.status().as_u16();
        let body = resp.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// A member's role assignments as the Cloud API reports them.
    async fn member(&self, email: &str) -> Option<Value> {
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/organizations/{ORG}/members"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["members"].as_array().and_then(|m| {
            m.iter()
                .find(|m| {
                    m["email"]
                        .as_str()
                        .is_some_and(|e| e.eq_ignore_ascii_case(email))
                })
                .cloned()
        })
    }

    async fn deployment_roles(&self, email: &str, role_id: &str) -> Vec<String> {
        let member = self.member(email).await.expect("is a member");
        member["role_assignments"]["deployment"]
            .as_array()
            .expect("deployment list")
            .iter()
            .filter(|e| e["role_id"] == role_id)
            .flat_map(|e| {
                e["deployment_ids"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
            })
            .collect()
    }

    async fn invitations(&self) -> Vec<Value> {
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/organizations/{ORG}/invitations"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["invitations"].as_array().cloned().unwrap_or_default()
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}/_emulator{path}", self.cloud.url()))
            .json(&body)
            .send()
            .await
            .expect("control answers");
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.expect("json")
    }
}

fn key_secret(key: &str, id: Option<&str>) -> SecretValue {
    let mut v = json!({ "api_key": key });
    if let Some(id) = id {
        v["api_key_id"] = json!(id);
    }
    SecretValue::new(v.to_string())
}

fn plan(
    email: Option<&str>,
    role_id: &str,
    scope: CloudRoleScope,
    resources: &[&str],
) -> GrantPlan {
    let now = Utc::now();
    GrantPlan {
        grant_id: "g-1".into(),
        integration: "cloud".into(),
        requester: Identity {
            sub: "sub-1".into(),
            email: email.map(str::to_string),
            groups: vec![],
            ..Identity::default()
        },
        resources: resources.iter().map(|r| r.to_string()).collect(),
        permission: ResolvedPermission::CloudRole {
            role_id: role_id.into(),
            scope,
        },
        mode: CredentialMode::User,
        ends_at: now + TimeDelta::hours(1),
        now,
        principal: PrincipalPlan {
            name: email.unwrap_or_default().into(),
            exists: true,
            roles_after: vec![],
            password: None,
        },
    }
}

fn revoke_plan(objects: Vec<TargetObject>) -> RevokePlan {
    RevokePlan {
        grant_id: "g-1".into(),
        objects,
        principal: None,
        key_names: vec![],
    }
}

#[tokio::test]
async fn prerequisites_pass_for_an_owner_key() {
    let env = Env::start().await;
    env.driver()
        .check_prerequisites()
        .await
        .expect("owner key passes");
}

#[tokio::test]
async fn prerequisites_name_the_missing_owner_role() {
    let env = Env::start().await;
    let err = env
        .driver_with_key(VIEWER_KEY)
        .check_prerequisites()
        .await
        .expect_err("a viewer key is not enough");
    assert_eq!(
        err,
        DriverError::MissingPrivileges {
            missing: vec![MISSING_OWNER_ROLE.into()]
        }
    );
    assert!(err.to_string().contains("organization-admin"));
}

/// A "Workload credentials owner" key lists keys (so "GET /users/auth/keys answers 200" would
/// pass it) without being an Organization owner: its own role assignments decide.
#[tokio::test]
async fn prerequisites_refuse_a_workload_credentials_owner_key() {
    let env = Env::start().await;
    let listed = env
        .http
        .get(format!("{}/api/v1/users/auth/keys", env.cloud.url()))
        .header("Authorization", format!("ApiKey {WORKLOAD_KEY}"))
        .send()
        .await
        .expect("answers");
    assert_eq!(listed.status().as_u16(), 200, "it can list keys");
    let err = env
        .driver_with_key(WORKLOAD_KEY)
        .check_prerequisites()
        .await
        .expect_err("not an owner");
    assert_eq!(
        err,
        DriverError::MissingPrivileges {
            missing: vec![MISSING_OWNER_ROLE.into()]
        }
    );
    // Naming an owner's key id does not help: the key cannot see it.
    let borrowed = env.driver_for(
        &env.integration(ORG),
        &key_secret(WORKLOAD_KEY, Some(OWNER_KEY_ID)),
    );
    let err = borrowed
        .check_prerequisites()
        .await
        .expect_err("not its key");
    assert!(matches!(err, DriverError::Refused { .. }), "{err:?}");
    // Nor can it mint itself an owner's key by rotating.
    let err = env
        .driver_with_key(WORKLOAD_KEY)
        .create_connector_secret()
        .await
        .expect_err("no owner keys from a workload key");
    assert!(
        matches!(err, DriverError::MissingPrivileges { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn prerequisites_need_the_key_id_to_read_the_keys_own_roles() {
    let env = Env::start().await;
    let err = env
        .driver_for(&env.integration(ORG), &key_secret(OWNER_KEY, None))
        .check_prerequisites()
        .await
        .expect_err("no id");
    assert_eq!(
        err,
        DriverError::BadConnectorSecret {
            reason: KEY_ID_REQUIRED.into()
        }
    );
    assert!(!err.to_string().contains(OWNER_KEY));
}

#[tokio::test]
async fn prerequisites_reject_a_wrong_key_without_echoing_it() {
    let env = Env::start().await;
    let err = env
        .driver_with_key("essu_not-a-real-key")
        .check_prerequisites()
        .await
        .expect_err("unknown key");
    assert!(matches!(err, DriverError::Unauthorized { .. }), "{err:?}");
    assert!(!err.to_string().contains("essu_not-a-real-key"));
}

#[tokio::test]
async fn prerequisites_name_an_unknown_or_foreign_organization() {
    let env = Env::start().await;
    for org in ["no-such-org", "other-org"] {
        let driver = env.driver_for(&env.integration(org), &key_secret(OWNER_KEY, None));
        let err = driver.check_prerequisites().await.expect_err(org);
        assert!(
            matches!(&err, DriverError::Refused { reason } if reason.contains(org)),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn a_malformed_connector_secret_is_refused() {
    let env = Env::start().await;
    let clients = HttpClients::new().expect("clients");
    for bad in [
        r#"{"username":"elastic","password":"changeme"}"#,
        r#"{"api_key":""}"#,
        "essu_bare",
    ] {
        let err = CloudDriver::new(&clients, &env.integration(ORG), &SecretValue::new(bad))
            .err()
            .expect("refused");
        assert!(
            matches!(&err, DriverError::BadConnectorSecret { reason } if !reason.contains("changeme") && !reason.contains("essu_bare")),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn discovery_finds_the_organization_deployments_and_projects_with_owners() {
    let env = Env::start().await;
    let found = env.driver().discover().await.expect("discovers");
    let r = |name: &str, kind, display: &str, owner: Option<&str>| DiscoveredResource {
        name: name.into(),
        kind,
        display_name: Some(display.into()),
        owner: owner.map(str::to_string),
        targets: vec![],
    };
    assert_eq!(
        found,
        vec![
            r(ORG, ResourceKind::Organization, "Demo organization", None),
            r(
                LEGACY,
                ResourceKind::Deployment,
                "legacy-app",
                Some("dan@example.com")
            ),
            r(
                PROD,
                ResourceKind::Deployment,
                "prod-search",
                Some("alice@example.com")
            ),
            r(STAGING, ResourceKind::Deployment, "staging-logs", None),
            r(
                PROJECT,
                ResourceKind::ElasticsearchProject,
                "vector-playground",
                Some("carol@example.com")
            ),
        ]
    );
}

#[tokio::test]
async fn discovery_applies_include_and_exclude_to_ids_and_names() {
    let env = Env::start().await;
    let mut integration = env.integration(ORG);
    integration.spec.discovery = DiscoverySelection {
        include: vec![
            "*-search".into(),
            "*-logs".into(),
            "legacy*".into(),
            PROJECT.into(),
        ],
        exclude: vec!["staging-*".into()],
    };
    let found = env
        .driver_for(&integration, &key_secret(OWNER_KEY, None))
        .discover()
        .await
        .expect("discovers");
    let names: Vec<&str> = found.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec![LEGACY, PROD, PROJECT]);
}

#[tokio::test]
async fn discovery_without_an_owner_tag_reads_no_deployment_metadata() {
    let env = Env::start().await;
    let mut integration = env.integration(ORG);
    integration.spec.resource_owner = None;
    let found = env
        .driver_for(&integration, &key_secret(OWNER_KEY, None))
        .discover()
        .await
        .expect("discovers");
    assert_eq!(found.len(), 5);
    assert!(found.iter().all(|r| r.owner.is_none()));
    let log = env
        .http
        .get(format!("{}/_emulator/requests", env.cloud.url()))
        .send()
        .await
        .expect("log")
        .json::<Value>()
        .await
        .expect("json");
    let paths: Vec<&str> = log["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .filter_map(|r| r["path"].as_str())
        .collect();
    assert_eq!(
        paths,
        vec![
            "/api/v1/organizations/org-1",
            "/api/v1/deployments",
            "/api/v1/serverless/projects/elasticsearch"
        ]
    );
}

#[tokio::test]
async fn a_deployment_role_is_added_and_revoked() {
    let env = Env::start().await;
    let driver = env.driver();
    // Emails match case-insensitively: Bob is seeded as Bob@Example.com.
    let made = driver
        .provision(&plan(
            Some("bob@example.com"),
            "deployment-viewer",
            CloudRoleScope::Deployment,
            &[PROD],
        ))
        .await
        .expect("provisions");
    assert!(made.credential.is_none());
    assert_eq!(
        made.objects,
        vec![TargetObject::CloudRoleAssignment {
            user_id: "bob-1".into(),
            role_id: "deployment-viewer".into(),
            resource_id: Some(PROD.into()),
        }]
    );
    assert_eq!(
        env.deployment_roles("bob@example.com", "deployment-viewer")
            .await,
        vec![PROD.to_string()]
    );

    driver
        .revoke(&revoke_plan(made.objects.clone()))
        .await
        .expect("revokes");
    assert!(
        env.deployment_roles("bob@example.com", "deployment-viewer")
            .await
            .is_empty()
    );
    // Already gone counts as removed.
    driver
        .revoke(&revoke_plan(made.objects))
        .await
        .expect("revokes again");
}

#[tokio::test]
async fn organization_and_project_roles_round_trip() {
    let env = Env::start().await;
    let driver = env.driver();
    let org = driver
        .provision(&plan(
            Some("bob@example.com"),
            "billing-admin",
            CloudRoleScope::Organization,
            &[ORG],
        ))
        .await
        .expect("organization role");
    let project = driver
        .provision(&plan(
            Some("bob@example.com"),
            "elasticsearch-viewer",
            CloudRoleScope::ElasticsearchProject,
            &[PROJECT],
        ))
        .await
        .expect("project role");
    assert_eq!(
        org.objects,
        vec![TargetObject::CloudRoleAssignment {
            user_id: "bob-1".into(),
            role_id: "billing-admin".into(),
            resource_id: None,
        }]
    );
    let bob = env.member("bob@example.com").await.expect("member");
    assert_eq!(
        bob["role_assignments"]["organization"][0]["role_id"],
        "billing-admin"
    );
    assert_eq!(
        bob["role_assignments"]["project"]["elasticsearch"][0]["project_ids"],
        json!([PROJECT])
    );

    let mut objects = org.objects;
    objects.extend(project.objects);
    driver.revoke(&revoke_plan(objects)).await.expect("revokes");
    let bob = env.member("bob@example.com").await.expect("member");
    assert_eq!(bob["role_assignments"]["organization"], json!([]));
    assert_eq!(
        bob["role_assignments"]["project"]["elasticsearch"],
        json!([])
    );

    let err = driver
        .provision(&plan(
            Some("bob@example.com"),
            "billing-admin",
            CloudRoleScope::Organization,
            &["other-org"],
        ))
        .await
        .expect_err("organization roles apply to the integration's organization only");
    assert!(matches!(err.error, DriverError::Refused { .. }), "{err:?}");
    assert!(err.created.is_empty());
}

#[tokio::test]
async fn a_role_held_before_the_grant_survives_its_revoke() {
    let env = Env::start().await;
    let driver = env.driver();
    // Carol already edits prod-search: only staging-logs is added and recorded.
    let made = driver
        .provision(&plan(
            Some("carol@example.com"),
            "deployment-editor",
            CloudRoleScope::Deployment,
            &[PROD, STAGING],
        ))
        .await
        .expect("provisions");
    assert_eq!(
        made.objects,
        vec![TargetObject::CloudRoleAssignment {
            user_id: "carol-1".into(),
            role_id: "deployment-editor".into(),
            resource_id: Some(STAGING.into()),
        }]
    );
    driver
        .revoke(&revoke_plan(made.objects))
        .await
        .expect("revokes");
    assert_eq!(
        env.deployment_roles("carol@example.com", "deployment-editor")
            .await,
        vec![PROD.to_string()]
    );

    // A role held on all deployments covers any one of them: nothing is recorded or removed.
    let made = driver
        .provision(&plan(
            Some("viewer@example.com"),
            "deployment-viewer",
            CloudRoleScope::Deployment,
            &[PROD],
        ))
        .await
        .expect("provisions");
    assert!(made.objects.is_empty());
    let viewer = env.member("viewer@example.com").await.expect("member");
    assert_eq!(viewer["role_assignments"]["deployment"][0]["all"], true);
}

#[tokio::test]
async fn a_requester_without_an_email_is_refused() {
    let env = Env::start().await;
    let err = env
        .driver()
        .provision(&plan(
            None,
            "deployment-viewer",
            CloudRoleScope::Deployment,
            &[PROD],
        ))
        .await
        .expect_err("no email");
    assert!(
        matches!(&err.error, DriverError::Refused { reason } if reason.contains("email")),
        "{err:?}"
    );
    assert!(err.created.is_empty());
}

#[tokio::test]
async fn a_non_member_is_invited_and_revoke_deletes_the_invitation() {
    let env = Env::start().await;
    let driver = env.driver();
    let made = driver
        .provision(&plan(
            Some("erin@example.com"),
            "deployment-viewer",
            CloudRoleScope::Deployment,
            &[PROD, STAGING],
        ))
        .await
        .expect("invites");
    let TargetObject::CloudInvitation { token, .. } = &made.objects[0] else {
        panic!("expected an invitation: {:?}", made.objects);
    };
    let token = token.clone();
    assert_eq!(
        made.objects,
        vec![
            TargetObject::CloudInvitation {
                token: token.clone(),
                email: "erin@example.com".into(),
                role_id: "deployment-viewer".into(),
                resource_id: Some(PROD.into()),
            },
            TargetObject::CloudInvitation {
                token: token.clone(),
                email: "erin@example.com".into(),
                role_id: "deployment-viewer".into(),
                resource_id: Some(STAGING.into()),
            },
        ]
    );
    let invitations = env.invitations().await;
    let invitation = invitations
        .iter()
        .find(|i| i["token"] == token.as_str())
        .expect("listed");
    assert_eq!(
        invitation["role_assignments"]["deployment"][0]["deployment_ids"],
        json!([PROD, STAGING])
    );
    // The one-hour grant's invitation asks for one whole day (`expires_in` is whole days, the
    // only form Elastic's clients send), not the default three; revoke deletes it on time.
    let expires: chrono::DateTime<Utc> = invitation["expires_at"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("expires_at");
    assert!(expires > Utc::now() + TimeDelta::hours(23));
    assert!(expires <= Utc::now() + TimeDelta::hours(24) + TimeDelta::minutes(1));

    driver
        .revoke(&revoke_plan(made.objects.clone()))
        .await
        .expect("revokes");
    assert!(
        env.invitations()
            .await
            .iter()
            .all(|i| i["token"] != token.as_str())
    );
    // Already gone counts as removed.
    driver
        .revoke(&revoke_plan(made.objects))
        .await
        .expect("revokes again");
}

#[tokio::test]
async fn an_accepted_invitation_is_revoked_from_the_new_member() {
    let env = Env::start().await;
    let driver = env.driver();
    let made = driver
        .provision(&plan(
            Some("frank@example.com"),
            "deployment-admin",
            CloudRoleScope::Deployment,
            &[STAGING],
        ))
        .await
        .expect("invites");
    let TargetObject::CloudInvitation { token, .. } = &made.objects[0] else {
        panic!("expected an invitation: {:?}", made.objects);
    };
    env.control(&format!("/invitations/{token}/accept"), json!({}))
        .await;
    assert_eq!(
        env.deployment_roles("frank@example.com", "deployment-admin")
            .await,
        vec![STAGING.to_string()]
    );

    driver
        .revoke(&revoke_plan(made.objects))
        .await
        .expect("revokes");
    assert!(
        env.deployment_roles("frank@example.com", "deployment-admin")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_failure_half_way_reports_exactly_what_was_made() {
    let env = Env::start().await;
    let driver = env.driver();
    // The first add passes through (a no-op delay), every later one fails.
    env.control(
        "/faults",
        json!({"method": "POST", "path": "/api/v1/users/*/role_assignments", "count": 1, "latency_ms": 1}),
    )
    .await;
    env.control(
        "/faults",
        json!({"method": "POST", "path": "/api/v1/users/*/role_assignments", "status": 503}),
    )
    .await;
    let failure = driver
        .provision(&plan(
            Some("bob@example.com"),
            "deployment-viewer",
            CloudRoleScope::Deployment,
            &[PROD, STAGING],
        ))
        .await
        .expect_err("the second add fails");
    assert!(
        matches!(failure.error, DriverError::Api { status: 503, .. }),
        "{:?}",
        failure.error
    );
    assert_eq!(
        failure.created,
        vec![TargetObject::CloudRoleAssignment {
            user_id: "bob-1".into(),
            role_id: "deployment-viewer".into(),
            resource_id: Some(PROD.into()),
        }]
    );
    assert_eq!(
        env.deployment_roles("bob@example.com", "deployment-viewer")
            .await,
        vec![PROD.to_string()]
    );

    // What was reported is enough to undo it.
    driver
        .revoke(&revoke_plan(failure.created))
        .await
        .expect("undoes");
    assert!(
        env.deployment_roles("bob@example.com", "deployment-viewer")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn idempotent_calls_are_retried_after_a_transient_failure() {
    let env = Env::start().await;
    env.control(
        "/faults",
        json!({"method": "GET", "path": "/api/v1/organizations/*/members", "count": 1, "status": 503}),
    )
    .await;
    let made = env
        .driver()
        .provision(&plan(
            Some("bob@example.com"),
            "deployment-viewer",
            CloudRoleScope::Deployment,
            &[PROD],
        ))
        .await
        .expect("provisions after one retry");
    assert_eq!(made.objects.len(), 1);
}

#[tokio::test]
async fn cloud_has_no_accounts_and_no_managed_marker() {
    let env = Env::start().await;
    let driver = env.driver();
    let secret = SecretValue::new("irrelevant");
    for err in [
        driver.list_managed().await.expect_err("no marker"),
        driver
            .set_principal_password("bob@example.com", &secret)
            .await
            .expect_err("no accounts"),
        driver
            .delete_principal("bob@example.com")
            .await
            .expect_err("no accounts"),
    ] {
        assert!(matches!(err, DriverError::Refused { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn the_connector_key_rotates() {
    let env = Env::start().await;
    let old = key_secret(OWNER_KEY, Some(OWNER_KEY_ID));
    let integration = env.integration(ORG);
    let current = env.driver_for(&integration, &old);

    let pending = current.create_connector_secret().await.expect("creates");
    let parsed: Value = serde_json::from_str(pending.expose()).expect("json");
    let new_key = parsed["api_key"].as_str().expect("api_key").to_string();
    assert!(
        parsed["api_key_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert_ne!(new_key, OWNER_KEY);

    current.set_connector_secret(&pending).await.expect("set");
    current
        .set_connector_secret(&pending)
        .await
        .expect("set is repeatable");
    current.test_connector_secret(&pending).await.expect("test");
    current
        .retire_connector_secret(&old, &pending)
        .await
        .expect("retire");
    // Retiring again (a retried step) finds the old key already gone.
    current
        .retire_connector_secret(&old, &pending)
        .await
        .expect("retire is repeatable");

    let err = current
        .check_prerequisites()
        .await
        .expect_err("old key is gone");
    assert!(matches!(err, DriverError::Unauthorized { .. }), "{err:?}");
    env.driver_for(&integration, &pending)
        .check_prerequisites()
        .await
        .expect("the new key works");
}

#[tokio::test]
async fn retiring_a_key_without_an_id_is_left_to_the_console() {
    let env = Env::start().await;
    let old = key_secret(OWNER_KEY, None);
    let current = env.driver_for(&env.integration(ORG), &old);
    let pending = current.create_connector_secret().await.expect("creates");
    let err = current
        .retire_connector_secret(&old, &pending)
        .await
        .expect_err("cannot tell which key to delete");
    assert_eq!(
        err,
        DriverError::Refused {
            reason: OLD_KEY_WITHOUT_ID.into()
        }
    );
    // The old key was not touched, and retiring the key in use is never attempted.
    env.driver_with_key(OWNER_KEY)
        .check_prerequisites()
        .await
        .expect("old key still works");
    current
        .retire_connector_secret(&pending, &pending)
        .await
        .expect("nothing to retire");
    env.driver_for(&env.integration(ORG), &pending)
        .check_prerequisites()
        .await
        .expect("new key still works");
}

#[tokio::test]
async fn a_non_owner_key_cannot_rotate() {
    let env = Env::start().await;
    let err = env
        .driver_with_key(VIEWER_KEY)
        .create_connector_secret()
        .await
        .expect_err("viewer key");
    assert!(
        matches!(err, DriverError::MissingPrivileges { .. }),
        "{err:?}"
    );
}
