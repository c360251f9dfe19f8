//! Proxy credentials: issued per grant of an `authorization: proxy` integration, checked by the
//! authorizing proxy. DynamoDB keeps only `HMAC-SHA256(salt, secret)` with a random 32-byte salt
//! per secret; the plaintext goes to the grant's secret in Secrets Manager and, once, to the
//! requester.
//!
//! Why a keyed hash and not argon2/bcrypt: both secrets are generated here with ≥190 bits of
//! entropy, so there is no dictionary to try and a slow hash buys nothing against guessing, while
//! it would cost the proxy milliseconds of CPU on every cache miss. The salt makes equal secrets
//! hash differently and keeps a leaked table useless for precomputation.

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngExt;
use sha2::Sha256;

use crate::model::{ProxyCredential, SecretHash};
use crate::password::generate_password;
use crate::secrets::SecretValue;

/// What a grant's requester receives (kept in the grant's secret) and its stored record.
#[derive(Debug, Clone)]
pub struct IssuedProxyCredential {
    pub username: String,
    pub password: SecretValue,
    pub key_id: String,
    pub key_secret: SecretValue,
    pub record: ProxyCredential,
}

impl IssuedProxyCredential {
    /// The `ApiKey` token: `base64(id:secret)`, as Elasticsearch's `encoded` key.
    pub fn encoded_key(&self) -> SecretValue {
        SecretValue::new(encode_key(&self.key_id, &self.key_secret))
    }
}

pub fn encode_key(id: &str, secret: &SecretValue) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{}", secret.expose()))
}

/// `<user_prefix>proxy_<grant id>`: the proxy finds the grant from the name alone.
pub fn username(user_prefix: &str, grant_id: &str) -> String {
    format!("{user_prefix}proxy_{grant_id}")
}

/// The grant id a username names, if it has the shape [`username`] gives.
pub fn grant_of_username<'a>(user_prefix: &str, name: &'a str) -> Option<&'a str> {
    name.strip_prefix(user_prefix)?
        .strip_prefix("proxy_")
        .filter(|id| !id.is_empty())
}

pub fn issue(user_prefix: &str, grant_id: &str, privileges: &[String]) -> IssuedProxyCredential {
    let password = generate_password();
    let key_secret = random_token();
    let record = ProxyCredential {
        username: username(user_prefix, grant_id),
        password: hash(&password),
        key_id: grant_id.to_string(),
        key: hash(&key_secret),
        privileges: privileges.to_vec(),
    };
    IssuedProxyCredential {
        username: record.username.clone(),
        password,
        key_id: record.key_id.clone(),
        key_secret,
        record,
    }
}

/// 32 random bytes, base64url without padding (no `:` so the token splits unambiguously).
fn random_token() -> SecretValue {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes[..]);
    SecretValue::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn hash(secret: &SecretValue) -> SecretHash {
    let mut salt = [0u8; 32];
    rand::rng().fill(&mut salt[..]);
    let tag = mac(&salt, secret.expose()).finalize().into_bytes();
    SecretHash {
        salt: hex::encode(salt),
        hash: hex::encode(tag),
    }
}

fn mac(salt: &[u8], secret: &str) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(salt)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    m.update(secret.as_bytes());
    m
}

/// Whether `secret` is the one `stored` was made from; compares in constant time.
pub fn verify(stored: &SecretHash, secret: &str) -> bool {
    let (Ok(salt), Ok(expected)) = (hex::decode(&stored.salt), hex::decode(&stored.hash)) else {
        return false;
    };
    mac(&salt, secret).verify_slice(&expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_secrets_verify_and_nothing_else_does() {
        let a = issue("ejit_", "g1", &["read".to_string()]);
        let b = issue("ejit_", "g1", &["read".to_string()]);
        assert_eq!(a.username, "ejit_proxy_g1");
        assert_eq!(grant_of_username("ejit_", &a.username), Some("g1"));
        assert_eq!(grant_of_username("ejit_", "ejit_proxy_"), None);
        assert_eq!(grant_of_username("other_", &a.username), None);
        assert!(verify(&a.record.password, a.password.expose()));
        assert!(verify(&a.record.key, a.key_secret.expose()));
        // Each secret has its own salt and value: none opens another.
        assert!(!verify(&a.record.password, a.key_secret.expose()));
        assert!(!verify(&b.record.password, a.password.expose()));
        assert_ne!(a.record.password.salt, b.record.password.salt);
        assert!(!verify(&a.record.key, ""));
        let broken = SecretHash {
            salt: "zz".into(),
            hash: a.record.key.hash.clone(),
        };
        assert!(!verify(&broken, a.key_secret.expose()));
        // The record never holds a plaintext.
        let stored = serde_json::to_string(&a.record).unwrap();
        assert!(!stored.contains(a.password.expose()) && !stored.contains(a.key_secret.expose()));
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(a.encoded_key().expose())
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            format!("g1:{}", a.key_secret.expose())
        );
    }
}
