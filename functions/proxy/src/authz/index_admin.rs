//! What create-index and update-settings bodies do beyond their own index: the aliases a new
//! index joins, and the ingest pipelines its settings attach.
//!
//! Elasticsearch security authorizes `indices:admin/aliases` on each alias of a create-index
//! request by the alias's own name (`AuthorizationService`, as for `_aliases`): joining an
//! alias others read (or write through, with `is_write_index`) widens what they see. A
//! `default_pipeline` or `final_pipeline` setting runs a pipeline at every later write, exactly
//! as the `pipeline` parameter the proxy refuses, and a pipeline can reroute documents to any
//! index. Settings keys are read as Elasticsearch normalises them: nested objects join with
//! `.`, the body may be wrapped in `settings`, and the `index.` prefix is optional.

use serde_json::{Map, Value};

use super::body::{index_name, lookups_in, strict};
use super::classify::{Expand, Origin, Target};
use super::expr::IndexExpr;
use super::refusal::{Refusal, RefusalCode};

const ALIASES: &str = "indices:admin/aliases";

/// Settings that attach a pipeline to every write of the index.
const PIPELINE_SETTINGS: [&str; 2] = ["default_pipeline", "final_pipeline"];

fn malformed(why: impl Into<String>) -> Refusal {
    Refusal::new(RefusalCode::Malformed, why)
}

fn body(b: &[u8]) -> Result<Option<Value>, Refusal> {
    if b.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    strict(b)
        .map(Some)
        .ok_or_else(|| malformed("request body is not valid JSON (or repeats a key)"))
}

/// `PUT /{index}`: its aliases as targets, its settings checked, lookups in its mappings and
/// alias filters as targets. With aliases, Elasticsearch authorizes `indices:admin/aliases` on
/// the new index as well as on each alias (`manage` on both, not just `create_index`).
pub(crate) fn create_index(
    index: &[IndexExpr],
    b: &[u8],
    out: &mut Vec<Target>,
) -> Result<(), Refusal> {
    let Some(v) = body(b)? else {
        return Ok(());
    };
    lookups_in(&v, out)?;
    let Value::Object(o) = &v else {
        return Err(malformed("a create-index body must be a JSON object"));
    };
    if let Some(settings) = o.get("settings") {
        no_pipeline(settings, "")?;
    }
    match o.get("aliases") {
        None => {}
        Some(Value::Object(aliases)) if aliases.is_empty() => {}
        Some(Value::Object(aliases)) => {
            out.push(Target {
                action: ALIASES,
                item_action: None,
                indices: index.to_vec(),
                expand: Expand::default(),
                origin: Origin::Path,
            });
            for name in aliases.keys() {
                out.push(Target {
                    action: ALIASES,
                    item_action: None,
                    indices: index_name(&Value::from(name.as_str()), "alias")?,
                    expand: Expand::default(),
                    origin: Origin::Alias,
                });
            }
        }
        Some(_) => return Err(malformed("[aliases] must be an object of alias names")),
    }
    Ok(())
}

/// `PUT /{index}/_settings`: refused when it attaches a pipeline.
pub(crate) fn update_settings(b: &[u8]) -> Result<(), Refusal> {
    match body(b)? {
        None => Ok(()),
        Some(v @ Value::Object(_)) => no_pipeline(&v, ""),
        Some(_) => Err(malformed("a settings body must be a JSON object")),
    }
}

/// Walks settings as flattened `a.b.c` keys; every leaf is checked, so a key given both
/// nested and dotted cannot hide one reading behind the other.
fn no_pipeline(v: &Value, prefix: &str) -> Result<(), Refusal> {
    match v {
        Value::Object(o) => each(o, prefix),
        leaf => {
            let key = prefix.strip_prefix("settings.").unwrap_or(prefix);
            let key = key.strip_prefix("index.").unwrap_or(key);
            let unset = leaf.is_null() || leaf.as_str() == Some("_none");
            if PIPELINE_SETTINGS.contains(&key) && !unset {
                return Err(Refusal::new(
                    RefusalCode::NotPermitted,
                    format!(
                        "setting [index.{key}] is not permitted through the proxy (it runs an ingest pipeline at every write)"
                    ),
                ));
            }
            Ok(())
        }
    }
}

fn each(o: &Map<String, Value>, prefix: &str) -> Result<(), Refusal> {
    for (k, child) in o {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        no_pipeline(child, &key)?;
    }
    Ok(())
}
