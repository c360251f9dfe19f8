//! A client of the provider, as an application or the CLI would be one: the authorization-code
//! flow with PKCE through the login page (no browser: the form is posted directly), refresh,
//! and the device flow. The story and the tests get their tokens only this way.

use std::time::Duration;

use serde_json::Value;

use super::tokens::s256;
use super::{CLIENT_ID, TokenResponse};

/// The redirect URI the client registers: loopback, never followed (the code is read from the
/// `Location` header).
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("identity provider unreachable: {0}")]
    Http(#[from] reqwest::Error),
    /// The provider refused, with its OAuth `error` code and description (or the page's status).
    #[error("identity provider refused ({status}): {error}: {description}")]
    Refused {
        status: u16,
        error: String,
        description: String,
    },
}

impl ClientError {
    /// The OAuth error code (`invalid_grant`, `authorization_pending`, ...), if refused.
    pub fn oauth_error(&self) -> Option<&str> {
        match self {
            Self::Refused { error, .. } => Some(error),
            Self::Http(_) => None,
        }
    }
}

pub struct IdpClient {
    pub issuer: String,
    http: reqwest::Client,
}

/// A code obtained through the login page, and the verifier that goes with it.
pub struct Authorized {
    pub code: String,
    pub verifier: String,
    pub state: String,
}

fn new_verifier() -> String {
    // 64 characters from the unreserved set (RFC 7636 §4.1), from two random tokens.
    let mut v = super::random_token();
    v.push_str(&super::random_token());
    v.truncate(64);
    v
}

impl IdpClient {
    pub fn new(issuer: &str) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            issuer: issuer.trim_end_matches('/').to_string(),
            http,
        })
    }

    /// Open the login page for a PKCE request and pick `identity`: the code from the redirect.
    pub async fn authorize(&self, identity: &str) -> Result<Authorized, ClientError> {
        let verifier = new_verifier();
        let state = super::random_token();
        let params = [
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("scope", "openid profile email"),
            ("code_challenge", &s256(&verifier)),
            ("code_challenge_method", "S256"),
            ("state", &state),
        ];
        let page = self
            .http
            .get(format!("{}/authorize", self.issuer))
            .query(&params)
            .send()
            .await?;
        if !page.status().is_success() {
            return Err(refused_page(page).await);
        }
        let mut form: Vec<(&str, &str)> = params.to_vec();
        form.push(("identity", identity));
        let r = self
            .http
            .post(format!("{}/authorize", self.issuer))
            .form(&form)
            .send()
            .await?;
        if !r.status().is_redirection() {
            return Err(refused_page(r).await);
        }
        let location = r
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let url = url::Url::parse(location).map_err(|_| ClientError::Refused {
            status: r.status().as_u16(),
            error: "bad_redirect".into(),
            description: "the provider redirected to an unparsable location".into(),
        })?;
        let get = |k: &str| {
            url.query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        if get("state") != state {
            return Err(ClientError::Refused {
                status: 302,
                error: "state_mismatch".into(),
                description: "the redirect did not carry the request's state".into(),
            });
        }
        Ok(Authorized {
            code: get("code"),
            verifier,
            state,
        })
    }

    /// Exchange a code at the token endpoint with `verifier`.
    pub async fn exchange(&self, code: &str, verifier: &str) -> Result<TokenResponse, ClientError> {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ])
        .await
    }

    /// The whole authorization-code flow as `identity`.
    pub async fn login(&self, identity: &str) -> Result<TokenResponse, ClientError> {
        let a = self.authorize(identity).await?;
        self.exchange(&a.code, &a.verifier).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenResponse, ClientError> {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// Start the device flow: the provider's device authorization response.
    pub async fn device_start(&self) -> Result<Value, ClientError> {
        let r = self
            .http
            .post(format!("{}/device_authorization", self.issuer))
            .form(&[("client_id", CLIENT_ID)])
            .send()
            .await?;
        json_or_refused(r).await
    }

    /// Approve (or deny, with `None`) a user code on the device page, as a person would.
    pub async fn device_decide(
        &self,
        user_code: &str,
        identity: Option<&str>,
    ) -> Result<(), ClientError> {
        let mut form = vec![("user_code", user_code)];
        match identity {
            Some(i) => form.push(("identity", i)),
            None => form.push(("deny", "1")),
        }
        let r = self
            .http
            .post(format!("{}/device", self.issuer))
            .form(&form)
            .send()
            .await?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(refused_page(r).await)
        }
    }

    pub async fn device_poll(&self, device_code: &str) -> Result<TokenResponse, ClientError> {
        self.token(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", CLIENT_ID),
            ("device_code", device_code),
        ])
        .await
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<TokenResponse, ClientError> {
        let r = self
            .http
            .post(format!("{}/token", self.issuer))
            .form(form)
            .send()
            .await?;
        let v = json_or_refused(r).await?;
        serde_json::from_value(v).map_err(|e| ClientError::Refused {
            status: 200,
            error: "bad_response".into(),
            description: format!("not a token response: {e}"),
        })
    }
}

async fn json_or_refused(r: reqwest::Response) -> Result<Value, ClientError> {
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Ok(v);
    }
    Err(ClientError::Refused {
        status,
        error: v["error"].as_str().unwrap_or("unknown").into(),
        description: v["error_description"].as_str().unwrap_or("").into(),
    })
}

async fn refused_page(r: reqwest::Response) -> ClientError {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    // The page's first paragraph says why.
    let description = text
        .split("<p>")
        .nth(1)
        .and_then(|p| p.split("</p>").next())
        .unwrap_or("")
        .to_string();
    ClientError::Refused {
        status,
        error: "login_refused".into(),
        description,
    }
}
