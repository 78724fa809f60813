//! The tenant secret: everything a tenant's functions need to reach its data (database
//! credentials and the signing-key ring), stored as one Secrets Manager secret per tenant.

use secrecy::SecretString;
use serde::Deserialize;
use uuid::Uuid;

use crate::security::tokens::KeyRing;

/// Everything a tenant's functions need to reach its data: stored as one secret (written
/// through `SecretJson`, the only place its password is exposed).
#[derive(Deserialize)]
pub struct TenantSecret {
    pub tenant_id: Uuid,
    pub db: DbCredentials,
    pub jwt: KeyRing,
}

/// Connection details of a tenant database.
#[derive(Deserialize)]
pub struct DbCredentials {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub username: String,
    pub password: SecretString,
}

impl std::fmt::Debug for TenantSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantSecret")
            .field("tenant_id", &self.tenant_id)
            .field("database", &self.db.database)
            .finish_non_exhaustive()
    }
}
