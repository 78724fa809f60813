//! A tenant admin's tools: the tenant's users (list, create with a temporary password, change a
//! role, delete), kept in step with the email→tenant memberships discovery reads, and rotation of
//! the tenant's signing keys. A tenant always keeps at least one admin.

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::email::{Email, InvalidEmail};
use crate::domain::role::Role;
use crate::identity::IdentityError;
use crate::identity::login::{UserView, user_view};
use crate::platform::telemetry::ErrorChain;
use crate::security::password::{PasswordError, generate_password, hash_password};
use crate::store::audit::{AuditEvent, AuditLog, Outcome};
use crate::store::registry::{Membership, Registry, RegistryError};
use crate::store::secrets::{SecretStore, SecretsError, signing_secret_name};
use crate::tenancy::TenancyError;
use crate::tenancy::context::{Caller, Tenant, TenantContext};
use crate::tenancy::secret::SigningSecret;

/// Longest `full_name`, in characters.
pub const MAX_FULL_NAME_LEN: usize = 255;

const USER_COLUMNS: &str =
    "user_id, email, full_name, role, must_change_password, created_at, last_login_at";

/// Why a user-management request failed.
#[derive(Debug, thiserror::Error)]
pub enum UserAdminError {
    #[error("{0} is required")]
    MissingField(&'static str),
    #[error(transparent)]
    InvalidEmail(#[from] InvalidEmail),
    #[error("role must be one of admin, analyst, viewer")]
    InvalidRole,
    #[error("full_name must be 1-{MAX_FULL_NAME_LEN} printable characters")]
    InvalidFullName,
    #[error("the user id is not a UUID")]
    InvalidUserId,
    #[error("a user with this email already exists")]
    UserExists,
    #[error("no such user")]
    NotFound,
    #[error("the tenant would be left without an admin; make another user admin first")]
    LastAdmin,
    #[error("you cannot delete your own account")]
    CannotDeleteSelf,
    /// The token still says admin, the database no longer does (demoted or deleted since).
    #[error("your account is no longer an admin here; sign in again")]
    NoLongerAdmin,
    #[error("tenant database query failed")]
    Db(#[from] tokio_postgres::Error),
    #[error("registry request failed")]
    Registry(#[from] RegistryError),
    #[error("tenant secret request failed")]
    Secrets(#[from] SecretsError),
    /// No detail: the parser's message could quote the secret.
    #[error("tenant secret {0} is missing or not the expected JSON")]
    BadSecret(String),
    #[error("hashing the temporary password failed")]
    Hash(#[from] PasswordError),
    #[error("a blocking task failed")]
    Task(#[from] tokio::task::JoinError),
    #[error("tenant {0} is no longer in the registry")]
    TenantGone(Uuid),
    /// A tenant made before EdDSA keys, not yet through a migration run: there is no private
    /// ring to add to (and the run, not a rotation, retires its HS256 keys).
    #[error("this tenant's keys are being upgraded; try again after the platform's migration run")]
    KeysNotMigrated,
    #[error(transparent)]
    Tenancy(#[from] TenancyError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

/// The body of `POST /api/auth/users`, before validation.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct NewUserInput {
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub role: Option<String>,
}

/// A validated new user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub email: Email,
    pub full_name: String,
    pub role: Role,
}

impl NewUser {
    /// Validates every field; the first problem is reported.
    pub fn parse(input: NewUserInput) -> Result<Self, UserAdminError> {
        let email = input.email.ok_or(UserAdminError::MissingField("email"))?;
        let email = Email::parse(&email)?;
        let full_name = input
            .full_name
            .ok_or(UserAdminError::MissingField("full_name"))?;
        let full_name = full_name.trim();
        let printable = !full_name.is_empty()
            && full_name.chars().count() <= MAX_FULL_NAME_LEN
            && !full_name.chars().any(char::is_control);
        if !printable {
            return Err(UserAdminError::InvalidFullName);
        }
        Ok(Self {
            email,
            full_name: full_name.to_owned(),
            role: parse_role(input.role.as_deref())?,
        })
    }
}

/// `admin`, `analyst` or `viewer`.
pub fn parse_role(raw: Option<&str>) -> Result<Role, UserAdminError> {
    let raw = raw.ok_or(UserAdminError::MissingField("role"))?;
    Role::parse(raw).ok_or(UserAdminError::InvalidRole)
}

/// A user id from a path segment.
pub fn parse_user_id(raw: &str) -> Result<Uuid, UserAdminError> {
    Uuid::parse_str(raw).map_err(|_| UserAdminError::InvalidUserId)
}

/// A user just created, with the password they must change at first sign-in.
#[derive(Debug)]
pub struct CreatedUser {
    pub user: UserView,
    pub temporary_password: SecretString,
}

/// What a key rotation did.
#[derive(Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct KeyRotation {
    /// The key that signs from now on.
    pub kid: String,
    /// Keys this rotation revoked: tokens they signed no longer verify.
    pub revoked: Vec<String>,
    /// Keys that still verify, oldest first.
    pub active_kids: Vec<String>,
}

/// The token's role claim lives an hour; a demoted or deleted admin must lose these powers at
/// once, so the database has the last word.
async fn ensure_still_admin(
    db: &tokio_postgres::Client,
    caller: &Caller,
) -> Result<(), UserAdminError> {
    let role: Option<String> = db
        .query_opt(
            "SELECT role FROM users WHERE user_id = $1",
            &[&caller.user_id],
        )
        .await?
        .map(|row| row.get(0));
    match role.as_deref() {
        Some("admin") => Ok(()),
        _ => Err(UserAdminError::NoLongerAdmin),
    }
}

/// Distinguishes "refused by the last-admin rule" from "no such user" after a guarded write
/// touched no row.
async fn last_admin_or_missing(db: &tokio_postgres::Client, user_id: &Uuid) -> UserAdminError {
    match db
        .query_opt("SELECT 1 FROM users WHERE user_id = $1", &[user_id])
        .await
    {
        Ok(Some(_)) => UserAdminError::LastAdmin,
        Ok(None) => UserAdminError::NotFound,
        Err(e) => e.into(),
    }
}

async fn audit(
    registry: &Registry,
    tenant: &Tenant,
    caller: &Caller,
    action: &str,
    detail: String,
) {
    AuditLog::new(registry.clone())
        .record_best_effort(
            &AuditEvent::new(
                &format!("user:{}", caller.email),
                action,
                Some(tenant.tenant_id),
                Outcome::Success,
            )
            .with_detail(detail),
        )
        .await;
}

fn membership(tenant: &Tenant, email: &str, role: Role) -> Membership {
    Membership {
        email: email.to_owned(),
        tenant_id: tenant.tenant_id,
        subdomain: tenant.subdomain.to_string(),
        display_name: tenant.record.company_name.clone(),
        role: role.as_str().to_owned(),
    }
}

/// Every user of the tenant, ordered by email.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant.tenant_id))]
pub async fn list_users<S: SecretStore>(
    ctx: &TenantContext<S>,
    tenant: &Tenant,
    caller: &Caller,
) -> Result<Vec<UserView>, UserAdminError> {
    let db = ctx.connect(tenant).await?;
    ensure_still_admin(&db, caller).await?;
    let rows = db
        .query(
            &format!("SELECT {USER_COLUMNS} FROM users ORDER BY email"),
            &[],
        )
        .await?;
    rows.iter()
        .map(|row| user_view(tenant.tenant_id, row).map_err(UserAdminError::from))
        .collect()
}

/// Creates a user with a generated temporary password (to be changed at first sign-in) and the
/// membership that lets discovery find the tenant for their email.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant.tenant_id, role = new.role.as_str()))]
pub async fn create_user<S: SecretStore>(
    ctx: &TenantContext<S>,
    registry: &Registry,
    tenant: &Tenant,
    caller: &Caller,
    new: NewUser,
) -> Result<CreatedUser, UserAdminError> {
    let db = ctx.connect(tenant).await?;
    ensure_still_admin(&db, caller).await?;
    let password = generate_password();
    let to_hash = password.clone();
    // Argon2 is CPU-bound: keep it off the async worker.
    let hash = tokio::task::spawn_blocking(move || hash_password(&to_hash)).await??;
    let row = db
        .query_opt(
            &format!(
                "INSERT INTO users (email, full_name, role, password_hash, must_change_password)
                 VALUES ($1, $2, $3, $4, true)
                 ON CONFLICT (email) DO NOTHING
                 RETURNING {USER_COLUMNS}"
            ),
            &[
                &new.email.as_str(),
                &new.full_name,
                &new.role.as_str(),
                &hash,
            ],
        )
        .await?
        .ok_or(UserAdminError::UserExists)?;
    let user = user_view(tenant.tenant_id, &row)?;
    if let Err(err) = registry
        .put_membership(&membership(tenant, &user.email, user.role))
        .await
    {
        // A user discovery cannot find is worse than none: take the row back and report.
        if let Err(undo) = db
            .execute("DELETE FROM users WHERE user_id = $1", &[&user.user_id])
            .await
        {
            tracing::error!(error = %ErrorChain(&undo), user_id = %user.user_id, "undoing a user without membership failed");
        }
        return Err(err.into());
    }
    audit(
        registry,
        tenant,
        caller,
        "tenant.user.create",
        format!("{} as {}", user.email, user.role.as_str()),
    )
    .await;
    Ok(CreatedUser {
        user,
        temporary_password: password,
    })
}

/// Gives `user_id` the role `role`, unless that would leave the tenant without an admin.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant.tenant_id, %user_id, role = role.as_str()))]
pub async fn change_role<S: SecretStore>(
    ctx: &TenantContext<S>,
    registry: &Registry,
    tenant: &Tenant,
    caller: &Caller,
    user_id: Uuid,
    role: Role,
) -> Result<UserView, UserAdminError> {
    let db = ctx.connect(tenant).await?;
    ensure_still_admin(&db, caller).await?;
    // One statement, no session state on the pooled connection: the admin rows are locked
    // (`FOR UPDATE` sees their committed state), so two admins demoting each other at once
    // cannot both pass the check.
    let row = db
        .query_opt(
            &format!(
                "WITH admins AS (
                     SELECT user_id FROM users WHERE role = 'admin' ORDER BY user_id FOR UPDATE
                 )
                 UPDATE users SET role = $2, updated_at = now()
                 WHERE user_id = $1
                   AND ($2::text = 'admin' OR role <> 'admin'
                        OR (SELECT count(*) FROM admins WHERE user_id <> $1) > 0)
                 RETURNING {USER_COLUMNS}"
            ),
            &[&user_id, &role.as_str()],
        )
        .await?;
    let Some(row) = row else {
        return Err(last_admin_or_missing(&db, &user_id).await);
    };
    let user = user_view(tenant.tenant_id, &row)?;
    registry
        .put_membership(&membership(tenant, &user.email, user.role))
        .await?;
    audit(
        registry,
        tenant,
        caller,
        "tenant.user.role",
        format!("{} is now {}", user.email, user.role.as_str()),
    )
    .await;
    Ok(user)
}

/// Deletes `user_id` and their membership. Nobody deletes themselves, and the last admin stays.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant.tenant_id, %user_id))]
pub async fn delete_user<S: SecretStore>(
    ctx: &TenantContext<S>,
    registry: &Registry,
    tenant: &Tenant,
    caller: &Caller,
    user_id: Uuid,
) -> Result<(), UserAdminError> {
    if user_id == caller.user_id {
        return Err(UserAdminError::CannotDeleteSelf);
    }
    let db = ctx.connect(tenant).await?;
    ensure_still_admin(&db, caller).await?;
    // The same guard as `change_role`.
    let email: Option<String> = db
        .query_opt(
            "WITH admins AS (
                 SELECT user_id FROM users WHERE role = 'admin' ORDER BY user_id FOR UPDATE
             )
             DELETE FROM users
             WHERE user_id = $1
               AND (role <> 'admin' OR (SELECT count(*) FROM admins WHERE user_id <> $1) > 0)
             RETURNING email",
            &[&user_id],
        )
        .await?
        .map(|row| row.get(0));
    let Some(email) = email else {
        return Err(last_admin_or_missing(&db, &user_id).await);
    };
    registry
        .delete_membership(&email, &tenant.tenant_id)
        .await?;
    audit(registry, tenant, caller, "tenant.user.delete", email).await;
    Ok(())
}

/// Adds a fresh signing key, which signs from now on; older keys keep verifying until their
/// tokens expire, or stop at once with `revoke_previous`. The private ring in the tenant's
/// signing secret is rewritten first; then its public half is merged into the registry record
/// (compare-and-set, `keys_version += 1` so every container refetches within its registry TTL).
/// A key signs only once the record publishes it, and two concurrent rotations both end up
/// published whichever order their writes land in.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant.tenant_id, revoke_previous))]
pub async fn rotate_signing_keys<S: SecretStore>(
    ctx: &TenantContext<S>,
    registry: &Registry,
    tenant: &Tenant,
    caller: &Caller,
    revoke_previous: bool,
) -> Result<KeyRotation, UserAdminError> {
    {
        let db = ctx.connect(tenant).await?;
        ensure_still_admin(&db, caller).await?;
    }
    let name = signing_secret_name(ctx.secrets_prefix(), &tenant.tenant_id);
    let bad = || UserAdminError::BadSecret(name.clone());
    // The newest stored ring, not this container's cached copy.
    let stored = ctx
        .secrets()
        .get(&name)
        .await?
        .ok_or(UserAdminError::KeysNotMigrated)?;
    let secret: SigningSecret = serde_json::from_str(stored.expose_secret()).map_err(|_| bad())?;
    drop(stored);
    if secret.tenant_id != tenant.tenant_id {
        return Err(bad());
    }
    let mut ring = secret.ring;

    let kid = ring.rotate().kid.clone();
    let mut revoked = Vec::new();
    if revoke_previous {
        revoked = ring
            .keys
            .iter()
            .filter(|k| !k.revoked && k.kid != kid)
            .map(|k| k.kid.clone())
            .collect();
        for old in &revoked {
            ring.revoke(old);
        }
    }
    let published = ring.verifying_keys();
    let updated = serde_json::to_string(&SigningSecret {
        tenant_id: tenant.tenant_id,
        ring,
    })
    .map_err(|_| bad())?;
    ctx.secrets()
        .put(&name, &SecretString::from(updated))
        .await?;

    let record = registry
        .update_tenant(&tenant.tenant_id, |record| {
            record.verifying_keys.merge(&published);
            if revoke_previous {
                // Also a published key whose private half a concurrent rotation overwrote.
                for key in record
                    .verifying_keys
                    .keys
                    .iter_mut()
                    .filter(|k| k.kid != kid)
                {
                    key.revoked = true;
                }
            }
            record.keys_version += 1;
            record.updated_at = Utc::now();
            Ok::<_, UserAdminError>(true)
        })
        .await?
        .ok_or(UserAdminError::TenantGone(tenant.tenant_id))?;
    ctx.forget_secret(&tenant.tenant_id);
    tracing::info!(%kid, revoked = revoked.len(), "signing keys rotated");
    audit(
        registry,
        tenant,
        caller,
        "tenant.keys.rotate",
        format!("new kid {kid}; revoked {}", revoked.len()),
    )
    .await;
    let mut live: Vec<_> = record
        .verifying_keys
        .keys
        .iter()
        .filter(|k| !k.revoked)
        .collect();
    live.sort_by_key(|k| k.created_at);
    Ok(KeyRotation {
        kid,
        revoked,
        active_kids: live.into_iter().map(|k| k.kid.clone()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::error::ApiError;

    fn input(email: Option<&str>, name: Option<&str>, role: Option<&str>) -> NewUserInput {
        NewUserInput {
            email: email.map(str::to_owned),
            full_name: name.map(str::to_owned),
            role: role.map(str::to_owned),
        }
    }

    fn code(err: UserAdminError) -> &'static str {
        ApiError::from(err).code
    }

    #[test]
    fn a_valid_new_user_is_normalised() {
        let user = NewUser::parse(input(
            Some(" Ann@Example.COM "),
            Some("  Ann Analyst "),
            Some("analyst"),
        ))
        .unwrap();
        assert_eq!(user.email.as_str(), "ann@example.com");
        assert_eq!(user.full_name, "Ann Analyst");
        assert_eq!(user.role, Role::Analyst);
    }

    #[test]
    fn each_bad_field_has_its_code() {
        let long = "x".repeat(MAX_FULL_NAME_LEN + 1);
        let cases = [
            (input(None, Some("A"), Some("viewer")), "missing_field"),
            (
                input(Some("a@b.example"), None, Some("viewer")),
                "missing_field",
            ),
            (input(Some("a@b.example"), Some("A"), None), "missing_field"),
            (
                input(Some("not-an-email"), Some("A"), Some("viewer")),
                "invalid_email",
            ),
            (
                input(Some("a@b.example"), Some("   "), Some("viewer")),
                "invalid_full_name",
            ),
            (
                input(Some("a@b.example"), Some(&long), Some("viewer")),
                "invalid_full_name",
            ),
            (
                input(Some("a@b.example"), Some("A\u{7}"), Some("viewer")),
                "invalid_full_name",
            ),
            (
                input(Some("a@b.example"), Some("A"), Some("owner")),
                "invalid_role",
            ),
            (
                input(Some("a@b.example"), Some("A"), Some("Admin")),
                "invalid_role",
            ),
        ];
        for (case, expected) in cases {
            let got = code(NewUser::parse(case).unwrap_err());
            assert_eq!(got, expected);
        }
        assert_eq!(code(parse_user_id("42").unwrap_err()), "invalid_user_id");
    }

    #[test]
    fn conflicts_map_to_409_and_internals_hide_their_cause() {
        for (err, expected) in [
            (UserAdminError::UserExists, "user_exists"),
            (UserAdminError::LastAdmin, "last_admin"),
            (UserAdminError::CannotDeleteSelf, "cannot_delete_self"),
        ] {
            let api = ApiError::from(err);
            assert_eq!(
                (api.status, api.code),
                (http::StatusCode::CONFLICT, expected)
            );
        }
        let api = ApiError::from(UserAdminError::BadSecret("p/tenants/x".into()));
        assert_eq!(api.status, http::StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!api.message.contains("p/tenants"));
    }
}
