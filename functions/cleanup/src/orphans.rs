//! Orphans: users, roles and API keys on an Elasticsearch cluster whose metadata marks them as
//! made by elastic-jit for this integration, but which no record accounts for. Anything not so
//! marked is never touched. (Elastic Cloud objects carry no marker, so they are not swept.)

use serde_json::json;
use shared::driver::{ManagedObject, RevokePlan};
use shared::model::{
    AuditEvent, AuditSubject, Integration, IntegrationKind, RequestStatus, TargetObject,
};
use shared::store::StoreError;

use crate::{Report, Run};

/// Is there a live record for this object?
async fn accounted_for(
    run: &Run<'_>,
    integration: &Integration,
    m: &ManagedObject,
) -> Result<bool, StoreError> {
    match (&m.object, &m.grant_id) {
        (TargetObject::EsUser { username }, _) => Ok(run
            .app
            .services
            .store
            .get_principal(&integration.name, username)
            .await?
            .is_some()),
        (_, Some(grant)) => Ok(run
            .app
            .services
            .store
            .get_request(grant)
            .await?
            .is_some_and(|r| {
                matches!(
                    r.status,
                    RequestStatus::Pending
                        | RequestStatus::Approved
                        | RequestStatus::Active
                        | RequestStatus::RevokeFailed
                )
            })),
        (_, None) => Ok(false),
    }
}

pub async fn remove(run: &Run<'_>, report: &mut Report) -> Result<bool, StoreError> {
    for integration in run.app.services.store.list_integrations().await? {
        if integration.kind() != IntegrationKind::Elasticsearch {
            continue;
        }
        if run.out_of_time() {
            return Ok(false);
        }
        let driver = match run.driver(&integration).await {
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
        let managed = match listed {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(integration = %integration.name, error = %e, "orphan sweep skipped");
                report.errors += 1;
                continue;
            }
        };
        for m in managed
            .into_iter()
            .filter(|m| m.integration.as_deref() == Some(integration.name.as_str()))
        {
            if run.out_of_time() {
                return Ok(false);
            }
            if accounted_for(run, &integration, &m).await? {
                continue;
            }
            let removal = async {
                match &m.object {
                    TargetObject::EsUser { username } => driver.delete_principal(username).await,
                    other => {
                        driver
                            .revoke(&RevokePlan {
                                grant_id: m.grant_id.clone().unwrap_or_default(),
                                objects: vec![other.clone()],
                                principal: None,
                            })
                            .await
                    }
                }
            };
            let Some(removed) = run.bounded(removal).await else {
                return Ok(false);
            };
            match removed {
                Ok(()) => {
                    report.orphans_removed += 1;
                    let audit = AuditEvent::new(
                        run.app.services.clock.now(),
                        "system:cleanup",
                        "orphan.removed",
                        AuditSubject::Integration(integration.name.clone()),
                    )
                    .with_integration(&integration.name)
                    .with_details(json!({ "object": m.object, "grant_id": m.grant_id }));
                    run.app.services.store.append_audit(&[audit]).await?;
                }
                Err(e) => {
                    tracing::warn!(integration = %integration.name, error = %e, "orphan not removed; retried next run");
                    report.errors += 1;
                }
            }
        }
    }
    Ok(true)
}
