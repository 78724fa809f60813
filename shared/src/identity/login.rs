//! Signing in to a tenant: login (argon2id, throttled, unknown emails cost as much as wrong
//! passwords), the caller's profile, and the password change that lifts the temporary
//! password's restriction. Tokens are signed with the tenant's own key.

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::email::Email;
use crate::domain::role::Role;
use crate::security::password::{
    burn_verification, hash_password, validate_new_password, verify_password,
};
use crate::security::throttle::{Throttle, ThrottleKey};
use crate::store::secrets::SecretStore;
use crate::tenancy::context::{Caller, Tenant, TenantContext};
use crate::web::error::ApiError;

/// A successful sign-in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Session {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub password_change_required: bool,
}

/// A user as the API shows it.
#[derive(Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UserView {
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub password_change_required: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_login_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "email or password is wrong")
}

/// Argon2 is CPU-bound: keep it off the async worker.
async fn verify_blocking(password: &SecretString, hash: Option<String>) -> bool {
    let password = SecretString::from(password.expose_secret().to_owned());
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_password(&password, &hash),
        None => {
            burn_verification(&password);
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// Email + password → an access token for this tenant.
pub async fn login<S: SecretStore>(
    ctx: &TenantContext<S>,
    throttle: &Throttle,
    tenant: &Tenant,
    email: &str,
    password: &SecretString,
    source_ip: Option<&str>,
) -> Result<Session, ApiError> {
    let email = Email::parse(email).ok();
    let mut keys = Vec::new();
    if let Some(email) = &email {
        keys.push(ThrottleKey::login_email(&tenant.tenant_id, email));
    }
    if let Some(ip) = source_ip {
        keys.push(ThrottleKey::login_ip(ip));
    }
    throttle.check(&keys).await?;
    let user = match &email {
        Some(email) => {
            let db = ctx.connect(tenant).await?;
            db.query_opt(
                "SELECT user_id, email, role, password_hash, must_change_password FROM users WHERE email = $1",
                &[&email.as_str()],
            )
            .await
            .map_err(|e| ApiError::internal(&e))?
        }
        None => None,
    };
    let hash = user.as_ref().map(|u| u.get::<_, String>(3));
    if !verify_blocking(password, hash).await {
        throttle.record_failure(&keys).await?;
        return Err(invalid_credentials());
    }
    let Some(user) = user else {
        return Err(invalid_credentials());
    };
    if let Some(email) = &email {
        throttle
            .reset(&ThrottleKey::login_email(&tenant.tenant_id, email))
            .await?;
    }
    let user_id: Uuid = user.get(0);
    let role = Role::parse(user.get(2))
        .ok_or_else(|| ApiError::internal(&std::io::Error::other("unknown role in users")))?;
    let must_change: bool = user.get(4);
    let db = ctx.connect(tenant).await?;
    db.execute(
        "UPDATE users SET last_login_at = now() WHERE user_id = $1",
        &[&user_id],
    )
    .await
    .map_err(|e| ApiError::internal(&e))?;
    let (access_token, expires_in) =
        ctx.issue_token(tenant, user_id, user.get(1), role, must_change)?;
    Ok(Session {
        access_token,
        token_type: "Bearer",
        expires_in,
        password_change_required: must_change,
    })
}

/// The caller's profile (one query on the tenant database).
pub async fn me<S: SecretStore>(
    ctx: &TenantContext<S>,
    tenant: &Tenant,
    caller: &Caller,
) -> Result<UserView, ApiError> {
    let db = ctx.connect(tenant).await?;
    let row = db
        .query_opt(
            "SELECT user_id, email, full_name, role, must_change_password, created_at, last_login_at
             FROM users WHERE user_id = $1",
            &[&caller.user_id],
        )
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| ApiError::unauthorized("invalid_token", "this user no longer exists"))?;
    user_view(tenant.tenant_id, &row)
}

/// Builds a `UserView` from a row of `user_id, email, full_name, role, must_change_password,
/// created_at, last_login_at`.
pub fn user_view(tenant_id: Uuid, row: &tokio_postgres::Row) -> Result<UserView, ApiError> {
    Ok(UserView {
        user_id: row.get(0),
        tenant_id,
        email: row.get(1),
        full_name: row.get(2),
        role: Role::parse(row.get(3))
            .ok_or_else(|| ApiError::internal(&std::io::Error::other("unknown role in users")))?,
        password_change_required: row.get(4),
        created_at: row.get(5),
        last_login_at: row.get(6),
    })
}

/// Changes the caller's password (the current one is required) and returns a fresh token
/// without the temporary-password restriction.
pub async fn change_password<S: SecretStore>(
    ctx: &TenantContext<S>,
    tenant: &Tenant,
    caller: &Caller,
    current: &SecretString,
    new: &SecretString,
) -> Result<Session, ApiError> {
    validate_new_password(new.expose_secret())
        .map_err(|e| ApiError::bad_request("weak_password", e.to_string()))?;
    if new.expose_secret() == current.expose_secret() {
        return Err(ApiError::bad_request(
            "password_unchanged",
            "the new password must differ from the current one",
        ));
    }
    let db = ctx.connect(tenant).await?;
    let hash: Option<String> = db
        .query_opt(
            "SELECT password_hash FROM users WHERE user_id = $1",
            &[&caller.user_id],
        )
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map(|r| r.get(0));
    if hash.is_none() {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "this user no longer exists",
        ));
    }
    if !verify_blocking(current, hash).await {
        return Err(invalid_credentials());
    }
    let new_owned = SecretString::from(new.expose_secret().to_owned());
    let new_hash = tokio::task::spawn_blocking(move || hash_password(&new_owned))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))?;
    db.execute(
        "UPDATE users SET password_hash = $1, must_change_password = false, updated_at = now() WHERE user_id = $2",
        &[&new_hash, &caller.user_id],
    )
    .await
    .map_err(|e| ApiError::internal(&e))?;
    let (access_token, expires_in) =
        ctx.issue_token(tenant, caller.user_id, &caller.email, caller.role, false)?;
    Ok(Session {
        access_token,
        token_type: "Bearer",
        expires_in,
        password_change_required: false,
    })
}
