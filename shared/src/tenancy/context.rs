//! The tenant context every tenant-host function builds a request on (DESIGN §4):
//! host → validated subdomain → registry record (short TTL; suspension bites within it) →
//! tenant secret (≈15 min cache, refetched at once when the registry says the keys changed) →
//! a connection to the tenant database as the tenant's own role, from a small per-container
//! cache (capped per tenant, idle ones closed, validated before reuse, no session `SET`) →
//! the caller, verified with that tenant's signing keys, when the route needs one.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::role::Role;
use crate::domain::subdomain::Subdomain;
use crate::platform::config::{ConfigError, DomainConfig, Env};
use crate::security::tokens::{Expectations, issue, verify};
use crate::store::registry::TenantRecord;
use crate::store::secrets::{AwsSecretStore, SecretStore, tenant_secret_name};
use crate::tenancy::directory::{ResolvedTenant, TenantDirectory};
use crate::tenancy::secret::TenantSecret;
use crate::web::error::ApiError;
use crate::web::host::HostKind;
use crate::web::http::{Health, Surface, bearer_token, expect_host, header, route_not_found};
use crate::web::router::Access;

/// The audience of tenant tokens; platform-admin tokens never carry it.
pub const TENANT_AUDIENCE: &str = "taskifai-tenant";
/// How long a tenant access token lives.
pub const ACCESS_TOKEN_TTL_SECONDS: i64 = 3600;
/// How long a tenant secret is cached unless the registry says its keys changed.
pub const SECRET_TTL: Duration = Duration::from_secs(15 * 60);
/// Idle connections kept per tenant per container (a container serves one request at a time).
pub const MAX_IDLE_PER_TENANT: usize = 2;
/// Idle connections older than this are closed rather than reused.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Idle connections older than this are checked with a round trip before reuse.
const VALIDATE_AFTER: Duration = Duration::from_secs(30);

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
    pub host: HostKind,
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

struct IdleConnection {
    client: tokio_postgres::Client,
    since: Instant,
}

/// What the context did, for benchmarks: warm requests should add nothing here.
#[derive(Debug, Default)]
pub struct ContextStats {
    pub connections_opened: AtomicU64,
    pub secret_fetches: AtomicU64,
}

/// Per-container tenant context (see the module docs).
pub struct TenantContext<S = AwsSecretStore> {
    pub domain: DomainConfig,
    pub directory: TenantDirectory,
    secrets: S,
    secrets_prefix: String,
    tenant_url_format: String,
    secret_cache: Mutex<HashMap<Uuid, CachedSecret>>,
    idle: Mutex<HashMap<Uuid, Vec<IdleConnection>>>,
    pub stats: ContextStats,
}

impl TenantContext<AwsSecretStore> {
    /// `ROOT_DOMAIN`, `REGISTRY_TABLE`, `SECRETS_PREFIX`, `TENANT_URL_FORMAT` (optional),
    /// `REGISTRY_CACHE_TTL_SECONDS` (optional).
    pub fn from_env<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        Ok(Self::new(
            DomainConfig::from_env(env)?,
            TenantDirectory::from_env(env, sdk)?,
            AwsSecretStore::new(aws_sdk_secretsmanager::Client::new(sdk)),
            env.required("SECRETS_PREFIX")?,
            crate::tenancy::directory::tenant_url_format(env),
        ))
    }
}

impl<S: SecretStore> TenantContext<S> {
    pub fn new(
        domain: DomainConfig,
        directory: TenantDirectory,
        secrets: S,
        secrets_prefix: String,
        tenant_url_format: String,
    ) -> Self {
        Self {
            domain,
            directory,
            secrets,
            secrets_prefix,
            tenant_url_format,
            secret_cache: Mutex::new(HashMap::new()),
            idle: Mutex::new(HashMap::new()),
            stats: ContextStats::default(),
        }
    }

    /// The tenant's URL: the issuer of its tokens.
    pub fn tenant_url(&self, subdomain: &str) -> String {
        crate::tenancy::directory::format_tenant_url(
            &self.tenant_url_format,
            subdomain,
            &self.domain.root_domain,
        )
    }

    /// Host → active tenant (with its secret). Unknown 404, not active 403, invalid 400.
    pub async fn resolve(&self, req: &lambda_http::Request) -> Result<Tenant, ApiError> {
        let host = expect_host(req, &self.domain, Surface::Tenant)?;
        let HostKind::Tenant(subdomain) = &host else {
            return Err(route_not_found());
        };
        let resolved = self.directory.resolve(subdomain).await?;
        let secret = self.secret(&resolved.record).await?;
        Ok(Tenant {
            tenant_id: resolved.tenant_id,
            subdomain: resolved.subdomain,
            host,
            record: resolved.record,
            secret,
        })
    }

    /// `GET …/health` on a tenant host: the resolved tenant's id.
    pub async fn health(
        &self,
        req: &lambda_http::Request,
        function: &'static str,
    ) -> Result<Health, ApiError> {
        let (host, tenant) = self.live_tenant(req).await?;
        let mut health = Health::new(function, &host);
        health.tenant_id = Some(tenant.tenant_id.to_string());
        Ok(health)
    }

    /// Host → active tenant, without its secret: what public tenant routes need (unknown 404,
    /// not active 403), so nothing answers on the host of a tenant that is not live.
    pub async fn live_tenant(
        &self,
        req: &lambda_http::Request,
    ) -> Result<(HostKind, ResolvedTenant), ApiError> {
        let host = expect_host(req, &self.domain, Surface::Tenant)?;
        let HostKind::Tenant(subdomain) = &host else {
            return Err(route_not_found());
        };
        let tenant = self.directory.resolve(subdomain).await?;
        Ok((host, tenant))
    }

    /// The caller a route's [`Access`] asks for: `None` for a public route.
    pub async fn caller(
        &self,
        req: &lambda_http::Request,
        tenant: &Tenant,
        access: Access,
    ) -> Result<Option<Caller>, ApiError> {
        match access {
            Access::Public => Ok(None),
            Access::SignedIn => self.authenticate_any(req, tenant).await.map(Some),
            Access::Tenant(role) => self.authenticate(req, tenant, role).await.map(Some),
            // A platform route in a tenant function's table: refuse rather than guess.
            Access::PlatformAdmin => Err(ApiError::forbidden(
                "forbidden",
                "platform administrators only",
            )),
        }
    }

    async fn secret(&self, record: &TenantRecord) -> Result<Arc<TenantSecret>, ApiError> {
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
        let raw = self
            .secrets
            .get(&name)
            .await
            .map_err(|e| ApiError::internal(&e))?
            .ok_or_else(|| {
                ApiError::internal(&std::io::Error::other(format!(
                    "tenant secret {name} is missing"
                )))
            })?;
        let secret: TenantSecret = serde_json::from_str(raw.expose_secret()).map_err(|_| {
            ApiError::internal(&std::io::Error::other(format!(
                "tenant secret {name} is malformed"
            )))
        })?;
        if secret.tenant_id != record.tenant_id {
            // A secret that names another tenant must never be used for this one.
            return Err(ApiError::internal(&std::io::Error::other(format!(
                "tenant secret {name} belongs to another tenant"
            ))));
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

    /// A connection to the tenant's database, as the tenant's role; returned to the cache
    /// when dropped.
    pub async fn connect(&self, tenant: &Tenant) -> Result<TenantConnection<'_, S>, ApiError> {
        loop {
            let candidate = self.idle.lock().ok().and_then(|mut idle| {
                let list = idle.get_mut(&tenant.tenant_id)?;
                list.retain(|c| c.since.elapsed() < IDLE_TIMEOUT && !c.client.is_closed());
                list.pop()
            });
            let Some(conn) = candidate else { break };
            if conn.since.elapsed() >= VALIDATE_AFTER && conn.client.simple_query("").await.is_err()
            {
                continue;
            }
            return Ok(TenantConnection {
                client: Some(conn.client),
                tenant_id: tenant.tenant_id,
                context: self,
            });
        }
        self.stats
            .connections_opened
            .fetch_add(1, Ordering::Relaxed);
        let db = &tenant.secret.db;
        let mut config = tokio_postgres::Config::new();
        config
            .host(&db.host)
            .port(db.port)
            .dbname(&db.database)
            .user(&db.username)
            .password(db.password.expose_secret())
            .application_name("taskifai-tenant")
            .connect_timeout(Duration::from_secs(5));
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "tenant connection closed");
            }
        });
        Ok(TenantConnection {
            client: Some(client),
            tenant_id: tenant.tenant_id,
            context: self,
        })
    }

    /// Verifies the bearer token against this tenant's keys and requires `need`; a caller
    /// whose temporary password is unchanged gets 403 `password_change_required`.
    pub async fn authenticate(
        &self,
        req: &lambda_http::Request,
        tenant: &Tenant,
        need: Role,
    ) -> Result<Caller, ApiError> {
        let caller = self.authenticate_any(req, tenant).await?;
        if caller.password_change_required {
            return Err(ApiError::forbidden(
                "password_change_required",
                "change the temporary password first (POST /api/auth/password)",
            ));
        }
        if caller.role < need {
            return Err(ApiError::forbidden(
                "forbidden",
                format!("this needs the {} role", need.as_str()),
            ));
        }
        Ok(caller)
    }

    /// Verifies the bearer token without the password-change gate (`me`, password change).
    pub async fn authenticate_any(
        &self,
        req: &lambda_http::Request,
        tenant: &Tenant,
    ) -> Result<Caller, ApiError> {
        let token = bearer_token(header(req, "authorization"))?;
        let expect = Expectations {
            issuer: self.tenant_url(tenant.subdomain.as_str()),
            audience: TENANT_AUDIENCE.into(),
            leeway_seconds: 30,
        };
        let claims: TenantClaims = verify(token, &tenant.secret.jwt, &expect).map_err(|e| {
            tracing::info!(reason = %e, "tenant token rejected");
            ApiError::unauthorized(e.code(), "the token is missing, invalid or expired")
        })?;
        if claims.tenant_id != tenant.tenant_id {
            tracing::warn!(claimed = %claims.tenant_id, "token of another tenant");
            return Err(ApiError::unauthorized(
                "invalid_token",
                "the token is missing, invalid or expired",
            ));
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
    ) -> Result<(String, i64), ApiError> {
        let key = tenant.secret.jwt.current().ok_or_else(|| {
            ApiError::internal(&std::io::Error::other("tenant has no signing key"))
        })?;
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
        let token = issue(key, &claims).map_err(|e| ApiError::internal(&e))?;
        Ok((token, ACCESS_TOKEN_TTL_SECONDS))
    }

    pub fn secrets(&self) -> &S {
        &self.secrets
    }

    pub fn secrets_prefix(&self) -> &str {
        &self.secrets_prefix
    }

    fn give_back(&self, tenant_id: Uuid, client: tokio_postgres::Client) {
        if client.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            let list = idle.entry(tenant_id).or_default();
            if list.len() < MAX_IDLE_PER_TENANT {
                list.push(IdleConnection {
                    client,
                    since: Instant::now(),
                });
            }
        }
    }
}

/// A tenant database connection on loan from the context's cache.
pub struct TenantConnection<'a, S: SecretStore> {
    client: Option<tokio_postgres::Client>,
    tenant_id: Uuid,
    context: &'a TenantContext<S>,
}

impl<S: SecretStore> std::ops::Deref for TenantConnection<'_, S> {
    type Target = tokio_postgres::Client;
    fn deref(&self) -> &Self::Target {
        self.client.as_ref().expect("present until dropped")
    }
}

impl<S: SecretStore> Drop for TenantConnection<'_, S> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            self.context.give_back(self.tenant_id, client);
        }
    }
}
