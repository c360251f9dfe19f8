//! The whole in-memory cluster: security objects, the index catalog, the request log,
//! pending faults and the test clock.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::api_keys::ApiKey;
use crate::catalog::Catalog;
use crate::roles::RoleDescriptor;
use crate::users::User;

#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The authenticated username (an API key's owner); `None` when unauthenticated.
    pub principal: Option<String>,
    /// Set when the request authenticated with an API key.
    pub api_key_id: Option<String>,
    /// HTTP status sent; `0` when a fault dropped the connection.
    pub status: u16,
    /// Which injected fault applied, if any: `status`, `latency` or `drop_connection`.
    pub fault: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    pub method: String,
    pub path: String,
    pub remaining: u32,
    pub status: Option<u16>,
    pub body: Option<Value>,
    pub latency_ms: u64,
    pub drop_connection: bool,
}

#[derive(Debug)]
pub struct State {
    /// Native and reserved users, keyed by username.
    pub users: BTreeMap<String, User>,
    /// Native roles only; reserved roles come from `roles::reserved_role`.
    pub roles: BTreeMap<String, RoleDescriptor>,
    pub api_keys: Vec<ApiKey>,
    pub catalog: Catalog,
    pub clock_offset_ms: i64,
    pub log: Vec<LogEntry>,
    pub faults: Vec<Fault>,
    pub cluster_uuid: String,
    /// `GET /_license`; a new cluster's is an active basic licence.
    pub license: crate::license::License,
    /// The tiny Kibana's spaces (`GET /api/spaces/space`).
    pub kibana_spaces: Vec<crate::kibana::Space>,
}

impl State {
    pub fn empty() -> Self {
        Self {
            users: BTreeMap::new(),
            roles: BTreeMap::new(),
            api_keys: Vec::new(),
            catalog: Catalog::default(),
            clock_offset_ms: 0,
            log: Vec::new(),
            faults: Vec::new(),
            cluster_uuid: crate::ids::random_id(22),
            license: crate::license::License::default(),
            kibana_spaces: Vec::new(),
        }
    }

    /// Wall-clock time moved by `POST /_emulator/clock`, so tests never sleep.
    pub fn now_millis(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + self.clock_offset_ms
    }

    /// Finds and consumes the first pending fault for this request.
    pub fn take_fault(&mut self, method: &str, path: &str) -> Option<Fault> {
        let pos = self.faults.iter().position(|f| {
            f.remaining > 0
                && (f.method == "*" || f.method.eq_ignore_ascii_case(method))
                && crate::glob::matches(&f.path, path)
        })?;
        let fault = &mut self.faults[pos];
        fault.remaining -= 1;
        let taken = fault.clone();
        if fault.remaining == 0 {
            self.faults.remove(pos);
        }
        Some(taken)
    }

    /// A role by name, reserved roles first (they cannot be shadowed).
    pub fn role(&self, name: &str) -> Option<RoleDescriptor> {
        crate::roles::reserved_role(name).or_else(|| self.roles.get(name).cloned())
    }
}
