//! The hourly re-discovery: every integration, a few at a time; one failing does not stop the
//! others, and each outcome is recorded on the integration and in the audit trail.

use futures::StreamExt;
use serde::Serialize;
use serde_json::json;
use shared::discovery::{DiscoveryError, DiscoverySummary, discover, generation};
use shared::model::{AuditEvent, AuditSubject, Integration};
use shared::targets::TargetError;

use crate::App;

const CONCURRENCY: usize = 4;

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub integration: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovery: Option<DiscoverySummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub integrations: Vec<Outcome>,
    pub failed: usize,
}

pub async fn rediscover_all(app: &App) -> Report {
    let all = match app.store.list_integrations().await {
        Ok(all) => all,
        Err(e) => {
            tracing::error!(error = %e, "cannot list integrations");
            return Report {
                integrations: vec![],
                failed: 1,
            };
        }
    };
    let outcomes: Vec<Outcome> = futures::stream::iter(all)
        .map(|i| async move {
            let name = i.name.clone();
            // Reported hourly for the operators; a failure here is not a failed discovery.
            crate::api_keys::emit_metrics(app, &i).await;
            match discover_one(app, i).await {
                Ok(summary) => Outcome {
                    integration: name,
                    ok: true,
                    discovery: Some(summary),
                    error: None,
                },
                Err(e) => {
                    tracing::warn!(integration = %name, error = %e, "discovery failed");
                    let audit = AuditEvent::new(
                        app.clock.now(),
                        "system:discover",
                        "integration.discovery_failed",
                        AuditSubject::Integration(name.clone()),
                    )
                    .failed()
                    .with_integration(&name)
                    .with_details(json!({ "error": e.to_string() }));
                    if let Err(a) = app.store.append_audit(&[audit]).await {
                        tracing::error!(error = %a, "cannot write audit event");
                    }
                    Outcome {
                        integration: name,
                        ok: false,
                        discovery: None,
                        error: Some(e.to_string()),
                    }
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let failed = outcomes.iter().filter(|o| !o.ok).count();
    tracing::info!(
        integrations = outcomes.len(),
        failed,
        "re-discovery finished"
    );
    Report {
        integrations: outcomes,
        failed,
    }
}

/// Discover one integration and record when it last succeeded or why it failed.
pub async fn discover_one(
    app: &App,
    integration: Integration,
) -> Result<DiscoverySummary, DiscoveryError> {
    let now = app.clock.now();
    let result = match app.targets.driver(&integration).await {
        Ok(driver) => {
            discover(
                &*app.store,
                driver.as_ref(),
                &integration.name,
                &generation(integration.created_at),
                now,
            )
            .await
        }
        Err(TargetError::Driver(d)) => Err(d.into()),
        Err(e @ TargetError::NotBound { .. }) => Err(DiscoveryError::Driver(
            shared::driver::DriverError::Refused {
                reason: e.to_string(),
            },
        )),
        Err(TargetError::Secret(s)) => Err(DiscoveryError::Driver(
            shared::driver::DriverError::BadConnectorSecret {
                reason: s.to_string(),
            },
        )),
    };
    let mut updated = integration.clone();
    match &result {
        Ok(_) => {
            updated.last_discovery_at = Some(now);
            updated.last_discovery_error = None;
        }
        Err(e) => updated.last_discovery_error = Some(e.to_string()),
    }
    // A concurrent admin update wins; the status is refreshed by the next run.
    if let Err(e) = app
        .store
        .save_integration(&updated, Some(integration.version), &[])
        .await
    {
        tracing::info!(integration = %integration.name, error = %e, "discovery status not recorded");
    }
    result
}
