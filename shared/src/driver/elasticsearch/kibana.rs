//! Kibana's list of spaces (`GET /api/spaces/space`, Kibana's spaces API), read with the
//! connector's credentials, which Kibana checks against the same cluster. Kibana lists only
//! the spaces the caller holds a privilege in, so a space missing from the answer either does
//! not exist or is hidden from the connector: both are refused, since a grant naming it would
//! give nothing the approver could check.

use reqwest::Method;

use super::client::EsClient;
use crate::driver::DriverError;
use crate::model::{KibanaSpace, is_space_id};

/// The spaces Kibana lists for the connector, in its order. Only ids of Kibana's own form are
/// kept, and names are cut to [`MAX_SPACE_NAME`] characters: the rest is the target's free text.
pub async fn list_spaces(kibana: &EsClient) -> Result<Vec<KibanaSpace>, DriverError> {
    let answer = kibana
        .json(Method::GET, "/api/spaces/space", None, true)
        .await?;
    Ok(answer
        .as_array()
        .ok_or_else(|| DriverError::Protocol {
            target: "kibana".into(),
            operation: "GET /api/spaces/space".into(),
            reason: "expected a list of spaces".into(),
        })?
        .iter()
        .filter_map(|s| {
            let id = s["id"].as_str().filter(|id| is_space_id(id))?;
            Some(KibanaSpace {
                id: id.to_string(),
                name: s["name"]
                    .as_str()
                    .map(|n| n.chars().take(MAX_SPACE_NAME).collect()),
            })
        })
        .collect())
}

/// The most of a space's display name kept.
pub const MAX_SPACE_NAME: usize = 128;

pub async fn check_spaces(kibana: &EsClient, wanted: &[&str]) -> Result<(), DriverError> {
    let listed: Vec<String> = list_spaces(kibana)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|w| !listed.iter().any(|l| l == *w))
        .map(|w| w.to_string())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(DriverError::UnknownKibanaSpaces {
            missing,
            known: listed,
        })
    }
}
