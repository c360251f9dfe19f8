//! Requester accounts (password rotation, deletion) and the inventory of managed objects.

use reqwest::Method;
use serde_json::{Value, json};

use super::client::EsClient;
use super::grants::path_segment;
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

/// Users, roles and live API keys whose metadata says elastic-jit made them: three requests,
/// however many there are (API keys are paged by `search_after`). API keys are filtered by the
/// cluster (`metadata.managed_by`); users and roles are filtered here, since the user query API
/// cannot see metadata and the role query API is 8.15+ only.
pub async fn list_managed(es: &EsClient) -> Result<Vec<ManagedObject>, DriverError> {
    let mut out = Vec::new();
    let users = es.json(Method::GET, "/_security/user", None, true).await?;
    for (name, u) in users.as_object().into_iter().flatten() {
        if managed(&u["metadata"]) {
            out.push(ManagedObject {
                object: TargetObject::EsUser {
                    username: name.clone(),
                },
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
    let roles = es.json(Method::GET, "/_security/role", None, true).await?;
    for (name, r) in roles.as_object().into_iter().flatten() {
        if managed(&r["metadata"]) {
            out.push(ManagedObject {
                object: TargetObject::EsRole { name: name.clone() },
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
