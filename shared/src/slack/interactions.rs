//! Approve and reject buttons: the interactivity request Slack sends when someone clicks one.
//!
//! The route has no JWT authorizer, so everything rests on three checks, in this order: the
//! request is Slack's (v0 signature with the signing secret, five-minute window), the clicking
//! Slack user is a person (their Slack profile email, trusted only because the operator said
//! Slack verifies it: `SLACK_TRUST_EMAIL`), and that person may decide (the same decision code,
//! policy and conditional writes as `POST /requests/{id}/approve`). A person gets no more from
//! a button than from the API: the Slack identity carries only the verified email and no
//! groups, so an approver named by email decides in one click, and one who approves through a
//! group is sent to the portal's decision page to sign in (step-up) instead.
//!
//! Slack wants the route's answer within three seconds, and approving may provision on a slow
//! cluster. So the route only verifies the request and queues it ([`receive`]); the decision
//! runs from the queue ([`settle`]), which verifies the click again and reports the outcome
//! through the click's `response_url`.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::client::SlackClient;
use super::signature;
use crate::api::ApiError;
use crate::model::{AccessRequest, DecisionKind, Identity, RequestStatus};
use crate::notifications::{request_link, summary};
use crate::policy::is_own_request;

/// The issuer recorded for identities proven by Slack (they are not IdP identities).
pub const SLACK_ISSUER: &str = "https://slack.com";
/// The reason recorded for a one-click rejection (the API requires one).
pub const SLACK_REJECT_REASON: &str = "rejected from Slack";

pub struct InteractionConfig {
    pub signing_secret: SecretString,
    /// Whether a Slack profile email counts as verified. Off: nobody decides in one click.
    pub trust_slack_email: bool,
    /// The stack's public URL (the portal is at `/portal/`).
    pub public_url: String,
    /// The only Slack workspace whose members may click (None: the bot's own, from the payload).
    pub team_id: Option<String>,
    /// When set, a member whose IdP login (a call to the API with their token) proved group
    /// membership this recently decides with those groups too; otherwise a group approver is
    /// sent to the portal.
    pub trust_groups_for: Option<chrono::Duration>,
}

/// The decision code of the API, called as the person a Slack user was mapped to.
#[async_trait]
pub trait Decider: Send + Sync {
    async fn decide(
        &self,
        who: &Identity,
        id: &str,
        kind: DecisionKind,
        reason: Option<String>,
    ) -> Result<AccessRequest, ApiError>;
    async fn load(&self, id: &str) -> Result<Option<AccessRequest>, ApiError>;
}

/// What the route answers Slack (Slack wants a 200 within three seconds; the message itself
/// is changed through the interaction's `response_url` once the click is decided).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// A refusal in the API's error shape (`{"error": {"code", "message"}}`).
fn refuse(status: u16, code: &'static str, message: &str) -> Answer {
    Answer {
        status,
        body: ApiError::new(status, code, message).body(),
    }
}

/// One button click, as parsed from Slack's verified payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Click {
    user: String,
    team: Option<String>,
    kind: DecisionKind,
    request_id: String,
    response_url: Option<String>,
    /// Slack's verified request timestamp (Unix seconds).
    #[serde(default)]
    clicked_at: i64,
}

fn parse(body: &[u8]) -> Result<Option<Click>, &'static str> {
    let payload = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or("the body has no payload field")?;
    let p: Value = serde_json::from_str(&payload).map_err(|_| "the payload is not JSON")?;
    if p["type"].as_str() != Some("block_actions") {
        return Ok(None);
    }
    let Some(action) = p["actions"].as_array().and_then(|a| a.first()) else {
        return Ok(None);
    };
    let kind = match action["action_id"].as_str() {
        Some("approve") => DecisionKind::Approve,
        Some("reject") => DecisionKind::Reject,
        // Link buttons (open in the portal) also send an action: nothing to do.
        _ => return Ok(None),
    };
    let request_id = action["value"]
        .as_str()
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .ok_or("the action carries no request id")?
        .to_string();
    let user = p["user"]["id"]
        .as_str()
        .ok_or("the payload names no user")?
        .to_string();
    Ok(Some(Click {
        user,
        team: p["team"]["id"]
            .as_str()
            .or(p["user"]["team_id"].as_str())
            .map(str::to_string),
        kind,
        request_id,
        response_url: p["response_url"].as_str().map(str::to_string),
        clicked_at: 0,
    }))
}

fn ephemeral(text: String) -> Value {
    json!({"response_type": "ephemeral", "replace_original": false, "text": text})
}

/// The message after a decision, replacing the one with the buttons.
pub fn outcome_message(r: &AccessRequest, public_url: &str) -> Value {
    let what = super::escape(&summary(r));
    let decided = r.decisions.last();
    let text = match (r.status, decided) {
        (RequestStatus::Rejected, Some(d)) => format!(
            "Rejected by {}: {}\n{what}",
            d.by,
            super::escape(d.reason.as_deref().unwrap_or("no reason given"))
        ),
        (RequestStatus::Pending, _) => {
            let waiting: Vec<&str> = r
                .approval_steps
                .iter()
                .filter(|s| s.approved_by.is_none())
                .map(|s| s.label.as_str())
                .collect();
            format!(
                "Approval recorded; still waiting for: {}\n{what}",
                waiting.join(", ")
            )
        }
        (RequestStatus::Cancelled, _) => {
            format!("Cancelled by the requester: no decision is needed\n{what}")
        }
        (status, Some(d)) if d.kind == DecisionKind::Approve => {
            format!("Approved by {} (now {status})\n{what}", d.by)
        }
        (status, _) => format!("This request is {status}\n{what}"),
    };
    let link = request_link(public_url, &r.id);
    // Still pending (a step, or a quorum, waits for others): the clicker alone is told, and
    // the message keeps its buttons for the others it asks (a channel's members, say).
    if r.status == RequestStatus::Pending {
        return ephemeral(format!("{text}\n<{link}|Open in the portal>"));
    }
    json!({
        "replace_original": true,
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": super::fit_section(text.clone())}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("<{link}|Open in the portal>")}]}
        ]
    })
}

/// How long a queued click stays worth deciding: Slack's `response_url` accepts updates for
/// 30 minutes after the click.
pub const CLICK_LIFETIME_SECS: i64 = 30 * 60;

/// What the route may spend telling a member their click is refused (Slack waits 3 s in all).
const EARLY_REPLY_BUDGET: std::time::Duration = std::time::Duration::from_millis(1000);
/// A verified click waiting to be decided: the click (JSON) and a seal over it, an HMAC keyed
/// with the Slack signing secret. Only what the decision needs is queued (not Slack's raw
/// payload, which carries the app's legacy verification token), and whoever may send to the
/// queue still cannot forge a click without the signing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedClick {
    pub click: String,
    pub seal: String,
}

#[derive(Debug, thiserror::Error)]
#[error("queueing a Slack click: {0}")]
pub struct QueueError(pub String);

/// Where verified clicks wait to be decided (SQS in AWS). Slack wants an answer within three
/// seconds; a decision may provision on a slow cluster.
#[async_trait]
pub trait ClickQueue: Send + Sync {
    async fn enqueue(&self, click: &QueuedClick) -> Result<(), QueueError>;
}

/// Receive one interactivity request: verify it (signature, five-minute window), and queue a
/// button click for [`settle`]. `timestamp` and `signature` are Slack's headers, `body` the raw
/// form body as received, `now` Unix seconds. Answers Slack at once: the outcome reaches the
/// member through the click's `response_url`. A click the settings refuse whoever made it (a
/// foreign workspace, one-click decisions off) is answered here and never queued, so nobody
/// outside the workspace can fill the queue.
pub async fn receive(
    cfg: &InteractionConfig,
    slack: &SlackClient,
    queue: &dyn ClickQueue,
    timestamp: Option<&str>,
    signature_header: Option<&str>,
    body: &[u8],
    now: i64,
) -> Answer {
    if let Err(e) = signature::verify(
        cfg.signing_secret.expose_secret().as_bytes(),
        timestamp,
        signature_header,
        body,
        now,
    ) {
        tracing::warn!(reason = %e, "refused a Slack interaction");
        return refuse(401, "invalid_slack_signature", &e.to_string());
    }
    let ok = Answer {
        status: 200,
        body: json!({}),
    };
    let mut click = match parse(body) {
        Ok(Some(c)) => c,
        Ok(None) => return ok,
        Err(m) => return refuse(400, "invalid_slack_payload", m),
    };
    if let Some(refusal) = refused_by_settings(cfg, &click) {
        if let Some(url) = &click.response_url
            && let Err(e) = tokio::time::timeout(EARLY_REPLY_BUDGET, slack.respond(url, &refusal))
                .await
                .unwrap_or_else(|_| {
                    Err(super::SlackError::Unavailable {
                        method: "response_url".into(),
                        reason: "timed out".into(),
                    })
                })
        {
            tracing::warn!(error = %e, "telling a member their click is refused");
        }
        return ok;
    }
    // `verify` accepted it, so the header is a number.
    click.clicked_at = timestamp.and_then(|t| t.trim().parse().ok()).unwrap_or(now);
    let json = match serde_json::to_string(&click) {
        Ok(j) => j,
        Err(_) => return refuse(400, "invalid_slack_payload", "the click cannot be queued"),
    };
    let queued = QueuedClick {
        seal: signature::seal(
            cfg.signing_secret.expose_secret().as_bytes(),
            json.as_bytes(),
        ),
        click: json,
    };
    match queue.enqueue(&queued).await {
        Ok(()) => ok,
        Err(e) => {
            // Slack shows the member that the app failed: a click must not vanish silently.
            tracing::error!(error = %e, "a Slack click could not be queued");
            refuse(
                503,
                "click_not_queued",
                "elastic-jit may not have taken the click; if the message does not change, click again",
            )
        }
    }
}

/// What became of a queued click.
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    /// Decided, or refused, and the member told (the message sent, if any).
    Done(Option<Value>),
    /// Not now (Slack or the table unreachable): deliver the click again later.
    Retry,
}

/// Decide a queued click and tell the member through its `response_url`. The seal is checked
/// again and the click must be younger than [`CLICK_LIFETIME_SECS`]; one that fails either is
/// dropped. A transient failure asks for another delivery unless `last_attempt`, when the
/// member is told what happened instead. Decisions are conditional writes: a click delivered
/// twice decides once, and the second delivery shows the outcome again.
pub async fn settle(
    cfg: &InteractionConfig,
    slack: &SlackClient,
    decider: &dyn Decider,
    queued: &QueuedClick,
    now: i64,
    last_attempt: bool,
) -> Settled {
    let secret = cfg.signing_secret.expose_secret().as_bytes();
    if !signature::check_seal(secret, queued.click.as_bytes(), &queued.seal) {
        // Not Slack's click, or sealed with a signing secret since rotated: either way
        // someone should look.
        tracing::error!("dropped a queued Slack click: its seal does not match");
        return Settled::Done(None);
    }
    let click: Click = match serde_json::from_str(&queued.click) {
        Ok(c) => c,
        Err(_) => {
            tracing::warn!("dropped a queued Slack click: not a click");
            return Settled::Done(None);
        }
    };
    let age = now - click.clicked_at;
    if !(-signature::MAX_SKEW_SECS..=CLICK_LIFETIME_SECS).contains(&age) {
        tracing::warn!(
            clicked_at = click.clicked_at,
            "dropped a queued Slack click: older than its response_url"
        );
        return Settled::Done(None);
    }
    let (reply, transient) = decide_click(cfg, slack, decider, &click).await;
    if transient && !last_attempt {
        return Settled::Retry;
    }
    if let Some(url) = &click.response_url
        && let Err(e) = slack.respond(url, &reply).await
    {
        if !last_attempt && e.is_transient() {
            tracing::warn!(error = %e, "updating the Slack message; will retry");
            return Settled::Retry;
        }
        // The decision stands either way; only the message did not change.
        tracing::warn!(error = %e, "updating the Slack message");
    }
    Settled::Done(Some(reply))
}

/// The refusal a click gets whoever made it: from another workspace, or with one-click
/// decisions off.
fn refused_by_settings(cfg: &InteractionConfig, click: &Click) -> Option<Value> {
    let link = request_link(&cfg.public_url, &click.request_id);
    if let (Some(want), Some(got)) = (&cfg.team_id, &click.team)
        && want != got
    {
        return Some(ephemeral(
            "This Slack workspace may not decide elastic-jit requests.".into(),
        ));
    }
    if !cfg.trust_slack_email {
        return Some(ephemeral(format!(
            "Decisions from Slack are turned off here: decide in the portal: {link}"
        )));
    }
    None
}

async fn decide_click(
    cfg: &InteractionConfig,
    slack: &SlackClient,
    decider: &dyn Decider,
    click: &Click,
) -> (Value, bool) {
    let done = |v: Value| (v, false);
    let link = request_link(&cfg.public_url, &click.request_id);
    if let Some(refusal) = refused_by_settings(cfg, click) {
        return done(refusal);
    }
    let user = match slack.user_info(&click.user).await {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(error = %e, "users.info for a Slack interaction");
            return (
                ephemeral(format!(
                    "Slack could not tell who you are right now; try again, or decide in the portal: {link}"
                )),
                e.is_transient(),
            );
        }
    };
    let Some(email) = user.email.filter(|_| !user.deleted && !user.is_bot) else {
        return done(ephemeral(format!(
            "Your Slack profile has no email elastic-jit can use: decide in the portal: {link}"
        )));
    };
    // A member of another organization in a shared (Slack Connect) channel has an email their
    // own organization vouches for, not this workspace: never enough to decide here.
    if let (Some(home), Some(theirs)) = (&click.team, &user.team_id)
        && home != theirs
    {
        return done(ephemeral(format!(
            "Members of other Slack organizations cannot decide here: decide in the portal: {link}"
        )));
    }
    let team = click.team.clone().or(user.team_id).unwrap_or_default();
    let who = Identity {
        sub: format!("slack:{team}:{}", click.user),
        issuer: Some(SLACK_ISSUER.into()),
        email: Some(email),
        email_verified: true,
        groups: vec![],
    };
    let reason = match click.kind {
        DecisionKind::Approve => None,
        DecisionKind::Reject => Some(SLACK_REJECT_REASON.to_string()),
    };
    // Own requests are refused by the decision code too; checked first for a clear message.
    if let Ok(Some(r)) = decider.load(&click.request_id).await
        && is_own_request(&r, &who)
    {
        return done(ephemeral(
            "Nobody may approve or reject their own request.".into(),
        ));
    }
    let reply = match decider
        .decide(&who, &click.request_id, click.kind, reason)
        .await
    {
        Ok(r) => outcome_message(&r, &cfg.public_url),
        // A second click, or a second delivery of this one (the queue delivers at least once):
        // show where the request stands.
        Err(e) if e.status == 409 && (e.code == "not_pending" || e.code == "already_decided") => {
            match decider.load(&click.request_id).await {
                Ok(Some(r)) => outcome_message(&r, &cfg.public_url),
                _ => ephemeral(e.message),
            }
        }
        Err(e) if e.code == "reason_required" => ephemeral(format!(
            "This flow asks approvers for a reason, which a button cannot carry: approve in the \
             portal: {link}"
        )),
        Err(e) if e.status == 403 || e.status == 404 => ephemeral(match cfg.trust_groups_for {
            Some(window) => format!(
                "You may not decide this request as {}: you are not named by your email, and no \
                 sign-in of yours in the last {} shows a group that may. Sign in to the portal \
                 (your groups then count here) or decide there: {link}",
                who.display(),
                crate::model::format_duration(window.to_std().unwrap_or_default())
            ),
            None => format!(
                "You are not named as an approver of this request by your email ({}). If you \
                 approve through a group, sign in and decide in the portal: {link}",
                who.display()
            ),
        }),
        // The table or the cluster failing, or the request changing too fast: worth another
        // delivery (the decision is a conditional write, so one that landed is shown, not
        // repeated).
        Err(e) if e.status >= 500 || (e.status == 409 && e.code == "conflict") => {
            return (ephemeral(format!("{} ({link})", e.message)), true);
        }
        Err(e) => ephemeral(format!("{} ({link})", e.message)),
    };
    done(reply)
}
