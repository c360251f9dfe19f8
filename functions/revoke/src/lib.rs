//! The revoke function: `POST /requests/{id}/revoke`, and the one-time EventBridge Scheduler
//! event sent at a grant's expiry.
#![forbid(unsafe_code)]

/// Revoking a bundle: every child's grant.
mod bundle;

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use serde::Deserialize;
use serde_json::json;
use shared::api::{
    ApiError, ApiRequest, AuthConfig, Caller, Incoming, Route, json_response, match_route,
};
use shared::config::{CommonConfig, required};
use shared::model::AccessRequest;
use shared::revocation::{Cause, Outcome, RevokeError, RevokeRetry, Revoker};
use shared::scheduler::{EXPIRY_SOURCE, ExpiryEvent, SchedulerConfig};
use shared::services::Services;
use shared::validation::{TextKind, ValidationErrors, check_text};

/// The HTTP routes this function serves.
pub const ROUTES: &[Route] = &[Route {
    method: "POST",
    path: "/requests/{id}/revoke",
}];

pub struct App {
    pub services: Services,
    pub auth: AuthConfig,
    pub retry: RevokeRetry,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    #[serde(default)]
    reason: Option<String>,
}

impl App {
    /// Environment: TABLE_NAME, ADMIN_GROUP, GROUPS_CLAIM, CREDENTIAL_SECRET_PREFIX, SCHEDULE_GROUP.
    pub async fn from_env() -> Result<Self, lambda_runtime::Error> {
        let cfg = CommonConfig::from_env()?;
        Ok(Self {
            services: Services::from_env(SchedulerConfig::deleting_only(required(
                "SCHEDULE_GROUP",
            )?))
            .await?,
            auth: cfg.auth,
            retry: RevokeRetry::default(),
        })
    }

    pub fn revoker(&self) -> Revoker<'_> {
        self.services.revoker(self.retry, "revoke")
    }

    /// Handle `event` within the invocation's `deadline` (see [`shared::services::within_invocation`]).
    pub async fn handle_within(
        &self,
        event: serde_json::Value,
        deadline: std::time::Instant,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        // Boxed for the same reason as provision's: a large future held inline.
        shared::services::within_invocation(deadline, Box::pin(self.handle(event))).await
    }

    pub async fn handle(
        &self,
        event: serde_json::Value,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        match Incoming::classify(event)? {
            Incoming::Http(e) => Ok(serde_json::to_value(shared::api::serve(self, &e).await)?),
            Incoming::CustomResource(_) => Err(
                "revoke accepts API events and expiry events, not CloudFormation custom resources"
                    .into(),
            ),
            Incoming::Direct(v) | Incoming::Scheduled(v) => {
                let expiry: ExpiryEvent = serde_json::from_value(v).map_err(|e| {
                    format!("revoke accepts API events and expiry events {{source, grant_id}}: {e}")
                })?;
                if expiry.source != EXPIRY_SOURCE {
                    return Err(format!("unexpected event source {:?}", expiry.source).into());
                }
                // An error here makes Scheduler retry; the sweep is the backstop either way.
                let outcome = self.revoker().revoke(&expiry.grant_id, Cause::Expiry).await;
                match outcome {
                    Ok(o) => {
                        Ok(json!({ "grant_id": expiry.grant_id, "outcome": outcome_name(&o) }))
                    }
                    Err(RevokeError::NotFound(id)) => {
                        tracing::warn!(grant_id = %id, "expiry event for an unknown grant");
                        Ok(json!({ "grant_id": id, "outcome": "unknown_grant" }))
                    }
                    Err(e) => Err(e.to_string().into()),
                }
            }
        }
    }
}

impl App {
    /// A break-glass grant has no approvers: its integration's owners, who review it, may end
    /// it too.
    async fn owns_break_glass(&self, r: &AccessRequest, caller: &Caller) -> Result<bool, ApiError> {
        if r.break_glass.is_none() {
            return Ok(false);
        }
        Ok(self
            .services
            .store
            .get_integration(&r.integration)
            .await?
            .is_some_and(|i| caller.identity.matches_any(&i.spec.integration_owners)))
    }
}

/// The requester, an approver of the request, or an admin. The requester and past deciders
/// are recognised by person (issuer and `sub`), never by a label two people may share.
fn may_revoke(r: &AccessRequest, caller: &Caller) -> bool {
    caller.is_admin
        || r.requester.same_person(&caller.identity)
        || r.approval_steps
            .iter()
            .any(|s| caller.identity.matches_any(&s.approvers))
        || r.decisions.iter().any(|d| d.is_by(&caller.identity))
}

fn outcome_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Done(_) => "revoked",
        Outcome::Unchanged(_) => "unchanged",
        Outcome::Failed(_) => "revoke_failed",
    }
}

/// The request as the revoke route answers it (the contract test checks it against
/// infra/openapi.yaml): the record without its concurrency version, nor the proxy
/// credential's hashes (a revoke that failed leaves them on the record).
pub fn view(r: &AccessRequest) -> serde_json::Value {
    let mut v = r.view_json();
    if let Some(m) = v.as_object_mut() {
        m.remove("version");
        // The sweep's bookkeeping (when the requester was told the grant ends soon).
        m.remove("expiry_warned_at");
        m.remove("key_renewal");
    }
    v
}

#[async_trait::async_trait]
impl shared::api::Routes for App {
    fn auth(&self) -> &AuthConfig {
        &self.auth
    }

    async fn dispatch(
        &self,
        req: &ApiRequest,
        caller: &Caller,
    ) -> Result<ApiGatewayV2httpResponse, ApiError> {
        let (_, params) = match_route(ROUTES, &req.method, &req.segments())?;
        let id = params.first().map(String::as_str).unwrap_or_default();
        let body: RevokeBody = match req.json() {
            Ok(b) => b,
            Err(e) if e.code == "missing_body" => RevokeBody::default(),
            Err(e) => return Err(e),
        };
        let reason = body
            .reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        if let Some(r) = &reason {
            let mut e = ValidationErrors::default();
            check_text(&mut e, "reason", r, TextKind::FreeText);
            e.into_result().map_err(ApiError::from)?;
        }
        if reason.as_ref().is_some_and(|r| r.chars().count() > 1000) {
            return Err(ApiError::bad_request(
                "reason_too_long",
                "reason may be at most 1000 characters",
            ));
        }
        let request = self
            .services
            .store
            .get_request(id)
            .await?
            .ok_or_else(|| ApiError::not_found("request", id))?;
        if !may_revoke(&request, caller) && !self.owns_break_glass(&request, caller).await? {
            return Err(ApiError::not_found("request", id));
        }
        if request.bundle.is_some() {
            let done = bundle::revoke(self, request, caller, reason).await?;
            if done.provisioning {
                return Err(ApiError::new(
                    409,
                    "bundle_provisioning",
                    "a grant of this bundle is being provisioned right now; the others are \
                     revoked: retry in a moment to revoke it too",
                )
                .with_details(done.view));
            }
            return Ok(json_response(
                if done.all_done { 200 } else { 202 },
                &done.view,
            ));
        }
        let cause = Cause::Manual {
            by: caller.actor(),
            reason,
        };
        match self.revoker().revoke_request(request, cause, None).await {
            Ok(Outcome::Done(r) | Outcome::Unchanged(r)) => Ok(json_response(200, &view(&r))),
            Ok(Outcome::Failed(r)) => Ok(json_response(202, &view(&r))),
            Err(RevokeError::NotActive(s)) => Err(ApiError::new(
                409,
                "not_active",
                format!(
                    "the request is {s}; only active grants can be revoked (reject a pending request instead)"
                ),
            )),
            Err(RevokeError::NotFound(id)) => Err(ApiError::not_found("request", &id)),
            Err(RevokeError::Store(e)) => Err(e.into()),
            Err(RevokeError::Grant(e)) => Err(e.into()),
        }
    }
}
