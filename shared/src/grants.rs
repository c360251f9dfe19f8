//! Provisioning a grant: everything between "approved" and "active" (or "failed").
//!
//! Changes to one target account are serialized through a lease on its principal item, so two
//! grants for the same person never race on the account's role list. A provision that fails
//! half-way undoes what it made; what cannot be undone stays recorded on the request.

use std::time::Duration as StdDuration;

use chrono::Duration;
use serde_json::json;

use crate::clock::Clock;
use crate::credentials::{self, user_secret_name};
use crate::driver::elasticsearch::grants::role_name;
use crate::driver::http::{current_deadline, time_left, within_deadline};
use crate::driver::{Driver, GrantPlan, PrincipalAfterRevoke, PrincipalPlan, RevokePlan};
use crate::model::{
    AccessRequest, AuditEvent, AuditSubject, CredentialMode, Identity, Integration,
    IntegrationKind, Person, PrincipalState, RequestStatus, ResolvedPermission, SharedObject,
    TargetObject, fold_email,
};
use crate::password::generate_password;
use crate::requester_rotation;
use crate::scheduler::ExpiryScheduler;
use crate::secrets::{AWSCURRENT, SecretStore, SecretValue, SecretsError};
use crate::store::{Store, StoreError};
use crate::targets::{DriverFactory, TargetError};

/// How long a lease on a principal lasts if its holder dies.
const LEASE: Duration = Duration::seconds(60);
/// How long to wait for another holder's lease before giving up.
const LEASE_WAIT: StdDuration = StdDuration::from_secs(30);

#[derive(Debug, Clone)]
pub struct GrantConfig {
    /// Prefix of credential secret names, e.g. `elastic-jit/credentials/`.
    pub secret_prefix: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error("the account {0} is busy with another change; retry shortly")]
    PrincipalBusy(String),
    #[error("{0}")]
    Identity(String),
    /// The account the identity maps to belongs to someone else: never shared.
    #[error(
        "the account {0} on this integration belongs to another person; ask an administrator \
         to resolve the clash"
    )]
    AccountOwned(String),
}

impl From<GrantError> for crate::api::ApiError {
    fn from(e: GrantError) -> Self {
        match e {
            GrantError::Store(s) => s.into(),
            GrantError::Secrets(s) => crate::api::ApiError::internal("credential secret", &s),
            GrantError::PrincipalBusy(_) => {
                crate::api::ApiError::new(503, "principal_busy", e.to_string())
            }
            GrantError::Identity(m) => {
                crate::api::ApiError::bad_request("identity_not_mappable", m)
            }
            GrantError::AccountOwned(_) => {
                crate::api::ApiError::new(409, ACCOUNT_OWNED, e.to_string())
            }
        }
    }
}

/// The stable code of an account clash (API errors and failed requests' reasons).
pub const ACCOUNT_OWNED: &str = "account_owned_by_another_person";

/// Elasticsearch usernames are at most 507 characters.
const MAX_ES_USERNAME: usize = 507;
/// Hex characters of the identity digest in a name derived from issuer and `sub` (128 bits).
const ID_DIGEST_CHARS: usize = 32;

/// Can `email` (lowercased) be a username as it is? Letters, digits and `._+-` around exactly
/// one `@`: nothing that changes meaning in a URL path, a comma-separated name list, a
/// wildcard or a shell.
fn safe_email(email: &str) -> bool {
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._+-".contains(c))
    };
    ok(local) && ok(domain)
}

fn unmappable(what: &str, limit: usize) -> String {
    format!(
        "your {what} cannot be mapped to an account name: it must be at most {limit} characters \
         of letters, digits and . _ + - around one @ (no spaces, commas, quotes or other symbols)"
    )
}

/// The Elasticsearch username for a requester: the prefix and their trusted email,
/// lowercased; without a trusted email, the prefix, `id-` and a digest of their issuer and
/// `sub`. An email always has `@` and a digest never does, so the two kinds never collide,
/// and a `sub` never stands in for an email. Records written before issuers were recorded keep
/// the name they had (the email, else the `sub`), so their accounts are still found.
pub fn es_username(prefix: &str, who: &Identity) -> Result<String, String> {
    if let Some(email) = &who.email {
        let email = fold_email(email);
        let name = format!("{prefix}{email}");
        if !safe_email(&email) || name.len() > MAX_ES_USERNAME {
            return Err(unmappable("email", MAX_ES_USERNAME - prefix.len()));
        }
        return Ok(name);
    }
    if who.issuer.is_some() {
        let digest = who.person().digest();
        return Ok(format!("{prefix}id-{}", &digest[..ID_DIGEST_CHARS]));
    }
    let base = who.sub.trim().to_lowercase();
    let name = format!("{prefix}{base}");
    let ok = !base.is_empty()
        && name.len() <= MAX_ES_USERNAME
        && name.chars().all(|c| c.is_ascii_graphic() && c != ',');
    if ok {
        Ok(name)
    } else {
        Err(unmappable("identity", MAX_ES_USERNAME - prefix.len()))
    }
}

/// The target-side account name a request's grant lives on.
pub fn principal_name(integration: &Integration, who: &Identity) -> Result<String, String> {
    match integration.kind() {
        IntegrationKind::Elasticsearch => es_username(integration.user_prefix(), who),
        IntegrationKind::ElasticCloud => {
            let email = who.email.as_deref().map(fold_email).ok_or_else(|| {
                "Elastic Cloud access needs a verified email claim in your identity".to_string()
            })?;
            if safe_email(&email) && email.len() <= 254 {
                Ok(email)
            } else {
                Err(unmappable("email", 254))
            }
        }
    }
}

/// The grant's API key secret: `<prefix><integration>/grants/<id>`.
pub fn grant_secret_name(prefix: &str, integration: &str, grant_id: &str) -> String {
    format!("{prefix}{integration}/grants/{grant_id}")
}

pub struct Grants<'a> {
    pub store: &'a dyn Store,
    pub secrets: &'a dyn SecretStore,
    pub targets: &'a dyn DriverFactory,
    pub scheduler: &'a dyn ExpiryScheduler,
    pub clock: &'a dyn Clock,
    pub cfg: &'a GrantConfig,
}

impl Grants<'_> {
    /// Take the lease on an existing principal (revoke, cleanup: they never judge ownership,
    /// so a clash recorded before ownership was checked can still be revoked). Returns the
    /// locked state. `holder` must be unique to this attempt: a holder finds its own lease free.
    pub async fn lock_principal(
        &self,
        integration: &str,
        name: &str,
        owner_sub: &str,
        holder: &str,
    ) -> Result<PrincipalState, GrantError> {
        let owner = Person {
            issuer: None,
            sub: owner_sub.to_string(),
        };
        self.lock(integration, name, &owner, holder).await
    }

    /// Take the lease on `owner`'s account, creating its item if new. An account that belongs
    /// to another person is released at once and refused: accounts are never shared.
    pub async fn lock_principal_of(
        &self,
        integration: &str,
        name: &str,
        owner: &Person,
        holder: &str,
    ) -> Result<PrincipalState, GrantError> {
        let mut locked = self.lock(integration, name, owner, holder).await?;
        if !locked.is_owned_by(owner) {
            self.unlock_principal(locked, &[]).await?;
            return Err(GrantError::AccountOwned(name.to_string()));
        }
        // An account recorded before issuers were: its owner's issuer is now known.
        if locked.owner_issuer.is_none() {
            locked.owner_issuer = owner.issuer.clone();
        }
        Ok(locked)
    }

    async fn lock(
        &self,
        integration: &str,
        name: &str,
        owner: &Person,
        holder: &str,
    ) -> Result<PrincipalState, GrantError> {
        let started = std::time::Instant::now();
        let mut delay = StdDuration::from_millis(25);
        loop {
            let now = self.clock.now();
            let current = self.store.get_principal(integration, name).await?;
            let (mut next, expected) = match current {
                Some(p) if p.is_locked_by_other(holder, now) => {
                    // Waiting past the invocation's deadline would leave nothing recorded.
                    let no_time = time_left().is_some_and(|left| left < delay * 2);
                    if started.elapsed() > LEASE_WAIT || no_time {
                        return Err(GrantError::PrincipalBusy(name.into()));
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(StdDuration::from_millis(500));
                    continue;
                }
                Some(p) => {
                    let v = p.version;
                    (p, Some(v))
                }
                None => (
                    PrincipalState::owned_by(integration, name, owner, now),
                    None,
                ),
            };
            next.lock_owner = Some(holder.to_string());
            next.lock_until = Some(now + LEASE);
            match self.store.save_principal(&next, expected, &[]).await {
                Ok(saved) => return Ok(saved),
                Err(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Save the principal and release the lease, conditional on still holding it.
    pub async fn unlock_principal(
        &self,
        mut p: PrincipalState,
        audit: &[AuditEvent],
    ) -> Result<PrincipalState, GrantError> {
        let expected = p.version;
        p.lock_owner = None;
        p.lock_until = None;
        p.updated_at = self.clock.now();
        Ok(self.store.save_principal(&p, Some(expected), audit).await?)
    }

    /// Provision an `approved` request. The result is the request as stored: `active`, or
    /// `failed` with its reason (a failed provision is an outcome, not an error).
    pub async fn provision(&self, mut req: AccessRequest) -> Result<AccessRequest, GrantError> {
        let integration = match self.store.get_integration(&req.integration).await? {
            Some(i) => i,
            None => {
                return self
                    .fail(req, "the integration no longer exists".into(), vec![])
                    .await;
            }
        };
        let Some(flow) = self.store.get_flow(&req.flow).await? else {
            return self
                .fail(req, "the access flow no longer exists".into(), vec![])
                .await;
        };
        let Some(permission) = integration.resolve_permission(&req.permission) else {
            let reason = format!("permission {:?} is no longer offered", req.permission);
            return self.fail(req, reason, vec![]).await;
        };
        let driver = match self.targets.driver(&integration).await {
            Ok(d) => d,
            Err(e) => return self.fail(req, target_reason(&e), vec![]).await,
        };
        let name = match principal_name(&integration, &req.requester) {
            Ok(n) => n,
            Err(m) => return self.fail(req, m, vec![]).await,
        };
        let principal = match self
            .lock_principal_of(&integration.name, &name, &req.requester.person(), &req.id)
            .await
        {
            Ok(p) => p,
            Err(e @ GrantError::AccountOwned(_)) => {
                let reason = format!("{ACCOUNT_OWNED}: {e}");
                return self.fail(req, reason, vec![]).await;
            }
            Err(e) => return Err(e),
        };
        let outcome = self
            .provision_locked(
                &mut req,
                &integration,
                flow.spec.credential_mode,
                permission,
                driver.as_ref(),
                principal,
            )
            .await;
        match outcome {
            Ok(r) => Ok(r),
            Err((reason, leftovers, principal)) => {
                if let Some(p) = principal {
                    self.unlock_principal(p, &[]).await?;
                }
                self.fail(req, reason, leftovers).await
            }
        }
    }

    #[allow(clippy::type_complexity)]
    async fn provision_locked(
        &self,
        req: &mut AccessRequest,
        integration: &Integration,
        mode: CredentialMode,
        permission: ResolvedPermission,
        driver: &dyn Driver,
        mut principal: PrincipalState,
    ) -> Result<AccessRequest, (String, Vec<TargetObject>, Option<PrincipalState>)> {
        let now = self.clock.now();
        let ends_at = now + req.duration();
        let es = integration.kind() == IntegrationKind::Elasticsearch;
        let mut roles_after = principal.roles.clone();
        if es {
            roles_after.push(role_name(integration.user_prefix(), &req.id));
        }
        // The seeds' rotation policy: a password due for rotation is replaced at the start of
        // the next grant, never during active access.
        if es
            && principal.provisioned
            && principal.active_grants.is_empty()
            && requester_rotation::rotation_due(&principal, integration, now)
        {
            match requester_rotation::rotate_principal(
                self.store,
                self.secrets,
                driver,
                integration,
                &principal,
                now,
            )
            .await
            {
                Ok(rotated) => principal = rotated,
                Err(e) => {
                    tracing::warn!(account = %principal.name, error = %e, "password rotation at grant start failed; the current password stays")
                }
            }
        }
        let mut password = None;
        if es && !principal.provisioned {
            // The password is stored before the account exists, so it is never lost.
            let fresh = generate_password();
            match self
                .store_user_password(integration, &principal.name, &fresh)
                .await
            {
                Ok(arn) => principal.credential_secret_arn = Some(arn),
                Err(e) => {
                    return Err((
                        format!("cannot store the account's password: {e}"),
                        vec![],
                        Some(principal),
                    ));
                }
            }
            principal.password_rotated_at = Some(now);
            password = Some(fresh);
        } else if es && mode == CredentialMode::ApiKey {
            match self.read_user_password(&principal).await {
                Ok(p) => password = Some(p),
                Err(e) => {
                    return Err((
                        format!("cannot read the account's password: {e}"),
                        vec![],
                        Some(principal),
                    ));
                }
            }
        }
        let plan = GrantPlan {
            grant_id: req.id.clone(),
            integration: integration.name.clone(),
            requester: req.requester.clone(),
            resources: req.resources.clone(),
            permission,
            mode,
            ends_at,
            now,
            principal: PrincipalPlan {
                name: principal.name.clone(),
                exists: principal.provisioned,
                roles_after: roles_after.clone(),
                password,
            },
        };
        let made = match provision_within_budget(driver, &plan).await {
            Ok(made) => made,
            Err(failure) => {
                let leftovers = self
                    .undo(
                        driver,
                        &req.requester,
                        integration,
                        &principal,
                        failure.created,
                    )
                    .await;
                return Err((failure.error.to_string(), leftovers, Some(principal)));
            }
        };
        let objects = made.objects.clone();
        if let Some(key) = &made.credential {
            // Recorded with the failure if this goes wrong (see `key_secret_unsettled`).
            req.key_secret_unsettled = true;
            let name = grant_secret_name(&self.cfg.secret_prefix, &integration.name, &req.id);
            let value = SecretValue::new(
                json!({"api_key": key.encoded.expose(), "id": key.id}).to_string(),
            );
            if let Err(e) = self
                .secrets
                .create(
                    &name,
                    &value,
                    "elastic-jit grant API key",
                    &[("managed-by", "elastic-jit"), ("grant-id", &req.id)],
                )
                .await
            {
                let leftovers = self
                    .undo(driver, &req.requester, integration, &principal, objects)
                    .await;
                return Err((
                    format!("cannot store the grant's API key: {e}"),
                    leftovers,
                    Some(principal),
                ));
            }
        }
        if !es {
            share_cloud_objects(&mut principal, &req.id, &plan, &made.objects);
        }
        if let Err(e) = self.scheduler.schedule_expiry(&req.id, ends_at).await {
            // The 5-minute sweep revokes it anyway; say so loudly.
            tracing::warn!(grant_id = %req.id, error = %e, "expiry schedule not created; the sweep will revoke the grant");
        }
        principal.provisioned = true;
        principal.enabled = true;
        principal.roles = roles_after;
        principal.active_grants.push(req.id.clone());
        principal.cleanup_due_at = None;
        if let Err(e) = self.unlock_principal(principal, &[]).await {
            tracing::error!(grant_id = %req.id, error = %e, "principal state not saved after provisioning");
        }
        let expected = req.version;
        // What the failure path records if the write below does not land.
        let approved = req.clone();
        req.key_secret_unsettled = false;
        req.starts_at = Some(now);
        req.ends_at = Some(ends_at);
        req.created_objects = made.objects;
        if req.transition(RequestStatus::Active, now).is_err() {
            return Err((
                format!("the request is {}, not approved", req.status),
                vec![],
                None,
            ));
        }
        let audit = AuditEvent::new(
            now,
            "system:provision",
            "grant.provisioned",
            AuditSubject::Request(req.id.clone()),
        )
        .with_integration(&integration.name)
        .with_details(json!({
            "account": plan.principal.name,
            "resources": req.resources,
            "permission": req.permission,
            "mode": mode,
            "ends_at": ends_at,
            "objects": req.created_objects,
        }));
        match self.store.update_request(req, expected, &[audit]).await {
            Ok(stored) => Ok(stored),
            Err(e) => {
                // A write that timed out may still have landed: then the grant is active, with
                // its key secret, and is answered as such.
                if let Ok(Some(current)) = self.store.get_request(&req.id).await
                    && current.status == RequestStatus::Active
                {
                    return Ok(current);
                }
                // Otherwise it is recorded as failed from the approved copy: what it made on the
                // target as leftovers for the sweep, and its key secret (which this function
                // may not delete) flagged for the sweep.
                let leftovers = objects_of(req);
                *req = approved;
                req.key_secret_unsettled = made.credential.is_some();
                Err((
                    format!("grant made but its record could not be saved: {e}"),
                    leftovers,
                    None,
                ))
            }
        }
    }

    /// Remove what a failed provision made; returns what could not be removed.
    async fn undo(
        &self,
        driver: &dyn Driver,
        owner: &Identity,
        integration: &Integration,
        principal: &PrincipalState,
        created: Vec<TargetObject>,
    ) -> Vec<TargetObject> {
        if created.is_empty() {
            return created;
        }
        let user_created = created
            .iter()
            .any(|o| matches!(o, TargetObject::EsUser { .. }));
        let plan = RevokePlan {
            grant_id: String::new(),
            objects: created.clone(),
            principal: (integration.kind() == IntegrationKind::Elasticsearch && !user_created)
                .then(|| PrincipalAfterRevoke {
                    name: principal.name.clone(),
                    integration: integration.name.clone(),
                    owner: owner.clone(),
                    roles_after: principal.roles.clone(),
                    disable: principal.active_grants.is_empty(),
                }),
        };
        let mut result = driver.revoke(&plan).await;
        if result.is_ok() && user_created {
            let name = principal.name.clone();
            result = driver.delete_principal(&name).await;
        }
        match result {
            Ok(()) => vec![],
            Err(e) => {
                tracing::warn!(error = %e, "could not undo a failed provision; left recorded for the sweep");
                created
            }
        }
    }

    async fn fail(
        &self,
        mut req: AccessRequest,
        reason: String,
        leftovers: Vec<TargetObject>,
    ) -> Result<AccessRequest, GrantError> {
        let now = self.clock.now();
        let expected = req.version;
        if req.transition(RequestStatus::Failed, now).is_err() {
            return Ok(req);
        }
        req.status_reason = Some(reason.clone());
        req.created_objects = leftovers;
        let audit = AuditEvent::new(
            now,
            "system:provision",
            "grant.provision_failed",
            AuditSubject::Request(req.id.clone()),
        )
        .failed()
        .with_integration(&req.integration)
        .with_details(json!({ "reason": reason, "leftovers": req.created_objects }));
        tracing::warn!(grant_id = %req.id, reason = %reason, "provisioning failed");
        Ok(self.store.update_request(&req, expected, &[audit]).await?)
    }

    async fn store_user_password(
        &self,
        integration: &Integration,
        username: &str,
        password: &SecretValue,
    ) -> Result<String, SecretsError> {
        let name = user_secret_name(&self.cfg.secret_prefix, &integration.name, username);
        let value = credentials::encode(username, password);
        match self
            .secrets
            .create(
                &name,
                &value,
                "elastic-jit requester credentials",
                &[("managed-by", "elastic-jit")],
            )
            .await
        {
            Ok(arn) => Ok(arn),
            Err(SecretsError::AlreadyExists { .. }) => {
                self.secrets.put(&name, &value, None, &[AWSCURRENT]).await?;
                Ok(self.secrets.describe(&name).await?.arn)
            }
            Err(e) => Err(e),
        }
    }

    async fn read_user_password(&self, p: &PrincipalState) -> Result<SecretValue, SecretsError> {
        let arn = p
            .credential_secret_arn
            .as_deref()
            .ok_or_else(|| SecretsError::NotFound {
                id: p.name.clone(),
                stage: AWSCURRENT.into(),
            })?;
        credentials::password_of(&self.secrets.get(arn, AWSCURRENT).await?)
    }
}

/// The most of an invocation's budget kept back from a provision's target calls so that what
/// they made can still be undone when they fail or run out of time.
const UNDO_SHARE: StdDuration = StdDuration::from_secs(2);

/// Run the driver's provision on at most two thirds of the time left (and never into the last
/// [`UNDO_SHARE`]): the rest is for undoing it.
async fn provision_within_budget(
    driver: &dyn Driver,
    plan: &GrantPlan,
) -> Result<crate::driver::Provisioned, crate::driver::ProvisionFailure> {
    match current_deadline() {
        Some(deadline) => {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let keep = (left / 3).min(UNDO_SHARE);
            within_deadline(deadline - keep, driver.provision(plan)).await
        }
        None => driver.provision(plan).await,
    }
}

fn objects_of(req: &AccessRequest) -> Vec<TargetObject> {
    req.created_objects.clone()
}

fn target_reason(e: &TargetError) -> String {
    match e {
        TargetError::Secret(s) => format!("the connector secret cannot be read: {s}"),
        TargetError::Driver(d) => d.to_string(),
        TargetError::NotBound { .. } => format!("connector_secret_not_bound: {e}"),
    }
}

/// Record which of the grant's Cloud role assignments elastic-jit holds for it: the ones this
/// grant added (directly, or carried by an invitation), and ones an earlier grant added that
/// this grant now also needs. An accepted invitation's roles are on the member like any other
/// assignment, so a later grant that finds them held shares them too.
fn share_cloud_objects(
    principal: &mut PrincipalState,
    grant_id: &str,
    plan: &GrantPlan,
    made: &[TargetObject],
) {
    let ResolvedPermission::CloudRole { role_id, .. } = &plan.permission else {
        return;
    };
    for o in made {
        if matches!(
            o,
            TargetObject::CloudRoleAssignment { .. } | TargetObject::CloudInvitation { .. }
        ) {
            principal.shared_objects.push(SharedObject {
                object: o.clone(),
                grants: vec![grant_id.to_string()],
            });
        }
    }
    for shared in &mut principal.shared_objects {
        if let TargetObject::CloudRoleAssignment {
            role_id: r,
            resource_id,
            ..
        }
        | TargetObject::CloudInvitation {
            role_id: r,
            resource_id,
            ..
        } = &shared.object
        {
            let needed = r == role_id
                && match resource_id {
                    None => true,
                    Some(id) => plan.resources.contains(id),
                };
            if needed && !shared.grants.iter().any(|g| g == grant_id) {
                shared.grants.push(grant_id.to_string());
            }
        }
    }
}
