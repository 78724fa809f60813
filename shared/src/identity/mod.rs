//! Who is calling: tenant users signing in and being managed on their tenant's host, the
//! tenant's signing keys, and the platform administrators of `api.<domain>`.

pub mod admins;
pub mod login;
pub mod users;

use crate::security::password::PasswordError;
use crate::security::throttle::ThrottleError;
use crate::security::tokens::TokenError;
use crate::store::registry::RegistryError;
use crate::store::secrets::SecretsError;
use crate::tenancy::TenancyError;

pub use users::UserAdminError;

/// Why signing in, the caller's profile or a password change failed (tenant users and platform
/// admins alike). User management has its own [`UserAdminError`].
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("email or password is wrong")]
    InvalidCredentials,
    #[error("this user no longer exists")]
    UserGone,
    #[error("{0}")]
    WeakPassword(#[source] PasswordError),
    #[error("the new password must differ from the current one")]
    PasswordUnchanged,
    #[error("send Authorization: Bearer <token>")]
    MissingToken,
    #[error("the token is missing, invalid or expired")]
    InvalidToken(#[source] TokenError),
    #[error("platform administrators only")]
    NotPlatformAdmin,
    #[error("this admin account is disabled or no longer exists")]
    AdminDisabled,
    #[error("no platform signing key")]
    NoSigningKey,
    #[error("issuing a token failed")]
    Issue(#[source] TokenError),
    #[error("stored data is not what this code writes: {0}")]
    Corrupt(&'static str),
    #[error("hashing the password failed")]
    Hashing(#[source] PasswordError),
    #[error("a blocking task failed")]
    Task(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Throttle(#[from] ThrottleError),
    #[error(transparent)]
    Tenancy(#[from] TenancyError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error("tenant database query failed")]
    Database(#[from] tokio_postgres::Error),
}
