//! Requester credentials in Secrets Manager: one secret per target account, named from a
//! configurable prefix, holding `{"username","password"}`. Nothing else stores a password.

use serde::{Deserialize, Serialize};

use crate::secrets::{SecretValue, SecretsError};

pub const DEFAULT_SECRET_PREFIX: &str = "elastic-jit/credentials/";

/// `<prefix><integration>/<username>`, with characters Secrets Manager does not allow in names
/// replaced, and a short digest added when anything was replaced so names stay unique.
pub fn user_secret_name(prefix: &str, integration: &str, username: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c);
    let cleaned: String = username
        .chars()
        .map(|c| if allowed(c) { c } else { '-' })
        .collect();
    if cleaned == username {
        format!("{prefix}{integration}/{username}")
    } else {
        use sha2::Digest;
        let digest = hex::encode(&sha2::Sha256::digest(username.as_bytes())[..4]);
        format!("{prefix}{integration}/{cleaned}-{digest}")
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    username: String,
    password: String,
}

pub fn encode(username: &str, password: &SecretValue) -> SecretValue {
    SecretValue::new(
        serde_json::to_string(&Stored {
            username: username.to_string(),
            password: password.expose().to_string(),
        })
        .unwrap_or_default(),
    )
}

/// The password held in a user credential secret.
pub fn password_of(secret: &SecretValue) -> Result<SecretValue, SecretsError> {
    let stored: Stored = secret.parse_json()?;
    Ok(SecretValue::new(stored.password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_secret_names_and_stay_unique() {
        assert_eq!(
            user_secret_name("elastic-jit/credentials/", "prod", "ejit_alice@example.com"),
            "elastic-jit/credentials/prod/ejit_alice@example.com"
        );
        let a = user_secret_name("p/", "prod", "ejit_a b");
        let b = user_secret_name("p/", "prod", "ejit_a!b");
        assert!(a.starts_with("p/prod/ejit_a-b-") && b.starts_with("p/prod/ejit_a-b-"));
        assert_ne!(a, b);
        let v = encode("u", &SecretValue::new("pw-123456"));
        assert_eq!(password_of(&v).unwrap().expose(), "pw-123456");
    }
}
