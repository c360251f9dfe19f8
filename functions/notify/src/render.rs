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
        if let Some(reason) = r
            .status_reason
            .as_deref()
            .filter(|_| event.kind != Kind::Created)
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
        Role::Approver { why } => lines.push(format!("You are asked as: {}.", why.join("; "))),
        Role::Requester if event.kind == Kind::Active => lines.push(
            "Read your credentials in the portal (or with GET /requests/{id}/credentials).".into(),
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
        buttons: event.kind == Kind::Created
            && matches!(role, Role::Approver { .. } | Role::Watcher),
    }
}

/// The Slack blocks: the text, and on a new request approve/reject buttons carrying its id.
pub fn slack_blocks(m: &Message, request_id: Option<&str>, buttons: bool) -> Value {
    let mut blocks = vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": m.text}})];
    let mut actions = vec![];
    if let (true, true, Some(id)) = (buttons, m.buttons, request_id) {
        actions.push(
            json!({"type": "button", "action_id": "approve", "style": "primary",
            "text": {"type": "plain_text", "text": "Approve"}, "value": id}),
        );
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
