//! A small subset of the query DSL, evaluated over JSON documents. Used by `_search`
//! and `_query/api_key`.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::errors::{ApiResponse, es_error, illegal_argument};
use crate::glob;

fn parsing_exception(reason: &str) -> ApiResponse {
    es_error(400, "parsing_exception", reason, Map::new())
}

/// Looks a dotted field up, accepting both nested objects and literal dotted keys, and
/// the `.keyword` sub-field convention of dynamic mappings.
pub fn field<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(v) = doc.get(path) {
        return Some(v);
    }
    let mut cur = doc;
    let mut found = true;
    for part in path.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => {
                found = false;
                break;
            }
        }
    }
    if found {
        return Some(cur);
    }
    path.strip_suffix(".keyword").and_then(|p| field(doc, p))
}

fn canonical(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(
            n.as_f64()
                .map(|f| f.to_string())
                .unwrap_or_else(|| n.to_string()),
        ),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn values_of(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn number_or_string(v: &Value) -> Value {
    if let Value::String(s) = v
        && let Ok(f) = s.parse::<f64>()
    {
        return serde_json::json!(f);
    }
    v.clone()
}

fn compare_values(a: &Value, b: &Value) -> Option<Ordering> {
    match (number_or_string(a), number_or_string(b)) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (x, y) => Some(canonical(&x)?.cmp(&canonical(&y)?)),
    }
}

fn eq(a: &Value, b: &Value) -> bool {
    match (canonical(a), canonical(b)) {
        (Some(x), Some(y)) if x == y => true,
        _ => compare_values(a, b) == Some(Ordering::Equal),
    }
}

/// `{"field": value}` or `{"field": {"value": v, ...}}`.
fn single_field<'a>(
    kind: &str,
    body: &'a Value,
    key: &str,
) -> Result<(&'a str, &'a Value), ApiResponse> {
    let obj = body.as_object().filter(|o| o.len() == 1).ok_or_else(|| {
        parsing_exception(&format!(
            "[{kind}] query malformed, no start_object after query name"
        ))
    })?;
    let (f, v) = obj
        .iter()
        .next()
        .ok_or_else(|| parsing_exception(&format!("[{kind}] query malformed")))?;
    let v = match v {
        Value::Object(o) => o
            .get(key)
            .ok_or_else(|| parsing_exception(&format!("[{kind}] query does not support [{f}]")))?,
        other => other,
    };
    Ok((f.as_str(), v))
}

fn clauses(v: Option<&Value>) -> Vec<&Value> {
    match v {
        None => Vec::new(),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(other) => vec![other],
    }
}

pub fn matches(query: &Value, doc: &Value) -> Result<bool, ApiResponse> {
    let obj = query
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| parsing_exception("query malformed, must start with start_object"))?;
    let (kind, body) = obj
        .iter()
        .next()
        .ok_or_else(|| parsing_exception("query malformed"))?;
    match kind.as_str() {
        "match_all" => Ok(true),
        "match_none" => Ok(false),
        "term" => {
            let (f, v) = single_field(kind, body, "value")?;
            Ok(field(doc, f).is_some_and(|d| values_of(d).iter().any(|x| eq(x, v))))
        }
        "terms" => {
            let o = body
                .as_object()
                .ok_or_else(|| parsing_exception("[terms] query malformed"))?;
            let (f, list) = o
                .iter()
                .find(|(k, _)| k.as_str() != "boost")
                .ok_or_else(|| parsing_exception("[terms] query malformed"))?;
            let wanted = list.as_array().ok_or_else(|| {
                parsing_exception("[terms] query does not support values other than arrays")
            })?;
            Ok(field(doc, f)
                .is_some_and(|d| values_of(d).iter().any(|x| wanted.iter().any(|w| eq(x, w)))))
        }
        "prefix" => {
            let (f, v) = single_field(kind, body, "value")?;
            let p = canonical(v).unwrap_or_default();
            Ok(field(doc, f).is_some_and(|d| {
                values_of(d)
                    .iter()
                    .any(|x| canonical(x).is_some_and(|s| s.starts_with(&p)))
            }))
        }
        "wildcard" => {
            let (f, v) = single_field(kind, body, "value")?;
            let p = canonical(v).unwrap_or_default();
            Ok(field(doc, f).is_some_and(|d| {
                values_of(d)
                    .iter()
                    .any(|x| canonical(x).is_some_and(|s| glob::matches_with(&p, &s, true)))
            }))
        }
        "exists" => {
            let f = body
                .get("field")
                .and_then(Value::as_str)
                .ok_or_else(|| parsing_exception("[exists] must be provided with a [field]"))?;
            Ok(field(doc, f).is_some_and(|v| !values_of(v).is_empty()))
        }
        "ids" => {
            let values = body
                .get("values")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let id = doc.get("_id").or_else(|| doc.get("id"));
            Ok(id.is_some_and(|i| values.iter().any(|v| eq(i, v))))
        }
        "range" => {
            let o = body
                .as_object()
                .ok_or_else(|| parsing_exception("[range] query malformed"))?;
            let (f, bounds) = o
                .iter()
                .next()
                .ok_or_else(|| parsing_exception("[range] query malformed"))?;
            let Some(d) = field(doc, f) else {
                return Ok(false);
            };
            Ok(values_of(d).iter().any(|x| {
                bounds.as_object().is_some_and(|b| {
                    b.iter().all(|(op, bound)| {
                        let c = compare_values(x, bound);
                        match op.as_str() {
                            "gt" => c == Some(Ordering::Greater),
                            "gte" => matches!(c, Some(Ordering::Greater | Ordering::Equal)),
                            "lt" => c == Some(Ordering::Less),
                            "lte" => matches!(c, Some(Ordering::Less | Ordering::Equal)),
                            _ => true,
                        }
                    })
                })
            }))
        }
        "match" => {
            let (f, v) = single_field(kind, body, "query")?;
            let wanted: Vec<String> = canonical(v)
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_lowercase)
                .collect();
            Ok(field(doc, f).is_some_and(|d| {
                values_of(d).iter().any(|x| {
                    canonical(x).is_some_and(|s| {
                        let have: Vec<String> =
                            s.split_whitespace().map(str::to_lowercase).collect();
                        wanted.iter().any(|w| have.contains(w))
                    })
                })
            }))
        }
        "bool" => {
            let b = body
                .as_object()
                .ok_or_else(|| parsing_exception("[bool] query malformed"))?;
            for key in b.keys() {
                if ![
                    "must",
                    "filter",
                    "should",
                    "must_not",
                    "minimum_should_match",
                    "boost",
                ]
                .contains(&key.as_str())
                {
                    return Err(parsing_exception(&format!(
                        "[bool] query does not support [{key}]"
                    )));
                }
            }
            for c in clauses(b.get("must"))
                .into_iter()
                .chain(clauses(b.get("filter")))
            {
                if !matches(c, doc)? {
                    return Ok(false);
                }
            }
            for c in clauses(b.get("must_not")) {
                if matches(c, doc)? {
                    return Ok(false);
                }
            }
            let should = clauses(b.get("should"));
            if should.is_empty() {
                return Ok(true);
            }
            let required = b
                .get("minimum_should_match")
                .and_then(Value::as_u64)
                .unwrap_or(if b.contains_key("must") || b.contains_key("filter") {
                    0
                } else {
                    1
                });
            let mut hits = 0u64;
            for c in should {
                if matches(c, doc)? {
                    hits += 1;
                }
            }
            Ok(hits >= required)
        }
        other => Err(parsing_exception(&format!("unknown query [{other}]"))),
    }
}

/// Rejects fields a restricted index (the API-key query) does not expose.
pub fn check_fields(query: &Value, allowed: &dyn Fn(&str) -> bool) -> Result<(), ApiResponse> {
    let Some(obj) = query.as_object() else {
        return Ok(());
    };
    for (kind, body) in obj {
        match kind.as_str() {
            "bool" => {
                if let Some(b) = body.as_object() {
                    for key in ["must", "filter", "should", "must_not"] {
                        for c in clauses(b.get(key)) {
                            check_fields(c, allowed)?;
                        }
                    }
                }
            }
            "match_all" | "match_none" | "ids" => {}
            "exists" => {
                if let Some(f) = body.get("field").and_then(Value::as_str)
                    && !allowed(f)
                {
                    return Err(illegal_argument(&format!(
                        "Field [{f}] is not allowed for querying or aggregation"
                    )));
                }
            }
            "term" | "terms" | "prefix" | "wildcard" | "range" | "match" => {
                if let Some(o) = body.as_object() {
                    for f in o.keys().filter(|k| k.as_str() != "boost") {
                        if !allowed(f) {
                            return Err(illegal_argument(&format!(
                                "Field [{f}] is not allowed for querying or aggregation"
                            )));
                        }
                    }
                }
            }
            other => {
                return Err(illegal_argument(&format!(
                    "Query type [{other}] is not currently supported in this context"
                )));
            }
        }
    }
    Ok(())
}

/// `sort` as a string, an object or an array of either; `true` means ascending.
pub fn parse_sort(v: &Value) -> Vec<(String, bool)> {
    let one = |item: &Value| -> Option<(String, bool)> {
        match item {
            Value::String(s) => Some((s.clone(), true)),
            Value::Object(o) => {
                let (f, spec) = o.iter().next()?;
                let order = match spec {
                    Value::String(s) => s.as_str(),
                    Value::Object(so) => so.get("order").and_then(Value::as_str).unwrap_or("asc"),
                    _ => "asc",
                };
                Some((f.clone(), order != "desc"))
            }
            _ => None,
        }
    };
    match v {
        Value::Array(items) => items.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

pub fn compare_docs(a: &Value, b: &Value, sort: &[(String, bool)]) -> Ordering {
    for (f, asc) in sort {
        let x = field(a, f).unwrap_or(&Value::Null);
        let y = field(b, f).unwrap_or(&Value::Null);
        let ord = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            // Missing values sort last in both directions, as `_last` does.
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            _ => compare_values(x, y).unwrap_or(Ordering::Equal),
        };
        let ord = if *asc { ord } else { ord.reverse() };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}
