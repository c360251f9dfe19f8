//! Document- and field-level security on a custom permission: a document `query` and
//! `field_security: {grant, except}` that Elasticsearch applies to every index the grant's role
//! names (`indices[].query` and `indices[].field_security` of put-role).
//!
//! The query may use the requester's own attributes as Mustache variables, as Elasticsearch's
//! role query templates do: `{{_user.username}}` (the requester's account on the cluster),
//! `{{_user.email}}` and `{{_user.metadata.requester}}` (their identity provider subject).
//! `_user` is always the user who authenticated, so a query cannot name another requester's
//! attributes, and nothing else is a variable. The driver sends such a query as
//! `{"template": {"source": <query>}}` (Elasticsearch's "Templating a role query").
//!
//! Refused in a query: scripts (an administrator's query runs as every requester's search,
//! and a script is code), `wrapper` (a base64 query nothing here could check), and what
//! Elasticsearch itself refuses in role queries (terms lookup, `has_child`, `has_parent`,
//! `percolate`, an indexed geo shape), so the answer comes before any grant is attempted.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::validation::ValidationErrors;

/// A role query is small; a large one is a mistake or an attempt to hide something.
pub const MAX_QUERY_BYTES: usize = 8 * 1024;
const MAX_QUERY_DEPTH: usize = 16;
const MAX_FIELDS: usize = 100;

/// The Mustache variables a query may use, and nothing else.
pub const TEMPLATE_VARIABLES: &[&str] =
    &["_user.username", "_user.email", "_user.metadata.requester"];

/// Keys refused anywhere in a query (see the module's comment).
const REFUSED_KEYS: &[&str] = &[
    "script",
    "script_score",
    "wrapper",
    "template",
    "has_child",
    "has_parent",
    "percolate",
    "indexed_shape",
    "stored_script",
    // `terms_set`'s per-document script.
    "minimum_should_match_script",
];

/// Queries that read their string as a pattern or a query language: a requester's own value
/// substituted there is syntax (`.`, `|`, `+` and `@` in a regexp, `:` and `-` in a query
/// string), so a verified address such as `.+|x@example.com` would match everyone's documents.
const PATTERN_QUERIES: &[&str] = &[
    "regexp",
    "wildcard",
    "prefix",
    "fuzzy",
    "query_string",
    "simple_query_string",
    "match_phrase_prefix",
    "match_bool_prefix",
    "intervals",
    "span_multi",
];

/// `more_like_this` keys whose object entries are documents it fetches, from any index.
const LIKE_KEYS: &[&str] = &["like", "unlike"];

/// `field_security` of a custom permission.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSecurity {
    /// Field names or `*` patterns the requester may read.
    pub grant: Vec<String>,
    /// Fields taken back out of `grant` (each must lie inside it, as Elasticsearch requires).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
}

/// Does the query use the requester's attributes (so it is sent as a template)?
pub fn is_template(query: &Map<String, Value>) -> bool {
    Value::Object(query.clone()).to_string().contains("{{")
}

/// What the role's `query` is: the query itself, or a template of it.
pub fn role_query(query: &Map<String, Value>) -> Value {
    if is_template(query) {
        serde_json::json!({"template": {"source": query}})
    } else {
        Value::Object(query.clone())
    }
}

pub(crate) fn check_query(e: &mut ValidationErrors, field: &str, query: &Map<String, Value>) {
    let text = Value::Object(query.clone()).to_string();
    if text.len() > MAX_QUERY_BYTES {
        e.push(
            "query_too_large",
            field,
            format!("{field} may be at most {MAX_QUERY_BYTES} bytes as JSON"),
        );
        return;
    }
    if query.len() != 1 {
        e.push(
            "invalid_query",
            field,
            format!(
                "{field} must be one query object, e.g. {{\"term\": {{\"team\": \"payments\"}}}}"
            ),
        );
    }
    let mut refused = Vec::new();
    let mut lookups = false;
    let depth = walk(&Value::Object(query.clone()), 0, &mut refused, &mut lookups);
    let mut patterns = Vec::new();
    variables_in_patterns(&Value::Object(query.clone()), None, &mut patterns);
    if depth > MAX_QUERY_DEPTH {
        e.push(
            "invalid_query",
            field,
            format!("{field} nests deeper than {MAX_QUERY_DEPTH} levels"),
        );
    }
    refused.sort_unstable();
    refused.dedup();
    for key in refused {
        e.push(
            "query_not_allowed",
            field,
            format!(
                "{field} may not use {key:?}: scripts, wrapped queries, templates and joins are \
                 refused in a document query"
            ),
        );
    }
    if lookups {
        e.push(
            "query_not_allowed",
            field,
            format!(
                "{field}: a terms lookup or a more_like_this document reads another index; list \
                 the terms or give the text instead"
            ),
        );
    }
    patterns.sort_unstable();
    patterns.dedup();
    for kind in patterns {
        e.push(
            "invalid_template_variable",
            field,
            format!(
                "{field}: a variable may not be used inside {kind:?}, which reads the requester's \
                 value as a pattern or query syntax; compare it exactly with term or terms"
            ),
        );
    }
    check_variables(e, field, &text);
}

/// The pattern queries ([`PATTERN_QUERIES`]) with a `{{` anywhere inside them.
fn variables_in_patterns(v: &Value, inside: Option<&'static str>, found: &mut Vec<&'static str>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                if let Some(kind) = inside.filter(|_| k.contains("{{")) {
                    found.push(kind);
                }
                let here = PATTERN_QUERIES.iter().copied().find(|p| p == k);
                variables_in_patterns(child, inside.or(here), found);
            }
        }
        Value::Array(a) => a
            .iter()
            .for_each(|c| variables_in_patterns(c, inside, found)),
        Value::String(s) => {
            if let Some(kind) = inside.filter(|_| s.contains("{{")) {
                found.push(kind);
            }
        }
        _ => {}
    }
}

/// The deepest nesting, collecting refused keys and terms lookups on the way.
fn walk(v: &Value, depth: usize, refused: &mut Vec<String>, lookups: &mut bool) -> usize {
    match v {
        Value::Object(o) => {
            let mut deepest = depth + 1;
            for (k, child) in o {
                if REFUSED_KEYS.contains(&k.as_str()) {
                    refused.push(k.clone());
                }
                if k == "terms"
                    && child
                        .as_object()
                        .is_some_and(|t| t.values().any(Value::is_object))
                {
                    *lookups = true;
                }
                if LIKE_KEYS.contains(&k.as_str()) && has_document(child) {
                    *lookups = true;
                }
                deepest = deepest.max(walk(child, depth + 1, refused, lookups));
            }
            deepest
        }
        Value::Array(a) => a
            .iter()
            .map(|c| walk(c, depth + 1, refused, lookups))
            .max()
            .unwrap_or(depth + 1),
        _ => depth,
    }
}

/// A `like`/`unlike` value with a document in it rather than text: Elasticsearch fetches a
/// named one (`{"_index": …, "_id": …}`) from any index, whatever the requester may read, so
/// the documents visible would depend on one they may not see. Text says the same without it.
fn has_document(v: &Value) -> bool {
    match v {
        Value::Object(_) => true,
        Value::Array(a) => a.iter().any(Value::is_object),
        _ => false,
    }
}

/// Every `{{` opens one of [`TEMPLATE_VARIABLES`], written exactly: no sections, partials,
/// unescaped `{{{…}}}` or delimiter changes, whose output nothing here could predict.
fn check_variables(e: &mut ValidationErrors, field: &str, text: &str) {
    let mut rest = text;
    while let Some(at) = rest.find("{{") {
        let after = &rest[at + 2..];
        let tag = after.split_once("}}").map(|(t, _)| t);
        match tag {
            Some(t) if TEMPLATE_VARIABLES.contains(&t) => {
                rest = &after[t.len() + 2..];
                if rest.starts_with('}') {
                    push_bad_variable(e, field, &format!("{{{{{t}}}}}}}"));
                    return;
                }
            }
            _ => {
                let shown: String = after.chars().take(40).collect();
                push_bad_variable(e, field, &format!("{{{{{shown}"));
                return;
            }
        }
    }
}

fn push_bad_variable(e: &mut ValidationErrors, field: &str, found: &str) {
    e.push(
        "invalid_template_variable",
        field,
        format!(
            "{field}: the only variables are {} (the requester's own; got {found:?})",
            TEMPLATE_VARIABLES
                .iter()
                .map(|v| format!("{{{{{v}}}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
}

/// A field name or pattern: Elasticsearch field paths with `*` wildcards.
fn field_pattern_ok(p: &str) -> bool {
    (1..=255).contains(&p.len())
        && !p.starts_with('.')
        && !p.ends_with('.')
        && !p.contains("..")
        && !p
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || ",\"\\/".contains(c))
}

pub(crate) fn check_field_security(e: &mut ValidationErrors, field: &str, fs: &FieldSecurity) {
    if fs.grant.is_empty() {
        e.push(
            "invalid_field_security",
            format!("{field}.grant"),
            format!("{field}.grant needs at least one field name or pattern"),
        );
    }
    if fs.grant.len() + fs.except.len() > MAX_FIELDS {
        e.push(
            "invalid_field_security",
            field,
            format!("{field} may list at most {MAX_FIELDS} fields"),
        );
    }
    for (part, list) in [("grant", &fs.grant), ("except", &fs.except)] {
        for (i, p) in list.iter().enumerate() {
            if !field_pattern_ok(p) {
                e.push(
                    "invalid_field_pattern",
                    format!("{field}.{part}[{i}]"),
                    format!(
                        "{field}.{part}[{i}] must be a field name or '*' pattern of 1 to 255 \
                         characters without spaces, commas or quotes (got {p:?})"
                    ),
                );
            }
        }
    }
    // Elasticsearch refuses a role whose exceptions reach outside its grants (an automaton
    // subset test). Matching an exception as literal text against a grant is that test when
    // the grant's only wildcard is `*`, which can take whatever the exception's wildcards
    // stand for; a grant's `?` is one character, so `a?` does not cover `a*` (an exception
    // with a wildcard is taken under a `?` grant only when it is that grant).
    for (i, x) in fs.except.iter().enumerate() {
        if !fs.grant.iter().any(|g| {
            g == x
                || (wildmatch::WildMatch::new(g).matches(x)
                    && !(g.contains('?') && x.contains(['*', '?'])))
        }) {
            e.push(
                "invalid_field_security",
                format!("{field}.except[{i}]"),
                format!(
                    "{field}.except[{i}] ({x:?}) must lie inside grant: exceptions take fields \
                     back out of what grant gives"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn codes(q: Value) -> Vec<&'static str> {
        let mut e = ValidationErrors::default();
        check_query(&mut e, "query", q.as_object().unwrap());
        e.codes()
    }

    #[test]
    fn a_query_is_one_plain_query_with_only_the_requesters_own_variables() {
        assert!(codes(json!({"term": {"team": "payments"}})).is_empty());
        assert!(
            codes(
                json!({"bool": {"filter": [{"term": {"owner": "{{_user.username}}"}},
                                            {"term": {"sub": "{{_user.metadata.requester}}"}}]}})
            )
            .is_empty()
        );
        assert_eq!(codes(json!({})), ["invalid_query"]);
        assert_eq!(
            codes(json!({"term": {"a": 1}, "match_all": {}})),
            ["invalid_query"]
        );
        for other in [
            "{{_user.full_name}}",
            "{{_user.metadata.other}}",
            "{{other.username}}",
            "{{#_user.roles}}x{{/_user.roles}}",
            "{{{_user.username}}}",
            "{{_user.username}}}",
            "{{=<% %>=}}",
            "{{_user.username",
        ] {
            assert_eq!(
                codes(json!({"term": {"owner": other}})),
                ["invalid_template_variable"],
                "{other}"
            );
        }
    }

    #[test]
    fn scripts_wrapped_queries_joins_and_lookups_are_refused() {
        for q in [
            json!({"script": {"script": {"source": "true"}}}),
            json!({"bool": {"filter": [{"function_score": {"query": {"match_all": {}}, "script_score": {"script": "1"}}}]}}),
            json!({"wrapper": {"query": "eyJtYXRjaF9hbGwiOnt9fQ=="}}),
            json!({"has_child": {"type": "c", "query": {"match_all": {}}}}),
            json!({"template": {"id": "stored"}}),
        ] {
            assert!(codes(q.clone()).contains(&"query_not_allowed"), "{q}");
        }
        assert_eq!(
            codes(json!({"terms": {"user": {"index": "users", "id": "1", "path": "ids"}}})),
            ["query_not_allowed"]
        );
        assert!(codes(json!({"terms": {"team": ["a", "b"]}})).is_empty());
        let mut deep = json!({"match_all": {}});
        for _ in 0..20 {
            deep = json!({"bool": {"must": deep}});
        }
        assert_eq!(codes(deep), ["invalid_query"]);
        let big = json!({"terms": {"team": vec!["x".repeat(100); 100]}});
        assert_eq!(codes(big), ["query_too_large"]);
    }

    #[test]
    fn a_terms_set_script_and_more_like_this_documents_are_refused() {
        let script = json!({"terms_set": {"team": {"terms": ["a"],
            "minimum_should_match_script": {"source": "params.num_terms"}}}});
        assert_eq!(codes(script), ["query_not_allowed"]);
        for like in [
            json!({"_index": "secrets", "_id": "1"}),
            json!(["text", {"_index": "secrets", "_id": "1"}]),
            json!({"doc": {"team": "a"}}),
        ] {
            let mlt = json!({"more_like_this": {"fields": ["team"], "like": like.clone()}});
            assert_eq!(codes(mlt), ["query_not_allowed"], "{like}");
        }
        let unlike = json!({"more_like_this": {"fields": ["t"], "like": "x",
            "unlike": [{"_index": "secrets", "_id": "1"}]}});
        assert_eq!(codes(unlike), ["query_not_allowed"]);
        assert!(
            codes(json!({"more_like_this": {"fields": ["t"], "like": ["some text"]}})).is_empty()
        );
    }

    #[test]
    fn a_variable_is_compared_exactly_never_read_as_a_pattern() {
        // A verified address such as `.+|x@example.com` is a regexp matching everything.
        for q in [
            json!({"regexp": {"owner": "{{_user.email}}"}}),
            json!({"regexp": {"owner": {"value": "{{_user.email}}"}}}),
            json!({"wildcard": {"owner": {"value": "{{_user.username}}*"}}}),
            json!({"prefix": {"owner": "{{_user.username}}"}}),
            json!({"query_string": {"query": "owner:{{_user.username}}"}}),
            json!({"simple_query_string": {"query": "{{_user.email}}", "fields": ["owner"]}}),
            json!({"bool": {"should": [{"term": {"team": "a"}},
                {"intervals": {"owner": {"wildcard": {"pattern": "{{_user.username}}"}}}}]}}),
            json!({"fuzzy": {"{{_user.username}}": {"value": "x"}}}),
        ] {
            assert_eq!(codes(q.clone()), ["invalid_template_variable"], "{q}");
        }
        assert!(
            codes(json!({"bool": {"filter": [{"regexp": {"team": "pay.*"}},
                {"terms": {"owner": ["{{_user.username}}", "{{_user.email}}"]}}]}}))
            .is_empty()
        );
    }

    #[test]
    fn a_template_is_sent_only_when_a_variable_is_used() {
        let plain = json!({"term": {"team": "payments"}});
        assert_eq!(role_query(plain.as_object().unwrap()), plain);
        let own = json!({"term": {"owner": "{{_user.username}}"}});
        assert_eq!(
            role_query(own.as_object().unwrap()),
            json!({"template": {"source": own}})
        );
    }

    #[test]
    fn field_security_grants_fields_and_takes_exceptions_from_them() {
        let check = |grant: &[&str], except: &[&str]| {
            let mut e = ValidationErrors::default();
            check_field_security(
                &mut e,
                "field_security",
                &FieldSecurity {
                    grant: grant.iter().map(|s| s.to_string()).collect(),
                    except: except.iter().map(|s| s.to_string()).collect(),
                },
            );
            e.codes()
        };
        assert!(check(&["*"], &["customer.ssn"]).is_empty());
        assert!(check(&["customer.*", "@timestamp"], &["customer.ssn"]).is_empty());
        assert_eq!(check(&[], &[]), ["invalid_field_security"]);
        assert_eq!(
            check(&["message"], &["customer.ssn"]),
            ["invalid_field_security"]
        );
        // Saved only when Elasticsearch will take it, not refused at the first grant.
        assert_eq!(check(&["a?"], &["a*"]), ["invalid_field_security"]);
        assert_eq!(check(&["a?c"], &["a*c"]), ["invalid_field_security"]);
        assert!(check(&["a?c"], &["a?c"]).is_empty());
        assert!(check(&["a?"], &["ab"]).is_empty());
        assert!(check(&["a*"], &["a?", "ab*"]).is_empty());
        assert_eq!(check(&["a b"], &[]), ["invalid_field_pattern"]);
        assert_eq!(check(&["a", "a..b"], &[]), ["invalid_field_pattern"]);
    }
}
