//! Replaced connector credentials that a rotation could not retire (an old Elastic Cloud
//! organization-owner key still valid): retried with backoff until they are gone.

use shared::rotation::retry_retires;
use shared::store::StoreError;

use crate::{Report, Run};

/// Integrations are few and read with one query; only those with a due retire do any work.
pub async fn retire(run: &Run<'_>, report: &mut Report) -> Result<bool, StoreError> {
    let services = &run.app.services;
    let Some(integrations) = run.all_integrations().await? else {
        return Ok(false);
    };
    for integration in integrations {
        if run.out_of_time() {
            return Ok(false);
        }
        if integration.pending_retires.is_empty() {
            continue;
        }
        let work = retry_retires(
            services.secrets.as_ref(),
            services.targets.as_ref(),
            services.store.as_ref(),
            services.store.as_ref(),
            &integration,
            "system:cleanup",
            services.clock.now(),
        );
        match run.bounded(work).await {
            Some(Ok(r)) => {
                report.connector_keys_retired += r.retired;
                report.connector_retires_failing += r.failed;
            }
            Some(Err(e)) => {
                tracing::warn!(integration = %integration.name, error = %e, "cannot record a connector retire");
                report.errors += 1;
            }
            None => return Ok(false),
        }
    }
    Ok(true)
}
