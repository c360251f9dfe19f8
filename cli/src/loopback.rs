//! The browser sign-in's redirect target (RFC 8252 §7.3): a listener on 127.0.0.1, never on
//! another interface, on a port the system picks, that takes the one authorization response
//! carrying this login's `state` and then closes.
//!
//! Anything that can reach the loopback port can send a request here (another local user, or a
//! web page the browser has open), so a response is taken only with the right `state` (CSRF,
//! RFC 6749 §10.12), only from a request addressed to 127.0.0.1 (a rebound DNS name is refused),
//! and, when the provider names itself (RFC 9207 `iss`), only from this login's issuer. A forged
//! response is answered 400 and ignored: the real one can still arrive until the timeout.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tokio::sync::oneshot;

use crate::error::{CliError, Result};

/// The path of the redirect URI.
pub const CALLBACK_PATH: &str = "/callback";

/// How long the listener may take to finish answering once the response is in.
const DRAIN: Duration = Duration::from_secs(2);

/// What the provider sent back for this login (the `state` matched).
#[derive(PartialEq, Eq)]
pub enum Outcome {
    Code(String),
    /// The provider (or the person) refused: the OAuth `error` and its description, or why the
    /// response cannot be used.
    Refused(String),
}

impl std::fmt::Debug for Outcome {
    // The code is a credential until it is exchanged: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Code(_) => f.write_str("Code(..)"),
            Self::Refused(why) => f.debug_tuple("Refused").field(why).finish(),
        }
    }
}

/// A bound listener, not yet serving.
pub struct Loopback {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
}

struct Shared {
    expected_state: String,
    issuer: String,
    host: String,
    done: Mutex<Option<oneshot::Sender<Outcome>>>,
}

impl Loopback {
    /// Bind 127.0.0.1 on `port`, or on a free one for 0. A port another process holds is an
    /// error, never shared.
    pub async fn bind(port: u16) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(|e| CliError::config(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| CliError::config(format!("cannot listen on 127.0.0.1: {e}")))?;
        Ok(Self { listener, addr })
    }

    /// `http://127.0.0.1:PORT/callback`, the redirect URI to register with the request.
    pub fn redirect_uri(&self) -> String {
        format!("http://{}{CALLBACK_PATH}", self.addr)
    }

    /// Start answering now (before a browser is opened, so a browser that never returns cannot
    /// keep the redirect unanswered): the response for `expected_state` ends it.
    pub fn serve(self, expected_state: &str, issuer: &str) -> Serving {
        let (tx, rx) = oneshot::channel();
        let shared = Arc::new(Shared {
            expected_state: expected_state.to_string(),
            issuer: issuer.to_string(),
            host: self.addr.to_string(),
            done: Mutex::new(Some(tx)),
        });
        let app = Router::new()
            .route(CALLBACK_PATH, get(callback))
            .fallback(|| async { page(StatusCode::NOT_FOUND, "Not found", "Nothing here.") })
            .with_state(shared);
        let (stop, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(self.listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await;
        });
        Serving {
            outcome: rx,
            stop,
            server,
        }
    }
}

/// A listener answering the redirect, until its outcome is taken.
pub struct Serving {
    outcome: oneshot::Receiver<Outcome>,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl Serving {
    /// The response for this login, or an error once `timeout` has passed; the listener is
    /// closed either way.
    pub async fn outcome(self, timeout: Duration) -> Result<Outcome> {
        let outcome = tokio::time::timeout(timeout, self.outcome).await;
        // Stop accepting; let the page that answered the response reach the browser.
        let _ = self.stop.send(());
        let abort = self.server.abort_handle();
        if tokio::time::timeout(DRAIN, self.server).await.is_err() {
            abort.abort();
        }
        match outcome {
            Ok(Ok(o)) => Ok(o),
            Ok(Err(_)) => Err(CliError::NotSignedIn("the sign-in listener stopped".into())),
            Err(_) => Err(CliError::NotSignedIn(format!(
                "sign-in not completed within {}s: run `elastic-jit login` again \
                 (or `--device` where the browser cannot reach this machine)",
                timeout.as_secs()
            ))),
        }
    }
}

async fn callback(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let (status, outcome) = judge(&s, host, &q);
    let answer = match (&outcome, status) {
        (Some(Outcome::Code(_)), _) => page(
            StatusCode::OK,
            "Signed in",
            "You are signed in to elastic-jit. You can close this tab and return to the terminal.",
        ),
        (Some(Outcome::Refused(why)), _) => page(
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            &format!("{why}. Return to the terminal."),
        ),
        (None, StatusCode::MISDIRECTED_REQUEST) => page(
            status,
            "Wrong address",
            "This listener answers only requests addressed to 127.0.0.1.",
        ),
        (None, _) => {
            eprintln!("ignored a sign-in response that does not belong to this login");
            page(
                status,
                "Not this sign-in",
                "This response does not belong to the sign-in running in your terminal: it was \
                 ignored.",
            )
        }
    };
    if let Some(o) = outcome {
        let tx = s.done.lock().unwrap_or_else(PoisonError::into_inner).take();
        match tx {
            Some(tx) => {
                let _ = tx.send(o);
            }
            // A second response with the right state (a reload): the first one counts.
            None => {
                return page(
                    StatusCode::CONFLICT,
                    "Already answered",
                    "This sign-in was already answered. Return to the terminal.",
                );
            }
        }
    }
    answer
}

/// What a request to the callback path means: the status to answer and, when it carries this
/// login's state, the outcome that ends the login.
fn judge(
    s: &Shared,
    host: Option<&str>,
    q: &HashMap<String, String>,
) -> (StatusCode, Option<Outcome>) {
    if host != Some(s.host.as_str()) {
        return (StatusCode::MISDIRECTED_REQUEST, None);
    }
    if q.get("state").map(String::as_str) != Some(s.expected_state.as_str()) {
        return (StatusCode::BAD_REQUEST, None);
    }
    if let Some(iss) = q.get("iss")
        && iss.trim_end_matches('/') != s.issuer
    {
        return (
            StatusCode::BAD_REQUEST,
            Some(Outcome::Refused(format!(
                "the response names issuer {} instead of {}",
                printable(iss),
                s.issuer
            ))),
        );
    }
    if let Some(error) = q.get("error") {
        let description = q.get("error_description").map(|d| printable(d));
        return (
            StatusCode::BAD_REQUEST,
            Some(Outcome::Refused(match description {
                Some(d) if !d.is_empty() => format!("{}: {d}", printable(error)),
                _ => printable(error),
            })),
        );
    }
    match q.get("code").filter(|c| !c.is_empty()) {
        Some(code) => (StatusCode::OK, Some(Outcome::Code(code.clone()))),
        None => (
            StatusCode::BAD_REQUEST,
            Some(Outcome::Refused(
                "the response carries neither a code nor an error".into(),
            )),
        ),
    }
}

/// Text from the request, fit for a terminal: no control characters (an escape sequence in an
/// `error_description` must not drive the terminal), at most 200 characters.
pub fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto\">\
         <h1>{t}</h1><p>{p}</p><p><small>elastic-jit</small></p></body></html>",
        t = esc(title),
        p = esc(text)
    );
    let mut r = (status, Html(html)).into_response();
    let h = r.headers_mut();
    // The address holds the code: never cached, never sent on as a referrer; nothing loads.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Shared {
        Shared {
            expected_state: "s-123".into(),
            issuer: "https://idp.example.com".into(),
            host: "127.0.0.1:4711".into(),
            done: Mutex::new(None),
        }
    }

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn only_the_right_state_at_the_right_address_ends_the_login() {
        let s = shared();
        let host = Some("127.0.0.1:4711");
        let ok = q(&[
            ("code", "c"),
            ("state", "s-123"),
            ("iss", "https://idp.example.com"),
        ]);
        assert_eq!(
            judge(&s, host, &ok),
            (StatusCode::OK, Some(Outcome::Code("c".into())))
        );
        // Forged or stray responses are ignored, never taken as the outcome.
        for forged in [
            q(&[("code", "c")]),
            q(&[("code", "c"), ("state", "s-12")]),
            q(&[("code", "c"), ("state", "s-1234")]),
            q(&[("error", "access_denied"), ("state", "other")]),
        ] {
            assert_eq!(judge(&s, host, &forged), (StatusCode::BAD_REQUEST, None));
        }
        // A page under a rebound DNS name reaching the port is not answered at all.
        for other in [Some("evil.example:4711"), Some("localhost:4711"), None] {
            assert_eq!(judge(&s, other, &ok).1, None);
        }
    }

    #[test]
    fn a_refusal_or_another_issuer_ends_the_login_with_a_readable_reason() {
        let s = shared();
        let host = Some("127.0.0.1:4711");
        let denied = q(&[
            ("state", "s-123"),
            ("error", "access_denied"),
            ("error_description", "no\u{1b}[31m thanks\n"),
        ]);
        assert_eq!(
            judge(&s, host, &denied).1,
            Some(Outcome::Refused("access_denied: no[31m thanks".into()))
        );
        let mixed_up = q(&[
            ("state", "s-123"),
            ("code", "c"),
            ("iss", "https://evil.example"),
        ]);
        assert!(matches!(
            judge(&s, host, &mixed_up).1,
            Some(Outcome::Refused(why)) if why.contains("evil.example")
        ));
        assert!(matches!(
            judge(&s, host, &q(&[("state", "s-123")])).1,
            Some(Outcome::Refused(_))
        ));
        assert_eq!(format!("{:?}", Outcome::Code("secret".into())), "Code(..)");
    }
}
