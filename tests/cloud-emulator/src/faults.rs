//! Injected faults: make matching Cloud API requests fail, stall or lose their connection.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// HTTP method to match (case-insensitive); absent or `*` matches any.
    #[serde(default)]
    pub method: Option<String>,
    /// Path pattern: `*` matches within one segment, `**` across segments.
    pub path: String,
    /// How many matching requests to affect; absent means every one until cleared.
    #[serde(default)]
    pub count: Option<u32>,
    /// Status to answer with instead of running the request.
    #[serde(default)]
    pub status: Option<u16>,
    /// Body for `status`; defaults to a Cloud error body with code `emulator.injected_fault`.
    #[serde(default)]
    pub body: Option<Value>,
    /// Delay before answering (or before running the request when no status is given).
    #[serde(default)]
    pub latency_ms: u64,
    /// Close the connection without any response.
    #[serde(default)]
    pub drop_connection: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Fault {
    pub id: u64,
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// Remaining uses; `None` for unlimited.
    pub remaining: Option<u32>,
}

impl FaultSpec {
    pub fn validate(&self) -> Result<(), String> {
        if !self.path.starts_with('/') {
            return Err("path must start with '/'".into());
        }
        if let Some(status) = self.status
            && !(100..=599).contains(&status)
        {
            return Err(format!("status {status} is not an HTTP status"));
        }
        if self.status.is_none() && !self.drop_connection && self.latency_ms == 0 {
            return Err("a fault needs status, drop_connection or latency_ms".into());
        }
        if self.count == Some(0) {
            return Err("count must be at least 1 (omit it for unlimited)".into());
        }
        Ok(())
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        let method_ok = match self.method.as_deref() {
            None | Some("*") => true,
            Some(m) => m.eq_ignore_ascii_case(method),
        };
        method_ok && glob(self.path.as_bytes(), path.as_bytes())
    }
}

/// Takes one use of the first fault matching the request, dropping exhausted faults.
pub fn take(faults: &mut Vec<Fault>, method: &str, path: &str) -> Option<FaultSpec> {
    let index = faults.iter().position(|f| f.spec.matches(method, path))?;
    let fault = &mut faults[index];
    let spec = fault.spec.clone();
    if let Some(remaining) = fault.remaining.as_mut() {
        *remaining -= 1;
        if *remaining == 0 {
            faults.remove(index);
        }
    }
    Some(spec)
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern {
        [] => text.is_empty(),
        [b'*', b'*', rest @ ..] => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        [b'*', rest @ ..] => {
            let segment = text.iter().position(|&c| c == b'/').unwrap_or(text.len());
            (0..=segment).any(|i| glob(rest, &text[i..]))
        }
        [p, rest @ ..] => text.first() == Some(p) && glob(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn star_stays_in_its_segment_and_double_star_does_not() {
        let m = |p: &str, t: &str| glob(p.as_bytes(), t.as_bytes());
        assert!(m(
            "/api/v1/users/*/role_assignments",
            "/api/v1/users/u-1/role_assignments"
        ));
        assert!(!m("/api/v1/users/*", "/api/v1/users/auth/keys"));
        assert!(m("/api/v1/**", "/api/v1/users/auth/keys"));
        assert!(m("/api/v1/deployments", "/api/v1/deployments"));
        assert!(!m("/api/v1/deployments", "/api/v1/deployments/x"));
    }
}
