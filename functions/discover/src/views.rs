//! JSON shapes returned by the API: the stored spec flattened beside its metadata.

use serde_json::{Value, json};
use shared::model::{AccessFlow, Integration};

pub fn integration(i: &Integration) -> Value {
    let mut v = serde_json::to_value(&i.spec).unwrap_or_default();
    v["name"] = json!(i.name);
    v["version"] = json!(i.version);
    v["created_at"] = json!(i.created_at);
    v["updated_at"] = json!(i.updated_at);
    v["last_discovery_at"] = json!(i.last_discovery_at);
    v["last_discovery_error"] = json!(i.last_discovery_error);
    v
}

pub fn flow(f: &AccessFlow) -> Value {
    let mut v = serde_json::to_value(&f.spec).unwrap_or_default();
    v["name"] = json!(f.name);
    v["max_duration"] = json!(shared::model::format_duration(f.spec.max_duration()));
    v["approval_window"] = json!(shared::model::format_duration(f.spec.approval_window()));
    v["version"] = json!(f.version);
    v["created_at"] = json!(f.created_at);
    v["updated_at"] = json!(f.updated_at);
    v
}
