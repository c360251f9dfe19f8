//! What a grant's names stand for on the cluster now, for the people deciding it: one
//! `_resolve/index` of exactly those names (no wildcard, so nothing beyond them is listed),
//! in as few requests as the request line allows.

use reqwest::Method;
use serde::Deserialize;

use super::client::EsClient;
use super::grants::path_segment;
use crate::driver::DriverError;
use crate::grant_scope::{ResolvedKind, ResolvedName, is_exact_index_name};

/// Elasticsearch refuses a request line over `http.max_initial_line_length` (4 KB by default).
const MAX_NAMES_PATH: usize = 3000;
/// The most reads one resolution makes (a grant names at most a few hundred indices).
const MAX_READS: usize = 4;

#[derive(Deserialize)]
struct Resolved {
    #[serde(default)]
    indices: Vec<Index>,
    #[serde(default)]
    aliases: Vec<Alias>,
    #[serde(default)]
    data_streams: Vec<DataStream>,
}

#[derive(Deserialize)]
struct Index {
    name: String,
    #[serde(default)]
    attributes: Vec<String>,
}

#[derive(Deserialize)]
struct Alias {
    name: String,
    #[serde(default)]
    indices: Vec<String>,
}

#[derive(Deserialize)]
struct DataStream {
    name: String,
    #[serde(default)]
    backing_indices: Vec<String>,
}

/// Each of `names` as the cluster reports it, in the order given.
pub async fn resolve(es: &EsClient, names: &[String]) -> Result<Vec<ResolvedName>, DriverError> {
    let mut out: Vec<ResolvedName> = names
        .iter()
        .map(|n| ResolvedName {
            name: n.clone(),
            kind: ResolvedKind::NotRead,
            attributes: vec![],
            reaches: vec![],
        })
        .collect();
    for batch in batches(names).into_iter().take(MAX_READS) {
        // `ignore_unavailable`: a name that is gone is reported as missing, not as a 404 for all.
        let encoded: Vec<String> = batch.iter().map(|n| path_segment(n)).collect();
        let path = format!(
            "/_resolve/index/{}?expand_wildcards=all&ignore_unavailable=true",
            encoded.join(",")
        );
        let body = es.json(Method::GET, &path, None, true).await?;
        let resolved: Resolved =
            serde_json::from_value(body).map_err(|e| DriverError::Protocol {
                target: es.target().into(),
                operation: "GET /_resolve/index".into(),
                reason: e.to_string(),
            })?;
        for slot in out.iter_mut().filter(|s| batch.contains(&s.name)) {
            *slot = answer_for(&slot.name, &resolved);
        }
    }
    Ok(out)
}

/// The name's entry in the answer; only the entry of that exact name counts (an index's
/// aliases are not what a role on the index reaches).
fn answer_for(name: &str, r: &Resolved) -> ResolvedName {
    let mut slot = ResolvedName {
        name: name.to_string(),
        kind: ResolvedKind::Missing,
        attributes: vec![],
        reaches: vec![],
    };
    if let Some(d) = r.data_streams.iter().find(|d| d.name == name) {
        slot.kind = ResolvedKind::DataStream;
        slot.reaches = sorted(&d.backing_indices);
    } else if let Some(a) = r.aliases.iter().find(|a| a.name == name) {
        slot.kind = ResolvedKind::Alias;
        slot.reaches = sorted(&a.indices);
    } else if let Some(i) = r.indices.iter().find(|i| i.name == name) {
        slot.kind = ResolvedKind::Index;
        slot.attributes = sorted(&i.attributes);
    }
    slot
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

/// The exact names in groups whose encoded, joined length fits one request line. Names that
/// are not exact are never sent (they stay not read).
fn batches(names: &[String]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![];
    let mut len = 0;
    for n in names.iter().filter(|n| is_exact_index_name(n)) {
        let encoded = path_segment(n).len();
        match out.last_mut() {
            Some(b) if len + encoded < MAX_NAMES_PATH => {
                len += encoded + 1;
                b.push(n.clone());
            }
            _ => {
                len = encoded + 1;
                out.push(vec![n.clone()]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sent_exactly_and_in_request_lines_that_fit() {
        let names: Vec<String> = (0..400).map(|i| format!("logs-2026.{i:04}")).collect();
        let b = batches(&names);
        assert!(b.len() > 1);
        assert!(b.iter().all(|x| x.join(",").len() < MAX_NAMES_PATH + 20));
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 400);
        let b = batches(&["logs-*".into(), "a,b".into(), "ok".into(), "-x".into()]);
        assert_eq!(b, vec![vec!["ok".to_string()]]);
    }

    #[test]
    fn only_the_exact_name_counts() {
        let r: Resolved = serde_json::from_value(serde_json::json!({
            "indices": [{"name": "logs-1", "aliases": ["everything"], "attributes": ["open"]}],
            "aliases": [{"name": "everything", "indices": ["logs-1", "secrets"]}],
            "data_streams": [{"name": "app", "backing_indices": [".ds-app-2", ".ds-app-1"]}]
        }))
        .unwrap();
        let i = answer_for("logs-1", &r);
        assert_eq!((i.kind, i.reaches.len()), (ResolvedKind::Index, 0));
        assert_eq!(i.attributes, vec!["open"]);
        let d = answer_for("app", &r);
        assert_eq!(d.kind, ResolvedKind::DataStream);
        assert_eq!(d.reaches, vec![".ds-app-1", ".ds-app-2"]);
        assert_eq!(answer_for("gone", &r).kind, ResolvedKind::Missing);
    }
}
