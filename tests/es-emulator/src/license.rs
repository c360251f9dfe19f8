//! The cluster's licence: `GET /_license` and the one licensed security feature the emulator
//! models, document- and field-level security (`XPackLicenseState` feature
//! `security-dls-fls`, minimum mode PLATINUM, needs an active licence; a trial allows every
//! feature: `License.OperationMode.isAllowedByOperationMode`).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::authz::require_cluster;
use crate::ctx::Ctx;
use crate::errors::{ApiResponse, ApiResult, es_error};

/// A licence as a test sets it (`PUT /_emulator/license`, or the seed's `license`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct License {
    /// `basic` (a new cluster's), `standard`, `gold`, `platinum`, `enterprise`, `trial`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `active`, `expired` or `invalid`.
    #[serde(default = "active")]
    pub status: String,
}

fn active() -> String {
    "active".into()
}

impl Default for License {
    fn default() -> Self {
        Self {
            kind: "basic".into(),
            status: active(),
        }
    }
}

/// `License.OperationMode.resolve`, ranked.
fn mode_rank(kind: &str) -> Option<u8> {
    Some(match kind {
        "missing" => 0,
        "trial" | "none" | "dev" | "development" => 1,
        "basic" => 2,
        "standard" => 3,
        "silver" | "gold" => 4,
        "platinum" | "cloud_internal" | "internal" => 5,
        "enterprise" => 6,
        _ => return None,
    })
}

impl License {
    pub fn is_known(&self) -> bool {
        mode_rank(&self.kind).is_some()
            && ["active", "expired", "invalid"].contains(&self.status.as_str())
    }

    pub fn allows_document_security(&self) -> bool {
        self.status == "active"
            && match mode_rank(&self.kind) {
                Some(1) => true,
                Some(r) => r >= 5,
                None => false,
            }
    }
}

/// `LicenseUtils.newComplianceException("field and document level security")`.
pub fn dls_compliance_exception() -> ApiResponse {
    let feature = "field and document level security";
    let mut extra = Map::new();
    extra.insert("license.expired.feature".into(), json!(feature));
    es_error(
        403,
        "security_exception",
        &format!("current license is non-compliant for [{feature}]"),
        extra,
    )
}

pub fn get_license(ctx: &mut Ctx) -> ApiResult {
    ctx.req
        .allow_params(&["local", "accept_enterprise", "master_timeout"])?;
    require_cluster(ctx.principal, "cluster:monitor/xpack/license/get")?;
    let l = &ctx.state.license;
    let issued = 1_767_225_600_000i64; // 2026-01-01T00:00:00Z
    let mut body = json!({
        "status": l.status,
        "uid": "893361dc-9749-4997-93cb-802e3d7fa4a2",
        "type": l.kind,
        "issue_date": "2026-01-01T00:00:00.000Z",
        "issue_date_in_millis": issued,
        "max_nodes": 1000,
        "max_resource_units": Value::Null,
        "issued_to": "es-emulator",
        "issuer": "elasticsearch",
        "start_date_in_millis": -1
    });
    if l.kind != "basic" {
        // Every licence but basic carries an expiry (a trial's is 30 days after it starts).
        let expiry = if l.status == "expired" {
            ctx.state.now_millis() - 86_400_000
        } else {
            ctx.state.now_millis() + 30 * 86_400_000
        };
        body["expiry_date_in_millis"] = json!(expiry);
        body["expiry_date"] = json!(
            chrono::DateTime::from_timestamp_millis(expiry)
                .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        );
    }
    Ok(ApiResponse::ok(json!({ "license": body })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(kind: &str, status: &str) -> License {
        License {
            kind: kind.into(),
            status: status.into(),
        }
    }

    #[test]
    fn platinum_enterprise_and_trial_allow_document_security_while_active() {
        for ok in ["platinum", "enterprise", "trial"] {
            assert!(l(ok, "active").allows_document_security(), "{ok}");
            assert!(!l(ok, "expired").allows_document_security(), "{ok}");
        }
        for no in ["basic", "standard", "gold", "bogus"] {
            assert!(!l(no, "active").allows_document_security(), "{no}");
        }
    }
}
