//! Connections to tenant databases: one small `deadpool-postgres` pool per tenant per container,
//! connecting as the tenant's own role. A Lambda container serves one request at a time, so a
//! pool holds at most two connections; connections idle for five minutes are closed, those idle
//! for thirty seconds are checked with a round trip before reuse, and nothing sets session state
//! (RDS Proxy would pin the connection). A pooled connection is a `&mut`-able client, so a caller
//! can open a transaction on it. Connections are TLS, verified (`tls`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use deadpool_postgres::{
    BuildError, Hook, HookError, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use uuid::Uuid;

use crate::store::postgres::tls::DatabaseTls;

/// A pooled connection to a tenant database; back to its pool when dropped.
pub type TenantConnection = deadpool_postgres::Object;

/// Connections per tenant per container.
pub const MAX_CONNECTIONS_PER_TENANT: usize = 2;
/// Connections idle longer than this are closed rather than reused.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Connections idle longer than this are checked with a round trip before reuse.
pub const VALIDATE_AFTER: Duration = Duration::from_secs(30);
/// How long a request waits for a connection of its tenant, and for a new one to open.
const WAIT: Duration = Duration::from_secs(10);
const CONNECT: Duration = Duration::from_secs(5);

/// Why no connection could be had.
#[derive(Debug, thiserror::Error)]
pub enum TenantPoolError {
    #[error("no connection to the tenant database")]
    Get(#[from] PoolError),
    #[error("the tenant database pool could not be built")]
    Build(#[from] BuildError),
}

/// Connection details of a tenant database, as stored in the tenant secret.
#[derive(Deserialize)]
pub struct DbCredentials {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub username: String,
    pub password: SecretString,
}

impl DbCredentials {
    /// Where it connects, and as whom: a pool is rebuilt when this changes.
    fn target(&self) -> String {
        format!(
            "{}:{}/{}@{}",
            self.host, self.port, self.database, self.username
        )
    }

    fn config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .dbname(&self.database)
            .user(&self.username)
            .password(self.password.expose_secret())
            .application_name("taskifai-tenant")
            .connect_timeout(CONNECT);
        DatabaseTls::secure(&mut config);
        config
    }
}

/// The container's tenant pools.
pub struct TenantPools {
    tls: DatabaseTls,
    pools: Mutex<HashMap<Uuid, (String, Pool)>>,
    opened: Arc<AtomicU64>,
}

impl TenantPools {
    /// No pools yet; every connection verified by `tls`.
    pub fn new(tls: DatabaseTls) -> Self {
        Self {
            tls,
            pools: Mutex::default(),
            opened: Arc::default(),
        }
    }

    /// A connection to `tenant_id`'s database as `db` says.
    pub async fn get(
        &self,
        tenant_id: Uuid,
        db: &DbCredentials,
    ) -> Result<TenantConnection, TenantPoolError> {
        let pool = self.pool(tenant_id, db)?;
        // Idle connections past their time are closed here rather than by a background task:
        // a frozen Lambda container runs no tasks.
        pool.retain(|_, metrics| metrics.last_used() < IDLE_TIMEOUT);
        Ok(pool.get().await?)
    }

    /// Connections opened so far (benchmarks check that warm requests open none).
    pub fn connections_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    fn pool(&self, tenant_id: Uuid, db: &DbCredentials) -> Result<Pool, BuildError> {
        let target = db.target();
        // The map is only ever left consistent: a panic elsewhere cannot poison its meaning.
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((known, pool)) = pools.get(&tenant_id)
            && *known == target
        {
            return Ok(pool.clone());
        }
        let pool = self.build(db)?;
        pools.insert(tenant_id, (target, pool.clone()));
        Ok(pool)
    }

    fn build(&self, db: &DbCredentials) -> Result<Pool, BuildError> {
        let manager = Manager::from_config(
            db.config(),
            self.tls.connector(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let opened = self.opened.clone();
        Pool::builder(manager)
            .max_size(MAX_CONNECTIONS_PER_TENANT)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(WAIT))
            .create_timeout(Some(CONNECT))
            .post_create(Hook::sync_fn(move |_, _| {
                opened.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }))
            .pre_recycle(Hook::async_fn(|client, metrics| {
                Box::pin(async move {
                    if metrics.last_used() >= VALIDATE_AFTER {
                        client.simple_query("").await.map_err(HookError::Backend)?;
                    }
                    Ok(())
                })
            }))
            .build()
    }
}
