//! The portal's settings, read once from the environment. They reach the browser as
//! `/portal/config.json` and in the Content-Security-Policy, so the same embedded files work in
//! every deployment.

use serde::Serialize;
use url::Url;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} must be an https URL (http only on a loopback host): {value:?}")]
    BadUrl { name: &'static str, value: String },
    #[error("OIDC_SCOPES must include openid: {0:?}")]
    NoOpenid(String),
    #[error("OIDC_CLIENT_ID must be 1 to 256 visible ASCII characters")]
    BadClientId,
    #[error("OIDC_CONNECT_ORIGINS must list origins only (scheme, host and port, no path): {0:?}")]
    NotAnOrigin(String),
}

/// What the browser needs to log in and call the API (`config.json`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Config {
    /// The IdP's issuer URL (the template's JwtIssuer: the tokens the API accepts).
    pub issuer: String,
    pub client_id: String,
    pub scopes: String,
    /// Where the API is; empty means the portal's own origin (the same HTTP API).
    pub api_base_url: String,
    /// Further origins the IdP's endpoints live on (e.g. Google's token endpoint on
    /// `https://oauth2.googleapis.com`, not on the issuer's host); only in the CSP.
    #[serde(skip)]
    pub extra_connect_origins: Vec<String>,
}

fn url_setting(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    let bad = || ConfigError::BadUrl {
        name,
        value: value.to_string(),
    };
    let u = Url::parse(value).map_err(|_| bad())?;
    let loopback = match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    // A plain-http IdP anywhere but this machine would hand tokens to anyone on the path.
    let ok = (u.scheme() == "https" || (u.scheme() == "http" && loopback))
        && u.host().is_some()
        && u.username().is_empty()
        && u.password().is_none()
        && u.query().is_none()
        && u.fragment().is_none();
    if ok { Ok(u) } else { Err(bad()) }
}

impl Config {
    /// From `OIDC_ISSUER`, `OIDC_CLIENT_ID`, `OIDC_SCOPES` (default `openid email profile`),
    /// the optional `API_BASE_URL` and `OIDC_CONNECT_ORIGINS` (origins separated by commas or
    /// spaces), looked up with `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let non_empty = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let issuer = non_empty("OIDC_ISSUER").ok_or(ConfigError::Missing("OIDC_ISSUER"))?;
        url_setting("OIDC_ISSUER", &issuer)?;
        let client_id =
            non_empty("OIDC_CLIENT_ID").ok_or(ConfigError::Missing("OIDC_CLIENT_ID"))?;
        if client_id.len() > 256 || !client_id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::BadClientId);
        }
        let scopes = non_empty("OIDC_SCOPES").unwrap_or_else(|| "openid email profile".into());
        let scopes = scopes.split_whitespace().collect::<Vec<_>>().join(" ");
        if !scopes.split(' ').any(|s| s == "openid") {
            return Err(ConfigError::NoOpenid(scopes));
        }
        let api_base_url = match non_empty("API_BASE_URL") {
            Some(v) => {
                url_setting("API_BASE_URL", &v)?;
                v.trim_end_matches('/').to_string()
            }
            None => String::new(),
        };
        let mut extra_connect_origins = Vec::new();
        let listed = non_empty("OIDC_CONNECT_ORIGINS").unwrap_or_default();
        for o in listed.split([',', ' ']).filter(|o| !o.is_empty()) {
            let u = url_setting("OIDC_CONNECT_ORIGINS", o)?;
            // A path would be dropped silently by the CSP's origin match; refuse it so the
            // operator sees what is allowed. The host must be a plain name or address: the URL
            // parser lets `*` and `;` through, which would widen or split the policy.
            let plain = match u.host() {
                Some(url::Host::Domain(d)) => d
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'),
                Some(_) => true,
                None => false,
            };
            if !matches!(u.path(), "" | "/") || !plain {
                return Err(ConfigError::NotAnOrigin(o.to_string()));
            }
            extra_connect_origins.push(u.origin().ascii_serialization());
        }
        Ok(Self {
            issuer: issuer.trim_end_matches('/').to_string(),
            client_id,
            scopes,
            api_base_url,
            extra_connect_origins,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// The origins the page may fetch from besides its own: the IdP (discovery, token
    /// endpoint, and any further origins its endpoints live on) and the API when it lives
    /// elsewhere.
    pub fn connect_origins(&self) -> Vec<String> {
        let mut out = Vec::new();
        let configured = [&self.issuer, &self.api_base_url]
            .into_iter()
            .filter_map(|u| Url::parse(u).ok())
            .map(|u| u.origin().ascii_serialization());
        for o in configured.chain(self.extra_connect_origins.iter().cloned()) {
            if !out.contains(&o) {
                out.push(o);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn reads_the_settings_with_defaults() {
        let c = cfg(&[
            ("OIDC_ISSUER", "https://example.okta.com/oauth2/default/"),
            ("OIDC_CLIENT_ID", "0oa123"),
        ])
        .unwrap();
        assert_eq!(c.issuer, "https://example.okta.com/oauth2/default");
        assert_eq!(c.scopes, "openid email profile");
        assert_eq!(c.api_base_url, "");
        assert_eq!(c.connect_origins(), ["https://example.okta.com"]);
    }

    #[test]
    fn refuses_what_would_leak_tokens_or_break_login() {
        assert_eq!(
            cfg(&[("OIDC_CLIENT_ID", "x")]),
            Err(ConfigError::Missing("OIDC_ISSUER"))
        );
        for bad in [
            "http://idp.example.com",
            "https://user:pw@idp.example.com",
            "javascript:alert(1)",
            "https://idp.example.com/?x=1",
            "not a url",
        ] {
            assert!(
                matches!(
                    cfg(&[("OIDC_ISSUER", bad), ("OIDC_CLIENT_ID", "x")]),
                    Err(ConfigError::BadUrl { .. })
                ),
                "{bad}"
            );
        }
        assert!(
            cfg(&[
                ("OIDC_ISSUER", "http://127.0.0.1:9000"),
                ("OIDC_CLIENT_ID", "x")
            ])
            .is_ok()
        );
        assert_eq!(
            cfg(&[
                ("OIDC_ISSUER", "https://i.example"),
                ("OIDC_CLIENT_ID", "x"),
                ("OIDC_SCOPES", "email profile")
            ]),
            Err(ConfigError::NoOpenid("email profile".into()))
        );
        assert_eq!(
            cfg(&[
                ("OIDC_ISSUER", "https://i.example"),
                ("OIDC_CLIENT_ID", "a\"b c")
            ]),
            Err(ConfigError::BadClientId)
        );
    }

    #[test]
    fn an_idp_with_endpoints_on_another_host_gets_that_origin_too() {
        let c = cfg(&[
            ("OIDC_ISSUER", "https://accounts.google.com"),
            ("OIDC_CLIENT_ID", "x"),
            (
                "OIDC_CONNECT_ORIGINS",
                "https://oauth2.googleapis.com, https://openidconnect.googleapis.com/",
            ),
        ])
        .unwrap();
        assert_eq!(
            c.connect_origins(),
            [
                "https://accounts.google.com",
                "https://oauth2.googleapis.com",
                "https://openidconnect.googleapis.com"
            ]
        );
        // Not in the browser's settings: the CSP is what uses them.
        assert!(!serde_json::to_string(&c).unwrap().contains("googleapis"));
        for (bad, want_origin_error) in [
            ("http://oauth2.example.com", false),
            ("https://u:p@oauth2.example.com", false),
            ("*", false),
            ("https://oauth2.example.com/token", true),
            ("https://*", true),
            ("https://*.example.com", true),
            ("https://x;sandbox", true),
            // A CSP source list is space-separated: a quote or keyword must not slip in.
            ("'unsafe-inline'", false),
        ] {
            let got = cfg(&[
                ("OIDC_ISSUER", "https://i.example"),
                ("OIDC_CLIENT_ID", "x"),
                ("OIDC_CONNECT_ORIGINS", bad),
            ]);
            if want_origin_error {
                assert_eq!(got, Err(ConfigError::NotAnOrigin(bad.into())), "{bad}");
            } else {
                assert!(
                    matches!(got, Err(ConfigError::BadUrl { .. })),
                    "{bad}: {got:?}"
                );
            }
        }
    }

    #[test]
    fn a_separate_api_origin_is_allowed_to_connect() {
        let c = cfg(&[
            ("OIDC_ISSUER", "https://login.example.com/tenant/v2.0"),
            ("OIDC_CLIENT_ID", "x"),
            ("API_BASE_URL", "https://api.example.com/"),
        ])
        .unwrap();
        assert_eq!(c.api_base_url, "https://api.example.com");
        assert_eq!(
            c.connect_origins(),
            ["https://login.example.com", "https://api.example.com"]
        );
    }
}
