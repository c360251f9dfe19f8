//! What the demo shows a person: the gateway's refusals of bad tokens, and how to use the running
//! stack (URLs, demo identities, getting a token with curl).

use std::io::Write;

use serde_json::{Value, json};

use crate::idp::identities::{DEV, IDENTITIES};
use crate::idp::{CLIENT_ID, SigningKey};
use crate::stack::Stack;

/// A token the gateway must refuse, and the reason it must give.
struct BadToken {
    what: &'static str,
    token: Option<String>,
    reason: Option<&'static str>,
}

/// Call the HTTP API with no token, an expired one, one signed by a foreign key (with the
/// provider's `kid`) and one for another audience: each must be `401 {"message":"Unauthorized"}`
/// with API Gateway's `www-authenticate` reason. One line per check.
pub async fn refusals(stack: &Stack) -> Result<Vec<String>, String> {
    let idp = &stack
        .idp
        .as_ref()
        .ok_or("the identity provider is not running")?
        .idp;
    let now = chrono::Utc::now().timestamp();
    let mut expired = idp.claims_for(DEV, "access", None);
    expired.iat = now - 1200;
    expired.nbf = now - 1200;
    expired.exp = now - 600;
    let mut foreign_key = SigningKey::generate().map_err(|e| e.to_string())?;
    foreign_key.kid = idp.key.kid.clone();
    let mut other_audience = idp.claims_for(DEV, "access", None);
    other_audience.aud = "some-other-api".into();
    let sign = |c| idp.sign(c).map_err(|e| e.to_string());
    let cases = [
        BadToken {
            what: "no token",
            token: None,
            reason: None,
        },
        BadToken {
            what: "an expired token",
            token: Some(sign(&expired)?),
            reason: Some("the token has expired"),
        },
        BadToken {
            what: "a token signed by another key (same kid)",
            token: Some(
                foreign_key
                    .sign(&idp.claims_for(DEV, "access", None))
                    .map_err(|e| e.to_string())?,
            ),
            reason: Some("the token signature is invalid"),
        },
        BadToken {
            what: "a token for another audience",
            token: Some(sign(&other_audience)?),
            reason: Some("the token does not have a valid audience"),
        },
    ];
    let mut lines = Vec::new();
    for c in cases {
        let mut req = stack.http.get(format!("{}/requests", stack.api_url));
        if let Some(t) = &c.token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.map_err(|e| format!("HTTP API: {e}"))?;
        let status = r.status().as_u16();
        let challenge = r
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        lines.push(format!(
            "GET /requests with {} -> {status} {body}, www-authenticate: {challenge}",
            c.what
        ));
        if status != 401 || body != json!({"message": "Unauthorized"}) {
            return Err(format!(
                "{} was not refused as API Gateway refuses it: {status} {body}",
                c.what
            ));
        }
        let ok = match c.reason {
            None => challenge == "Bearer",
            Some(reason) => {
                challenge.contains("error=\"invalid_token\"") && challenge.contains(reason)
            }
        };
        if !ok {
            return Err(format!(
                "{}: unexpected www-authenticate {challenge:?}",
                c.what
            ));
        }
    }
    Ok(lines)
}

/// How to use the running stack: printed by the demo after the story.
pub fn print(stack: &Stack, out: &mut impl Write) -> std::io::Result<()> {
    let api = &stack.api_url;
    let idp = stack.issuer();
    writeln!(
        out,
        "\n== The local stack keeps running (Ctrl-C stops everything)"
    )?;
    writeln!(
        out,
        "   portal: {api}/portal   (log in as any demo identity below)"
    )?;
    writeln!(out, "   HTTP API (JWT authorizer):  {api}")?;
    writeln!(out, "   identity provider login:    {idp}/login")?;
    writeln!(
        out,
        "   OpenID configuration:       {idp}/.well-known/openid-configuration"
    )?;
    writeln!(
        out,
        "   Elasticsearch emulator:     {} (elastic / {})",
        stack.es_url,
        crate::stack::ELASTIC_PASSWORD
    )?;
    writeln!(out, "   Elastic Cloud emulator:     {}", stack.cloud_url)?;
    writeln!(out, "   AWS (moto):                 {}", stack.aws_endpoint)?;
    if let Some(slack) = &stack.slack {
        let url = slack.emulator.url();
        writeln!(
            out,
            "   Slack emulator:             {url}/_emulator/messages (what notify posted)"
        )?;
        writeln!(
            out,
            "     approve as alice from her message's button (the emulator signs as Slack does):"
        )?;
        writeln!(
            out,
            "     curl -s {url}/_emulator/interactions -H 'Content-Type: application/json' \\"
        )?;
        writeln!(
            out,
            "       -d '{{\"url\":\"{api}/slack/interactions\",\"user\":\"U0ALICE\",\"action\":\"approve\",\"channel\":\"DU0ALICE\",\"ts\":\"<ts>\"}}'"
        )?;
        let queue = stack
            .queues
            .get("SlackClickQueue")
            .map(|q| format!(" (SQS queue {})", q.name))
            .unwrap_or_default();
        writeln!(
            out,
            "     the click is queued{queue} and decided by the provision function within a second or so;"
        )?;
        writeln!(
            out,
            "     the outcome replaces the message: {url}/_emulator/responses"
        )?;
        writeln!(
            out,
            "   Emails (moto's SES):        {}/moto-api/data.json (ses.Message)",
            stack.ses_endpoint
        )?;
    }
    writeln!(out, "\n   Demo identities (client id {CLIENT_ID}):")?;
    for i in IDENTITIES {
        writeln!(out, "     {:<6} {}", i.login, i.role)?;
    }
    writeln!(
        out,
        "\n   Get a token as a requester (device flow; open the printed URL, pick \"dev\"):"
    )?;
    writeln!(
        out,
        "     curl -s -d client_id={CLIENT_ID} {idp}/device_authorization"
    )?;
    writeln!(
        out,
        "     TOKEN=$(curl -s -d client_id={CLIENT_ID} -d grant_type=urn:ietf:params:oauth:grant-type:device_code \\"
    )?;
    writeln!(
        out,
        "       -d device_code=<device_code from above> {idp}/token | jq -r .access_token)"
    )?;
    writeln!(out, "   Use the API:")?;
    writeln!(
        out,
        "     curl -s -H \"Authorization: Bearer $TOKEN\" {api}/requests"
    )?;
    writeln!(
        out,
        "     curl -s -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' {api}/requests \\"
    )?;
    writeln!(
        out,
        "       -d '{{\"integration\":\"demo-search\",\"flow\":\"logs-read\",\"resources\":[\"logs-*\"],\"permission\":\"read\",\"duration\":\"2m\",\"justification\":\"trying it out\"}}'"
    )?;
    writeln!(
        out,
        "   A 2-minute grant (grants may be as short as 1 minute), once approved (log in as alice), is revoked by its schedule by itself."
    )?;
    writeln!(
        out,
        "   Schedules firing, rotations and other glue activity are printed below as they happen.\n"
    )?;
    out.flush()
}
