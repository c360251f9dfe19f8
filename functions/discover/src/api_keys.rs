//! API-key hygiene for administrators: `GET /integrations/{name}/api-keys/report` reads the
//! cluster now, and the hourly re-discovery emits the same counts as metrics. Report only:
//! nothing is invalidated here (see [`shared::key_hygiene`]).

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use shared::api::{ApiError, Caller, json_response};
use shared::key_hygiene::ApiKeyReport;
use shared::model::{Integration, IntegrationKind};

use crate::App;

/// The metric names, each with `Function` and `Integration` dimensions.
pub const NEVER_EXPIRE: &str = "ApiKeysNeverExpiring";
pub const OVER_MAX_LIFETIME: &str = "ApiKeysOverMaxLifetime";

pub async fn report_route(
    app: &App,
    caller: &Caller,
    name: &str,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    caller.require_admin()?;
    let integration = crate::integrations::load(app, name).await?;
    if integration.kind() != IntegrationKind::Elasticsearch {
        return Err(ApiError::new(
            409,
            "api_keys_not_supported",
            "an Elastic Cloud integration has no cluster API keys to report",
        ));
    }
    let report = report(app, &integration).await?;
    Ok(json_response(
        200,
        &crate::views::api_key_report(&integration.name, &report),
    ))
}

pub async fn report(app: &App, integration: &Integration) -> Result<ApiKeyReport, ApiError> {
    let driver = app.targets.driver(integration).await?;
    Ok(driver.api_key_report(app.clock.now()).await?)
}

/// The hourly metrics of one Elasticsearch integration; a failed read is logged, not retried
/// (the next hour reads again).
pub async fn emit_metrics(app: &App, integration: &Integration) {
    if integration.kind() != IntegrationKind::Elasticsearch {
        return;
    }
    match report(app, integration).await {
        Ok(r) => {
            shared::metrics::count_for(
                NEVER_EXPIRE,
                "discover",
                &integration.name,
                r.never_expire.count as u64,
            );
            shared::metrics::count_for(
                OVER_MAX_LIFETIME,
                "discover",
                &integration.name,
                r.over_max_lifetime.count as u64,
            );
            if !r.complete {
                tracing::warn!(integration = %integration.name, checked = r.keys_checked, "API-key report incomplete: more live keys than one report reads");
            }
        }
        Err(e) => {
            tracing::warn!(integration = %integration.name, code = e.code, "API-key report failed")
        }
    }
}
