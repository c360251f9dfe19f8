//! `/flows` routes.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use serde_json::json;
use shared::api::{ApiError, ApiRequest, Caller, json_response, no_content};
use shared::model::{
    AccessFlow, AccessFlowSpec, AuditEvent, AuditSubject, BundleItem, Integration, IntegrationKind,
    MAX_BUNDLE_ITEMS,
};
use shared::policy::unusable_roles;
use shared::validation::{ValidationErrors, check_name};

use crate::actor::Actor;
use crate::{App, views};

fn checked_name(name: &str) -> Result<(), ApiError> {
    let mut e = ValidationErrors::default();
    check_name(&mut e, "name", name);
    e.into_result().map_err(ApiError::from)
}

/// Admins see every flow in full; anyone else only the flows they may request through.
pub async fn list(app: &App, caller: &Caller) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let flows = app.store.list_flows().await?;
    let shown: Vec<_> = if caller.is_admin {
        flows.iter().map(views::flow).collect()
    } else {
        flows
            .iter()
            .filter(|f| may_use(caller, f))
            .map(views::flow_for_requester)
            .collect()
    };
    Ok(json_response(200, &json!({ "flows": shown })))
}

pub async fn get(
    app: &App,
    caller: &Caller,
    name: &str,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    checked_name(name)?;
    let f = app
        .store
        .get_flow(name)
        .await?
        .filter(|f| caller.is_admin || may_use(caller, f))
        .ok_or_else(|| ApiError::not_found("flow", name))?;
    Ok(json_response(
        200,
        &if caller.is_admin {
            views::flow(&f)
        } else {
            views::flow_for_requester(&f)
        },
    ))
}

/// Whether the caller is one of the flow's requesters.
pub fn may_use(caller: &Caller, f: &AccessFlow) -> bool {
    caller.identity.matches_any(&f.spec.requesters)
}

/// `PUT /flows/{name}`: create or update (see [`save`]).
pub async fn put(
    app: &App,
    caller: &Caller,
    name: &str,
    req: &ApiRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    caller.require_admin()?;
    let spec: AccessFlowSpec = req.json()?;
    let (stored, created) = save(app, &Actor::Api(caller), name, spec).await?;
    Ok(json_response(
        if created { 201 } else { 200 },
        &views::flow(&stored),
    ))
}

/// Create or update a flow, for the API and for custom resources alike: the stored flow, and
/// whether it is new.
pub(crate) async fn save(
    app: &App,
    actor: &Actor<'_>,
    name: &str,
    spec: AccessFlowSpec,
) -> Result<(AccessFlow, bool), ApiError> {
    actor.require_admin()?;
    match &spec.bundle {
        Some(items) => check_bundle(app, name, &spec, items).await?,
        None => {
            // Checked before the lookup: DynamoDB refuses an empty key value (found by API
            // fuzzing).
            let mut e = ValidationErrors::default();
            check_name(&mut e, "name", name);
            check_name(&mut e, "integration", &spec.integration);
            e.into_result().map_err(ApiError::from)?;
            let integration = app.store.get_integration(&spec.integration).await?;
            spec.validate(name, integration.as_ref())?;
            if let Some(i) = &integration {
                refuse_unusable_roles(app, &spec, i).await?;
            }
        }
    }
    let existing = app.store.get_flow(name).await?;
    if let Some(old) = &existing {
        actor.require_owner(old.managed_by.as_deref(), "flow", name)?;
    }
    let now = app.clock.now();
    let flow = AccessFlow {
        name: name.to_string(),
        spec,
        version: existing.as_ref().map_or(0, |f| f.version),
        created_at: existing.as_ref().map_or(now, |f| f.created_at),
        updated_at: now,
        managed_by: match &existing {
            Some(f) => f.managed_by.clone(),
            None => actor.owner(),
        },
    };
    let action = if existing.is_some() {
        "flow.updated"
    } else {
        "flow.created"
    };
    let audit = AuditEvent::new(now, actor.name(), action, AuditSubject::Flow(name.into()))
        .with_integration(&flow.spec.integration)
        .with_details(serde_json::to_value(&flow.spec).unwrap_or_default());
    let stored = app
        .store
        .save_flow(&flow, existing.as_ref().map(|f| f.version), &[audit])
        .await?;
    Ok((stored, existing.is_none()))
}

/// A bundle flow: each item checked as a single flow's integration, patterns and permission.
async fn check_bundle(
    app: &App,
    name: &str,
    spec: &AccessFlowSpec,
    items: &[BundleItem],
) -> Result<(), ApiError> {
    let mut e = ValidationErrors::default();
    check_name(&mut e, "name", name);
    for (n, item) in items.iter().enumerate() {
        check_name(
            &mut e,
            &format!("bundle[{n}].integration"),
            &item.integration,
        );
    }
    // Bounded before any lookup: a bundle names at most MAX_BUNDLE_ITEMS integrations.
    if items.len() > MAX_BUNDLE_ITEMS {
        spec.validate_bundle(name, &[])?;
    }
    e.into_result().map_err(ApiError::from)?;
    let mut integrations = Vec::with_capacity(items.len());
    for item in items {
        integrations.push(app.store.get_integration(&item.integration).await?);
    }
    spec.validate_bundle(name, &integrations)?;
    for (item, i) in items.iter().zip(&integrations) {
        let Some(i) = i else { continue };
        // The item judged as a single flow over its own patterns and permission.
        let mut single = spec.clone();
        single.bundle = None;
        single.integration = item.integration.clone();
        single.resources = item.resources.clone();
        single.permissions = vec![item.permission.clone()];
        refuse_unusable_roles(app, &single, i).await?;
    }
    Ok(())
}

/// An Elastic Cloud role the flow's patterns can never be used with (a deployment role over
/// patterns that match only the organization, say) is refused when the flow is saved.
async fn refuse_unusable_roles(
    app: &App,
    spec: &AccessFlowSpec,
    integration: &Integration,
) -> Result<(), ApiError> {
    if integration.kind() != IntegrationKind::ElasticCloud {
        return Ok(());
    }
    let known = app.store.all_resources(&integration.name).await?;
    let unusable = unusable_roles(spec, integration, &known);
    if unusable.is_empty() {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "permission_scope_mismatch",
        format!(
            "no resource this flow offers is of the kind {} applies to (deployment roles need \
             deployments, project roles serverless projects, organization roles the \
             organization)",
            unusable.join(", ")
        ),
    )
    .with_details(json!({ "permissions": unusable })))
}

/// `DELETE /flows/{name}` (see [`remove`]).
pub async fn delete(
    app: &App,
    caller: &Caller,
    name: &str,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    caller.require_admin()?;
    remove(app, &Actor::Api(caller), name).await?;
    Ok(no_content())
}

/// Delete a flow, for the API and for custom resources alike (404 when there is none of that
/// name).
pub(crate) async fn remove(app: &App, actor: &Actor<'_>, name: &str) -> Result<(), ApiError> {
    actor.require_admin()?;
    checked_name(name)?;
    let f = app
        .store
        .get_flow(name)
        .await?
        .ok_or_else(|| ApiError::not_found("flow", name))?;
    actor.require_owner(f.managed_by.as_deref(), "flow", name)?;
    let audit = AuditEvent::new(
        app.clock.now(),
        actor.name(),
        "flow.deleted",
        AuditSubject::Flow(name.into()),
    )
    .with_integration(&f.spec.integration);
    app.store.delete_flow(name, f.version, &[audit]).await?;
    Ok(())
}
