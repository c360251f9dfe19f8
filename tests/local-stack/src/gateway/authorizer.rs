//! The HTTP API's JWT authorizer, as API Gateway runs it ("Control access to HTTP APIs with JWT
//! authorizers", docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html):
//!
//! 1. the identity source (`$request.header.Authorization`) holds the token, alone or prefixed
//!    with `Bearer`;
//! 2. decode it; 3. check the algorithm (RSA only) and the signature with the key from the
//!    issuer's `jwks_uri` whose `kid` matches;
//! 4. check the claims: `iss` equals the configured issuer; `aud` (or `client_id` when there is no
//!    `aud`) is one of the configured audiences; `exp` is in the future; `nbf` and `iat`, if
//!    present, are in the past.
//!
//! A failure answers `401 {"message":"Unauthorized"}` with a `www-authenticate` header naming the
//! reason ("Troubleshooting issues with HTTP API JWT authorizers", same guide).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// Why a token was refused: the text API Gateway puts in `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No token in the identity source (RFC 6750 §3.1: the challenge carries no error code).
    #[error("no token")]
    Missing,
    #[error("{0}")]
    Invalid(String),
}

impl Denied {
    fn invalid(s: &str) -> Self {
        Self::Invalid(s.into())
    }

    /// The `www-authenticate` value API Gateway sends with the 401.
    pub fn challenge(&self) -> String {
        match self {
            Self::Missing => "Bearer".into(),
            Self::Invalid(d) => format!(
                "Bearer scope=\"\" error=\"invalid_token\" error_description=\"{}\"",
                d.replace('"', "'")
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthorizerError {
    #[error("fetching the issuer's {what}: {message}")]
    Fetch { what: &'static str, message: String },
}

pub struct JwtAuthorizer {
    pub issuer: String,
    pub audiences: Vec<String>,
    jwks_uri: String,
    keys: RwLock<HashMap<String, DecodingKey>>,
    http: reqwest::Client,
}

impl JwtAuthorizer {
    /// Discover the issuer's `jwks_uri` (OpenID Connect Discovery) and load its keys.
    pub async fn discover(issuer: &str, audiences: Vec<String>) -> Result<Self, AuthorizerError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| AuthorizerError::Fetch {
                what: "configuration",
                message: e.to_string(),
            })?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let doc: Value = fetch_json(&http, &url, "discovery document").await?;
        let jwks_uri = doc["jwks_uri"]
            .as_str()
            .ok_or_else(|| AuthorizerError::Fetch {
                what: "discovery document",
                message: "no jwks_uri".into(),
            })?
            .to_string();
        let me = Self {
            issuer: issuer.to_string(),
            audiences,
            jwks_uri,
            keys: RwLock::new(HashMap::new()),
            http,
        };
        me.refresh_keys().await?;
        Ok(me)
    }

    async fn refresh_keys(&self) -> Result<(), AuthorizerError> {
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(
            fetch_json(&self.http, &self.jwks_uri, "JWKS").await?,
        )
        .map_err(|e| AuthorizerError::Fetch {
            what: "JWKS",
            message: e.to_string(),
        })?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            if let (Some(kid), Ok(key)) = (&jwk.common.key_id, DecodingKey::from_jwk(jwk)) {
                keys.insert(kid.clone(), key);
            }
        }
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
        Ok(())
    }

    fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(kid)
            .cloned()
    }

    /// Validate the `Authorization` header's token; its claims when valid.
    pub async fn authorize(&self, header: Option<&str>) -> Result<Map<String, Value>, Denied> {
        let raw = header.map(str::trim).unwrap_or("");
        let token = raw
            .strip_prefix("Bearer ")
            .or_else(|| raw.strip_prefix("bearer "))
            .unwrap_or(raw)
            .trim();
        if token.is_empty() {
            return Err(Denied::Missing);
        }
        let head = jsonwebtoken::decode_header(token)
            .map_err(|_| Denied::invalid("the token is malformed"))?;
        if !matches!(
            head.alg,
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
        ) {
            return Err(Denied::invalid(
                "the token's signing algorithm is not supported",
            ));
        }
        let kid = head
            .kid
            .ok_or_else(|| Denied::invalid("the token has no kid"))?;
        let key = match self.key(&kid) {
            Some(k) => k,
            None => {
                // A rotated key: fetch the set once more before refusing.
                if self.refresh_keys().await.is_err() {
                    return Err(Denied::invalid("the issuer's keys could not be fetched"));
                }
                self.key(&kid)
                    .ok_or_else(|| Denied::invalid("the token's kid is not in the issuer's JWKS"))?
            }
        };
        let mut v = Validation::new(head.alg);
        v.leeway = 0;
        v.set_issuer(&[&self.issuer]);
        v.set_required_spec_claims(&["exp", "iss"]);
        v.validate_nbf = true;
        // aud or client_id is checked below, as API Gateway does.
        v.validate_aud = false;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &v).map_err(|e| {
            Denied::invalid(match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet",
                ErrorKind::InvalidIssuer => "the token does not have a valid issuer",
                ErrorKind::InvalidSignature => "the token signature is invalid",
                ErrorKind::MissingRequiredClaim(_) => "the token is missing a required claim",
                _ => "the token is malformed",
            })
        })?;
        let claims = data.claims;
        let now = chrono::Utc::now().timestamp();
        if claims
            .get("iat")
            .and_then(Value::as_i64)
            .is_some_and(|iat| iat > now)
        {
            return Err(Denied::invalid("the token was issued in the future"));
        }
        if !self.audience_ok(&claims) {
            return Err(Denied::invalid("the token does not have a valid audience"));
        }
        Ok(claims)
    }

    /// `aud` (a string or an array) must name a configured audience; `client_id` counts only
    /// when there is no `aud`.
    fn audience_ok(&self, claims: &Map<String, Value>) -> bool {
        let ok = |s: &str| self.audiences.iter().any(|a| a == s);
        match claims.get("aud") {
            Some(Value::String(a)) => ok(a),
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).any(ok),
            Some(_) => false,
            None => claims
                .get("client_id")
                .and_then(Value::as_str)
                .is_some_and(ok),
        }
    }
}

async fn fetch_json(
    http: &reqwest::Client,
    url: &str,
    what: &'static str,
) -> Result<Value, AuthorizerError> {
    let r = http
        .get(url)
        .send()
        .await
        .map_err(|e| AuthorizerError::Fetch {
            what,
            message: e.to_string(),
        })?;
    if !r.status().is_success() {
        return Err(AuthorizerError::Fetch {
            what,
            message: format!("{url} answered {}", r.status()),
        });
    }
    r.json().await.map_err(|e| AuthorizerError::Fetch {
        what,
        message: e.to_string(),
    })
}
