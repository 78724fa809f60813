//! The public halves of token keys: what a tenant's registry record publishes and every
//! function verifies with (signing lives in `security::tokens`). Validated on reading.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

/// An Ed25519 private key is a 32-byte seed; its public key is 32 bytes too.
pub const KEY_LEN: usize = 32;

/// The public half of a signing key: `x` is the raw Ed25519 public key, base64url (as in a
/// JWK). What every function verifies with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyingKey {
    pub kid: String,
    pub x: String,
    pub created_at: DateTime<Utc>,
    pub revoked: bool,
}

impl<'de> Deserialize<'de> for VerifyingKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Stored {
            kid: String,
            x: String,
            created_at: DateTime<Utc>,
            #[serde(default)]
            revoked: bool,
        }
        let stored = Stored::deserialize(deserializer)?;
        if stored.kid.is_empty() {
            return Err(D::Error::custom("verifying key has an empty kid"));
        }
        if URL_SAFE_NO_PAD.decode(&stored.x).map(|x| x.len()) != Ok(KEY_LEN) {
            return Err(D::Error::custom(
                "verifying key is not a 32-byte Ed25519 public key in base64url",
            ));
        }
        Ok(Self {
            kid: stored.kid,
            x: stored.x,
            created_at: stored.created_at,
            revoked: stored.revoked,
        })
    }
}

/// The public keys tokens may have been signed with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyingKeys {
    pub keys: Vec<VerifyingKey>,
}

impl VerifyingKeys {
    /// The key named `kid`, revoked or not.
    pub fn find(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Whether `kid` names a key that still verifies.
    pub fn is_live(&self, kid: &str) -> bool {
        self.find(kid).is_some_and(|k| !k.revoked)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Adds the keys of `other` not known here and carries its revocations over (a revoked
    /// key is never revived), so two rotations merged in either order agree.
    pub fn merge(&mut self, other: &VerifyingKeys) {
        for key in &other.keys {
            match self.keys.iter_mut().find(|k| k.kid == key.kid) {
                Some(known) => known.revoked |= key.revoked,
                None => self.keys.push(key.clone()),
            }
        }
    }
}
