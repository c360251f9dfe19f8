//! Indices, aliases and data streams, and the resolution of index expressions
//! (`IndexNameExpressionResolver` semantics: wildcards, hidden indices, exclusions).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::errors::{ApiResponse, illegal_argument};
use crate::glob;
use crate::request::Req;

#[derive(Debug, Clone)]
pub struct Doc {
    pub source: Value,
    pub version: u64,
    pub seq_no: u64,
}

#[derive(Debug, Clone, Default)]
pub struct AliasProps {
    pub is_write_index: Option<bool>,
    pub is_hidden: Option<bool>,
}

impl AliasProps {
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        if let Some(w) = self.is_write_index {
            o.insert("is_write_index".into(), json!(w));
        }
        if let Some(h) = self.is_hidden {
            o.insert("is_hidden".into(), json!(h));
        }
        Value::Object(o)
    }
}

#[derive(Debug, Clone)]
pub struct Index {
    pub name: String,
    pub uuid: String,
    pub mappings: Map<String, Value>,
    pub hidden: bool,
    pub system: bool,
    pub closed: bool,
    pub aliases: BTreeMap<String, AliasProps>,
    pub docs: BTreeMap<String, Doc>,
    pub data_stream: Option<String>,
    pub creation_date: i64,
    pub next_seq_no: u64,
}

#[derive(Debug, Clone)]
pub struct DataStream {
    pub name: String,
    pub meta: Option<Map<String, Value>>,
    pub hidden: bool,
    pub system: bool,
    pub backing: Vec<String>,
    pub generation: u64,
}

#[derive(Debug, Default)]
pub struct Catalog {
    pub indices: BTreeMap<String, Index>,
    pub data_streams: BTreeMap<String, DataStream>,
    /// Alias name → indices it points to; kept in step with `Index::aliases`.
    pub aliases: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Index,
    Alias,
    DataStream,
}

#[derive(Debug, Clone, Copy)]
pub struct IndicesOptions {
    pub open: bool,
    pub closed: bool,
    pub hidden: bool,
    pub allow_no_indices: bool,
    pub ignore_unavailable: bool,
}

impl IndicesOptions {
    /// Reads `expand_wildcards`, `allow_no_indices` and `ignore_unavailable`, with each
    /// API's own defaults.
    pub fn from_request(
        req: &Req,
        default_expand: &str,
        allow_no_indices: bool,
        ignore_unavailable: bool,
    ) -> Result<Self, ApiResponse> {
        let expand = req.param("expand_wildcards").unwrap_or(default_expand);
        let mut opts = IndicesOptions {
            open: false,
            closed: false,
            hidden: false,
            allow_no_indices: req.bool_param("allow_no_indices", allow_no_indices)?,
            ignore_unavailable: req.bool_param("ignore_unavailable", ignore_unavailable)?,
        };
        for w in expand.split(',').map(str::trim) {
            match w {
                "open" => opts.open = true,
                "closed" => opts.closed = true,
                "hidden" => opts.hidden = true,
                "none" => {}
                "all" => {
                    opts.open = true;
                    opts.closed = true;
                    opts.hidden = true;
                }
                other => {
                    return Err(illegal_argument(&format!(
                        "No enum constant org.elasticsearch.action.support.IndicesOptions.WildcardStates.{}",
                        other.to_ascii_uppercase()
                    )));
                }
            }
        }
        Ok(opts)
    }
}

/// Why an expression list could not be resolved.
pub enum ResolveError {
    NotFound(String),
    /// Explicitly named abstractions the caller may not use.
    Unauthorized(Vec<String>),
}

impl Catalog {
    pub fn kind_of(&self, name: &str) -> Option<Kind> {
        if self.indices.contains_key(name) {
            Some(Kind::Index)
        } else if self.aliases.contains_key(name) {
            Some(Kind::Alias)
        } else if self.data_streams.contains_key(name) {
            Some(Kind::DataStream)
        } else {
            None
        }
    }

    pub fn add_index(&mut self, mut index: Index) {
        // System indices are always `[hidden, open, system]`, whoever creates them.
        if index.system || is_system_index_name(&index.name) {
            index.system = true;
            index.hidden = true;
        }
        for alias in index.aliases.keys() {
            self.aliases
                .entry(alias.clone())
                .or_default()
                .insert(index.name.clone());
        }
        self.indices.insert(index.name.clone(), index);
    }

    pub fn remove_index(&mut self, name: &str) -> Option<Index> {
        let index = self.indices.remove(name)?;
        for alias in index.aliases.keys() {
            if let Some(set) = self.aliases.get_mut(alias) {
                set.remove(name);
                if set.is_empty() {
                    self.aliases.remove(alias);
                }
            }
        }
        Some(index)
    }

    pub fn add_alias(&mut self, alias: &str, index: &str, props: AliasProps) {
        if let Some(ix) = self.indices.get_mut(index) {
            ix.aliases.insert(alias.to_string(), props);
            self.aliases
                .entry(alias.to_string())
                .or_default()
                .insert(index.to_string());
        }
    }

    fn alias_hidden(&self, alias: &str) -> bool {
        self.aliases.get(alias).is_some_and(|set| {
            set.iter().any(|i| {
                self.indices
                    .get(i)
                    .and_then(|ix| ix.aliases.get(alias))
                    .is_some_and(|p| p.is_hidden == Some(true))
            })
        })
    }

    /// Whether a wildcard may match a hidden abstraction: with `hidden` expansion, or when
    /// both the name and the pattern start with a dot.
    fn hidden_visible(hidden: bool, name: &str, pattern: &str, opts: IndicesOptions) -> bool {
        !hidden || opts.hidden || (name.starts_with('.') && pattern.starts_with('.'))
    }

    fn wildcard_matches(
        &self,
        pattern: &str,
        opts: IndicesOptions,
        data_streams: bool,
    ) -> Vec<(String, Kind)> {
        let mut out = Vec::new();
        if !(opts.open || opts.closed) {
            return out;
        }
        // A literal prefix narrows the range scan, keeping prefix patterns cheap at scale.
        let prefix = &pattern[..pattern.find('*').unwrap_or(pattern.len())];
        for (name, ix) in self.indices.range(prefix.to_string()..) {
            if !name.starts_with(prefix) {
                break;
            }
            if !glob::matches(pattern, name) {
                continue;
            }
            let state_ok = if ix.closed { opts.closed } else { opts.open };
            let hidden = ix.hidden || ix.data_stream.is_some();
            if state_ok && Self::hidden_visible(hidden, name, pattern, opts) {
                out.push((name.clone(), Kind::Index));
            }
        }
        for name in self.aliases.keys() {
            if glob::matches(pattern, name)
                && Self::hidden_visible(self.alias_hidden(name), name, pattern, opts)
            {
                out.push((name.clone(), Kind::Alias));
            }
        }
        if data_streams {
            for (name, ds) in &self.data_streams {
                if glob::matches(pattern, name)
                    && Self::hidden_visible(ds.hidden, name, pattern, opts)
                {
                    out.push((name.clone(), Kind::DataStream));
                }
            }
        }
        out
    }

    /// Resolves a comma-separated expression list to abstraction names. Wildcards expand
    /// silently to what `authorized` allows; explicit names the caller may not use are
    /// reported so the API can answer 403, as Elasticsearch does.
    pub fn resolve(
        &self,
        expressions: &str,
        opts: IndicesOptions,
        data_streams: bool,
        authorized: &dyn Fn(&str, Kind) -> bool,
    ) -> Result<Vec<(String, Kind)>, ResolveError> {
        let mut exprs: Vec<&str> = expressions
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if exprs.is_empty() || exprs == ["_all"] {
            exprs = vec!["*"];
        }
        let mut result: Vec<(String, Kind)> = Vec::new();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut denied = Vec::new();
        let mut wildcard_seen = false;
        for expr in exprs {
            if let Some(excluded) = expr.strip_prefix('-').filter(|_| wildcard_seen) {
                result.retain(|(n, _)| !glob::matches(excluded, n));
                seen.retain(|n| !glob::matches(excluded, n));
                continue;
            }
            if glob::has_wildcard(expr) {
                wildcard_seen = true;
                let matched: Vec<(String, Kind)> = self
                    .wildcard_matches(expr, opts, data_streams)
                    .into_iter()
                    .filter(|(n, k)| authorized(n, *k))
                    .collect();
                if matched.is_empty() && !opts.allow_no_indices {
                    return Err(ResolveError::NotFound(expr.to_string()));
                }
                for (n, k) in matched {
                    if seen.insert(n.clone()) {
                        result.push((n, k));
                    }
                }
                continue;
            }
            let kind = self
                .kind_of(expr)
                .filter(|k| data_streams || *k != Kind::DataStream);
            if !authorized(expr, kind.unwrap_or(Kind::Index)) {
                // `IndicesAndAliasesResolver`: an unauthorized name counts as unavailable, so
                // `ignore_unavailable` drops it silently instead of refusing the request.
                if !opts.ignore_unavailable {
                    denied.push(expr.to_string());
                }
                continue;
            }
            match kind {
                Some(k) => {
                    let closed =
                        k == Kind::Index && self.indices.get(expr).is_some_and(|i| i.closed);
                    if closed && !opts.ignore_unavailable && !opts.closed {
                        continue;
                    }
                    if seen.insert(expr.to_string()) {
                        result.push((expr.to_string(), k));
                    }
                }
                None if opts.ignore_unavailable => {}
                None => return Err(ResolveError::NotFound(expr.to_string())),
            }
        }
        if !denied.is_empty() {
            return Err(ResolveError::Unauthorized(denied));
        }
        if result.is_empty() && !opts.allow_no_indices {
            return Err(ResolveError::NotFound(expressions.to_string()));
        }
        Ok(result)
    }

    /// The concrete indices behind resolved abstractions, deduplicated, sorted.
    pub fn concrete(&self, resolved: &[(String, Kind)]) -> Vec<String> {
        let mut out = BTreeSet::new();
        for (name, kind) in resolved {
            match kind {
                Kind::Index => {
                    out.insert(name.clone());
                }
                Kind::Alias => {
                    if let Some(set) = self.aliases.get(name) {
                        out.extend(set.iter().cloned());
                    }
                }
                Kind::DataStream => {
                    if let Some(ds) = self.data_streams.get(name) {
                        out.extend(ds.backing.iter().cloned());
                    }
                }
            }
        }
        out.into_iter().collect()
    }
}

/// Elasticsearch's index-name rules (`MetadataCreateIndexService.validateIndexOrAliasName`).
/// Names Elasticsearch and its stack plugins register as system indices (`SystemIndices`
/// descriptors: the task results index, Kibana's, security's, Fleet's, async search's).
pub fn is_system_index_name(name: &str) -> bool {
    const PREFIXES: [&str; 6] = [
        ".kibana",
        ".security",
        ".fleet-",
        ".async-search",
        ".tasks",
        ".geoip_databases",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The deprecation warning a REST request that names system indices gets (Elasticsearch's
/// `IndexNameExpressionResolver`; the text as elastic/elasticsearch's own REST tests expect it,
/// e.g. "this request accesses system indices: [.security-7], but in a future major version,
/// direct access to system indices will be prevented by default"), as a `Warning` header value.
pub fn system_index_warning(names: &[String]) -> String {
    format!(
        "299 Elasticsearch-{}-es-emulator \"this request accesses system indices: [{}], but in a future major version, direct access to system indices will be prevented by default\"",
        crate::account::VERSION,
        names.join(", ")
    )
}

impl Catalog {
    /// System indices an expression names without a wildcard (directly or through an alias).
    pub fn named_system_indices(&self, expr: &str) -> Vec<String> {
        let mut out = Vec::new();
        for part in expr.split(',').map(str::trim) {
            if part.is_empty() || part.starts_with('-') || crate::glob::has_wildcard(part) {
                continue;
            }
            let targets: Vec<String> = match self.aliases.get(part) {
                Some(set) => set.iter().cloned().collect(),
                None => vec![part.to_string()],
            };
            for t in targets {
                if self.indices.get(&t).is_some_and(|ix| ix.system) && !out.contains(&t) {
                    out.push(t);
                }
            }
        }
        out.sort();
        out
    }
}

pub fn invalid_index_name(name: &str) -> Option<String> {
    const BAD: &[char] = &['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',', '#', ':'];
    if name.is_empty() {
        return Some("must not be empty".into());
    }
    if name != name.to_lowercase() {
        return Some("must be lowercase".into());
    }
    if name.chars().any(|c| BAD.contains(&c)) {
        return Some(
            "must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]".into(),
        );
    }
    if name.starts_with(['_', '-', '+']) {
        return Some("must not start with '_', '-', or '+'".into());
    }
    if name == "." || name == ".." {
        return Some("must not be '.' or '..'".into());
    }
    if name.len() > 255 {
        return Some("index name is too long, (".to_string() + &name.len().to_string() + " > 255)");
    }
    None
}

/// Restricted indices are only reachable through grants with `allow_restricted_indices`.
pub fn is_restricted(name: &str) -> bool {
    name.starts_with(".security")
        || name.starts_with(".async-search")
        || name.starts_with(".fleet-secrets")
}
