//! The tenant secret: what a tenant's functions need to reach its data (its database
//! credentials), stored as one Secrets Manager secret per tenant. Token keys are elsewhere: the
//! private ones in their own secret (`store::secrets::signing_secret_name`), the public ones
//! on the registry record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::security::tokens::legacy::HmacKeys;
use crate::security::tokens::{KeyRing, VerifyingKeys};
pub use crate::store::postgres::pool::DbCredentials;

/// Everything a tenant's functions need to reach its data: stored as one secret (written
/// through `SecretJson`, the only place its password is exposed).
#[derive(Deserialize)]
pub struct TenantSecret {
    pub tenant_id: Uuid,
    pub db: DbCredentials,
    /// HS256 keys of a tenant made before tokens were EdDSA (stored as `jwt`).
    #[serde(default, rename = "jwt")]
    pub legacy_keys: Option<HmacKeys>,
    /// Until when tokens signed with `legacy_keys` are accepted; set by the migration run before
    /// it publishes the tenant's EdDSA keys.
    #[serde(default, rename = "jwt_accepted_until")]
    pub legacy_accepted_until: Option<DateTime<Utc>>,
}

impl TenantSecret {
    /// The legacy keys while their tokens are still accepted: until `legacy_accepted_until`,
    /// or, without one, only while the tenant publishes no EdDSA key (it still signs with
    /// them). Never open-ended once EdDSA keys exist.
    pub fn live_legacy_keys(&self, published: &VerifyingKeys) -> Option<&HmacKeys> {
        let live = match self.legacy_accepted_until {
            Some(until) => Utc::now() < until,
            None => published.is_empty(),
        };
        self.legacy_keys.as_ref().filter(|_| live)
    }
}

/// A tenant's private token keys: their own secret, granted only to the functions that sign.
#[derive(Debug, Serialize, Deserialize)]
pub struct SigningSecret {
    pub tenant_id: Uuid,
    pub ring: KeyRing,
}

impl std::fmt::Debug for TenantSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantSecret")
            .field("tenant_id", &self.tenant_id)
            .field("database", &self.db.database)
            .finish_non_exhaustive()
    }
}
