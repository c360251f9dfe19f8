//! Grant × request → allow (with the concrete names to forward) or Elasticsearch's own 403.
//!
//! Semantics follow ES security (`RBACEngine.authorizeIndexAction`, `IndicesAndAliasesResolver`;
//! docs: "Granting privileges for data streams and aliases", "Multi-target syntax"):
//! - the role must grant the request's action on some pattern at all, else 403 without indices;
//! - wildcards (`*`, `_all`, empty) expand only to the names the grant authorizes for the action,
//!   never failing for the rest (ES replaces an empty result with "no indices");
//! - an explicit name the grant does not cover is a 403 naming it, even if it does not exist;
//! - an alias is authorized by its own name only, never by the indices behind it;
//! - a data stream's backing indices (`.ds-<name>-*`) are authorized when the stream is;
//! - hidden names (leading `.` or the `hidden` attribute) match wildcards only with
//!   `expand_wildcards=hidden|all` or a pattern that itself starts with `.`; closed indices only
//!   with `closed|all`; `none` matches nothing.

use chrono::{DateTime, Utc};
use wildmatch::WildMatch;

use super::classify::{CLEAR_SCROLL, Expand, MAIN, Origin, Request, SCROLL};
use super::expr::{self, IndexExpr};
use super::privilege::{self, Compiled};
use super::refusal::{Refusal, RefusalCode};

/// Why a grant could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("unknown index privilege [{0}]")]
    UnknownPrivilege(String),
    #[error("index pattern [{0}] is not supported (regular expressions are not)")]
    UnsupportedPattern(String),
    #[error("a grant entry needs at least one index pattern and one privilege")]
    Empty,
}

/// One `indices` entry of an ES role: names (with `*`/`?` wildcards) and privileges.
pub struct GrantEntry {
    names: Vec<WildMatch>,
    privileges: Vec<Compiled>,
}

impl GrantEntry {
    pub fn new(names: &[&str], privileges: &[&str]) -> Result<Self, GrantError> {
        if names.is_empty() || privileges.is_empty() {
            return Err(GrantError::Empty);
        }
        let names = names
            .iter()
            .map(|n| {
                // ES roles also accept Lucene regexes (`/.../`); the broker never issues them.
                if n.is_empty() || n.starts_with('/') {
                    Err(GrantError::UnsupportedPattern((*n).to_owned()))
                } else {
                    Ok(WildMatch::new(n))
                }
            })
            .collect::<Result<_, _>>()?;
        let privileges = privileges
            .iter()
            .map(|p| {
                Compiled::parse(p).ok_or_else(|| GrantError::UnknownPrivilege((*p).to_owned()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { names, privileges })
    }

    fn allows(&self, action: &str) -> bool {
        self.privileges.iter().any(|p| p.allows(action))
    }

    fn covers(&self, name: &str) -> bool {
        self.names.iter().any(|m| m.matches(name))
    }
}

/// What a grant holds: the principal and role names ES would print, and the index privileges.
pub struct Grant {
    pub user: String,
    pub roles: Vec<String>,
    /// Set when the caller authenticated with the grant's API-key-style token: ES then names the
    /// key and prints no roles (`AuthorizationDenialMessages.authenticatedUserDescription`).
    pub api_key_id: Option<String>,
    pub entries: Vec<GrantEntry>,
}

/// An alias and the indices it points at.
pub struct AliasInfo {
    pub name: String,
    pub indices: Vec<String>,
}

/// A snapshot of the cluster's names (to be refreshed by the proxy from `_resolve/index/*` with
/// `expand_wildcards=all`) and the clock used for date math.
pub struct IndexCatalog {
    pub now: DateTime<Utc>,
    pub indices: Vec<String>,
    pub aliases: Vec<AliasInfo>,
    /// Data stream name and its backing index names.
    pub data_streams: Vec<(String, Vec<String>)>,
    /// Names marked hidden (`index.hidden`) that do not start with `.`; dot names are always
    /// treated as hidden.
    pub hidden: Vec<String>,
    /// Closed indices: wildcards skip them unless `expand_wildcards` asks for closed ones, since
    /// naming a closed index explicitly makes a search fail.
    pub closed: Vec<String>,
}

/// A `_resolve/index` answer that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected _resolve/index response: {0}")]
pub struct CatalogError(pub &'static str);

impl IndexCatalog {
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now,
            indices: Vec::new(),
            aliases: Vec::new(),
            data_streams: Vec::new(),
            hidden: Vec::new(),
            closed: Vec::new(),
        }
    }

    /// Reads the answer of `GET /_resolve/index/*?expand_wildcards=all` (ES's "Resolve index
    /// API": `indices[].name/attributes`, `aliases[].name/indices`,
    /// `data_streams[].name/backing_indices`), made with the connector's credentials.
    pub fn from_resolve_index(
        body: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<Self, CatalogError> {
        fn names(v: &serde_json::Value, what: &'static str) -> Result<Vec<String>, CatalogError> {
            v.as_array()
                .ok_or(CatalogError(what))?
                .iter()
                .map(|n| n.as_str().map(str::to_owned).ok_or(CatalogError(what)))
                .collect()
        }
        let list = |key: &'static str| body[key].as_array().ok_or(CatalogError(key));
        let name = |v: &serde_json::Value, what: &'static str| {
            v["name"]
                .as_str()
                .map(str::to_owned)
                .ok_or(CatalogError(what))
        };
        let mut catalog = Self::new(now);
        for i in list("indices")? {
            let n = name(i, "indices[].name")?;
            let attrs = names(&i["attributes"], "indices[].attributes")?;
            if attrs.iter().any(|a| a == "hidden") && !n.starts_with('.') {
                catalog.hidden.push(n.clone());
            }
            if attrs.iter().any(|a| a == "closed") {
                catalog.closed.push(n.clone());
            }
            catalog.indices.push(n);
        }
        for a in list("aliases")? {
            let alias = AliasInfo {
                name: name(a, "aliases[].name")?,
                indices: names(&a["indices"], "aliases[].indices")?,
            };
            catalog.aliases.push(alias);
        }
        for d in list("data_streams")? {
            let backing = names(&d["backing_indices"], "data_streams[].backing_indices")?;
            catalog
                .data_streams
                .push((name(d, "data_streams[].name")?, backing));
        }
        Ok(catalog)
    }

    fn is_hidden(&self, name: &str) -> bool {
        name.starts_with('.') || self.hidden.iter().any(|h| h == name)
    }

    pub fn index(mut self, name: &str) -> Self {
        self.indices.push(name.to_owned());
        self
    }

    pub fn closed_index(mut self, name: &str) -> Self {
        self.closed.push(name.to_owned());
        self.index(name)
    }

    pub fn alias(mut self, name: &str, indices: &[&str]) -> Self {
        self.aliases.push(AliasInfo {
            name: name.to_owned(),
            indices: indices.iter().map(|s| (*s).to_owned()).collect(),
        });
        self
    }

    /// A data stream; its backing indices join the concrete indices.
    pub fn data_stream(mut self, name: &str, backing: &[&str]) -> Self {
        self.data_streams.push((
            name.to_owned(),
            backing.iter().map(|s| (*s).to_owned()).collect(),
        ));
        self.indices.extend(backing.iter().map(|b| (*b).to_owned()));
        self
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.indices
            .iter()
            .map(String::as_str)
            .chain(self.aliases.iter().map(|a| a.name.as_str()))
            .chain(self.data_streams.iter().map(|(n, _)| n.as_str()))
    }

    /// Does the cluster have an index, alias or data stream of this name?
    pub fn knows(&self, name: &str) -> bool {
        self.indices.iter().any(|i| i == name)
            || self.aliases.iter().any(|a| a.name == name)
            || self.data_streams.iter().any(|(d, _)| d == name)
    }

    fn parent_stream(&self, index: &str) -> Option<&str> {
        if !index.starts_with(".ds-") {
            return None;
        }
        self.data_streams
            .iter()
            .find(|(_, b)| b.iter().any(|i| i == index))
            .map(|(n, _)| n.as_str())
    }
}

/// The outcome of [`authorize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(Allowed),
    /// ES's 403 `security_exception`.
    Deny(Denial),
    /// A target that cannot be resolved (bad date math): refused before reaching the grant.
    Refuse(Refusal),
}

/// An allowed request: each target with the concrete names to forward in place of what the
/// client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    pub action: &'static str,
    pub targets: Vec<ResolvedTarget>,
    /// A scroll continuation or clear: the proxy must check the scroll id was issued under this
    /// grant (ES binds scrolls to their creator), since the id names no index.
    pub scroll_owner_check: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTarget {
    pub action: &'static str,
    pub indices: Vec<String>,
    pub origin: Origin,
}

impl ResolvedTarget {
    /// The expression to forward. When wildcards matched nothing the grant may see, ES security
    /// forwards `*,-*`, which matches nothing (`IndicesAndAliasesResolverField.NO_INDICES_OR_ALIASES_ARRAY`).
    pub fn expression(&self) -> String {
        if self.indices.is_empty() {
            "*,-*".to_owned()
        } else {
            self.indices.join(",")
        }
    }
}

/// A 403, worded exactly as ES security words it (`AuthorizationDenialMessages.Default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub action: String,
    pub indices: Vec<String>,
    pub reason: String,
}

impl Denial {
    pub fn status(&self) -> u16 {
        403
    }

    pub fn body(&self) -> String {
        error_body("security_exception", &self.reason, 403)
    }
}

/// The longest reason sent back: reasons quote the caller's names and paths, and a 60 KB
/// request line must not come back twice over (a slow reader would hold the connection).
pub const MAX_REASON_BYTES: usize = 1024;

/// `{"error":{"root_cause":[{"type":T,"reason":R}],"type":T,"reason":R},"status":S}`, keys in
/// ES's order (serde_json's map would sort them).
pub(crate) fn error_body(kind: &str, reason: &str, status: u16) -> String {
    let (kind, reason) = (
        serde_json::Value::from(kind),
        serde_json::Value::from(crate::text::clip(reason, MAX_REASON_BYTES)),
    );
    format!(
        r#"{{"error":{{"root_cause":[{{"type":{kind},"reason":{reason}}}],"type":{kind},"reason":{reason}}},"status":{status}}}"#
    )
}

fn deny(grant: &Grant, action: &str, indices: Vec<String>) -> Decision {
    let mut reason = match &grant.api_key_id {
        Some(id) => format!(
            "action [{action}] is unauthorized for API key id [{id}] of user [{}]",
            grant.user
        ),
        None => {
            let mut roles: Vec<&str> = grant.roles.iter().map(String::as_str).collect();
            roles.sort_unstable();
            format!(
                "action [{action}] is unauthorized for user [{}] with effective roles [{}]",
                grant.user,
                roles.join(",")
            )
        }
    };
    if !indices.is_empty() {
        reason.push_str(&format!(" on indices [{}]", indices.join(",")));
    }
    let privileges = privilege::granting(action);
    if !privileges.is_empty() {
        reason.push_str(&format!(
            ", this action is granted by the index privileges [{}]",
            privileges.join(",")
        ));
    }
    Decision::Deny(Denial {
        action: action.to_owned(),
        indices,
        reason,
    })
}

/// Authorizes a classified request against a grant.
pub fn authorize(req: &Request, grant: &Grant, cluster: &IndexCatalog) -> Decision {
    if req.action == MAIN {
        return Decision::Allow(Allowed {
            action: MAIN,
            targets: Vec::new(),
            scroll_owner_check: false,
        });
    }
    if !grant.entries.iter().any(|e| e.allows(req.action)) {
        return deny(grant, req.action, Vec::new());
    }
    if req.action == SCROLL || req.action == CLEAR_SCROLL {
        return Decision::Allow(Allowed {
            action: req.action,
            targets: Vec::new(),
            scroll_owner_check: true,
        });
    }
    let mut targets = Vec::with_capacity(req.targets.len());
    for t in &req.targets {
        let pair = [t.action, t.item_action.unwrap_or(t.action)];
        let actions: &[&str] = if t.item_action.is_some() {
            &pair
        } else {
            &pair[..1]
        };
        let ok = |name: &str| actions.iter().all(|a| authorized(grant, cluster, a, name));
        let mut out: Vec<String> = Vec::new();
        let mut denied: Vec<String> = Vec::new();
        for e in &t.indices {
            match e {
                IndexExpr::All => expand(cluster, "*", t.expand, &ok, &mut out),
                IndexExpr::Wildcard(p) => expand(cluster, p, t.expand, &ok, &mut out),
                IndexExpr::Exclude(p) => {
                    let m = WildMatch::new(p);
                    out.retain(|n| !m.matches(n));
                }
                IndexExpr::Name(n) => explicit(n.clone(), &ok, &mut out, &mut denied),
                IndexExpr::DateMath(inner) => match expr::resolve_date_math(inner, cluster.now) {
                    Ok(n) => explicit(n, &ok, &mut out, &mut denied),
                    Err(err) => {
                        return Decision::Refuse(Refusal::new(
                            RefusalCode::Malformed,
                            err.to_string(),
                        ));
                    }
                },
            }
        }
        // A write to a name the cluster does not have creates it first (ES's bulk action
        // auto-creates the index for index, create and update items, never for deletes), which
        // ES authorizes as `indices:admin/auto_create` on that name: `write` or `create_doc`
        // alone do not grant it.
        if denied.is_empty() && creates(t.item_action.unwrap_or(t.action)) {
            let missing: Vec<String> = t
                .indices
                .iter()
                .filter_map(|e| match e {
                    IndexExpr::Name(n) => Some(n.clone()),
                    IndexExpr::DateMath(inner) => expr::resolve_date_math(inner, cluster.now).ok(),
                    _ => None,
                })
                .filter(|n| !cluster.knows(n) && !authorized(grant, cluster, AUTO_CREATE, n))
                .collect();
            if !missing.is_empty() {
                return deny(grant, AUTO_CREATE, missing);
            }
        }
        if !denied.is_empty() {
            // Name the action that failed: the item's own when the bulk shard action passed.
            let failed = actions
                .iter()
                .find(|a| denied.iter().any(|n| !authorized(grant, cluster, a, n)))
                .unwrap_or(&t.action);
            return deny(grant, failed, denied);
        }
        targets.push(ResolvedTarget {
            action: t.action,
            indices: out,
            origin: t.origin,
        });
    }
    Decision::Allow(Allowed {
        action: req.action,
        targets,
        scroll_owner_check: false,
    })
}

fn explicit(
    name: String,
    ok: &impl Fn(&str) -> bool,
    out: &mut Vec<String>,
    denied: &mut Vec<String>,
) {
    if ok(&name) {
        if !out.contains(&name) {
            out.push(name);
        }
    } else if !denied.contains(&name) {
        denied.push(name);
    }
}

fn expand(
    cluster: &IndexCatalog,
    pattern: &str,
    e: Expand,
    ok: &impl Fn(&str) -> bool,
    out: &mut Vec<String>,
) {
    let m = WildMatch::new(pattern);
    let hidden = e.hidden || pattern.starts_with('.');
    // Catalog names are unique, so only names from earlier expressions can repeat: the common
    // single-wildcard request stays linear in the catalog.
    let earlier = out.len();
    for name in cluster.names() {
        let state = if cluster.closed.iter().any(|c| c == name) {
            e.closed
        } else {
            e.open
        };
        if state
            && (hidden || !cluster.is_hidden(name))
            && m.matches(name)
            && !out[..earlier].iter().any(|o| o == name)
            && ok(name)
        {
            out.push(name.to_owned());
        }
    }
}

/// Whether the grant allows `action` on `name` (index, alias or data stream, by its own name;
/// a backing index also through its data stream).
/// The action ES authorizes before a write creates the index it names.
pub const AUTO_CREATE: &str = "indices:admin/auto_create";

/// Does a write with this (item) action create a missing index? Indexing in any op type
/// (`indices:data/write/index:op_type/create` …) and updates (an upsert), not updates by query.
fn creates(action: &str) -> bool {
    action.starts_with("indices:data/write/index") || action == "indices:data/write/update"
}

fn authorized(grant: &Grant, cluster: &IndexCatalog, action: &str, name: &str) -> bool {
    let direct = |n: &str| {
        grant
            .entries
            .iter()
            .any(|e| e.allows(action) && e.covers(n))
    };
    direct(name) || cluster.parent_stream(name).is_some_and(direct)
}
