//! The measurements: sequential provisioning against the bare-clone floor, and the scale run
//! (concurrent provisioning, registry lookups, listing, migrate-all inline and as a job).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use shared::control_plane::provisioning::{
    NewTenant, NewTenantInput, Provisioned, Step, StepEvent,
};
use shared::platform::telemetry::ErrorChain;
use shared::store::postgres::sql::quote_ident;

use crate::concurrent::for_each_concurrent;
use crate::platform::{Plane, Platform};

const ACTOR: &str = "bench";

/// Sequential provisioning, each tenant followed by one bare clone of the same template.
pub struct Sequential {
    pub end_to_end: Vec<Duration>,
    /// Per step (in `Step::ALL` order), the durations its `Done` events reported.
    pub steps: Vec<(Step, Vec<Duration>)>,
    pub floor_create: Vec<Duration>,
    pub floor_drop: Vec<Duration>,
    /// The same clone with `STRATEGY FILE_COPY` (PostgreSQL 15+; the default there is
    /// `WAL_LOG`, which writes every block of the template through the WAL).
    pub floor_file_copy: Vec<Duration>,
}

/// The scale run.
pub struct Scale {
    pub tenants: usize,
    pub concurrency: usize,
    pub wall: Duration,
    pub latencies: Vec<Duration>,
    pub failures: Vec<String>,
    pub lookups: Vec<Duration>,
    pub lookup_misses: usize,
    pub list_pages: usize,
    pub list_items: usize,
    pub list_took: Duration,
    pub all_tenants: usize,
    pub all_tenants_took: Duration,
    /// The reference: every tenant one after the other in one call (what the synchronous
    /// endpoint did before jobs).
    pub migrate_took: Duration,
    pub migrate_tenants: usize,
    pub migrate_failed: usize,
    /// `tenantctl migrate` through the job path.
    pub job: crate::jobs::JobRun,
}

/// Notes a tenant for the cleanup.
pub fn remember(platform: &Platform, tenant: uuid::Uuid) {
    if let Ok(mut created) = platform.created.lock() {
        created.push(tenant);
    }
}

/// Provisions the tenant `<tag>-<stem>` for a run of its own (its admin is
/// `admin@<subdomain>.example`) and notes it for the cleanup.
pub async fn bench_tenant(platform: &Platform, stem: &str) -> Result<Provisioned> {
    let subdomain = format!("{}-{stem}", platform.tag);
    let provisioned = platform
        .plane
        .provision(
            &request(&platform.plane, &subdomain)?,
            &uuid::Uuid::new_v4().to_string(),
            ACTOR,
            &|_| {},
        )
        .await
        .map_err(|e| anyhow::Error::msg(shared::ApiError::from(e)))?;
    remember(platform, provisioned.tenant.tenant_id);
    Ok(provisioned)
}

fn request(plane: &Plane, subdomain: &str) -> Result<NewTenant> {
    Ok(NewTenant::parse(
        NewTenantInput {
            company_name: Some(format!("Bench {subdomain}")),
            subdomain: Some(subdomain.to_owned()),
            admin_email: Some(format!("admin@{subdomain}.example")),
            admin_name: Some("Bench Admin".to_owned()),
        },
        &plane.settings.platform.domain,
    )?)
}

/// `n` tenants one after the other; after each, `CREATE DATABASE … TEMPLATE` + `DROP DATABASE`
/// of the same template on one admin connection. Interleaving puts both under the same
/// background load (the machine is shared).
pub async fn sequential(platform: &Platform, n: usize) -> Result<Sequential> {
    let plane = &platform.plane;
    let admin = platform.admin_client().await?;
    let template = quote_ident(plane.db.template_db());
    let mut result = Sequential {
        end_to_end: Vec::with_capacity(n),
        steps: Step::ALL.iter().map(|s| (*s, Vec::new())).collect(),
        floor_create: Vec::with_capacity(n),
        floor_drop: Vec::with_capacity(n),
        floor_file_copy: Vec::new(),
    };
    let version: i32 = admin
        .query_one("select current_setting('server_version_num')::int", &[])
        .await?
        .get(0);
    for i in 0..n {
        let request = request(plane, &format!("{}-s{i:04}", platform.tag))?;
        let done = Mutex::new(Vec::new());
        let progress = |event: &StepEvent| {
            if let (StepEvent::Done(step, ms), Ok(mut done)) = (event, done.lock()) {
                done.push((*step, Duration::from_millis(*ms)));
            }
        };
        let started = Instant::now();
        let provisioned = plane
            .provision(
                &request,
                &uuid::Uuid::new_v4().to_string(),
                ACTOR,
                &progress,
            )
            .await
            .with_context(|| format!("provisioning {}", request.subdomain))?;
        result.end_to_end.push(started.elapsed());
        remember(platform, provisioned.tenant.tenant_id);
        for (step, took) in done.into_inner().unwrap_or_default() {
            if let Some((_, samples)) = result.steps.iter_mut().find(|(s, _)| *s == step) {
                samples.push(took);
            }
        }

        let clone = quote_ident(&format!("{}_floor_{i}", platform.tag));
        let started = Instant::now();
        admin
            .batch_execute(&format!("create database {clone} template {template}"))
            .await
            .context("the floor's create database")?;
        result.floor_create.push(started.elapsed());
        let started = Instant::now();
        admin
            .batch_execute(&format!("drop database {clone}"))
            .await
            .context("the floor's drop database")?;
        result.floor_drop.push(started.elapsed());
        if version >= 150_000 {
            let started = Instant::now();
            admin
                .batch_execute(&format!(
                    "create database {clone} template {template} strategy file_copy"
                ))
                .await
                .context("the floor's create database (file_copy)")?;
            result.floor_file_copy.push(started.elapsed());
            admin
                .batch_execute(&format!("drop database {clone}"))
                .await
                .context("the floor's drop database")?;
        }
    }
    Ok(result)
}

/// `n` tenants, `concurrency` at a time; then lookups, listing and migrate-all over every
/// tenant of the stack.
pub async fn scale(
    platform: &Platform,
    n: usize,
    concurrency: usize,
    lookups: usize,
) -> Result<Scale> {
    let subdomains: Arc<Vec<String>> = Arc::new(
        (0..n)
            .map(|i| format!("{}-x{i:05}", platform.tag))
            .collect(),
    );
    let plane = platform.plane.clone();
    let names = subdomains.clone();
    let created = platform.created.clone();
    let started = Instant::now();
    let outcomes = for_each_concurrent(n, concurrency, move |i| {
        let (plane, names, created) = (plane.clone(), names.clone(), created.clone());
        async move {
            let request = match request(&plane, &names[i]) {
                Ok(r) => r,
                Err(e) => return (Duration::ZERO, Err(format!("{e:#}"))),
            };
            let started = Instant::now();
            let outcome = plane
                .provision(&request, &uuid::Uuid::new_v4().to_string(), ACTOR, &|_| {})
                .await;
            let took = started.elapsed();
            if let (Ok(p), Ok(mut created)) = (&outcome, created.lock()) {
                created.push(p.tenant.tenant_id);
            }
            (
                took,
                outcome
                    .map(|_| ())
                    .map_err(|e| format!("{}: {}", names[i], ErrorChain(&e))),
            )
        }
    })
    .await?;
    let wall = started.elapsed();
    let mut latencies = Vec::with_capacity(n);
    let mut failures = Vec::new();
    for (took, outcome) in outcomes {
        match outcome {
            Ok(()) => latencies.push(took),
            Err(e) => failures.push(e),
        }
    }

    let registry = &platform.plane.registry;
    let mut lookup_times = Vec::with_capacity(lookups);
    let mut lookup_misses = 0;
    let lookups = if subdomains.is_empty() { 0 } else { lookups };
    for _ in 0..lookups {
        let pick = (uuid::Uuid::new_v4().as_u128() % subdomains.len() as u128) as usize;
        let started = Instant::now();
        let found = registry.tenant_by_subdomain(&subdomains[pick]).await?;
        lookup_times.push(started.elapsed());
        if found.is_none() {
            lookup_misses += 1;
        }
    }

    let started = Instant::now();
    let (mut list_pages, mut list_items, mut cursor) = (0, 0, None::<String>);
    loop {
        let page = platform.plane.list_tenants(100, cursor.as_deref()).await?;
        list_pages += 1;
        list_items += page.items.len();
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let list_took = started.elapsed();

    let started = Instant::now();
    let all_tenants = registry.all_tenants().await?.len();
    let all_tenants_took = started.elapsed();

    let started = Instant::now();
    let run = platform.plane.migrate_all(ACTOR).await?;
    let migrate_took = started.elapsed();
    let job = crate::jobs::migrate(platform).await?;

    Ok(Scale {
        tenants: n,
        concurrency,
        wall,
        latencies,
        failures,
        lookups: lookup_times,
        lookup_misses,
        list_pages,
        list_items,
        list_took,
        all_tenants,
        all_tenants_took,
        migrate_took,
        migrate_tenants: run.tenants.len(),
        migrate_failed: run.failed,
        job,
    })
}
