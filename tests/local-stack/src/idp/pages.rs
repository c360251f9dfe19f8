//! The pages a person sees: the provider's home (who can log in, how to get a token), the login
//! page of the authorization-code flow, and the device flow's code entry page.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::identities::{self, IDENTITIES, Identity};
use super::{CLIENT_ID, Idp};

/// Escape text for HTML element content and double-quoted attributes.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}\
         button{{margin:.2rem 0;padding:.4rem .8rem}}code{{background:#eee;padding:0 .2rem}}\
         li{{margin:.4rem 0}}</style></head><body><h1>{t}</h1>{body}\
         <p><small>elastic-jit development identity provider: local use only.</small></p></body></html>",
        t = esc(title)
    );
    let mut r = (status, Html(html)).into_response();
    // The login page must not be framed by another page (clickjacking) nor cached.
    let h = r.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "content-security-policy",
        // The login form's redirect goes to the client's loopback redirect URI: browsers
        // apply form-action to it, so loopback origins are allowed there.
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; \
             form-action 'self' http://127.0.0.1:* http://localhost:*; frame-ancestors 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn identity_list() -> String {
    let mut s = String::from("<ul>");
    for i in IDENTITIES {
        s.push_str(&format!(
            "<li><b>{}</b> ({}, email {}{}, groups {}): {}</li>",
            esc(i.login),
            esc(i.sub),
            esc(i.email),
            if i.email_verified {
                ""
            } else {
                " <b>unverified</b>"
            },
            esc(&format!("{:?}", i.groups)),
            esc(i.role)
        ));
    }
    s.push_str("</ul>");
    s
}

pub async fn home(State(idp): State<Arc<Idp>>) -> Response {
    let i = esc(&idp.issuer);
    let body = format!(
        "<p>Demo identities (pick one when you log in):</p>{list}\
         <h2>Get a token with curl (device flow)</h2><ol>\
         <li><code>curl -s -d client_id={CLIENT_ID} {i}/device_authorization</code></li>\
         <li>open the <code>verification_uri_complete</code> it prints and choose an identity</li>\
         <li><code>curl -s -d client_id={CLIENT_ID} -d grant_type=urn:ietf:params:oauth:grant-type:device_code \
         -d device_code=DEVICE_CODE {i}/token</code></li></ol>\
         <p>Applications use the authorization-code flow with PKCE (S256) at <code>{i}/authorize</code>, \
         client id <code>{CLIENT_ID}</code>, any loopback redirect URI. \
         Discovery: <a href=\"{i}/.well-known/openid-configuration\">{i}/.well-known/openid-configuration</a>.</p>",
        list = identity_list()
    );
    page(StatusCode::OK, "Log in to elastic-jit (local)", &body)
}

/// The authorization request's parameters, validated (OpenID Connect Core §3.1.2.1, RFC 7636).
struct AuthRequest {
    redirect_uri: String,
    challenge: String,
    state: Option<String>,
    nonce: Option<String>,
}

/// RFC 8252 §7.3: a native client's redirect URI is a loopback `http` URI on any port. Nothing
/// else is accepted, so a login here can never hand a code to another host.
fn loopback_redirect(uri: &str) -> bool {
    let Ok(u) = url::Url::parse(uri) else {
        return false;
    };
    let loopback_host = match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    u.scheme() == "http"
        && loopback_host
        && u.fragment().is_none()
        && u.username().is_empty()
        && u.password().is_none()
}

fn validate(q: &HashMap<String, String>) -> Result<AuthRequest, String> {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if get("client_id") != CLIENT_ID {
        return Err(format!(
            "unknown client_id: this provider knows only {CLIENT_ID}"
        ));
    }
    let redirect_uri = get("redirect_uri");
    if !loopback_redirect(redirect_uri) {
        return Err(
            "redirect_uri must be a loopback http URI (127.0.0.1, [::1] or localhost)".into(),
        );
    }
    if get("response_type") != "code" {
        return Err("response_type must be code".into());
    }
    if get("code_challenge_method") != "S256" {
        return Err("PKCE is required with code_challenge_method=S256 (plain is refused)".into());
    }
    let challenge = get("code_challenge");
    let ok = challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(
            "code_challenge must be the 43-character base64url SHA-256 of the verifier".into(),
        );
    }
    let opt = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
    Ok(AuthRequest {
        redirect_uri: redirect_uri.into(),
        challenge: challenge.into(),
        state: opt("state"),
        nonce: opt("nonce"),
    })
}

const FORWARDED: [&str; 7] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "state",
    "nonce",
];

pub async fn authorize_page(Query(q): Query<HashMap<String, String>>) -> Response {
    if let Err(msg) = validate(&q) {
        return page(
            StatusCode::BAD_REQUEST,
            "Invalid login request",
            &format!("<p>{}</p>", esc(&msg)),
        );
    }
    let hidden: String = FORWARDED
        .iter()
        .filter_map(|k| q.get(*k).map(|v| (k, v)))
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", esc(v)))
        .collect();
    let mut buttons = String::new();
    for i in IDENTITIES {
        buttons.push_str(&format!(
            "<li><button type=\"submit\" id=\"login-{l}\" name=\"identity\" value=\"{l}\">Log in as {l}</button> {r}</li>",
            l = esc(i.login),
            r = esc(i.role)
        ));
    }
    page(
        StatusCode::OK,
        "Log in to elastic-jit (local)",
        &format!("<form method=\"post\" action=\"/authorize\">{hidden}<ul>{buttons}</ul></form>"),
    )
}

pub async fn authorize_submit(
    State(idp): State<Arc<Idp>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let req = match validate(&form) {
        Ok(r) => r,
        Err(msg) => {
            return page(
                StatusCode::BAD_REQUEST,
                "Invalid login request",
                &format!("<p>{}</p>", esc(&msg)),
            );
        }
    };
    let Some(who) = form.get("identity").and_then(|l| identities::by_login(l)) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Unknown identity",
            "<p>Pick one of the listed identities.</p>",
        );
    };
    let code = idp.new_code(CLIENT_ID, &req.redirect_uri, &req.challenge, who, req.nonce);
    let mut target = match url::Url::parse(&req.redirect_uri) {
        Ok(u) => u,
        Err(_) => {
            return page(
                StatusCode::BAD_REQUEST,
                "Invalid login request",
                "<p>bad redirect_uri</p>",
            );
        }
    };
    {
        let mut pairs = target.query_pairs_mut();
        pairs.append_pair("code", &code);
        if let Some(s) = &req.state {
            pairs.append_pair("state", s);
        }
        pairs.append_pair("iss", &idp.issuer);
    }
    Redirect::to(target.as_str()).into_response()
}

pub async fn device_page(Query(q): Query<HashMap<String, String>>) -> Response {
    let code = q.get("user_code").map(String::as_str).unwrap_or("");
    let mut buttons = String::new();
    for i in IDENTITIES {
        buttons.push_str(&format!(
            "<li><button type=\"submit\" name=\"identity\" value=\"{l}\">Approve as {l}</button> {r}</li>",
            l = esc(i.login),
            r = esc(i.role)
        ));
    }
    page(
        StatusCode::OK,
        "Connect a device to elastic-jit (local)",
        &format!(
            "<form method=\"post\" action=\"/device\"><p><label>Code shown on your device: \
             <input name=\"user_code\" value=\"{}\" autocomplete=\"off\"></label></p>\
             <ul>{buttons}</ul><p><button type=\"submit\" name=\"deny\" value=\"1\">Deny</button></p></form>",
            esc(code)
        ),
    )
}

pub async fn device_submit(
    State(idp): State<Arc<Idp>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let code = form.get("user_code").map(String::as_str).unwrap_or("");
    let who: Option<Identity> = if form.contains_key("deny") {
        None
    } else {
        match form.get("identity").and_then(|l| identities::by_login(l)) {
            Some(w) => Some(w),
            None => {
                return page(
                    StatusCode::BAD_REQUEST,
                    "Unknown identity",
                    "<p>Pick one of the listed identities.</p>",
                );
            }
        }
    };
    match idp.decide_device(code, who) {
        Ok(()) => page(
            StatusCode::OK,
            "Done",
            &match who {
                Some(w) => format!(
                    "<p>Your device is connected as <b>{}</b>. Return to your terminal.</p>",
                    esc(w.login)
                ),
                None => "<p>The request was denied.</p>".to_string(),
            },
        ),
        Err(msg) => page(
            StatusCode::BAD_REQUEST,
            "Code not accepted",
            &format!("<p>{}</p>", esc(msg)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_redirects_are_accepted() {
        assert!(loopback_redirect("http://127.0.0.1:8765/callback"));
        assert!(loopback_redirect("http://localhost/cb"));
        assert!(loopback_redirect("http://[::1]:9000/cb"));
        assert!(!loopback_redirect("https://evil.example/cb"));
        assert!(!loopback_redirect("http://127.0.0.1.evil.example/cb"));
        assert!(!loopback_redirect("http://user@127.0.0.1/cb"));
        assert!(!loopback_redirect("http://127.0.0.1/cb#frag"));
        assert!(!loopback_redirect("javascript:alert(1)"));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(esc("\"><script>"), "&quot;&gt;&lt;script&gt;");
    }
}
