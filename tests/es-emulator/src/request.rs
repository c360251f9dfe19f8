//! The parts of an HTTP request the handlers need, with Elasticsearch's parameter rules.

use serde_json::{Map, Value};

use crate::errors::{ApiResponse, illegal_argument, parse_exception, request_body_required};

#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    /// Raw path as sent.
    pub path: String,
    /// Raw query string, if any.
    pub query_string: Option<String>,
    /// Percent-decoded path segments.
    pub segments: Vec<String>,
    pub params: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub authorization: Option<String>,
}

/// Parameters every REST handler accepts.
const GLOBAL_PARAMS: &[&str] = &["pretty", "human", "error_trace", "filter_path", "format"];

pub fn percent_decode(s: &str, plus_as_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_as_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Req {
    pub fn new(
        method: &str,
        path: &str,
        query: Option<&str>,
        body: Vec<u8>,
        authorization: Option<String>,
    ) -> Self {
        let segments = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode(s, false))
            .collect();
        let params = query
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (percent_decode(k, true), percent_decode(v, true))
            })
            .collect();
        Req {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            query_string: query.filter(|q| !q.is_empty()).map(str::to_string),
            segments,
            params,
            body,
            authorization,
        }
    }

    /// `request.uri()`: the path plus query string, as quoted in security messages.
    pub fn uri(&self) -> String {
        match &self.query_string {
            Some(q) => format!("{}?{}", self.path, q),
            None => self.path.clone(),
        }
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Elasticsearch booleans: `true`, `false`, or empty (meaning true).
    pub fn bool_param(&self, name: &str, default: bool) -> Result<bool, ApiResponse> {
        match self.param(name) {
            None => Ok(default),
            Some("") | Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(illegal_argument(&format!(
                "Failed to parse value [{other}] as only [true] or [false] are allowed."
            ))),
        }
    }

    /// Rejects parameters the endpoint does not know, as `BaseRestHandler` does.
    pub fn allow_params(&self, allowed: &[&str]) -> Result<(), ApiResponse> {
        let mut unknown: Vec<&str> = self
            .params
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !allowed.contains(k) && !GLOBAL_PARAMS.contains(k))
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        if unknown.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = unknown.iter().map(|u| format!("[{u}]")).collect();
        let noun = if unknown.len() == 1 {
            "parameter"
        } else {
            "parameters"
        };
        Err(illegal_argument(&format!(
            "request [{}] contains unrecognized {noun}: {}",
            self.path,
            list.join(", ")
        )))
    }

    /// The JSON body, `None` when empty.
    pub fn json(&self) -> Result<Option<Value>, ApiResponse> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&self.body)
            .map(Some)
            .map_err(|e| parse_exception(&format!("Failed to parse content to map: {e}")))
    }

    pub fn json_object(&self) -> Result<Map<String, Value>, ApiResponse> {
        match self.json()? {
            None => Err(request_body_required()),
            Some(Value::Object(o)) => Ok(o),
            Some(_) => Err(parse_exception("request body must be a JSON object")),
        }
    }

    /// Body that may be absent (GET-with-body style endpoints).
    pub fn optional_object(&self) -> Result<Map<String, Value>, ApiResponse> {
        match self.json()? {
            None => Ok(Map::new()),
            Some(Value::Object(o)) => Ok(o),
            Some(_) => Err(parse_exception("request body must be a JSON object")),
        }
    }

    /// Approximate `[line:col]` of a key in the body, for `ObjectParser`-style messages.
    pub fn location_of(&self, key: &str) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let needle = format!("\"{key}\"");
        let Some(offset) = text.find(&needle) else {
            return "[1:1]".into();
        };
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = offset - before.rfind('\n').map(|p| p + 1).unwrap_or(0) + needle.len() + 1;
        format!("[{line}:{col}]")
    }
}
