//! The caller, from the JWT the API Gateway authorizer verified.
//!
//! The authorizer hands the function a lossy copy of the token's claims (every value a string,
//! arrays flattened to `"[a b]"`), so a group named `ops jit-admins` and the two groups `ops`
//! and `jit-admins` look alike there. The token itself travels in the `Authorization` header:
//! its payload is read here (its signature was checked by the authorizer) and must be the
//! token the authorizer verified — same `iss`, `sub`, `exp` and `iat` — before any claim of it
//! is used. Without a token only claims that cannot be ambiguous are used.

use std::collections::HashMap;

use serde_json::Value;

use super::ApiError;
use super::token::{self, TokenClaims};
use crate::model::Identity;

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Members of this group manage integrations and flows.
    pub admin_group: String,
    /// The claim that lists the caller's groups (`groups`, `cognito:groups`, …).
    pub groups_claim: String,
    /// Trust the IdP's `email` claim even when the token does not mark it verified. Off by
    /// default: only declare an IdP authoritative if it never lets users set their own email.
    pub email_authoritative: bool,
}

impl AuthConfig {
    pub fn new(admin_group: impl Into<String>, groups_claim: impl Into<String>) -> Self {
        Self {
            admin_group: admin_group.into(),
            groups_claim: groups_claim.into(),
            email_authoritative: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub identity: Identity,
    pub is_admin: bool,
}

/// The claims the token and the authorizer's copy must agree on: together they say which
/// token was verified.
const BINDING_CLAIMS: [&str; 4] = ["iss", "sub", "exp", "iat"];

fn unauthenticated(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(401, code, message)
}

/// Where the claims come from: the verified token (exact), or only the authorizer's copy.
enum Claims<'a> {
    Token(&'a TokenClaims),
    Flattened(&'a HashMap<String, String>),
}

impl Claims<'_> {
    fn string(&self, name: &str) -> Option<String> {
        match self {
            Self::Token(t) => token::scalar(t.get(name)?),
            Self::Flattened(m) => m.get(name).cloned(),
        }
    }

    /// `email_verified`: a boolean in the token, `"true"` in the authorizer's copy.
    fn flag(&self, name: &str) -> bool {
        match self {
            Self::Token(t) => match t.get(name) {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s == "true",
                _ => false,
            },
            Self::Flattened(m) => m.get(name).is_some_and(|v| v == "true"),
        }
    }

    /// Group membership exactly as the IdP issued it, or a refusal.
    fn groups(&self, name: &str) -> Result<Vec<String>, ApiError> {
        let invalid = || {
            unauthenticated(
                "invalid_groups_claim",
                format!("the {name} claim must be a list of group names or one group name"),
            )
        };
        match self {
            Self::Token(t) => match t.get(name) {
                None | Some(Value::Null) => Ok(vec![]),
                Some(Value::String(g)) => Ok(vec![g.clone()]),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|g| g.as_str().map(str::to_string).ok_or_else(invalid))
                    .collect(),
                Some(_) => Err(invalid()),
            },
            Self::Flattened(m) => match m.get(name).map(String::as_str) {
                None | Some("") => Ok(vec![]),
                // API Gateway's rendering of a list: the boundaries between names are lost.
                Some(v) if v.starts_with('[') && v.ends_with(']') => Err(unauthenticated(
                    "groups_claim_ambiguous",
                    format!(
                        "the {name} claim is a list that cannot be read exactly without the \
                         bearer token; send the token in the Authorization header"
                    ),
                )),
                Some(v) => Ok(vec![v.to_string()]),
            },
        }
    }
}

impl Caller {
    /// The caller from the authorizer's claims and, when present, the bearer token they were
    /// verified from (the `Authorization` header's value).
    pub fn from_request(
        claims: &HashMap<String, String>,
        authorization: Option<&str>,
        cfg: &AuthConfig,
    ) -> Result<Self, ApiError> {
        let no_identity = || {
            unauthenticated(
                "unauthenticated",
                "the request carries no authenticated identity",
            )
        };
        // The authorizer's claims say who was verified; the token only adds exactness.
        for name in ["sub", "iss"] {
            if claims.get(name).is_none_or(|v| v.is_empty()) {
                return Err(no_identity());
            }
        }
        let token = authorization.map(token::payload).transpose()?;
        if let Some(t) = &token {
            for name in BINDING_CLAIMS {
                if claims.get(name).map(String::as_str)
                    != t.get(name).and_then(token::scalar).as_deref()
                {
                    return Err(unauthenticated(
                        "token_mismatch",
                        "the bearer token is not the one the authorizer verified",
                    ));
                }
            }
        }
        let source = match &token {
            Some(t) => Claims::Token(t),
            None => Claims::Flattened(claims),
        };
        let present = |name: &str| {
            source
                .string(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        // Exactly as issued: trimming could make two subjects one person.
        let exact = |name: &str| source.string(name).filter(|v| !v.is_empty());
        let sub = exact("sub").ok_or_else(no_identity)?;
        let issuer = exact("iss").ok_or_else(no_identity)?;
        let email_verified = source.flag("email_verified");
        // An unverified email is not the caller's: anyone may type any address into many IdPs.
        let email = present("email").filter(|_| email_verified || cfg.email_authoritative);
        let groups = source.groups(&cfg.groups_claim)?;
        let is_admin = !cfg.admin_group.is_empty() && groups.iter().any(|g| g == &cfg.admin_group);
        Ok(Self {
            identity: Identity {
                sub,
                issuer: Some(issuer),
                email_verified: email.is_some() && email_verified,
                email,
                groups,
            },
            is_admin,
        })
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "only members of the administrators group manage integrations and flows",
            ))
        }
    }

    pub fn actor(&self) -> String {
        self.identity.display()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use serde_json::json;

    const ISS: &str = "https://idp.example.com";

    fn cfg() -> AuthConfig {
        AuthConfig::new("jit-admins", "cognito:groups")
    }

    fn flat(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// An unsigned token with `payload` (the authorizer checked the signature, not us).
    fn bearer(payload: &Value) -> String {
        let enc = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        format!(
            "Bearer {}.{}.c2ln",
            enc(&json!({"alg": "RS256", "typ": "JWT"})),
            enc(payload)
        )
    }

    /// The authorizer's flattened copy of `payload`.
    fn flattened(payload: &Value) -> HashMap<String, String> {
        payload
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s.clone(),
                    Value::Array(a) => format!(
                        "[{}]",
                        a.iter()
                            .map(|x| x.as_str().unwrap_or_default().to_string())
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect()
    }

    fn caller_of(payload: Value, cfg: &AuthConfig) -> Result<Caller, ApiError> {
        Caller::from_request(&flattened(&payload), Some(&bearer(&payload)), cfg)
    }

    fn payload(groups: Value) -> Value {
        json!({"iss": ISS, "sub": "u-1", "exp": 1795431600, "iat": 1795428000,
               "email": "Dev@Example.com", "email_verified": true, "cognito:groups": groups})
    }

    #[test]
    fn no_sub_or_issuer_is_unauthenticated() {
        let err = Caller::from_request(&HashMap::new(), None, &cfg()).unwrap_err();
        assert_eq!((err.status, err.code), (401, "unauthenticated"));
        let err = Caller::from_request(&flat(&[("sub", "u-1")]), None, &cfg()).unwrap_err();
        assert_eq!((err.status, err.code), (401, "unauthenticated"));
    }

    #[test]
    fn groups_come_exactly_from_the_token() {
        let c = caller_of(payload(json!(["jit-admins", "dev"])), &cfg()).unwrap();
        assert!(c.is_admin);
        assert_eq!(c.identity.groups, ["jit-admins", "dev"]);
        assert_eq!(c.identity.issuer.as_deref(), Some(ISS));
        // One group whose name contains the admin group is not the admin group.
        for name in ["ops jit-admins", "contractors,jit-admins", "[jit-admins]"] {
            let c = caller_of(payload(json!([name])), &cfg()).unwrap();
            assert!(!c.is_admin, "{name:?} made its members admins");
            assert_eq!(c.identity.groups, [name]);
            let c = caller_of(payload(json!(name)), &cfg()).unwrap();
            assert!(!c.is_admin, "{name:?} as a single string");
        }
        let err = caller_of(payload(json!([1, 2])), &cfg()).unwrap_err();
        assert_eq!((err.status, err.code), (401, "invalid_groups_claim"));
    }

    #[test]
    fn without_the_token_a_flattened_list_is_refused_not_split() {
        let claims = flat(&[
            ("iss", ISS),
            ("sub", "u-1"),
            ("cognito:groups", "[ops jit-admins]"),
        ]);
        let err = Caller::from_request(&claims, None, &cfg()).unwrap_err();
        assert_eq!((err.status, err.code), (401, "groups_claim_ambiguous"));
        let claims = flat(&[
            ("iss", ISS),
            ("sub", "u-1"),
            ("cognito:groups", "jit-admins"),
        ]);
        assert!(
            Caller::from_request(&claims, None, &cfg())
                .unwrap()
                .is_admin
        );
        let claims = flat(&[("iss", ISS), ("sub", "u-2")]);
        let c = Caller::from_request(&claims, None, &cfg()).unwrap();
        assert!(!c.is_admin);
        assert_eq!(c.require_admin().unwrap_err().status, 403);
    }

    #[test]
    fn a_token_that_is_not_the_verified_one_is_refused() {
        let verified = payload(json!(["dev"]));
        for (claim, forged) in [
            ("sub", json!("u-2")),
            ("iss", json!("https://evil.example.com")),
            ("exp", json!(1895431600)),
            ("iat", json!(1)),
        ] {
            let mut other = verified.clone();
            other[claim] = forged;
            let err = Caller::from_request(&flattened(&verified), Some(&bearer(&other)), &cfg())
                .unwrap_err();
            assert_eq!((err.status, err.code), (401, "token_mismatch"), "{claim}");
        }
        for garbage in [
            "Bearer",
            "Bearer a.b",
            "Bearer !!!.@@@.x",
            "Basic dXNlcjpwdw==",
        ] {
            let err =
                Caller::from_request(&flattened(&verified), Some(garbage), &cfg()).unwrap_err();
            assert_eq!((err.status, err.code), (401, "invalid_token"), "{garbage}");
        }
    }

    #[test]
    fn an_unverified_email_is_dropped_unless_the_idp_is_authoritative() {
        let mut p = payload(json!([]));
        p["email_verified"] = json!(false);
        let c = caller_of(p.clone(), &cfg()).unwrap();
        assert_eq!(c.identity.email, None);
        assert_eq!(c.actor(), "sub:u-1");
        let authoritative = AuthConfig {
            email_authoritative: true,
            ..cfg()
        };
        let c = caller_of(p, &authoritative).unwrap();
        assert_eq!(c.identity.email.as_deref(), Some("Dev@Example.com"));
        assert!(!c.identity.email_verified);
        let c = caller_of(payload(json!([])), &cfg()).unwrap();
        assert!(c.identity.email_verified);
        // API Gateway's copy says "true" as a string.
        let claims = flat(&[
            ("iss", ISS),
            ("sub", "u-1"),
            ("email", "dev@example.com"),
            ("email_verified", "true"),
        ]);
        let c = Caller::from_request(&claims, None, &cfg()).unwrap();
        assert_eq!(c.identity.email.as_deref(), Some("dev@example.com"));
    }
}
