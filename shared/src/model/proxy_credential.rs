//! A proxy credential as DynamoDB holds it: who may use it and its salted, keyed hashes, never
//! the secrets themselves (see [`crate::proxy_credentials`] for issuing and checking them).

use serde::{Deserialize, Serialize};

/// One secret's check value: `HMAC-SHA256(key = salt, message = secret)`, both hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretHash {
    pub salt: String,
    pub hash: String,
}

/// What the proxy needs to authenticate and authorize a grant's requests. It lives on the grant's
/// own record, so it is written in the same conditional write (with its audit event) as the grant
/// turning active, and dropped in the same write as the grant leaving `active`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyCredential {
    /// The Basic username (`<user_prefix>proxy_<grant id>`).
    pub username: String,
    pub password: SecretHash,
    /// The id half of the `ApiKey` token (`base64(id:secret)`); the grant id.
    pub key_id: String,
    pub key: SecretHash,
    /// The grant's index privileges, resolved when it was provisioned (a later change to a
    /// custom permission does not widen a live grant).
    pub privileges: Vec<String>,
}
