//! The tenant secret: everything a tenant's functions need to reach its data (database
//! credentials and the signing-key ring), stored as one Secrets Manager secret per tenant.

use serde::Deserialize;
use uuid::Uuid;

use crate::security::tokens::KeyRing;
pub use crate::store::postgres::pool::DbCredentials;

/// Everything a tenant's functions need to reach its data: stored as one secret (written
/// through `SecretJson`, the only place its password is exposed).
#[derive(Deserialize)]
pub struct TenantSecret {
    pub tenant_id: Uuid,
    pub db: DbCredentials,
    pub jwt: KeyRing,
}

impl std::fmt::Debug for TenantSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantSecret")
            .field("tenant_id", &self.tenant_id)
            .field("database", &self.db.database)
            .finish_non_exhaustive()
    }
}
