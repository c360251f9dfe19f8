//! A development OpenID Connect provider for the local stack (never deployed).
//!
//! - discovery document (`/.well-known/openid-configuration`) and JWKS (`/jwks.json`): one RS256
//!   key generated at start;
//! - authorization-code flow with PKCE (RFC 7636, `S256` only) and a login page where one picks a
//!   demo identity ([`identities`]); redirect URIs must be loopback (RFC 8252 §7.3), so the login
//!   page cannot be used to send a code anywhere else;
//! - device authorization grant for command-line clients (RFC 8628), with `authorization_pending`
//!   and `slow_down`;
//! - refresh tokens, rotated on every use (a used refresh token is refused).
//!
//! Anyone who can reach the loopback port can log in as any demo identity: that is the point of
//! a development provider, and why it only ever binds 127.0.0.1.

pub mod client;
mod cors;
pub mod identities;
mod keys;
mod pages;
mod tokens;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};

pub use identities::{IDENTITIES, Identity};
pub use keys::SigningKey;
pub use tokens::{Claims, TokenResponse};

/// The one registered client: a public client (no secret) as the CLI, curl and the portal use.
pub const CLIENT_ID: &str = "elastic-jit-local";
/// The audience the gateway accepts (the client id, as in a Cognito or Okta set-up).
pub const AUDIENCE: &str = CLIENT_ID;

#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    #[error("identity provider key: {0}")]
    Key(String),
    #[error("identity provider: {0}")]
    Io(#[from] std::io::Error),
}

/// Lifetimes and the device flow's polling interval.
#[derive(Debug, Clone, Copy)]
pub struct IdpConfig {
    /// Access and ID token lifetime (short: a stolen token is worth little).
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub code_ttl: Duration,
    pub device_code_ttl: Duration,
    /// The minimum interval between two device-code polls (RFC 8628 §3.2 `interval`).
    pub device_interval: Duration,
}

impl Default for IdpConfig {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(8 * 3600),
            code_ttl: Duration::from_secs(60),
            device_code_ttl: Duration::from_secs(600),
            device_interval: Duration::from_secs(5),
        }
    }
}

impl IdpConfig {
    /// `IDP_ACCESS_TOKEN_TTL` (seconds) overrides the access-token lifetime.
    pub fn from_env() -> Self {
        let mut cfg = Self::default();
        if let Some(secs) = std::env::var("IDP_ACCESS_TOKEN_TTL")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|s| *s > 0)
        {
            cfg.access_token_ttl = Duration::from_secs(secs);
        }
        cfg
    }
}

pub(crate) struct AuthCode {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    identity: Identity,
    nonce: Option<String>,
    expires_at: std::time::Instant,
}

pub(crate) struct RefreshGrant {
    identity: Identity,
    client_id: String,
    expires_at: std::time::Instant,
    /// The authorization code it came from, so a replayed code can revoke it.
    code: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeviceStatus {
    Pending,
    Approved(Identity),
    Denied,
}

pub(crate) struct DeviceGrant {
    client_id: String,
    user_code: String,
    expires_at: std::time::Instant,
    interval: Duration,
    last_poll: Option<std::time::Instant>,
    status: DeviceStatus,
}

#[derive(Default)]
pub(crate) struct State {
    codes: HashMap<String, AuthCode>,
    /// Codes already exchanged: a second exchange is refused and revokes what the first issued.
    spent_codes: HashSet<String>,
    refresh: HashMap<String, RefreshGrant>,
    devices: HashMap<String, DeviceGrant>,
}

/// The provider: its issuer URL, signing key, settings and grants in flight.
pub struct Idp {
    pub issuer: String,
    pub key: SigningKey,
    pub cfg: IdpConfig,
    state: Mutex<State>,
}

impl Idp {
    pub fn new(issuer: String, cfg: IdpConfig) -> Result<Self, IdpError> {
        Ok(Self {
            issuer,
            key: SigningKey::generate()?,
            cfg,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves maps that are still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn login_url(&self) -> String {
        format!("{}/login", self.issuer)
    }

    pub fn device_url(&self) -> String {
        format!("{}/device", self.issuer)
    }

    fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/.well-known/openid-configuration", get(tokens::discovery))
            .route("/jwks.json", get(tokens::jwks))
            .route("/login", get(pages::home))
            .route(
                "/authorize",
                get(pages::authorize_page).post(pages::authorize_submit),
            )
            .route("/token", post(tokens::token))
            .route("/device_authorization", post(tokens::device_authorization))
            .route(
                "/device",
                get(pages::device_page).post(pages::device_submit),
            )
            .layer(axum::middleware::from_fn(cors::for_browser_clients))
            .with_state(self)
    }
}

/// A provider serving on a loopback port until dropped.
pub struct RunningIdp {
    pub idp: Arc<Idp>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningIdp {
    /// Bind 127.0.0.1 on a free port and serve; the issuer is `http://127.0.0.1:PORT`.
    pub async fn start(cfg: IdpConfig) -> Result<Self, IdpError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let idp = Arc::new(Idp::new(issuer, cfg)?);
        let app = idp.clone().router();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "identity provider stopped");
            }
        });
        Ok(Self { idp, task })
    }

    pub fn issuer(&self) -> &str {
        &self.idp.issuer
    }
}

impl Drop for RunningIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// 32 random bytes, base64url: codes, device codes and refresh tokens.
pub(crate) fn random_token() -> String {
    use base64::Engine;
    use rand::RngExt;
    let bytes: [u8; 32] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
