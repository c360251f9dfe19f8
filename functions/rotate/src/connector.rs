//! Connector secrets: the Secrets Manager rotation steps, delivered to this function.

use serde::Deserialize;
use serde_json::json;
use shared::rotation::{RotationError, Step, StepContext, integration_for_secret, run_step};

use crate::{App, HandlerError};

/// `{"Step","SecretId","ClientRequestToken"}` (other fields, such as `RotationToken`, ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationEvent {
    pub step: String,
    pub secret_id: String,
    pub client_request_token: String,
}

fn failed(e: &RotationError) -> HandlerError {
    HandlerError::new(e.code(), e.is_retryable(), e.to_string())
}

pub async fn handle(app: &App, event: &RotationEvent) -> Result<serde_json::Value, HandlerError> {
    let result = run(app, event).await;
    if let Err(e) = &result {
        tracing::warn!(
            secret = %event.secret_id,
            token = %event.client_request_token,
            step = %event.step,
            code = e.code(),
            retryable = e.is_retryable(),
            "rotation event failed"
        );
    }
    result.map_err(|e| failed(&e))
}

async fn run(app: &App, event: &RotationEvent) -> Result<serde_json::Value, RotationError> {
    let step =
        Step::parse(&event.step).ok_or_else(|| RotationError::UnknownStep(event.step.clone()))?;
    let described = app.secrets.describe(&event.secret_id).await?;
    let integration = integration_for_secret(
        app.store.as_ref(),
        app.targets.connector_prefix(),
        &described,
    )
    .await?;
    let ctx = StepContext {
        secrets: app.secrets.as_ref(),
        targets: app.targets.as_ref(),
        audit: app.store.as_ref(),
        integrations: app.store.as_ref(),
        integration: &integration,
        secret_id: &integration.spec.secret_arn,
        token: &event.client_request_token,
        now: app.clock.now(),
        described: &described,
    };
    let outcome = run_step(&ctx, step).await?;
    Ok(json!({
        "step": step.as_str(),
        "integration": integration.name,
        "outcome": outcome.as_str(),
    }))
}
