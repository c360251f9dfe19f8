//! Who else hears about a flow's or an integration's requests, and how: the `notifications`
//! setting of flows and integrations, checked when an administrator saves it, and the few words
//! every message about a request uses.
//!
//! Webhook URLs are an SSRF surface (the notify function calls them from inside the account):
//! only `https`, or plain `http` to a loopback host, is accepted here, never credentials in the
//! URL, never an IP literal that is link-local (the instance metadata service), private,
//! unspecified or multicast, nor a metadata host name. The notify function checks again where
//! the name resolves to before it connects, and refuses loopback unless its local-only setting
//! allows it.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::model::AccessRequest;
use crate::validation::ValidationErrors;

pub const MAX_EMAILS: usize = 20;
pub const MAX_WEBHOOKS: usize = 5;

fn yes() -> bool {
    true
}

fn is_true(v: &bool) -> bool {
    *v
}

/// A flow's or an integration's notification targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// A Slack channel (id such as `C0123ABCD`, or `#name`) that hears every event, with
    /// approve/reject buttons on new requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_channel: Option<String>,
    /// Direct messages in Slack to the people an event concerns (approvers named by email, the
    /// requester, integration owners named by email), found by their email.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub slack_direct: bool,
    /// Email to the people an event concerns.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub email_people: bool,
    /// Addresses that receive every event (a team list, a ticketing inbox).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    /// Signed webhooks that receive every event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<Webhook>,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            slack_channel: None,
            slack_direct: true,
            email_people: true,
            emails: vec![],
            webhooks: vec![],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub url: String,
    /// The Secrets Manager secret holding the HMAC key (`{"hmac_key": "..."}`); the notify
    /// function may read only secrets under its own prefix.
    pub secret_arn: String,
}

impl NotificationSettings {
    pub fn validate(&self, e: &mut ValidationErrors, field: &str) {
        if let Some(c) = &self.slack_channel {
            let name = c.strip_prefix('#').unwrap_or(c);
            if name.is_empty()
                || name.len() > 80
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' || ch == '.')
            {
                e.push(
                    "invalid_slack_channel",
                    format!("{field}.slack_channel"),
                    "slack_channel must be a channel id (C0123ABCD) or #name of letters, digits, -, _ or .",
                );
            }
        }
        if self.emails.len() > MAX_EMAILS {
            e.push(
                "too_many_emails",
                format!("{field}.emails"),
                format!("at most {MAX_EMAILS} addresses"),
            );
        }
        for (i, a) in self.emails.iter().enumerate() {
            if !is_plain_email(a) {
                e.push(
                    "invalid_email",
                    format!("{field}.emails[{i}]"),
                    format!("{a:?} is not an email address"),
                );
            }
        }
        if self.webhooks.len() > MAX_WEBHOOKS {
            e.push(
                "too_many_webhooks",
                format!("{field}.webhooks"),
                format!("at most {MAX_WEBHOOKS} webhooks"),
            );
        }
        for (i, w) in self.webhooks.iter().enumerate() {
            let f = format!("{field}.webhooks[{i}]");
            if let Err(m) = check_webhook_url(&w.url) {
                e.push("invalid_webhook_url", format!("{f}.url"), m);
            }
            if !is_secret_arn(&w.secret_arn) {
                e.push(
                    "invalid_secret_arn",
                    format!("{f}.secret_arn"),
                    "secret_arn must be a Secrets Manager secret ARN",
                );
            }
        }
    }
}

fn is_plain_email(a: &str) -> bool {
    let Some((local, domain)) = a.split_once('@') else {
        return false;
    };
    a.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.contains('@')
        && a.chars()
            .all(|c| c.is_ascii_graphic() && c != '<' && c != '>' && c != ',')
}

fn is_secret_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    parts.len() == 7
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "secretsmanager"
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5] == "secret"
        && !parts[6].is_empty()
        && arn.len() <= 2048
}

/// Host names that lead to instance metadata whatever they resolve to.
const METADATA_HOSTS: [&str; 3] = ["metadata.google.internal", "metadata", "instance-data"];

/// An address a webhook may never reach: the metadata service and everything link-local,
/// unspecified, multicast or broadcast, and (unless `allow_loopback`) loopback.
pub fn forbidden_address(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || (v4.is_loopback() && !allow_loopback)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_address(IpAddr::V4(v4), allow_loopback);
            }
            let seg = v6.segments();
            v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xffc0) == 0xfe80
                // fd00:ec2::254, the EC2 metadata service over IPv6
                || (seg[0] == 0xfd00 && seg[1] == 0x0ec2)
                || (v6.is_loopback() && !allow_loopback)
        }
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64,
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

pub fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(v4) => v4.is_loopback(),
        url::Host::Ipv6(v6) => v6.is_loopback(),
    }
}

/// The checks made when a webhook is saved (see the module comment).
pub fn check_webhook_url(raw: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(raw).map_err(|e| format!("not a valid URL: {e}"))?;
    let host = u.host().ok_or("the URL must name a host")?;
    match u.scheme() {
        "https" => {}
        "http" if is_loopback_host(&host) => {}
        "http" => {
            return Err(
                "webhooks must use https (plain http only to loopback, for local use)".into(),
            );
        }
        _ => return Err("webhooks must use https".into()),
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("the URL must not embed credentials".into());
    }
    let ip = match host {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(d) => {
            if METADATA_HOSTS.iter().any(|m| d.eq_ignore_ascii_case(m)) {
                return Err("the URL must not name a metadata service".into());
            }
            None
        }
    };
    if let Some(ip) = ip
        && (forbidden_address(ip, true) || is_private(ip))
    {
        return Err("the URL must not point at a link-local, private or metadata address".into());
    }
    Ok(u)
}

/// Where the portal shows a request (its decision page for approvers).
pub fn request_link(public_url: &str, id: &str) -> String {
    format!(
        "{}/portal/#/requests/{id}",
        public_url.trim_end_matches('/')
    )
}

/// Who asks for what, how long and why: the line every message about a request carries.
pub fn summary(r: &AccessRequest) -> String {
    let secs = r.duration_secs;
    let how_long = if secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else {
        format!("{}m", secs / 60)
    };
    let why = r
        .justification
        .as_deref()
        .map(|j| format!(" Justification: {j}"))
        .unwrap_or_default();
    // A requested start, until the grant exists (then its own times speak).
    let from = match (r.starts_at, r.ends_at) {
        (Some(s), None) => format!(" from {} UTC", s.format("%Y-%m-%d %H:%M")),
        _ => String::new(),
    };
    if let Some(items) = &r.bundle {
        // Every item in one message: the approvers decide the bundle as a whole.
        let parts: Vec<String> = items
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!(
                    "({}) {} on {}: {}",
                    i + 1,
                    p.permission,
                    p.integration,
                    p.resources.join(", ")
                )
            })
            .collect();
        return format!(
            "{} asks for bundle {} for {how_long}: {}.{why}",
            r.requester.display(),
            r.flow,
            parts.join("; "),
        );
    }
    let part_of = r
        .parent
        .as_deref()
        .map(|p| format!(" (part of bundle {p})"))
        .unwrap_or_default();
    format!(
        "{} asks for {} on {}: {} for {how_long}{from}{part_of}.{why}",
        r.requester.display(),
        r.permission,
        r.integration,
        r.resources.join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(url: &str) -> NotificationSettings {
        NotificationSettings {
            webhooks: vec![Webhook {
                url: url.into(),
                secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:elastic-jit/notify/siem-AbCdEf".into(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn webhooks_must_not_reach_metadata_link_local_or_cleartext() {
        for bad in [
            "http://hooks.example.com/x",
            "https://169.254.169.254/latest/meta-data/",
            "https://[fd00:ec2::254]/",
            "https://[fe80::1]/",
            "https://10.0.0.5/",
            "https://0.0.0.0/",
            "https://metadata.google.internal/",
            "https://user:pw@hooks.example.com/",
            "ftp://hooks.example.com/",
            "https://[::ffff:169.254.169.254]/",
        ] {
            let mut e = ValidationErrors::default();
            webhook(bad).validate(&mut e, "notifications");
            assert!(e.has("invalid_webhook_url"), "{bad} accepted");
        }
        for ok in [
            "https://hooks.example.com/jit",
            "http://127.0.0.1:8080/hook",
            "http://localhost/h",
        ] {
            let mut e = ValidationErrors::default();
            webhook(ok).validate(&mut e, "notifications");
            assert!(e.is_empty(), "{ok}: {e:?}");
        }
    }

    #[test]
    fn loopback_is_forbidden_at_send_time_unless_allowed() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(forbidden_address(lo, false));
        assert!(!forbidden_address(lo, true));
        assert!(forbidden_address("169.254.169.254".parse().unwrap(), true));
        assert!(!forbidden_address("93.184.216.34".parse().unwrap(), false));
    }

    #[test]
    fn bad_channels_addresses_and_arns_are_named() {
        let s = NotificationSettings {
            slack_channel: Some("#bad channel".into()),
            emails: vec!["not-an-address".into()],
            webhooks: vec![Webhook {
                url: "https://h.example.com".into(),
                secret_arn: "secret".into(),
            }],
            ..Default::default()
        };
        let mut e = ValidationErrors::default();
        s.validate(&mut e, "notifications");
        for code in [
            "invalid_slack_channel",
            "invalid_email",
            "invalid_secret_arn",
        ] {
            assert!(e.has(code), "{code}: {e:?}");
        }
    }
}
