//! The `filter_path` response filter: comma-separated dotted paths where `*` matches one
//! key (or part of one) and `**` any number of levels; a leading `-` excludes.

use serde_json::{Map, Value};

use crate::glob;

fn split(pattern: &str) -> Vec<String> {
    pattern.split('.').map(str::to_string).collect()
}

/// Keeps what at least one inclusive path selects, then removes what an exclusive path
/// selects. Nothing selected gives `{}`, as Elasticsearch answers.
pub fn apply(value: &Value, filter: &str) -> Value {
    let mut include = Vec::new();
    let mut exclude = Vec::new();
    for p in filter.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match p.strip_prefix('-') {
            Some(e) => exclude.push(split(e)),
            None => include.push(split(p)),
        }
    }
    let mut out = if include.is_empty() {
        value.clone()
    } else {
        let refs: Vec<&[String]> = include.iter().map(Vec::as_slice).collect();
        keep(value, &refs).unwrap_or_else(|| Value::Object(Map::new()))
    };
    for e in &exclude {
        remove(&mut out, e);
    }
    out
}

fn keep(value: &Value, patterns: &[&[String]]) -> Option<Value> {
    if patterns.iter().any(|p| p.is_empty()) {
        return Some(value.clone());
    }
    match value {
        Value::Object(obj) => {
            let mut out = Map::new();
            for (k, v) in obj {
                let mut next: Vec<&[String]> = Vec::new();
                for p in patterns {
                    if p[0] == "**" {
                        // `**` may consume this key and stay, or match nothing.
                        next.push(p);
                        if p.len() > 1 && glob::matches(&p[1], k) {
                            next.push(&p[2..]);
                        }
                    } else if glob::matches(&p[0], k) {
                        next.push(&p[1..]);
                    }
                }
                if next.is_empty() {
                    continue;
                }
                if let Some(kept) = keep(v, &next) {
                    out.insert(k.clone(), kept);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(items) => {
            let kept: Vec<Value> = items.iter().filter_map(|i| keep(i, patterns)).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        // A scalar reached while path segments remain is not selected, except by a
        // trailing `**`.
        _ => patterns
            .iter()
            .any(|p| p.iter().all(|s| s == "**"))
            .then(|| value.clone()),
    }
}

fn remove(value: &mut Value, pattern: &[String]) {
    if pattern.is_empty() {
        return;
    }
    match value {
        Value::Object(obj) => {
            if pattern.len() == 1 {
                obj.retain(|k, _| !glob::matches(&pattern[0], k));
            } else {
                for (k, v) in obj.iter_mut() {
                    if glob::matches(&pattern[0], k) {
                        remove(v, &pattern[1..]);
                    }
                }
            }
        }
        Value::Array(items) => {
            for i in items {
                remove(i, pattern);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mapping_meta_only() {
        let v = json!({"a": {"mappings": {"_meta": {"owner": "x"}, "properties": {"f": {}}}},
                       "b": {"mappings": {"properties": {}}}});
        assert_eq!(
            apply(&v, "*.mappings._meta"),
            json!({"a": {"mappings": {"_meta": {"owner": "x"}}}})
        );
    }

    #[test]
    fn double_star_and_arrays() {
        let v = json!({"indices": [{"name": "a", "x": 1}, {"name": "b"}], "other": {"deep": {"name": "c"}}});
        assert_eq!(
            apply(&v, "indices.name"),
            json!({"indices": [{"name": "a"}, {"name": "b"}]})
        );
        assert_eq!(
            apply(&v, "**.name"),
            json!({"indices": [{"name": "a"}, {"name": "b"}], "other": {"deep": {"name": "c"}}})
        );
        assert_eq!(apply(&v, "nothing"), json!({}));
        assert_eq!(
            apply(&v, "-indices"),
            json!({"other": {"deep": {"name": "c"}}})
        );
    }
}
