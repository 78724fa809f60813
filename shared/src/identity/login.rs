//! Signing in to a tenant: login (argon2id, throttled, unknown emails cost as much as wrong
//! passwords), the caller's profile, and the password change that lifts the temporary
//! password's restriction. Tokens are signed with the tenant's own key.

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::email::Email;
use crate::domain::role::Role;
use crate::identity::IdentityError;
use crate::platform::metrics::{self, LoginOutcome};
use crate::security::password::{hash_password, validate_new_password, verify_off_thread};
use crate::security::throttle::{Throttle, ThrottleError, ThrottleKey};
use crate::store::secrets::SecretStore;
use crate::tenancy::context::{Caller, Tenant, TenantContext};

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

/// Email + password → an access token for this tenant. Each attempt counts in the `Logins`
/// metric by outcome.
pub async fn login<S: SecretStore>(
    ctx: &TenantContext<S>,
    throttle: &Throttle,
    tenant: &Tenant,
    email: &str,
    password: &SecretString,
    source_ip: Option<&str>,
) -> Result<Session, IdentityError> {
    let result = sign_in(ctx, throttle, tenant, email, password, source_ip).await;
    metrics::login(&tenant.tenant_id, login_outcome(&result));
    result
}

fn login_outcome(result: &Result<Session, IdentityError>) -> LoginOutcome {
    match result {
        Ok(_) => LoginOutcome::Ok,
        Err(IdentityError::InvalidCredentials) => LoginOutcome::Failed,
        Err(IdentityError::Throttle(ThrottleError::Limited { .. })) => LoginOutcome::Throttled,
        Err(_) => LoginOutcome::Error,
    }
}

async fn sign_in<S: SecretStore>(
    ctx: &TenantContext<S>,
    throttle: &Throttle,
    tenant: &Tenant,
    email: &str,
    password: &SecretString,
    source_ip: Option<&str>,
) -> Result<Session, IdentityError> {
    let email = Email::parse(email).ok();
    let keys = ThrottleKey::sign_in(&tenant.tenant_id.to_string(), email.as_ref(), source_ip);
    // Reserved before the password is checked: concurrent guesses cannot all get a check.
    throttle.attempt(&keys).await?;
    let user = match &email {
        Some(email) => {
            let db = ctx.connect(tenant).await?;
            db.query_opt(
                "SELECT user_id, email, role, password_hash, must_change_password FROM users WHERE email = $1",
                &[&email.as_str()],
            )
            .await?
        }
        None => None,
    };
    let hash = user
        .as_ref()
        .map(|u| u.try_get::<_, String>("password_hash"))
        .transpose()?;
    if !verify_off_thread(password, hash).await {
        return Err(IdentityError::InvalidCredentials);
    }
    let Some(user) = user else {
        return Err(IdentityError::InvalidCredentials);
    };
    throttle.succeeded(&keys).await?;
    let user_id: Uuid = user.try_get("user_id")?;
    let role = parse_role(user.try_get("role")?)?;
    let must_change: bool = user.try_get("must_change_password")?;
    let db = ctx.connect(tenant).await?;
    db.execute(
        "UPDATE users SET last_login_at = now() WHERE user_id = $1",
        &[&user_id],
    )
    .await?;
    let (access_token, expires_in) = ctx
        .issue_token(tenant, user_id, user.try_get("email")?, role, must_change)
        .await?;
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
) -> Result<UserView, IdentityError> {
    let db = ctx.connect(tenant).await?;
    let row = db
        .query_opt(
            "SELECT user_id, email, full_name, role, must_change_password, created_at, last_login_at
             FROM users WHERE user_id = $1",
            &[&caller.user_id],
        )
        .await?
        .ok_or(IdentityError::UserGone)?;
    user_view(tenant.tenant_id, &row)
}

/// Builds a `UserView` from a row of `user_id, email, full_name, role, must_change_password,
/// created_at, last_login_at`.
pub fn user_view(tenant_id: Uuid, row: &tokio_postgres::Row) -> Result<UserView, IdentityError> {
    Ok(UserView {
        user_id: row.try_get("user_id")?,
        tenant_id,
        email: row.try_get("email")?,
        full_name: row.try_get("full_name")?,
        role: parse_role(row.try_get("role")?)?,
        password_change_required: row.try_get("must_change_password")?,
        created_at: row.try_get("created_at")?,
        last_login_at: row.try_get("last_login_at")?,
    })
}

/// A role as stored; anything else means the row was written by something other than us.
fn parse_role(stored: &str) -> Result<Role, IdentityError> {
    Role::parse(stored).ok_or(IdentityError::Corrupt("unknown role in users"))
}

/// Changes the caller's password (the current one is required) and returns a fresh token
/// without the temporary-password restriction.
pub async fn change_password<S: SecretStore>(
    ctx: &TenantContext<S>,
    tenant: &Tenant,
    caller: &Caller,
    current: &SecretString,
    new: &SecretString,
) -> Result<Session, IdentityError> {
    validate_new_password(new.expose_secret()).map_err(IdentityError::WeakPassword)?;
    if new.expose_secret() == current.expose_secret() {
        return Err(IdentityError::PasswordUnchanged);
    }
    let db = ctx.connect(tenant).await?;
    let hash: Option<String> = db
        .query_opt(
            "SELECT password_hash FROM users WHERE user_id = $1",
            &[&caller.user_id],
        )
        .await?
        .map(|r| r.try_get("password_hash"))
        .transpose()?;
    if hash.is_none() {
        return Err(IdentityError::UserGone);
    }
    if !verify_off_thread(current, hash).await {
        return Err(IdentityError::InvalidCredentials);
    }
    let new_owned = SecretString::from(new.expose_secret().to_owned());
    let new_hash = tokio::task::spawn_blocking(move || hash_password(&new_owned))
        .await?
        .map_err(IdentityError::Hashing)?;
    db.execute(
        "UPDATE users SET password_hash = $1, must_change_password = false, updated_at = now() WHERE user_id = $2",
        &[&new_hash, &caller.user_id],
    )
    .await?;
    let (access_token, expires_in) = ctx
        .issue_token(tenant, caller.user_id, &caller.email, caller.role, false)
        .await?;
    Ok(Session {
        access_token,
        token_type: "Bearer",
        expires_in,
        password_change_required: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_results_count_as_ok_failed_throttled_or_error() {
        let session = Session {
            access_token: "t".into(),
            token_type: "Bearer",
            expires_in: 3600,
            password_change_required: false,
        };
        assert_eq!(login_outcome(&Ok(session)), LoginOutcome::Ok);
        assert_eq!(
            login_outcome(&Err(IdentityError::InvalidCredentials)),
            LoginOutcome::Failed
        );
        assert_eq!(
            login_outcome(&Err(IdentityError::Throttle(ThrottleError::Limited {
                retry_after: 30
            }))),
            LoginOutcome::Throttled
        );
        // A fault of the platform is no guess at a password.
        assert_eq!(
            login_outcome(&Err(IdentityError::Corrupt("unknown role in users"))),
            LoginOutcome::Error
        );
    }
}
