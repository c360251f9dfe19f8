//! Random identifiers and password hashing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Prefix of the emulator's own salted SHA-256 password hash format. Elasticsearch's
/// `{SSHA256}`/bcrypt formats are not reproduced; `password_hash` accepts this one.
pub const HASH_PREFIX: &str = "{ESEMU-SSHA256}";

/// A base64url id of `len` characters, shaped like Elasticsearch's 20-character ids.
pub fn random_id(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::fill(&mut bytes[..]);
    let mut s = URL_SAFE_NO_PAD.encode(&bytes);
    s.truncate(len);
    s
}

pub fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn hash_password(password: &str) -> String {
    let salt = random_id(16);
    let digest = sha256_hex(format!("{salt}{password}").as_bytes());
    format!("{HASH_PREFIX}{salt}${digest}")
}

pub fn verify_password(hash: &str, password: &str) -> bool {
    let Some(rest) = hash.strip_prefix(HASH_PREFIX) else {
        return false;
    };
    let Some((salt, digest)) = rest.split_once('$') else {
        return false;
    };
    sha256_hex(format!("{salt}{password}").as_bytes()) == digest
}

/// Whether a `password_hash` value is in a format the emulator can verify.
pub fn is_supported_hash(hash: &str) -> bool {
    hash.strip_prefix(HASH_PREFIX)
        .and_then(|r| r.split_once('$'))
        .is_some_and(|(salt, digest)| !salt.is_empty() && digest.len() == 64)
}
