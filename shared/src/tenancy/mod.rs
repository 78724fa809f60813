//! The data plane's front door (DESIGN §4): host → active tenant (registry, cached) → its secret
//! → a connection to its database as its own role → the caller, verified with its keys.

pub mod context;
pub mod directory;
pub mod secret;

use crate::domain::role::Role;
use crate::security::tokens::TokenError;
use crate::store::postgres::pool::TenantPoolError;
use crate::store::registry::{RegistryError, TenantStatus};
use crate::store::secrets::SecretsError;

/// Why a tenant request cannot go on. The web layer maps each to its status and code.
#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    #[error("no tenant lives at this address")]
    TenantNotFound,
    #[error("this tenant is suspended")]
    Suspended,
    #[error("this tenant is not available ({0:?})")]
    Unavailable(TenantStatus),
    #[error("send Authorization: Bearer <token>")]
    MissingToken,
    #[error("the token is missing, invalid or expired")]
    InvalidToken(#[source] TokenError),
    #[error("the token belongs to tenant {0}, not this one")]
    OtherTenant(uuid::Uuid),
    #[error("change the temporary password first (POST /api/auth/password)")]
    PasswordChangeRequired,
    #[error("this needs the {} role", .0.as_str())]
    Forbidden(Role),
    #[error("platform administrators only")]
    PlatformOnly,
    #[error("tenant secret {name} is unusable: {reason}")]
    BadSecret { name: String, reason: &'static str },
    #[error("tenant {0}'s registry record is not one this code writes")]
    CorruptRecord(uuid::Uuid),
    #[error("tenant {0} has no signing key")]
    NoSigningKey(uuid::Uuid),
    #[error("issuing a token failed")]
    Issue(#[source] TokenError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Pool(#[from] TenantPoolError),
    #[error("tenant database query failed")]
    Database(#[from] tokio_postgres::Error),
}
