//! A request's requested start (`starts_at`): which starts are accepted, and how long its
//! approvers have. Access starts at the start and lasts the requested duration from it.

use chrono::{DateTime, Duration, Utc};

use crate::api::ApiError;
use crate::model::format_duration;

/// A start up to this far ahead is "now": clocks differ, and a form filled in a minute ago
/// must not be refused. Such a request is not scheduled at all.
pub const START_SKEW: Duration = Duration::minutes(1);
/// How early a start event may arrive and still provision: Scheduler fires at the whole second
/// after the start, so only clock skew between it and this function is forgiven.
pub const EARLY_START: Duration = Duration::seconds(30);

/// The error code of every refused start.
pub const INVALID_START: &str = "invalid_start";

/// `starts_at` as sent: RFC 3339 with an explicit offset, kept as UTC.
pub fn parse_start(text: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::bad_request(
                INVALID_START,
                "starts_at must be an RFC 3339 time with an offset, e.g. 2026-11-23T18:00:00Z",
            )
        })
}

/// The start to schedule, `None` for "now", or why it is refused: in the past, or further
/// ahead than the flow's `schedule_horizon`.
pub fn check_start(
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    horizon: std::time::Duration,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    if start < now - START_SKEW {
        return Err(ApiError::bad_request(
            INVALID_START,
            "starts_at is in the past; leave it out to start as soon as the request is approved",
        ));
    }
    if start <= now + START_SKEW {
        return Ok(None);
    }
    let horizon_td = Duration::from_std(horizon).unwrap_or(Duration::MAX);
    if start > now + horizon_td {
        return Err(ApiError::bad_request(
            INVALID_START,
            format!(
                "starts_at may be at most {} ahead (the flow's schedule_horizon)",
                format_duration(horizon)
            ),
        ));
    }
    Ok(Some(start))
}

/// Until when approvers may decide: the flow's approval window, but never past the start, so
/// that an approval never comes after the access should have begun (a request for next week
/// still waits at most the window; one for five minutes from now, five minutes).
pub fn approval_deadline(
    now: DateTime<Utc>,
    window: Duration,
    start: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let by_window = now + window;
    start.map_or(by_window, |s| s.min(by_window))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const DAY: std::time::Duration = std::time::Duration::from_secs(86400);

    #[test]
    fn starts_are_now_scheduled_or_refused() {
        let now = t("2026-11-23T10:00:00Z");
        let horizon = DAY * 14;
        assert_eq!(check_start(now, now, horizon).unwrap(), None);
        assert_eq!(
            check_start(now + Duration::seconds(60), now, horizon).unwrap(),
            None,
            "within the skew is now"
        );
        assert_eq!(
            check_start(now - Duration::seconds(30), now, horizon).unwrap(),
            None,
            "a slow clock is forgiven"
        );
        let later = now + Duration::minutes(2);
        assert_eq!(check_start(later, now, horizon).unwrap(), Some(later));
        let edge = now + Duration::days(14);
        assert_eq!(check_start(edge, now, horizon).unwrap(), Some(edge));
        for bad in [
            now - Duration::minutes(2),
            now + Duration::days(14) + Duration::seconds(1),
        ] {
            let e = check_start(bad, now, horizon).unwrap_err();
            assert_eq!((e.status, e.code), (400, INVALID_START), "{bad}");
        }
    }

    #[test]
    fn only_rfc3339_times_with_an_offset_parse() {
        assert_eq!(
            parse_start("2026-11-23T12:00:00+02:00").unwrap(),
            t("2026-11-23T10:00:00Z")
        );
        for bad in [
            "2026-11-23T10:00:00",
            "tomorrow",
            "",
            "2026-13-01T00:00:00Z",
        ] {
            assert_eq!(parse_start(bad).unwrap_err().code, INVALID_START, "{bad}");
        }
    }

    #[test]
    fn approvers_never_decide_after_the_start() {
        let now = t("2026-11-23T10:00:00Z");
        let window = Duration::hours(24);
        assert_eq!(approval_deadline(now, window, None), now + window);
        let soon = now + Duration::hours(2);
        assert_eq!(approval_deadline(now, window, Some(soon)), soon);
        let next_week = now + Duration::days(5);
        assert_eq!(
            approval_deadline(now, window, Some(next_week)),
            now + window
        );
    }
}
