//! HS256 keys from before tokens were EdDSA: kept in a tenant's database secret (its `jwt`
//! field) only until the tokens they signed have expired, then removed by a migration run.
//! They verify those tokens, and sign for a tenant whose EdDSA keys are not made yet (between
//! a deploy and its migration run); nothing else uses them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::de::Error as _;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{TokenError, echo, encode};
use crate::security::password::{random_bytes, random_token};

/// HS256 keys are 256 bits; shorter stored secrets are refused.
pub const SECRET_LEN: usize = 32;

/// One HMAC key with its id; `Debug` never shows the secret.
#[derive(Clone)]
pub struct HmacKey {
    pub kid: String,
    secret: SecretSlice<u8>,
    pub created_at: DateTime<Utc>,
    pub revoked: bool,
}

impl HmacKey {
    /// A fresh key (tests build pre-EdDSA tenants with it).
    pub fn generate() -> Self {
        Self {
            kid: random_token(9),
            secret: SecretSlice::from(random_bytes::<SECRET_LEN>().to_vec()),
            created_at: Utc::now(),
            revoked: false,
        }
    }
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HmacKey")
            .field("kid", &self.kid)
            .field("secret", &"[redacted]")
            .field("created_at", &self.created_at)
            .field("revoked", &self.revoked)
            .finish()
    }
}

impl Serialize for HmacKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let secret = SecretString::from(STANDARD.encode(self.secret.expose_secret()));
        let mut s = serializer.serialize_struct("HmacKey", 4)?;
        s.serialize_field("kid", &self.kid)?;
        s.serialize_field("secret", secret.expose_secret())?;
        s.serialize_field("created_at", &self.created_at)?;
        s.serialize_field("revoked", &self.revoked)?;
        s.end()
    }
}

impl<'de> Deserialize<'de> for HmacKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Stored {
            kid: String,
            secret: SecretString,
            created_at: DateTime<Utc>,
            #[serde(default)]
            revoked: bool,
        }
        let stored = Stored::deserialize(deserializer)?;
        if stored.kid.is_empty() {
            return Err(D::Error::custom("signing key has an empty kid"));
        }
        // The decoder's own message can quote a character of the secret: not passed on.
        let secret = STANDARD
            .decode(stored.secret.expose_secret())
            .map_err(|_| D::Error::custom("signing key secret is not standard base64"))?;
        if secret.len() < SECRET_LEN {
            return Err(D::Error::custom(
                "signing key secret is shorter than 32 bytes",
            ));
        }
        Ok(Self {
            kid: stored.kid,
            secret: SecretSlice::from(secret),
            created_at: stored.created_at,
            revoked: stored.revoked,
        })
    }
}

/// A tenant's HS256 keys, as its database secret held them before EdDSA.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HmacKeys {
    pub keys: Vec<HmacKey>,
}

impl HmacKeys {
    /// The newest key that is not revoked.
    pub fn current(&self) -> Option<&HmacKey> {
        self.keys
            .iter()
            .filter(|k| !k.revoked)
            .max_by_key(|k| k.created_at)
    }

    /// The live key named `kid`, for verification.
    pub(super) fn decoding_key(&self, kid: &str) -> Result<DecodingKey, TokenError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| TokenError::UnknownKid(echo(kid)))?;
        if key.revoked {
            return Err(TokenError::RevokedKid(echo(kid)));
        }
        Ok(DecodingKey::from_secret(key.secret.expose_secret()))
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
        &EncodingKey::from_secret(key.secret.expose_secret()),
    )
}
