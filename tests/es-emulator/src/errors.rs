//! Response values and the Elasticsearch error bodies the emulator produces.
//!
//! Every error carries the exact `{"error":{"root_cause":[..],"type","reason"},"status"}`
//! shape, because client code is expected to branch on `error.type` and `status`.

use serde_json::{Map, Value, json};

/// One HTTP answer: status, JSON body (or none for HEAD) and extra headers.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(String, String)>,
    /// Send `body` (a JSON string) as `text/plain`, for the `_cat` text format.
    pub plain_text: bool,
}

/// Handlers return `Err` with a ready-made error response so `?` works throughout.
pub type ApiResult = Result<ApiResponse, ApiResponse>;

impl ApiResponse {
    pub fn ok(body: Value) -> Self {
        Self::new(200, body)
    }

    pub fn new(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
            headers: Vec::new(),
            plain_text: false,
        }
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            body: None,
            headers: Vec::new(),
            plain_text: false,
        }
    }
}

/// Builds an error whose root cause repeats the top-level cause, as Elasticsearch does
/// for single-cause failures.
pub fn es_error(status: u16, kind: &str, reason: &str, extra: Map<String, Value>) -> ApiResponse {
    let mut cause = Map::new();
    cause.insert("type".into(), Value::String(kind.into()));
    cause.insert("reason".into(), Value::String(reason.into()));
    cause.extend(extra);
    let root = Value::Object(cause.clone());
    let mut error = Map::new();
    error.insert("root_cause".into(), Value::Array(vec![root]));
    error.extend(cause);
    ApiResponse::new(
        status,
        json!({ "error": Value::Object(error), "status": status }),
    )
}

fn simple(status: u16, kind: &str, reason: &str) -> ApiResponse {
    es_error(status, kind, reason, Map::new())
}

/// `Validation Failed: 1: a;2: b;` — the numbering format shared by both validation types.
pub fn validation_reason(errors: &[String]) -> String {
    let mut reason = String::from("Validation Failed: ");
    for (i, e) in errors.iter().enumerate() {
        reason.push_str(&format!("{}: {};", i + 1, e));
    }
    reason
}

/// `ActionRequestValidationException`: request `validate()` failures.
pub fn action_validation(errors: &[String]) -> ApiResponse {
    simple(
        400,
        "action_request_validation_exception",
        &validation_reason(errors),
    )
}

/// `ValidationException`: password rules and the native store's own checks.
pub fn validation_exception(error: &str) -> ApiResponse {
    simple(
        400,
        "validation_exception",
        &validation_reason(&[error.to_string()]),
    )
}

pub fn illegal_argument(reason: &str) -> ApiResponse {
    simple(400, "illegal_argument_exception", reason)
}

pub fn parse_exception(reason: &str) -> ApiResponse {
    simple(400, "parse_exception", reason)
}

/// Errors from Elasticsearch's `ObjectParser`, used by the API-key request parsers.
pub fn x_content_parse(reason: &str) -> ApiResponse {
    simple(400, "x_content_parse_exception", reason)
}

pub fn forbidden(reason: &str) -> ApiResponse {
    simple(403, "security_exception", reason)
}

/// The `WWW-Authenticate` values of an 8.17 cluster with the default realms, in its order.
pub const WWW_AUTHENTICATE: [&str; 3] = [
    "Basic realm=\"security\", charset=\"UTF-8\"",
    "Bearer realm=\"security\"",
    "ApiKey",
];

/// 401 with the challenge both in the body (`header`) and as HTTP headers.
pub fn unauthorized(reason: &str, extra: Map<String, Value>) -> ApiResponse {
    let mut fields = extra;
    fields.insert(
        "header".into(),
        json!({ "WWW-Authenticate": WWW_AUTHENTICATE }),
    );
    let mut resp = es_error(401, "security_exception", reason, fields);
    for v in WWW_AUTHENTICATE {
        resp.headers
            .push(("WWW-Authenticate".into(), v.to_string()));
    }
    resp
}

pub fn index_not_found(name: &str) -> ApiResponse {
    let mut extra = Map::new();
    extra.insert("resource.type".into(), json!("index_or_alias"));
    extra.insert("resource.id".into(), json!(name));
    extra.insert("index_uuid".into(), json!("_na_"));
    extra.insert("index".into(), json!(name));
    es_error(
        404,
        "index_not_found_exception",
        &format!("no such index [{name}]"),
        extra,
    )
}

/// Answer for a path no Elasticsearch REST handler serves.
pub fn no_handler(uri: &str, method: &str) -> ApiResponse {
    ApiResponse::new(
        400,
        json!({ "error": format!("no handler found for uri [{uri}] and method [{method}]") }),
    )
}

pub fn method_not_allowed(uri: &str, method: &str, allowed: &[&str]) -> ApiResponse {
    let mut resp = ApiResponse::new(
        405,
        json!({
            "error": format!(
                "Incorrect HTTP method for uri [{uri}] and method [{method}], allowed: [{}]",
                allowed.join(", ")
            ),
            "status": 405
        }),
    );
    resp.headers.push(("Allow".into(), allowed.join(",")));
    resp
}

pub fn request_body_required() -> ApiResponse {
    parse_exception("request body is required")
}
