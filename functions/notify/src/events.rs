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
    /// Approved before its requested start: access starts then.
    Scheduled,
    /// The requester withdrew it: the approvers' decision is no longer needed.
    Cancelled,
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
    /// Nobody decided in time: the flow's next approver tier may decide now.
    Escalated,
    /// Break-glass access was just granted without approval: its owners are told at once.
    BreakGlass,
    /// An owner reviewed a break-glass grant.
    Reviewed,
}

impl Kind {
    /// Messages of these kinds ask approvers to decide (Slack shows buttons on them).
    pub fn asks_for_a_decision(self) -> bool {
        matches!(self, Self::Created | Self::Escalated)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "request.created",
            Self::Approved => "request.approved",
            Self::Rejected => "request.rejected",
            Self::ApprovalExpired => "request.approval_expired",
            Self::Scheduled => "request.scheduled",
            Self::Cancelled => "request.cancelled",
            Self::Active => "grant.active",
            Self::Expiring => "grant.expiring",
            Self::Extended => "grant.extended",
            Self::Revoked => "grant.revoked",
            Self::Expired => "grant.expired",
            Self::ProvisionFailed => "grant.provision_failed",
            Self::RevokeFailed => "grant.revoke_failed",
            Self::RotationFailed => "connector.rotation_failed",
            Self::Escalated => "request.escalated",
            Self::BreakGlass => "grant.break_glass",
            Self::Reviewed => "request.reviewed",
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
    /// What the request's grant would allow, in words (set once the integration is read).
    pub allows: Vec<String>,
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
            let reviewed =
                |x: &AccessRequest| x.break_glass.as_ref().is_some_and(|b| b.review.is_some());
            let special = if before.is_none() && r.break_glass.is_some() {
                // Made at once: the owners hear of it before it is even provisioned.
                Some(Kind::BreakGlass)
            } else if reviewed(&r) && before.as_ref().is_some_and(|o| !reviewed(o)) {
                Some(Kind::Reviewed)
            } else {
                None
            };
            let kind = special
                .or_else(|| transition(before.as_ref().map(|o| o.status), r.status))
                .or_else(|| {
                    // The sweep marking a live grant as ending soon: once per request.
                    let newly_warned = r.status == RequestStatus::Active
                        && r.expiry_warned_at.is_some()
                        && before
                            .as_ref()
                            .is_some_and(|o| o.expiry_warned_at.is_none());
                    if newly_warned {
                        return Some(Kind::Expiring);
                    }
                    let escalated = |x: &AccessRequest| {
                        x.escalation
                            .as_ref()
                            .is_some_and(|e| e.escalated_at.is_some())
                    };
                    let newly_escalated = r.status == RequestStatus::Pending
                        && escalated(&r)
                        && before.as_ref().is_some_and(|o| !escalated(o));
                    newly_escalated.then_some(Kind::Escalated)
                });
            let kind = kind.or_else(|| {
                let extended = r.status == RequestStatus::Active
                    && before.as_ref().is_some_and(|o| o.extensions < r.extensions);
                extended.then_some(Kind::Extended)
            });
            // A bundle's child is made approved and started at once, and cancelled only with
            // its bundle: the bundle's own messages say so; its grant's are its own.
            let kind = kind
                .filter(|k| r.parent.is_none() || !matches!(k, Kind::Scheduled | Kind::Cancelled));
            Ok(kind
                .map(|kind| Event {
                    id: event_id(&r, kind),
                    kind,
                    integration: r.integration.clone(),
                    request: Some(r),
                    audit: None,
                    allows: vec![],
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
                allows: vec![],
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
        // Approved (by people, or automatically when made) with a start ahead.
        (None | Some(Pending), Scheduled) => Some(Kind::Scheduled),
        // A bundle approved as a whole (its grants, the children, are told of one by one).
        (None | Some(Pending), Bundled) => Some(Kind::Approved),
        (_, Cancelled) => Some(Kind::Cancelled),
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

    /// The sample record with `old` and `new` as its images.
    fn record_of(old: &AccessRequest, new: &AccessRequest) -> EventRecord {
        let batch: aws_lambda_events::dynamodb::Event = serde_json::from_str(include_str!(
            "../../../events/notify/stream-request-created.json"
        ))
        .unwrap();
        let mut record = batch.records[0].clone();
        let image = |r: &AccessRequest| {
            let mut item: Item = serde_dynamo::to_item(r).unwrap();
            item.insert(
                "entity".into(),
                serde_dynamo::AttributeValue::S("request".into()),
            );
            item
        };
        record.event_name = "MODIFY".into();
        record.change.old_image = image(old);
        record.change.new_image = image(new);
        record
    }

    #[test]
    fn a_bundle_is_told_once_approved_and_its_children_only_as_grants() {
        let batch: aws_lambda_events::dynamodb::Event = serde_json::from_str(include_str!(
            "../../../events/notify/stream-request-created.json"
        ))
        .unwrap();
        let created = from_record(&batch.records[0]).unwrap();
        let mut parent = created[0].request.clone().unwrap();
        parent.integration = String::new();
        parent.bundle = Some(vec![
            shared::model::BundlePart {
                integration: "prod".into(),
                resources: vec!["logs-1".into()],
                requested_resources: vec!["logs-*".into()],
                permission: "read".into(),
            },
            shared::model::BundlePart {
                integration: "cloud".into(),
                resources: vec!["d-1".into()],
                requested_resources: vec!["prod-search".into()],
                permission: "deployment-viewer".into(),
            },
        ]);
        // The approvers' message lists every item.
        let text = shared::notifications::summary(&parent);
        assert!(text.contains("(1) read on prod: logs-1"), "{text}");
        assert!(
            text.contains("(2) deployment-viewer on cloud: d-1"),
            "{text}"
        );
        let mut bundled = parent.clone();
        bundled.status = Bundled;
        let events = from_record(&record_of(&parent, &bundled)).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, Kind::Approved);
        assert_eq!(events[0].integration, "", "the parent has none of its own");

        // A child: made scheduled and cancelled with its bundle (silent), active (told).
        let mut child = parent.clone();
        child.bundle = None;
        child.parent = Some(parent.id.clone());
        child.status = Scheduled;
        let mut started = child.clone();
        started.status = Approved;
        let mut active = started.clone();
        active.status = Active;
        let mut cancelled = child.clone();
        cancelled.status = Cancelled;
        assert!(
            from_record(&record_of(&child, &cancelled))
                .unwrap()
                .is_empty()
        );
        assert!(
            from_record(&record_of(&started, &started))
                .unwrap()
                .is_empty()
        );
        let events = from_record(&record_of(&started, &active)).unwrap();
        assert_eq!(events[0].kind, Kind::Active);
        assert!(
            shared::notifications::summary(&active).contains("part of bundle"),
            "{}",
            shared::notifications::summary(&active)
        );
    }

    #[test]
    fn an_escalation_is_one_event_and_a_partial_approval_none() {
        let batch: aws_lambda_events::dynamodb::Event = serde_json::from_str(include_str!(
            "../../../events/notify/stream-request-created.json"
        ))
        .unwrap();
        let created = from_record(&batch.records[0]).unwrap();
        let mut before = created[0].request.clone().unwrap();
        let at = before.created_at + chrono::Duration::hours(1);
        before.escalation = Some(shared::model::Escalation {
            at,
            to: vec![shared::model::PrincipalRef::user("carol@example.com")],
            escalated_at: None,
        });
        let mut after = before.clone();
        assert!(after.escalate(at));
        let events = from_record(&record_of(&before, &after)).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, Kind::Escalated);
        assert!(events[0].kind.asks_for_a_decision());
        // The same image again (a later write that changes something else) is no new event.
        let mut later = after.clone();
        later.updated_at = at + chrono::Duration::minutes(1);
        assert!(from_record(&record_of(&after, &later)).unwrap().is_empty());
    }

    #[test]
    fn break_glass_is_told_when_made_and_when_reviewed() {
        let batch: aws_lambda_events::dynamodb::Event = serde_json::from_str(include_str!(
            "../../../events/notify/stream-request-created.json"
        ))
        .unwrap();
        let mut made = from_record(&batch.records[0]).unwrap()[0]
            .request
            .clone()
            .unwrap();
        made.status = RequestStatus::Approved;
        made.approval_steps.clear();
        made.break_glass = Some(shared::model::BreakGlass::default());
        let mut insert = record_of(&made, &made);
        insert.event_name = "INSERT".into();
        insert.change.old_image = Item::default();
        let events = from_record(&insert).unwrap();
        assert_eq!(
            events.iter().map(|e| e.kind).collect::<Vec<_>>(),
            [Kind::BreakGlass]
        );
        let mut active = made.clone();
        active.status = RequestStatus::Active;
        let events = from_record(&record_of(&made, &active)).unwrap();
        assert_eq!(events[0].kind, Kind::Active, "the requester hears as usual");
        let mut reviewed = active.clone();
        reviewed.break_glass = Some(shared::model::BreakGlass {
            review: Some(shared::model::Review {
                by: "alice@example.com".into(),
                by_person: "p".into(),
                outcome: shared::model::ReviewOutcome::Justified,
                note: None,
                at: active.updated_at,
            }),
        });
        let events = from_record(&record_of(&active, &reviewed)).unwrap();
        assert_eq!(events[0].kind, Kind::Reviewed);
        assert!(
            from_record(&record_of(&reviewed, &reviewed))
                .unwrap()
                .is_empty()
        );
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
        assert_eq!(transition(Some(Pending), Scheduled), Some(Kind::Scheduled));
        assert_eq!(
            transition(None, Scheduled),
            Some(Kind::Scheduled),
            "auto-approved with a start ahead"
        );
        assert_eq!(
            transition(Some(Scheduled), Approved),
            None,
            "the start itself: active follows"
        );
        assert_eq!(transition(Some(Pending), Cancelled), Some(Kind::Cancelled));
        assert_eq!(
            transition(Some(Scheduled), Cancelled),
            Some(Kind::Cancelled)
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
