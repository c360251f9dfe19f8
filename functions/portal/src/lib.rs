//! The web portal: the pages requesters, approvers and admins use, served by the stack itself on
//! the same HTTP API as the JSON API, without the JWT authorizer (a browser fetching a page has no
//! token yet). The pages hold no data: everything they show comes from the API with the user's
//! own token, so the portal function needs no AWS permission at all.
//!
//! Every answer carries a strict Content-Security-Policy (no inline script, only this origin and
//! the IdP to connect to, never framed), `Referrer-Policy: no-referrer` (the login callback's
//! `code` must not leak through a Referer) and `X-Content-Type-Options: nosniff`.
#![forbid(unsafe_code)]

pub mod assets;
pub mod config;

use serde_json::{Value, json};
use shared::api::Route;

pub use config::{Config, ConfigError};

/// The routes this function serves (the template routes them without the authorizer).
pub const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/portal",
    },
    Route {
        method: "GET",
        path: "/portal/{proxy+}",
    },
];

/// Where the portal lives on the API; its page is also the OIDC redirect URI.
pub const BASE: &str = "/portal";

pub struct App {
    config_json: String,
    csp: String,
}

impl App {
    pub fn new(config: &Config) -> Self {
        let connect = std::iter::once("'self'".to_string())
            .chain(config.connect_origins())
            .collect::<Vec<_>>()
            .join(" ");
        let csp = format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src {connect}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
             object-src 'none'"
        );
        Self {
            config_json: serde_json::to_string(config).unwrap_or_else(|_| "{}".into()),
            csp,
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self::new(&Config::from_env()?))
    }

    pub fn csp(&self) -> &str {
        &self.csp
    }

    /// Answer one payload-format-2.0 event.
    pub fn handle(&self, event: &Value) -> Value {
        let method = event
            .pointer("/requestContext/http/method")
            .and_then(Value::as_str)
            .unwrap_or("");
        let path = event.get("rawPath").and_then(Value::as_str).unwrap_or("");
        if method != "GET" {
            return self.respond(405, "text/plain; charset=utf-8", "method not allowed", true);
        }
        match path.strip_prefix(BASE) {
            Some("") | Some("/") | Some("/index.html") => {
                let i = &assets::INDEX;
                self.respond(200, i.content_type, i.body, true)
            }
            Some("/config.json") => self.respond(200, "application/json", &self.config_json, true),
            Some(rest) => match rest.strip_prefix('/').and_then(assets::find) {
                Some(a) => self.respond(200, a.content_type, a.body, false),
                None => self.respond(404, "text/plain; charset=utf-8", "not found", true),
            },
            None => self.respond(404, "text/plain; charset=utf-8", "not found", true),
        }
    }

    fn respond(&self, status: u16, content_type: &str, body: &str, no_store: bool) -> Value {
        json!({
            "statusCode": status,
            "headers": {
                "content-type": content_type,
                "content-security-policy": self.csp,
                "referrer-policy": "no-referrer",
                "x-content-type-options": "nosniff",
                "x-frame-options": "DENY",
                "cross-origin-opener-policy": "same-origin",
                "permissions-policy": "camera=(), microphone=(), geolocation=()",
                "strict-transport-security": "max-age=31536000",
                // The page and its settings change with a deploy; the rest revalidates.
                "cache-control": if no_store { "no-store" } else { "no-cache" },
            },
            "body": body,
            "isBase64Encoded": false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> App {
        App::new(&Config {
            issuer: "https://idp.example.com/oauth2/default".into(),
            client_id: "portal-client".into(),
            scopes: "openid email".into(),
            api_base_url: String::new(),
            extra_connect_origins: vec![],
        })
    }

    fn get(app: &App, path: &str) -> Value {
        app.handle(&json!({
            "rawPath": path,
            "requestContext": { "http": { "method": "GET" } }
        }))
    }

    #[test]
    fn the_page_and_its_files_carry_the_security_headers() {
        let app = app();
        for path in [
            "/portal",
            "/portal/js/app.js",
            "/portal/config.json",
            "/portal/nope",
        ] {
            let r = get(&app, path);
            let h = &r["headers"];
            let csp = h["content-security-policy"].as_str().unwrap();
            assert!(csp.starts_with("default-src 'self';"), "{path}: {csp}");
            assert!(csp.contains("script-src 'self';"), "{csp}");
            assert!(!csp.contains("unsafe"), "{csp}");
            assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
            assert!(
                csp.contains("connect-src 'self' https://idp.example.com;"),
                "{csp}"
            );
            assert_eq!(h["referrer-policy"], "no-referrer");
            assert_eq!(h["x-content-type-options"], "nosniff");
        }
        assert_eq!(get(&app, "/portal")["statusCode"], 200);
        assert_eq!(
            get(&app, "/portal/js/app.js")["headers"]["content-type"],
            "text/javascript; charset=utf-8"
        );
    }

    #[test]
    fn the_sample_events_get_the_page_and_a_file() {
        let app = app();
        let page: Value =
            serde_json::from_str(include_str!("../../../events/portal/get-page.json")).unwrap();
        assert!(page["requestContext"].get("authorizer").is_none());
        let r = app.handle(&page);
        assert_eq!(r["statusCode"], 200);
        assert_eq!(r["headers"]["content-type"], "text/html; charset=utf-8");
        assert!(r["body"].as_str().unwrap().contains("/portal/js/app.js"));
        let file: Value =
            serde_json::from_str(include_str!("../../../events/portal/get-file.json")).unwrap();
        let r = app.handle(&file);
        assert_eq!(r["statusCode"], 200);
        assert!(r["body"].as_str().unwrap().contains("import"));
    }

    #[test]
    fn config_json_is_built_from_the_settings() {
        let r = get(&app(), "/portal/config.json");
        let c: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            c,
            json!({
                "issuer": "https://idp.example.com/oauth2/default",
                "client_id": "portal-client",
                "scopes": "openid email",
                "api_base_url": ""
            })
        );
        assert_eq!(r["headers"]["cache-control"], "no-store");
    }

    #[test]
    fn only_embedded_files_are_served() {
        let app = app();
        for path in [
            "/portal/../Cargo.toml",
            "/portal/js/../../src/lib.rs",
            "/portal/js/",
            "/portal/vendor/",
            "/portal//js/app.js",
            "/portalx",
            "/requests",
            "/portal/%2e%2e/Cargo.toml",
        ] {
            assert_eq!(get(&app, path)["statusCode"], 404, "{path}");
        }
        let post = app.handle(&json!({
            "rawPath": "/portal",
            "requestContext": { "http": { "method": "POST" } }
        }));
        assert_eq!(post["statusCode"], 405);
    }

    #[test]
    fn no_page_runs_inline_script_or_inline_style() {
        let mut pages = vec![assets::INDEX.body];
        pages.extend(
            assets::ASSETS
                .iter()
                .filter(|a| a.content_type.starts_with("text/html"))
                .map(|a| a.body),
        );
        for body in pages {
            let lower = body.to_ascii_lowercase();
            for (i, _) in lower.match_indices("<script") {
                let tag = &lower[i..i + lower[i..].find('>').unwrap()];
                assert!(tag.contains(" src=\"/portal/"), "inline script: {tag}");
            }
            assert!(!lower.contains("<style"), "inline <style>");
            assert!(!lower.contains(" style=\""), "inline style attribute");
            // No on* handler attribute: ` on` + letters + `=` inside the markup.
            for (i, _) in lower.match_indices(" on") {
                let name: String = lower[i + 3..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .collect();
                let after = lower[i + 3 + name.len()..].trim_start();
                assert!(
                    name.is_empty() || !after.starts_with('='),
                    "handler attribute on{name}"
                );
            }
        }
    }

    #[test]
    fn tokens_are_never_stored_in_web_storage() {
        // Tokens live in oidc-client-ts's InMemoryWebStorage; only a form draft and the login
        // round trip's state go to sessionStorage, and nothing goes to localStorage.
        for a in assets::ASSETS.iter().filter(|a| a.path.starts_with("js/")) {
            assert!(!a.body.contains("localStorage"), "{}", a.path);
        }
        let auth = assets::find("js/auth.js").unwrap().body;
        assert!(auth.contains("new oidc.InMemoryWebStorage()"));
    }
}
