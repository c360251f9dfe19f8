//! Signing in: the OAuth 2.0 device authorization grant (RFC 8628) against the provider the
//! discovery document names, and refreshing the access token, with the `oauth2` crate over the
//! workspace's reqwest client (redirects off: a token endpoint that redirects is refused).

use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    ClientId, DeviceAuthorizationUrl, RefreshToken, Scope, StandardDeviceAuthorizationResponse,
    TokenResponse, TokenUrl,
};
use serde::Deserialize;

use crate::error::{CliError, Result};
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
    device_authorization_endpoint: Option<String>,
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
        .add_scopes(["openid", "profile", "email"].map(|s| Scope::new(s.into())))
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
