//! `grant_allows` in `GET /requests/{id}`: what the grant will allow on its target, as the
//! role descriptor the driver will create and in words, and, for the people deciding a pending
//! Elasticsearch request, what each of its names stands for on the cluster now.
//!
//! Why only deciders trigger the live read: the names are fixed when the request is made (from
//! discovered resources inside the integration's selection, aliases already replaced), and the
//! read asks for exactly those names, so it cannot be steered to other indices; but a data
//! stream's backing indices, or the indices of an alias that took a granted name's place, may
//! lie outside what the requester could list. Those are for the approver to judge, not for the
//! requester to enumerate; and a requester polling their own request must not turn it into a
//! stream of cluster reads. Everyone who may see the request sees the role itself.

use std::time::Duration;

use serde_json::Value;
use shared::api::{ApiError, Caller};
use shared::grant_scope::{GrantScope, Resolution};
use shared::model::{AccessRequest, Integration, RequestStatus};
use shared::policy::can_decide;

use crate::{App, views};

/// How long a request's read waits for the cluster; the request's answer does not wait longer.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn grant_allows(
    app: &App,
    caller: &Caller,
    r: &AccessRequest,
) -> Result<Value, ApiError> {
    // A bundle's parent grants nothing itself (its children do, each shown on its own) and
    // names no integration.
    if r.bundle.is_some() || r.integration.is_empty() {
        return Ok(Value::Null);
    }
    let Some(integration) = app.services.store.get_integration(&r.integration).await? else {
        return Ok(Value::Null);
    };
    let Some(scope) = GrantScope::of(r, &integration) else {
        return Ok(Value::Null);
    };
    let resolution = match scope {
        GrantScope::Elasticsearch { .. } => Some(resolution(app, caller, r, &integration).await),
        GrantScope::ElasticCloud { .. } => None,
    };
    Ok(views::grant_allows(&scope, resolution.as_ref()))
}

async fn resolution(
    app: &App,
    caller: &Caller,
    r: &AccessRequest,
    integration: &Integration,
) -> Resolution {
    if r.status != RequestStatus::Pending {
        return Resolution::NotRead {
            reason: "the cluster is read only while the request waits for a decision".into(),
        };
    }
    if !(caller.is_admin || can_decide(r, &caller.identity)) {
        return Resolution::NotRead {
            reason: "the cluster is read only for the people who may decide the request".into(),
        };
    }
    let read = async {
        let driver = app.services.targets.driver(integration).await?;
        Ok::<_, shared::targets::TargetError>(driver.resolve_names(&r.resources).await?)
    };
    match tokio::time::timeout(RESOLVE_TIMEOUT, read).await {
        Ok(Ok(names)) => Resolution::Live {
            read_at: app.services.clock.now(),
            names,
        },
        Ok(Err(e)) => {
            tracing::warn!(request = %r.id, error = %e, "resolving a grant's names");
            Resolution::Unavailable {
                reason: format!("the cluster could not be read now: {e}"),
            }
        }
        Err(_) => Resolution::Unavailable {
            reason: "the cluster did not answer in time".into(),
        },
    }
}
