//! An integration: one Elasticsearch cluster or one Elastic Cloud organization, with the
//! settings the product documents name (connector secret, rotation and cleanup days, custom
//! access details, integration and resource owners, selected resources).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::document_security::{FieldSecurity, check_field_security, check_query};
use super::kibana::{KibanaGrant, check_kibana};
use super::permission::{ResolvedPermission, builtin_es_permission, cloud_role};
use super::principal::{PrincipalRef, check_principals};
use super::remote_indices::{RemoteIndexGrant, check_remote_indices};
use crate::validation::{TextKind, ValidationErrors, check_name, check_text};

pub const MAX_CUSTOM_ACCESS_DETAILS: usize = 400;
pub const DEFAULT_USER_PREFIX: &str = "ejit_";
pub const DEFAULT_CLOUD_API_URL: &str = "https://api.elastic-cloud.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationKind {
    Elasticsearch,
    ElasticCloud,
}

impl IntegrationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Elasticsearch => "elasticsearch",
            Self::ElasticCloud => "elastic_cloud",
        }
    }
}

/// Who enforces a grant on an Elasticsearch cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Authorization {
    /// The cluster's own security: grants are users, roles and API keys on the cluster.
    #[default]
    Native,
    /// The cluster's security is off (or not used): grants are proxy credentials that the
    /// authorizing proxy (`functions/proxy`) checks; nothing is created on the cluster.
    Proxy,
}

impl Authorization {
    pub fn is_native(&self) -> bool {
        *self == Self::Native
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerAttribute {
    User,
    Group,
}

/// The seeds' "Resource Owner": the tag whose value names who approves access to a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceOwner {
    pub tag_key: String,
    pub attribute: OwnerAttribute,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate(s) trusted in addition to the system roots. Verification is always on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
}

/// The seeds' "select one or more resources": which discovered resources the integration manages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoverySelection {
    #[serde(default = "include_everything")]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

fn include_everything() -> Vec<String> {
    vec!["*".to_string()]
}

impl Default for DiscoverySelection {
    fn default() -> Self {
        Self {
            include: include_everything(),
            exclude: Vec::new(),
        }
    }
}

/// A named permission level beyond read/write/manage, e.g. `{"name":"append","privileges":["create_doc"]}`.
/// Its `privileges` apply to the resources a request names; what else it carries is fixed by
/// the administrator and the same for every grant of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomPermission {
    pub name: String,
    pub privileges: Vec<String>,
    /// Index privileges on remote clusters' indices (cross-cluster search).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote_indices: Vec<RemoteIndexGrant>,
    /// Document-level security: only documents matching this query are visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<serde_json::Map<String, serde_json::Value>>,
    /// Field-level security: only these fields are visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_security: Option<FieldSecurity>,
    /// Kibana spaces and features (application privileges of `kibana-.kibana`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kibana: Vec<KibanaGrant>,
}

impl IntegrationSpec {
    /// Every Kibana space its custom permissions name, once each, in order.
    pub fn kibana_spaces(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for s in self
            .custom_permissions
            .iter()
            .flat_map(|c| &c.kibana)
            .flat_map(|k| &k.spaces)
        {
            if !out.contains(&s.as_str()) {
                out.push(s);
            }
        }
        out
    }
}

impl CustomPermission {
    /// Does it restrict documents or fields (a licence feature of Elasticsearch)?
    pub fn uses_document_security(&self) -> bool {
        self.query.is_some() || self.field_security.is_some()
    }
}

/// What an administrator PUTs to `/integrations/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationSpec {
    pub kind: IntegrationKind,
    /// Elasticsearch: the cluster URL. Elastic Cloud: optional API endpoint override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    pub secret_arn: String,
    #[serde(default)]
    pub tls: TlsConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_rotation_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_cleanup_days: Option<u32>,
    /// The longest an API key on the cluster should live (its expiration minus its creation):
    /// keys beyond it, and keys that never expire, are reported (`GET
    /// /integrations/{name}/api-keys/report`, and a metric each hour). Elasticsearch has no such
    /// setting of its own (elastic/elasticsearch#65658).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_max_lifetime_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_access_details: Option<String>,
    #[serde(default)]
    pub integration_owners: Vec<PrincipalRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_owner: Option<ResourceOwner>,
    #[serde(default)]
    pub discovery: DiscoverySelection,
    /// Prefix of the Elasticsearch users and roles this integration creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_permissions: Vec<CustomPermission>,
    /// Allow a plain `http://` URL. For local use only (emulators, a cluster on loopback):
    /// the connector's credentials would cross the network in clear text.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_insecure_http: bool,
    /// Who else hears about this integration's requests, revoke failures and rotation failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<crate::notifications::NotificationSettings>,
    /// Elasticsearch only: `proxy` for a cluster whose own security is off.
    #[serde(default, skip_serializing_if = "Authorization::is_native")]
    pub authorization: Authorization,
    /// `authorization: proxy` only: where requesters reach the proxy (shown with their
    /// credentials instead of the cluster's URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// The cluster's Kibana: when set, the Kibana spaces custom permissions name are checked
    /// against Kibana's own list (read with the connector's credentials) when saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kibana_url: Option<String>,
}

/// A stored integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integration {
    pub name: String,
    pub spec: IntegrationSpec,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_discovery_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_discovery_error: Option<String>,
    /// Connector credentials a rotation replaced but could not retire on the target yet; the
    /// cleanup sweep retries each until it is gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_retires: Vec<PendingRetire>,
    /// The CloudFormation resource that created it (`cloudformation:<stack id>/<logical id>`),
    /// the only one whose requests may change or delete it; absent when made through the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
}

/// A replaced connector credential that is still valid on the target (an Elastic Cloud API key
/// whose deletion failed). Holds only ids: the value stays in its Secrets Manager version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRetire {
    /// The replaced version of the connector secret (it holds the old credential).
    pub secret_version: String,
    /// The rotation that replaced it.
    pub token: String,
    /// The old credential's id on the target, when it has one (a Cloud API key id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
    pub since: DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: String,
}

impl Integration {
    pub fn kind(&self) -> IntegrationKind {
        self.spec.kind
    }

    pub fn user_prefix(&self) -> &str {
        self.spec
            .user_prefix
            .as_deref()
            .unwrap_or(DEFAULT_USER_PREFIX)
    }

    /// Grants are proxy credentials, checked by the authorizing proxy.
    pub fn is_proxy(&self) -> bool {
        self.spec.kind == IntegrationKind::Elasticsearch
            && self.spec.authorization == Authorization::Proxy
    }

    pub fn cloud_api_url(&self) -> &str {
        self.spec.url.as_deref().unwrap_or(DEFAULT_CLOUD_API_URL)
    }

    /// Resolve a permission name as this integration understands it.
    pub fn resolve_permission(&self, name: &str) -> Option<ResolvedPermission> {
        self.spec.resolve_permission(name)
    }
}

impl IntegrationSpec {
    pub fn resolve_permission(&self, name: &str) -> Option<ResolvedPermission> {
        match self.kind {
            IntegrationKind::Elasticsearch => match builtin_es_permission(name) {
                Some(privileges) => Some(ResolvedPermission::EsIndex {
                    privileges,
                    remote_indices: vec![],
                    query: None,
                    field_security: None,
                    kibana: vec![],
                }),
                None => self
                    .custom_permissions
                    .iter()
                    .find(|c| c.name == name)
                    .map(|c| ResolvedPermission::EsIndex {
                        privileges: c.privileges.clone(),
                        remote_indices: c.remote_indices.clone(),
                        query: c.query.clone(),
                        field_security: c.field_security.clone(),
                        kibana: c.kibana.clone(),
                    }),
            },
            IntegrationKind::ElasticCloud => {
                cloud_role(name).map(|scope| ResolvedPermission::CloudRole {
                    role_id: name.to_string(),
                    scope,
                })
            }
        }
    }

    /// Every rule from the product documents, each with a stable code naming its field.
    pub fn validate(&self, name: &str) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::default();
        check_name(&mut e, "name", name);
        match self.kind {
            IntegrationKind::Elasticsearch => {
                match &self.url {
                    Some(url) => check_url(&mut e, "url", url, self.allow_insecure_http),
                    None => e.push(
                        "missing_url",
                        "url",
                        "url is required for an elasticsearch integration",
                    ),
                }
                if self.organization_id.is_some() {
                    e.push(
                        "setting_not_supported",
                        "organization_id",
                        "organization_id applies only to elastic_cloud integrations",
                    );
                }
                check_days(
                    &mut e,
                    "credential_rotation_days",
                    self.credential_rotation_days,
                );
                check_days(&mut e, "user_cleanup_days", self.user_cleanup_days);
                check_days(
                    &mut e,
                    "api_key_max_lifetime_days",
                    self.api_key_max_lifetime_days,
                );
                if let Some(prefix) = &self.user_prefix {
                    check_prefix(&mut e, prefix);
                }
                self.check_custom_permissions(&mut e);
                self.check_proxy(&mut e);
                if let Some(url) = &self.kibana_url {
                    check_url(&mut e, "kibana_url", url, self.allow_insecure_http);
                    if !self.authorization.is_native() {
                        e.push(
                            "setting_not_supported",
                            "kibana_url",
                            "kibana_url needs the cluster's own security (authorization \"native\")",
                        );
                    }
                }
            }
            IntegrationKind::ElasticCloud => {
                if let Some(url) = &self.url {
                    check_url(&mut e, "url", url, self.allow_insecure_http);
                }
                match self.organization_id.as_deref().map(str::trim) {
                    Some(id) if !id.is_empty() && id.len() <= 128 => {}
                    _ => e.push(
                        "missing_organization_id",
                        "organization_id",
                        "organization_id is required for an elastic_cloud integration (1 to 128 characters)",
                    ),
                }
                for (field, set) in [
                    (
                        "credential_rotation_days",
                        self.credential_rotation_days.is_some(),
                    ),
                    ("user_cleanup_days", self.user_cleanup_days.is_some()),
                    (
                        "api_key_max_lifetime_days",
                        self.api_key_max_lifetime_days.is_some(),
                    ),
                    ("user_prefix", self.user_prefix.is_some()),
                    ("custom_permissions", !self.custom_permissions.is_empty()),
                    ("tls.ca_cert", self.tls.ca_cert.is_some()),
                    ("authorization", !self.authorization.is_native()),
                    ("proxy_url", self.proxy_url.is_some()),
                    ("kibana_url", self.kibana_url.is_some()),
                ] {
                    if set {
                        e.push(
                            "setting_not_supported",
                            field,
                            format!("{field} applies only to elasticsearch integrations"),
                        );
                    }
                }
            }
        }
        check_secret_arn(&mut e, &self.secret_arn);
        if let Some(pem) = &self.tls.ca_cert {
            check_ca_cert(&mut e, pem);
        }
        if let Some(details) = &self.custom_access_details
            && details.chars().count() > MAX_CUSTOM_ACCESS_DETAILS
        {
            e.push(
                "custom_access_details_too_long",
                "custom_access_details",
                format!(
                    "custom_access_details may be at most {MAX_CUSTOM_ACCESS_DETAILS} characters (got {})",
                    details.chars().count()
                ),
            );
        }
        // Shown to requesters and approvers, and sent to targets: printable text only.
        if let Some(details) = &self.custom_access_details {
            check_text(&mut e, "custom_access_details", details, TextKind::FreeText);
        }
        if let Some(org) = &self.organization_id {
            check_text(&mut e, "organization_id", org, TextKind::Label);
        }
        if let Some(owner) = &self.resource_owner {
            check_text(
                &mut e,
                "resource_owner.tag_key",
                &owner.tag_key,
                TextKind::Label,
            );
        }
        check_principals(&mut e, "integration_owners", &self.integration_owners);
        if let Some(owner) = &self.resource_owner {
            let key = owner.tag_key.trim();
            if key.is_empty() || key.len() > 128 || key != owner.tag_key {
                e.push(
                    "invalid_tag_key",
                    "resource_owner.tag_key",
                    "resource_owner.tag_key must be 1 to 128 characters without surrounding spaces",
                );
            }
            if self.integration_owners.is_empty() {
                e.push(
                    "resource_owner_requires_integration_owner",
                    "integration_owners",
                    "when resource_owner is set, at least one integration owner must be set \
                     (the fallback approver when a resource has no owner)",
                );
            }
        }
        check_patterns(&mut e, "discovery.include", &self.discovery.include, true);
        check_patterns(&mut e, "discovery.exclude", &self.discovery.exclude, false);
        if let Some(n) = &self.notifications {
            n.validate(&mut e, "notifications");
        }
        e.into_result()
    }

    /// A proxy integration has no accounts on the cluster: nothing to rotate or clean up.
    fn check_proxy(&self, e: &mut ValidationErrors) {
        if self.authorization.is_native() {
            if self.proxy_url.is_some() {
                e.push(
                    "setting_not_supported",
                    "proxy_url",
                    "proxy_url applies only to integrations with authorization \"proxy\"",
                );
            }
            return;
        }
        for (field, set) in [
            (
                "credential_rotation_days",
                self.credential_rotation_days.is_some(),
            ),
            ("user_cleanup_days", self.user_cleanup_days.is_some()),
        ] {
            if set {
                e.push(
                    "setting_not_supported",
                    field,
                    format!(
                        "{field} does not apply to authorization \"proxy\": no account is made \
                         on the cluster (each grant's proxy credential ends with the grant)"
                    ),
                );
            }
        }
        if let Some(url) = &self.proxy_url {
            check_url(e, "proxy_url", url, self.allow_insecure_http);
        }
    }

    fn check_custom_permissions(&self, e: &mut ValidationErrors) {
        for (i, c) in self.custom_permissions.iter().enumerate() {
            let field = format!("custom_permissions[{i}]");
            check_name(e, &format!("{field}.name"), &c.name);
            if builtin_es_permission(&c.name).is_some() {
                e.push(
                    "duplicate_permission",
                    format!("{field}.name"),
                    format!(
                        "{} is a built-in permission and cannot be redefined",
                        c.name
                    ),
                );
            }
            if self.custom_permissions[..i]
                .iter()
                .any(|o| o.name == c.name)
            {
                e.push(
                    "duplicate_permission",
                    format!("{field}.name"),
                    format!("custom permission {} is defined twice", c.name),
                );
            }
            if c.privileges.is_empty() {
                e.push(
                    "empty_privileges",
                    format!("{field}.privileges"),
                    "a custom permission needs at least one index privilege",
                );
            }
            for p in &c.privileges {
                if !super::ES_INDEX_PRIVILEGES.contains(&p.as_str()) {
                    e.push(
                        "unknown_privilege",
                        format!("{field}.privileges"),
                        format!("{p:?} is not an Elasticsearch index privilege"),
                    );
                }
            }
            check_remote_indices(e, &format!("{field}.remote_indices"), &c.remote_indices);
            if let Some(q) = &c.query {
                check_query(e, &format!("{field}.query"), q);
            }
            if let Some(fs) = &c.field_security {
                check_field_security(e, &format!("{field}.field_security"), fs);
            }
            check_kibana(e, &format!("{field}.kibana"), &c.kibana);
            if !self.authorization.is_native() && !c.kibana.is_empty() {
                e.push(
                    "setting_not_supported",
                    format!("{field}.kibana"),
                    "kibana privileges need the cluster's own security (authorization \"native\"): \
                     Kibana reads them from the account's roles",
                );
            }
            if !self.authorization.is_native() && c.uses_document_security() {
                // The proxy passes documents through as the cluster returns them.
                e.push(
                    "setting_not_supported",
                    format!("{field}.query"),
                    "query and field_security need the cluster's own security (authorization \
                     \"native\"): Elasticsearch filters the documents and fields",
                );
            }
            if !self.authorization.is_native() && !c.remote_indices.is_empty() {
                // The proxy sees only requests to the cluster it fronts: a search the cluster
                // forwards to a remote one is beyond what it checks.
                e.push(
                    "setting_not_supported",
                    format!("{field}.remote_indices"),
                    "remote_indices needs the cluster's own security (authorization \"native\"): \
                     the remote cluster enforces them on the role the grant creates",
                );
            }
        }
    }
}

fn check_days(e: &mut ValidationErrors, field: &str, value: Option<u32>) {
    if let Some(days) = value
        && !(1..=3650).contains(&days)
    {
        e.push(
            "invalid_days",
            field,
            format!("{field} must be a whole number of days from 1 to 3650 (got {days})"),
        );
    }
}

fn check_url(e: &mut ValidationErrors, field: &str, raw: &str, allow_http: bool) {
    let parsed = match url::Url::parse(raw) {
        Ok(u) => u,
        Err(err) => {
            e.push(
                "invalid_url",
                field,
                format!("{field} is not a valid URL: {err}"),
            );
            return;
        }
    };
    match parsed.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => e.push(
            "insecure_url",
            field,
            format!(
                "{field} must use https: plain http sends the connector's credentials in clear \
                 text (set allow_insecure_http to true for local use only)"
            ),
        ),
        _ => e.push("invalid_url", field, format!("{field} must use https")),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        e.push("invalid_url", field, format!("{field} must name a host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Credentials belong in the connector secret, where they are rotated and never logged.
        e.push(
            "url_has_credentials",
            field,
            format!("{field} must not embed credentials; put them in the connector secret"),
        );
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        e.push(
            "invalid_url",
            field,
            format!("{field} must not have a query or fragment"),
        );
    }
}

/// `arn:<partition>:secretsmanager:<region>:<12-digit account>:secret:<name>`.
fn check_secret_arn(e: &mut ValidationErrors, arn: &str) {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    let ok = parts.len() == 7
        && parts[0] == "arn"
        && matches!(
            parts[1],
            "aws" | "aws-cn" | "aws-us-gov" | "aws-iso" | "aws-iso-b"
        )
        && parts[2] == "secretsmanager"
        && !parts[3].is_empty()
        && parts[3]
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5] == "secret"
        && !parts[6].is_empty()
        && parts[6].len() <= 512
        && parts[6]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c));
    if !ok {
        e.push(
            "invalid_secret_arn",
            "secret_arn",
            "secret_arn must be a Secrets Manager secret ARN \
             (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)",
        );
    }
}

/// The default name prefix of connector secrets (the stack's `ConnectorSecretPrefix`).
pub const DEFAULT_CONNECTOR_PREFIX: &str = "elastic-jit/connectors/";

/// The secret's name in a complete Secrets Manager ARN: the resource after `secret:`, less the
/// `-` and six characters Secrets Manager appends. A partial ARN (without them) is not
/// accepted: it could name another secret whose own name ends like a suffix.
pub fn secret_name_of_arn(arn: &str) -> Option<&str> {
    let (_, resource) = arn.split_once(":secret:")?;
    let (name, suffix) = resource.rsplit_once('-')?;
    (suffix.len() == 6 && suffix.chars().all(|c| c.is_ascii_alphanumeric()) && !name.is_empty())
        .then_some(name)
}

/// Is `arn` a connector secret of integration `integration`? Its name must be
/// `<prefix><integration>`, or lie under `<prefix><integration>/` (integration names have no
/// `/`, so no two integrations can claim one secret). This is what keeps one integration's
/// credentials from being sent to another integration's URL. The name alone cannot tell a
/// complete ARN from another secret's partial one (`…/prod-search` is both `prod` with suffix
/// `search` and `prod-search` without a suffix): reads check that Secrets Manager answers with
/// exactly this ARN ([`crate::secrets::SecretsError::NotExactArn`]).
pub fn secret_bound_to(arn: &str, integration: &str, prefix: &str) -> bool {
    let Some(rest) = secret_name_of_arn(arn).and_then(|n| n.strip_prefix(prefix)) else {
        return false;
    };
    match rest.strip_prefix(integration) {
        Some("") => true,
        Some(sub) => sub.starts_with('/') && sub.len() > 1,
        None => false,
    }
}

/// Push `connector_secret_not_bound` unless `arn` is the connector secret of `integration`.
pub fn check_secret_binding(e: &mut ValidationErrors, arn: &str, integration: &str, prefix: &str) {
    if !secret_bound_to(arn, integration, prefix) {
        e.push(
            "connector_secret_not_bound",
            "secret_arn",
            format!(
                "secret_arn must be the complete ARN of a secret named {prefix}{integration} (or \
                 under {prefix}{integration}/): a connector secret belongs to one integration"
            ),
        );
    }
}

fn check_ca_cert(e: &mut ValidationErrors, pem: &str) {
    let trimmed = pem.trim();
    if pem.len() > 64 * 1024
        || !trimmed.starts_with("-----BEGIN CERTIFICATE-----")
        || !trimmed.ends_with("-----END CERTIFICATE-----")
    {
        e.push(
            "invalid_ca_cert",
            "tls.ca_cert",
            "tls.ca_cert must be one or more PEM certificates (-----BEGIN CERTIFICATE----- …)",
        );
    }
}

fn check_prefix(e: &mut ValidationErrors, prefix: &str) {
    let ok = (1..=32).contains(&prefix.len())
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !ok {
        e.push(
            "invalid_user_prefix",
            "user_prefix",
            "user_prefix must be 1 to 32 characters of letters, digits, '_', '-' or '.'",
        );
    }
}

/// Resource patterns: names with optional `*` wildcards; no commas or spaces (they would
/// change the meaning of an Elasticsearch index expression).
pub(crate) fn check_patterns(
    e: &mut ValidationErrors,
    field: &str,
    patterns: &[String],
    required: bool,
) {
    if required && patterns.is_empty() {
        e.push(
            "empty_patterns",
            field,
            format!("{field} needs at least one pattern"),
        );
    }
    for (i, p) in patterns.iter().enumerate() {
        let ok = !p.is_empty()
            && p.len() <= 255
            && !p
                .chars()
                .any(|c| c == ',' || c.is_whitespace() || c.is_control());
        if !ok {
            e.push(
                "invalid_pattern",
                format!("{field}[{i}]"),
                format!(
                    "{field}[{i}] must be a name or wildcard pattern of 1 to 255 characters \
                     without commas or spaces"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "elastic-jit/connectors/";

    fn arn(name: &str) -> String {
        format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}")
    }

    #[test]
    fn labels_and_details_refuse_control_characters() {
        let spec: IntegrationSpec = serde_json::from_value(serde_json::json!({
            "kind": "elastic_cloud", "organization_id": "org\u{0}", "secret_arn": arn("x-AbC123"),
            "custom_access_details": "see\u{1b}[2J", "integration_owners": [{"type": "group", "value": "g"}],
            "resource_owner": {"tag_key": "own\u{7}er", "attribute": "user"}
        }))
        .unwrap();
        let e = spec.validate("x").unwrap_err();
        let fields: Vec<&str> =
            e.0.iter()
                .filter(|f| f.code == "control_character")
                .map(|f| f.field.as_str())
                .collect();
        assert_eq!(
            fields,
            [
                "custom_access_details",
                "organization_id",
                "resource_owner.tag_key"
            ]
        );
    }

    #[test]
    fn a_connector_secret_is_bound_to_one_integration_by_name() {
        assert!(secret_bound_to(
            &arn("elastic-jit/connectors/prod-AbC123"),
            "prod",
            P
        ));
        assert!(secret_bound_to(
            &arn("elastic-jit/connectors/prod/v2-AbC123"),
            "prod",
            P
        ));
        for (secret, integration) in [
            // Another integration's secret, or a name that only starts like it.
            ("elastic-jit/connectors/prod-AbC123", "staging"),
            ("elastic-jit/connectors/prod-x-AbC123", "prod"),
            ("elastic-jit/connectors/prod/-AbC123", "prod"),
            // Outside the prefix, or a partial ARN without Secrets Manager's suffix.
            ("other/prod-AbC123", "prod"),
            ("elastic-jit/connectors/prod", "prod"),
            ("elastic-jit/connectors/prod-abc", "prod"),
            ("elastic-jit/connectors/prod-AbC12!", "prod"),
        ] {
            assert!(
                !secret_bound_to(&arn(secret), integration, P),
                "{secret} for {integration}"
            );
        }
        // A partial ARN for integration `prod-AbC123` must not pass as prod's secret either way.
        assert!(!secret_bound_to(
            &arn("elastic-jit/connectors/prod-AbC123"),
            "prod-AbC123",
            P
        ));
    }
}
