//! The request as callers see it: the record, plus whether the caller may decide or cancel it.

use serde_json::{Value, json};
use shared::model::{AccessRequest, ExtensionPolicy, Identity};
use shared::policy::can_decide;

pub fn request(r: &AccessRequest, viewer: &Identity) -> Value {
    let mut v = r.view_json();
    if let Some(map) = v.as_object_mut() {
        // Internal bookkeeping of the sweeps, not part of the API.
        map.remove("version");
        map.remove("revoke_attempts");
        map.remove("key_secret_unsettled");
        map.remove("expiry_warned_at");
        map.remove("key_renewal");
        map.insert(
            "duration".into(),
            json!(shared::model::format_duration(
                std::time::Duration::from_secs(r.duration_secs)
            )),
        );
        map.insert("can_decide".into(), json!(can_decide(r, viewer)));
        // The same rule `POST /requests/{id}/cancel` applies: the requester, by person.
        map.insert(
            "can_cancel".into(),
            json!(r.is_cancellable() && r.parent.is_none() && r.requester.same_person(viewer)),
        );
        // What the approver approves: the concrete indices, data streams or Cloud objects the
        // grant names (aliases replaced by what they pointed to when the request was made).
        map.insert("grant_reaches".into(), json!(r.resources));
        map.insert("via_aliases".into(), via_aliases(r));
        if r.revoke_attempts > 0 {
            map.insert("revoke_attempts".into(), json!(r.revoke_attempts));
        }
    }
    v
}

/// [`request`], plus `extension`: whether and how far the grant may still be extended (for
/// its requester, while it is active; `null` when its flow offers no extensions).
pub fn request_with_extension(
    r: &AccessRequest,
    viewer: &Identity,
    policy: Option<&ExtensionPolicy>,
) -> Value {
    let mut v = request(r, viewer);
    let allowance = policy.and_then(|p| shared::extension::allowance(r, p));
    v["extension"] = match allowance {
        Some(a) => json!({
            "approval": a.approval,
            "remaining": a.remaining,
            "max_extension": shared::model::format_duration(std::time::Duration::from_secs(a.max_extension_secs)),
            "max_extension_secs": a.max_extension_secs,
            "latest_end": a.latest_end,
        }),
        None => Value::Null,
    };
    v
}

/// Each alias the requester named and the resources it was resolved to, as recorded when the
/// request was created.
fn via_aliases(r: &AccessRequest) -> Value {
    r.history
        .iter()
        .find(|e| e.action == "request.created")
        .and_then(|e| e.details.get("via_aliases"))
        .filter(|v| v.as_object().is_some_and(|m| !m.is_empty()))
        .cloned()
        .unwrap_or_else(|| json!({}))
}

/// `grant_allows`: what the grant will allow (`scope`), with what its names were on the cluster
/// when the viewer looked (Elasticsearch only).
pub fn grant_allows(
    scope: &shared::grant_scope::GrantScope,
    resolution: Option<&shared::grant_scope::Resolution>,
) -> Value {
    let mut v = serde_json::to_value(scope).unwrap_or_default();
    if let Some(r) = resolution {
        v["resolution"] = json!(r);
    }
    v
}
