//! Who someone is (from the verified JWT) and how configuration names people.
//!
//! A person is the token's issuer plus `sub`: the one pair an identity provider guarantees to
//! be unique and stable. An email is a label that counts only when the token says it is
//! verified (or the operator declared the IdP authoritative for email); an unverified email
//! never reaches an [`Identity`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::validation::ValidationErrors;

/// One person: the issuer and `sub` of their tokens. `issuer` is absent only on records
/// written before it was recorded (then `sub` alone identifies them, as it did then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    pub sub: String,
}

impl Person {
    /// Are these the same person? Two recorded issuers must be equal; a record without one
    /// (written before issuers were recorded) is compared on `sub`.
    pub fn same_as(&self, other: &Person) -> bool {
        self.sub == other.sub
            && match (&self.issuer, &other.issuer) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }

    /// A stable string naming this person, for state keys (a requester's requests, their
    /// idempotency keys). Issuer and `sub` are hashed with a length prefix, so no choice of
    /// either can produce another person's key; legacy records keep their `sub`.
    pub fn key(&self) -> String {
        match &self.issuer {
            Some(_) => format!("person:{}", self.digest()),
            None => self.sub.clone(),
        }
    }

    /// Hex SHA-256 of the length-prefixed issuer and `sub`.
    pub fn digest(&self) -> String {
        let iss = self.issuer.as_deref().unwrap_or_default();
        let mut h = Sha256::new();
        h.update(iss.len().to_string().as_bytes());
        h.update(b":");
        h.update(iss.as_bytes());
        h.update(self.sub.as_bytes());
        hex::encode(h.finalize())
    }
}

/// An email as every comparison and account name uses it: trimmed and folded with ASCII rules
/// only (Unicode lowercasing maps other characters, such as KELVIN SIGN, onto ASCII letters,
/// which would give another mailbox this person's name).
pub fn fold_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// The caller as the API Gateway JWT authorizer verified them. Never built from request bodies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub sub: String,
    /// The token's `iss` (absent only on records written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// A trusted email only: verified by the IdP, or from an IdP the operator declared
    /// authoritative for email. Unverified emails are dropped before an identity is built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the token itself marked the email verified (`false` with an email means the
    /// operator trusts the IdP's emails without the claim).
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub groups: Vec<String>,
}

impl Identity {
    pub fn person(&self) -> Person {
        Person {
            issuer: self.issuer.clone(),
            sub: self.sub.clone(),
        }
    }

    /// See [`Person::key`].
    pub fn person_key(&self) -> String {
        self.person().key()
    }

    pub fn same_person(&self, other: &Identity) -> bool {
        self.person().same_as(&other.person())
    }

    /// Could these two identities be one human? The same person, or the same trusted email
    /// (case-insensitively). Used to refuse self-approval under a second identity.
    pub fn may_be_same_human(&self, other: &Identity) -> bool {
        self.same_person(other)
            || matches!((&self.email, &other.email), (Some(a), Some(b)) if fold_email(a) == fold_email(b))
    }

    /// Does this identity match a configured user or group?
    /// A user value with `@` is an email and matches only a trusted email (case-insensitively);
    /// any other user value is a `sub` and matches it exactly, so a `sub` never stands in for
    /// an email. Groups match exactly.
    pub fn matches(&self, who: &PrincipalRef) -> bool {
        match who.kind {
            PrincipalKind::User if who.value.contains('@') => self
                .email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(&who.value)),
            PrincipalKind::User => who.value == self.sub,
            PrincipalKind::Group => self.groups.iter().any(|g| g == &who.value),
        }
    }

    pub fn matches_any(&self, who: &[PrincipalRef]) -> bool {
        who.iter().any(|p| self.matches(p))
    }

    /// The label shown in audit events and to approvers: the trusted email, else `sub:<sub>`,
    /// so a `sub` that looks like an email is never shown as if it were one.
    pub fn display(&self) -> String {
        match &self.email {
            Some(e) => e.clone(),
            None => format!("sub:{}", self.sub),
        }
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

/// How many different user entries `list` names: emails compared case-insensitively (as they
/// match), `sub`s exactly. (Whether a `sub` and an email are one person is not known here.)
pub fn distinct_users(list: &[PrincipalRef]) -> usize {
    list.iter()
        .filter(|p| p.kind == PrincipalKind::User)
        .map(|p| {
            if p.value.contains('@') {
                fold_email(&p.value)
            } else {
                format!("sub:{}", p.value)
            }
        })
        .collect::<std::collections::BTreeSet<_>>()
        .len()
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

    const ISS: &str = "https://idp.example.com";

    fn alice() -> Identity {
        Identity {
            sub: "u-123".into(),
            issuer: Some(ISS.into()),
            email: Some("Alice@Example.com".into()),
            email_verified: true,
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

    #[test]
    fn a_sub_never_stands_in_for_an_email() {
        // A second identity whose `sub` is alice's email, without an email of its own.
        let mallory = Identity {
            sub: "alice@example.com".into(),
            issuer: Some(ISS.into()),
            ..Identity::default()
        };
        assert!(!mallory.matches(&PrincipalRef::user("alice@example.com")));
        assert!(!mallory.may_be_same_human(&alice()));
        assert_eq!(mallory.display(), "sub:alice@example.com");
    }

    #[test]
    fn a_person_is_issuer_and_sub() {
        let a = alice();
        let other_idp = Identity {
            issuer: Some("https://other.example.com".into()),
            ..alice()
        };
        assert!(!a.same_person(&other_idp));
        assert_ne!(a.person_key(), other_idp.person_key());
        // The same verified email is still the same human for self-approval.
        assert!(a.may_be_same_human(&Identity {
            email: Some("ALICE@example.com".into()),
            ..other_idp
        }));
        // Length-prefixed: moving characters between issuer and sub changes the key.
        let p1 = Person {
            issuer: Some("ab".into()),
            sub: "c".into(),
        };
        let p2 = Person {
            issuer: Some("a".into()),
            sub: "bc".into(),
        };
        assert_ne!(p1.key(), p2.key());
        // Records written before issuers were recorded are compared on sub.
        let legacy = Person {
            issuer: None,
            sub: "u-123".into(),
        };
        assert!(legacy.same_as(&a.person()));
        assert_eq!(legacy.key(), "u-123");
    }
}
