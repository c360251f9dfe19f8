//! Orphans: what is live on an Elasticsearch cluster, marked in its metadata as made by
//! elastic-jit for this integration, judged against what the records say. Anything not so
//! marked is never touched. (Elastic Cloud objects carry no marker, so they are not swept.)
//!
//! - A role or API key stays only while its grant is live (approved and being provisioned,
//!   active, or waiting for a revoke retry); otherwise it is deleted or invalidated.
//! - An account without a principal record is deleted. An account with one must hold no role
//!   beyond the record's, and is enabled only while one of its grants is live: a provision
//!   killed after `PUT user` (e.g. during `api_key/grant`) leaves an enabled account holding a
//!   role no grant accounts for, and a record naming a grant that already ended is stale. Such
//!   an account is rewritten (stray roles off, disabled when idle) under its lease, and the
//!   record is corrected with it.
//!
//! The cluster is listed first and the records read after (principals, then requests in
//! lifecycle order), so an object seen on the cluster was made before its grant's record was
//! read, and a grant moving on between two reads is still seen in one of them. The records are
//! read once per integration, not once per object.

use std::collections::{HashMap, HashSet};

use serde_json::json;
use shared::driver::elasticsearch::grants::role_name;
use shared::driver::{Driver, ManagedAccount, ManagedObject, PrincipalAfterRevoke, RevokePlan};
use shared::model::{
    AuditEvent, AuditSubject, Identity, Integration, IntegrationKind, PrincipalState,
    RequestStatus, TargetObject,
};
use shared::store::{Cursor, StoreError};

use crate::{Report, Run};

const PAGE: i32 = 100;

/// Grant states whose target objects must stay, in the order they are read.
const LIVE: [RequestStatus; 3] = [
    RequestStatus::Approved,
    RequestStatus::Active,
    RequestStatus::RevokeFailed,
];

/// What the records say about one integration.
struct Records {
    live: HashSet<String>,
    principals: HashMap<String, PrincipalState>,
}

async fn read_records(run: &Run<'_>, integration: &str) -> Result<Records, StoreError> {
    let store = &run.app.services.store;
    let mut principals = HashMap::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = store
            .principals_of(integration, PAGE, cursor.as_ref())
            .await?;
        principals.extend(page.items.into_iter().map(|p| (p.name.clone(), p)));
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut live = HashSet::new();
    for status in LIVE {
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = store
                .due_requests(status.as_str(), None, PAGE, cursor.as_ref())
                .await?;
            live.extend(
                page.items
                    .into_iter()
                    .filter(|r| r.integration == integration)
                    .map(|r| r.id),
            );
            match page.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    Ok(Records { live, principals })
}

/// An account's target state as its record says it should be.
struct Wanted {
    /// Grants the record names that are no longer live.
    stale: Vec<String>,
    roles: Vec<String>,
    enabled: bool,
}

fn wanted(p: &PrincipalState, live: &HashSet<String>, prefix: &str) -> Wanted {
    let stale: Vec<String> = p
        .active_grants
        .iter()
        .filter(|g| !live.contains(*g))
        .cloned()
        .collect();
    let stale_roles: Vec<String> = stale.iter().map(|g| role_name(prefix, g)).collect();
    Wanted {
        roles: p
            .roles
            .iter()
            .filter(|r| !stale_roles.contains(r))
            .cloned()
            .collect(),
        enabled: p.active_grants.iter().any(|g| live.contains(g)),
        stale,
    }
}

/// What the sweep does with one listed object.
enum Verdict {
    Keep,
    /// Nothing accounts for it: delete (account) or remove (role, key).
    Remove,
    /// The account is known but holds more than its record allows.
    Restrict,
}

fn judge(
    m: &ManagedObject,
    records: &Records,
    prefix: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Verdict {
    match &m.object {
        TargetObject::EsUser { username } => {
            let Some(p) = records.principals.get(username) else {
                return Verdict::Remove;
            };
            // A provision, revoke or rotation holds the lease: judge it next run.
            if p.is_locked_by_other("", now) {
                return Verdict::Keep;
            }
            let Some(account) = &m.account else {
                return Verdict::Keep;
            };
            let w = wanted(p, &records.live, prefix);
            let stray = account.roles.iter().any(|r| !w.roles.contains(r));
            if stray || (account.enabled && !w.enabled) || !w.stale.is_empty() {
                Verdict::Restrict
            } else {
                Verdict::Keep
            }
        }
        _ => match &m.grant_id {
            Some(g) if records.live.contains(g) => Verdict::Keep,
            _ => Verdict::Remove,
        },
    }
}

/// Build an identity for the account's rewrite from its record and its live email (the
/// requester's full identity is not needed to keep the account's document as it is).
fn account_owner(owner_sub: &str, account: &ManagedAccount) -> Result<Identity, String> {
    serde_json::from_value(json!({"sub": owner_sub, "email": account.email}))
        .map_err(|e| format!("cannot describe the account's owner: {e}"))
}

/// Rewrite an account to what its record allows, under its lease, and correct the record.
async fn restrict(
    run: &Run<'_>,
    integration: &Integration,
    driver: &dyn Driver,
    seen: &PrincipalState,
    account: &ManagedAccount,
    live: &HashSet<String>,
) -> Result<serde_json::Value, String> {
    let revoker = run.app.revoker();
    let grants = &revoker.grants;
    let locked = grants
        .lock_principal(
            &integration.name,
            &seen.name,
            &seen.owner_sub,
            &format!("cleanup-orphans-{}", uuid::Uuid::new_v4().simple()),
        )
        .await
        .map_err(|e| e.to_string())?;
    // Only grants the record named when the requests were read can be judged stale; any added
    // since belong to a provision that finished in between and stay.
    let mut w = wanted(&locked, live, integration.user_prefix());
    w.stale.retain(|g| seen.active_grants.contains(g));
    let stale_roles: Vec<String> = w
        .stale
        .iter()
        .map(|g| role_name(integration.user_prefix(), g))
        .collect();
    let mut after = locked.clone();
    after.active_grants.retain(|g| !w.stale.contains(g));
    after.roles.retain(|r| !stale_roles.contains(r));
    let idle = after.active_grants.is_empty();
    let plan = RevokePlan {
        grant_id: String::new(),
        objects: vec![],
        principal: Some(PrincipalAfterRevoke {
            name: locked.name.clone(),
            integration: integration.name.clone(),
            owner: account_owner(&locked.owner_sub, account)?,
            roles_after: after.roles.clone(),
            disable: idle,
        }),
        key_names: vec![],
    };
    if let Err(e) = driver.revoke(&plan).await {
        grants
            .unlock_principal(locked, &[])
            .await
            .map_err(|x| x.to_string())?;
        return Err(e.to_string());
    }
    let now = run.app.services.clock.now();
    if idle {
        after.enabled = false;
        if !w.stale.is_empty() {
            after.last_grant_ended_at = Some(now);
            after.cleanup_due_at = integration
                .spec
                .user_cleanup_days
                .map(|d| now + chrono::Duration::days(i64::from(d)));
        }
    }
    let details = json!({
        "account": locked.name,
        "roles_before": account.roles,
        "roles_after": after.roles,
        "disabled": idle,
        "stale_grants": w.stale,
    });
    let audit = AuditEvent::new(
        now,
        "system:cleanup",
        "orphan.account_restricted",
        AuditSubject::Principal(format!("{}/{}", integration.name, locked.name)),
    )
    .with_integration(&integration.name)
    .with_details(details.clone());
    grants
        .unlock_principal(after, &[audit])
        .await
        .map_err(|e| e.to_string())?;
    Ok(details)
}

/// Remove what nothing accounts for: delete an account, delete a role or invalidate a key.
async fn remove_one(driver: &dyn Driver, m: &ManagedObject) -> Result<(), String> {
    let done = match &m.object {
        TargetObject::EsUser { username } => driver.delete_principal(username).await,
        other => {
            driver
                .revoke(&RevokePlan {
                    grant_id: m.grant_id.clone().unwrap_or_default(),
                    objects: vec![other.clone()],
                    principal: None,
                    key_names: vec![],
                })
                .await
        }
    };
    done.map_err(|e| e.to_string())
}

pub async fn remove(run: &Run<'_>, report: &mut Report) -> Result<bool, StoreError> {
    let Some(integrations) = run.all_integrations().await? else {
        return Ok(false);
    };
    for integration in integrations {
        if integration.kind() != IntegrationKind::Elasticsearch {
            continue;
        }
        if run.out_of_time() {
            return Ok(false);
        }
        let Some(driver) = run.bounded(run.driver(&integration)).await else {
            return Ok(false);
        };
        let driver = match driver {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(integration = %integration.name, error = %e, "orphan sweep skipped");
                report.errors += 1;
                continue;
            }
        };
        let Some(listed) = run.bounded(driver.list_managed()).await else {
            return Ok(false);
        };
        let managed: Vec<ManagedObject> = match listed {
            Ok(m) => m
                .into_iter()
                .filter(|m| m.integration.as_deref() == Some(integration.name.as_str()))
                .collect(),
            Err(e) => {
                tracing::warn!(integration = %integration.name, error = %e, "orphan sweep skipped");
                report.errors += 1;
                continue;
            }
        };
        if managed.is_empty() {
            continue;
        }
        let Some(records) = run.listing(read_records(run, &integration.name)).await? else {
            return Ok(false);
        };
        let now = run.app.services.clock.now();
        for m in managed {
            if run.out_of_time() {
                return Ok(false);
            }
            let verdict = judge(&m, &records, integration.user_prefix(), now);
            let work = async {
                match (&verdict, &m.object, &m.account) {
                    (Verdict::Keep, ..) => Ok(None),
                    (Verdict::Remove, ..) => remove_one(driver.as_ref(), &m).await.map(|()| {
                        Some((
                            "orphan.removed",
                            json!({ "object": m.object, "grant_id": m.grant_id }),
                        ))
                    }),
                    (Verdict::Restrict, TargetObject::EsUser { username }, Some(account)) => {
                        let Some(seen) = records.principals.get(username) else {
                            return Ok(None);
                        };
                        restrict(
                            run,
                            &integration,
                            driver.as_ref(),
                            seen,
                            account,
                            &records.live,
                        )
                        .await
                        .map(|_| None)
                    }
                    (Verdict::Restrict, ..) => Ok(None),
                }
            };
            let Some(done) = run.bounded(work).await else {
                return Ok(false);
            };
            match done {
                Ok(None) if matches!(verdict, Verdict::Restrict) => report.orphans_removed += 1,
                Ok(None) => {}
                Ok(Some((action, details))) => {
                    report.orphans_removed += 1;
                    let audit = AuditEvent::new(
                        run.app.services.clock.now(),
                        "system:cleanup",
                        action,
                        AuditSubject::Integration(integration.name.clone()),
                    )
                    .with_integration(&integration.name)
                    .with_details(details);
                    run.app.services.store.append_audit(&[audit]).await?;
                }
                Err(e) => {
                    tracing::warn!(integration = %integration.name, error = %e, "orphan not repaired; retried next run");
                    report.errors += 1;
                }
            }
        }
    }
    Ok(true)
}
