//! The request as callers see it: the record, plus whether the caller may decide it.

use serde_json::{Value, json};
use shared::model::{AccessRequest, Identity};
use shared::policy::can_decide;

pub fn request(r: &AccessRequest, viewer: &Identity) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        // Internal bookkeeping of the sweeps, not part of the API.
        map.remove("version");
        map.remove("revoke_attempts");
        map.insert(
            "duration".into(),
            json!(shared::model::format_duration(
                std::time::Duration::from_secs(r.duration_secs)
            )),
        );
        map.insert("can_decide".into(), json!(can_decide(r, viewer)));
        if r.revoke_attempts > 0 {
            map.insert("revoke_attempts".into(), json!(r.revoke_attempts));
        }
    }
    v
}
