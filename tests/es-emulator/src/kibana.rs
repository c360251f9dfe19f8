//! A tiny Kibana: `GET /api/spaces/space`, the spaces API's list, served beside the
//! Elasticsearch API so a test can name one URL for both. Kibana authenticates the caller
//! against Elasticsearch (the same users and API keys) and lists only the spaces the caller
//! holds some privilege of `kibana-.kibana` in (`space:<id>` or `*`); others are left out, as
//! Kibana's secure spaces client does.

use serde::Deserialize;
use serde_json::json;

use crate::account::application_grants;
use crate::ctx::Ctx;
use crate::errors::{ApiResponse, ApiResult};

/// A space as the seed (`kibana_spaces`) declares it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Space {
    pub id: String,
    pub name: String,
}

pub fn list_spaces(ctx: &mut Ctx) -> ApiResult {
    ctx.req
        .allow_params(&["purpose", "include_authorized_purposes"])?;
    let spaces: Vec<_> = ctx
        .state
        .kibana_spaces
        .iter()
        .filter(|s| {
            application_grants(
                ctx.principal,
                "kibana-.kibana",
                &format!("space:{}", s.id),
                &|_| true,
            )
        })
        .map(|s| {
            json!({"id": s.id, "name": s.name, "disabledFeatures": [], "color": "#54B399",
                   "initials": s.name.chars().take(2).collect::<String>().to_uppercase()})
        })
        .collect();
    Ok(ApiResponse::ok(json!(spaces)))
}
