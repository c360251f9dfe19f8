//! Requests the proxy refuses before looking at the grant.

/// Why a request was refused outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalCode {
    /// A cluster-level, security, snapshot, script, settings, ingest or node API: never reachable
    /// through a grant of index privileges.
    NotPermitted,
    /// An API the engine does not know: refused, never passed through.
    Unrecognised,
    /// A path, index name, query parameter or body the engine cannot read unambiguously.
    Malformed,
    /// A body over [`crate::authz::MAX_BODY_BYTES`].
    BodyTooLarge,
}

/// A refusal with a readable reason. The reason names only the request's shape (method, API,
/// index names), never credentials or document content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    pub code: RefusalCode,
    pub reason: String,
}

impl Refusal {
    pub(crate) fn new(code: RefusalCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }

    /// The HTTP status: 403 for what security would forbid or we cannot vouch for, 400 for
    /// unreadable input, 413 for oversized bodies.
    pub fn status(&self) -> u16 {
        match self.code {
            RefusalCode::NotPermitted | RefusalCode::Unrecognised => 403,
            RefusalCode::Malformed => 400,
            RefusalCode::BodyTooLarge => 413,
        }
    }

    /// An Elasticsearch-shaped error body (`security_exception` for 403s, as a secured cluster
    /// would answer; `illegal_argument_exception` otherwise).
    pub fn body(&self) -> String {
        let kind = match self.code {
            RefusalCode::NotPermitted | RefusalCode::Unrecognised => "security_exception",
            RefusalCode::Malformed | RefusalCode::BodyTooLarge => "illegal_argument_exception",
        };
        super::authorize::error_body(kind, &self.reason, self.status())
    }
}
