//! `/integrations` routes.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use serde_json::json;
use shared::api::{ApiError, ApiRequest, Caller, json_response, no_content};
use shared::discovery::{DiscoveryError, plan};
use shared::model::{AuditEvent, AuditSubject, Integration, IntegrationSpec, RequestStatus};
use shared::store::Cursor;
use shared::validation::{ValidationErrors, check_name};

use crate::{App, views};

/// Statuses in which a grant still has (or may get) access on the target.
pub const OPEN_STATUSES: [RequestStatus; 4] = [
    RequestStatus::Pending,
    RequestStatus::Approved,
    RequestStatus::Active,
    RequestStatus::RevokeFailed,
];

fn checked_name(name: &str) -> Result<(), ApiError> {
    let mut e = ValidationErrors::default();
    check_name(&mut e, "name", name);
    e.into_result().map_err(ApiError::from)
}

async fn load(app: &App, name: &str) -> Result<Integration, ApiError> {
    checked_name(name)?;
    app.store
        .get_integration(name)
        .await?
        .ok_or_else(|| ApiError::not_found("integration", name))
}

pub async fn list(app: &App, _caller: &Caller) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let all = app.store.list_integrations().await?;
    Ok(json_response(
        200,
        &json!({ "integrations": all.iter().map(views::integration).collect::<Vec<_>>() }),
    ))
}

pub async fn get(
    app: &App,
    caller: &Caller,
    name: &str,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let i = load(app, name).await?;
    let mut body = views::integration(&i);
    // Old connector credentials still valid on the target: for the operators who fix it.
    if caller.is_admin && !i.pending_retires.is_empty() {
        body["pending_retires"] = json!(i.pending_retires);
    }
    Ok(json_response(200, &body))
}

/// Register or update: validate, read the connector secret, check the connector's privileges,
/// discover — and only then store anything.
pub async fn put(
    app: &App,
    caller: &Caller,
    name: &str,
    req: &ApiRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    caller.require_admin()?;
    let spec: IntegrationSpec = req.json()?;
    spec.validate(name)?;
    let existing = app.store.get_integration(name).await?;
    if let Some(old) = &existing
        && old.spec.kind != spec.kind
    {
        return Err(ApiError::bad_request(
            "immutable_field",
            format!(
                "kind cannot change from {} to {}; delete and re-register the integration",
                old.spec.kind.as_str(),
                spec.kind.as_str()
            ),
        ));
    }
    let now = app.clock.now();
    let mut integration = Integration {
        name: name.to_string(),
        spec,
        version: existing.as_ref().map_or(0, |e| e.version),
        created_at: existing.as_ref().map_or(now, |e| e.created_at),
        updated_at: now,
        last_discovery_at: Some(now),
        last_discovery_error: None,
        // A rotation's unfinished clean-up outlives any change of settings.
        pending_retires: existing
            .as_ref()
            .map(|e| e.pending_retires.clone())
            .unwrap_or_default(),
    };
    let driver = app.targets.driver(&integration).await?;
    driver.check_prerequisites().await?;
    let found = driver.discover().await?;
    let current = app.store.all_resources(name).await?;
    let (writes, summary) = plan(name, &found, &current, now);
    app.store.put_resources(&writes).await?;

    let action = if existing.is_some() {
        "integration.updated"
    } else {
        "integration.registered"
    };
    let audit = AuditEvent::new(
        now,
        caller.actor(),
        action,
        AuditSubject::Integration(name.into()),
    )
    .with_integration(name)
    .with_details(json!({
        "kind": integration.spec.kind.as_str(),
        "url": integration.spec.url,
        "organization_id": integration.spec.organization_id,
        "secret_arn": integration.spec.secret_arn,
        "discovery": summary,
    }));
    let saved = app
        .store
        .save_integration(&integration, existing.as_ref().map(|e| e.version), &[audit])
        .await;
    match saved {
        Ok(stored) => {
            integration = stored;
            let status = if existing.is_some() { 200 } else { 201 };
            let mut body = views::integration(&integration);
            body["discovery"] = json!(summary);
            Ok(json_response(status, &body))
        }
        Err(e) => {
            // Lost a race with another writer: take back resources written for a record that
            // does not exist, so nothing is left half-stored.
            if existing.is_none()
                && app
                    .store
                    .get_integration(name)
                    .await
                    .ok()
                    .flatten()
                    .is_none()
            {
                let names: Vec<String> = writes.iter().map(|r| r.name.clone()).collect();
                if let Err(cleanup) = app.store.delete_resources(name, &names).await {
                    tracing::warn!(integration = name, error = %cleanup, "could not remove resources of an unsaved integration");
                }
            }
            Err(e.into())
        }
    }
}

pub async fn delete(
    app: &App,
    caller: &Caller,
    name: &str,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    caller.require_admin()?;
    let integration = load(app, name).await?;
    let flows: Vec<String> = app
        .store
        .list_flows()
        .await?
        .into_iter()
        .filter(|f| f.spec.integration == name)
        .map(|f| f.name)
        .collect();
    if !flows.is_empty() {
        return Err(ApiError::new(
            409,
            "integration_in_use",
            format!(
                "delete the flows that use integration {name:?} first: {}",
                flows.join(", ")
            ),
        )
        .with_details(json!({ "flows": flows })));
    }
    let open = open_grants(app, name).await?;
    if open > 0 {
        return Err(ApiError::new(
            409,
            "integration_in_use",
            format!(
                "integration {name:?} has {open} open request(s) or grant(s); revoke them or wait for them to end"
            ),
        ));
    }
    let names: Vec<String> = app
        .store
        .all_resources(name)
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect();
    let audit = AuditEvent::new(
        app.clock.now(),
        caller.actor(),
        "integration.deleted",
        AuditSubject::Integration(name.into()),
    )
    .with_integration(name);
    app.store
        .delete_integration(name, integration.version, &[audit])
        .await?;
    app.store.delete_resources(name, &names).await?;
    Ok(no_content())
}

/// Requests of this integration that are not finished, found through the due-time index.
async fn open_grants(app: &App, integration: &str) -> Result<usize, ApiError> {
    let mut count = 0;
    for status in OPEN_STATUSES {
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = app
                .store
                .due_requests(status.as_str(), None, 500, cursor.as_ref())
                .await?;
            count += page
                .items
                .iter()
                .filter(|r| r.integration == integration)
                .count();
            match page.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    Ok(count)
}

pub async fn discover_now(
    app: &App,
    caller: &Caller,
    name: &str,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    caller.require_admin()?;
    let integration = load(app, name).await?;
    let summary = crate::schedule::discover_one(app, integration)
        .await
        .map_err(|e| match e {
            DiscoveryError::Driver(d) => ApiError::from(d),
            DiscoveryError::Store(s) => ApiError::from(s),
        })?;
    let audit = AuditEvent::new(
        app.clock.now(),
        caller.actor(),
        "integration.discovered",
        AuditSubject::Integration(name.into()),
    )
    .with_integration(name)
    .with_details(json!({ "discovery": summary }));
    app.store.append_audit(&[audit]).await?;
    Ok(json_response(
        200,
        &json!({ "integration": name, "discovery": summary }),
    ))
}

pub async fn resources(
    app: &App,
    name: &str,
    req: &ApiRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    load(app, name).await?;
    let limit = req.limit(100, 1000)?;
    let cursor = req
        .query
        .get("cursor")
        .map(|c| Cursor::parse(c))
        .transpose()?;
    let page = app
        .store
        .list_resources(name, limit, cursor.as_ref())
        .await?;
    Ok(json_response(
        200,
        &json!({
            "resources": page.items,
            "next_cursor": page.next.map(|c| c.to_string()),
        }),
    ))
}
