//! Whether the cluster's licence includes document- and field-level security: Elasticsearch
//! refuses a role with `query` or `field_security` otherwise (`NativeRolesStore.putRole`:
//! "current license is non-compliant for [field and document level security]"), so a
//! permission that needs it is refused when it is saved, not when a grant fails.
//!
//! The rule is Elasticsearch's own: the `security-dls-fls` licensed feature needs mode
//! PLATINUM or above and an active licence, and a trial allows every feature
//! (`XPackLicenseState`, `License.OperationMode.isAllowedByOperationMode`).

use reqwest::Method;

use super::client::EsClient;
use crate::driver::DriverError;
use crate::driver::error::type_token;

pub const FEATURE: &str = "document- and field-level security";

/// `License.OperationMode.resolve`'s names of the modes at or above PLATINUM, and trial's.
fn allows(kind: &str, status: &str) -> bool {
    status == "active"
        && matches!(
            kind,
            "platinum"
                | "cloud_internal"
                | "internal"
                | "enterprise"
                | "trial"
                | "none"
                | "dev"
                | "development"
        )
}

/// `GET /_license` (cluster privilege `monitor`, which the connector holds).
pub async fn check_document_security(es: &EsClient) -> Result<(), DriverError> {
    let answer = es.json(Method::GET, "/_license", None, true).await?;
    let kind = answer["license"]["type"].as_str();
    let status = answer["license"]["status"].as_str();
    if allows(kind.unwrap_or_default(), status.unwrap_or_default()) {
        Ok(())
    } else {
        Err(DriverError::LicenseNotSufficient {
            feature: FEATURE.into(),
            license: type_token(kind),
            status: type_token(status),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::allows;

    #[test]
    fn platinum_enterprise_and_trial_allow_it_while_active() {
        for kind in ["platinum", "enterprise", "trial"] {
            assert!(allows(kind, "active"), "{kind}");
            assert!(!allows(kind, "expired"), "{kind}");
            assert!(!allows(kind, "invalid"), "{kind}");
        }
        for kind in ["basic", "standard", "gold", "silver", "missing", ""] {
            assert!(!allows(kind, "active"), "{kind}");
        }
    }
}
