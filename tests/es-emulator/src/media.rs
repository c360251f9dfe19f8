//! Request and response media types, as Elasticsearch's `RestController` and
//! `RestCompatibleVersionHelper` treat them (elastic/elasticsearch
//! `server/src/main/java/org/elasticsearch/rest/RestController.java`,
//! `sendContentTypeErrorMessage`; `.../rest/RestCompatibleVersionHelper.java`).
//!
//! - A body whose `Content-Type` is not a JSON-family type Elasticsearch parses is refused with
//!   406 `{"error":"Content-Type header [..] is not supported","status":406}`.
//! - `application/vnd.elasticsearch+json; compatible-with=N` (what the official 8.x/9.x clients
//!   send) is accepted for N = 8 or 9, and the answer then carries the same versioned type.

use serde_json::{Map, json};

use crate::errors::{ApiResponse, es_error};

const CURRENT_MAJOR: u8 = 9;
const MINIMUM_COMPATIBLE_MAJOR: u8 = 8;

/// What the answer's `Content-Type` must be, when it is not plain `application/json`.
pub struct Negotiated {
    pub compatible_with: Option<u8>,
}

struct MediaType {
    essence: String,
    compatible_with: Option<Result<u8, ()>>,
}

fn parse(header: &str) -> MediaType {
    let mut parts = header.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let mut compatible_with = None;
    for p in parts {
        if let Some((k, v)) = p.split_once('=')
            && k.trim().eq_ignore_ascii_case("compatible-with")
        {
            compatible_with = Some(v.trim().parse::<u8>().map_err(|_| ()));
        }
    }
    MediaType {
        essence,
        compatible_with,
    }
}

/// The body formats Elasticsearch's REST layer parses (`XContentType`), plain and versioned.
fn supported(essence: &str) -> bool {
    matches!(
        essence,
        "application/json"
            | "application/x-ndjson"
            | "application/smile"
            | "application/cbor"
            | "application/yaml"
            | "application/vnd.elasticsearch+json"
            | "application/vnd.elasticsearch+x-ndjson"
            | "application/vnd.elasticsearch+smile"
            | "application/vnd.elasticsearch+cbor"
            | "application/vnd.elasticsearch+yaml"
    )
}

fn simple_error(status: u16, reason: String) -> ApiResponse {
    ApiResponse::new(status, json!({"error": reason, "status": status}))
}

fn status_exception(reason: String) -> ApiResponse {
    es_error(400, "status_exception", &reason, Map::new())
}

fn version_of(media: &MediaType, which: &str, header: &str) -> Result<Option<u8>, ApiResponse> {
    match media.compatible_with {
        None => Ok(None),
        Some(Ok(v)) if v == CURRENT_MAJOR || v == MINIMUM_COMPATIBLE_MAJOR => Ok(Some(v)),
        Some(v) => Err(status_exception(format!(
            "{which} version must be either version {CURRENT_MAJOR} or {MINIMUM_COMPATIBLE_MAJOR}, but found {}. {which}={header}",
            v.map(|v| v.to_string())
                .unwrap_or_else(|()| "an invalid version".into())
        ))),
    }
}

pub fn negotiate(
    content_type: Option<&str>,
    accept: Option<&str>,
    has_body: bool,
) -> Result<Negotiated, ApiResponse> {
    let mut content_version = None;
    if has_body {
        let Some(ct) = content_type else {
            return Err(simple_error(406, "Content-Type header is missing".into()));
        };
        let media = parse(ct);
        if !supported(&media.essence) {
            return Err(simple_error(
                406,
                format!("Content-Type header [{ct}] is not supported"),
            ));
        }
        content_version = version_of(&media, "Content-Type", ct)?;
    }
    let accept_version = match accept {
        Some(a) => version_of(&parse(a), "Accept", a)?,
        None => None,
    };
    if has_body
        && (content_version.is_some() || accept_version.is_some())
        && content_version != accept_version
        && accept_version.is_some()
    {
        return Err(status_exception(format!(
            "A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version and the compatible versions must match. Accept={}, Content-Type={}",
            accept.unwrap_or(""),
            content_type.unwrap_or("")
        )));
    }
    Ok(Negotiated {
        compatible_with: accept_version.or(content_version),
    })
}

impl Negotiated {
    /// The answer's JSON content type.
    pub fn json_content_type(&self) -> String {
        match self.compatible_with {
            Some(v) => format!("application/vnd.elasticsearch+json;compatible-with={v}"),
            None => "application/json".into(),
        }
    }
}
