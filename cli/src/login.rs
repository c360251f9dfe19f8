//! Signing in against the provider the discovery document names, with the `oauth2` crate over
//! the workspace's reqwest client (redirects off: a token endpoint that redirects is refused):
//! in a browser (authorization code with PKCE S256 through a loopback redirect, RFC 8252), or
//! with the device authorization grant (RFC 8628); and refreshing the access token.
//!
//! Neither flow asks for or checks an ID token (so no `nonce`): the CLI uses only the access
//! token, which the API verifies on every call; what `whoami` shows is read from it for display.

use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, DeviceAuthorizationUrl, PkceCodeChallenge,
    RedirectUrl, RefreshToken, Scope, StandardDeviceAuthorizationResponse, TokenResponse, TokenUrl,
};
use serde::Deserialize;

use crate::error::{CliError, Result};
use crate::loopback::{Loopback, Outcome, printable};
use crate::settings::Settings;
use crate::tokens::Tokens;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The provider's endpoints (OpenID Connect Discovery 1.0).
#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    token_endpoint: String,
    authorization_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
}

/// The scopes both flows ask for (the access token then carries email and groups).
const SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// The browser sign-in's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Browser {
    /// Open the address in the default browser (else only print it).
    pub open: bool,
    /// The loopback port; 0: any free one (RFC 8252 §7.3 lets the port vary).
    pub port: u16,
    pub timeout: Duration,
}

/// How `login` signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Authorization code with PKCE through a loopback redirect.
    Browser(Browser),
    Device,
}

impl Flow {
    /// The flow the flags ask for, else the browser where one can open on this machine and the
    /// device flow elsewhere (over SSH or without a desktop a loopback redirect would reach the
    /// wrong machine, while a device code works from any browser). Not opening the browser
    /// (`--no-open`) means the browser flow with the address printed only.
    pub fn choose(
        browser: bool,
        device: bool,
        b: Browser,
        env: impl Fn(&str) -> Option<String>,
    ) -> Self {
        if device {
            return Self::Device;
        }
        if browser || !b.open || desktop(env) {
            return Self::Browser(b);
        }
        Self::Device
    }
}

/// Whether a browser on this machine is likely to open: a graphical session that is not reached
/// over SSH.
fn desktop(env: impl Fn(&str) -> Option<String>) -> bool {
    let set = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    if set("SSH_CONNECTION") || set("SSH_TTY") {
        return false;
    }
    cfg!(any(target_os = "macos", target_os = "windows"))
        || set("DISPLAY")
        || set("WAYLAND_DISPLAY")
}

pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| CliError::config(format!("HTTP client: {e}")))
}

async fn send(
    client: &reqwest::Client,
    req: oauth2::HttpRequest,
) -> std::result::Result<oauth2::HttpResponse, HttpError> {
    let (parts, body) = req.into_parts();
    let resp = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| HttpError(e.to_string()))?;
    let mut out = http::Response::builder().status(resp.status());
    if let Some(h) = out.headers_mut() {
        *h = resp.headers().clone();
    }
    let bytes = resp.bytes().await.map_err(|e| HttpError(e.to_string()))?;
    out.body(bytes.to_vec())
        .map_err(|e| HttpError(e.to_string()))
}

async fn discover(client: &reqwest::Client, issuer: &str) -> Result<Discovery> {
    let url = format!("{issuer}/.well-known/openid-configuration");
    let unreachable = |e: reqwest::Error| {
        CliError::Unreachable(format!("identity provider {issuer} unreachable: {e}"))
    };
    let r = client.get(&url).send().await.map_err(unreachable)?;
    if !r.status().is_success() {
        return Err(CliError::NotSignedIn(format!(
            "{url} answered {}: is {issuer} the issuer?",
            r.status()
        )));
    }
    let d: Discovery = r.json().await.map_err(unreachable)?;
    // The document must be the issuer's own (OIDC Discovery §4.3).
    if d.issuer.trim_end_matches('/') != issuer {
        return Err(CliError::NotSignedIn(format!(
            "the discovery document names issuer {} instead of {issuer}",
            d.issuer
        )));
    }
    crate::settings::checked_url("token endpoint", &d.token_endpoint)?;
    Ok(d)
}

fn tokens_from(t: &oauth2::basic::BasicTokenResponse, previous_refresh: Option<String>) -> Tokens {
    let lifetime = t.expires_in().unwrap_or(Duration::from_secs(300));
    Tokens {
        access_token: t.access_token().secret().clone(),
        refresh_token: t
            .refresh_token()
            .map(|r| r.secret().clone())
            .or(previous_refresh),
        expires_at: chrono::Utc::now().timestamp() + lifetime.as_secs() as i64,
    }
}

fn token_url(d: &Discovery) -> Result<TokenUrl> {
    TokenUrl::new(d.token_endpoint.clone())
        .map_err(|e| CliError::config(format!("token endpoint: {e}")))
}

/// The device flow: print where to go and the code, then wait for the person to approve.
pub async fn device_login(settings: &Settings) -> Result<Tokens> {
    let client = http_client()?;
    let d = discover(&client, &settings.issuer).await?;
    let device_url = d.device_authorization_endpoint.clone().ok_or_else(|| {
        CliError::NotSignedIn(format!(
            "{} offers no device authorization endpoint",
            settings.issuer
        ))
    })?;
    crate::settings::checked_url("device authorization endpoint", &device_url)?;
    let oauth = BasicClient::new(ClientId::new(settings.client_id.clone()))
        .set_token_uri(token_url(&d)?)
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(device_url)
                .map_err(|e| CliError::config(format!("device endpoint: {e}")))?,
        );
    let http = |req| send(&client, req);
    let details: StandardDeviceAuthorizationResponse = oauth
        .exchange_device_code()
        .add_scopes(SCOPES.map(|s| Scope::new(s.into())))
        .request_async(&http)
        .await
        .map_err(|e| CliError::NotSignedIn(format!("device authorization refused: {e}")))?;
    eprintln!(
        "To sign in, open {} and enter the code {}",
        details.verification_uri().as_str(),
        details.user_code().secret()
    );
    if let Some(full) = details.verification_uri_complete() {
        eprintln!("(or open {})", full.secret());
    }
    let token = oauth
        .exchange_device_access_token(&details)
        .request_async(&http, tokio::time::sleep, None)
        .await
        .map_err(|e| CliError::NotSignedIn(format!("sign-in not completed: {e}")))?;
    Ok(tokens_from(&token, None))
}

/// The authorization-code flow with PKCE (S256): a listener on 127.0.0.1, the provider's login
/// page in a browser, the code back on the listener (with this login's random `state`), then
/// the code exchanged with the verifier only this process knows.
pub async fn browser_login(settings: &Settings, b: Browser) -> Result<Tokens> {
    let client = http_client()?;
    let d = discover(&client, &settings.issuer).await?;
    let auth_url = d.authorization_endpoint.clone().ok_or_else(|| {
        CliError::NotSignedIn(format!(
            "{} offers no authorization endpoint: use `elastic-jit login --device`",
            settings.issuer
        ))
    })?;
    crate::settings::checked_url("authorization endpoint", &auth_url)?;
    let listener = Loopback::bind(b.port).await?;
    let oauth = BasicClient::new(ClientId::new(settings.client_id.clone()))
        .set_auth_uri(
            AuthUrl::new(auth_url)
                .map_err(|e| CliError::config(format!("authorization endpoint: {e}")))?,
        )
        .set_token_uri(token_url(&d)?)
        .set_redirect_uri(
            RedirectUrl::new(listener.redirect_uri())
                .map_err(|e| CliError::config(format!("redirect URI: {e}")))?,
        );
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = oauth
        .authorize_url(CsrfToken::new_random)
        .add_scopes(SCOPES.map(|s| Scope::new(s.into())))
        .set_pkce_challenge(challenge)
        .url();
    eprintln!(
        "To sign in, open this address in a browser (waiting {}s):\n  {url}",
        b.timeout.as_secs()
    );
    // Answer the redirect before any browser opens, and never wait for the browser: a text
    // browser (lynx, w3m, ... through $BROWSER) runs in the foreground until it exits, which
    // would leave the redirect unanswered and --timeout not yet counting.
    let serving = listener.serve(state.secret(), &settings.issuer);
    if b.open {
        open_in_background(url.to_string());
    }
    let code = match serving.outcome(b.timeout).await? {
        Outcome::Code(c) => c,
        Outcome::Refused(why) => {
            return Err(CliError::NotSignedIn(format!("sign-in refused: {why}")));
        }
    };
    let http = |req| send(&client, req);
    let token = oauth
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .map_err(|e| {
            CliError::NotSignedIn(format!(
                "the code was not accepted: {}",
                printable(&e.to_string())
            ))
        })?;
    Ok(tokens_from(&token, None))
}

/// Open `url` on a thread of its own, detached: not tokio's blocking pool, whose threads the
/// runtime waits for when it shuts down (a browser still open would hold the command after the
/// sign-in ended); the process's exit ends this thread, never the browser it started.
fn open_in_background(url: String) {
    let spawned = std::thread::Builder::new()
        .name("open-browser".into())
        .spawn(move || {
            if webbrowser::open(&url).is_err() {
                eprintln!("(no browser could be opened: open the address yourself)");
            }
        });
    if spawned.is_err() {
        eprintln!("(no browser could be opened: open the address yourself)");
    }
}

/// A new access token from the refresh token (providers may rotate the refresh token too).
pub async fn refresh(settings: &Settings, refresh_token: &str) -> Result<Tokens> {
    let client = http_client()?;
    let d = discover(&client, &settings.issuer).await?;
    let oauth =
        BasicClient::new(ClientId::new(settings.client_id.clone())).set_token_uri(token_url(&d)?);
    let http = |req| send(&client, req);
    let token = oauth
        .exchange_refresh_token(&RefreshToken::new(refresh_token.to_string()))
        .request_async(&http)
        .await
        .map_err(|e| {
            CliError::NotSignedIn(format!(
                "the sign-in has expired ({e}): run `elastic-jit login`"
            ))
        })?;
    Ok(tokens_from(&token, Some(refresh_token.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Browser = Browser {
        open: true,
        port: 0,
        timeout: Duration::from_secs(300),
    };
    const PRINT_ONLY: Browser = Browser { open: false, ..B };

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_browser_is_the_default_on_a_desktop_and_the_device_flow_elsewhere() {
        let linux_desktop = [("DISPLAY", ":0")];
        let over_ssh = [
            ("DISPLAY", ":0"),
            ("SSH_CONNECTION", "10.0.0.1 22 10.0.0.2 50000"),
        ];
        if cfg!(target_os = "linux") {
            assert_eq!(
                Flow::choose(false, false, B, env(&linux_desktop)),
                Flow::Browser(B)
            );
            assert_eq!(Flow::choose(false, false, B, env(&[])), Flow::Device);
            assert_eq!(
                Flow::choose(false, false, B, env(&[("WAYLAND_DISPLAY", "")])),
                Flow::Device
            );
        }
        assert_eq!(Flow::choose(false, false, B, env(&over_ssh)), Flow::Device);
        // The flags win over the guess.
        assert_eq!(
            Flow::choose(true, false, B, env(&over_ssh)),
            Flow::Browser(B)
        );
        assert_eq!(
            Flow::choose(false, true, B, env(&linux_desktop)),
            Flow::Device
        );
        assert_eq!(
            Flow::choose(false, false, PRINT_ONLY, env(&over_ssh)),
            Flow::Browser(PRINT_ONLY)
        );
    }
}
