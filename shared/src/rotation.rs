//! Connector credential rotation through Secrets Manager's rotation protocol: the secret's
//! rotation Lambda receives `createSecret`, `setSecret`, `testSecret` and `finishSecret` for one
//! `ClientRequestToken` (the new version's id), each possibly more than once.
//!
//! Before every step the guard of AWS's rotation template runs: rotation must be enabled, the
//! token must be a version of the secret, a version already AWSCURRENT means the step was done,
//! and any other version must be AWSPENDING. Then each step is written so a second delivery
//! changes nothing. Logs carry the secret id, token and step only, never a value.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::driver::{Driver, DriverError};
use crate::model::{AuditEvent, AuditSubject, Integration, PendingRetire};
use crate::revocation::backoff;
use crate::secrets::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, SecretDescription, SecretStore, SecretValue, SecretsError,
};
use crate::store::{AuditStore, IntegrationStore, StoreError};
use crate::targets::{DriverFactory, TargetError};

/// How many versions without a stage `setSecret` tries to log in with, newest first.
const ABANDONED_VERSIONS_TRIED: usize = 5;
/// Conditional-write attempts when recording a pending retire on the integration.
const SAVE_ATTEMPTS: usize = 5;

/// The actor recorded in audit events written by the rotation function.
pub const ROTATE_ACTOR: &str = "system:rotate";

/// One of the four steps Secrets Manager sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Create,
    Set,
    Test,
    Finish,
}

impl Step {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "createSecret" => Some(Self::Create),
            "setSecret" => Some(Self::Set),
            "testSecret" => Some(Self::Test),
            "finishSecret" => Some(Self::Finish),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "createSecret",
            Self::Set => "setSecret",
            Self::Test => "testSecret",
            Self::Finish => "finishSecret",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// The step's work was done now.
    Done,
    /// Nothing to do: an earlier delivery already did it (pending value present, or the
    /// version already AWSCURRENT).
    AlreadyDone,
    /// `finishSecret` promoted the version but retiring the old credentials failed; the
    /// rotation is complete, the failure is logged and audited.
    FinishedRetireFailed,
}

impl StepOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::AlreadyDone => "already_done",
            Self::FinishedRetireFailed => "finished_retire_failed",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(
        "unknown rotation step {0:?}: expected createSecret, setSecret, testSecret or finishSecret"
    )]
    UnknownStep(String),
    #[error("no integration uses secret {secret}")]
    UnknownSecret { secret: String },
    #[error("rotation is not enabled for secret {secret}")]
    NotEnabled { secret: String },
    #[error("secret {secret} has no version {token}")]
    UnknownToken { secret: String, token: String },
    #[error("version {token} of secret {secret} is not staged for rotation (AWSPENDING)")]
    NotPending { secret: String, token: String },
    #[error("secret {secret} has no AWSCURRENT version")]
    NoCurrentVersion { secret: String },
    #[error("Secrets Manager: {0}")]
    Secrets(#[from] SecretsError),
    #[error("integration {integration}, step {step}: {source}")]
    Driver {
        integration: String,
        step: Step,
        source: DriverError,
    },
    #[error("state store: {0}")]
    Store(#[from] StoreError),
}

impl RotationError {
    /// Can delivering the same step again help? Secrets Manager retries failed steps; an
    /// error that cannot change by itself (a refused connector, a wrong token) says so.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Secrets(e) => e.is_transient(),
            Self::Store(e) => e.is_transient(),
            Self::Driver { source, .. } => match source {
                DriverError::Refused { .. }
                | DriverError::BadConnectorSecret { .. }
                | DriverError::MissingPrivileges { .. } => false,
                // setSecret/testSecret may fail transiently against a recovering cluster.
                _ => true,
            },
            _ => false,
        }
    }

    /// A stable code for logs, audit events and the Lambda error type.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownStep(_) => "unknown_step",
            Self::UnknownSecret { .. } => "unknown_secret",
            Self::NotEnabled { .. } => "rotation_not_enabled",
            Self::UnknownToken { .. } => "unknown_token",
            Self::NotPending { .. } => "token_not_pending",
            Self::NoCurrentVersion { .. } => "no_current_version",
            Self::Secrets(_) => "secrets_error",
            Self::Driver { source, .. } => source.code(),
            Self::Store(_) => "state_error",
        }
    }
}

/// Does the integration's `secret_arn` (an ARN, a partial ARN without the random suffix, or a
/// name) name the described secret?
pub fn secret_matches(configured: &str, described: &SecretDescription) -> bool {
    if configured == described.arn || configured == described.name {
        return true;
    }
    // A partial ARN: the full ARN minus Secrets Manager's "-XXXXXX" suffix.
    configured.starts_with("arn:")
        && described
            .arn
            .strip_prefix(configured)
            .is_some_and(|rest| rest.len() == 7 && rest.starts_with('-'))
}

/// The integration a connector secret can belong to, read from the secret's name: connector
/// secrets are bound by name to one integration (`<prefix><integration>`, or under
/// `<prefix><integration>/`, see [`crate::model::secret_bound_to`]), and integration names
/// have no `/`.
pub fn integration_named_by_secret<'a>(secret_name: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = secret_name.strip_prefix(prefix)?;
    let name = rest.split('/').next().unwrap_or_default();
    (!name.is_empty()).then_some(name)
}

/// The integration whose connector secret is `described`: one item read, never a listing.
/// The name says which integration may own the secret; that integration must also name this
/// very secret, so one re-pointed at another secret (renamed `…/v2`, say) no longer answers
/// for the old one, and an integration deleted and registered again answers with its current
/// record.
pub async fn integration_for_secret(
    integrations: &dyn IntegrationStore,
    prefix: &str,
    described: &SecretDescription,
) -> Result<Integration, RotationError> {
    let unknown = || RotationError::UnknownSecret {
        secret: described.arn.clone(),
    };
    let name = integration_named_by_secret(&described.name, prefix).ok_or_else(unknown)?;
    match integrations.get_integration(name).await? {
        Some(i) if secret_matches(&i.spec.secret_arn, described) => Ok(i),
        _ => Err(unknown()),
    }
}

fn has_stage(desc: &SecretDescription, version: &str, stage: &str) -> bool {
    desc.versions_to_stages
        .get(version)
        .is_some_and(|stages| stages.iter().any(|s| s == stage))
}

fn version_with<'a>(desc: &'a SecretDescription, stage: &str) -> Option<&'a str> {
    desc.versions_to_stages
        .iter()
        .find(|(_, stages)| stages.iter().any(|s| s == stage))
        .map(|(v, _)| v.as_str())
}

fn current_version(desc: &SecretDescription) -> Option<&str> {
    version_with(desc, AWSCURRENT)
}

/// The rotation template's guard. `Ok(true)`: the token is already AWSCURRENT, nothing to do.
pub fn guard(desc: &SecretDescription, secret: &str, token: &str) -> Result<bool, RotationError> {
    if !desc.rotation_enabled {
        return Err(RotationError::NotEnabled {
            secret: secret.to_string(),
        });
    }
    if !desc.versions_to_stages.contains_key(token) {
        return Err(RotationError::UnknownToken {
            secret: secret.to_string(),
            token: token.to_string(),
        });
    }
    if has_stage(desc, token, AWSCURRENT) {
        return Ok(true);
    }
    if !has_stage(desc, token, AWSPENDING) {
        return Err(RotationError::NotPending {
            secret: secret.to_string(),
            token: token.to_string(),
        });
    }
    Ok(false)
}

/// Everything one step needs.
pub struct StepContext<'a> {
    pub secrets: &'a dyn SecretStore,
    pub targets: &'a dyn DriverFactory,
    pub audit: &'a dyn AuditStore,
    /// Where a credential that could not be retired is recorded for the cleanup sweep.
    pub integrations: &'a dyn IntegrationStore,
    pub integration: &'a Integration,
    /// The id used for every Secrets Manager call (the integration's `secret_arn`, so reads
    /// and cache invalidation agree with the driver factory's).
    pub secret_id: &'a str,
    pub token: &'a str,
    pub now: DateTime<Utc>,
    /// The secret as described when this step's event arrived (the event's handler needs it
    /// to find the integration; the step's guard reads its version stages from the same
    /// description rather than asking Secrets Manager twice).
    pub described: &'a SecretDescription,
}

impl StepContext<'_> {
    fn driver_error(&self, step: Step, source: DriverError) -> RotationError {
        RotationError::Driver {
            integration: self.integration.name.clone(),
            step,
            source,
        }
    }

    async fn driver(&self, step: Step) -> Result<Box<dyn Driver>, RotationError> {
        self.targets
            .driver(self.integration)
            .await
            .map_err(|e| match e {
                TargetError::Secret(s) => RotationError::Secrets(s),
                TargetError::Driver(d) => self.driver_error(step, d),
                e @ TargetError::NotBound { .. } => self.driver_error(
                    step,
                    crate::driver::DriverError::Refused {
                        reason: e.to_string(),
                    },
                ),
            })
    }

    fn event(&self, action: &str) -> AuditEvent {
        AuditEvent::new(
            self.now,
            ROTATE_ACTOR,
            action,
            AuditSubject::Integration(self.integration.name.clone()),
        )
        .with_integration(&self.integration.name)
    }

    async fn record(&self, event: AuditEvent) {
        if let Err(e) = self.audit.append_audit(&[event]).await {
            tracing::error!(integration = %self.integration.name, error = %e, "cannot write audit event");
        }
    }
}

/// Run one step (guard included). A failure is logged and audited before it is returned.
pub async fn run_step(ctx: &StepContext<'_>, step: Step) -> Result<StepOutcome, RotationError> {
    let result = step_inner(ctx, step).await;
    match &result {
        Ok(outcome) => tracing::info!(
            secret = ctx.secret_id,
            token = ctx.token,
            step = step.as_str(),
            integration = %ctx.integration.name,
            outcome = outcome.as_str(),
            "rotation step finished"
        ),
        Err(e) => {
            tracing::warn!(
                secret = ctx.secret_id,
                token = ctx.token,
                step = step.as_str(),
                integration = %ctx.integration.name,
                code = e.code(),
                retryable = e.is_retryable(),
                error = %e,
                "rotation step failed"
            );
            ctx.record(
                ctx.event("connector.rotation_failed")
                    .failed()
                    .with_details(json!({
                        "secret_arn": ctx.secret_id,
                        "token": ctx.token,
                        "step": step.as_str(),
                        "code": e.code(),
                        "retryable": e.is_retryable(),
                        "error": e.to_string(),
                    })),
            )
            .await;
        }
    }
    result
}

async fn step_inner(ctx: &StepContext<'_>, step: Step) -> Result<StepOutcome, RotationError> {
    let desc = ctx.described;
    if guard(desc, ctx.secret_id, ctx.token)? {
        return Ok(StepOutcome::AlreadyDone);
    }
    match step {
        Step::Create => create(ctx).await,
        Step::Set => set(ctx, desc).await,
        Step::Test => {
            let pending = pending_value(ctx).await?;
            let driver = ctx.driver(step).await?;
            driver
                .test_connector_secret(&pending)
                .await
                .map_err(|e| ctx.driver_error(step, e))?;
            Ok(StepOutcome::Done)
        }
        Step::Finish => match finish(ctx, desc).await {
            Ok(outcome) => Ok(outcome),
            // Secrets Manager delivers at least once: a second delivery racing this one may
            // have promoted the version between our guard and our move.
            Err(e) => {
                let now = ctx.secrets.describe(ctx.secret_id).await?;
                if has_stage(&now, ctx.token, AWSCURRENT) {
                    Ok(StepOutcome::AlreadyDone)
                } else {
                    Err(e)
                }
            }
        },
    }
}

/// `setSecret`: make the pending value valid on the target, logging in with whichever stored
/// version the target still accepts. After an interrupted or cancelled rotation the target may
/// hold AWSPREVIOUS or a version whose stage was cleared, so those are tried after AWSCURRENT.
async fn set(
    ctx: &StepContext<'_>,
    desc: &SecretDescription,
) -> Result<StepOutcome, RotationError> {
    let pending = pending_value(ctx).await?;
    let mut last: Option<DriverError> = None;
    for (label, secret) in login_candidates(ctx, desc, &pending).await? {
        let driver = match ctx
            .targets
            .driver_with_secret(ctx.integration, &secret)
            .await
        {
            Ok(d) => d,
            Err(TargetError::Secret(e)) => return Err(e.into()),
            // No version may be sent anywhere if the secret is not this integration's own.
            Err(e @ TargetError::NotBound { .. }) => {
                return Err(ctx.driver_error(
                    Step::Set,
                    DriverError::Refused {
                        reason: e.to_string(),
                    },
                ));
            }
            // A version of another shape (e.g. from before the connector changed): skip it.
            Err(TargetError::Driver(e)) => {
                last.get_or_insert(e);
                continue;
            }
        };
        match driver.set_connector_secret(&pending).await {
            Ok(()) => {
                if label != AWSCURRENT {
                    tracing::warn!(
                        secret = ctx.secret_id,
                        token = ctx.token,
                        integration = %ctx.integration.name,
                        logged_in_with = label,
                        "AWSCURRENT was rejected; set the pending value logging in with another stored version"
                    );
                }
                return Ok(StepOutcome::Done);
            }
            Err(e @ DriverError::Unauthorized { .. }) => last = Some(e),
            Err(e) => return Err(ctx.driver_error(Step::Set, e)),
        }
    }
    Err(ctx.driver_error(
        Step::Set,
        last.unwrap_or_else(|| DriverError::Refused {
            reason: "no stored version of the connector secret could be read".into(),
        }),
    ))
}

/// What `setSecret` may log in with, in order: AWSCURRENT, AWSPREVIOUS, then versions without a
/// stage (left by a cancelled rotation), newest first. Each value once; the pending one is
/// not a login (the driver already accepts it if an earlier attempt set it).
async fn login_candidates(
    ctx: &StepContext<'_>,
    desc: &SecretDescription,
    pending: &SecretValue,
) -> Result<Vec<(&'static str, SecretValue)>, RotationError> {
    let mut out: Vec<(&'static str, SecretValue)> = Vec::new();
    let mut push = |label: &'static str, v: SecretValue| {
        if v.expose() != pending.expose() && !out.iter().any(|(_, o)| o.expose() == v.expose()) {
            out.push((label, v));
        }
    };
    let current = current_version(desc).ok_or_else(|| RotationError::NoCurrentVersion {
        secret: ctx.secret_id.to_string(),
    })?;
    push(
        AWSCURRENT,
        ctx.secrets
            .get_version(ctx.secret_id, current, AWSCURRENT)
            .await?,
    );
    if let Some(previous) = version_with(desc, AWSPREVIOUS) {
        match ctx
            .secrets
            .get_version(ctx.secret_id, previous, AWSPREVIOUS)
            .await
        {
            Ok(v) => push(AWSPREVIOUS, v),
            Err(e) => tracing::warn!(secret = ctx.secret_id, error = %e, "AWSPREVIOUS unreadable"),
        }
    }
    match ctx.secrets.versions(ctx.secret_id).await {
        Ok(versions) => {
            for v in versions
                .iter()
                .filter(|v| v.stages.is_empty() && v.id != ctx.token)
                .take(ABANDONED_VERSIONS_TRIED)
            {
                match ctx.secrets.read_version(ctx.secret_id, &v.id).await {
                    Ok(value) => push("a version without a stage", value),
                    Err(e) => {
                        tracing::warn!(secret = ctx.secret_id, version = %v.id, error = %e, "version unreadable")
                    }
                }
            }
        }
        Err(e) => {
            tracing::warn!(secret = ctx.secret_id, error = %e, "cannot list the secret's versions")
        }
    }
    Ok(out)
}

async fn pending_value(
    ctx: &StepContext<'_>,
) -> Result<crate::secrets::SecretValue, RotationError> {
    Ok(ctx
        .secrets
        .get_version(ctx.secret_id, ctx.token, AWSPENDING)
        .await?)
}

/// `createSecret`: only when this token has no value yet, ask the driver for the next secret
/// and store it as the token's AWSPENDING version.
async fn create(ctx: &StepContext<'_>) -> Result<StepOutcome, RotationError> {
    // The current version must exist (and the driver is built from it).
    let driver = ctx.driver(Step::Create).await?;
    match ctx
        .secrets
        .get_version(ctx.secret_id, ctx.token, AWSPENDING)
        .await
    {
        Ok(_) => return Ok(StepOutcome::AlreadyDone),
        Err(SecretsError::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let next = driver
        .create_connector_secret()
        .await
        .map_err(|e| ctx.driver_error(Step::Create, e))?;
    let put = ctx
        .secrets
        .put(ctx.secret_id, &next, Some(ctx.token), &[AWSPENDING])
        .await;
    // Two deliveries at once may both have made a value: the one stored for the token wins
    // (Secrets Manager refuses a second value for a token), and the other is discarded.
    match ctx
        .secrets
        .get_version(ctx.secret_id, ctx.token, AWSPENDING)
        .await
    {
        Ok(stored) if stored.expose() == next.expose() => Ok(StepOutcome::Done),
        Ok(_) => {
            discard(ctx, driver.as_ref(), &next).await;
            Ok(StepOutcome::AlreadyDone)
        }
        Err(e) => Err(put.err().map_or_else(|| e.into(), RotationError::from)),
    }
}

/// Remove a credential this delivery made but lost to a concurrent one (a Cloud API key that
/// would otherwise stay valid with nobody holding it).
async fn discard(ctx: &StepContext<'_>, driver: &dyn Driver, unused: &SecretValue) {
    let result = match ctx.secrets.get(ctx.secret_id, AWSCURRENT).await {
        Ok(current) => driver
            .retire_connector_secret(unused, &current)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(error) = result {
        tracing::warn!(secret = ctx.secret_id, token = ctx.token, error = %error, "a credential made by a replayed createSecret could not be removed");
        ctx.record(
            ctx.event("connector.retire_failed")
                .failed()
                .with_details(json!({
                    "secret_arn": ctx.secret_id,
                    "token": ctx.token,
                    "step": Step::Create.as_str(),
                    "error": error,
                })),
        )
        .await;
    }
}

/// `finishSecret`: move AWSCURRENT to the token's version (removing it from the old one), then
/// let the driver retire the old credentials. Retiring failing does not undo the rotation.
async fn finish(
    ctx: &StepContext<'_>,
    desc: &SecretDescription,
) -> Result<StepOutcome, RotationError> {
    let old_version = current_version(desc).ok_or_else(|| RotationError::NoCurrentVersion {
        secret: ctx.secret_id.to_string(),
    })?;
    // Read both values and build the driver before anything moves.
    let old = ctx
        .secrets
        .get_version(ctx.secret_id, old_version, AWSCURRENT)
        .await?;
    let new = pending_value(ctx).await?;
    let driver = ctx.driver(Step::Finish).await;
    ctx.secrets
        .move_stage(ctx.secret_id, AWSCURRENT, ctx.token, Some(old_version))
        .await?;
    // The rotation is over: AWSPENDING leaves the promoted version, so functions stop trying it
    // and the next rotation can start.
    if let Err(e) = ctx
        .secrets
        .remove_stage(ctx.secret_id, AWSPENDING, ctx.token)
        .await
    {
        tracing::warn!(secret = ctx.secret_id, token = ctx.token, error = %e, "AWSPENDING not removed from the promoted version");
    }
    let retired = match driver {
        Ok(d) => d
            .retire_connector_secret(&old, &new)
            .await
            .map_err(|e| ctx.driver_error(Step::Finish, e)),
        Err(e) => Err(e),
    };
    let mut event = ctx.event("connector.rotated").with_details(json!({
        "secret_arn": ctx.secret_id,
        "token": ctx.token,
        "previous_version": old_version,
        "kind": ctx.integration.spec.kind.as_str(),
    }));
    let outcome = match retired {
        Ok(()) => StepOutcome::Done,
        Err(e) => {
            tracing::warn!(
                secret = ctx.secret_id,
                token = ctx.token,
                integration = %ctx.integration.name,
                code = e.code(),
                error = %e,
                "rotation finished but the old credentials could not be retired; the cleanup sweep retries"
            );
            event.details["retire_error"] = json!(e.to_string());
            let pending = PendingRetire {
                secret_version: old_version.to_string(),
                token: ctx.token.to_string(),
                credential_id: credential_id(&old),
                since: ctx.now,
                attempts: 1,
                next_attempt_at: ctx.now + backoff(1),
                last_error: e.to_string(),
            };
            ctx.record(
                ctx.event("connector.retire_failed")
                    .failed()
                    .with_details(json!({
                        "secret_arn": ctx.secret_id,
                        "token": ctx.token,
                        "code": e.code(),
                        "error": e.to_string(),
                        "attempts": 1,
                        "next_attempt_at": pending.next_attempt_at,
                    })),
            )
            .await;
            let version = pending.secret_version.clone();
            let saved = update_integration(ctx.integrations, &ctx.integration.name, |i| {
                if !i
                    .pending_retires
                    .iter()
                    .any(|p| p.secret_version == version)
                {
                    i.pending_retires.push(pending.clone());
                }
            })
            .await;
            if let Err(e) = saved {
                tracing::error!(integration = %ctx.integration.name, error = %e, "cannot record the credential to retire; retire it by hand");
            }
            StepOutcome::FinishedRetireFailed
        }
    };
    ctx.record(event).await;
    Ok(outcome)
}

/// The id of a credential, when the target gives it one (`api_key_id`): ids are not secret.
fn credential_id(secret: &SecretValue) -> Option<String> {
    secret
        .parse_json::<serde_json::Value>()
        .ok()?
        .get("api_key_id")?
        .as_str()
        .map(str::to_string)
}

/// Apply `change` to the stored integration with a conditional write, re-reading on conflict.
async fn update_integration(
    store: &dyn IntegrationStore,
    name: &str,
    change: impl Fn(&mut Integration),
) -> Result<Option<Integration>, StoreError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let Some(mut i) = store.get_integration(name).await? else {
            return Ok(None);
        };
        let expected = i.version;
        change(&mut i);
        match store.save_integration(&i, Some(expected), &[]).await {
            Ok(saved) => return Ok(Some(saved)),
            Err(StoreError::Conflict { .. }) if attempt < SAVE_ATTEMPTS => continue,
            Err(e) => return Err(e),
        }
    }
}

/// What one pass over an integration's pending retires did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetireReport {
    pub retired: usize,
    pub failed: usize,
}

/// Retry retiring the integration's replaced connector credentials whose next attempt is due.
/// Each attempt is audited; a success removes the record, a failure backs off (1, 2, 4 …
/// minutes, at most an hour) and stays visible on the integration.
pub async fn retry_retires(
    secrets: &dyn SecretStore,
    targets: &dyn DriverFactory,
    integrations: &dyn IntegrationStore,
    audit: &dyn AuditStore,
    integration: &Integration,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<RetireReport, StoreError> {
    let mut report = RetireReport::default();
    let due: Vec<PendingRetire> = integration
        .pending_retires
        .iter()
        .filter(|p| p.next_attempt_at <= now)
        .cloned()
        .collect();
    if due.is_empty() {
        return Ok(report);
    }
    let secret_id = &integration.spec.secret_arn;
    for p in due {
        let result = retire_one(secrets, targets, integration, &p).await;
        let event = |action: &str| {
            AuditEvent::new(
                now,
                actor,
                action,
                AuditSubject::Integration(integration.name.clone()),
            )
            .with_integration(&integration.name)
        };
        match result {
            Ok(()) => {
                report.retired += 1;
                let version = p.secret_version.clone();
                update_integration(integrations, &integration.name, |i| {
                    i.pending_retires.retain(|x| x.secret_version != version)
                })
                .await?;
                audit
                    .append_audit(&[event("connector.retired").with_details(json!({
                        "secret_arn": secret_id,
                        "token": p.token,
                        "credential_id": p.credential_id,
                        "attempts": p.attempts + 1,
                    }))])
                    .await?;
                tracing::info!(integration = %integration.name, token = %p.token, "replaced connector credential retired");
            }
            Err(error) => {
                report.failed += 1;
                let attempts = p.attempts + 1;
                let next = now + backoff(attempts);
                let version = p.secret_version.clone();
                let last = error.clone();
                update_integration(integrations, &integration.name, |i| {
                    if let Some(x) = i
                        .pending_retires
                        .iter_mut()
                        .find(|x| x.secret_version == version)
                    {
                        x.attempts = attempts;
                        x.next_attempt_at = next;
                        x.last_error = last.clone();
                    }
                })
                .await?;
                audit
                    .append_audit(&[event("connector.retire_failed").failed().with_details(
                        json!({
                            "secret_arn": secret_id,
                            "token": p.token,
                            "credential_id": p.credential_id,
                            "attempts": attempts,
                            "next_attempt_at": next,
                            "error": error,
                        }),
                    )])
                    .await?;
                tracing::warn!(integration = %integration.name, token = %p.token, attempts, error = %error, "replaced connector credential still not retired");
            }
        }
    }
    Ok(report)
}

async fn retire_one(
    secrets: &dyn SecretStore,
    targets: &dyn DriverFactory,
    integration: &Integration,
    p: &PendingRetire,
) -> Result<(), String> {
    let id = &integration.spec.secret_arn;
    let old = secrets
        .read_version(id, &p.secret_version)
        .await
        .map_err(|e| format!("the replaced version cannot be read: {e}"))?;
    let new = secrets
        .get(id, AWSCURRENT)
        .await
        .map_err(|e| e.to_string())?;
    let driver = targets
        .driver(integration)
        .await
        .map_err(|e| e.to_string())?;
    driver
        .retire_connector_secret(&old, &new)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn desc(enabled: bool, versions: &[(&str, &[&str])]) -> SecretDescription {
        SecretDescription {
            arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:conn-AbC123".into(),
            name: "conn".into(),
            rotation_enabled: enabled,
            versions_to_stages: versions
                .iter()
                .map(|(v, s)| (v.to_string(), s.iter().map(|x| x.to_string()).collect()))
                .collect::<HashMap<_, _>>(),
        }
    }

    #[test]
    fn steps_parse_from_the_protocol_names() {
        for s in [Step::Create, Step::Set, Step::Test, Step::Finish] {
            assert_eq!(Step::parse(s.as_str()), Some(s));
        }
        assert_eq!(Step::parse("CreateSecret"), None);
    }

    #[test]
    fn the_guard_follows_the_rotation_template() {
        let d = desc(
            true,
            &[
                ("old", &["AWSCURRENT"]),
                ("tok", &["AWSPENDING"]),
                ("prev", &["AWSPREVIOUS"]),
            ],
        );
        assert!(!guard(&d, "s", "tok").unwrap());
        assert!(guard(&d, "s", "old").unwrap());
        assert!(matches!(
            guard(&d, "s", "nope"),
            Err(RotationError::UnknownToken { .. })
        ));
        assert!(matches!(
            guard(&d, "s", "prev"),
            Err(RotationError::NotPending { .. })
        ));
        let off = desc(false, &[("tok", &["AWSPENDING"])]);
        assert!(matches!(
            guard(&off, "s", "tok"),
            Err(RotationError::NotEnabled { .. })
        ));
        assert!(!RotationError::NotEnabled { secret: "s".into() }.is_retryable());
    }

    #[test]
    fn secrets_match_by_arn_partial_arn_or_name() {
        let d = desc(true, &[]);
        assert!(secret_matches("conn", &d));
        assert!(secret_matches(&d.arn, &d));
        assert!(secret_matches(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:conn",
            &d
        ));
        assert!(!secret_matches(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:con",
            &d
        ));
        assert!(!secret_matches("other", &d));
    }
}
