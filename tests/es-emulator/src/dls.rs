//! Document- and field-level security on reads: which of an index's documents, and which of
//! their fields, a principal sees (`IndicesAccessControl`). Within one layer of role
//! descriptors the entries granting the read on the index are united: any entry without a
//! `query` shows every document, else a document shows when any entry's query matches; any
//! entry without `field_security` shows every field, else a field shows when any entry grants
//! it and does not except it. An API key's layers (its own descriptors, its owner's) are
//! intersected. Role query templates are rendered with `_user` (Mustache variables, values
//! JSON-escaped as Elasticsearch's JSON mustache factory does).

use serde_json::{Map, Value, json};

use crate::authn::Principal;
use crate::catalog::is_restricted;
use crate::errors::{ApiResponse, parse_exception};
use crate::glob;
use crate::privileges;
use crate::query;
use crate::roles::IndicesPrivileges;

/// One layer's restriction; `None` = unrestricted.
#[derive(Debug, Clone, Default)]
struct Layer {
    queries: Option<Vec<Value>>,
    fields: Option<Vec<(Vec<String>, Vec<String>)>>,
}

#[derive(Debug, Clone, Default)]
pub struct ReadControl {
    layers: Vec<Layer>,
}

fn covers(ip: &IndicesPrivileges, names: &[&str]) -> bool {
    names.iter().any(|name| {
        (!is_restricted(name) || ip.allow_restricted_indices)
            && ip.names.iter().any(|n| glob::role_pattern_matches(n, name))
    })
}

/// The `_user` a role query template sees.
fn user_params(p: &Principal) -> Value {
    json!({"_user": {
        "username": p.username,
        "full_name": p.full_name,
        "email": p.email,
        "roles": p.roles,
        "metadata": p.metadata,
    }})
}

/// A role's query as evaluated for `p`: the stored JSON, or its template rendered.
pub fn effective_query(stored: &str, p: &Principal) -> Result<Value, ApiResponse> {
    let v: Value =
        serde_json::from_str(stored).map_err(|_| parse_exception("failed to parse role query"))?;
    let Some(source) = v.get("template").and_then(|t| t.get("source")) else {
        return Ok(v);
    };
    let text = match source {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let rendered = render(&text, &user_params(p));
    serde_json::from_str(&rendered)
        .map_err(|_| parse_exception("failed to parse rendered role query template"))
}

/// `{{a.b.c}}` variables only, JSON-escaped; a missing value renders as nothing (Mustache).
fn render(text: &str, params: &Value) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some((name, tail)) = after.split_once("}}") else {
            out.push_str(&rest[at..]);
            return out;
        };
        let value = name
            .trim()
            .split('.')
            .try_fold(params, |v, part| v.get(part));
        if let Some(v) = value {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let escaped = Value::String(s).to_string();
            out.push_str(&escaped[1..escaped.len() - 1]);
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

impl ReadControl {
    /// What `p` may see of index `names[0]` (and the data stream or alias it is read as)
    /// through `action`.
    pub fn of(p: &Principal, action: &str, names: &[&str]) -> Result<Self, ApiResponse> {
        let mut layers = Vec::new();
        for layer in &p.permission.layers {
            let entries: Vec<&IndicesPrivileges> = layer
                .iter()
                .flat_map(|rd| rd.indices.iter())
                .filter(|ip| {
                    ip.privileges
                        .iter()
                        .any(|x| privileges::index_privilege_grants(x, action))
                        && covers(ip, names)
                })
                .collect();
            let queries = if entries.iter().any(|e| e.query.is_none()) {
                None
            } else {
                Some(
                    entries
                        .iter()
                        .filter_map(|e| e.query.as_deref())
                        .map(|q| effective_query(q, p))
                        .collect::<Result<Vec<_>, _>>()?,
                )
            };
            let fields = if entries.iter().any(|e| e.field_security.is_none()) {
                None
            } else {
                Some(
                    entries
                        .iter()
                        .filter_map(|e| e.field_security.as_ref())
                        .map(|fs| (strings(fs.get("grant")), strings(fs.get("except"))))
                        .collect(),
                )
            };
            layers.push(Layer { queries, fields });
        }
        Ok(Self { layers })
    }

    pub fn allows(&self, doc: &Value) -> Result<bool, ApiResponse> {
        for layer in &self.layers {
            if let Some(qs) = &layer.queries {
                let mut any = false;
                for q in qs {
                    if query::matches(q, doc)? {
                        any = true;
                        break;
                    }
                }
                if !any {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    fn field_visible(&self, path: &str) -> bool {
        self.layers.iter().all(|layer| {
            layer.fields.as_ref().is_none_or(|rules| {
                rules.iter().any(|(grant, except)| {
                    grant.iter().any(|g| glob::matches(g, path))
                        && !except.iter().any(|x| glob::matches(x, path))
                })
            })
        })
    }

    /// The document's `_source` with only the visible fields (objects without any dropped).
    pub fn filter_source(&self, source: &Value) -> Value {
        if self.layers.iter().all(|l| l.fields.is_none()) {
            return source.clone();
        }
        self.filter_object(source, "").unwrap_or_else(|| json!({}))
    }

    fn filter_object(&self, v: &Value, prefix: &str) -> Option<Value> {
        match v {
            Value::Object(o) => {
                let mut out = Map::new();
                for (k, child) in o {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    if let Some(kept) = self.filter_object(child, &path) {
                        out.insert(k.clone(), kept);
                    }
                }
                (!out.is_empty() || prefix.is_empty()).then_some(Value::Object(out))
            }
            leaf => self.field_visible(prefix).then(|| leaf.clone()),
        }
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_user_values_json_escaped() {
        let params = json!({"_user": {"username": "a\"b", "metadata": {"team": "x"}}});
        assert_eq!(
            render(r#"{"term":{"o":"{{_user.username}}"}}"#, &params),
            r#"{"term":{"o":"a\"b"}}"#
        );
        assert_eq!(
            render("{{_user.metadata.team}}-{{_user.nope}}", &params),
            "x-"
        );
    }
}
