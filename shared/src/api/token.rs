//! The bearer token's payload. The API Gateway JWT authorizer has already checked its
//! signature, issuer, audience and lifetime; this only decodes the claims (base64url JSON, RFC
//! 7519 §3) so they can be read exactly. A JWT library would add a signature backend for no
//! use here: nothing is verified, and the token is bound to the authorizer's verified claims by
//! the caller.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use super::ApiError;

pub type TokenClaims = Map<String, Value>;

/// Tokens larger than this are refused (API Gateway caps headers far below it anyway).
const MAX_TOKEN_BYTES: usize = 16 * 1024;

const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn invalid() -> ApiError {
    ApiError::new(
        401,
        "invalid_token",
        "the Authorization header does not carry a readable bearer token",
    )
}

/// The claims of `Bearer <header>.<payload>.<signature>`.
pub fn payload(authorization: &str) -> Result<TokenClaims, ApiError> {
    let value = authorization.trim();
    let (scheme, jwt) = value.split_once(' ').ok_or_else(invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") || jwt.len() > MAX_TOKEN_BYTES {
        return Err(invalid());
    }
    let mut parts = jwt.trim().split('.');
    let (Some(_), Some(body), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let bytes = BASE64URL.decode(body).map_err(|_| invalid())?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(claims)) => Ok(claims),
        _ => Err(invalid()),
    }
}

/// A scalar claim as API Gateway's claims map renders it: strings as they are, numbers and
/// booleans in their JSON form.
pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
