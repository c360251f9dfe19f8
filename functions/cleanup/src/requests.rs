//! Request phases: overdue grants, failed revocations, stale pending, missed scheduled starts
//! and stuck approved ones.

use chrono::Duration;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::json;
use shared::grants::grant_secret_name;
use shared::model::{AccessRequest, AuditEvent, AuditSubject, RequestStatus};
use shared::revocation::{Cause, Outcome, backoff};
use shared::store::{Cursor, StoreError};

use crate::{Report, Run};

const PAGE: i32 = 100;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Result1 {
    Done,
    /// A pending request's approvers grew (it escalated).
    Escalated,
    /// A scheduled request whose window passed without it starting, ended.
    Missed,
    Failed,
    Skipped,
    Error,
}

/// Work through the due items of `status`, a chunk at a time, until none are left (`true`) or
/// the deadline is near (`false`).
async fn sweep<'a, F, Fut>(
    run: &Run<'a>,
    status: RequestStatus,
    work: F,
) -> Result<(bool, Vec<Result1>), StoreError>
where
    F: Fn(AccessRequest) -> Fut,
    Fut: std::future::Future<Output = Result1>,
{
    sweep_ahead(run, status, Duration::zero(), work).await
}

/// [`sweep`], for the items due within `ahead` from now as well.
async fn sweep_ahead<'a, F, Fut>(
    run: &Run<'a>,
    status: RequestStatus,
    ahead: Duration,
    work: F,
) -> Result<(bool, Vec<Result1>), StoreError>
where
    F: Fn(AccessRequest) -> Fut,
    Fut: std::future::Future<Output = Result1>,
{
    let mut results = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        if run.out_of_time() {
            return Ok((false, results));
        }
        let now = run.app.services.clock.now();
        let read = run.app.services.store.due_requests(
            status.as_str(),
            Some(now + ahead),
            PAGE,
            cursor.as_ref(),
        );
        let Some(page) = run.listing(read).await? else {
            return Ok((false, results));
        };
        for chunk in page.items.chunks(run.app.concurrency.max(1)) {
            if run.out_of_time() {
                return Ok((false, results));
            }
            // Items finished before a cut still count: they were revoked (or failed) for real.
            let mut running: FuturesUnordered<Fut> = chunk.iter().cloned().map(&work).collect();
            let collect = async {
                while let Some(r) = running.next().await {
                    results.push(r);
                }
            };
            if run.bounded(collect).await.is_none() {
                return Ok((false, results));
            }
        }
        match page.next {
            Some(c) => cursor = Some(c),
            None => return Ok((true, results)),
        }
    }
}

fn count(results: &[Result1], which: Result1) -> usize {
    results.iter().filter(|r| **r == which).count()
}

async fn revoke(run: &Run<'_>, req: AccessRequest, cause: Cause) -> Result1 {
    let integration = match run.integration(&req.integration).await {
        Ok(Some(i)) => Some(i),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(grant_id = %req.id, error = %e, "cannot read the integration");
            return Result1::Error;
        }
    };
    let driver = match &integration {
        Some(i) => run.driver(i).await.ok(),
        None => None,
    };
    let revoker = run.app.revoker();
    let outcome = match integration {
        Some(i) => revoker.revoke_with(req, cause, Some(i), driver).await,
        None => revoker.revoke_request(req, cause, driver).await,
    };
    match outcome {
        Ok(Outcome::Done(_)) => Result1::Done,
        Ok(Outcome::Failed(_)) => Result1::Failed,
        Ok(Outcome::Unchanged(_)) => Result1::Skipped,
        Err(e) => {
            tracing::warn!(error = %e, "revocation could not be recorded");
            Result1::Error
        }
    }
}

/// The backstop for expiry schedules that were missing or did not fire.
pub async fn expire_active(run: &Run<'_>, report: &mut Report) -> Result<bool, StoreError> {
    let (done, results) = sweep(run, RequestStatus::Active, |r| {
        revoke(run, r, Cause::Expiry)
    })
    .await?;
    report.expired += count(&results, Result1::Done);
    report.still_failing += count(&results, Result1::Failed);
    report.errors += count(&results, Result1::Error);
    Ok(done)
}

/// How long before its end a requester is told their access ends soon.
pub const EXPIRY_WARNING: Duration = Duration::minutes(15);

/// Active grants ending within [`EXPIRY_WARNING`]: the request records that its requester is
/// to be told (once; the `notify` function sends the message when it reads the change from the
/// table's stream). A grant no longer than the warning itself is not warned: it was ending
/// soon from the start, and the message that it was granted said when.
pub async fn warn_expiring(run: &Run<'_>, report: &mut Report) -> Result<bool, StoreError> {
    let (done, results) =
        sweep_ahead(run, RequestStatus::Active, EXPIRY_WARNING, |r| warn(run, r)).await?;
    report.expiry_warnings += count(&results, Result1::Done);
    report.errors += count(&results, Result1::Error);
    Ok(done)
}

async fn warn(run: &Run<'_>, mut r: AccessRequest) -> Result1 {
    let services = &run.app.services;
    let now = services.clock.now();
    let (Some(starts), Some(ends)) = (r.starts_at, r.ends_at) else {
        return Result1::Skipped;
    };
    // Overdue grants are `expire_active`'s; warned ones are done.
    if r.expiry_warned_at.is_some() || ends <= now || ends - starts <= EXPIRY_WARNING {
        return Result1::Skipped;
    }
    let expected = r.version;
    r.expiry_warned_at = Some(now);
    let audit = AuditEvent::new(
        now,
        "system:cleanup",
        "grant.expiring_soon",
        AuditSubject::Request(r.id.clone()),
    )
    .with_integration(&r.integration)
    .with_details(json!({ "ends_at": ends }));
    // Not `updated_at`: that is when the grant last changed, and the warning changes nothing
    // about it.
    match services.store.update_request(&r, expected, &[audit]).await {
        Ok(_) => Result1::Done,
        // Revoked or changed meanwhile: the next run looks again.
        Err(StoreError::Conflict { .. }) => Result1::Skipped,
        Err(e) => {
            tracing::warn!(grant_id = %r.id, error = %e, "cannot record an expiry warning; retried next run");
            Result1::Error
        }
    }
}

/// `revoke_failed` grants whose next attempt time has come (exponential backoff).
pub async fn retry_failed(run: &Run<'_>, report: &mut Report) -> Result<bool, StoreError> {
    let (done, results) = sweep(run, RequestStatus::RevokeFailed, |r| {
        revoke(run, r, Cause::Retry)
    })
    .await?;
    report.retried += count(&results, Result1::Done);
    report.still_failing += count(&results, Result1::Failed);
    report.errors += count(&results, Result1::Error);
    Ok(done)
}

async fn finish(
    run: &Run<'_>,
    mut r: AccessRequest,
    to: RequestStatus,
    reason: &str,
    action: &str,
) -> Result1 {
    let now = run.app.services.clock.now();
    let expected = r.version;
    if r.transition(to, now).is_err() {
        return Result1::Skipped;
    }
    r.status_reason = Some(reason.to_string());
    let audit = AuditEvent::new(
        now,
        "system:cleanup",
        action,
        AuditSubject::Request(r.id.clone()),
    )
    .with_integration(&r.integration)
    .with_details(json!({ "reason": reason, "leftovers": r.created_objects }));
    match run
        .app
        .services
        .store
        .update_request(&r, expected, &[audit])
        .await
    {
        Ok(_) => Result1::Done,
        Err(StoreError::Conflict { .. }) => Result1::Skipped,
        Err(e) => {
            tracing::warn!(request_id = %r.id, error = %e, "cannot update request");
            Result1::Error
        }
    }
}

/// Pending requests whose approval window has passed (expired), or that waited longer than
/// their flow's escalation (the next approver tier joins them).
pub async fn expire_pending(run: &Run<'_>, report: &mut Report) -> Result<bool, StoreError> {
    let (done, results) = sweep(run, RequestStatus::Pending, |r| async move {
        if run.app.services.clock.now() < r.approval_expires_at {
            return escalate(run, r).await;
        }
        finish(
            run,
            r,
            RequestStatus::Expired,
            "the approval window elapsed",
            "request.expired",
        )
        .await
    })
    .await?;
    report.pending_expired += count(&results, Result1::Done);
    report.escalated += count(&results, Result1::Escalated);
    report.errors += count(&results, Result1::Error);
    Ok(done)
}

/// Add the escalation tier to the request's open steps, indexed for them in the same write,
/// with its audit event; the notify function tells them from the change.
async fn escalate(run: &Run<'_>, mut r: AccessRequest) -> Result1 {
    let now = run.app.services.clock.now();
    if r.escalation_due().is_none_or(|at| at > now) {
        return Result1::Skipped;
    }
    let expected = r.version;
    if !r.escalate(now) {
        return Result1::Skipped;
    }
    let to = r
        .escalation
        .as_ref()
        .map(|e| e.to.clone())
        .unwrap_or_default();
    let audit = AuditEvent::new(
        now,
        "system:cleanup",
        "request.escalated",
        AuditSubject::Request(r.id.clone()),
    )
    .with_integration(&r.integration)
    .with_details(json!({ "to": to }));
    match run
        .app
        .services
        .store
        .update_request_indexing_approvers(&r, expected, &[audit])
        .await
    {
        Ok(_) => Result1::Escalated,
        Err(StoreError::Conflict { .. }) => Result1::Skipped,
        Err(e) => {
            tracing::warn!(request_id = %r.id, error = %e, "cannot escalate request");
            Result1::Error
        }
    }
}

/// How soon after the sweep a re-armed start schedule fires (a one-time schedule is set in
/// the future, never the past).
const REARM_AFTER: Duration = Duration::seconds(30);

/// Bundles whose revocation was recorded but not settled on every child (a child was being
/// started when the revoke came, or the revoke died half-way): every child that is active is
/// revoked and every one not started is cancelled, in the revoker's name; once none is left
/// live, the parent leaves the due index. A child still being provisioned is looked at again
/// next run (the parent stays due until then).
pub async fn finish_bundle_revocations(
    run: &Run<'_>,
    report: &mut Report,
) -> Result<bool, StoreError> {
    let (done, results) = sweep(run, RequestStatus::Bundled, |r| async move {
        if r.revoke_requested_by.is_none() || r.ended_at.is_some() {
            return Result1::Skipped;
        }
        match run
            .app
            .revoker()
            .end_bundle(r, Some("the bundle was revoked".into()))
            .await
        {
            // A child whose revocation is `revoke_failed` is settled here: the retries of
            // failed revocations own it.
            Ok((parent, _)) if parent.ended_at.is_some() => Result1::Done,
            Ok((parent, _)) => {
                tracing::info!(bundle = %parent.id, "a revoked bundle's child is still being provisioned; looked at again next run");
                Result1::Skipped
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot finish a bundle's revocation; retried next run");
                Result1::Error
            }
        }
    })
    .await?;
    report.bundles_revoked += count(&results, Result1::Done);
    report.errors += count(&results, Result1::Error);
    Ok(done)
}

/// Scheduled requests whose start passed without their start schedule firing (it was never
/// made, or Scheduler did not deliver): their start schedule is armed again to fire now. The
/// provision function provisions them when it fires, as it would have at the start, so this
/// function needs no permission to provision. Nothing is recorded on the request: it stays
/// due, and each run arms it again until it leaves `scheduled`.
pub async fn arm_starts(run: &Run<'_>, report: &mut Report) -> Result<bool, StoreError> {
    let (done, results) = sweep(run, RequestStatus::Scheduled, |r| async move {
        let services = &run.app.services;
        // Its whole window passed without it starting (the start keeps failing): it ends
        // here rather than being armed again for ever, holding its requester's open slot.
        if r
            .starts_at
            .is_some_and(|s| s + r.duration() <= services.clock.now())
        {
            return match finish(
                run,
                r,
                RequestStatus::Failed,
                "its whole window passed before it could start",
                "request.start_missed",
            )
            .await
            {
                Result1::Done => Result1::Missed,
                other => other,
            };
        }
        let at = services.clock.now() + REARM_AFTER;
        match services
            .starts
            .schedule_start(&r.id, at, &run.app.start_target)
            .await
        {
            Ok(()) => {
                tracing::warn!(grant_id = %r.id, "start schedule did not fire; armed again");
                Result1::Done
            }
            Err(e) => {
                tracing::warn!(grant_id = %r.id, error = %e, "cannot arm a start schedule again; retried next run");
                Result1::Error
            }
        }
    })
    .await?;
    report.starts_armed += count(&results, Result1::Done);
    report.starts_missed += count(&results, Result1::Missed);
    report.errors += count(&results, Result1::Error);
    Ok(done)
}

/// Approved requests whose provisioning never finished (the function died mid-way): failed,
/// and whatever they made is found by the orphan sweep through its grant id. The grant's key
/// secret (named by the grant id, so found without listing secrets) is deleted first; if that
/// fails, the failed request is flagged and `settle_failed` keeps trying. A provision cannot
/// still be running: the request is overdue by far more than the function's timeout.
pub async fn fail_stuck(run: &Run<'_>, report: &mut Report) -> Result<bool, StoreError> {
    let (done, results) = sweep(run, RequestStatus::Approved, |mut r| async move {
        if let Some(grant) = r.extends.clone() {
            return settle_extension_request(run, r, &grant).await;
        }
        let services = &run.app.services;
        let name = grant_secret_name(&services.config.secret_prefix, &r.integration, &r.id);
        if let Err(e) = services.secrets.delete(&name, true).await {
            tracing::warn!(grant_id = %r.id, error = %e, "cannot delete an abandoned grant's key secret; retried later");
            r.key_secret_unsettled = true;
        }
        // Best effort: a schedule left behind fires once, finds nothing to revoke, and deletes
        // itself.
        if let Err(e) = services.scheduler.cancel_expiry(&r.id).await {
            tracing::warn!(grant_id = %r.id, error = %e, "cannot delete an abandoned grant's expiry schedule");
        }
        finish(
            run,
            r,
            RequestStatus::Failed,
            "provisioning did not finish; anything it made is removed by the orphan sweep",
            "grant.provision_abandoned",
        )
        .await
    })
    .await?;
    report.stuck_failed += count(&results, Result1::Done);
    report.errors += count(&results, Result1::Error);
    Ok(done)
}

/// An approved extension request whose outcome was never recorded (the function ended between
/// moving the grant's end and marking the request). Nothing was provisioned for it; its
/// grant's record says whether it applied: the grant's `grant.extended` event names the
/// extension request it applied.
async fn settle_extension_request(run: &Run<'_>, r: AccessRequest, grant_id: &str) -> Result1 {
    let grant = match run.app.services.store.get_request(grant_id).await {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(request_id = %r.id, error = %e, "cannot read an extension request's grant");
            return Result1::Error;
        }
    };
    let applied = grant.is_some_and(|g| {
        g.history.iter().any(|e| {
            e.action == "grant.extended"
                && e.details.get("extension_request").and_then(|v| v.as_str()) == Some(&r.id)
        })
    });
    if applied {
        finish(
            run,
            r,
            RequestStatus::Applied,
            "the extension was applied to its grant",
            "request.applied",
        )
        .await
    } else {
        finish(
            run,
            r,
            RequestStatus::Failed,
            "the extension was not applied; ask again",
            "request.extension_failed",
        )
        .await
    }
}

/// Failed provisions that may have left their grant's key secret (a create that timed out can
/// land after the provision gave up): deleted once nothing can land any more, then the request
/// stops asking for it. A delete that fails is tried again with backoff.
pub async fn settle_failed(run: &Run<'_>, report: &mut Report) -> Result<bool, StoreError> {
    let (done, results) = sweep(run, RequestStatus::Failed, |r| settle(run, r)).await?;
    report.key_secrets_settled += count(&results, Result1::Done);
    report.still_failing += count(&results, Result1::Failed);
    report.errors += count(&results, Result1::Error);
    Ok(done)
}

async fn settle(run: &Run<'_>, mut r: AccessRequest) -> Result1 {
    if !r.key_secret_unsettled {
        return Result1::Skipped;
    }
    let services = &run.app.services;
    let now = services.clock.now();
    let expected = r.version;
    let name = grant_secret_name(&services.config.secret_prefix, &r.integration, &r.id);
    let (outcome, audit) = match services.secrets.delete(&name, true).await {
        Ok(()) => {
            r.key_secret_unsettled = false;
            r.next_attempt_at = None;
            let audit = AuditEvent::new(
                now,
                "system:cleanup",
                "grant.key_secret_settled",
                AuditSubject::Request(r.id.clone()),
            )
            .with_integration(&r.integration);
            (Result1::Done, vec![audit])
        }
        Err(e) => {
            tracing::warn!(grant_id = %r.id, error = %e, "cannot delete a failed grant's key secret; retried with backoff");
            r.revoke_attempts += 1;
            r.next_attempt_at = Some(now + backoff(r.revoke_attempts));
            r.last_error = Some(format!("the grant's key secret could not be deleted: {e}"));
            (Result1::Failed, vec![])
        }
    };
    r.updated_at = now;
    match services.store.update_request(&r, expected, &audit).await {
        Ok(_) => outcome,
        Err(StoreError::Conflict { .. }) => Result1::Skipped,
        Err(e) => {
            tracing::warn!(grant_id = %r.id, error = %e, "cannot update request");
            Result1::Error
        }
    }
}
