//! CloudWatch metrics in the embedded metric format: one JSON line on stdout that Lambda's log
//! pipeline turns into a metric, with no API call and no extra permission.

use std::io::Write;

use serde_json::json;

pub const NAMESPACE: &str = "ElasticJit";

/// Emit `count` of `metric` (unit Count) with `Function` and `Integration` dimensions.
pub fn count_for(metric: &str, function: &str, integration: &str, count: u64) {
    let line = json!({
        "_aws": {
            "Timestamp": chrono::Utc::now().timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function", "Integration"]],
                "Metrics": [{"Name": metric, "Unit": "Count"}]
            }]
        },
        "Function": function,
        "Integration": integration,
        metric: count,
    });
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

/// Emit `count` of `metric` (unit Count) with a `Function` dimension.
pub fn count(metric: &str, function: &str, count: u64) {
    let line = json!({
        "_aws": {
            "Timestamp": chrono::Utc::now().timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": [{"Name": metric, "Unit": "Count"}]
            }]
        },
        "Function": function,
        metric: count,
    });
    let mut out = std::io::stdout().lock();
    // A metric that cannot be written must not fail the revocation it reports on.
    let _ = writeln!(out, "{line}");
}
