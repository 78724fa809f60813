//! Platform administrators: accounts in the registry (argon2id), `POST /admin/login` tokens
//! signed with the platform key ring kept in Secrets Manager, with an audience no tenant token
//! carries. Every `/admin/*` route verifies that token.

use chrono::Utc;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::domain::email::Email;
use crate::identity::IdentityError;
use crate::security::password::{
    burn_verification, hash_password, validate_new_password, verify_password,
};
use crate::security::tokens::{Expectations, KeyRing, SigningKey, bearer, issue, verify};
use crate::store::registry::{AdminRecord, Put, Registry};
use crate::store::secrets::{SecretStore, get_or_create_json, platform_secret_name};

/// The audience of platform-admin tokens; tenant tokens never carry it.
pub const PLATFORM_AUDIENCE: &str = "taskifai-platform-admin";
/// How long an admin token lives.
pub const TOKEN_TTL_SECONDS: i64 = 3600;

/// Claims of a platform-admin token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminClaims {
    pub sub: String,
    pub role: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

/// Issues and checks platform-admin tokens.
pub struct AdminAuth<S> {
    registry: Registry,
    secrets: S,
    key_ring_name: String,
    issuer: String,
    keys: OnceCell<KeyRing>,
}

impl<S: SecretStore> AdminAuth<S> {
    /// `issuer` is the admin API's URL (`https://api.<domain>`).
    pub fn new(
        registry: Registry,
        secrets: S,
        secrets_prefix: &str,
        issuer: impl Into<String>,
    ) -> Self {
        Self {
            registry,
            secrets,
            key_ring_name: platform_secret_name(secrets_prefix, "admin-signing-keys"),
            issuer: issuer.into(),
            keys: OnceCell::new(),
        }
    }

    /// The platform key ring, created on first use and cached for the container's life.
    async fn keys(&self) -> Result<&KeyRing, IdentityError> {
        Ok(self
            .keys
            .get_or_try_init(|| async {
                get_or_create_json(&self.secrets, &self.key_ring_name, || KeyRing {
                    keys: vec![SigningKey::generate()],
                })
                .await
            })
            .await?)
    }

    /// Creates a platform admin (the CLI's bootstrap); `false` if the email already exists.
    pub async fn create_admin(
        &self,
        email: &Email,
        password: &SecretString,
    ) -> Result<bool, IdentityError> {
        use secrecy::ExposeSecret;
        validate_new_password(password.expose_secret()).map_err(IdentityError::WeakPassword)?;
        let hash = hash_password(password).map_err(IdentityError::Hashing)?;
        let record = AdminRecord {
            email: email.to_string(),
            password_hash: hash,
            created_at: Utc::now(),
        };
        match self.registry.create_admin(&record).await? {
            Put::Created => Ok(true),
            Put::Exists(_) => Ok(false),
        }
    }

    /// Email + password → a signed token. Unknown emails cost as much as wrong passwords.
    pub async fn login(
        &self,
        email: &str,
        password: &SecretString,
    ) -> Result<String, IdentityError> {
        let Ok(email) = Email::parse(email) else {
            burn_verification(password);
            return Err(IdentityError::InvalidCredentials);
        };
        let admin = self.registry.get_admin(email.as_str()).await?;
        let Some(admin) = admin else {
            burn_verification(password);
            return Err(IdentityError::InvalidCredentials);
        };
        if !verify_password(password, &admin.password_hash) {
            return Err(IdentityError::InvalidCredentials);
        }
        let keys = self.keys().await?;
        let key = keys.current().ok_or(IdentityError::NoSigningKey)?;
        let now = Utc::now().timestamp();
        let claims = AdminClaims {
            sub: admin.email,
            role: "platform_admin".into(),
            iat: now,
            exp: now + TOKEN_TTL_SECONDS,
            iss: self.issuer.clone(),
            aud: PLATFORM_AUDIENCE.into(),
        };
        issue(key, &claims).map_err(IdentityError::Issue)
    }

    /// Checks `Authorization: Bearer <token>`.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<AdminClaims, IdentityError> {
        let token = bearer(authorization).ok_or(IdentityError::MissingToken)?;
        let keys = self.keys().await?;
        let expect = Expectations {
            issuer: self.issuer.clone(),
            audience: PLATFORM_AUDIENCE.into(),
            leeway_seconds: 30,
        };
        let claims: AdminClaims = verify(token, keys, &expect).map_err(|e| {
            tracing::info!(reason = %e, "admin token rejected");
            IdentityError::InvalidToken(e)
        })?;
        if claims.role != "platform_admin" {
            return Err(IdentityError::NotPlatformAdmin);
        }
        Ok(claims)
    }
}
