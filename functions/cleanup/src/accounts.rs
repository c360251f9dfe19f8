//! Periodic user cleanup: accounts idle for `user_cleanup_days` after their last grant ended
//! are deleted on the target, with their credential secret and their state.

use serde_json::json;
use shared::model::{AuditEvent, AuditSubject, PrincipalState};
use shared::store::{Cursor, StoreError};

use crate::{Report, Run};

async fn delete_one(run: &Run<'_>, p: PrincipalState) -> Result<bool, String> {
    let integration = match run
        .app
        .services
        .store
        .get_integration(&p.integration)
        .await
        .map_err(|e| e.to_string())?
    {
        Some(i) => i,
        None => return Ok(false),
    };
    let revoker = run.app.revoker();
    let grants = &revoker.grants;
    let locked = grants
        .lock_principal(
            &p.integration,
            &p.name,
            &p.owner_sub,
            // Unique per attempt: overlapping sweeps must not share a lease.
            &format!("cleanup-{}", uuid::Uuid::new_v4().simple()),
        )
        .await
        .map_err(|e| e.to_string())?;
    let now = run.app.services.clock.now();
    // Re-checked under the lease: a grant may have started since the index was read.
    if !locked.active_grants.is_empty() || locked.cleanup_due_at.is_none_or(|due| due > now) {
        grants
            .unlock_principal(locked, &[])
            .await
            .map_err(|e| e.to_string())?;
        return Ok(false);
    }
    let deleted = async {
        let driver = run.driver(&integration).await.map_err(|e| e.to_string())?;
        driver
            .delete_principal(&locked.name)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(arn) = &locked.credential_secret_arn {
            run.app
                .services
                .secrets
                .delete(arn, true)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok::<(), String>(())
    }
    .await;
    if let Err(e) = deleted {
        grants
            .unlock_principal(locked, &[])
            .await
            .map_err(|x| x.to_string())?;
        return Err(e);
    }
    let audit = AuditEvent::new(
        now,
        "system:cleanup",
        "account.deleted",
        AuditSubject::Principal(format!("{}/{}", p.integration, p.name)),
    )
    .with_integration(&p.integration)
    .with_details(
        json!({ "account": locked.name, "last_grant_ended_at": locked.last_grant_ended_at }),
    );
    run.app
        .services
        .store
        .delete_principal(&locked.integration, &locked.name, locked.version, &[audit])
        .await
        .map_err(|e| e.to_string())?;
    Ok(true)
}

pub async fn delete_idle(run: &Run<'_>, report: &mut Report) -> Result<bool, StoreError> {
    let mut cursor: Option<Cursor> = None;
    loop {
        if run.out_of_time() {
            return Ok(false);
        }
        let read = run.app.services.store.due_principals(
            run.app.services.clock.now(),
            50,
            cursor.as_ref(),
        );
        let Some(page) = run.listing(read).await? else {
            return Ok(false);
        };
        for chunk in page.items.chunks(run.app.concurrency.max(1)) {
            if run.out_of_time() {
                return Ok(false);
            }
            let work = futures::future::join_all(chunk.iter().cloned().map(|p| delete_one(run, p)));
            let Some(results) = run.bounded(work).await else {
                return Ok(false);
            };
            for r in results {
                match r {
                    Ok(true) => report.accounts_deleted += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "idle account not deleted; retried next run");
                        report.errors += 1;
                    }
                }
            }
        }
        match page.next {
            Some(c) => cursor = Some(c),
            None => return Ok(true),
        }
    }
}
