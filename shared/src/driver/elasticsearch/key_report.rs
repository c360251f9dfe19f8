//! The API-key hygiene report: live keys (not invalidated, and not yet expired or never
//! expiring) read with `_query/api_key`, paged by `search_after` over `creation` then `name`
//! (the fields it can sort by; not `id`), shrunk with `filter_path` to what is judged.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use super::client::EsClient;
use crate::driver::{DriverError, MANAGED_BY};
use crate::key_hygiene::{ApiKeyReport, KeyFinding};

const PAGE: usize = 1000;
/// The most pages one report reads: 10,000 live keys in 10 requests. A cluster with more is
/// reported as incomplete rather than letting the report outgrow its invocation.
const MAX_PAGES: usize = 10;
const FILTER: &str = "filter_path=total,api_keys.id,api_keys.name,api_keys.username,\
api_keys.creation,api_keys.expiration,api_keys.metadata.managed_by,api_keys.metadata.grant_id,\
api_keys._sort";

pub async fn report(
    es: &EsClient,
    max_lifetime_days: Option<u32>,
    now: DateTime<Utc>,
) -> Result<ApiKeyReport, DriverError> {
    let mut out = ApiKeyReport::new(now, max_lifetime_days);
    let mut search_after: Option<Value> = None;
    for page_no in 0..MAX_PAGES {
        let mut query = json!({
            "query": {"bool": {
                "filter": [{"term": {"invalidated": false}}],
                "should": [
                    {"bool": {"must_not": [{"exists": {"field": "expiration"}}]}},
                    {"range": {"expiration": {"gt": now.timestamp_millis()}}}
                ],
                "minimum_should_match": 1
            }},
            "sort": ["creation", "name"],
            "size": PAGE,
        });
        if let Some(after) = &search_after {
            query["search_after"] = after.clone();
        }
        let page = es
            .json(
                Method::POST,
                &format!("/_security/_query/api_key?{FILTER}"),
                Some(&query),
                true,
            )
            .await?;
        let keys = page["api_keys"].as_array().cloned().unwrap_or_default();
        for k in &keys {
            if let Some(f) = finding(k) {
                out.judge(f);
            }
        }
        match keys.last().map(|k| k["_sort"].clone()) {
            Some(sort) if keys.len() == PAGE && !sort.is_null() => {
                search_after = Some(sort);
                if page_no + 1 == MAX_PAGES {
                    out.complete = false;
                }
            }
            _ => break,
        }
    }
    Ok(out)
}

fn millis(v: &Value) -> Option<DateTime<Utc>> {
    v.as_i64().and_then(DateTime::from_timestamp_millis)
}

fn finding(k: &Value) -> Option<KeyFinding> {
    Some(KeyFinding {
        id: k["id"].as_str()?.to_string(),
        name: k["name"].as_str().unwrap_or_default().to_string(),
        username: k["username"].as_str().map(str::to_string),
        creation: millis(&k["creation"])?,
        expiration: millis(&k["expiration"]),
        managed: k["metadata"]["managed_by"].as_str() == Some(MANAGED_BY),
        grant_id: k["metadata"]["grant_id"].as_str().map(str::to_string),
    })
}
