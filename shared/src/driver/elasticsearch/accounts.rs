//! Requester accounts (password rotation, deletion) and the inventory of managed objects.

use reqwest::Method;
use serde_json::{Value, json};

use super::client::EsClient;
use super::grants::{path_segment, role_name};
use crate::driver::{DriverError, MANAGED_BY, ManagedAccount, ManagedObject};
use crate::model::TargetObject;
use crate::secrets::SecretValue;

pub async fn set_password(
    es: &EsClient,
    name: &str,
    password: &SecretValue,
) -> Result<(), DriverError> {
    es.json(
        Method::POST,
        &format!("/_security/user/{}/_password", path_segment(name)),
        Some(&json!({ "password": password.expose() })),
        true,
    )
    .await
    .map(|_| ())
}

pub async fn delete_user(es: &EsClient, name: &str) -> Result<(), DriverError> {
    match es
        .json(
            Method::DELETE,
            &format!("/_security/user/{}", path_segment(name)),
            None,
            true,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

fn managed(metadata: &Value) -> bool {
    metadata["managed_by"].as_str() == Some(MANAGED_BY)
}

fn integration_of(metadata: &Value) -> Option<String> {
    metadata["integration"].as_str().map(str::to_string)
}

fn grant_of(metadata: &Value) -> Option<String> {
    metadata["grant_id"].as_str().map(str::to_string)
}

/// API keys are paged by `search_after` over `creation` then `name`. `_query/api_key` sorts and
/// queries only its public fields other than `id` (elastic/elasticsearch
/// `x-pack/plugin/security/.../support/FieldNameTranslators.java`, `API_KEY_FIELD_NAME_TRANSLATORS`
/// and `translate`: anything else is 400 "Field [id] is not allowed for querying or
/// aggregation"). `name` breaks ties: a managed key is named after its grant's role, so two
/// managed keys never share both values and no page boundary can skip one.
const KEY_SORT: [&str; 2] = ["creation", "name"];
const KEY_PAGE: usize = 1000;

/// A page of the user and role query APIs: large enough that a cluster's managed accounts
/// fit in one, small enough to stay well inside the security index's 10,000-hit window.
const ACCOUNT_PAGE: usize = 1000;

/// Users, roles and live API keys whose metadata says elastic-jit made them for this
/// integration, asking the cluster only for names under the integration's prefix (a role is
/// `<prefix>grant_<id>`, an account `<prefix>…`): one request each, however many there are
/// (each is paged by `search_after`). Changing a prefix is refused while anything made under
/// the old one is live, so nothing managed hides under another prefix. API keys are filtered by
/// the cluster (`metadata.managed_by`); users and roles by name there and by metadata here,
/// since the user query API cannot see metadata and role metadata is queryable only once the
/// security index has been migrated.
pub async fn list_managed(es: &EsClient, prefix: &str) -> Result<Vec<ManagedObject>, DriverError> {
    let mut out = Vec::new();
    let users = named_under(es, Kind::User, prefix).await?;
    for (name, u) in users {
        if managed(&u["metadata"]) {
            out.push(ManagedObject {
                object: TargetObject::EsUser { username: name },
                integration: integration_of(&u["metadata"]),
                grant_id: None,
                account: Some(ManagedAccount {
                    enabled: u["enabled"].as_bool().unwrap_or(true),
                    roles: u["roles"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r.as_str().map(str::to_string))
                        .collect(),
                    email: u["email"].as_str().map(str::to_string),
                }),
            });
        }
    }
    let roles = named_under(es, Kind::Role, &role_name(prefix, "")).await?;
    for (name, r) in roles {
        if managed(&r["metadata"]) {
            out.push(ManagedObject {
                object: TargetObject::EsRole { name },
                integration: integration_of(&r["metadata"]),
                grant_id: grant_of(&r["metadata"]),
                account: None,
            });
        }
    }
    let mut search_after: Option<Value> = None;
    loop {
        let mut query = json!({
            "query": {"bool": {"filter": [
                {"term": {"metadata.managed_by": MANAGED_BY}},
                {"term": {"invalidated": false}}
            ]}},
            "sort": KEY_SORT,
            "size": KEY_PAGE,
        });
        if let Some(after) = &search_after {
            query["search_after"] = after.clone();
        }
        let page = es
            .json(
                Method::POST,
                "/_security/_query/api_key",
                Some(&query),
                true,
            )
            .await?;
        let keys = page["api_keys"].as_array().cloned().unwrap_or_default();
        for k in &keys {
            if let Some(id) = k["id"].as_str() {
                out.push(ManagedObject {
                    object: TargetObject::EsApiKey {
                        id: id.to_string(),
                        name: k["name"].as_str().unwrap_or_default().to_string(),
                    },
                    integration: integration_of(&k["metadata"]),
                    grant_id: grant_of(&k["metadata"]),
                    account: None,
                });
            }
        }
        match keys.last().map(|k| k["_sort"].clone()) {
            Some(sort) if keys.len() == KEY_PAGE && !sort.is_null() => search_after = Some(sort),
            _ => break,
        }
    }
    Ok(out)
}

#[derive(Clone, Copy)]
enum Kind {
    User,
    Role,
}

impl Kind {
    fn query_path(self) -> &'static str {
        match self {
            Kind::User => "/_security/_query/user",
            Kind::Role => "/_security/_query/role",
        }
    }

    fn get_path(self) -> &'static str {
        match self {
            Kind::User => "/_security/user",
            Kind::Role => "/_security/role",
        }
    }

    /// The field holding the name, in the query and in each answered item.
    fn name_field(self) -> &'static str {
        match self {
            Kind::User => "username",
            Kind::Role => "name",
        }
    }

    fn items(self) -> &'static str {
        match self {
            Kind::User => "users",
            Kind::Role => "roles",
        }
    }
}

/// Users or roles whose name starts with `prefix`, as `(name, document)`. The query APIs are
/// 8.14+ (users) and 8.15+ (roles); an older cluster has no handler for the path (400 with a
/// bare string `error`), and then the whole list is read once and filtered here.
async fn named_under(
    es: &EsClient,
    kind: Kind,
    prefix: &str,
) -> Result<Vec<(String, Value)>, DriverError> {
    let field = kind.name_field();
    let mut out = Vec::new();
    let mut search_after: Option<Value> = None;
    loop {
        let mut query = json!({
            "query": {"prefix": {field: prefix}},
            "sort": [field],
            "size": ACCOUNT_PAGE,
        });
        if let Some(after) = &search_after {
            query["search_after"] = after.clone();
        }
        let resp = es
            .raw(Method::POST, kind.query_path(), Some(&query), true)
            .await?;
        if !resp.status.is_success() {
            if search_after.is_none() && no_handler(resp.status.as_u16(), &resp.body) {
                return listed_under(es, kind, prefix).await;
            }
            return Err(es.error(&resp));
        }
        let items = resp.body[kind.items()]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let last = items.last().map(|i| i["_sort"].clone());
        let full = items.len() == ACCOUNT_PAGE;
        for item in items {
            if let Some(name) = item[field].as_str().filter(|n| n.starts_with(prefix)) {
                out.push((name.to_string(), item));
            }
        }
        match last {
            Some(sort) if full && !sort.is_null() => search_after = Some(sort),
            _ => break,
        }
    }
    Ok(out)
}

/// Elasticsearch's REST controller answers a path it has no handler for with 400 and a plain
/// string `error` ("no handler found for uri [..] and method [..]"); every API error is an
/// object with a `type`.
fn no_handler(status: u16, body: &Value) -> bool {
    status == 400
        && body["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("no handler found for uri"))
}

async fn listed_under(
    es: &EsClient,
    kind: Kind,
    prefix: &str,
) -> Result<Vec<(String, Value)>, DriverError> {
    let all = es.json(Method::GET, kind.get_path(), None, true).await?;
    Ok(all
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, _)| name.starts_with(prefix))
        .map(|(name, v)| (name.clone(), v.clone()))
        .collect())
}
