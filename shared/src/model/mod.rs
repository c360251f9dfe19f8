//! The domain model: what users configure (integrations, flows), what discovery finds
//! (resources), what requesters ask for (requests that become grants) and the audit trail.

mod audit;
mod bundle;
mod document_security;
mod duration;
mod extension;
mod flow;
mod integration;
mod kibana;
mod permission;
mod principal;
mod principal_state;
mod proxy_credential;
mod remote_indices;
mod request;
mod resource;

pub use audit::{AuditEvent, AuditOutcome, AuditSubject};
pub use bundle::{
    BUNDLE_CHILD, BUNDLE_CONFLICT, BundleItem, BundlePart, MAX_BUNDLE_ITEMS, MIN_BUNDLE_ITEMS,
    child_id, child_summary,
};
pub use document_security::{
    FieldSecurity, MAX_QUERY_BYTES, TEMPLATE_VARIABLES, is_template, role_query,
};
pub use duration::{format_duration, parse_duration};
pub use extension::{
    ExtensionAllowance, ExtensionApproval, ExtensionPolicy, KeyRenewal, MAX_EXTENSIONS,
    RENEWAL_LEASE,
};
pub use flow::{
    AccessFlow, AccessFlowSpec, ApprovalPolicy, ApprovalRule, BREAK_GLASS_MAX_DURATION,
    CredentialMode, DEFAULT_MAX_DURATION, EscalationSpec, MAX_QUORUM,
};
pub use integration::{
    Authorization, CustomPermission, DEFAULT_CONNECTOR_PREFIX, DiscoverySelection, Integration,
    IntegrationKind, IntegrationSpec, OwnerAttribute, PendingRetire, ResourceOwner, TlsConfig,
    check_secret_binding, secret_bound_to, secret_name_of_arn,
};
pub use kibana::{KIBANA_APPLICATION, KibanaGrant, KibanaSpace, is_space_id};
pub use permission::{CLOUD_ROLE_IDS, CloudRoleScope, ES_INDEX_PRIVILEGES, ResolvedPermission};
pub use principal::{Identity, Person, PrincipalKind, PrincipalRef, distinct_users, fold_email};
pub use principal_state::{PRINCIPAL_IDLE, PrincipalState, SharedObject};
pub use proxy_credential::{ProxyCredential, SecretHash};
pub use remote_indices::{RemoteIndexGrant, split_remote};
pub use request::{
    AccessRequest, ApprovalStep, BreakGlass, Decision, DecisionKind, Escalation, RequestStatus,
    Review, ReviewOutcome, START_GRACE, StepApproval, TargetObject, TransitionError,
};
pub use resource::{Resource, ResourceKind};
