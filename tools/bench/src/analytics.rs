//! Analytics at size: two tenants seeded through the real loading code (generated Boxnox files
//! → S3 → `Processor`), one with 100 k raw rows and one with 10 M (5,000 products × 200
//! resellers × 5 years, skewed: a few resellers carry most of the range, a few products sell
//! most of the units). Then each analytics endpoint through the `analytics` function's real
//! handler, warm, beside its reference measured in the same run: the same query function on a
//! held connection to the tenant's database, without routing, token, pool or JSON.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shared::analytics::filters::{Dataset, Dimension, Filters, GroupedQuery, TopQuery};
use shared::analytics::query;
use shared::ingest::process::{Outcome, Processor};
use shared::ingest::upload_event::{CreatedObject, UploadKey};
use shared::platform::config::Env;
use shared::store::objects::ObjectStore;
use shared::tenancy::context::{TenantContext, TenantSettings};
use uuid::Uuid;

use crate::platform::Platform;
use crate::stats::{Summary, ms};
use crate::warm::{answer, event, function_env, query_pairs, request};

/// Products, resellers and months of the generated data.
const PRODUCTS: usize = 5_000;
const RESELLERS: usize = 200;
const MONTHS: usize = 60;
/// Months per generated file (a file stays well under the 100 MB upload limit).
const MONTHS_PER_FILE: usize = 6;
/// Timed rounds per endpoint, after the warm-up.
const ROUNDS: usize = 200;
const WARM_UP: usize = 20;
/// The goals.
pub const GOAL_P99: Duration = Duration::from_millis(50);
pub const GOAL_OVER_SQL: f64 = 2.0;
pub const GOAL_GROWTH: f64 = 2.0;

/// One endpoint's figures on one tenant.
pub struct Endpoint {
    pub name: &'static str,
    pub handler: Summary,
    pub sql: Summary,
}

/// One tenant's figures.
pub struct TenantRun {
    pub raw_rows: u64,
    pub rollup_rows: Vec<(&'static str, i64)>,
    pub seed: Duration,
    pub endpoints: Vec<Endpoint>,
}

pub struct AnalyticsReport {
    pub small: TenantRun,
    pub large: TenantRun,
}

/// The endpoints measured: a name, the request path (default period: the latest 12 months),
/// and the query function the handler runs.
struct Case {
    name: &'static str,
    path: &'static str,
    question: Question,
}

/// Which query function a case's route runs.
#[derive(Clone, Copy)]
enum Question {
    Summary,
    Grouped,
    Top(Dimension),
}

const CASES: &[Case] = &[
    Case {
        name: "summary",
        path: "/api/analytics/summary",
        question: Question::Summary,
    },
    Case {
        name: "sales by month",
        path: "/api/analytics/sales?group_by=month",
        question: Question::Grouped,
    },
    Case {
        name: "sales by reseller",
        path: "/api/analytics/sales?group_by=reseller",
        question: Question::Grouped,
    },
    Case {
        name: "sales by product",
        path: "/api/analytics/sales?group_by=product",
        question: Question::Grouped,
    },
    Case {
        name: "sales by vendor",
        path: "/api/analytics/sales?group_by=vendor",
        question: Question::Grouped,
    },
    Case {
        name: "month x reseller",
        path: "/api/analytics/sales?group_by=month,reseller",
        question: Question::Grouped,
    },
    Case {
        name: "month x product",
        path: "/api/analytics/sales?group_by=month,product",
        question: Question::Grouped,
    },
    Case {
        name: "top products",
        path: "/api/analytics/top-products",
        question: Question::Top(Dimension::Product),
    },
    Case {
        name: "top resellers",
        path: "/api/analytics/top-resellers",
        question: Question::Top(Dimension::Reseller),
    },
];

pub async fn run(platform: &Platform, small_rows: u64, large_rows: u64) -> Result<AnalyticsReport> {
    let small = tenant_run(platform, "an-small", small_rows).await?;
    let large = tenant_run(platform, "an-large", large_rows).await?;
    Ok(AnalyticsReport { small, large })
}

async fn tenant_run(platform: &Platform, stem: &str, rows: u64) -> Result<TenantRun> {
    let provisioned = crate::measure::bench_tenant(platform, stem).await?;
    let (subdomain, email) = (
        provisioned.tenant.subdomain.clone(),
        provisioned.tenant.admin_email.clone(),
    );
    let tenant_id = provisioned.tenant.tenant_id;

    let seed_started = Instant::now();
    let raw_rows = seed(platform, &tenant_id, rows).await?;
    let seed = seed_started.elapsed();

    let env = function_env(platform).await?;
    let env = Env(move |name: &str| env.get(name).cloned());
    let auth_app = auth::App::new(&env, &platform.sdk).context("auth config")?;
    let app = analytics::App::new(&env, &platform.sdk).context("analytics config")?;
    let host = format!("{subdomain}.localhost");
    let token = signed_in(
        &auth_app,
        &host,
        &email,
        provisioned.admin_temporary_password,
    )
    .await?;

    let secret = crate::warm::tenant_secret(platform, &tenant_id).await?;
    let held = crate::warm::connect_as_tenant(&secret).await?;
    let rollup_rows = rollup_sizes(&held).await?;

    let mut endpoints = Vec::new();
    for case in CASES {
        let ev = event(&host, "GET", case.path, Some(&token), None);
        let res = analytics::handle(&app, request(&ev)?).await;
        let (status, body) = answer(&res);
        ensure!(status == 200, "{} answered {status}: {body}", case.name);
        let mut handler = Vec::with_capacity(ROUNDS);
        let mut sql = Vec::with_capacity(ROUNDS);
        for round in 0..WARM_UP + ROUNDS {
            let req = request(&ev)?;
            let started = Instant::now();
            let res = analytics::handle(&app, req).await;
            let took = started.elapsed();
            ensure!(
                res.status() == 200,
                "{} answered {}",
                case.name,
                res.status()
            );
            let started = Instant::now();
            reference(&held, case).await?;
            let reference = started.elapsed();
            if round >= WARM_UP {
                handler.push(took);
                sql.push(reference);
            }
        }
        endpoints.push(Endpoint {
            name: case.name,
            handler: Summary::of(&handler).context("samples")?,
            sql: Summary::of(&sql).context("samples")?,
        });
    }
    Ok(TenantRun {
        raw_rows,
        rollup_rows,
        seed,
        endpoints,
    })
}

/// What the handler runs for `case`, called directly on a held connection with the same
/// parameters, parsed by the same code.
async fn reference(db: &tokio_postgres::Client, case: &Case) -> Result<()> {
    let query = case.path.split_once('?').map_or("", |(_, q)| q);
    let params = |name: &str| {
        query_pairs(query)
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    };
    match case.question {
        Question::Summary => {
            query::summary(db, &Filters::parse(&params, Dataset::Sales)?).await?;
        }
        Question::Grouped => {
            query::grouped(db, &GroupedQuery::parse(&params, Dataset::Sales)?).await?;
        }
        Question::Top(dimension) => {
            query::top(db, &TopQuery::parse(&params, dimension)?).await?;
        }
    }
    Ok(())
}

/// Signs in with the temporary password and sets a new one; the fresh token.
async fn signed_in(
    auth_app: &auth::App,
    host: &str,
    email: &str,
    temporary: Option<secrecy::SecretString>,
) -> Result<String> {
    let temporary = temporary.context("a new tenant's admin has a temporary password")?;
    let login = event(
        host,
        "POST",
        "/api/auth/login",
        None,
        Some(&json!({"email": email, "password": temporary.expose_secret()})),
    );
    let (status, body) = answer(&auth::handle(auth_app, request(&login)?).await);
    ensure!(status == 200, "login answered {status}: {body}");
    let token = body["access_token"].as_str().unwrap_or_default().to_owned();
    let change = event(
        host,
        "POST",
        "/api/auth/password",
        Some(&token),
        Some(&json!({
            "current_password": temporary.expose_secret(),
            "new_password": format!("bench passphrase {}", Uuid::new_v4().simple()),
        })),
    );
    let (status, body) = answer(&auth::handle(auth_app, request(&change)?).await);
    ensure!(status == 200, "password change answered {status}: {body}");
    Ok(body["access_token"].as_str().unwrap_or_default().to_owned())
}

async fn rollup_sizes(db: &tokio_postgres::Client) -> Result<Vec<(&'static str, i64)>> {
    let mut sizes = Vec::new();
    for rollup in shared::ingest::vendor::Target::Sellout.rollups() {
        let n: i64 = db
            .query_one(&format!("select count(*) from {}", rollup.table), &[])
            .await?
            .get(0);
        sizes.push((rollup.table, n));
    }
    Ok(sizes)
}

/// Loads about `rows` raw rows in files of six months each through the processor; the rows
/// loaded.
async fn seed(platform: &Platform, tenant_id: &Uuid, rows: u64) -> Result<u64> {
    let sdk = &platform.sdk;
    let env = platform.env.clone();
    let env = Env(move |name: &str| env.get(name).cloned());
    let processor = Processor::new(
        TenantContext::from_settings(TenantSettings::from_env(&env)?, sdk),
        ObjectStore::new(
            shared::platform::aws::s3_client(sdk),
            env.required("UPLOADS_BUCKET")?,
        ),
    );
    let per_month = usize::try_from(rows)?.div_ceil(MONTHS);
    let carried = carried_per_reseller(per_month);
    let dir = tempfile::tempdir()?;
    let mut loaded = 0;
    for first in (0..MONTHS).step_by(MONTHS_PER_FILE) {
        let path = dir.path().join(format!("months-{first}.csv"));
        write_months(&path, first..first + MONTHS_PER_FILE, &carried)?;
        let (db, batch, key) =
            crate::ingest::stage_upload(platform, tenant_id, &path, "sales.csv").await?;
        let object = CreatedObject {
            bucket: processor.objects.bucket().to_owned(),
            key: key.clone(),
            size: None,
            upload: UploadKey::parse(&key)?,
        };
        match processor.process(&object, 1).await {
            Outcome::Completed { .. } => {}
            other => anyhow::bail!("seeding file {first} was not loaded: {other:?}"),
        }
        let view = shared::ingest::batches::get(&db, &batch)
            .await
            .map_err(anyhow::Error::msg)?
            .context("batch")?;
        loaded += u64::try_from(view.rows_loaded)?;
        eprintln!(
            "bench: analytics seed, {loaded} rows (stage ms: {})",
            view.stage_ms.map(|s| s.to_string()).unwrap_or_default()
        );
    }
    Ok(loaded)
}

/// How many products each reseller carries so that a month has about `per_month` rows: a
/// power-law over resellers (the largest carry the whole range), scaled to fit.
fn carried_per_reseller(per_month: usize) -> Vec<usize> {
    let weight = |r: usize| 1.0 / ((r + 1) as f64).powf(0.9);
    let counts = |scale: f64| -> Vec<usize> {
        (0..RESELLERS)
            .map(|r| ((scale * weight(r)).round() as usize).clamp(1, PRODUCTS))
            .collect()
    };
    let (mut low, mut high) = (0.0_f64, 1e9_f64);
    for _ in 0..100 {
        let mid = (low + high) / 2.0;
        if counts(mid).iter().sum::<usize>() < per_month {
            low = mid;
        } else {
            high = mid;
        }
    }
    counts(high)
}

/// Boxnox rows for `months` (indexes from January 2021): reseller `r` sells its `carried[r]`
/// products (a spread of the range, popular ones first) every month.
fn write_months(path: &Path, months: std::ops::Range<usize>, carried: &[usize]) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "Product EAN,Functional Name,Sold Qty,Sales Amount (EUR),Reseller,Month,Year"
    )?;
    for m in months {
        let (year, month) = (2021 + m / 12, 1 + m % 12);
        for (r, &n) in carried.iter().enumerate() {
            for k in 0..n {
                // 13 is coprime with 5,000: k ↦ p is one-to-one for each reseller.
                let p = (r * 7919 + k * 13) % PRODUCTS;
                let units = 1 + (40 * 500 / (500 + p) + (p + r + m) % 7);
                let cents = units * (500 + (p % 190) * 100) + p % 100;
                writeln!(
                    out,
                    "{},Product {p},{units},{}.{:02},Reseller {r},{month},{year}",
                    4_000_000_000_000_u64 + p as u64,
                    cents / 100,
                    cents % 100
                )?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

impl AnalyticsReport {
    pub fn human(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nanalytics: each endpoint through the real handler (warm, {ROUNDS} rounds, latest \
             12 months), beside the same query function on a held connection"
        );
        for (label, run) in [("100 k", &self.small), ("10 M", &self.large)] {
            let _ = writeln!(
                out,
                "  {label}: {} raw rows seeded in {:.0} s; rollups {}",
                run.raw_rows,
                run.seed.as_secs_f64(),
                run.rollup_rows
                    .iter()
                    .map(|(t, n)| format!("{t} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let _ = writeln!(
            out,
            "  {:<18} {:>12} {:>12} {:>8} {:>12} {:>10} {:>8}  goals: p99 <= {} ms, <= {GOAL_OVER_SQL}x SQL, 10M/100k <= {GOAL_GROWTH}x",
            "endpoint",
            "p99 10M ms",
            "SQL p99 ms",
            "x SQL",
            "p99 100k ms",
            "10M/100k",
            "",
            GOAL_P99.as_millis(),
        );
        for (large, small) in self.large.endpoints.iter().zip(&self.small.endpoints) {
            let over = ratio(large.handler.p99, large.sql.p99);
            let growth = ratio(large.handler.p99, small.handler.p99);
            let ok =
                large.handler.p99 <= GOAL_P99 && over <= GOAL_OVER_SQL && growth <= GOAL_GROWTH;
            let _ = writeln!(
                out,
                "  {:<18} {:>12.2} {:>12.2} {:>8.2} {:>12.2} {:>10.2} {:>8}",
                large.name,
                ms(large.handler.p99),
                ms(large.sql.p99),
                over,
                ms(small.handler.p99),
                growth,
                if ok { "PASS" } else { "FAIL" },
            );
        }
        out
    }

    pub fn json(&self) -> Value {
        let run = |r: &TenantRun| {
            json!({
                "raw_rows": r.raw_rows,
                "seed_s": r.seed.as_secs_f64(),
                "rollups": r.rollup_rows.iter().map(|(t, n)| json!({"table": t, "rows": n})).collect::<Vec<_>>(),
                "endpoints": r.endpoints.iter().map(|e| json!({
                    "name": e.name, "handler": e.handler.json(), "sql": e.sql.json(),
                })).collect::<Vec<_>>(),
            })
        };
        json!({"small": run(&self.small), "large": run(&self.large)})
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}
