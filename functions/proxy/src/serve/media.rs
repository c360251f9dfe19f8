//! Request bodies the proxy forwards: JSON and NDJSON only, the two it can read as the cluster
//! will. Elasticsearch would also take SMILE, CBOR and YAML bodies, which the engine cannot
//! inspect (a `_bulk` in CBOR would pass unread), and with no `Content-Type` it refuses a body
//! itself. What is refused gets Elasticsearch's own answer for an unsupported content type:
//! `406 {"error":"Content-Type header [..] is not supported","status":406}`
//! (`RestController#sendContentTypeErrorMessage`).
//!
//! Accepted, as Elasticsearch's media-type registry parses them (type, subtype and parameter
//! names case-insensitive, whitespace around `;` and `=` ignored):
//! `application/json` and `application/x-ndjson` with an optional `charset=utf-8`, and
//! `application/vnd.elasticsearch+json` / `+x-ndjson` with `compatible-with=<major>` (what the
//! official clients send) and an optional `charset=utf-8`. Anything else, a header sent twice,
//! or an unknown parameter is refused. Hand-written: the `mime` crate parses but does not know
//! Elasticsearch's parameter rules, which are the point here.

use http::HeaderMap;

use crate::text::clip;

/// The body kinds forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    NdJson,
}

/// Why a body's declared type is refused; `body()` is Elasticsearch's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The header value(s) as sent, `None` when absent.
    pub sent: Option<String>,
}

impl Unsupported {
    pub const STATUS: u16 = 406;

    pub fn reason(&self) -> String {
        match &self.sent {
            None => "Content-Type header is missing".to_string(),
            Some(v) => format!("Content-Type header [{}] is not supported", clip(v, 256)),
        }
    }

    pub fn body(&self) -> String {
        serde_json::json!({"error": self.reason(), "status": Self::STATUS}).to_string()
    }
}

/// The declared body kind, checked only when there is a body (a bodiless request's
/// `Content-Type` means nothing to the cluster, and is not forwarded).
pub fn body_kind(headers: &HeaderMap) -> Result<BodyKind, Unsupported> {
    let values: Vec<&http::HeaderValue> =
        headers.get_all(http::header::CONTENT_TYPE).iter().collect();
    let sent = || {
        Some(
            values
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect::<Vec<_>>()
                .join(","),
        )
    };
    let [value] = values.as_slice() else {
        return Err(Unsupported {
            sent: if values.is_empty() { None } else { sent() },
        });
    };
    value
        .to_str()
        .ok()
        .and_then(parse)
        .ok_or_else(|| Unsupported { sent: sent() })
}

fn parse(value: &str) -> Option<BodyKind> {
    let mut parts = value.split(';');
    let essence = parts.next()?.trim().to_ascii_lowercase();
    let (kind, vendor) = match essence.as_str() {
        "application/json" => (BodyKind::Json, false),
        "application/x-ndjson" => (BodyKind::NdJson, false),
        "application/vnd.elasticsearch+json" => (BodyKind::Json, true),
        "application/vnd.elasticsearch+x-ndjson" => (BodyKind::NdJson, true),
        _ => return None,
    };
    let (mut charset, mut compatible) = (false, false);
    for p in parts {
        let (name, v) = p.split_once('=')?;
        let v = v.trim().trim_matches('"');
        match name.trim().to_ascii_lowercase().as_str() {
            "charset" if !charset && v.eq_ignore_ascii_case("utf-8") => charset = true,
            "compatible-with"
                if vendor
                    && !compatible
                    && !v.is_empty()
                    && v.len() <= 3
                    && v.bytes().all(|b| b.is_ascii_digit()) =>
            {
                compatible = true
            }
            _ => return None,
        }
    }
    // Elasticsearch requires the version on its vendor types.
    (!vendor || compatible).then_some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(http::header::CONTENT_TYPE, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn json_and_ndjson_as_clients_send_them_are_accepted() {
        for (v, kind) in [
            ("application/json", BodyKind::Json),
            ("Application/JSON; charset=UTF-8", BodyKind::Json),
            ("application/x-ndjson", BodyKind::NdJson),
            (
                "application/vnd.elasticsearch+json; compatible-with=8",
                BodyKind::Json,
            ),
            (
                "application/vnd.elasticsearch+json;compatible-with=9",
                BodyKind::Json,
            ),
            (
                "application/vnd.elasticsearch+x-ndjson; compatible-with=8; charset=utf-8",
                BodyKind::NdJson,
            ),
        ] {
            assert_eq!(body_kind(&headers(&[v])), Ok(kind), "{v}");
        }
    }

    #[test]
    fn every_other_body_type_is_refused_as_elasticsearch_does() {
        for v in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/smile",
            "application/cbor",
            "application/yaml",
            "application/json; charset=latin1",
            "application/json; compatible-with=8",
            "application/json; charset=utf-8; charset=utf-8",
            "application/json; evil=1",
            "application/json;",
            "application/vnd.elasticsearch+json",
            "application/vnd.elasticsearch+json; compatible-with=x",
            "application/vnd.elasticsearch+json; compatible-with=8; compatible-with=7",
            "application/jsonx",
            "",
        ] {
            let refused = body_kind(&headers(&[v])).expect_err(v);
            assert_eq!(
                refused.body(),
                format!(r#"{{"error":"Content-Type header [{v}] is not supported","status":406}}"#)
            );
        }
        let missing = body_kind(&HeaderMap::new()).unwrap_err();
        assert_eq!(
            missing.body(),
            r#"{"error":"Content-Type header is missing","status":406}"#
        );
        // Two headers: the cluster and the proxy might each believe a different one.
        let twice = body_kind(&headers(&["application/json", "application/cbor"])).unwrap_err();
        assert_eq!(
            twice.reason(),
            "Content-Type header [application/json,application/cbor] is not supported"
        );
        // A long value is not echoed whole.
        let long = format!("text/{}", "x".repeat(10_000));
        assert!(body_kind(&headers(&[&long])).unwrap_err().body().len() < 400);
    }
}
