//! The words of each message. Every message about a request says who, which resources and
//! permission, for how long, the justification, and links to the request in the portal.

use serde_json::{Value, json};
use shared::notifications::{request_link, summary};

use crate::events::{Event, Kind};
use crate::plan::Role;

pub struct Message {
    pub subject: String,
    pub text: String,
    pub link: Option<String>,
    /// Whether Slack shows approve/reject buttons (a new request, to an approver or a channel).
    pub buttons: bool,
    /// Whether the approve button is among them: not when approving needs a reason, which a
    /// button cannot carry.
    pub approve_button: bool,
}

fn headline(event: &Event) -> String {
    let who = |f: fn(&shared::model::Decision) -> String| {
        event
            .request
            .as_ref()
            .and_then(|r| r.decisions.last())
            .map(f)
            .unwrap_or_default()
    };
    match event.kind {
        Kind::Created if event.request.as_ref().is_some_and(|r| r.extends.is_some()) => {
            "Extension of an active grant waiting for approval".into()
        }
        Kind::Created => "New access request waiting for approval".into(),
        Kind::BreakGlass => format!(
            "Break-glass access granted without approval{}: review it afterwards",
            event
                .request
                .as_ref()
                .and_then(|r| r.requester.email.as_deref())
                .map(|e| format!(" to {e}"))
                .unwrap_or_default()
        ),
        Kind::Reviewed => match event
            .request
            .as_ref()
            .and_then(|r| r.break_glass.as_ref())
            .and_then(|b| b.review.as_ref())
        {
            Some(v) => format!(
                "Break-glass access reviewed by {}: {}{}",
                v.by,
                match v.outcome {
                    shared::model::ReviewOutcome::Justified => "justified",
                    shared::model::ReviewOutcome::NotJustified => "not justified",
                },
                v.note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
            None => "Break-glass access reviewed".into(),
        },
        Kind::Escalated => "Access request escalated to you: nobody decided it in time".into(),
        Kind::Approved if event.request.as_ref().is_some_and(|r| r.bundle.is_some()) => format!(
            "Access bundle approved{}: each grant follows as it is ready",
            who(|d| format!(" by {}", d.by))
        ),
        Kind::Approved => format!(
            "Access request approved{}",
            who(|d| format!(" by {}", d.by))
        ),
        Kind::Rejected => format!(
            "Access request rejected{}",
            who(|d| format!(
                " by {}: {}",
                d.by,
                d.reason.clone().unwrap_or_else(|| "no reason given".into())
            ))
        ),
        Kind::ApprovalExpired => "Access request expired: nobody decided in time".into(),
        Kind::Scheduled => match event.request.as_ref().and_then(|r| r.starts_at) {
            Some(start) => format!(
                "Access request approved{}: access starts at {} UTC",
                who(|d| format!(" by {}", d.by)),
                start.format("%Y-%m-%d %H:%M")
            ),
            None => "Access request approved: access starts at its requested start".into(),
        },
        Kind::Cancelled => {
            "Access request cancelled by its requester: no decision is needed any more".into()
        }
        Kind::Active => "Access granted: your credentials are ready".into(),
        Kind::Expiring => match event.request.as_ref().and_then(|r| r.ends_at) {
            Some(end) => format!(
                "Your access ends soon, at {} UTC",
                end.format("%Y-%m-%d %H:%M")
            ),
            None => "Your access ends soon".into(),
        },
        Kind::Extended => match event.request.as_ref().and_then(|r| r.ends_at) {
            Some(end) => format!(
                "Access extended: it now ends at {} UTC",
                end.format("%Y-%m-%d %H:%M")
            ),
            None => "Access extended".into(),
        },
        Kind::Revoked => "Access revoked".into(),
        Kind::Expired => "Access expired".into(),
        Kind::ProvisionFailed => "Access could not be granted".into(),
        Kind::RevokeFailed => {
            "Revoking access failed: it is retried, and may outlive its grant until it succeeds"
                .into()
        }
        Kind::RotationFailed => format!(
            "Connector credential rotation failed for integration {}",
            event.integration
        ),
    }
}

pub fn message(event: &Event, role: &Role, public_url: &str) -> Message {
    let head = headline(event);
    let mut lines = vec![];
    if let Some(r) = &event.request {
        lines.push(summary(r));
        if event.kind.asks_for_a_decision() && !event.allows.is_empty() {
            lines.push(format!("It allows: {}.", event.allows.join("; ")));
        }
        if let Some(reason) = r
            .status_reason
            .as_deref()
            .filter(|_| !event.kind.asks_for_a_decision())
        {
            lines.push(format!("Reason: {reason}"));
        }
        if event.kind == Kind::RevokeFailed
            && let Some(e) = &r.last_error
        {
            lines.push(format!("Last error: {e}"));
        }
    }
    if let Some(a) = &event.audit {
        lines.push(format!("Recorded by {} at {}.", a.actor, a.at.to_rfc3339()));
        if let Some(e) = a.details.get("error").and_then(Value::as_str) {
            lines.push(format!("Error: {e}"));
        }
    }
    match role {
        Role::Approver { why } if event.kind == Kind::Cancelled => lines.push(format!(
            "You were asked as: {}. Nothing was granted.",
            why.join("; ")
        )),
        Role::Approver { why } => {
            lines.push(format!("You are asked as: {}.", why.join("; ")));
            if event
                .request
                .as_ref()
                .is_some_and(|r| r.approval_reason_required)
            {
                lines.push("This flow asks approvers for a reason: approve in the portal.".into());
            }
        }
        Role::Requester if event.kind == Kind::Scheduled => lines.push(
            "Nothing is granted before the start; you will be told when your credentials are \
             ready. You may still cancel it in the portal until then."
                .into(),
        ),
        Role::Requester if event.kind == Kind::Active => lines.push(
            "Read your credentials in the portal (or with GET /requests/{id}/credentials).".into(),
        ),
        Role::Operator if event.kind == Kind::BreakGlass => lines.push(
            "Record your review in the portal (Reviews) or with POST /requests/{id}/review.".into(),
        ),
        Role::Requester if event.kind == Kind::Expiring => lines.push(
            "Save your work; if you still need access, extend it (if its flow allows) or ask \
             again in the portal before it ends."
                .into(),
        ),
        Role::Requester if event.kind == Kind::Extended => lines.push(
            "Your credentials keep working until the new end (an API key grant has a new key \
             in the portal; the old one works until the old end)."
                .into(),
        ),
        _ => {}
    }
    let link = event
        .request
        .as_ref()
        .map(|r| request_link(public_url, &r.id));
    if let Some(l) = &link {
        lines.push(format!("Open in the portal: {l}"));
    }
    Message {
        subject: format!("[elastic-jit] {head}"),
        text: format!("{head}\n{}", lines.join("\n")),
        link,
        buttons: event.kind.asks_for_a_decision()
            && matches!(role, Role::Approver { .. } | Role::Watcher),
        approve_button: !event
            .request
            .as_ref()
            .is_some_and(|r| r.approval_reason_required),
    }
}

/// The Slack blocks: the text, and on a new request approve/reject buttons carrying its id.
pub fn slack_blocks(m: &Message, request_id: Option<&str>, buttons: bool) -> Value {
    let text = shared::slack::fit_section(shared::slack::escape(&m.text));
    let mut blocks = vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})];
    let mut actions = vec![];
    if let (true, true, Some(id)) = (buttons, m.buttons, request_id) {
        if m.approve_button {
            actions.push(
                json!({"type": "button", "action_id": "approve", "style": "primary",
                "text": {"type": "plain_text", "text": "Approve"}, "value": id}),
            );
        }
        actions.push(
            json!({"type": "button", "action_id": "reject", "style": "danger",
            "text": {"type": "plain_text", "text": "Reject"}, "value": id}),
        );
    }
    if let Some(l) = &m.link {
        actions.push(json!({"type": "button", "action_id": "open", "url": l,
            "text": {"type": "plain_text", "text": "Open in the portal"}}));
    }
    if !actions.is_empty() {
        blocks.push(json!({"type": "actions", "elements": actions}));
    }
    Value::Array(blocks)
}

/// The webhook body: the event and the request's facts (never a credential).
pub fn webhook_body(event: &Event, public_url: &str) -> Value {
    let request = event.request.as_ref().map(|r| {
        json!({
            "id": r.id, "integration": r.integration, "flow": r.flow,
            "requester": r.requester.display(), "resources": r.resources,
            "permission": r.permission, "duration_secs": r.duration_secs,
            "justification": r.justification, "status": r.status.as_str(),
            "status_reason": r.status_reason,
            "decisions": r.decisions.iter().map(|d| json!({"by": d.by, "kind": d.kind, "reason": d.reason, "at": d.at})).collect::<Vec<_>>(),
            "link": request_link(public_url, &r.id),
        })
    });
    json!({
        "id": event.id,
        "type": event.kind.as_str(),
        "integration": event.integration,
        "summary": headline(event),
        "request": request,
        "error": event.audit.as_ref().and_then(|a| a.details.get("error").cloned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(reason_required: bool) -> Event {
        let mut r: shared::model::AccessRequest = serde_json::from_value(json!({
            "id": "r-1", "integration": "prod", "flow": "logs",
            "requester": {"sub": "s-dev", "issuer": "https://idp", "email": "dev@example.com", "email_verified": true},
            "resources": ["logs-1"], "permission": "read", "duration_secs": 3600, "status": "pending",
            "created_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:00Z",
            "approval_expires_at": "2026-11-24T10:00:00Z", "version": 1
        }))
        .unwrap();
        r.approval_reason_required = reason_required;
        Event {
            id: "request:r-1:request.created".into(),
            kind: Kind::Created,
            integration: "prod".into(),
            request: Some(r),
            audit: None,
            allows: vec![],
        }
    }

    fn buttons(blocks: &Value) -> Vec<String> {
        blocks
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| e["action_id"].as_str().map(String::from))
            .collect()
    }

    #[test]
    fn a_long_message_still_fits_slacks_section_limit() {
        let mut long = asked(false);
        let r = long.request.as_mut().unwrap();
        r.resources = (0..600).map(|i| format!("logs-<&>-{i}")).collect();
        let m = message(&long, &Role::Requester, "https://jit.example.com");
        let blocks = slack_blocks(&m, Some("r-1"), true);
        let text = blocks[0]["text"]["text"].as_str().unwrap();
        assert!(
            text.chars().count() <= shared::slack::SECTION_TEXT_MAX,
            "{}",
            text.len()
        );
        assert!(text.ends_with("the portal shows it all)"), "{text}");
        let before_note = text.rsplit_once('\n').unwrap().0;
        if let Some(amp) = before_note.rfind('&') {
            assert!(
                before_note[amp..].contains(';'),
                "an entity was cut: {before_note}"
            );
        }
        // A short one is left as it is.
        let short = message(&asked(false), &Role::Requester, "https://jit.example.com");
        assert_eq!(
            slack_blocks(&short, None, false)[0]["text"]["text"],
            json!(shared::slack::escape(&short.text))
        );
    }

    #[test]
    fn a_button_never_offers_an_approval_the_flow_wants_a_reason_for() {
        let approver = Role::Approver {
            why: vec!["flow approvers".into()],
        };
        let plain = message(&asked(false), &approver, "https://jit.example.com");
        assert_eq!(
            buttons(&slack_blocks(&plain, Some("r-1"), true)),
            ["approve", "reject", "open"]
        );
        let reasoned = message(&asked(true), &approver, "https://jit.example.com");
        assert_eq!(
            buttons(&slack_blocks(&reasoned, Some("r-1"), true)),
            ["reject", "open"]
        );
        assert!(
            reasoned.text.contains("approve in the portal"),
            "{}",
            reasoned.text
        );
    }
}
