//! `/flows` routes.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use serde_json::json;
use shared::api::{ApiError, ApiRequest, Caller, json_response, no_content};
use shared::model::{AccessFlow, AccessFlowSpec, AuditEvent, AuditSubject};
use shared::validation::{ValidationErrors, check_name};

use crate::{App, views};

fn checked_name(name: &str) -> Result<(), ApiError> {
    let mut e = ValidationErrors::default();
    check_name(&mut e, "name", name);
    e.into_result().map_err(ApiError::from)
}

pub async fn list(app: &App) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let flows = app.store.list_flows().await?;
    Ok(json_response(
        200,
        &json!({ "flows": flows.iter().map(views::flow).collect::<Vec<_>>() }),
    ))
}

pub async fn get(app: &App, name: &str) -> Result<ApiGatewayV2httpResponse, ApiError> {
    checked_name(name)?;
    let f = app
        .store
        .get_flow(name)
        .await?
        .ok_or_else(|| ApiError::not_found("flow", name))?;
    Ok(json_response(200, &views::flow(&f)))
}

pub async fn put(
    app: &App,
    caller: &Caller,
    name: &str,
    req: &ApiRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    caller.require_admin()?;
    let spec: AccessFlowSpec = req.json()?;
    // Checked before the lookup: DynamoDB refuses an empty key value (found by API fuzzing).
    let mut e = ValidationErrors::default();
    check_name(&mut e, "name", name);
    check_name(&mut e, "integration", &spec.integration);
    e.into_result().map_err(ApiError::from)?;
    let integration = app.store.get_integration(&spec.integration).await?;
    spec.validate(name, integration.as_ref())?;
    let existing = app.store.get_flow(name).await?;
    let now = app.clock.now();
    let flow = AccessFlow {
        name: name.to_string(),
        spec,
        version: existing.as_ref().map_or(0, |f| f.version),
        created_at: existing.as_ref().map_or(now, |f| f.created_at),
        updated_at: now,
    };
    let action = if existing.is_some() {
        "flow.updated"
    } else {
        "flow.created"
    };
    let audit = AuditEvent::new(now, caller.actor(), action, AuditSubject::Flow(name.into()))
        .with_integration(&flow.spec.integration)
        .with_details(serde_json::to_value(&flow.spec).unwrap_or_default());
    let stored = app
        .store
        .save_flow(&flow, existing.as_ref().map(|f| f.version), &[audit])
        .await?;
    Ok(json_response(
        if existing.is_some() { 200 } else { 201 },
        &views::flow(&stored),
    ))
}

pub async fn delete(
    app: &App,
    caller: &Caller,
    name: &str,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    caller.require_admin()?;
    checked_name(name)?;
    let f = app
        .store
        .get_flow(name)
        .await?
        .ok_or_else(|| ApiError::not_found("flow", name))?;
    let audit = AuditEvent::new(
        app.clock.now(),
        caller.actor(),
        "flow.deleted",
        AuditSubject::Flow(name.into()),
    )
    .with_integration(&f.spec.integration);
    app.store.delete_flow(name, f.version, &[audit]).await?;
    Ok(no_content())
}
