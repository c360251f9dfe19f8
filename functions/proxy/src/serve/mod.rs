//! The proxy itself, front-end agnostic: authenticate, read the body, classify, authorize,
//! forward with the resolved names, answer, and leave one audit line. The server
//! ([`crate::server`]) and the Lambda handler ([`crate::lambda`]) only move bytes in and out.

pub mod answer;
pub mod audit;
pub mod catalog;
pub mod credentials;
pub mod forward;
pub mod live;
pub mod media;
pub mod upstream;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use shared::Clock;

use crate::authz::{self, Decision, MAX_BODY_BYTES, Refusal, RefusalCode};
use answer::{Answer, AnswerBody};
use audit::{AuditLine, AuditSink, Outcome, Pending};
use catalog::Catalog;
use credentials::{Authenticator, AuthnFailure, presented};
use live::{Live, NotServed};

/// A request as a front end hands it over (the body is asked for separately, only once the
/// caller is authenticated).
pub struct Incoming {
    pub method: String,
    /// Raw path, still percent-encoded.
    pub path: String,
    /// Raw query string without `?` (empty when none).
    pub query: String,
    pub headers: HeaderMap,
}

/// Why a body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Over the limit handed to the reader.
    TooLarge,
    /// Not received in time (a client trickling its body).
    Timeout,
    Broken,
    /// The server holds as many body bytes as it may: answered 503, to be retried.
    Busy,
}

pub struct Proxy {
    /// The integration and its cluster, re-read every few seconds.
    pub live: Live,
    pub authn: Authenticator,
    pub catalog: Catalog,
    pub audit: Arc<dyn AuditSink>,
    pub clock: Arc<dyn Clock>,
}

/// An answer and its audit line, written once the answer has been sent.
pub struct Served {
    pub answer: Answer,
    pub audit: Pending,
}

fn refusal(code: RefusalCode, reason: impl Into<String>) -> Refusal {
    Refusal::new(code, reason)
}

impl Proxy {
    pub async fn serve<F, Fut>(&self, inc: Incoming, read_body: F) -> Served
    where
        F: FnOnce(usize) -> Fut,
        Fut: Future<Output = Result<Bytes, BodyError>>,
    {
        let started = Instant::now();
        let now = self.clock.now();
        let mut line = AuditLine {
            kind: "proxy_request",
            at: now,
            integration: self.live.name.clone(),
            user: None,
            requester: None,
            grant_id: None,
            api_key_id: None,
            method: inc.method.clone(),
            path: inc.path.clone(),
            indices: Vec::new(),
            indices_omitted: 0,
            action: None,
            decision: Outcome::Unauthenticated,
            reason: None,
            status: 0,
            bytes: 0,
            latency_ms: 0.0,
        };
        let answer = self.answer(&inc, read_body, now, &mut line).await;
        line.status = answer.status.as_u16();
        Served {
            answer,
            audit: Pending::new(line, self.audit.clone(), started),
        }
    }

    async fn answer<F, Fut>(
        &self,
        inc: &Incoming,
        read_body: F,
        now: chrono::DateTime<chrono::Utc>,
        line: &mut AuditLine,
    ) -> Answer
    where
        F: FnOnce(usize) -> Fut,
        Fut: Future<Output = Result<Bytes, BodyError>>,
    {
        let uri = if inc.query.is_empty() {
            inc.path.clone()
        } else {
            format!("{}?{}", inc.path, inc.query)
        };
        // Echoed to callers nobody has authenticated yet: kept short, so a huge request line
        // cannot be turned into a huge answer (a slow reader would hold the connection).
        let uri = echo(&uri);
        let current = match self.live.current().await {
            Ok(c) => c,
            Err(why) => {
                line.decision = Outcome::Error;
                line.reason = Some(format!("{why:?}"));
                return Answer::unavailable(
                    503,
                    match why {
                        NotServed::Withdrawn(_) => {
                            "this proxy's integration is not served (deleted, or no longer a proxy integration)"
                        }
                        NotServed::Unavailable => {
                            "the proxy cannot read its configuration right now"
                        }
                    },
                );
            }
        };
        let header = inc
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let session = match presented(header) {
            Ok(None) => Err(AuthnFailure::Missing),
            Ok(Some(p)) => {
                self.authn
                    .authenticate(&p, now, current.integration.user_prefix())
                    .await
            }
            Err(e) => Err(e),
        };
        let session = match session {
            Ok(s) => s,
            Err(f) => {
                line.reason = Some(format!("{f:?}"));
                return match f {
                    AuthnFailure::Missing => Answer::unauthenticated(
                        &format!("missing authentication credentials for REST request [{uri}]"),
                        None,
                    ),
                    AuthnFailure::BadUser(u) => Answer::unauthenticated(
                        &format!(
                            "unable to authenticate user [{}] for REST request [{uri}]",
                            echo(&u)
                        ),
                        None,
                    ),
                    AuthnFailure::BadApiKey => Answer::unauthenticated(
                        "unable to authenticate with provided credentials and anonymous access \
                         is not allowed for this request",
                        Some("invalid credentials"),
                    ),
                    AuthnFailure::Unavailable => {
                        line.decision = Outcome::Error;
                        Answer::unavailable(503, "the proxy cannot check credentials right now")
                    }
                };
            }
        };
        line.user = Some(session.username.clone());
        line.requester = Some(session.requester.clone());
        line.grant_id = Some(session.grant_id.clone());
        line.api_key_id = session.api_key_id.clone();

        let refuse = |line: &mut AuditLine, r: Refusal| {
            line.decision = Outcome::Refuse;
            line.reason = Some(r.reason.clone());
            Answer::json(r.status(), r.body())
        };
        // A compressed body would be classified as the bytes it is, not what the cluster reads.
        if inc
            .headers
            .get(http::header::CONTENT_ENCODING)
            .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"))
        {
            return refuse(
                line,
                refusal(
                    RefusalCode::Malformed,
                    "compressed request bodies are not accepted by the proxy",
                ),
            );
        }
        let body = match read_body(MAX_BODY_BYTES).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                return refuse(
                    line,
                    refusal(
                        RefusalCode::BodyTooLarge,
                        format!("request body is over the proxy's limit of {MAX_BODY_BYTES} bytes"),
                    ),
                );
            }
            Err(BodyError::Timeout) => {
                line.decision = Outcome::Refuse;
                return Answer::unavailable(408, "the request body was not received in time");
            }
            Err(BodyError::Busy) => {
                line.decision = Outcome::Refuse;
                return Answer::unavailable(
                    503,
                    "the proxy is holding as many request bodies as it may; retry shortly",
                );
            }
            Err(BodyError::Broken) => {
                return refuse(
                    line,
                    refusal(RefusalCode::Malformed, "the request body could not be read"),
                );
            }
        };
        if !body.is_empty()
            && let Err(unsupported) = media::body_kind(&inc.headers)
        {
            line.decision = Outcome::Refuse;
            line.reason = Some(unsupported.reason());
            return Answer::json(media::Unsupported::STATUS, unsupported.body());
        }
        let req = match authz::classify(&inc.method, &inc.path, &inc.query, &body) {
            Ok(r) => r,
            Err(r) => return refuse(line, r),
        };
        line.action = Some(req.action.to_string());
        if forward::asks_for_scroll(&inc.query) {
            return refuse(
                line,
                refusal(
                    RefusalCode::NotPermitted,
                    "scroll searches are not permitted through the proxy (a scroll id is not bound \
                     to the grant that opened it); page with search_after instead",
                ),
            );
        }
        let grant = match session.grant() {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(error = %e, grant_id = %session.grant_id, "unusable grant");
                line.decision = Outcome::Error;
                return Answer::unavailable(500, "the grant cannot be applied");
            }
        };
        let mut decision = None;
        // At most twice: a write refused for creating a name the snapshot lacks is judged
        // again on a fresh read (the name may have been created since). A snapshot read less
        // than a second ago is trusted, so refused writes cannot make the proxy read the
        // cluster's catalog more than about once a second.
        for attempt in 0..2 {
            if self
                .catalog
                .refresh(&current.upstream, current.generation)
                .await
                .is_err()
            {
                line.decision = Outcome::Error;
                return Answer::unavailable(503, "the cluster's index catalog cannot be read");
            }
            let d = match self
                .catalog
                .with(now, |c| authz::authorize(&req, &grant, c))
            {
                Ok(d) => d,
                Err(_) => {
                    line.decision = Outcome::Error;
                    return Answer::unavailable(503, "the cluster's index catalog cannot be read");
                }
            };
            let missing = matches!(&d, Decision::Deny(x) if x.action == authz::AUTO_CREATE);
            decision = Some(d);
            if !missing || attempt == 1 || !self.catalog.invalidate_if_older(CATALOG_RECHECK) {
                break;
            }
        }
        let Some(decision) = decision else {
            line.decision = Outcome::Error;
            return Answer::unavailable(503, "the cluster's index catalog cannot be read");
        };
        let allowed = match decision {
            Decision::Allow(a) => a,
            Decision::Deny(d) => {
                line.decision = Outcome::Deny;
                line.indices = d.indices.clone();
                line.action = Some(d.action.clone());
                line.reason = Some(d.reason.clone());
                return Answer::json(d.status(), d.body());
            }
            Decision::Refuse(r) => return refuse(line, r),
        };
        if allowed.scroll_owner_check {
            return refuse(
                line,
                refusal(
                    RefusalCode::NotPermitted,
                    "scroll continuations are not permitted through the proxy",
                ),
            );
        }
        for t in &allowed.targets {
            for n in &t.indices {
                if !line.indices.contains(n) {
                    line.indices.push(n.clone());
                }
            }
        }
        let path = match forward::path(&inc.path, &req, &allowed) {
            Ok(p) => p,
            Err(forward::NotForwardable(why)) => {
                return refuse(line, refusal(RefusalCode::Malformed, why));
            }
        };
        line.decision = Outcome::Allow;
        let target = if inc.query.is_empty() {
            path
        } else {
            format!("{path}?{}", inc.query)
        };
        let method = match reqwest::Method::from_bytes(inc.method.as_bytes()) {
            Ok(m) => m,
            Err(_) => return refuse(line, refusal(RefusalCode::Malformed, "bad method")),
        };
        let mut headers = forward::request_headers(&inc.headers);
        if body.is_empty() {
            // Unchecked when there is no body, so not passed on.
            headers.remove(http::header::CONTENT_TYPE);
        }
        let mut upstream = current.upstream.request(method, &target).headers(headers);
        if !body.is_empty() {
            upstream = upstream.body(body);
        }
        match upstream.send().await {
            Ok(resp) => {
                let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
                for name in forward::RESPONSE_HEADERS {
                    for v in resp.headers().get_all(name) {
                        headers.push((HeaderName::from_static(name), v.clone()));
                    }
                }
                Answer {
                    status: StatusCode::from_u16(resp.status().as_u16())
                        .unwrap_or(StatusCode::BAD_GATEWAY),
                    headers,
                    body: AnswerBody::Upstream(resp),
                }
            }
            Err(e) => {
                let timeout = e.is_timeout();
                tracing::warn!(error = %e.without_url(), "forwarding failed");
                line.decision = Outcome::Error;
                if timeout {
                    Answer::unavailable(504, "the cluster did not answer in time")
                } else {
                    Answer::unavailable(502, "the cluster cannot be reached")
                }
            }
        }
    }
}

/// How old the index catalog must be before a write refused for naming a missing index
/// reads it again.
const CATALOG_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// The most of a caller's own input echoed back in an error.
const ECHO_MAX: usize = 256;

fn echo(s: &str) -> String {
    crate::text::clip(s, ECHO_MAX)
}
