//! HS256 keys from before tokens were EdDSA: kept in a tenant's database secret (its `jwt`
//! field) only until the tokens they signed have expired, then removed by a migration run.
//! They verify those tokens, and sign for a tenant whose EdDSA keys are not made yet (between
//! a deploy and its migration run); nothing else uses them.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use secrecy::{ExposeSecret, SecretSlice};
use serde::Serialize;

use super::{KeyMaterial, Ring, RingKey, TokenError, echo, encode};
use crate::security::password::random_bytes;

/// HS256 keys are 256 bits; shorter stored secrets are refused.
pub const SECRET_LEN: usize = 32;

/// An HMAC secret, stored as `secret`.
#[derive(Clone)]
pub struct HmacSecret(SecretSlice<u8>);

impl KeyMaterial for HmacSecret {
    const FIELD: &'static str = "secret";

    fn generate() -> Self {
        Self(SecretSlice::from(random_bytes::<SECRET_LEN>().to_vec()))
    }

    fn from_bytes(bytes: Vec<u8>) -> Result<Self, &'static str> {
        if bytes.len() < SECRET_LEN {
            return Err("signing key secret is shorter than 32 bytes");
        }
        Ok(Self(SecretSlice::from(bytes)))
    }

    fn bytes(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

/// One HMAC key with its id (tests build pre-EdDSA tenants with `HmacKey::generate`).
pub type HmacKey = RingKey<HmacSecret>;

/// A tenant's HS256 keys, as its database secret held them before EdDSA.
pub type HmacKeys = Ring<HmacSecret>;

impl HmacKeys {
    /// The live key named `kid`, for verification.
    pub(super) fn decoding_key(&self, kid: &str) -> Result<DecodingKey, TokenError> {
        let key = self
            .find(kid)
            .ok_or_else(|| TokenError::UnknownKid(echo(kid)))?;
        if key.revoked {
            return Err(TokenError::RevokedKid(echo(kid)));
        }
        Ok(DecodingKey::from_secret(key.material.bytes()))
    }
}

/// Signs `claims` with `key` under HS256.
pub fn issue<C: Serialize>(key: &HmacKey, claims: &C) -> Result<String, TokenError> {
    if key.revoked {
        return Err(TokenError::SigningKeyRevoked(key.kid.clone()));
    }
    encode(
        Algorithm::HS256,
        &key.kid,
        claims,
        &EncodingKey::from_secret(key.material.bytes()),
    )
}
