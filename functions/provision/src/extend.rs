//! `POST /requests/{id}/extend`: the requester moves their active grant's end, within what its
//! flow's `extension` allows.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use serde::Deserialize;
use shared::api::{ApiError, ApiRequest, Caller, json_response};
use shared::extension::{ExtendAsk, policy_of};
use shared::model::parse_duration;
use shared::validation::{TextKind, ValidationErrors, check_text};

use crate::{App, requests, views};

const MAX_JUSTIFICATION: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtendBody {
    /// How much to add to the grant's current end.
    duration: String,
    #[serde(default)]
    justification: Option<String>,
}

pub async fn extend(
    app: &App,
    caller: &Caller,
    id: &str,
    req: &ApiRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let body: ExtendBody = req.json()?;
    let mut e = ValidationErrors::default();
    check_text(&mut e, "duration", &body.duration, TextKind::Label);
    let justification = body
        .justification
        .map(|j| j.trim().to_string())
        .filter(|j| !j.is_empty());
    if let Some(j) = &justification {
        check_text(&mut e, "justification", j, TextKind::FreeText);
    }
    e.into_result().map_err(ApiError::from)?;
    if justification
        .as_ref()
        .is_some_and(|j| j.chars().count() > MAX_JUSTIFICATION)
    {
        return Err(ApiError::bad_request(
            "justification_too_long",
            format!("justification may be at most {MAX_JUSTIFICATION} characters"),
        ));
    }
    let add = parse_duration(&body.duration).map_err(|e| {
        ApiError::bad_request("invalid_duration", format!("duration is not valid: {e}"))
    })?;
    let grant = requests::load(app, id).await?;
    // Only the requester, by person: an approver or an administrator who may read the grant is
    // told so; anyone else is told it does not exist.
    if !grant.requester.same_person(&caller.identity) {
        if requests::visible(&grant, caller) {
            return Err(ApiError::new(
                403,
                "forbidden",
                "only the requester may extend their grant",
            ));
        }
        return Err(ApiError::not_found("request", id));
    }
    let flow = app.services.store.get_flow(&grant.flow).await?;
    let policy = policy_of(flow.as_ref())?;
    if flow.as_ref().is_some_and(|f| f.spec.require_justification) && justification.is_none() {
        return Err(ApiError::bad_request(
            "justification_required",
            "this access flow requires a justification for an extension",
        ));
    }
    let ask = ExtendAsk {
        by: caller.actor(),
        add,
        justification,
    };
    let policy = policy.clone();
    let stored = app.services.grants().extend(grant, &ask).await?;
    Ok(json_response(
        200,
        &views::request_with_extension(&stored, &caller.identity, Some(&policy)),
    ))
}
