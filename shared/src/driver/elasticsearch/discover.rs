//! Discovery of indices, data streams and aliases in at most three requests, whatever the
//! number of indices: `_resolve/index`, then (only when owners are read) `_mapping` and
//! `_data_stream` shrunk with `filter_path` to the `_meta` objects. Each asks only for what
//! the include patterns can select; exclusions and the hidden-index rule are applied here. `_resolve/index` also says
//! what each alias points to and each data stream's backing indices; both are recorded, since
//! an alias is granted as what it points to (it can be re-pointed after approval).

use std::collections::HashMap;

use reqwest::Method;
use serde::Deserialize;
use wildmatch::WildMatch;

use super::client::EsClient;
use super::grants::path_segment;
use crate::driver::DiscoveredResource;
use crate::driver::error::DriverError;
use crate::model::{DiscoverySelection, ResourceKind};

#[derive(Deserialize)]
struct Resolved {
    #[serde(default)]
    indices: Vec<ResolvedIndex>,
    #[serde(default)]
    aliases: Vec<ResolvedAlias>,
    #[serde(default)]
    data_streams: Vec<ResolvedDataStream>,
}

#[derive(Deserialize)]
struct ResolvedIndex {
    name: String,
    #[serde(default)]
    attributes: Vec<String>,
    #[serde(default)]
    data_stream: Option<String>,
}

#[derive(Deserialize)]
struct ResolvedAlias {
    name: String,
    #[serde(default)]
    indices: Vec<String>,
}

#[derive(Deserialize)]
struct ResolvedDataStream {
    name: String,
    #[serde(default)]
    backing_indices: Vec<String>,
}

/// The integration's selection: include/exclude patterns, with hidden and system resources
/// only when an include pattern names them explicitly (exactly, or a pattern starting with `.`).
pub struct Selector {
    include: Vec<(String, WildMatch)>,
    exclude: Vec<WildMatch>,
}

impl Selector {
    pub fn new(selection: &DiscoverySelection) -> Self {
        Self {
            include: selection
                .include
                .iter()
                .map(|p| (p.clone(), WildMatch::new(p)))
                .collect(),
            exclude: selection
                .exclude
                .iter()
                .map(|p| WildMatch::new(p))
                .collect(),
        }
    }

    pub fn selects(&self, name: &str, hidden: bool) -> bool {
        if self.exclude.iter().any(|m| m.matches(name)) {
            return false;
        }
        self.include.iter().any(|(p, m)| {
            m.matches(name)
                && (!hidden || p == name || (p.starts_with('.') && name.starts_with('.')))
        })
    }
}

/// The longest index expression sent in a path. Elasticsearch refuses a request line over
/// `http.max_initial_line_length` (4kb by default); a longer selection asks for everything
/// and is filtered here, as every selection is.
const MAX_EXPRESSION: usize = 2048;

/// Every target query names what it wants and tolerates what is not there: a name that does not
/// exist (or that the connector may not see) is skipped, a pattern matching nothing is an empty
/// answer, and hidden and closed indices are expanded so an explicit include can select them.
const TOLERANT: &str = "expand_wildcards=all&ignore_unavailable=true&allow_no_indices=true";

/// The comma-separated, path-encoded list of `names`, or `*` when it would not fit in a path.
fn expression<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut parts: Vec<String> = names.into_iter().map(path_segment).collect();
    parts.sort();
    parts.dedup();
    let joined = parts.join(",");
    if parts.iter().any(|p| p == "*") || joined.len() > MAX_EXPRESSION {
        "*".into()
    } else {
        joined
    }
}

/// The index expression covering every name the include patterns can select. Elasticsearch
/// patterns know only `*`, so a `?` (which [`Selector`] honours) widens to `*`. A pattern
/// starting with `-`, `+` or `_` selects nothing (no index, alias or data stream name may
/// start so) and would change the expression's meaning (`-x` excludes, `_all` is everything),
/// so it is left out. `None`: nothing can be selected.
pub fn include_expression(selection: &DiscoverySelection) -> Option<String> {
    let usable: Vec<String> = selection
        .include
        .iter()
        .filter(|p| !p.starts_with(['-', '+', '_']))
        .map(|p| p.replace('?', "*"))
        .collect();
    (!usable.is_empty()).then(|| expression(usable.iter().map(String::as_str)))
}

pub async fn discover(
    es: &EsClient,
    selection: &DiscoverySelection,
    owner_tag: Option<&str>,
) -> Result<Vec<DiscoveredResource>, DriverError> {
    let Some(expr) = include_expression(selection) else {
        return Ok(Vec::new());
    };
    let body = es
        .json(
            Method::GET,
            &format!("/_resolve/index/{expr}?{TOLERANT}"),
            None,
            true,
        )
        .await?;
    let resolved: Resolved = serde_json::from_value(body).map_err(|e| DriverError::Protocol {
        target: es.target().into(),
        operation: "GET /_resolve/index".into(),
        reason: e.to_string(),
    })?;
    let selector = Selector::new(selection);
    let streams: Vec<&str> = resolved
        .data_streams
        .iter()
        .filter(|d| selector.selects(&d.name, d.name.starts_with('.')))
        .map(|d| d.name.as_str())
        .collect();
    let (index_meta, stream_meta) = match owner_tag {
        Some(tag) => (
            index_owners(es, &expr, tag).await?,
            stream_owners(es, &streams, tag).await?,
        ),
        None => (HashMap::new(), HashMap::new()),
    };

    let mut out = Vec::new();
    for i in &resolved.indices {
        let hidden = i.attributes.iter().any(|a| a == "hidden" || a == "system")
            || i.name.starts_with('.')
            || i.data_stream.is_some();
        if selector.selects(&i.name, hidden) {
            out.push(DiscoveredResource {
                name: i.name.clone(),
                kind: ResourceKind::Index,
                display_name: None,
                owner: index_meta.get(&i.name).cloned(),
                targets: vec![],
            });
        }
    }
    for d in &resolved.data_streams {
        if selector.selects(&d.name, d.name.starts_with('.')) {
            out.push(DiscoveredResource {
                name: d.name.clone(),
                kind: ResourceKind::DataStream,
                display_name: None,
                owner: stream_meta.get(&d.name).cloned(),
                targets: sorted(&d.backing_indices),
            });
        }
    }
    for a in &resolved.aliases {
        if selector.selects(&a.name, a.name.starts_with('.')) {
            // An alias has no _meta of its own: it is owned by its indices' owner when they agree.
            let mut owners = a.indices.iter().map(|i| index_meta.get(i));
            let first = owners.next().flatten();
            let owner = first.filter(|o| owners.all(|x| x == Some(*o))).cloned();
            out.push(DiscoveredResource {
                name: a.name.clone(),
                kind: ResourceKind::Alias,
                display_name: None,
                owner,
                // What a request for the alias is granted instead of the alias itself.
                targets: sorted(&a.indices),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    Ok(out)
}

fn sorted(names: &[String]) -> Vec<String> {
    let mut v = names.to_vec();
    v.sort();
    v.dedup();
    v
}

fn owner_value(meta: Option<&serde_json::Value>, tag: &str) -> Option<String> {
    match meta?.get(tag)? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

async fn index_owners(
    es: &EsClient,
    expr: &str,
    tag: &str,
) -> Result<HashMap<String, String>, DriverError> {
    let body = es
        .json(
            Method::GET,
            &format!("/{expr}/_mapping?{TOLERANT}&filter_path=*.mappings._meta"),
            None,
            true,
        )
        .await?;
    let map = body.as_object().cloned().unwrap_or_default();
    Ok(map
        .into_iter()
        .filter_map(|(index, v)| {
            owner_value(v.get("mappings").and_then(|m| m.get("_meta")), tag).map(|o| (index, o))
        })
        .collect())
}

/// Owners of the selected data streams, named exactly: the get data stream API has no
/// `ignore_unavailable`, so a name that is not a data stream would fail the whole request.
async fn stream_owners(
    es: &EsClient,
    streams: &[&str],
    tag: &str,
) -> Result<HashMap<String, String>, DriverError> {
    if streams.is_empty() {
        return Ok(HashMap::new());
    }
    let body = es
        .json(
            Method::GET,
            &format!(
                "/_data_stream/{}?expand_wildcards=all&filter_path=data_streams.name,data_streams._meta",
                expression(streams.iter().copied())
            ),
            None,
            true,
        )
        .await?;
    let streams = body
        .get("data_streams")
        .and_then(|d| d.as_array())
        .cloned()
        .unwrap_or_default();
    Ok(streams
        .iter()
        .filter_map(|s| {
            let name = s.get("name")?.as_str()?.to_string();
            owner_value(s.get("_meta"), tag).map(|o| (name, o))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_resources_need_an_explicit_include() {
        let s = Selector::new(&DiscoverySelection {
            include: vec!["*".into(), ".kibana_task*".into(), "hidden-one".into()],
            exclude: vec!["secrets-*".into()],
        });
        assert!(s.selects("logs-1", false));
        assert!(!s.selects("secrets-1", false), "excluded");
        assert!(
            !s.selects(".security-7", true),
            "a bare * does not select hidden"
        );
        assert!(s.selects(".kibana_task_manager", true));
        assert!(s.selects("hidden-one", true), "exact name");
        assert!(!s.selects("hidden-two", true));
    }

    fn sel(include: &[&str]) -> DiscoverySelection {
        DiscoverySelection {
            include: include.iter().map(|s| s.to_string()).collect(),
            exclude: vec!["logs-secret*".into()],
        }
    }

    #[test]
    fn the_expression_names_only_what_the_includes_can_select() {
        assert_eq!(
            include_expression(&sel(&["logs-*", "metrics-app", "logs-*"])).as_deref(),
            Some("logs-*,metrics-app"),
            "deduplicated; exclusions stay local"
        );
        assert_eq!(
            include_expression(&sel(&["logs-2026.1?", "*"])).as_deref(),
            Some("*"),
            "a bare * covers everything"
        );
        assert_eq!(
            include_expression(&sel(&["logs-2026.1?"])).as_deref(),
            Some("logs-2026.1*"),
            "? widens to *, the selector narrows again"
        );
        assert_eq!(
            include_expression(&sel(&["-logs-*", "_all", "+x", "app"])).as_deref(),
            Some("app"),
            "exclusion, _all and + forms never reach the cluster"
        );
        assert_eq!(include_expression(&sel(&["_all"])), None);
        assert_eq!(
            include_expression(&sel(&["a#b", "ü"])).as_deref(),
            Some("%C3%BC,a%23b"),
            "each name is path-encoded; the commas between them are not"
        );
        let many: Vec<String> = (0..300).map(|i| format!("index-number-{i:04}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            include_expression(&sel(&many)).as_deref(),
            Some("*"),
            "too long for a request line: everything, filtered here"
        );
    }
}
