//! The provider's signing key: RSA 2048, generated at start (never stored), published as a JWKS.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{Generate, PrivateKey};
use serde::Serialize;
use serde_json::{Value, json};

use super::IdpError;

/// A key pair that signs tokens (RS256) and the JWK that verifies them.
pub struct SigningKey {
    pub kid: String,
    encoding: EncodingKey,
    jwk: Value,
}

impl SigningKey {
    pub fn generate() -> Result<Self, IdpError> {
        let private = PrivateKey::try_generate()
            .map_err(|e| IdpError::Key(format!("generating the RSA key: {e:?}")))?;
        let der = private
            .to_pkcs1_der()
            .map_err(|e| IdpError::Key(format!("encoding the RSA key: {e}")))?;
        let public = private.to_public_key();
        let kid = uuid::Uuid::new_v4().simple().to_string();
        let jwk = json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(public.n_bytes()),
            "e": URL_SAFE_NO_PAD.encode(public.e_bytes()),
        });
        Ok(Self {
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            kid,
            jwk,
        })
    }

    /// The public half as a JWK (`kty`, `use`, `alg`, `kid`, `n`, `e`).
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// Sign `claims` as a JWT (RS256, this key's `kid`).
    pub fn sign(&self, claims: &impl Serialize) -> Result<String, IdpError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| IdpError::Key(format!("signing a token: {e}")))
    }
}
