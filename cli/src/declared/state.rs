//! What is deployed now, read from the administrators' listings and turned back into the specs
//! a PUT takes, and the normalization both sides go through before they are compared.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use shared::model::{
    AccessFlowSpec, ApprovalPolicy, IntegrationSpec, format_duration, parse_duration,
};

use super::files::from_api;
use crate::api::Api;
use crate::error::{CliError, Result};

/// The deployed integrations and flows, by name, as PUT bodies (flows normalized).
#[derive(Debug, Default)]
pub struct Deployed {
    pub integrations: BTreeMap<String, IntegrationSpec>,
    pub flows: BTreeMap<String, AccessFlowSpec>,
    /// Those a CloudFormation stack manages: name → its custom resource
    /// (`cloudformation:<stack id>/<logical id>`).
    pub stack_integrations: BTreeMap<String, String>,
    pub stack_flows: BTreeMap<String, String>,
}

/// What the admin views add beside the spec (functions/discover/src/views.rs).
const INTEGRATION_META: &[&str] = &[
    "name",
    "version",
    "created_at",
    "updated_at",
    "last_discovery_at",
    "last_discovery_error",
    "pending_retires",
    "managed_by",
];
const FLOW_META: &[&str] = &["name", "version", "created_at", "updated_at", "managed_by"];

pub async fn fetch(api: &Api) -> Result<Deployed> {
    require_admin(api).await?;
    let integrations = api.get("/integrations").await?;
    let flows = api.get("/flows").await?;
    from_listings(&integrations, &flows)
}

/// The listings answer a non-administrator too (what they may request, often nothing), so an
/// empty listing does not tell a developer from an administrator of an empty stack, and a plan
/// of creates would fail at its first PUT. The API decides who is an administrator (its
/// configured group, in the verified token: shared::api::identity), and the CLI knows neither
/// that group nor the claim it is read from, so it asks the API: `GET /failed-revocations` is
/// administrators-only for every caller (403 `forbidden` before anything is read) and reads at
/// most one record here.
async fn require_admin(api: &Api) -> Result<()> {
    match api.get("/failed-revocations?limit=1").await {
        Err(CliError::Api { status: 403, .. }) => Err(not_admin()),
        other => other.map(drop),
    }
}

/// The API shows a non-administrator only what a requester needs (no `version`, no
/// `secret_arn`): a plan against that would be wrong, so it is refused with the API's own code
/// for an administrator-only route.
fn not_admin() -> CliError {
    CliError::Api {
        status: 403,
        code: "forbidden".into(),
        message: "plan, apply and export need an administrator: the API shows this sign-in \
                  only what a requester sees"
            .into(),
    }
}

pub fn from_listings(integrations: &Value, flows: &Value) -> Result<Deployed> {
    let mut out = Deployed::default();
    for (name, body, stack) in items(&integrations["integrations"], INTEGRATION_META)? {
        let spec = from_api("integration", &name, body)?;
        out.integrations.insert(name.clone(), spec);
        if let Some(s) = stack {
            out.stack_integrations.insert(name, s);
        }
    }
    for (name, body, stack) in items(&flows["flows"], FLOW_META)? {
        let spec: AccessFlowSpec = from_api("flow", &name, body)?;
        out.flows.insert(name.clone(), normalize_flow(spec));
        if let Some(s) = stack {
            out.stack_flows.insert(name, s);
        }
    }
    Ok(out)
}

/// Each item's name, its spec (the view without `meta`) and the stack that manages it.
fn items(list: &Value, meta: &[&str]) -> Result<Vec<(String, Value, Option<String>)>> {
    let mut out = Vec::new();
    for item in list.as_array().into_iter().flatten() {
        if item.get("version").is_none() {
            return Err(not_admin());
        }
        let name = item["name"].as_str().unwrap_or_default().to_string();
        let stack = item["managed_by"].as_str().map(str::to_string);
        let mut body = item.clone();
        if let Some(m) = body.as_object_mut() {
            for k in meta {
                m.remove(*k);
            }
        }
        out.push((name, body, stack));
    }
    Ok(out)
}

/// A flow as the API will behave, so that writing a default (or leaving it out, or `480m` for
/// `8h`) is no change: the durations are their effective values, absent when they are the
/// default (the API's view always spells them out), and an empty `approval` is none.
pub fn normalize_flow(mut s: AccessFlowSpec) -> AccessFlowSpec {
    s.max_duration = effective(&s, |s| &mut s.max_duration, AccessFlowSpec::max_duration);
    s.approval_window = effective(
        &s,
        |s| &mut s.approval_window,
        AccessFlowSpec::approval_window,
    );
    s.schedule_horizon = effective(
        &s,
        |s| &mut s.schedule_horizon,
        AccessFlowSpec::schedule_horizon,
    );
    if s.approval.as_ref() == Some(&ApprovalPolicy::default()) {
        s.approval = None;
    }
    s
}

/// One duration field, canonical: `None` when it is what leaving it out gives; a value that
/// does not parse stays as written (the API will refuse it, and the plan must show it).
fn effective(
    s: &AccessFlowSpec,
    field: fn(&mut AccessFlowSpec) -> &mut Option<String>,
    value: fn(&AccessFlowSpec) -> Duration,
) -> Option<String> {
    let mut c = s.clone();
    let raw = field(&mut c).clone();
    if raw.as_deref().is_some_and(|r| parse_duration(r).is_err()) {
        return raw;
    }
    let given = value(s);
    *field(&mut c) = None;
    (given != value(&c)).then(|| format_duration(given))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flow(v: Value) -> AccessFlowSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn defaults_and_spellings_of_a_duration_are_no_difference() {
        let base = json!({"integration": "s", "requesters": []});
        let mut spelled = base.clone();
        spelled["max_duration"] = json!("480m");
        spelled["approval_window"] = json!("1day");
        spelled["schedule_horizon"] = json!("14d");
        spelled["approval"] = json!({});
        assert_eq!(
            normalize_flow(flow(base.clone())),
            normalize_flow(flow(spelled))
        );
        let mut shorter = base.clone();
        shorter["max_duration"] = json!("240m");
        assert_eq!(
            normalize_flow(flow(shorter)).max_duration.as_deref(),
            Some("4h")
        );
        let mut bad = base;
        bad["max_duration"] = json!("soon");
        assert_eq!(
            normalize_flow(flow(bad)).max_duration.as_deref(),
            Some("soon")
        );
    }

    #[test]
    fn the_admin_view_becomes_the_spec_and_a_requester_view_is_refused() {
        let listed = json!({"integrations": [{
            "name": "s", "kind": "elasticsearch", "url": "https://es:9200",
            "secret_arn": "arn:x", "tls": {}, "integration_owners": [],
            "discovery": {"include": ["*"], "exclude": []}, "version": 3,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
            "last_discovery_at": null, "last_discovery_error": null, "managed_by": null}]});
        let flows = json!({"flows": [{"name": "f", "integration": "s", "requesters": [],
            "max_duration": "8h", "approval_window": "1day", "schedule_horizon": "14days",
            "version": 1, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "managed_by": "cloudformation:arn:aws:cloudformation:eu-west-1:1:stack/s/1/Logs"}]});
        let d = from_listings(&listed, &flows).unwrap();
        assert_eq!(d.integrations["s"].url.as_deref(), Some("https://es:9200"));
        assert_eq!(d.flows["f"].max_duration, None);
        // `managed_by` is metadata: not in the spec, remembered beside it.
        assert!(d.stack_integrations.is_empty());
        assert_eq!(
            d.stack_flows["f"],
            "cloudformation:arn:aws:cloudformation:eu-west-1:1:stack/s/1/Logs"
        );
        let requester = json!({"integrations": [{"name": "s", "kind": "elasticsearch"}]});
        let e = from_listings(&requester, &json!({"flows": []})).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(e.to_string().ends_with("(forbidden)"));
    }
}
