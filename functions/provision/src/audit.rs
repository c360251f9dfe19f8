//! `GET /audit`: the audit log across subjects (integrations, flows, requests, accounts), for
//! administrators, newest first, filtered by integration, actor, action and time. Read from the
//! per-day audit-log partitions every audit write also fills (no scan).

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use shared::api::{ApiError, ApiRequest, Caller, json_response};
use shared::store::AuditQuery;

use crate::App;

/// The window when `since` is not given.
const DEFAULT_WINDOW: Duration = Duration::days(7);
/// The longest window one listing may span: the audit log is kept 400 days.
const MAX_WINDOW: Duration = Duration::days(400);
const MAX_FILTER_CHARS: usize = 256;

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_parameter", message)
}

fn time(req: &ApiRequest, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    req.query
        .get(name)
        .map(|v| {
            DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    bad(format!(
                        "{name} must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z"
                    ))
                })
        })
        .transpose()
}

fn filter(req: &ApiRequest, name: &str) -> Result<Option<String>, ApiError> {
    let Some(v) = req.query.get(name) else {
        return Ok(None);
    };
    let v = v.trim();
    if v.is_empty() || v.chars().count() > MAX_FILTER_CHARS || v.chars().any(char::is_control) {
        return Err(bad(format!(
            "{name} must be 1 to {MAX_FILTER_CHARS} characters without control characters"
        )));
    }
    Ok(Some(v.to_string()))
}

/// The query a request asks for, checked: a window of at most [`MAX_WINDOW`] ending no later
/// than now.
pub fn query_of(req: &ApiRequest, now: DateTime<Utc>) -> Result<AuditQuery, ApiError> {
    let until = time(req, "until")?.unwrap_or(now).min(now);
    let since = time(req, "since")?.unwrap_or(until - DEFAULT_WINDOW);
    if since > until {
        return Err(bad("since must not be after until (or after now)"));
    }
    if until - since > MAX_WINDOW {
        return Err(bad(format!(
            "the window from since to until spans at most {} days",
            MAX_WINDOW.num_days()
        )));
    }
    Ok(AuditQuery {
        since,
        until,
        integration: filter(req, "integration")?,
        actor: filter(req, "actor")?,
        action: filter(req, "action")?,
    })
}

pub async fn list(
    app: &App,
    caller: &Caller,
    req: &ApiRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    caller.require_admin()?;
    let query = query_of(req, app.services.clock.now())?;
    let limit = req.limit(50, 200)?;
    let cursor = req.cursor()?;
    let page = app
        .services
        .store
        .audit_log(&query, limit as usize, cursor.as_ref())
        .await?;
    Ok(json_response(
        200,
        &json!({
            "events": page.items,
            // The window actually listed: a client passes it back with the cursor, so a page
            // read later (when "now" has moved) continues the same listing.
            "since": query.since,
            "until": query.until,
            "next_cursor": page.next.map(|c| c.to_string()),
        }),
    ))
}
