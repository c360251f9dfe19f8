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
use crate::store::{GrantRecords, Lease, Store, StoreError};
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
        match self.lease(integration, name, holder, Some(owner)).await? {
            Some(p) => Ok(p),
            None => Err(GrantError::PrincipalBusy(name.into())),
        }
    }

    /// Take the lease on an account if it exists (revoke never creates one): one conditional
    /// update that returns the account, no read before it.
    pub async fn lease_existing(
        &self,
        integration: &str,
        name: &str,
        holder: &str,
    ) -> Result<Option<PrincipalState>, GrantError> {
        self.lease(integration, name, holder, None).await
    }

    /// The lease loop: wait for another holder's lease (within the invocation's time), create
    /// the account's item for `create`'s owner when it does not exist.
    async fn lease(
        &self,
        integration: &str,
        name: &str,
        holder: &str,
        create: Option<&Person>,
    ) -> Result<Option<PrincipalState>, GrantError> {
        let started = std::time::Instant::now();
        let mut delay = StdDuration::from_millis(25);
        loop {
            let now = self.clock.now();
            let until = now + LEASE;
            match self
                .store
                .lease_principal(integration, name, holder, now, until)
                .await
            {
                Ok(Lease::Taken(p)) => return Ok(Some(p)),
                Ok(Lease::Held(_)) => {
                    // Waiting past the invocation's deadline would leave nothing recorded.
                    let no_time = time_left().is_some_and(|left| left < delay * 2);
                    if started.elapsed() > LEASE_WAIT || no_time {
                        return Err(GrantError::PrincipalBusy(name.into()));
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(StdDuration::from_millis(500));
                }
                Ok(Lease::Absent) => {
                    let Some(owner) = create else {
                        return Ok(None);
                    };
                    let mut next = PrincipalState::owned_by(integration, name, owner, now);
                    next.lock_owner = Some(holder.to_string());
                    next.lock_until = Some(until);
                    match self.store.save_principal(&next, None, &[]).await {
                        Ok(saved) => return Ok(Some(saved)),
                        Err(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(StoreError::Conflict { .. }) => {}
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
    pub async fn provision(&self, req: AccessRequest) -> Result<AccessRequest, GrantError> {
        if req.extends.is_some() {
            return self.apply_extension_request(req).await;
        }
        let records = self
            .store
            .grant_records(&req.integration, Some(&req.flow), None)
            .await?;
        let prepared = match self.prepare(&req, records).await {
            Ok(p) => p,
            Err(reason) => return self.fail(req, reason, vec![]).await,
        };
        let principal = match self
            .lock_principal_of(
                &prepared.integration.name,
                &prepared.account,
                &req.requester.person(),
                &req.id,
            )
            .await
        {
            Ok(p) => p,
            Err(e @ GrantError::AccountOwned(_)) => {
                let reason = format!("{ACCOUNT_OWNED}: {e}");
                return self.fail(req, reason, vec![]).await;
            }
            Err(e) => return Err(e),
        };
        self.provision_prepared(req, prepared, principal).await
    }

    /// Record the decision that moves a request to `approved` (`approved`, read at version
    /// `expected`, with its `audit`) and provision it, in four DynamoDB calls with the read of
    /// the request before it: the integration, flow and account are read together (the
    /// account's name was recorded when the request was made), the approval and the account's
    /// lease commit in one transaction, and the outcome and the lease's release in another.
    /// Anything unusual (the account busy or owned by someone else, a changed configuration, a
    /// request recorded before account names were) takes the general path: the approval alone,
    /// then [`Self::provision`]. A request that changed since it was read is
    /// [`StoreError::Conflict`] on the request: nothing was written, the caller decides again.
    pub async fn approve_and_provision(
        &self,
        approved: AccessRequest,
        expected: u64,
        audit: &[AuditEvent],
    ) -> Result<AccessRequest, GrantError> {
        // An approved extension moves its grant's end: nothing is provisioned for it.
        if approved.extends.is_some() {
            let stored = self
                .store
                .update_request(&approved, expected, audit)
                .await?;
            return self.apply_extension_request(stored).await;
        }
        let hint = recorded_account(&approved);
        let records = match &hint {
            Some(account) => {
                self.store
                    .grant_records(&approved.integration, Some(&approved.flow), Some(account))
                    .await?
            }
            None => GrantRecords::default(),
        };
        let now = self.clock.now();
        let owner = approved.requester.person();
        let principal = records.principal.clone();
        let fast = match self.prepare(&approved, records).await {
            Ok(p) if hint.as_deref() == Some(p.account.as_str()) => match principal {
                None => Some((p, None)),
                Some(current)
                    if current.is_owned_by(&owner)
                        && !current.is_locked_by_other(&approved.id, now) =>
                {
                    Some((p, Some(current)))
                }
                Some(_) => None,
            },
            _ => None,
        };
        let Some((prepared, current)) = fast else {
            let stored = self
                .store
                .update_request(&approved, expected, audit)
                .await?;
            return self.provision(stored).await;
        };
        let expected_principal = current.as_ref().map(|p| p.version);
        let mut leased = current.unwrap_or_else(|| {
            PrincipalState::owned_by(&prepared.integration.name, &prepared.account, &owner, now)
        });
        if leased.owner_issuer.is_none() {
            leased.owner_issuer = owner.issuer.clone();
        }
        leased.lock_owner = Some(approved.id.clone());
        leased.lock_until = Some(now + LEASE);
        match self
            .store
            .update_request_and_principal(&approved, expected, &leased, expected_principal, audit)
            .await
        {
            Ok((stored, locked)) => self.provision_prepared(stored, prepared, locked).await,
            // The account changed under us: the approval alone, then the general path.
            Err(StoreError::Conflict {
                entity: "principal",
                ..
            }) => {
                let stored = self
                    .store
                    .update_request(&approved, expected, audit)
                    .await?;
                self.provision(stored).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// What provisioning needs besides the account, or why the request must fail.
    async fn prepare(
        &self,
        req: &AccessRequest,
        records: GrantRecords,
    ) -> Result<Prepared, String> {
        let Some(integration) = records.integration else {
            return Err("the integration no longer exists".into());
        };
        let Some(flow) = records.flow else {
            return Err("the access flow no longer exists".into());
        };
        let Some(permission) = integration.resolve_permission(&req.permission) else {
            return Err(format!(
                "permission {:?} is no longer offered",
                req.permission
            ));
        };
        let driver = self
            .targets
            .driver(&integration)
            .await
            .map_err(|e| target_reason(&e))?;
        let account = principal_name(&integration, &req.requester)?;
        Ok(Prepared {
            integration,
            mode: flow.spec.credential_mode,
            permission,
            driver,
            account,
        })
    }

    async fn provision_prepared(
        &self,
        mut req: AccessRequest,
        prepared: Prepared,
        principal: PrincipalState,
    ) -> Result<AccessRequest, GrantError> {
        let outcome = self
            .provision_locked(
                &mut req,
                &prepared.integration,
                prepared.mode,
                prepared.permission,
                prepared.driver.as_ref(),
                principal,
            )
            .await;
        match outcome {
            Ok(r) => Ok(r),
            Err((reason, leftovers, Some(principal))) => {
                self.fail_releasing(req, reason, leftovers, principal).await
            }
            Err((reason, leftovers, None)) => self.fail(req, reason, leftovers).await,
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
        // A scheduled request's duration counts from its requested start, not from when the
        // schedule (or the sweep behind it) got to it; any other starts now.
        let start = req.starts_at.unwrap_or(now);
        let ends_at = start + req.duration();
        if ends_at <= now {
            return Err((
                "the requested access window ended before it could be provisioned".into(),
                vec![],
                Some(principal),
            ));
        }
        // A proxy integration has no account on the cluster: no role, no password.
        let es = integration.kind() == IntegrationKind::Elasticsearch && !integration.is_proxy();
        let cloud = integration.kind() == IntegrationKind::ElasticCloud;
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
        if let Some(issued) = &made.proxy {
            req.key_secret_unsettled = true;
            if let Err(e) = self.store_proxy_secret(integration, &req.id, issued).await {
                return Err((
                    format!("cannot store the grant's proxy credential: {e}"),
                    vec![],
                    Some(principal),
                ));
            }
        }
        if cloud {
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
        let expected = req.version;
        // What the failure path records if the write below does not land.
        let approved = req.clone();
        req.key_secret_unsettled = false;
        // Its hashes commit with the grant turning active, in the same conditional write.
        req.proxy_credential = made.proxy.as_ref().map(|p| p.record.clone());
        req.starts_at = Some(start);
        req.ends_at = Some(ends_at);
        req.created_objects = made.objects;
        if req.transition(RequestStatus::Active, now).is_err() {
            self.release_after_grant(principal, &req.id).await;
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
        // The grant and the account's new state (lease released) commit together.
        let principal_expected = principal.version;
        let mut released = principal.clone();
        released.lock_owner = None;
        released.lock_until = None;
        released.updated_at = now;
        let together = self
            .store
            .update_request_and_principal(
                req,
                expected,
                &released,
                Some(principal_expected),
                std::slice::from_ref(&audit),
            )
            .await;
        let recorded = match together {
            Ok((stored, _)) => Ok(stored),
            Err(e) => match self
                .applied(&req.id, expected, RequestStatus::Active, &audit.id)
                .await
            {
                // The transaction applied and only its answer was lost.
                Some(stored) => Ok(stored),
                // The account's state is saved on its own (it is what the target holds now),
                // and the request's record is tried once more by itself.
                None => {
                    tracing::warn!(grant_id = %req.id, error = %e, "grant and account not recorded together; recording them one by one");
                    self.release_after_grant(principal, &req.id).await;
                    self.store.update_request(req, expected, &[audit]).await
                }
            },
        };
        match recorded {
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
                req.key_secret_unsettled = made.credential.is_some() || made.proxy.is_some();
                Err((
                    format!("grant made but its record could not be saved: {e}"),
                    leftovers,
                    None,
                ))
            }
        }
    }

    /// The request as stored, if a write that failed to answer (a timeout, a dropped
    /// connection) did apply: it moved from `expected` to the next version, in `status`, and
    /// carries this write's own audit event `event_id` (another writer's commit of the same
    /// move, such as a schedule and the sweep both expiring a grant, is not this one's).
    pub async fn applied(
        &self,
        id: &str,
        expected: u64,
        status: RequestStatus,
        event_id: &str,
    ) -> Option<AccessRequest> {
        match self.store.get_request(id).await {
            Ok(Some(r))
                if r.version == expected + 1
                    && r.status == status
                    && r.history.iter().any(|e| e.id == event_id) =>
            {
                Some(r)
            }
            _ => None,
        }
    }

    /// Save the account after a grant changed it and release its lease, when the grant's
    /// record could not commit with it.
    async fn release_after_grant(&self, principal: PrincipalState, grant_id: &str) {
        if let Err(e) = self.unlock_principal(principal, &[]).await {
            tracing::error!(grant_id = %grant_id, error = %e, "principal state not saved after provisioning");
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
            key_names: vec![],
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
        let expected = req.version;
        match self.failed_outcome(&mut req, reason, leftovers) {
            Some(audit) => Ok(self.store.update_request(&req, expected, &[audit]).await?),
            None => Ok(req),
        }
    }

    /// Record a failed provision and release the account's lease in one transaction: after a
    /// target failure the invocation has only [`crate::services::RECORD_RESERVE`] left, and
    /// one write is half the round trips of two (and never leaves the lease released with the
    /// outcome unrecorded).
    async fn fail_releasing(
        &self,
        req: AccessRequest,
        reason: String,
        leftovers: Vec<TargetObject>,
        principal: PrincipalState,
    ) -> Result<AccessRequest, GrantError> {
        let expected = req.version;
        let mut failed = req;
        let Some(audit) = self.failed_outcome(&mut failed, reason, leftovers) else {
            self.unlock_principal(principal, &[]).await?;
            return Ok(failed);
        };
        let principal_expected = principal.version;
        let mut released = principal.clone();
        released.lock_owner = None;
        released.lock_until = None;
        released.updated_at = self.clock.now();
        let together = self
            .store
            .update_request_and_principal(
                &failed,
                expected,
                &released,
                Some(principal_expected),
                std::slice::from_ref(&audit),
            )
            .await;
        match together {
            Ok((stored, _)) => Ok(stored),
            Err(e) => {
                if let Some(stored) = self
                    .applied(&failed.id, expected, RequestStatus::Failed, &audit.id)
                    .await
                {
                    return Ok(stored);
                }
                tracing::warn!(grant_id = %failed.id, error = %e, "failure and lease release not recorded together; recording them one by one");
                self.unlock_principal(principal, &[]).await?;
                Ok(self
                    .store
                    .update_request(&failed, expected, &[audit])
                    .await?)
            }
        }
    }

    /// Move `req` to failed and return the audit event recording it; `None`, with `req`
    /// unchanged, when it can no longer fail (another writer moved it on).
    fn failed_outcome(
        &self,
        req: &mut AccessRequest,
        reason: String,
        leftovers: Vec<TargetObject>,
    ) -> Option<AuditEvent> {
        let now = self.clock.now();
        if req.transition(RequestStatus::Failed, now).is_err() {
            return None;
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
        Some(audit)
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

    /// The proxy credential's plaintext, for the requester to read once through the
    /// credentials endpoint; the grant's record keeps only its hashes.
    async fn store_proxy_secret(
        &self,
        integration: &Integration,
        grant_id: &str,
        issued: &crate::proxy_credentials::IssuedProxyCredential,
    ) -> Result<(), SecretsError> {
        let name = grant_secret_name(&self.cfg.secret_prefix, &integration.name, grant_id);
        let value = SecretValue::new(
            json!({
                "username": issued.username,
                "password": issued.password.expose(),
                "id": issued.key_id,
                "api_key": issued.encoded_key().expose(),
            })
            .to_string(),
        );
        self.secrets
            .create(
                &name,
                &value,
                "elastic-jit grant proxy credential",
                &[("managed-by", "elastic-jit"), ("grant-id", grant_id)],
            )
            .await
            .map(|_| ())
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

/// What provisioning needs besides the account's lease.
struct Prepared {
    integration: Integration,
    mode: CredentialMode,
    permission: ResolvedPermission,
    driver: Box<dyn Driver>,
    /// The account's name on the target.
    account: String,
}

/// The detail of the `request.created` audit event that records the account a grant will
/// land on, so the approval can read the account with the integration in one round trip.
pub const ACCOUNT_DETAIL: &str = "account";

/// The account recorded when the request was made (none on requests made before it was).
fn recorded_account(req: &AccessRequest) -> Option<String> {
    req.history
        .iter()
        .find(|e| e.action == "request.created")
        .and_then(|e| e.details.get(ACCOUNT_DETAIL))
        .and_then(|v| v.as_str())
        .map(str::to_string)
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
