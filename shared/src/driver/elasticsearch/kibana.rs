//! Kibana's list of spaces (`GET /api/spaces/space`, Kibana's spaces API), read with the
//! connector's credentials, which Kibana checks against the same cluster. Kibana lists only
//! the spaces the caller holds a privilege in, so a space missing from the answer either does
//! not exist or is hidden from the connector: both are refused, since a grant naming it would
//! give nothing the approver could check.

use reqwest::Method;

use super::client::EsClient;
use crate::driver::DriverError;
use crate::model::is_space_id;

pub async fn check_spaces(kibana: &EsClient, wanted: &[&str]) -> Result<(), DriverError> {
    let answer = kibana
        .json(Method::GET, "/api/spaces/space", None, true)
        .await?;
    let listed: Vec<String> = answer
        .as_array()
        .ok_or_else(|| DriverError::Protocol {
            target: "kibana".into(),
            operation: "GET /api/spaces/space".into(),
            reason: "expected a list of spaces".into(),
        })?
        .iter()
        .filter_map(|s| s["id"].as_str())
        // Only ids of Kibana's own form reach a message: the rest is the target's free text.
        .filter(|id| is_space_id(id))
        .map(str::to_string)
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
