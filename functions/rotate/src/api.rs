//! `POST /integrations/{name}/rotate`: start a connector rotation now (administrators).

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use serde_json::json;
use shared::api::{ApiError, Caller, json_response};
use shared::model::{AuditEvent, AuditSubject};
use shared::secrets::RotationStart;
use shared::validation::{ValidationErrors, check_name};

use crate::App;

pub async fn rotate_now(
    app: &App,
    caller: &Caller,
    name: &str,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    caller.require_admin()?;
    let mut e = ValidationErrors::default();
    check_name(&mut e, "name", name);
    e.into_result().map_err(ApiError::from)?;
    let integration = app
        .store
        .get_integration(name)
        .await?
        .ok_or_else(|| ApiError::not_found("integration", name))?;
    let secret = &integration.spec.secret_arn;
    let function = app
        .function_name
        .as_deref()
        .unwrap_or("the rotate function");
    let event = |action: &str| {
        AuditEvent::new(
            app.clock.now(),
            caller.actor(),
            action,
            AuditSubject::Integration(name.into()),
        )
        .with_integration(name)
    };
    match app.secrets.start_rotation(secret).await? {
        RotationStart::Started { version_id } => {
            app.store
                .append_audit(&[event("connector.rotation_requested").with_details(json!({
                    "secret_arn": secret,
                    "token": version_id,
                }))])
                .await?;
            tracing::info!(integration = name, secret = %secret, token = %version_id, "connector rotation started");
            Ok(json_response(
                202,
                &json!({
                    "integration": name,
                    "secret_arn": secret,
                    "version_id": version_id,
                    "status": "rotation_started",
                }),
            ))
        }
        RotationStart::NotConfigured => Err(ApiError::new(
            409,
            "rotation_not_configured",
            format!(
                "rotation is not configured for the connector secret {secret}: enable it with the rotate \
                 function ({function}) as the secret's rotation Lambda, e.g. `aws secretsmanager \
                 rotate-secret --secret-id {secret} --rotation-lambda-arn <ARN of {function}> \
                 --rotation-rules AutomaticallyAfterDays=30`, then retry"
            ),
        )
        .with_details(json!({ "secret_arn": secret }))),
        RotationStart::Rejected { reason } => Err(ApiError::new(
            409,
            "rotation_rejected",
            format!("Secrets Manager did not start a rotation of {secret}: {reason}"),
        )),
    }
}
