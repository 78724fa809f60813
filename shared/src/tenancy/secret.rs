//! The tenant secret: what a tenant's functions need to reach its data (its database
//! credentials), stored as one Secrets Manager secret per tenant. Token keys are elsewhere: the
//! private ones in their own secret (`store::secrets::signing_secret_name`), the public ones
//! on the registry record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::security::tokens::KeyRing;
use crate::security::tokens::legacy::HmacKeys;
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
    /// Until when tokens signed with `legacy_keys` are accepted; set by the migration run that
    /// gives the tenant its EdDSA keys (none yet: accepted, the tenant still signs with them).
    #[serde(default, rename = "jwt_accepted_until")]
    pub legacy_accepted_until: Option<DateTime<Utc>>,
}

impl TenantSecret {
    /// The legacy keys while their tokens are still accepted.
    pub fn live_legacy_keys(&self) -> Option<&HmacKeys> {
        let live = self
            .legacy_accepted_until
            .is_none_or(|until| Utc::now() < until);
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
