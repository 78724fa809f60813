//! Platform administrators: accounts in the admins table (argon2id), `POST /admin/login` tokens
//! signed (EdDSA) with the platform key ring kept in Secrets Manager, with an audience no tenant
//! token carries. Every `/admin/*` route verifies that token, and that its admin still exists
//! and is not disabled (checked in the admins table, cached as briefly as tenant records). Sign-in is
//! throttled like a tenant's
//! (realm `platform`, see `security::throttle`), checks the password on the blocking pool, and
//! every attempt, failed or not, is in the audit log.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use lru::LruCache;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::domain::email::Email;
use crate::identity::IdentityError;
use crate::security::password::{hash_password, validate_new_password, verify_off_thread};
use crate::security::throttle::{Limits, Throttle, ThrottleKey};
use crate::security::tokens::{Expectations, KeyRing, VerifyingKeys, bearer, issue, verify};
use crate::store::audit::{AuditEvent, AuditLog, Outcome};
use crate::store::registry::{AdminRecord, Put, Registry};
use crate::store::secrets::{SecretStore, get_or_create_json, platform_secret_name};

/// The audience of platform-admin tokens; tenant tokens never carry it.
pub const PLATFORM_AUDIENCE: &str = "taskifai-platform-admin";
/// How long an admin token lives.
pub const TOKEN_TTL_SECONDS: i64 = 3600;
/// The throttle realm of platform-admin sign-ins.
const REALM: &str = "platform";
/// The platform secret holding the admin tokens' Ed25519 key ring.
pub const ADMIN_KEYS: &str = "admin-token-keys";
/// Where the HS256 ring of admin tokens was kept before EdDSA; a migration run deletes it.
pub const RETIRED_ADMIN_KEYS: &str = "admin-signing-keys";
/// Admins whose standing a container remembers.
const STANDING_CACHE: NonZeroUsize = NonZeroUsize::new(1024).expect("non-zero");

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
    /// Admin email → (checked at, may act), for `ttl`.
    standing: Mutex<LruCache<String, (Instant, bool)>>,
    ttl: Duration,
    throttle: Throttle,
    audit: AuditLog,
    secrets: S,
    key_ring_name: String,
    issuer: String,
    keys: OnceCell<(KeyRing, VerifyingKeys)>,
}

impl<S: SecretStore> AdminAuth<S> {
    /// `issuer` is the admin API's URL (`https://api.<domain>`).
    pub fn new(
        registry: Registry,
        ttl: Duration,
        limits: Limits,
        secrets: S,
        secrets_prefix: &str,
        issuer: impl Into<String>,
    ) -> Self {
        Self {
            throttle: Throttle::new(registry.clone(), limits),
            standing: Mutex::new(LruCache::new(STANDING_CACHE)),
            ttl,
            audit: AuditLog::new(registry.clone()),
            registry,
            secrets,
            key_ring_name: platform_secret_name(secrets_prefix, ADMIN_KEYS),
            issuer: issuer.into(),
            keys: OnceCell::new(),
        }
    }

    /// The platform key ring and its public half, created on first use and cached for the
    /// container's life.
    async fn keys(&self) -> Result<&(KeyRing, VerifyingKeys), IdentityError> {
        self.keys
            .get_or_try_init(|| async {
                let ring: KeyRing =
                    get_or_create_json(&self.secrets, &self.key_ring_name, KeyRing::generate)
                        .await?;
                let public = ring.verifying_keys();
                Ok((ring, public))
            })
            .await
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
            disabled: false,
        };
        match self.registry.create_admin(&record).await? {
            Put::Created => Ok(true),
            Put::Exists(_) => Ok(false),
        }
    }

    /// Email + password → a signed token. The attempt is reserved on the throttle first;
    /// unknown emails cost as much as wrong passwords; the outcome is audited.
    pub async fn login(
        &self,
        email: &str,
        password: &SecretString,
        source_ip: Option<&str>,
    ) -> Result<String, IdentityError> {
        let email = Email::parse(email).ok();
        let keys = ThrottleKey::sign_in(REALM, email.as_ref(), source_ip);
        self.throttle.attempt(&keys).await?;
        let admin = match &email {
            Some(email) => self.registry.get_admin(email.as_str()).await?,
            None => None,
        };
        // A disabled admin costs a verification like an unknown one, and is refused like one.
        let admin = admin.filter(|a| !a.disabled);
        let hash = admin.as_ref().map(|a| a.password_hash.clone());
        let verified = verify_off_thread(password, hash).await;
        let actor = format!(
            "admin:{}",
            email.as_ref().map_or("(not an email)", |e| e.as_str())
        );
        let from = format!("from {}", source_ip.unwrap_or("an unknown address"));
        let (Some(admin), true) = (admin, verified) else {
            self.audit
                .record_best_effort(
                    &AuditEvent::new(&actor, "admin.login", None, Outcome::Failure)
                        .with_detail(from),
                )
                .await;
            return Err(IdentityError::InvalidCredentials);
        };
        self.throttle.succeeded(&keys).await?;
        self.audit
            .record_best_effort(
                &AuditEvent::new(&actor, "admin.login", None, Outcome::Success).with_detail(from),
            )
            .await;
        let (ring, _) = self.keys().await?;
        let key = ring.current().ok_or(IdentityError::NoSigningKey)?;
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
        let (_, keys) = self.keys().await?;
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
        if !self.may_act(&claims.sub).await? {
            tracing::info!(admin = claims.sub, "token of a disabled or deleted admin");
            return Err(IdentityError::AdminDisabled);
        }
        Ok(claims)
    }

    /// Whether `email` is still an enabled admin (cached for the registry TTL).
    async fn may_act(&self, email: &str) -> Result<bool, IdentityError> {
        let cached = self.standing.lock().ok().and_then(|mut c| {
            c.get(email)
                .filter(|(at, _)| at.elapsed() < self.ttl)
                .map(|(_, ok)| *ok)
        });
        if let Some(ok) = cached {
            return Ok(ok);
        }
        let ok = self
            .registry
            .get_admin(email)
            .await?
            .is_some_and(|a| !a.disabled);
        if let Ok(mut cache) = self.standing.lock() {
            cache.put(email.to_owned(), (Instant::now(), ok));
        }
        Ok(ok)
    }

    /// Disables (or re-enables) an admin: their sign-in and tokens stop working within the
    /// registry cache's TTL. False when there is no such admin.
    pub async fn set_disabled(&self, email: &Email, disabled: bool) -> Result<bool, IdentityError> {
        Ok(self
            .registry
            .set_admin_disabled(email.as_str(), disabled)
            .await?)
    }
}
