//! The tenant context every tenant-host function builds a request on (DESIGN §4): a host's
//! subdomain → registry record (short TTL; suspension bites within it) → tenant secret (≈15 min
//! cache, refetched at once when the registry says the keys changed) → a pooled connection to the
//! tenant database as the tenant's own role → the caller, verified with the public keys on the
//! tenant's record, when the route needs one. Only `auth` signs: it alone reads the tenant's
//! private keys (cached like the secret). Reading the request itself is the web layer's job.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::role::{Access, Role};
use crate::domain::subdomain::Subdomain;
use crate::platform::config::{ConfigError, Env, PlatformSettings};
use crate::security::tokens::{Expectations, KeyRing, bearer, issue, legacy, verify_accepting};
use crate::store::postgres::pool::{TenantConnection, TenantPools};
use crate::store::postgres::tls::DatabaseTls;
use crate::store::registry::{Registry, TenantRecord};
use crate::store::secrets::{AwsSecretStore, SecretStore, signing_secret_name, tenant_secret_name};
use crate::tenancy::TenancyError;
use crate::tenancy::directory::{DEFAULT_TTL, ResolvedTenant, TenantDirectory, require_active};
use crate::tenancy::secret::{SigningSecret, TenantSecret};

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

/// Per-tenant copies of one kind of secret, trusted for [`SECRET_TTL`] unless the registry's
/// `keys_version` moved past the copy's.
struct SecretCache<T>(Mutex<HashMap<Uuid, Cached<T>>>);

/// When a copy was fetched, the `keys_version` it was fetched under, the copy.
type Cached<T> = (Instant, u32, Arc<T>);

impl<T> SecretCache<T> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    fn get(&self, record: &TenantRecord) -> Option<Arc<T>> {
        let cache = self.0.lock().ok()?;
        let (fetched, version, value) = cache.get(&record.tenant_id)?;
        (fetched.elapsed() < SECRET_TTL && *version >= record.keys_version).then(|| value.clone())
    }

    fn insert(&self, record: &TenantRecord, value: Arc<T>) {
        if let Ok(mut cache) = self.0.lock() {
            cache.insert(
                record.tenant_id,
                (Instant::now(), record.keys_version, value),
            );
        }
    }

    fn forget(&self, tenant_id: &Uuid) {
        if let Ok(mut cache) = self.0.lock() {
            cache.remove(tenant_id);
        }
    }
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
    /// `DATABASE_CA_FILE`: what tenant database servers' certificates are verified against.
    pub database_tls: DatabaseTls,
}

impl TenantSettings {
    /// The platform's settings, `SECRETS_PREFIX`, `REGISTRY_CACHE_TTL_SECONDS` and
    /// `DATABASE_CA_FILE`.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            platform: PlatformSettings::from_env(env)?,
            secrets_prefix: env.required("SECRETS_PREFIX")?,
            registry_cache_ttl: registry_cache_ttl(env)?,
            database_tls: DatabaseTls::from_env(env)?,
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
    secret_cache: SecretCache<TenantSecret>,
    signing_cache: SecretCache<KeyRing>,
    pools: TenantPools,
    pub stats: ContextStats,
}

impl TenantContext<AwsSecretStore> {
    /// The context with its AWS clients, built once per cold start.
    pub fn from_settings(settings: TenantSettings, sdk: &aws_config::SdkConfig) -> Self {
        let registry = Registry::new(
            aws_sdk_dynamodb::Client::new(sdk),
            &settings.platform.tables,
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
            secret_cache: SecretCache::new(),
            signing_cache: SecretCache::new(),
            pools: TenantPools::new(settings.database_tls),
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
        if let Some(secret) = self.secret_cache.get(record) {
            return Ok(secret);
        }
        let name = tenant_secret_name(&self.secrets_prefix, &record.tenant_id);
        let secret: TenantSecret = self.fetch(&name).await?;
        check_owner(&name, secret.tenant_id, record)?;
        let secret = Arc::new(secret);
        self.secret_cache.insert(record, secret.clone());
        Ok(secret)
    }

    /// The tenant's private token keys (only `auth` is granted their secret).
    async fn signing_keys(&self, record: &TenantRecord) -> Result<Arc<KeyRing>, TenancyError> {
        if let Some(ring) = self.signing_cache.get(record) {
            return Ok(ring);
        }
        let name = signing_secret_name(&self.secrets_prefix, &record.tenant_id);
        let secret: SigningSecret = self.fetch(&name).await?;
        check_owner(&name, secret.tenant_id, record)?;
        let ring = Arc::new(secret.ring);
        self.signing_cache.insert(record, ring.clone());
        Ok(ring)
    }

    async fn fetch<T: DeserializeOwned>(&self, name: &str) -> Result<T, TenancyError> {
        self.stats.secret_fetches.fetch_add(1, Ordering::Relaxed);
        let bad = |reason| TenancyError::BadSecret {
            name: name.to_owned(),
            reason,
        };
        let raw = self
            .secrets
            .get(name)
            .await?
            .ok_or_else(|| bad("missing"))?;
        serde_json::from_str(raw.expose_secret()).map_err(|_| bad("malformed"))
    }

    /// Forgets a tenant's cached secrets (after this container rotated its keys).
    pub fn forget_secret(&self, tenant_id: &Uuid) {
        self.secret_cache.forget(tenant_id);
        self.signing_cache.forget(tenant_id);
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
        let claims: TenantClaims = verify_accepting(
            token,
            &tenant.record.verifying_keys,
            tenant
                .secret
                .live_legacy_keys(&tenant.record.verifying_keys),
            &expect,
        )
        .map_err(|e| {
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

    /// A signed access token for `user` on `tenant`: EdDSA with the newest private key its
    /// record publishes; HS256 with its legacy key while it has no EdDSA keys yet (a tenant
    /// made before them, between a deploy and its migration run).
    pub async fn issue_token(
        &self,
        tenant: &Tenant,
        user_id: Uuid,
        email: &str,
        role: Role,
        password_change_required: bool,
    ) -> Result<(String, i64), TenancyError> {
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
        let no_key = || TenancyError::NoSigningKey(tenant.tenant_id);
        let published = &tenant.record.verifying_keys;
        let token = if published.is_empty() {
            let key = tenant
                .secret
                .live_legacy_keys(published)
                .and_then(legacy::HmacKeys::current)
                .ok_or_else(no_key)?;
            legacy::issue(key, &claims)
        } else {
            let ring = self.signing_keys(&tenant.record).await?;
            let key = ring.current_published(published).ok_or_else(no_key)?;
            issue(key, &claims)
        };
        Ok((
            token.map_err(TenancyError::Issue)?,
            ACCESS_TOKEN_TTL_SECONDS,
        ))
    }

    pub fn secrets(&self) -> &S {
        &self.secrets
    }

    pub fn secrets_prefix(&self) -> &str {
        &self.secrets_prefix
    }
}

/// A secret that names another tenant must never be used for this one.
fn check_owner(name: &str, owner: Uuid, record: &TenantRecord) -> Result<(), TenancyError> {
    if owner == record.tenant_id {
        Ok(())
    } else {
        Err(TenancyError::BadSecret {
            name: name.to_owned(),
            reason: "it names another tenant",
        })
    }
}
