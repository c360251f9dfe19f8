//! JSON shapes returned by the API: the stored spec flattened beside its metadata for admins,
//! and the least a requester needs to ask for access for everyone else.

use serde_json::{Value, json};
use shared::discovery::DiscoverySummary;
use shared::model::{AccessFlow, Integration, Resource};

pub fn integration(i: &Integration) -> Value {
    let mut v = serde_json::to_value(&i.spec).unwrap_or_default();
    v["name"] = json!(i.name);
    v["version"] = json!(i.version);
    v["created_at"] = json!(i.created_at);
    v["updated_at"] = json!(i.updated_at);
    v["last_discovery_at"] = json!(i.last_discovery_at);
    v["last_discovery_error"] = json!(i.last_discovery_error);
    // Which CloudFormation resource owns it (null: the API's): `elastic-jit apply` and other
    // tools leave a stack's records to the stack.
    v["managed_by"] = json!(i.managed_by);
    v
}

/// `GET /integrations/{name}` for an administrator: old connector credentials still valid on
/// the target are shown, for the operators who fix it.
pub fn integration_for_admin(i: &Integration) -> Value {
    let mut body = integration(i);
    if !i.pending_retires.is_empty() {
        body["pending_retires"] = json!(i.pending_retires);
    }
    body
}

/// The answer to `PUT /integrations/{name}`: `discovery` is the summary of the discovery just
/// run, in place of the selection.
pub fn integration_saved(i: &Integration, summary: &DiscoverySummary) -> Value {
    let mut body = integration(i);
    body["discovery"] = json!(summary);
    body
}

/// An integration as a requester of one of its flows sees it: where the access will be, what
/// it offers them and who owns it (the fallback approvers of an owned resource), not how
/// elastic-jit reaches it (connector secret, TLS), how discovery is set up or what went wrong
/// last time.
pub fn integration_for_requester(i: &Integration, flows: &[&AccessFlow]) -> Value {
    let mut permissions: Vec<&str> = flows
        .iter()
        .flat_map(|f| f.spec.permissions.iter().map(String::as_str))
        .collect();
    permissions.sort_unstable();
    permissions.dedup();
    json!({
        "name": i.name,
        "kind": i.spec.kind.as_str(),
        "url": i.spec.url,
        "organization_id": i.spec.organization_id,
        "custom_access_details": i.spec.custom_access_details,
        "integration_owners": i.spec.integration_owners,
        "flows": flows.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        "permissions": permissions,
    })
}

pub fn flow(f: &AccessFlow) -> Value {
    let mut v = serde_json::to_value(&f.spec).unwrap_or_default();
    v["name"] = json!(f.name);
    v["max_duration"] = json!(shared::model::format_duration(f.spec.max_duration()));
    v["approval_window"] = json!(shared::model::format_duration(f.spec.approval_window()));
    v["schedule_horizon"] = json!(shared::model::format_duration(f.spec.schedule_horizon()));
    v["version"] = json!(f.version);
    v["created_at"] = json!(f.created_at);
    v["updated_at"] = json!(f.updated_at);
    v["managed_by"] = json!(f.managed_by);
    v
}

/// A flow as one of its requesters sees it: what they may ask for and on what terms; not who
/// else may use it or the approver list (the request itself shows who must approve it).
pub fn flow_for_requester(f: &AccessFlow) -> Value {
    let mut v = flow(f);
    if let Some(map) = v.as_object_mut() {
        for field in [
            "requesters",
            "approvers",
            // Where the flow's notifications go (channels, addresses, webhook URLs) is the
            // administrators' business.
            "notifications",
            "version",
            "created_at",
            "updated_at",
            // Which stack (account, region, name) manages it is the administrators' business.
            "managed_by",
        ] {
            map.remove(field);
        }
        // Who an escalation reaches is the approver list too.
        if let Some(e) = map
            .get_mut("approval")
            .and_then(|a| a.get_mut("escalation"))
            .and_then(|e| e.as_object_mut())
        {
            e.remove("to");
        }
    }
    v
}

/// A discovered resource as an administrator sees it: the stored record.
pub fn resource(r: &Resource) -> Value {
    serde_json::to_value(r).unwrap_or_default()
}

/// A discovered resource as a requester sees it: its owner (who will approve it, in a flow
/// that names no approvers) but no alias internals.
pub fn resource_for_requester(r: &Resource) -> Value {
    json!({
        "name": r.name,
        "kind": r.kind,
        "display_name": r.display_name,
        "owner": r.owner,
    })
}

/// `GET /integrations/{name}/api-keys/report`.
/// `GET /integrations/{name}/kibana-spaces`.
pub fn kibana_spaces(integration: &str, spaces: &[shared::model::KibanaSpace]) -> Value {
    json!({ "integration": integration, "spaces": spaces })
}

pub fn api_key_report(integration: &str, r: &shared::key_hygiene::ApiKeyReport) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    v["integration"] = json!(integration);
    v
}
