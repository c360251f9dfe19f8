//! CloudFormation custom resources: `Custom::ElasticJitIntegration` and `Custom::ElasticJitFlow`
//! let a stack declare integrations and flows. They go through the same code as
//! `PUT`/`DELETE /integrations/{name}` and `/flows/{name}` (validation, connector check,
//! discovery, audit, refusals), with the stack and logical id as the audit actor.
//!
//! Every request is answered by a PUT to its `ResponseURL` — also on every failure, or the stack
//! waits for its timeout — unless that URL is not one CloudFormation gives out, in which case
//! nothing is done and nothing is contacted ([`response`]).
//!
//! The resource's `Name` property is its physical id. What a resource creates records it as its
//! owner (`managed_by`), and only that resource's requests change or delete it: Create and
//! Update refuse a name that exists and is not theirs, even with the same settings, and Delete
//! leaves such a name alone (a stack deleting what the API or another stack still declares
//! would be a surprise). An Update that changes `Name` creates the new one and answers its
//! name, and CloudFormation then deletes the old one. A failed Create answers a physical id
//! that is not a valid name, so the Delete of the rollback removes nothing.

mod properties;
pub mod response;

use std::time::{Duration, Instant};

use aws_lambda_events::cloudformation::{
    CloudFormationCustomResourceRequest, CloudFormationCustomResourceResponse,
    CloudFormationCustomResourceResponseStatus,
};
use serde_json::{Value, json};
use shared::api::ApiError;
use shared::model::{AccessFlowSpec, IntegrationSpec};
use shared::validation::{ValidationErrors, check_name};

use crate::actor::{Actor, NOT_MANAGED_BY_STACK};
use crate::{App, flows, integrations};
use properties::PropertiesError;
pub use response::{ALLOW_LOOPBACK_ENV, ResponseError, ResponseUrls};

pub const INTEGRATION_TYPE: &str = "Custom::ElasticJitIntegration";
pub const FLOW_TYPE: &str = "Custom::ElasticJitFlow";

/// Time kept back from the invocation's deadline to deliver the response.
const RESPONSE_RESERVE: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integration,
    Flow,
}

impl Kind {
    fn of(resource_type: &str) -> Option<Self> {
        match resource_type {
            INTEGRATION_TYPE => Some(Self::Integration),
            FLOW_TYPE => Some(Self::Flow),
            _ => None,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::Integration => "integration",
            Self::Flow => "flow",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Create,
    Update,
    Delete,
}

/// The fields of the three request shapes, in one place.
struct Request {
    operation: Operation,
    request_id: String,
    response_url: String,
    stack_id: String,
    logical_id: String,
    resource_type: String,
    /// Absent on Create.
    physical_id: Option<String>,
    properties: Value,
}

impl Request {
    /// `None` for a request type added to the event crate after this was written.
    fn read(r: CloudFormationCustomResourceRequest) -> Option<Self> {
        Some(match r {
            CloudFormationCustomResourceRequest::Create(c) => Self {
                operation: Operation::Create,
                request_id: c.request_id,
                response_url: c.response_url,
                stack_id: c.stack_id,
                logical_id: c.logical_resource_id,
                resource_type: c.resource_type,
                physical_id: None,
                properties: c.resource_properties,
            },
            CloudFormationCustomResourceRequest::Update(u) => Self {
                operation: Operation::Update,
                request_id: u.request_id,
                response_url: u.response_url,
                stack_id: u.stack_id,
                logical_id: u.logical_resource_id,
                resource_type: u.resource_type,
                physical_id: Some(u.physical_resource_id),
                properties: u.resource_properties,
            },
            CloudFormationCustomResourceRequest::Delete(d) => Self {
                operation: Operation::Delete,
                request_id: d.request_id,
                response_url: d.response_url,
                stack_id: d.stack_id,
                logical_id: d.logical_resource_id,
                resource_type: d.resource_type,
                physical_id: Some(d.physical_resource_id),
                properties: d.resource_properties,
            },
            _ => return None,
        })
    }
}

/// A request done: the physical id to answer, the resource's name for `Fn::GetAtt`, and what
/// was done (the response's `Reason`, shown in the stack's events; never left null).
struct Done {
    physical_id: String,
    name: Option<String>,
    note: String,
}

/// A request refused or failed: a stable code and a message fit for the stack's events (the
/// API's own messages, which never carry a secret).
struct Failure {
    code: &'static str,
    message: String,
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Self {
            code: e.code,
            message: e.message,
        }
    }
}

impl From<PropertiesError> for Failure {
    fn from(e: PropertiesError) -> Self {
        Self {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// Handle a custom resource request and answer it at its `ResponseURL`. The result is an error
/// only when no answer could be delivered (Lambda then retries the asynchronous invocation;
/// every operation here is safe to repeat).
pub async fn handle(
    app: &App,
    request: CloudFormationCustomResourceRequest,
    deadline: Option<Instant>,
) -> Result<Value, ResponseError> {
    let request = Request::read(request).ok_or(ResponseError::UnknownRequestType)?;
    let url = match app.response_urls.check(&request.response_url) {
        Ok(url) => url,
        Err(e) => {
            tracing::warn!(request_type = ?request.operation, resource_type = %request.resource_type, error = %e, "custom resource request refused: nothing done, nobody answered");
            return Err(e);
        }
    };
    let outcome = match deadline {
        None => process(app, &request).await,
        Some(deadline) => {
            let answer_by = deadline
                .checked_sub(RESPONSE_RESERVE)
                .unwrap_or_else(Instant::now);
            let work = shared::services::within_invocation(answer_by, process(app, &request));
            tokio::time::timeout_at(answer_by.into(), work)
                .await
                .unwrap_or_else(|_| {
                    Err(Failure {
                        code: "timeout",
                        message: "the operation did not finish within the function's timeout; \
                                  its outcome is in the audit log"
                            .into(),
                    })
                })
        }
    };
    let response = answer(&request, outcome);
    let status = match response.status {
        CloudFormationCustomResourceResponseStatus::Success => "SUCCESS",
        _ => "FAILED",
    };
    tracing::info!(request_type = ?request.operation, resource_type = %request.resource_type, logical_id = %request.logical_id, status, "custom resource request answered");
    app.response_urls.send(&url, &response).await?;
    Ok(json!({
        "Status": status,
        "PhysicalResourceId": response.physical_resource_id,
        "Reason": response.reason,
    }))
}

/// The response to send for `outcome`.
fn answer(
    request: &Request,
    outcome: Result<Done, Failure>,
) -> CloudFormationCustomResourceResponse {
    let mut r = CloudFormationCustomResourceResponse::default();
    r.stack_id = request.stack_id.clone();
    r.request_id = request.request_id.clone();
    r.logical_resource_id = request.logical_id.clone();
    match outcome {
        Ok(done) => {
            r.status = CloudFormationCustomResourceResponseStatus::Success;
            r.reason = Some(done.note);
            r.physical_resource_id = done.physical_id;
            if let Some(name) = done.name {
                r.data.insert("Name".into(), name);
            }
        }
        Err(failure) => {
            r.status = CloudFormationCustomResourceResponseStatus::Failed;
            r.reason = Some(format!("{}: {}", failure.code, failure.message));
            // An Update or Delete keeps the resource it was about; a failed Create answers an
            // id that names nothing, so the rollback's Delete removes nothing.
            r.physical_resource_id = request
                .physical_id
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| not_created(request));
        }
    }
    response::fit(r)
}

/// The physical id of a resource whose Create failed: never a valid name (`:` is not allowed
/// in one).
fn not_created(request: &Request) -> String {
    let id: String = request
        .request_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect();
    format!("elastic-jit:not-created:{id}")
}

async fn process(app: &App, request: &Request) -> Result<Done, Failure> {
    check_ids(request)?;
    let actor = Actor::Stack {
        stack_id: &request.stack_id,
        logical_id: &request.logical_id,
    };
    let Some(kind) = Kind::of(&request.resource_type) else {
        if request.operation == Operation::Delete {
            // Its Create failed (nothing of this type is ever made): nothing to delete.
            return Ok(Done {
                physical_id: request.physical_id.clone().unwrap_or_default(),
                name: None,
                note: "nothing to delete".into(),
            });
        }
        return Err(Failure {
            code: "unsupported_resource_type",
            message: format!(
                "this function serves {INTEGRATION_TYPE} and {FLOW_TYPE}, not {:?}",
                request.resource_type
            ),
        });
    };
    match (request.operation, &request.physical_id) {
        (Operation::Delete, Some(physical_id)) => delete(app, &actor, kind, physical_id).await,
        _ => put(app, &actor, kind, &request.properties).await,
    }
}

/// The ids that go into the audit actor and the response: what CloudFormation sends, nothing
/// an invoker could use to forge another actor or break a log line.
fn check_ids(request: &Request) -> Result<(), Failure> {
    let invalid = |what: &str| Failure {
        code: "invalid_request",
        message: format!("the request's {what} is not one CloudFormation sends"),
    };
    let printable = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_graphic())
    };
    if !(request.stack_id.starts_with("arn:") && printable(&request.stack_id, 1024)) {
        return Err(invalid("StackId"));
    }
    if !(request.logical_id.len() <= 255
        && !request.logical_id.is_empty()
        && request
            .logical_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric()))
    {
        return Err(invalid("LogicalResourceId"));
    }
    if !printable(&request.request_id, 256) {
        return Err(invalid("RequestId"));
    }
    Ok(())
}

/// What is stored under `name`, if anything: its settings as JSON (to compare with the
/// requested ones) and the custom resource that owns it.
async fn stored_spec(
    app: &App,
    kind: Kind,
    name: &str,
) -> Result<Option<(Value, Option<String>)>, ApiError> {
    let mut e = ValidationErrors::default();
    check_name(&mut e, "Name", name);
    e.into_result()?;
    let stored = match kind {
        Kind::Integration => app
            .store
            .get_integration(name)
            .await?
            .map(|i| (serde_json::to_value(i.spec), i.managed_by)),
        Kind::Flow => app
            .store
            .get_flow(name)
            .await?
            .map(|f| (serde_json::to_value(f.spec), f.managed_by)),
    };
    stored
        .map(|(spec, owner)| spec.map(|s| (s, owner)))
        .transpose()
        .map_err(|e| ApiError::internal("custom resource: encode a stored spec", &e))
}

/// Create or update what `properties` name (the API's PUT), skipped when the stored settings
/// already are the requested ones; only what this resource owns is touched.
async fn put(
    app: &App,
    actor: &Actor<'_>,
    kind: Kind,
    properties: &Value,
) -> Result<Done, Failure> {
    let (name, requested) = match kind {
        Kind::Integration => {
            let (name, spec) = properties::parse::<IntegrationSpec>(properties)?;
            (name, Spec::Integration(Box::new(spec)))
        }
        Kind::Flow => {
            let (name, spec) = properties::parse::<AccessFlowSpec>(properties)?;
            (name, Spec::Flow(Box::new(spec)))
        }
    };
    if let Some((stored, owner)) = stored_spec(app, kind, &name).await? {
        // Only what this resource created is its own, whatever its settings: taking over an
        // equal one (made through the API or by another stack) would let this stack's Delete
        // remove what its owner still declares.
        actor
            .require_owner(owner.as_deref(), kind.noun(), &name)
            .map_err(|e| Failure {
                code: "already_exists",
                message: e.message,
            })?;
        if stored == requested.to_json() {
            // Nothing changed (an Update of other properties' formatting, a retried Create, the
            // rollback of a rename): no write, no audit event.
            return Ok(Done {
                physical_id: name.clone(),
                note: format!("{} {name:?} unchanged", kind.noun()),
                name: Some(name),
            });
        }
    }
    let created = match requested {
        Spec::Integration(spec) => integrations::save(app, actor, &name, *spec).await?.created,
        Spec::Flow(spec) => flows::save(app, actor, &name, *spec).await?.1,
    };
    Ok(Done {
        physical_id: name.clone(),
        note: format!(
            "{} {name:?} {}",
            kind.noun(),
            if created { "created" } else { "updated" }
        ),
        name: Some(name),
    })
}

enum Spec {
    Integration(Box<IntegrationSpec>),
    Flow(Box<AccessFlowSpec>),
}

impl Spec {
    fn to_json(&self) -> Value {
        match self {
            Self::Integration(s) => serde_json::to_value(s),
            Self::Flow(s) => serde_json::to_value(s),
        }
        .unwrap_or(Value::Null)
    }
}

/// The API's DELETE; a physical id that is no valid name (a failed Create's) or names nothing
/// is already deleted.
async fn delete(
    app: &App,
    actor: &Actor<'_>,
    kind: Kind,
    physical_id: &str,
) -> Result<Done, Failure> {
    let done = |note: String| Done {
        physical_id: physical_id.to_string(),
        name: None,
        note,
    };
    let mut e = ValidationErrors::default();
    check_name(&mut e, "Name", physical_id);
    if e.into_result().is_err() {
        return Ok(done("nothing to delete (it was never created)".into()));
    }
    let removed = match kind {
        Kind::Integration => integrations::remove(app, actor, physical_id).await,
        Kind::Flow => flows::remove(app, actor, physical_id).await,
    };
    match removed {
        Ok(()) => Ok(done(format!("{} {physical_id:?} deleted", kind.noun()))),
        Err(e) if e.status == 404 => Ok(done(format!(
            "{} {physical_id:?} was already deleted",
            kind.noun()
        ))),
        // Not this resource's (made through the API, by another stack, or again after this one
        // was deleted): it stays, and the stack's deletion is not held up by it.
        Err(e) if e.code == NOT_MANAGED_BY_STACK => Ok(done(format!(
            "{} {physical_id:?} left alone: it is not this resource's to delete",
            kind.noun()
        ))),
        Err(e) => Err(e.into()),
    }
}
