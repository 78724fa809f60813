//! The tenant context every tenant-host function builds a request on (DESIGN §4): a host's
//! subdomain → registry record (short TTL; suspension bites within it) → tenant secret (≈15 min
//! cache, refetched at once when the registry says the keys changed) → a pooled connection to the
//! tenant database as the tenant's own role → the caller, verified with that tenant's signing
//! keys, when the route needs one. Reading the request itself is the web layer's job.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::role::{Access, Role};
use crate::domain::subdomain::Subdomain;
use crate::platform::config::{ConfigError, Env, PlatformSettings};
use crate::security::tokens::{Expectations, bearer, issue, verify};
use crate::store::postgres::pool::{TenantConnection, TenantPools};
use crate::store::registry::{Registry, TenantRecord};
use crate::store::secrets::{AwsSecretStore, SecretStore, tenant_secret_name};
use crate::tenancy::TenancyError;
use crate::tenancy::directory::{DEFAULT_TTL, ResolvedTenant, TenantDirectory, require_active};
use crate::tenancy::secret::TenantSecret;

/// The audience of tenant tokens; platform-admin tokens never carry it.
pub const TENANT_AUDIENCE: &str = "taskifai-tenant";
/// How long a tenant access token lives.
pub const ACCESS_TOKEN_TTL_SECONDS: i64 = 3600;
/// How long a tenant secret is cached unless the registry says its keys changed.
pub const SECRET_TTL: Duration = Duration::from_secs(15 * 60);

/// The claims of a tenant access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantClaims {
    pub sub: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    /// Set while the temporary password from provisioning is unchanged.
    #[serde(default)]
    pub pcr: bool,
}

/// The verified caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub email: String,
    pub role: Role,
    pub password_change_required: bool,
}

/// A resolved, active tenant with its secret.
pub struct Tenant {
    pub tenant_id: Uuid,
    pub subdomain: Subdomain,
    pub record: TenantRecord,
    secret: Arc<TenantSecret>,
}

impl Tenant {
    pub fn secret(&self) -> &TenantSecret {
        &self.secret
    }
}

struct CachedSecret {
    fetched: Instant,
    keys_version: u32,
    secret: Arc<TenantSecret>,
}

/// What the context did, for benchmarks: warm requests should add nothing here.
#[derive(Debug, Default)]
pub struct ContextStats {
    pub secret_fetches: AtomicU64,
}

/// What a tenant-host function reads at cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSettings {
    pub platform: PlatformSettings,
    /// `SECRETS_PREFIX`: tenant secrets are `<prefix>/tenants/<tenant_id>`.
    pub secrets_prefix: String,
    /// `REGISTRY_CACHE_TTL_SECONDS` (default 5): how soon a suspension bites.
    pub registry_cache_ttl: Duration,
}

impl TenantSettings {
    /// The platform's settings, `SECRETS_PREFIX` and `REGISTRY_CACHE_TTL_SECONDS`.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            platform: PlatformSettings::from_env(env)?,
            secrets_prefix: env.required("SECRETS_PREFIX")?,
            registry_cache_ttl: registry_cache_ttl(env)?,
        })
    }
}

/// `REGISTRY_CACHE_TTL_SECONDS` (default 5): how long a container trusts a registry record it
/// read (a tenant's, an admin's), so how soon a suspension or a disabled admin bites.
pub fn registry_cache_ttl<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
) -> Result<Duration, ConfigError> {
    match env.optional("REGISTRY_CACHE_TTL_SECONDS") {
        None => Ok(DEFAULT_TTL),
        Some(raw) => Ok(Duration::from_secs(raw.parse().map_err(|_| {
            ConfigError::Invalid {
                name: "REGISTRY_CACHE_TTL_SECONDS",
                reason: format!("{raw:?} is not a number of seconds"),
            }
        })?)),
    }
}

/// Per-container tenant context (see the module docs).
pub struct TenantContext<S = AwsSecretStore> {
    pub platform: PlatformSettings,
    pub directory: TenantDirectory,
    secrets: S,
    secrets_prefix: String,
    secret_cache: Mutex<HashMap<Uuid, CachedSecret>>,
    pools: TenantPools,
    pub stats: ContextStats,
}

impl TenantContext<AwsSecretStore> {
    /// The context with its AWS clients, built once per cold start.
    pub fn from_settings(settings: TenantSettings, sdk: &aws_config::SdkConfig) -> Self {
        let registry = Registry::new(
            aws_sdk_dynamodb::Client::new(sdk),
            settings.platform.registry_table.clone(),
        );
        Self::new(
            settings,
            registry,
            AwsSecretStore::new(aws_sdk_secretsmanager::Client::new(sdk)),
        )
    }
}

impl<S: SecretStore> TenantContext<S> {
    pub fn new(settings: TenantSettings, registry: Registry, secrets: S) -> Self {
        Self {
            platform: settings.platform,
            directory: TenantDirectory::new(registry, settings.registry_cache_ttl),
            secrets,
            secrets_prefix: settings.secrets_prefix,
            secret_cache: Mutex::new(HashMap::new()),
            pools: TenantPools::default(),
            stats: ContextStats::default(),
        }
    }

    /// The tenant's URL: the issuer of its tokens.
    pub fn tenant_url(&self, subdomain: &str) -> String {
        self.platform.tenant_url(subdomain)
    }

    /// The active tenant at `subdomain`, with its secret. Unknown, suspended or otherwise not
    /// active tenants are errors.
    pub async fn resolve(&self, subdomain: &Subdomain) -> Result<Tenant, TenancyError> {
        let resolved = self.directory.resolve(subdomain).await?;
        let secret = self.secret(&resolved.record).await?;
        Ok(Tenant {
            tenant_id: resolved.tenant_id,
            subdomain: resolved.subdomain,
            record: resolved.record,
            secret,
        })
    }

    /// The active tenant with this id, with its secret: for work that does not come in through a
    /// tenant's host (the upload processor). Read from the registry each time, uncached.
    pub async fn resolve_id(&self, tenant_id: &Uuid) -> Result<Tenant, TenancyError> {
        let record = self
            .directory
            .registry()
            .get_tenant(tenant_id)
            .await?
            .ok_or(TenancyError::TenantNotFound)?;
        require_active(&record)?;
        let subdomain = Subdomain::parse(&record.subdomain, &std::collections::BTreeSet::new())
            .map_err(|_| TenancyError::CorruptRecord(record.tenant_id))?;
        let secret = self.secret(&record).await?;
        Ok(Tenant {
            tenant_id: record.tenant_id,
            subdomain,
            record,
            secret,
        })
    }

    /// The active tenant at `subdomain`, without its secret: what public tenant routes need,
    /// so nothing answers on the host of a tenant that is not live.
    pub async fn live_tenant(&self, subdomain: &Subdomain) -> Result<ResolvedTenant, TenancyError> {
        self.directory.resolve(subdomain).await
    }

    /// The caller a route's [`Access`] asks for, from its `Authorization` header: `None` for
    /// a public route.
    pub fn caller(
        &self,
        authorization: Option<&str>,
        tenant: &Tenant,
        access: Access,
    ) -> Result<Option<Caller>, TenancyError> {
        match access {
            Access::Public => Ok(None),
            Access::SignedIn => self.authenticate_any(authorization, tenant).map(Some),
            Access::Tenant(role) => self.authenticate(authorization, tenant, role).map(Some),
            // A platform route in a tenant function's table: refuse rather than guess.
            Access::PlatformAdmin => Err(TenancyError::PlatformOnly),
        }
    }

    async fn secret(&self, record: &TenantRecord) -> Result<Arc<TenantSecret>, TenancyError> {
        let cached = self.secret_cache.lock().ok().and_then(|cache| {
            cache
                .get(&record.tenant_id)
                .filter(|c| {
                    c.fetched.elapsed() < SECRET_TTL && c.keys_version >= record.keys_version
                })
                .map(|c| c.secret.clone())
        });
        if let Some(secret) = cached {
            return Ok(secret);
        }
        self.stats.secret_fetches.fetch_add(1, Ordering::Relaxed);
        let name = tenant_secret_name(&self.secrets_prefix, &record.tenant_id);
        let bad = |reason| TenancyError::BadSecret {
            name: name.clone(),
            reason,
        };
        let raw = self
            .secrets
            .get(&name)
            .await?
            .ok_or_else(|| bad("missing"))?;
        let secret: TenantSecret =
            serde_json::from_str(raw.expose_secret()).map_err(|_| bad("malformed"))?;
        if secret.tenant_id != record.tenant_id {
            // A secret that names another tenant must never be used for this one.
            return Err(bad("it names another tenant"));
        }
        let secret = Arc::new(secret);
        if let Ok(mut cache) = self.secret_cache.lock() {
            cache.insert(
                record.tenant_id,
                CachedSecret {
                    fetched: Instant::now(),
                    keys_version: record.keys_version,
                    secret: secret.clone(),
                },
            );
        }
        Ok(secret)
    }

    /// Forgets a tenant's cached secret (after this container rotated its keys).
    pub fn forget_secret(&self, tenant_id: &Uuid) {
        if let Ok(mut cache) = self.secret_cache.lock() {
            cache.remove(tenant_id);
        }
    }

    /// A pooled connection to the tenant's database, as the tenant's role.
    pub async fn connect(&self, tenant: &Tenant) -> Result<TenantConnection, TenancyError> {
        Ok(self.pools.get(tenant.tenant_id, &tenant.secret.db).await?)
    }

    /// Connections opened so far (benchmarks check that warm requests open none).
    pub fn connections_opened(&self) -> u64 {
        self.pools.connections_opened()
    }

    /// Verifies the bearer token against this tenant's keys and requires `need`; a caller
    /// whose temporary password is unchanged is refused (`PasswordChangeRequired`).
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        tenant: &Tenant,
        need: Role,
    ) -> Result<Caller, TenancyError> {
        let caller = self.authenticate_any(authorization, tenant)?;
        if caller.password_change_required {
            return Err(TenancyError::PasswordChangeRequired);
        }
        if caller.role < need {
            return Err(TenancyError::Forbidden(need));
        }
        Ok(caller)
    }

    /// Verifies the bearer token without the password-change gate (`me`, password change).
    pub fn authenticate_any(
        &self,
        authorization: Option<&str>,
        tenant: &Tenant,
    ) -> Result<Caller, TenancyError> {
        let token = bearer(authorization).ok_or(TenancyError::MissingToken)?;
        let expect = Expectations {
            issuer: self.tenant_url(tenant.subdomain.as_str()),
            audience: TENANT_AUDIENCE.into(),
            leeway_seconds: 30,
        };
        let claims: TenantClaims = verify(token, &tenant.secret.jwt, &expect).map_err(|e| {
            tracing::info!(reason = %e, "tenant token rejected");
            TenancyError::InvalidToken(e)
        })?;
        if claims.tenant_id != tenant.tenant_id {
            tracing::warn!(claimed = %claims.tenant_id, "token of another tenant");
            return Err(TenancyError::OtherTenant(claims.tenant_id));
        }
        Ok(Caller {
            user_id: claims.sub,
            email: claims.email,
            role: claims.role,
            password_change_required: claims.pcr,
        })
    }

    /// A signed access token for `user` on `tenant`.
    pub fn issue_token(
        &self,
        tenant: &Tenant,
        user_id: Uuid,
        email: &str,
        role: Role,
        password_change_required: bool,
    ) -> Result<(String, i64), TenancyError> {
        let key = tenant
            .secret
            .jwt
            .current()
            .ok_or(TenancyError::NoSigningKey(tenant.tenant_id))?;
        let now = Utc::now().timestamp();
        let claims = TenantClaims {
            sub: user_id,
            tenant_id: tenant.tenant_id,
            email: email.to_owned(),
            role,
            iat: now,
            exp: now + ACCESS_TOKEN_TTL_SECONDS,
            iss: self.tenant_url(tenant.subdomain.as_str()),
            aud: TENANT_AUDIENCE.into(),
            pcr: password_change_required,
        };
        let token = issue(key, &claims).map_err(TenancyError::Issue)?;
        Ok((token, ACCESS_TOKEN_TTL_SECONDS))
    }

    pub fn secrets(&self) -> &S {
        &self.secrets
    }

    pub fn secrets_prefix(&self) -> &str {
        &self.secrets_prefix
    }
}
