//! What happened, read from one stream record: a request's status change (old and new image)
//! or an audit event that needs people (a failed connector rotation). Each event has an id
//! that a replayed record reproduces exactly, so delivery markers can recognise it.

use aws_lambda_events::dynamodb::EventRecord;
use serde_dynamo::Item;
use shared::model::{AccessRequest, AuditEvent, RequestStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A request waits for approvals.
    Created,
    Approved,
    Rejected,
    /// Nobody decided within the approval window.
    ApprovalExpired,
    /// Credentials are ready.
    Active,
    /// The grant ends within 15 minutes (the sweep marked it).
    Expiring,
    /// The requester moved the grant's end later.
    Extended,
    Revoked,
    Expired,
    /// Approved, but provisioning failed.
    ProvisionFailed,
    /// Revoking failed; cleanup retries it, but access may outlive its grant.
    RevokeFailed,
    /// A connector secret rotation failed.
    RotationFailed,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "request.created",
            Self::Approved => "request.approved",
            Self::Rejected => "request.rejected",
            Self::ApprovalExpired => "request.approval_expired",
            Self::Active => "grant.active",
            Self::Expiring => "grant.expiring",
            Self::Extended => "grant.extended",
            Self::Revoked => "grant.revoked",
            Self::Expired => "grant.expired",
            Self::ProvisionFailed => "grant.provision_failed",
            Self::RevokeFailed => "grant.revoke_failed",
            Self::RotationFailed => "connector.rotation_failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    /// Stable across replays of the same record.
    pub id: String,
    pub kind: Kind,
    pub integration: String,
    pub request: Option<AccessRequest>,
    /// For rotation failures: the audit event.
    pub audit: Option<AuditEvent>,
}

#[derive(Debug, thiserror::Error)]
#[error("stream record {event_id} could not be read as a {entity}: {reason}")]
pub struct DecodeError {
    pub event_id: String,
    pub entity: String,
    pub reason: String,
}

fn entity(item: &Item) -> Option<String> {
    match item.get("entity") {
        Some(serde_dynamo::AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    record: &EventRecord,
    item: &Item,
    what: &str,
) -> Result<Option<T>, DecodeError> {
    if item.is_empty() {
        return Ok(None);
    }
    serde_dynamo::from_item(item.clone())
        .map(Some)
        .map_err(|e| DecodeError {
            event_id: record.event_id.clone(),
            entity: what.into(),
            reason: e.to_string(),
        })
}

/// The events one record stands for (none for most records: other kinds of item, a partial
/// approval, a retried revoke that failed again).
pub fn from_record(record: &EventRecord) -> Result<Vec<Event>, DecodeError> {
    let new = &record.change.new_image;
    let old = &record.change.old_image;
    let kind_of = entity(new).or_else(|| entity(old));
    match kind_of.as_deref() {
        Some("request") => {
            let Some(r) = decode::<AccessRequest>(record, new, "request")? else {
                return Ok(vec![]);
            };
            let before = decode::<AccessRequest>(record, old, "request")?;
            let kind = transition(before.as_ref().map(|o| o.status), r.status).or_else(|| {
                // The sweep marking a live grant as ending soon: once per request.
                let newly_warned = r.status == RequestStatus::Active
                    && r.expiry_warned_at.is_some()
                    && before
                        .as_ref()
                        .is_some_and(|o| o.expiry_warned_at.is_none());
                newly_warned.then_some(Kind::Expiring)
            });
            let kind = kind.or_else(|| {
                let extended = r.status == RequestStatus::Active
                    && before.as_ref().is_some_and(|o| o.extensions < r.extensions);
                extended.then_some(Kind::Extended)
            });
            Ok(kind
                .map(|kind| Event {
                    id: event_id(&r, kind),
                    kind,
                    integration: r.integration.clone(),
                    request: Some(r),
                    audit: None,
                })
                .into_iter()
                .collect())
        }
        Some("audit") if record.event_name == "INSERT" => {
            let Some(a) = decode::<AuditEvent>(record, new, "audit event")? else {
                return Ok(vec![]);
            };
            if a.action != "connector.rotation_failed" {
                return Ok(vec![]);
            }
            Ok(vec![Event {
                id: format!("audit:{}", a.id),
                kind: Kind::RotationFailed,
                integration: a.integration.clone().unwrap_or_default(),
                request: None,
                audit: Some(a),
            }])
        }
        _ => Ok(vec![]),
    }
}

/// Each extension, and the reminder before each end it set, is its own event; everything
/// else happens at most once per request.
fn event_id(r: &AccessRequest, kind: Kind) -> String {
    match kind {
        Kind::Extended => format!("request:{}:{}:{}", r.id, kind.as_str(), r.extensions),
        Kind::Expiring if r.extensions > 0 => {
            format!("request:{}:{}:{}", r.id, kind.as_str(), r.extensions)
        }
        _ => format!("request:{}:{}", r.id, kind.as_str()),
    }
}

/// The event a status change is, if it is one people hear about. Each of these happens at most
/// once per request (the state machine never returns to a state it left), so the request id and
/// the event name identify it.
pub fn transition(before: Option<RequestStatus>, after: RequestStatus) -> Option<Kind> {
    use RequestStatus::*;
    if before == Some(after) {
        return None;
    }
    match (before, after) {
        (None, Pending) => Some(Kind::Created),
        (_, Approved) if before == Some(Pending) => Some(Kind::Approved),
        (_, Rejected) => Some(Kind::Rejected),
        (Some(Pending), Expired) => Some(Kind::ApprovalExpired),
        (_, Active) => Some(Kind::Active),
        (_, Revoked) => Some(Kind::Revoked),
        (Some(Active | RevokeFailed), Expired) => Some(Kind::Expired),
        (_, Failed) => Some(Kind::ProvisionFailed),
        (_, RevokeFailed) => Some(Kind::RevokeFailed),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequestStatus::*;

    #[test]
    fn the_sample_stream_event_is_a_new_request_waiting_for_approval() {
        let batch: aws_lambda_events::dynamodb::Event = serde_json::from_str(include_str!(
            "../../../events/notify/stream-request-created.json"
        ))
        .unwrap();
        let events = from_record(&batch.records[0]).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, Kind::Created);
        assert_eq!(
            events[0].id,
            "request:3f6c2a1e-8d4b-4c7a-9e2f-5b1d0c9a8e7f:request.created"
        );
        let r = events[0].request.as_ref().unwrap();
        assert_eq!(r.approval_steps[0].label, "owner of logs-2026.11");
    }

    #[test]
    fn each_change_people_hear_about_is_one_event() {
        assert_eq!(transition(None, Pending), Some(Kind::Created));
        assert_eq!(
            transition(Some(Pending), Pending),
            None,
            "a partial approval"
        );
        assert_eq!(transition(Some(Pending), Approved), Some(Kind::Approved));
        assert_eq!(
            transition(None, Approved),
            None,
            "auto-approved: active follows"
        );
        assert_eq!(transition(Some(Pending), Rejected), Some(Kind::Rejected));
        assert_eq!(
            transition(Some(Pending), Expired),
            Some(Kind::ApprovalExpired)
        );
        assert_eq!(transition(Some(Approved), Active), Some(Kind::Active));
        assert_eq!(transition(None, Active), Some(Kind::Active));
        assert_eq!(transition(Some(Active), Expired), Some(Kind::Expired));
        assert_eq!(transition(Some(RevokeFailed), Revoked), Some(Kind::Revoked));
        assert_eq!(
            transition(Some(Active), RevokeFailed),
            Some(Kind::RevokeFailed)
        );
        assert_eq!(
            transition(Some(RevokeFailed), RevokeFailed),
            None,
            "a retry failing again"
        );
        assert_eq!(
            transition(Some(Approved), Failed),
            Some(Kind::ProvisionFailed)
        );
        assert_eq!(
            transition(Some(Active), Active),
            None,
            "a change that is not a new state"
        );
    }

    /// A stream record of one request item changing from `before` to `after`.
    fn record(before: &AccessRequest, after: &AccessRequest) -> EventRecord {
        let mut r = EventRecord::default();
        r.event_id = "e-1".into();
        r.event_name = "MODIFY".into();
        let item = |a: &AccessRequest| {
            let mut i: Item = serde_dynamo::to_item(a).unwrap();
            i.insert(
                "entity".into(),
                serde_dynamo::AttributeValue::S("request".into()),
            );
            i
        };
        r.change.old_image = item(before);
        r.change.new_image = item(after);
        r
    }

    #[test]
    fn the_sweep_marking_a_grant_as_ending_soon_is_one_expiring_event() {
        let batch: aws_lambda_events::dynamodb::Event = serde_json::from_str(include_str!(
            "../../../events/notify/stream-request-created.json"
        ))
        .unwrap();
        let created = from_record(&batch.records[0]).unwrap();
        let mut active = created[0].request.clone().unwrap();
        active.status = Active;
        let mut warned = active.clone();
        warned.expiry_warned_at = Some(chrono::Utc::now());
        let events = from_record(&record(&active, &warned)).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, Kind::Expiring);
        assert_eq!(
            events[0].id,
            format!("request:{}:grant.expiring", active.id)
        );
        // Any later change of the warned grant is not a second warning.
        let mut later = warned.clone();
        later.version += 1;
        assert!(from_record(&record(&warned, &later)).unwrap().is_empty());
        // Expired after the warning: the expiry, not another warning.
        let mut expired = warned.clone();
        expired.status = Expired;
        let events = from_record(&record(&warned, &expired)).unwrap();
        assert_eq!(events[0].kind, Kind::Expired);
    }

    #[test]
    fn each_extension_is_one_event_and_its_new_end_gets_its_own_reminder() {
        let batch: aws_lambda_events::dynamodb::Event = serde_json::from_str(include_str!(
            "../../../events/notify/stream-request-created.json"
        ))
        .unwrap();
        let created = from_record(&batch.records[0]).unwrap();
        let mut warned = created[0].request.clone().unwrap();
        warned.status = Active;
        warned.expiry_warned_at = Some(chrono::Utc::now());
        let mut extended = warned.clone();
        extended.extensions = 1;
        extended.expiry_warned_at = None;
        extended.ends_at = Some(chrono::Utc::now() + chrono::Duration::hours(2));
        let events = from_record(&record(&warned, &extended)).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, Kind::Extended);
        assert_eq!(
            events[0].id,
            format!("request:{}:grant.extended:1", warned.id)
        );
        let text =
            crate::render::message(&events[0], &crate::plan::Role::Requester, "https://x").text;
        assert!(
            text.starts_with("Access extended: it now ends at "),
            "{text}"
        );
        // The reminder before the new end is not the one before the old end.
        let mut rewarned = extended.clone();
        rewarned.expiry_warned_at = Some(chrono::Utc::now());
        let events = from_record(&record(&extended, &rewarned)).unwrap();
        assert_eq!(events[0].kind, Kind::Expiring);
        assert_eq!(
            events[0].id,
            format!("request:{}:grant.expiring:1", warned.id)
        );
        // A second extension is a second event.
        let mut again = extended.clone();
        again.extensions = 2;
        let events = from_record(&record(&extended, &again)).unwrap();
        assert_eq!(
            events[0].id,
            format!("request:{}:grant.extended:2", warned.id)
        );
    }
}
