//! Which tenant a request is for (DESIGN §4 step 3): the host's subdomain looked up in the
//! registry through a short-lived, bounded per-container cache, so a suspension bites within the TTL.
//! Unknown → 404, not active → 403.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lru::LruCache;
use uuid::Uuid;

use crate::domain::subdomain::Subdomain;
use crate::store::registry::{Registry, TenantRecord, TenantStatus};
use crate::tenancy::TenancyError;

/// Registry lookups are cached this long unless `REGISTRY_CACHE_TTL_SECONDS` says otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5);

/// Hosts a container remembers at most (found or not): a flood of random hosts evicts the
/// least recently used instead of growing the cache.
pub const CACHE_CAPACITY: usize = 10_000;

/// Subdomain → tenant, cached (bounded, least recently used evicted first).
pub struct TenantDirectory {
    registry: Registry,
    ttl: Duration,
    cache: Mutex<LruCache<String, (Instant, Option<TenantRecord>)>>,
    lookups: std::sync::atomic::AtomicU64,
}

/// The tenant a request resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTenant {
    pub tenant_id: Uuid,
    pub subdomain: Subdomain,
    pub record: TenantRecord,
}

impl TenantDirectory {
    pub fn new(registry: Registry, ttl: Duration) -> Self {
        Self::with_capacity(registry, ttl, CACHE_CAPACITY)
    }

    /// A directory remembering at most `capacity` hosts.
    pub fn with_capacity(registry: Registry, ttl: Duration, capacity: usize) -> Self {
        Self {
            registry,
            ttl,
            cache: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
            lookups: Default::default(),
        }
    }

    /// Hosts remembered now.
    pub fn cached_hosts(&self) -> usize {
        self.cache.lock().map_or(0, |c| c.len())
    }

    /// The registry it reads, for the other users of one per-container client.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Registry reads so far (benchmarks check that warm requests make none).
    pub fn registry_lookups(&self) -> u64 {
        self.lookups.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The active tenant living at `subdomain`.
    pub async fn resolve(&self, subdomain: &Subdomain) -> Result<ResolvedTenant, TenancyError> {
        let cached = self.cache.lock().ok().and_then(|mut c| {
            c.get(subdomain.as_str())
                .filter(|(at, _)| at.elapsed() < self.ttl)
                .map(|(_, r)| r.clone())
        });
        let record = match cached {
            Some(record) => record,
            None => {
                self.lookups
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let record = self
                    .registry
                    .tenant_by_subdomain(subdomain.as_str())
                    .await?;
                if let Ok(mut cache) = self.cache.lock() {
                    cache.put(
                        subdomain.as_str().to_owned(),
                        (Instant::now(), record.clone()),
                    );
                }
                record
            }
        };
        let record = record.ok_or(TenancyError::TenantNotFound)?;
        require_active(&record)?;
        tracing::Span::current().record("tenant_id", tracing::field::display(record.tenant_id));
        Ok(ResolvedTenant {
            tenant_id: record.tenant_id,
            subdomain: subdomain.clone(),
            record,
        })
    }
}

/// Only an active tenant is served: a suspended one is refused as such, every other state as
/// unavailable.
pub fn require_active(record: &TenantRecord) -> Result<(), TenancyError> {
    match record.status {
        TenantStatus::Active => Ok(()),
        TenantStatus::Suspended => Err(TenancyError::Suspended),
        status => Err(TenancyError::Unavailable(status)),
    }
}
