//! The machine-facing endpoints: discovery, JWKS, the token endpoint (authorization code with
//! PKCE, refresh token, device code) and the device authorization endpoint.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Form;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{
    AuthCode, CLIENT_ID, DeviceGrant, DeviceStatus, Identity, Idp, IdpError, RefreshGrant,
    random_token,
};

/// The claims of every token this provider issues (access and ID tokens alike; `token_use`
/// tells them apart). `groups` is a JSON array, as most identity providers issue it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub auth_time: i64,
    pub jti: String,
    pub client_id: String,
    pub token_use: String,
    pub scope: String,
    pub name: String,
    pub preferred_username: String,
    pub email: String,
    pub email_verified: bool,
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// A successful token response (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3). Its `Debug`
/// leaves the tokens out: a failed test's message must not print a usable bearer token.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub id_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: u64,
    pub scope: String,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("id_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

const SCOPE: &str = "openid profile email";

impl Idp {
    /// The claims of a token for `who`, issued now, valid for the configured lifetime.
    pub fn claims_for(&self, who: Identity, token_use: &str, nonce: Option<String>) -> Claims {
        let now = chrono::Utc::now().timestamp();
        let ttl = i64::try_from(self.cfg.access_token_ttl.as_secs()).unwrap_or(i64::MAX / 2);
        Claims {
            iss: self.issuer.clone(),
            sub: who.sub.into(),
            aud: super::AUDIENCE.into(),
            exp: now.saturating_add(ttl),
            iat: now,
            nbf: now,
            auth_time: now,
            jti: uuid::Uuid::new_v4().to_string(),
            client_id: CLIENT_ID.into(),
            token_use: token_use.into(),
            scope: SCOPE.into(),
            name: who.name.into(),
            preferred_username: who.login.into(),
            email: who.email.into(),
            email_verified: who.email_verified,
            groups: who.groups.iter().map(|g| g.to_string()).collect(),
            nonce,
        }
    }

    /// An access token for `who`, signed with the provider's key (tests and the demo use this
    /// only through the real flows; it is public for tests that need a token with odd claims).
    pub fn sign(&self, claims: &Claims) -> Result<String, IdpError> {
        self.key.sign(claims)
    }

    fn issue(
        &self,
        who: Identity,
        client_id: &str,
        nonce: Option<String>,
        code: Option<String>,
    ) -> Result<TokenResponse, IdpError> {
        let access_token = self.sign(&self.claims_for(who, "access", None))?;
        let id_token = self.sign(&self.claims_for(who, "id", nonce))?;
        let refresh_token = random_token();
        self.state().refresh.insert(
            refresh_token.clone(),
            RefreshGrant {
                identity: who,
                client_id: client_id.into(),
                expires_at: Instant::now() + self.cfg.refresh_token_ttl,
                code,
            },
        );
        Ok(TokenResponse {
            access_token,
            id_token,
            refresh_token,
            token_type: "Bearer".into(),
            expires_in: self.cfg.access_token_ttl.as_secs(),
            scope: SCOPE.into(),
        })
    }
}

pub async fn discovery(State(idp): State<Arc<Idp>>) -> Json<Value> {
    let i = &idp.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "device_authorization_endpoint": format!("{i}/device_authorization"),
        "jwks_uri": format!("{i}/jwks.json"),
        "response_types_supported": ["code"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code"
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": ["openid", "profile", "email"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "name", "preferred_username",
            "email", "email_verified", "groups"
        ]
    }))
}

pub async fn jwks(State(idp): State<Arc<Idp>>) -> Json<Value> {
    Json(json!({ "keys": [idp.key.jwk()] }))
}

/// An OAuth error response (RFC 6749 §5.2; RFC 8628 §3.5 adds the device codes).
pub(crate) fn oauth_error(code: &str, description: impl Into<String>) -> Response {
    let mut r = (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": code, "error_description": description.into() })),
    )
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn tokens_response(t: TokenResponse) -> Response {
    let mut r = Json(t).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn server_error(e: IdpError) -> Response {
    tracing::error!(error = %e, "identity provider failed to issue tokens");
    oauth_error("server_error", "the provider could not issue tokens")
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
pub(crate) fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// RFC 7636 §4.2 `S256`: BASE64URL(SHA256(ASCII(code_verifier))).
pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub async fn token(
    State(idp): State<Arc<Idp>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if field("client_id") != CLIENT_ID {
        return oauth_error("invalid_client", "unknown client_id");
    }
    match field("grant_type") {
        "authorization_code" => exchange_code(
            &idp,
            field("code"),
            field("redirect_uri"),
            field("code_verifier"),
        ),
        "refresh_token" => refresh(&idp, field("refresh_token")),
        "urn:ietf:params:oauth:grant-type:device_code" => poll_device(&idp, field("device_code")),
        "" => oauth_error("invalid_request", "grant_type is required"),
        _ => oauth_error(
            "unsupported_grant_type",
            "use authorization_code, refresh_token or urn:ietf:params:oauth:grant-type:device_code",
        ),
    }
}

fn exchange_code(idp: &Idp, code: &str, redirect_uri: &str, verifier: &str) -> Response {
    let grant = {
        let mut st = idp.state();
        if st.spent_codes.contains(code) {
            // RFC 6749 §4.1.2: a code used twice is refused, and what it issued is revoked.
            st.refresh.retain(|_, g| g.code.as_deref() != Some(code));
            return oauth_error(
                "invalid_grant",
                "the authorization code was already used; its tokens are revoked",
            );
        }
        match st.codes.remove(code) {
            Some(g) => {
                st.spent_codes.insert(code.to_string());
                g
            }
            None => return oauth_error("invalid_grant", "unknown or expired authorization code"),
        }
    };
    let AuthCode {
        client_id,
        redirect_uri: bound_uri,
        challenge,
        identity,
        nonce,
        expires_at,
    } = grant;
    if Instant::now() > expires_at {
        return oauth_error("invalid_grant", "the authorization code has expired");
    }
    if redirect_uri != bound_uri {
        return oauth_error(
            "invalid_grant",
            "redirect_uri differs from the authorization request's",
        );
    }
    if !valid_verifier(verifier) {
        return oauth_error(
            "invalid_grant",
            "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
        );
    }
    if s256(verifier) != challenge {
        return oauth_error(
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        );
    }
    match idp.issue(identity, &client_id, nonce, Some(code.to_string())) {
        Ok(t) => tokens_response(t),
        Err(e) => server_error(e),
    }
}

fn refresh(idp: &Idp, token: &str) -> Response {
    // Rotation: the presented token is spent whether or not it is still valid.
    let grant = idp.state().refresh.remove(token);
    let Some(grant) = grant else {
        return oauth_error("invalid_grant", "unknown, used or revoked refresh token");
    };
    if Instant::now() > grant.expires_at {
        return oauth_error("invalid_grant", "the refresh token has expired");
    }
    match idp.issue(grant.identity, &grant.client_id, None, grant.code) {
        Ok(t) => tokens_response(t),
        Err(e) => server_error(e),
    }
}

/// RFC 8628 §3.4/§3.5: pending, slow_down (the interval grows by 5 s), denied, expired, or the
/// tokens (once: the device code is spent).
fn poll_device(idp: &Idp, device_code: &str) -> Response {
    let now = Instant::now();
    let approved = {
        let mut st = idp.state();
        let Some(d) = st.devices.get_mut(device_code) else {
            return oauth_error("invalid_grant", "unknown or spent device_code");
        };
        if now > d.expires_at {
            st.devices.remove(device_code);
            return oauth_error("expired_token", "the device code has expired; start again");
        }
        let too_soon = d
            .last_poll
            .is_some_and(|t| now.duration_since(t) < d.interval);
        d.last_poll = Some(now);
        if too_soon {
            d.interval += Duration::from_secs(5);
            return oauth_error(
                "slow_down",
                format!("poll at most every {} seconds", d.interval.as_secs()),
            );
        }
        match d.status {
            DeviceStatus::Pending => {
                return oauth_error(
                    "authorization_pending",
                    "the user has not yet approved this device",
                );
            }
            DeviceStatus::Denied => {
                st.devices.remove(device_code);
                return oauth_error("access_denied", "the user denied the request");
            }
            DeviceStatus::Approved(who) => {
                let client = d.client_id.clone();
                st.devices.remove(device_code);
                (who, client)
            }
        }
    };
    match idp.issue(approved.0, &approved.1, None, None) {
        Ok(t) => tokens_response(t),
        Err(e) => server_error(e),
    }
}

/// RFC 8628 §3.1/§3.2.
pub async fn device_authorization(
    State(idp): State<Arc<Idp>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return oauth_error("invalid_client", "unknown client_id");
    }
    let device_code = random_token();
    let user_code = user_code();
    idp.state().devices.insert(
        device_code.clone(),
        DeviceGrant {
            client_id: CLIENT_ID.into(),
            user_code: user_code.clone(),
            expires_at: Instant::now() + idp.cfg.device_code_ttl,
            interval: idp.cfg.device_interval,
            last_poll: None,
            status: DeviceStatus::Pending,
        },
    );
    let uri = idp.device_url();
    let mut r = Json(json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": uri,
        "verification_uri_complete": format!("{uri}?user_code={user_code}"),
        "expires_in": idp.cfg.device_code_ttl.as_secs(),
        "interval": idp.cfg.device_interval.as_secs(),
    }))
    .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// RFC 8628 §6.1: eight characters from 20 consonants (no vowels, no look-alikes), `XXXX-XXXX`.
fn user_code() -> String {
    use rand::RngExt;
    const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let mut rng = rand::rng();
    let chars: String = (0..8)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

/// `ABCD-EFGH`, `abcdefgh`, `abcd efgh` are the same code (RFC 8628 §6.1).
pub(crate) fn normalise_user_code(s: &str) -> String {
    let c: String = s
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if c.len() == 8 {
        format!("{}-{}", &c[..4], &c[4..])
    } else {
        c
    }
}

impl Idp {
    /// The pending device grant for a user code, approved as `who` (or denied with `None`).
    pub(crate) fn decide_device(
        &self,
        user_code: &str,
        who: Option<Identity>,
    ) -> Result<(), &'static str> {
        let code = normalise_user_code(user_code);
        let mut st = self.state();
        let d = st
            .devices
            .values_mut()
            .find(|d| d.user_code == code)
            .ok_or("unknown code: check it and try again")?;
        if Instant::now() > d.expires_at {
            return Err("this code has expired: start again on your device");
        }
        if d.status != DeviceStatus::Pending {
            return Err("this code was already used");
        }
        d.status = match who {
            Some(w) => DeviceStatus::Approved(w),
            None => DeviceStatus::Denied,
        };
        Ok(())
    }

    /// Record an authorization code for a validated request; returns the code.
    pub(crate) fn new_code(
        &self,
        client_id: &str,
        redirect_uri: &str,
        challenge: &str,
        identity: Identity,
        nonce: Option<String>,
    ) -> String {
        let code = random_token();
        self.state().codes.insert(
            code.clone(),
            AuthCode {
                client_id: client_id.into(),
                redirect_uri: redirect_uri.into(),
                challenge: challenge.into(),
                identity,
                nonce,
                expires_at: Instant::now() + self.cfg.code_ttl,
            },
        );
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_outside_the_grammar_are_refused() {
        assert!(valid_verifier(&"a".repeat(43)));
        assert!(!valid_verifier(&"a".repeat(42)));
        assert!(!valid_verifier(&"a".repeat(129)));
        assert!(!valid_verifier(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn user_codes_normalise() {
        assert_eq!(normalise_user_code("bcdf ghjk"), "BCDF-GHJK");
        assert_eq!(normalise_user_code("BCDF-GHJK"), "BCDF-GHJK");
        let c = user_code();
        assert_eq!(normalise_user_code(&c), c);
    }
}
