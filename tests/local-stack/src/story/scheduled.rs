//! Scheduled start and cancel: dev asks for access starting in a little while; alice approves
//! before the start; nothing is granted until the start schedule fires the provision function,
//! and the duration counts from the start. Another request, scheduled too, is withdrawn by dev.

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::json;

use super::{ES_INTEGRATION, Teller, str_of};
use crate::StoryError;
use crate::idp::identities::{ALICE, DEV};

/// Far enough ahead to be scheduled (a start within a minute is "now"), near enough that the
/// story does not wait long: the sections in between take about as long.
const START_IN: chrono::Duration = chrono::Duration::seconds(100);
const DURATION: chrono::Duration = chrono::Duration::minutes(5);

/// The approved request waiting for its start.
pub(super) struct Scheduled {
    id: String,
    starts_at: DateTime<Utc>,
}

fn body(start: DateTime<Utc>, why: &str) -> serde_json::Value {
    json!({
        "integration": ES_INTEGRATION,
        "flow": "logs-read",
        "resources": ["logs-2026.11"],
        "permission": "read",
        "duration": "5m",
        "starts_at": start.to_rfc3339_opts(SecondsFormat::Secs, true),
        "justification": why
    })
}

pub(super) async fn ask_and_approve<W: Write>(
    t: &mut Teller<'_, W>,
) -> Result<Scheduled, StoryError> {
    t.section("Scheduled start: access that begins later, approved before it begins")?;
    let starts_at = Utc::now() + START_IN;
    t.step(&format!(
        "dev asks for read on logs-2026.11 for 5 minutes, starting at {} UTC",
        starts_at.format("%H:%M:%S")
    ))?;
    let id = t
        .ask(DEV, body(starts_at, "CHG-1042: planned reindex"), "pending")
        .await?;
    t.step("alice approves it before the start: it is scheduled, nothing is granted yet")?;
    let approved = t
        .decide(
            ALICE,
            &id,
            "approve",
            "fine for the change window",
            "scheduled",
        )
        .await?;
    t.say(format!(
        "starts_at {}, ends_at {}",
        str_of(&approved, "starts_at"),
        approved["ends_at"].as_str().unwrap_or("(not yet)")
    ))?;
    let refused = t
        .api(&format!("GET /requests/{id}/credentials"), DEV, None, 409)
        .await?;
    t.say(format!(
        "before the start: {}",
        refused["error"]["message"].as_str().unwrap_or_default()
    ))?;
    let schedule = shared::scheduler::start_schedule_name(&id);
    t.say(format!(
        "one-time schedule {schedule} will invoke the provision function"
    ))?;

    t.step("dev asks for another scheduled start, then cancels it: its schedule is deleted")?;
    let other = t
        .ask(
            DEV,
            body(starts_at, "CHG-1043: not needed after all"),
            "pending",
        )
        .await?;
    t.decide(ALICE, &other, "approve", "ok", "scheduled")
        .await?;
    let cancelled = t
        .api(
            &format!("POST /requests/{other}/cancel"),
            DEV,
            Some(json!({"reason": "the change was called off"})),
            200,
        )
        .await?;
    t.expect_status(&cancelled, "cancelled")?;
    let late = t
        .api(
            &format!("POST /requests/{other}/approve"),
            ALICE,
            Some(json!({"reason": "too late"})),
            409,
        )
        .await?;
    let code = late["error"]["code"].as_str().unwrap_or_default();
    t.say(format!("a decision now is refused: {code}"))?;
    if code != "request_cancelled" {
        return Err(t.fail(format!("expected request_cancelled: {late}")));
    }
    Ok(Scheduled { id, starts_at })
}

pub(super) async fn started<W: Write>(
    t: &mut Teller<'_, W>,
    s: Scheduled,
) -> Result<(), StoryError> {
    t.section("Scheduled start: the start schedule provisions dev's access")?;
    let schedule = shared::scheduler::start_schedule_name(&s.id);
    t.step("the start schedule fires the provision function (nobody approves or calls anything)")?;
    let log = t
        .stack
        .glue
        .as_ref()
        .map(|g| g.log.clone())
        .ok_or_else(|| t.fail("the glue is not running"))?;
    let want = crate::glue::Trigger::OneTime {
        schedule: schedule.clone(),
    };
    let left = (s.starts_at - Utc::now()).to_std().unwrap_or_default();
    let fired = log
        .wait_for(left + std::time::Duration::from_secs(90), |f| {
            f.trigger == want && f.outcome.is_ok()
        })
        .await
        .ok_or_else(|| {
            t.fail(format!(
                "schedule {schedule} did not fire successfully: {:?}",
                log.snapshot()
            ))
        })?;
    t.say(fired.to_string())?;

    t.step("dev's request is active from its start, for 5 minutes counted from the start")?;
    let body = t
        .api(&format!("GET /requests/{}", s.id), DEV, None, 200)
        .await?;
    t.expect_status(&body, "active")?;
    let ends: Option<DateTime<Utc>> = body["ends_at"].as_str().and_then(|e| e.parse().ok());
    let starts: Option<DateTime<Utc>> = body["starts_at"].as_str().and_then(|e| e.parse().ok());
    t.say(format!(
        "starts_at {}, ends_at {}",
        str_of(&body, "starts_at"),
        str_of(&body, "ends_at")
    ))?;
    let requested = s.starts_at.timestamp();
    if starts.map(|x| x.timestamp()) != Some(requested)
        || ends.map(|x| x.timestamp()) != Some(requested + DURATION.num_seconds())
    {
        return Err(t.fail(format!(
            "expected access from {} for 5 minutes: {body}",
            s.starts_at
        )));
    }
    t.show_history(&body)?;

    t.step("dev fetches the credentials and searches logs-2026.11")?;
    let creds = t
        .api(
            &format!("GET /requests/{}/credentials", s.id),
            DEV,
            None,
            200,
        )
        .await?;
    let user = str_of(&creds, "username").to_string();
    let password = str_of(&creds, "password").to_string();
    let (status, _) = t
        .es(Method::GET, "/logs-2026.11/_search", &user, &password, None)
        .await?;
    t.say(format!("GET /logs-2026.11/_search as {user} -> {status}"))?;
    if status != 200 {
        return Err(t.fail(format!("expected 200 once started, got {status}")));
    }
    t.step("dev revokes it")?;
    t.decide(DEV, &s.id, "revoke", "change done", "revoked")
        .await?;
    Ok(())
}
