//! The query APIs over native users (`_security/_query/user`, 8.14+) and native roles
//! (`_security/_query/role`, 8.15+). Both answer only what the native store holds: built-in
//! users and roles are not in the result, unlike the get APIs (Elasticsearch reference,
//! "Query User API" and "Query Role API").

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use crate::authz::require_cluster;
use crate::ctx::Ctx;
use crate::errors::{ApiResponse, ApiResult, illegal_argument, x_content_parse};

const A_QUERY_USER: &str = "cluster:admin/xpack/security/user/query";
const A_QUERY_ROLE: &str = "cluster:admin/xpack/security/role/query";

/// `index.max_result_window` of the security index.
const MAX_WINDOW: usize = 10_000;

/// The body every security query API takes.
pub struct PagedQuery {
    pub query: Value,
    pub from: usize,
    pub size: usize,
    pub sort: Vec<(String, bool)>,
    pub search_after: Option<Vec<Value>>,
}

impl PagedQuery {
    /// Parses the body; `extra` names fields the API accepts and ignores here (aggregations).
    pub fn parse(ctx: &Ctx, parser: &str, extra: &[&str]) -> Result<Self, ApiResponse> {
        let body = ctx.req.optional_object()?;
        let mut q = PagedQuery {
            query: json!({"match_all": {}}),
            from: 0,
            size: 10,
            sort: Vec::new(),
            search_after: None,
        };
        for (k, v) in &body {
            match k.as_str() {
                "query" => q.query = v.clone(),
                "from" => q.from = v.as_u64().unwrap_or(0) as usize,
                "size" => q.size = v.as_u64().unwrap_or(10) as usize,
                "sort" => q.sort = crate::query::parse_sort(v),
                "search_after" => {
                    q.search_after = Some(match v {
                        Value::Array(a) => a.clone(),
                        other => vec![other.clone()],
                    })
                }
                other if extra.contains(&other) => {}
                other => {
                    return Err(x_content_parse(&format!(
                        "{} [{parser}] unknown field [{other}]",
                        ctx.req.location_of(other)
                    )));
                }
            }
        }
        if q.from + q.size > MAX_WINDOW {
            return Err(illegal_argument(&format!(
                "Result window is too large, from + size must be less than or equal to: [{MAX_WINDOW}] but was [{}]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.",
                q.from + q.size
            )));
        }
        Ok(q)
    }

    /// `FieldNameTranslators.translate`: a pattern, or a field the API does not expose, is
    /// refused, in the query and in the sort (`_doc` passes as is).
    pub fn check_fields(&self, queryable: &dyn Fn(&str) -> bool) -> Result<(), ApiResponse> {
        crate::query::check_fields(&self.query, &|f| !f.contains('*') && queryable(f))?;
        for (f, _) in &self.sort {
            if f == "_doc" {
                continue;
            }
            if f.contains('*') {
                return Err(illegal_argument(&format!(
                    "Field name pattern [{f}] is not allowed for querying or aggregation"
                )));
            }
            if !queryable(f) {
                return Err(illegal_argument(&format!(
                    "Field [{f}] is not allowed for querying or aggregation"
                )));
            }
        }
        Ok(())
    }

    /// Filters, sorts and pages `(item, query document)` pairs given in store order, and
    /// answers `{total, count, <key>: [...]}`, each item with its `_sort` values when sorted.
    pub fn answer(&self, docs: Vec<(Value, Value)>, key: &str) -> ApiResult {
        let mut matched = Vec::new();
        for (item, doc) in docs {
            if crate::query::matches(&self.query, &doc)? {
                matched.push((item, doc));
            }
        }
        if !self.sort.is_empty() {
            matched.sort_by(|a, b| crate::query::compare_docs(&a.1, &b.1, &self.sort));
        }
        let total = matched.len();
        if let Some(after) = &self.search_after {
            // Only what sorts strictly after the previous page's last `_sort`.
            let mut after_doc = Map::new();
            for ((f, _), v) in self.sort.iter().zip(after) {
                after_doc.insert(f.clone(), v.clone());
            }
            let after_doc = Value::Object(after_doc);
            matched.retain(|(_, doc)| {
                crate::query::compare_docs(doc, &after_doc, &self.sort) == Ordering::Greater
            });
        }
        let items: Vec<Value> = matched
            .into_iter()
            .skip(self.from)
            .take(self.size)
            .map(|(mut item, doc)| {
                if !self.sort.is_empty() {
                    let values = self
                        .sort
                        .iter()
                        .map(|(f, _)| crate::query::field(&doc, f).cloned().unwrap_or(Value::Null))
                        .collect();
                    item["_sort"] = Value::Array(values);
                }
                item
            })
            .collect();
        Ok(ApiResponse::ok(
            json!({"total": total, "count": items.len(), key: items}),
        ))
    }
}

/// `USER_FIELD_NAME_TRANSLATORS`: the public fields of a native user.
fn user_field(f: &str) -> bool {
    ["username", "roles", "full_name", "email", "enabled"].contains(&f)
}

/// `ROLE_FIELD_NAME_TRANSLATORS`: the name, the description, the application privileges and
/// `metadata` (a flattened field: itself and any dotted sub-field).
fn role_field(f: &str) -> bool {
    [
        "name",
        "description",
        "metadata",
        "applications.application",
        "applications.resources",
        "applications.privileges",
    ]
    .contains(&f)
        || f.starts_with("metadata.")
}

pub fn query_users(ctx: &mut Ctx) -> ApiResult {
    ctx.req.allow_params(&["with_profile_uid", "typed_keys"])?;
    let q = PagedQuery::parse(ctx, "query_user_request_payload", &[])?;
    require_cluster(ctx.principal, A_QUERY_USER)?;
    q.check_fields(&user_field)?;
    let docs = ctx
        .state
        .users
        .values()
        .filter(|u| !u.reserved)
        .map(|u| {
            let doc = json!({
                "username": u.username,
                "roles": u.roles,
                "full_name": u.full_name,
                "email": u.email,
                "enabled": u.enabled,
            });
            (u.to_json(), doc)
        })
        .collect();
    q.answer(docs, "users")
}

pub fn query_roles(ctx: &mut Ctx) -> ApiResult {
    ctx.req.allow_params(&["typed_keys"])?;
    let q = PagedQuery::parse(ctx, "query_role_request_payload", &[])?;
    require_cluster(ctx.principal, A_QUERY_ROLE)?;
    q.check_fields(&role_field)?;
    let docs = ctx
        .state
        .roles
        .iter()
        .map(|(name, rd)| {
            let doc = json!({
                "name": name,
                "description": rd.description,
                "metadata": rd.metadata,
                "applications": rd.applications,
            });
            let mut item = rd.to_json();
            item["name"] = json!(name);
            (item, doc)
        })
        .collect();
    q.answer(docs, "roles")
}
