//! Who hears an event and on which channel: the people it concerns (approvers named by email,
//! with why each is one; the requester; integration owners named by email), the flow's and
//! the integration's own targets, and the operations target for failures. One [`Delivery`] per
//! (channel, recipient), deduplicated.

use shared::model::fold_email;
use shared::model::{AccessFlow, Integration, PrincipalKind};
use shared::notifications::NotificationSettings;

use crate::events::{Event, Kind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Slack member, found by email (`users.lookupByEmail`).
    SlackPerson {
        email: String,
    },
    SlackChannel {
        channel: String,
    },
    Email {
        address: String,
    },
    Webhook {
        url: String,
        secret_arn: String,
    },
}

impl Target {
    pub fn channel(&self) -> &'static str {
        match self {
            Self::SlackPerson { .. } | Self::SlackChannel { .. } => "slack",
            Self::Email { .. } => "email",
            Self::Webhook { .. } => "webhook",
        }
    }

    /// What the delivery marker keys on (hashed before it is stored).
    pub fn recipient(&self) -> String {
        match self {
            Self::SlackPerson { email } => format!("dm:{}", fold_email(email)),
            Self::SlackChannel { channel } => format!("channel:{channel}"),
            Self::Email { address } => fold_email(address),
            Self::Webhook { url, .. } => url.clone(),
        }
    }
}

/// The role a recipient has for this event, said in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// An approver, and why (the approval steps naming them).
    Approver {
        why: Vec<String>,
    },
    Requester,
    /// An integration owner, or the operations target.
    Operator,
    /// A flow's or an integration's configured target.
    Watcher,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub target: Target,
    pub role: Role,
}

/// What the stack offers: which channels are configured at all, and the operations target.
#[derive(Debug, Clone, Default)]
pub struct Channels {
    pub slack: bool,
    pub email: bool,
    pub ops_slack_channel: Option<String>,
    pub ops_emails: Vec<String>,
}

fn person(
    out: &mut Vec<Delivery>,
    ch: &Channels,
    s: &NotificationSettings,
    email: &str,
    role: Role,
) {
    if ch.slack && s.slack_direct {
        push(
            out,
            Target::SlackPerson {
                email: email.to_string(),
            },
            role.clone(),
        );
    }
    if ch.email && s.email_people {
        push(
            out,
            Target::Email {
                address: email.to_string(),
            },
            role,
        );
    }
}

fn push(out: &mut Vec<Delivery>, target: Target, role: Role) {
    let key = (target.channel(), target.recipient());
    match out
        .iter_mut()
        .find(|d| (d.target.channel(), d.target.recipient()) == key)
    {
        // Someone who is both an approver and a watcher is told once, as the approver.
        Some(d) if matches!(role, Role::Approver { .. }) => d.role = role,
        Some(_) => {}
        None => out.push(Delivery { target, role }),
    }
}

fn watchers(out: &mut Vec<Delivery>, ch: &Channels, s: &NotificationSettings) {
    if ch.slack
        && let Some(c) = &s.slack_channel
    {
        push(
            out,
            Target::SlackChannel { channel: c.clone() },
            Role::Watcher,
        );
    }
    if ch.email {
        for a in &s.emails {
            push(out, Target::Email { address: a.clone() }, Role::Watcher);
        }
    }
    for w in &s.webhooks {
        push(
            out,
            Target::Webhook {
                url: w.url.clone(),
                secret_arn: w.secret_arn.clone(),
            },
            Role::Watcher,
        );
    }
}

fn owners(
    out: &mut Vec<Delivery>,
    ch: &Channels,
    s: &NotificationSettings,
    i: Option<&Integration>,
) {
    for o in i
        .map(|i| i.spec.integration_owners.as_slice())
        .unwrap_or_default()
    {
        if o.kind == PrincipalKind::User && o.value.contains('@') {
            person(out, ch, s, &o.value, Role::Operator);
        }
    }
    if ch.slack
        && let Some(c) = &ch.ops_slack_channel
    {
        push(
            out,
            Target::SlackChannel { channel: c.clone() },
            Role::Operator,
        );
    }
    if ch.email {
        for a in &ch.ops_emails {
            push(out, Target::Email { address: a.clone() }, Role::Operator);
        }
    }
}

/// Everyone who hears `event`. The flow's settings decide the people channels when it has
/// any, else the integration's; watcher targets of both are used.
pub fn deliveries(
    event: &Event,
    flow: Option<&AccessFlow>,
    integration: Option<&Integration>,
    ch: &Channels,
) -> Vec<Delivery> {
    let flow_s = flow.and_then(|f| f.spec.notifications.as_ref());
    let int_s = integration.and_then(|i| i.spec.notifications.as_ref());
    let people = flow_s.or(int_s).cloned().unwrap_or_default();
    let mut out = Vec::new();
    match (event.kind, &event.request) {
        // Asked to decide, or told the decision is no longer needed: the approvers.
        (Kind::Created | Kind::Cancelled, Some(r)) => {
            let requester = r.requester.email.as_deref().map(fold_email);
            let mut approvers: Vec<(String, Vec<String>)> = Vec::new();
            for step in &r.approval_steps {
                for a in &step.approvers {
                    if a.kind != PrincipalKind::User || !a.value.contains('@') {
                        // Groups are reached through the flow's channel; a bare `sub` has no address.
                        continue;
                    }
                    let email = fold_email(&a.value);
                    if Some(&email) == requester.as_ref() {
                        continue;
                    }
                    match approvers.iter_mut().find(|(e, _)| *e == email) {
                        Some((_, why)) => why.push(step.label.clone()),
                        None => approvers.push((email, vec![step.label.clone()])),
                    }
                }
            }
            for (email, why) in approvers {
                person(&mut out, ch, &people, &email, Role::Approver { why });
            }
        }
        (Kind::Escalated, Some(r)) => {
            let requester = r.requester.email.as_deref().map(fold_email);
            let tier = r
                .escalation
                .as_ref()
                .map(|e| e.to.as_slice())
                .unwrap_or_default();
            for a in tier {
                if a.kind != PrincipalKind::User || !a.value.contains('@') {
                    continue;
                }
                let email = fold_email(&a.value);
                if Some(&email) != requester.as_ref() {
                    let why = vec!["the next approver tier: nobody decided in time".to_string()];
                    person(&mut out, ch, &people, &email, Role::Approver { why });
                }
            }
        }
        (Kind::RevokeFailed, Some(r)) => {
            if let Some(e) = &r.requester.email {
                person(&mut out, ch, &people, e, Role::Requester);
            }
            owners(&mut out, ch, &people, integration);
        }
        (Kind::RotationFailed, _) => owners(&mut out, ch, &people, integration),
        // The people who must review it, and operations, at once.
        (Kind::BreakGlass, Some(_)) => owners(&mut out, ch, &people, integration),
        (Kind::Reviewed, Some(r)) => {
            if let Some(e) = &r.requester.email {
                person(&mut out, ch, &people, e, Role::Requester);
            }
            owners(&mut out, ch, &people, integration);
        }
        (_, Some(r)) => {
            if let Some(e) = &r.requester.email {
                person(&mut out, ch, &people, e, Role::Requester);
            }
        }
        (_, None) => {}
    }
    // A grant ending soon concerns its requester alone; the channels heard that it started
    // and will hear that it ended.
    if event.kind == Kind::Expiring {
        return out;
    }
    if let Some(s) = flow_s {
        watchers(&mut out, ch, s);
    }
    if let Some(s) = int_s {
        watchers(&mut out, ch, s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Kind;
    use shared::model::{AccessRequest, ApprovalStep, PrincipalRef};

    fn request() -> AccessRequest {
        serde_json::from_value(serde_json::json!({
            "id": "r-1", "integration": "prod", "flow": "logs",
            "requester": {"sub": "s-dev", "issuer": "https://idp", "email": "dev@example.com", "email_verified": true},
            "resources": ["logs-1"], "permission": "read", "duration_secs": 3600, "status": "pending",
            "created_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:00Z",
            "approval_expires_at": "2026-11-24T10:00:00Z", "version": 1
        }))
        .unwrap()
    }

    #[test]
    fn approvers_hear_why_once_each_never_the_requester_and_groups_only_through_channels() {
        let mut r = request();
        r.approval_steps = vec![
            ApprovalStep::new(
                "flow approvers",
                vec![
                    PrincipalRef::user("Carol@Example.com"),
                    PrincipalRef::group("leads"),
                    PrincipalRef::user("DEV@example.com"),
                    PrincipalRef::user("a-bare-sub"),
                ],
            ),
            ApprovalStep::new(
                "owner of logs-1",
                vec![PrincipalRef::user("carol@example.com")],
            ),
        ];
        let event = Event {
            id: "request:r-1:request.created".into(),
            kind: Kind::Created,
            integration: "prod".into(),
            request: Some(r),
            audit: None,
            allows: vec![],
        };
        let ch = Channels {
            slack: true,
            email: true,
            ..Default::default()
        };
        let out = deliveries(&event, None, None, &ch);
        let why = Role::Approver {
            why: vec!["flow approvers".into(), "owner of logs-1".into()],
        };
        assert_eq!(
            out,
            vec![
                Delivery {
                    target: Target::SlackPerson {
                        email: "carol@example.com".into()
                    },
                    role: why.clone()
                },
                Delivery {
                    target: Target::Email {
                        address: "carol@example.com".into()
                    },
                    role: why
                },
            ]
        );
    }

    #[test]
    fn an_escalation_asks_the_next_tier_and_no_one_else_in_person() {
        let mut r = request();
        r.approval_steps = vec![ApprovalStep::new(
            "flow approvers",
            vec![PrincipalRef::user("alice@example.com")],
        )];
        r.escalation = Some(shared::model::Escalation {
            at: r.created_at,
            to: vec![
                PrincipalRef::user("Carol@Example.com"),
                PrincipalRef::user("dev@example.com"),
                PrincipalRef::group("sre"),
            ],
            escalated_at: Some(r.created_at),
        });
        let event = Event {
            id: "request:r-1:request.escalated".into(),
            kind: Kind::Escalated,
            integration: "prod".into(),
            request: Some(r),
            audit: None,
            allows: vec![],
        };
        let ch = Channels {
            slack: true,
            ..Default::default()
        };
        let out = deliveries(&event, None, None, &ch);
        assert_eq!(
            out,
            vec![Delivery {
                target: Target::SlackPerson {
                    email: "carol@example.com".into()
                },
                role: Role::Approver {
                    why: vec!["the next approver tier: nobody decided in time".into()]
                },
            }],
            "the tier's people (never the requester); alice was asked already"
        );
    }
}
