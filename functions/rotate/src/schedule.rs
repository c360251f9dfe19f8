//! The daily requester rotation: every Elasticsearch integration with
//! `credential_rotation_days`, its principals paged from the state store (no scan), the due
//! and inactive ones rotated a few at a time. One failure does not stop the others.

use futures::StreamExt;
use serde::Serialize;
use shared::model::{Integration, PrincipalState};
use shared::requester_rotation::{rotate_principal, rotates_requesters, rotation_due};
use shared::store::Cursor;

use crate::App;

const CONCURRENCY: usize = 4;
const PAGE: i32 = 100;

#[derive(Debug, Serialize)]
pub struct PrincipalFailure {
    pub principal: String,
    pub code: &'static str,
    pub error: String,
}

#[derive(Debug, Default, Serialize)]
pub struct IntegrationReport {
    pub integration: String,
    /// Principals looked at.
    pub checked: usize,
    pub rotated: usize,
    /// Due, but in use: rotated at the start of their next grant.
    pub deferred_active: usize,
    /// Due, but with nothing to rotate (no credential secret).
    pub skipped: usize,
    pub failed: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<PrincipalFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub integrations: Vec<IntegrationReport>,
    pub rotated: usize,
    pub failed: usize,
}

pub async fn rotate_requesters(app: &App) -> Report {
    let mut report = Report::default();
    let all = match app.store.list_integrations().await {
        Ok(all) => all,
        Err(e) => {
            tracing::error!(error = %e, "cannot list integrations");
            report.failed = 1;
            return report;
        }
    };
    for integration in all.iter().filter(|i| rotates_requesters(i)) {
        let r = rotate_integration(app, integration).await;
        report.rotated += r.rotated;
        report.failed += r.failed + usize::from(r.error.is_some());
        report.integrations.push(r);
    }
    tracing::info!(
        integrations = report.integrations.len(),
        rotated = report.rotated,
        failed = report.failed,
        "requester rotation finished"
    );
    report
}

async fn rotate_integration(app: &App, integration: &Integration) -> IntegrationReport {
    let mut report = IntegrationReport {
        integration: integration.name.clone(),
        ..Default::default()
    };
    let now = app.clock.now();
    let mut driver = None;
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = match app
            .store
            .principals_of(&integration.name, PAGE, cursor.as_ref())
            .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(integration = %integration.name, error = %e, "cannot list principals");
                report.error = Some(e.to_string());
                return report;
            }
        };
        report.checked += page.items.len();
        let mut due: Vec<PrincipalState> = Vec::new();
        for p in page.items {
            if !rotation_due(&p, integration, now) {
                continue;
            }
            if !p.active_grants.is_empty() {
                report.deferred_active += 1;
            } else if p.credential_secret_arn.is_none() {
                report.skipped += 1;
            } else {
                due.push(p);
            }
        }
        if !due.is_empty() {
            // The connector driver is built once, and only if there is work.
            if driver.is_none() {
                match app.targets.driver(integration).await {
                    Ok(d) => driver = Some(d),
                    Err(e) => {
                        tracing::warn!(integration = %integration.name, error = %e, "cannot reach the target");
                        report.error = Some(e.to_string());
                        return report;
                    }
                }
            }
            let Some(d) = driver.as_deref() else {
                return report;
            };
            let results: Vec<_> = futures::stream::iter(due)
                .map(|p| async move {
                    let r = rotate_principal(
                        app.store.as_ref(),
                        app.secrets.as_ref(),
                        d,
                        integration,
                        &p,
                        now,
                    )
                    .await;
                    (p.name, r)
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for (name, r) in results {
                match r {
                    Ok(_) => report.rotated += 1,
                    Err(e) if e.is_refusal() => report.deferred_active += 1,
                    Err(e) => {
                        report.failed += 1;
                        report.failures.push(PrincipalFailure {
                            principal: name,
                            code: e.code(),
                            error: e.to_string(),
                        });
                    }
                }
            }
        }
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    report
}
