//! `/integrations` routes.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use std::collections::BTreeMap;

use serde_json::{Value, json};
use shared::api::{ApiError, ApiRequest, Caller, json_response, no_content};
use shared::discovery::{DiscoveryError, DiscoverySummary, Snapshot, generation, store_snapshot};
use shared::model::{
    AccessFlow, AccessRequest, AuditEvent, AuditSubject, Integration, IntegrationSpec,
    RequestStatus, Resource, check_secret_binding,
};
use shared::policy::offers;
use shared::store::Cursor;
use shared::validation::{ValidationErrors, check_name};

use crate::actor::Actor;
use crate::{App, views};

/// Statuses in which a grant still has (or may get) access on the target.
pub const OPEN_STATUSES: [RequestStatus; 5] = [
    RequestStatus::Pending,
    RequestStatus::Scheduled,
    RequestStatus::Approved,
    RequestStatus::Active,
    RequestStatus::RevokeFailed,
];

fn checked_name(name: &str) -> Result<(), ApiError> {
    let mut e = ValidationErrors::default();
    check_name(&mut e, "name", name);
    e.into_result().map_err(ApiError::from)
}

pub(crate) async fn load(app: &App, name: &str) -> Result<Integration, ApiError> {
    checked_name(name)?;
    app.store
        .get_integration(name)
        .await?
        .ok_or_else(|| ApiError::not_found("integration", name))
}

/// Admins see every integration in full; anyone else only the integrations their flows offer,
/// in the requester's view.
pub async fn list(app: &App, caller: &Caller) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let all = app.store.list_integrations().await?;
    if caller.is_admin {
        return Ok(json_response(
            200,
            &json!({ "integrations": all.iter().map(views::integration).collect::<Vec<_>>() }),
        ));
    }
    let flows = app.store.list_flows().await?;
    let shown: Vec<Value> = all
        .iter()
        .filter_map(|i| {
            let mine = usable_flows(caller, &flows, &i.name);
            (!mine.is_empty()).then(|| views::integration_for_requester(i, &mine))
        })
        .collect();
    Ok(json_response(200, &json!({ "integrations": shown })))
}

pub async fn get(
    app: &App,
    caller: &Caller,
    name: &str,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let i = load(app, name).await?;
    if caller.is_admin {
        return Ok(json_response(200, &views::integration_for_admin(&i)));
    }
    let flows = app.store.list_flows().await?;
    let mine = usable_flows(caller, &flows, name);
    if mine.is_empty() {
        // Not offered to this caller: as if it did not exist.
        return Err(ApiError::not_found("integration", name));
    }
    Ok(json_response(
        200,
        &views::integration_for_requester(&i, &mine),
    ))
}

/// The flows of `integration` the caller may request through.
fn usable_flows<'a>(
    caller: &Caller,
    flows: &'a [AccessFlow],
    integration: &str,
) -> Vec<&'a AccessFlow> {
    flows
        .iter()
        .filter(|f| f.spec.integration == integration && crate::flows::may_use(caller, f))
        .collect()
}

/// `PUT /integrations/{name}`: register or update (see [`save`]).
pub async fn put(
    app: &App,
    caller: &Caller,
    name: &str,
    req: &ApiRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    caller.require_admin()?;
    let spec: IntegrationSpec = req.json()?;
    let saved = save(app, &Actor::Api(caller), name, spec).await?;
    Ok(json_response(
        if saved.created { 201 } else { 200 },
        &views::integration_saved(&saved.integration, &saved.summary),
    ))
}

/// An integration as [`save`] stored it.
pub(crate) struct Saved {
    pub integration: Integration,
    pub summary: DiscoverySummary,
    /// No integration of that name existed before.
    pub created: bool,
}

/// Register or update, for the API and for custom resources alike: validate, read the
/// connector secret, check the connector's privileges, discover — and only then store anything.
pub(crate) async fn save(
    app: &App,
    actor: &Actor<'_>,
    name: &str,
    spec: IntegrationSpec,
) -> Result<Saved, ApiError> {
    actor.require_admin()?;
    spec.validate(name)?;
    // Before anything is read or sent: the secret must be this integration's own.
    let mut bound = ValidationErrors::default();
    check_secret_binding(
        &mut bound,
        &spec.secret_arn,
        name,
        app.targets.connector_prefix(),
    );
    bound.into_result()?;
    let existing = app.store.get_integration(name).await?;
    if let Some(old) = &existing {
        actor.require_owner(old.managed_by.as_deref(), "integration", name)?;
    }
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
    if let Some(old) = &existing {
        refuse_live_change(app, old, &spec).await?;
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
        managed_by: match &existing {
            Some(e) => e.managed_by.clone(),
            None => actor.owner(),
        },
    };
    let driver = app.targets.driver(&integration).await?;
    driver.check_prerequisites().await?;
    let found = driver.discover().await?;
    let Snapshot { summary, written } = store_snapshot(
        &*app.store,
        name,
        &generation(integration.created_at),
        &found,
        now,
    )
    .await?;

    let action = if existing.is_some() {
        "integration.updated"
    } else {
        "integration.registered"
    };
    let audit = AuditEvent::new(
        now,
        actor.name(),
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
            Ok(Saved {
                integration,
                summary,
                created: existing.is_none(),
            })
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
                if let Err(cleanup) = app.store.delete_resources(name, &written).await {
                    tracing::warn!(integration = name, error = %cleanup, "could not remove resources of an unsaved integration");
                }
                if let Err(cleanup) = app.store.forget_snapshot(name).await {
                    tracing::warn!(integration = name, error = %cleanup, "could not forget the discovery hash of an unsaved integration");
                }
            }
            Err(e.into())
        }
    }
}

/// `DELETE /integrations/{name}` (see [`remove`]).
pub async fn delete(
    app: &App,
    caller: &Caller,
    name: &str,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    caller.require_admin()?;
    remove(app, &Actor::Api(caller), name).await?;
    Ok(no_content())
}

/// Delete an integration no flow uses and nothing live depends on, for the API and for
/// custom resources alike (404 when there is none of that name).
pub(crate) async fn remove(app: &App, actor: &Actor<'_>, name: &str) -> Result<(), ApiError> {
    actor.require_admin()?;
    let integration = load(app, name).await?;
    actor.require_owner(integration.managed_by.as_deref(), "integration", name)?;
    let flows: Vec<String> = app
        .store
        .list_flows()
        .await?
        .into_iter()
        .filter(|f| f.spec.integrations().contains(&name))
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
    let live = live_use(app, name, &OPEN_STATUSES).await?;
    if !live.is_empty() {
        return Err(live.refusal(name, "deleting it"));
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
        actor.name(),
        "integration.deleted",
        AuditSubject::Integration(name.into()),
    )
    .with_integration(name);
    app.store
        .delete_integration(name, integration.version, &[audit])
        .await?;
    app.store.delete_resources(name, &names).await?;
    app.store.forget_snapshot(name).await?;
    Ok(())
}

/// Statuses in which a grant may hold something on the target, or will at its start (approved
/// for this target: moving the integration would provision it on another).
const LIVE_STATUSES: [RequestStatus; 4] = [
    RequestStatus::Scheduled,
    RequestStatus::Approved,
    RequestStatus::Active,
    RequestStatus::RevokeFailed,
];

/// How many ids and names an `integration_in_use` error lists.
const SHOWN: usize = 5;

/// What an integration still has on its target: grants in `statuses` and accounts (Elasticsearch
/// users, Cloud members) that cleanup has not removed yet.
#[derive(Debug, Default)]
struct LiveUse {
    grants: BTreeMap<&'static str, Vec<String>>,
    accounts: Vec<String>,
    more_accounts: bool,
}

impl LiveUse {
    fn is_empty(&self) -> bool {
        self.grants.is_empty() && self.accounts.is_empty()
    }

    fn refusal(&self, name: &str, doing: &str) -> ApiError {
        let mut parts: Vec<String> = self
            .grants
            .iter()
            .map(|(status, ids)| {
                let shown: Vec<&str> = ids.iter().take(SHOWN).map(String::as_str).collect();
                format!("{} {status} request(s) ({})", ids.len(), shown.join(", "))
            })
            .collect();
        if !self.accounts.is_empty() {
            let shown: Vec<&str> = self
                .accounts
                .iter()
                .take(SHOWN)
                .map(String::as_str)
                .collect();
            parts.push(format!(
                "{}{} account(s) not yet cleaned up ({})",
                self.accounts.len(),
                if self.more_accounts { "+" } else { "" },
                shown.join(", ")
            ));
        }
        let grants: BTreeMap<&str, Value> = self
            .grants
            .iter()
            .map(|(s, ids)| {
                (
                    *s,
                    json!({"count": ids.len(), "ids": ids.iter().take(SHOWN).collect::<Vec<_>>()}),
                )
            })
            .collect();
        ApiError::new(
            409,
            "integration_in_use",
            format!(
                "integration {name:?} is in use: {}; {doing} would leave them behind on the \
                 target. Revoke the grants and let cleanup remove the accounts first",
                parts.join("; ")
            ),
        )
        .with_details(json!({
            "grants": grants,
            "accounts": {
                "count": self.accounts.len(),
                "more": self.more_accounts,
                "names": self.accounts.iter().take(SHOWN).collect::<Vec<_>>(),
            },
        }))
    }
}

/// The ids of this integration's requests in `statuses` that `keep` keeps, by status (through
/// the due-time index).
async fn live_requests(
    app: &App,
    integration: &str,
    statuses: &[RequestStatus],
    keep: impl Fn(&AccessRequest) -> bool,
) -> Result<BTreeMap<&'static str, Vec<String>>, ApiError> {
    let mut grants = BTreeMap::new();
    for status in statuses {
        let mut cursor: Option<Cursor> = None;
        let mut ids = Vec::new();
        loop {
            let page = app
                .store
                .due_requests(status.as_str(), None, 500, cursor.as_ref())
                .await?;
            ids.extend(
                page.items
                    .into_iter()
                    .filter(|r| r.integration == integration && keep(r))
                    .map(|r| r.id),
            );
            match page.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        if !ids.is_empty() {
            grants.insert(status.as_str(), ids);
        }
    }
    Ok(grants)
}

/// Requests of this integration in `statuses` (through the due-time index) and its accounts.
async fn live_use(
    app: &App,
    integration: &str,
    statuses: &[RequestStatus],
) -> Result<LiveUse, ApiError> {
    let mut live = LiveUse {
        grants: live_requests(app, integration, statuses, |_| true).await?,
        ..LiveUse::default()
    };
    let accounts = app.store.principals_of(integration, 100, None).await?;
    live.accounts = accounts.items.into_iter().map(|p| p.name).collect();
    live.more_accounts = accounts.next.is_some();
    Ok(live)
}

/// The settings that say which target and which accounts an integration's grants live on.
/// The connector secret is not one of them: it is how elastic-jit logs in, and a new one is
/// checked against the same target (prerequisites) before it is stored, so grants made with
/// the old one are still found and revoked with the new one.
fn target_changes(old: &IntegrationSpec, new: &IntegrationSpec) -> Vec<&'static str> {
    let url = |s: &IntegrationSpec| {
        s.url
            .as_deref()
            .map(|u| u.trim_end_matches('/').to_string())
    };
    let mut changed = Vec::new();
    if old.kind != new.kind {
        changed.push("kind");
    }
    if url(old) != url(new) {
        changed.push("url");
    }
    if old.organization_id != new.organization_id {
        changed.push("organization_id");
    }
    if old.user_prefix != new.user_prefix {
        changed.push("user_prefix");
    }
    // Native grants live on the cluster, proxy grants only in the records: switching would
    // leave one kind unrevoked.
    if old.authorization != new.authorization {
        changed.push("authorization");
    }
    // Where the connector's credentials are sent, as `url` is.
    if old.kibana_url != new.kibana_url {
        changed.push("kibana_url");
    }
    changed
}

/// The custom permissions `new` defines otherwise than `old` (or no longer defines): a grant
/// approved under one must be provisioned as its approvers saw it.
fn permission_changes(old: &IntegrationSpec, new: &IntegrationSpec) -> Vec<String> {
    old.custom_permissions
        .iter()
        .filter(|p| !new.custom_permissions.contains(p))
        .map(|p| p.name.clone())
        .collect()
}

/// Changing where grants live while any grant is live or any account is not cleaned up would
/// orphan them (revoke would act on the new target and report success): refuse with 409.
async fn refuse_live_change(
    app: &App,
    old: &Integration,
    new: &IntegrationSpec,
) -> Result<(), ApiError> {
    let permissions = permission_changes(&old.spec, new);
    if !permissions.is_empty() {
        let using = live_requests(app, &old.name, &LIVE_STATUSES, |r| {
            permissions.contains(&r.permission)
        })
        .await?;
        if !using.is_empty() {
            let ids: Vec<&str> = using.values().flatten().map(String::as_str).collect();
            return Err(ApiError::new(
                409,
                "permission_in_use",
                format!(
                    "custom permission(s) {} of integration {:?} are used by {} scheduled,                      approved or active grant(s) ({}): they are provisioned as approved, so                      define a new permission instead, or change it once they have ended",
                    permissions.join(", "),
                    old.name,
                    ids.len(),
                    ids.iter().take(SHOWN).copied().collect::<Vec<_>>().join(", ")
                ),
            )
            .with_details(json!({
                "permissions": permissions,
                "grants": ids.iter().take(SHOWN).collect::<Vec<_>>(),
            })));
        }
    }
    let changed = target_changes(&old.spec, new);
    if changed.is_empty() {
        return Ok(());
    }
    let live = live_use(app, &old.name, &LIVE_STATUSES).await?;
    if live.is_empty() {
        return Ok(());
    }
    let mut err = live.refusal(&old.name, &format!("changing {}", changed.join(", ")));
    if let Some(d) = err.details.as_mut() {
        d["changed"] = json!(changed);
    }
    Err(err)
}

/// `GET /integrations/{name}/kibana-spaces` (admins): the Kibana spaces the connector can see,
/// read now from the integration's `kibana_url`, to name in custom permissions.
pub async fn kibana_spaces(
    app: &App,
    caller: &Caller,
    name: &str,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    caller.require_admin()?;
    let integration = load(app, name).await?;
    if integration.spec.kibana_url.is_none() {
        return Err(ApiError::new(
            409,
            "no_kibana_url",
            format!(
                "integration {name:?} names no kibana_url: set one to list its spaces, or type \
                 the space ids"
            ),
        ));
    }
    let driver = app.targets.driver(&integration).await?;
    let spaces = driver.kibana_spaces().await?;
    Ok(json_response(
        200,
        &crate::views::kibana_spaces(name, &spaces),
    ))
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

/// Admins page through every discovered resource; anyone else sees, page by page, only the
/// resources the flows they may use offer (an alias only when every index behind it is).
pub async fn resources(
    app: &App,
    caller: &Caller,
    name: &str,
    req: &ApiRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    load(app, name).await?;
    let mine: Vec<AccessFlow> = if caller.is_admin {
        vec![]
    } else {
        let flows = app.store.list_flows().await?;
        let mine: Vec<AccessFlow> = usable_flows(caller, &flows, name)
            .into_iter()
            .cloned()
            .collect();
        if mine.is_empty() {
            return Err(ApiError::not_found("integration", name));
        }
        mine
    };
    let limit = req.limit(100, 1000)?;
    let cursor = req.cursor()?;
    let page = app
        .store
        .list_resources(name, limit, cursor.as_ref())
        .await?;
    let shown: Vec<Value> = if caller.is_admin {
        page.items.iter().map(views::resource).collect()
    } else {
        // Whether an alias is offered depends on what it points to, which may be on any page.
        let known = if page.items.iter().any(Resource::is_alias) {
            app.store.all_resources(name).await?
        } else {
            vec![]
        };
        page.items
            .iter()
            .filter(|r| !r.is_gone() && mine.iter().any(|f| offers(f, r, &known)))
            .map(views::resource_for_requester)
            .collect()
    };
    Ok(json_response(
        200,
        &json!({
            "resources": shown,
            "next_cursor": page.next.map(|c| c.to_string()),
        }),
    ))
}
