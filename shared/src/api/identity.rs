//! The caller, from the API Gateway JWT authorizer's claims.

use std::collections::HashMap;

use super::ApiError;
use crate::model::Identity;

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Members of this group manage integrations and flows.
    pub admin_group: String,
    /// The claim that lists the caller's groups (`groups`, `cognito:groups`, …).
    pub groups_claim: String,
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub identity: Identity,
    pub is_admin: bool,
}

impl Caller {
    pub fn from_claims(
        claims: &HashMap<String, String>,
        cfg: &AuthConfig,
    ) -> Result<Self, ApiError> {
        let sub = claims
            .get("sub")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    401,
                    "unauthenticated",
                    "the request carries no authenticated identity",
                )
            })?;
        let email = claims
            .get("email")
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty());
        let groups = claims
            .get(&cfg.groups_claim)
            .map(|g| parse_groups(g))
            .unwrap_or_default();
        let is_admin = !cfg.admin_group.is_empty() && groups.iter().any(|g| g == &cfg.admin_group);
        Ok(Self {
            identity: Identity {
                sub: sub.to_string(),
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
        self.identity.display().to_string()
    }
}

/// API Gateway flattens array claims to `[a b c]`; other set-ups send JSON arrays or commas.
fn parse_groups(raw: &str) -> Vec<String> {
    let raw = raw.trim();
    if let Ok(list) = serde_json::from_str::<Vec<String>>(raw) {
        return list;
    }
    let inner = raw
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(raw);
    inner
        .split([' ', ','])
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_in_every_shape_api_gateway_sends() {
        assert_eq!(parse_groups("[admins dev]"), ["admins", "dev"]);
        assert_eq!(parse_groups(r#"["admins","dev"]"#), ["admins", "dev"]);
        assert_eq!(parse_groups("admins, dev"), ["admins", "dev"]);
        assert_eq!(parse_groups("[]"), Vec::<String>::new());
    }

    #[test]
    fn no_sub_is_unauthenticated_and_admins_come_from_the_group() {
        let cfg = AuthConfig {
            admin_group: "jit-admins".into(),
            groups_claim: "cognito:groups".into(),
        };
        let err = Caller::from_claims(&HashMap::new(), &cfg).unwrap_err();
        assert_eq!((err.status, err.code), (401, "unauthenticated"));
        let claims = HashMap::from([
            ("sub".to_string(), "u-1".to_string()),
            ("cognito:groups".to_string(), "[jit-admins dev]".to_string()),
        ]);
        assert!(Caller::from_claims(&claims, &cfg).unwrap().is_admin);
        let claims = HashMap::from([("sub".to_string(), "u-2".to_string())]);
        let caller = Caller::from_claims(&claims, &cfg).unwrap();
        assert!(!caller.is_admin);
        assert_eq!(caller.require_admin().unwrap_err().status, 403);
    }
}
