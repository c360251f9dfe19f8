//! Who someone is (from the JWT authorizer's claims) and how configuration names people.

use serde::{Deserialize, Serialize};

use crate::validation::ValidationErrors;

/// The caller as the API Gateway JWT authorizer saw them. Never built from request bodies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

impl Identity {
    /// Does this identity match a configured user or group?
    /// Users match on `sub` or (case-insensitively) on email; groups match exactly.
    pub fn matches(&self, who: &PrincipalRef) -> bool {
        match who.kind {
            PrincipalKind::User => {
                who.value == self.sub
                    || self
                        .email
                        .as_deref()
                        .is_some_and(|e| e.eq_ignore_ascii_case(&who.value))
            }
            PrincipalKind::Group => self.groups.iter().any(|g| g == &who.value),
        }
    }

    pub fn matches_any(&self, who: &[PrincipalRef]) -> bool {
        who.iter().any(|p| self.matches(p))
    }

    /// The label shown in audit events and to approvers.
    pub fn display(&self) -> &str {
        self.email.as_deref().unwrap_or(&self.sub)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    Group,
}

/// A user or group named in configuration, e.g. `{"type":"group","value":"search-admins"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalRef {
    #[serde(rename = "type")]
    pub kind: PrincipalKind,
    pub value: String,
}

impl PrincipalRef {
    pub fn user(value: impl Into<String>) -> Self {
        Self {
            kind: PrincipalKind::User,
            value: value.into(),
        }
    }

    pub fn group(value: impl Into<String>) -> Self {
        Self {
            kind: PrincipalKind::Group,
            value: value.into(),
        }
    }
}

/// Principal values are identifiers from an IdP: non-empty, at most 256 characters, printable,
/// no surrounding whitespace.
pub fn check_principals(errors: &mut ValidationErrors, field: &str, list: &[PrincipalRef]) {
    for (i, p) in list.iter().enumerate() {
        let v = &p.value;
        let ok =
            !v.is_empty() && v.len() <= 256 && v.trim() == v && !v.chars().any(char::is_control);
        if !ok {
            errors.push(
                "invalid_principal",
                format!("{field}[{i}].value"),
                format!(
                    "{field}[{i}].value must be a non-empty user or group identifier of at most \
                     256 printable characters without surrounding spaces"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Identity {
        Identity {
            sub: "u-123".into(),
            email: Some("Alice@Example.com".into()),
            groups: vec!["search-admins".into()],
        }
    }

    #[test]
    fn users_match_on_sub_or_email_and_groups_exactly() {
        let a = alice();
        assert!(a.matches(&PrincipalRef::user("u-123")));
        assert!(a.matches(&PrincipalRef::user("alice@example.com")));
        assert!(!a.matches(&PrincipalRef::user("bob@example.com")));
        assert!(a.matches(&PrincipalRef::group("search-admins")));
        assert!(!a.matches(&PrincipalRef::group("Search-Admins")));
    }
}
