//! Incoming events: API Gateway HTTP API (payload 2.0) requests and schedule events. One
//! function may receive both, so the shape is told apart here rather than by the runtime.

use std::collections::HashMap;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::cloudformation::CloudFormationCustomResourceRequest;
use aws_lambda_events::encodings::Body;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use super::{ApiError, AuthConfig, Caller};

/// Bodies larger than this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub enum Incoming {
    Http(Box<ApiGatewayV2httpRequest>),
    /// An EventBridge schedule or rule event (`detail-type`, `source`, `detail`).
    Scheduled(serde_json::Value),
    /// A CloudFormation custom resource request (`RequestType`, `ResponseURL`, `StackId`, ...).
    /// Told apart so that only a function that serves custom resources acts on one: every
    /// other function refuses it.
    CustomResource(Box<CloudFormationCustomResourceRequest>),
    /// An EventBridge Scheduler target payload or any other direct invocation payload.
    Direct(serde_json::Value),
}

impl Incoming {
    pub fn classify(mut event: serde_json::Value) -> Result<Self, serde_json::Error> {
        let is_http = event.get("requestContext").is_some()
            && (event.get("rawPath").is_some() || event.get("routeKey").is_some());
        if is_http {
            normalize_claims(&mut event);
            return Ok(Self::Http(Box::new(serde_json::from_value(event)?)));
        }
        if event.get("detail-type").is_some() && event.get("source").is_some() {
            return Ok(Self::Scheduled(event));
        }
        let is_custom_resource = ["RequestType", "ResponseURL", "StackId"]
            .iter()
            .all(|k| event.get(k).is_some());
        if is_custom_resource {
            return Ok(Self::CustomResource(Box::new(serde_json::from_value(
                event,
            )?)));
        }
        Ok(Self::Direct(event))
    }
}

/// The typed event wants every JWT claim as a string, but an authorizer (or a test tool) may
/// hand over JSON arrays, numbers or booleans: render them as API Gateway does (`[a b]`,
/// `123`, `true`) so such an event is an ordinary request, not a function error. Identity
/// never relies on this rendering: groups are read from the token itself.
fn normalize_claims(event: &mut serde_json::Value) {
    use serde_json::Value;
    let Some(claims) = event
        .pointer_mut("/requestContext/authorizer/jwt/claims")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    claims.retain(|_, v| !v.is_null());
    for v in claims.values_mut() {
        let text = match &*v {
            Value::String(_) => continue,
            Value::Array(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            other => other.to_string(),
        };
        *v = Value::String(text);
    }
}

/// The parts of an HTTP request the handlers use.
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    body: Option<Vec<u8>>,
    claims: HashMap<String, String>,
    /// The bearer token, kept out of `headers` so no handler can log or echo it.
    authorization: Option<SecretString>,
    pub request_id: Option<String>,
}

impl ApiRequest {
    pub fn from_event(e: &ApiGatewayV2httpRequest) -> Result<Self, ApiError> {
        let body = match &e.body {
            None => None,
            Some(b) if e.is_base64_encoded => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|_| {
                        ApiError::bad_request("invalid_body", "the body is not valid base64")
                    })?,
            ),
            Some(b) => Some(b.clone().into_bytes()),
        };
        let query = e
            .raw_query_string
            .as_deref()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let mut headers: HashMap<String, String> = e
            .headers
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().ok()?.to_string(),
                ))
            })
            .collect();
        let authorization = headers.remove("authorization").map(SecretString::from);
        let claims = e
            .request_context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|j| j.claims.clone())
            .unwrap_or_default();
        Ok(Self {
            method: e.request_context.http.method.as_str().to_string(),
            path: e
                .raw_path
                .clone()
                .or_else(|| e.request_context.http.path.clone())
                .unwrap_or_default(),
            query,
            headers,
            body,
            claims,
            authorization,
            request_id: e.request_context.request_id.clone(),
        })
    }

    /// The caller: the authorizer's claims, read exactly from the bearer token they came from.
    pub fn caller(&self, cfg: &AuthConfig) -> Result<Caller, ApiError> {
        let token = self.authorization.as_ref().map(ExposeSecret::expose_secret);
        Caller::from_request(&self.claims, token, cfg)
    }

    /// Path segments, percent-decoded: `/integrations/prod/discover` → `["integrations","prod","discover"]`.
    pub fn segments(&self) -> Vec<String> {
        self.path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_else(|| s.to_string())
            })
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// Parse the JSON body into `T`, refusing oversize bodies, bad JSON, unknown fields and
    /// wrong types with distinct codes.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let bytes = self.body.as_deref().unwrap_or_default();
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ApiError::new(
                413,
                "body_too_large",
                format!(
                    "the body is {} bytes; the limit is {MAX_BODY_BYTES}",
                    bytes.len()
                ),
            ));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                "missing_body",
                "a JSON body is required",
            ));
        }
        serde_json::from_slice(bytes).map_err(|e| {
            let text = e.to_string();
            let code = if text.starts_with("unknown field") {
                "unknown_field"
            } else if e.is_data() {
                "invalid_field"
            } else {
                "invalid_json"
            };
            ApiError::bad_request(code, format!("the body could not be read: {text}"))
        })
    }

    /// The body exactly as received (a signature is checked over these bytes).
    pub fn raw_body(&self) -> &[u8] {
        self.body.as_deref().unwrap_or_default()
    }

    /// One claim of the authorizer's copy of the verified token's claims (every value a
    /// string). Only for claims that cannot be ambiguous there, such as `iat`.
    pub fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).map(String::as_str)
    }

    /// The `cursor` query parameter of a paged listing, if given.
    pub fn cursor(&self) -> Result<Option<crate::store::Cursor>, ApiError> {
        Ok(self
            .query
            .get("cursor")
            .map(|c| crate::store::Cursor::parse(c))
            .transpose()?)
    }

    /// A query parameter as a page size within `1..=max`.
    pub fn limit(&self, default: i32, max: i32) -> Result<i32, ApiError> {
        match self.query.get("limit") {
            None => Ok(default),
            Some(v) => v
                .parse::<i32>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_parameter",
                        format!("limit must be a whole number from 1 to {max}"),
                    )
                }),
        }
    }
}

pub fn json_response(status: u16, body: &serde_json::Value) -> ApiGatewayV2httpResponse {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(status);
    response.headers = headers;
    response.body = Some(Body::Text(body.to_string()));
    response
}

pub fn no_content() -> ApiGatewayV2httpResponse {
    let mut r = json_response(204, &serde_json::Value::Null);
    r.body = None;
    r
}

impl ApiError {
    pub fn response(&self) -> ApiGatewayV2httpResponse {
        json_response(self.status, &self.body())
    }
}

/// Turn a handler's result into the response, logging refusals and failures (never bodies).
pub fn respond(
    result: Result<ApiGatewayV2httpResponse, ApiError>,
    req: &ApiRequest,
) -> ApiGatewayV2httpResponse {
    match result {
        Ok(r) => r,
        Err(e) => {
            if e.status >= 500 {
                tracing::error!(status = e.status, code = e.code, method = %req.method, path = %req.path, request_id = ?req.request_id, "request failed");
            } else {
                tracing::info!(status = e.status, code = e.code, method = %req.method, path = %req.path, request_id = ?req.request_id, "request refused");
            }
            e.response()
        }
    }
}

/// A function's HTTP side: where its callers' groups come from, and its route dispatch.
#[async_trait::async_trait]
pub trait Routes: Sync {
    fn auth(&self) -> &AuthConfig;
    async fn dispatch(
        &self,
        req: &ApiRequest,
        caller: &Caller,
    ) -> Result<ApiGatewayV2httpResponse, ApiError>;
}

/// An HTTP API event through `app`: identity from the JWT claims, dispatch, logged response.
pub async fn serve<R: Routes + ?Sized>(
    app: &R,
    event: &ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse {
    match ApiRequest::from_event(event) {
        Ok(req) => {
            let result = match req.caller(app.auth()) {
                Ok(caller) => app.dispatch(&req, &caller).await,
                Err(e) => Err(e),
            };
            respond(result, &req)
        }
        Err(e) => e.response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn custom_resource(request_type: &str) -> serde_json::Value {
        json!({
            "RequestType": request_type,
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:discover",
            "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
            "RequestId": "r-1",
            "ResourceType": "Custom::ElasticJitFlow",
            "LogicalResourceId": "Flow",
            "PhysicalResourceId": "flow",
            "ResourceProperties": {"Name": "flow"},
            "OldResourceProperties": {"Name": "flow"}
        })
    }

    #[test]
    fn custom_resource_requests_are_told_apart_from_direct_payloads() {
        for t in ["Create", "Update", "Delete"] {
            assert!(
                matches!(
                    Incoming::classify(custom_resource(t)),
                    Ok(Incoming::CustomResource(_))
                ),
                "{t}"
            );
        }
        // Without a ResponseURL nobody could be answered: not a custom resource request.
        let mut partial = custom_resource("Create");
        partial.as_object_mut().unwrap().remove("ResponseURL");
        assert!(matches!(
            Incoming::classify(partial),
            Ok(Incoming::Direct(_))
        ));
        // A request type CloudFormation never sends is an error, not a direct payload.
        assert!(Incoming::classify(custom_resource("Adopt")).is_err());
    }
}
