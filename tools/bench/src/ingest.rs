//! The upload pipeline at size: a generated Boxnox CSV (100 MB, ~1.6 M rows, 0.1 % invalid) and
//! an XLSX of 1 M cells go through the real processor code — S3 read → parse → map → validate →
//! COPY → rollup → commit — in a child process of its own, so its peak RSS is the processor's
//! alone. The reference, measured in the same run and the same database: `psql \copy` of the same
//! CSV into an unindexed table.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use shared::ingest::batches::{self, NewUpload, UploadRequest};
use shared::ingest::process::{Outcome, Processor};
use shared::ingest::upload_event::{CreatedObject, UploadKey};
use shared::platform::config::Env;
use shared::store::objects::ObjectStore;
use shared::store::postgres::admin::TenantDbNames;
use shared::tenancy::context::{TenantContext, TenantSettings};
use uuid::Uuid;

use crate::platform::Platform;

/// One file through the processor, and its reference.
#[derive(Debug)]
pub struct FileRun {
    pub bytes: u64,
    pub rows: u64,
    pub cells: u64,
    pub loaded: u64,
    pub rejected: u64,
    pub elapsed: Duration,
    /// The processor's CPU time (every thread).
    pub cpu: Duration,
    pub peak_rss_kib: u64,
    pub stages: Value,
}

/// One round: the CSV through the processor, then its reference, then the XLSX, on a tenant of
/// its own (so every round loads into the same empty tables).
#[derive(Debug)]
pub struct Round {
    pub csv: FileRun,
    pub psql_copy: Duration,
    pub xlsx: FileRun,
}

impl Round {
    /// The CSV's rate over the reference's.
    fn ratio(&self) -> f64 {
        self.psql_copy.as_secs_f64() / self.csv.elapsed.as_secs_f64().max(1e-9)
    }

    fn cells_per_s(&self) -> f64 {
        self.xlsx.cells as f64 / self.xlsx.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Every round; figures are reported as the median round's, beside each round's own (this
/// machine's speed drifts by tens of percent from minute to minute).
#[derive(Debug)]
pub struct IngestReport {
    pub rounds: Vec<Round>,
}

/// Generates both files once, then runs `rounds` rounds (at least one).
pub async fn run(
    platform: &Platform,
    csv_rows: u64,
    xlsx_rows: u32,
    rounds: usize,
) -> Result<IngestReport> {
    let dir = tempfile::tempdir()?;
    let csv_path = dir.path().join("boxnox.csv");
    let rows = write_csv(&csv_path, csv_rows)?;
    let xlsx_path = dir.path().join("boxnox.xlsx");
    write_xlsx(&xlsx_path, xlsx_rows)?;
    let mut report = IngestReport { rounds: Vec::new() };
    for round in 1..=rounds.max(1) {
        eprintln!(
            "bench: ingest round {round}: CSV of {rows} rows ({} MB), its reference, XLSX of {} cells",
            std::fs::metadata(&csv_path)?.len() / 1_000_000,
            u64::from(xlsx_rows) * 7
        );
        let tenant = crate::measure::bench_tenant(platform, &format!("ingest{round}"))
            .await?
            .tenant;
        let csv = through_processor(platform, &tenant.tenant_id, &csv_path, "boxnox.csv").await?;
        let psql_copy = psql_copy(platform, &tenant.tenant_id, &csv_path).await?;
        let mut xlsx =
            through_processor(platform, &tenant.tenant_id, &xlsx_path, "boxnox.xlsx").await?;
        xlsx.cells = u64::from(xlsx_rows + 1) * 7;
        report.rounds.push(Round {
            csv,
            psql_copy,
            xlsx,
        });
    }
    Ok(report)
}

/// A Boxnox file of `rows` data rows, one in a thousand invalid; the rows written.
fn write_csv(path: &Path, rows: u64) -> Result<u64> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "Product EAN,Functional Name,Sold Qty,Sales Amount (EUR),Reseller,Month,Year"
    )?;
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for i in 0..rows {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let product = seed % 5000;
        let reseller = (seed >> 20) % 200;
        let qty = 1 + (seed >> 40) % 90;
        if i % 1000 == 999 {
            writeln!(
                out,
                "{},Product {product},many,1.00,Reseller {reseller},1,2025",
                4_006_381_000_000 + product
            )?;
        } else {
            writeln!(
                out,
                "{},Product {product},{qty},{}.{:02},Reseller {reseller},{},{}",
                4_006_381_000_000 + product,
                qty * 12,
                (seed >> 8) % 100,
                1 + (seed >> 32) % 12,
                2021 + (seed >> 48) % 5
            )?;
        }
    }
    out.flush()?;
    Ok(rows)
}

/// A Boxnox workbook of `rows` data rows (7 cells each), numbers stored as numbers.
fn write_xlsx(path: &Path, rows: u32) -> Result<()> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in [
        "Product EAN",
        "Functional Name",
        "Sold Qty",
        "Sales Amount (EUR)",
        "Reseller",
        "Month",
        "Year",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(0, u16::try_from(c)?, *h)?;
    }
    for r in 1..=rows {
        let product = f64::from(r % 5000);
        sheet.write_number(r, 0, 4_006_381_000_000.0 + product)?;
        sheet.write_string(r, 1, "Serum")?;
        sheet.write_number(r, 2, f64::from(1 + r % 40))?;
        sheet.write_number(r, 3, f64::from(r % 997) + 0.5)?;
        sheet.write_string(r, 4, "Reseller 7")?;
        sheet.write_number(r, 5, f64::from(1 + r % 12))?;
        sheet.write_number(r, 6, 2025.0)?;
    }
    book.save(path)?;
    Ok(())
}

/// Creates a pending batch for `path` in the tenant's database and puts the file at its key:
/// what `POST /api/uploads` and the browser's PUT do. The tenant database, the batch and the key.
pub(crate) async fn stage_upload(
    platform: &Platform,
    tenant_id: &Uuid,
    path: &Path,
    name: &str,
) -> Result<(tokio_postgres::Client, Uuid, String)> {
    let bytes = std::fs::read(path)?;
    let db = platform
        .plane
        .db()
        .await?
        .connect_tenant(&TenantDbNames::for_tenant(tenant_id))
        .await?;
    let upload = NewUpload::parse(UploadRequest {
        vendor: Some("boxnox".into()),
        file_name: Some(name.into()),
        size_bytes: Some(i64::try_from(bytes.len())?),
        content_type: None,
    })
    .map_err(anyhow::Error::msg)?;
    let (batch, key) = batches::create(&db, tenant_id, None, &upload)
        .await
        .map_err(anyhow::Error::msg)?;
    ObjectStore::new(
        platform.plane.archive.get().clone(),
        platform.plane.settings.uploads_bucket.clone(),
    )
    .put(&key, bytes, &upload.content_type)
    .await?;
    Ok((db, batch.batch_id, key))
}

/// Uploads `path` as a batch of the tenant and runs the processor on it in a child process.
async fn through_processor(
    platform: &Platform,
    tenant_id: &Uuid,
    path: &Path,
    name: &str,
) -> Result<FileRun> {
    let size = std::fs::metadata(path)?.len();
    let (db, batch_id, key) = stage_upload(platform, tenant_id, path, name).await?;
    let exe = std::env::current_exe()?;
    let output = tokio::process::Command::new(exe)
        .arg("ingest-child")
        .arg(&key)
        .envs(platform.env.iter())
        .output()
        .await?;
    if !output.status.success() {
        bail!(
            "the processor child failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let child: Value = serde_json::from_slice(&output.stdout)
        .with_context(|| String::from_utf8_lossy(&output.stdout).into_owned())?;
    let view = batches::get(&db, &batch_id)
        .await
        .map_err(anyhow::Error::msg)?
        .context("the batch is gone")?;
    if view.status != batches::BatchStatus::Completed {
        bail!("the batch was not loaded: {view:?}");
    }
    Ok(FileRun {
        bytes: size,
        rows: u64::try_from(view.rows_total)?,
        cells: 0,
        loaded: u64::try_from(view.rows_loaded)?,
        rejected: u64::try_from(view.rows_rejected)?,
        elapsed: Duration::from_millis(child["elapsed_ms"].as_u64().unwrap_or(0)),
        cpu: Duration::from_millis(child["cpu_ms"].as_u64().unwrap_or(0)),
        peak_rss_kib: child["peak_rss_kib"].as_u64().unwrap_or(0),
        stages: view.stage_ms.unwrap_or(Value::Null),
    })
}

/// `bench ingest-child KEY`: the processor as the Lambda runs it, on one object; prints its time
/// and peak RSS as JSON.
pub async fn child(key: &str) -> Result<()> {
    let sdk = shared::platform::aws::sdk_config().await;
    let env = Env::process();
    let tenants = TenantContext::from_settings(TenantSettings::from_env(&env)?, &sdk);
    let objects = ObjectStore::new(
        shared::platform::aws::s3_client(&sdk),
        env.required("UPLOADS_BUCKET")?,
    );
    let processor = Processor::new(tenants, objects);
    let object = CreatedObject {
        bucket: processor.objects.bucket().to_owned(),
        key: key.to_owned(),
        size: None,
        upload: UploadKey::parse(key)?,
    };
    let (started, cpu_before) = (Instant::now(), cpu_ms());
    let outcome = processor.process(&object, 1).await;
    let (elapsed, cpu) = (started.elapsed(), cpu_ms().saturating_sub(cpu_before));
    if !matches!(outcome, Outcome::Completed { .. }) {
        bail!("{outcome:?}");
    }
    println!(
        "{}",
        json!({"elapsed_ms": elapsed.as_millis() as u64, "cpu_ms": cpu,
               "peak_rss_kib": peak_rss_kib()})
    );
    Ok(())
}

/// CPU time of this process so far (user + system, every thread), in ms: `/proc/self/stat`
/// counts it in USER_HZ ticks, 100 a second on Linux.
fn cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15: 11 and 12 after the state.
    (ticks(11) + ticks(12)) * 10
}

/// `VmHWM` of this process.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// `psql \copy` of the same file into an unindexed table of the same database.
async fn psql_copy(platform: &Platform, tenant_id: &Uuid, path: &Path) -> Result<Duration> {
    let names = TenantDbNames::for_tenant(tenant_id);
    let db = platform.plane.db().await?.connect_tenant(&names).await?;
    db.batch_execute(
        "create table bench_copy_reference (ean text, name text, qty text, amount text, \
         reseller text, month text, year text)",
    )
    .await?;
    let mut url = url_with_database(&platform.admin_url, &names.database);
    url.push_str(if url.contains('?') { "&" } else { "?" });
    // The same TLS as the processor's connections: verified against the local CA.
    let ca = std::env::var("DATABASE_CA_FILE").context("DATABASE_CA_FILE")?;
    url.push_str(&format!("sslmode=verify-full&sslrootcert={ca}"));
    let started = Instant::now();
    let status = tokio::process::Command::new("psql")
        .arg(&url)
        .arg("-v")
        .arg("ON_ERROR_STOP=1")
        .arg("-qc")
        .arg(format!(
            "\\copy bench_copy_reference from '{}' with (format csv, header true)",
            path.display()
        ))
        .status()
        .await
        .context("running psql")?;
    let took = started.elapsed();
    if !status.success() {
        bail!("psql \\copy failed");
    }
    db.batch_execute("drop table bench_copy_reference").await?;
    Ok(took)
}

fn url_with_database(url: &str, database: &str) -> String {
    match url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{database}"),
        None => url.to_owned(),
    }
}

impl IngestReport {
    /// The round with the median of `figure` (the lower one of an even count).
    fn median_by(&self, figure: impl Fn(&Round) -> f64) -> &Round {
        let mut rounds: Vec<&Round> = self.rounds.iter().collect();
        rounds.sort_by(|a, b| figure(a).total_cmp(&figure(b)));
        rounds[(rounds.len() - 1) / 2]
    }

    /// Each round's `figure`, in the order run.
    fn each(&self, figure: impl Fn(&Round) -> String) -> String {
        self.rounds
            .iter()
            .map(figure)
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn human(&self) -> String {
        let mb = |b: u64| b as f64 / 1_000_000.0;
        let seconds = |d: Duration| format!("{:.2}", d.as_secs_f64());
        let by_ratio = self.median_by(Round::ratio);
        let (csv, reference) = (&by_ratio.csv, by_ratio.psql_copy);
        let rate = mb(csv.bytes) / csv.elapsed.as_secs_f64().max(1e-9);
        let by_cells = self.median_by(Round::cells_per_s);
        let peak = |file: fn(&Round) -> &FileRun| {
            self.rounds
                .iter()
                .map(|r| file(r).peak_rss_kib)
                .max()
                .unwrap_or(0)
        };
        let (csv_peak, xlsx_peak) = (peak(|r| &r.csv), peak(|r| &r.xlsx));
        let mut out = format!(
            "\nUpload pipeline (real processor code, emulator + PostgreSQL): {} round(s), each on \
             a fresh tenant (processor, then its reference); the median round by each goal's \
             figure, every round's in brackets\n",
            self.rounds.len()
        );
        out += &format!(
            "  CSV {:.0} MB, {} rows: {} loaded, {} rejected in {} s = {:.1} MB/s, {:.0} rows/s \
             [{} s]\n",
            mb(csv.bytes),
            csv.rows,
            csv.loaded,
            csv.rejected,
            seconds(csv.elapsed),
            rate,
            csv.rows as f64 / csv.elapsed.as_secs_f64().max(1e-9),
            self.each(|r| seconds(r.csv.elapsed)),
        );
        out += &format!(
            "  reference: psql \\copy of the same file, unindexed table, same round: {} s = \
             {:.1} MB/s [{} s]\n",
            seconds(reference),
            mb(csv.bytes) / reference.as_secs_f64().max(1e-9),
            self.each(|r| seconds(r.psql_copy)),
        );
        out += &format!(
            "  throughput {:.2}x the reference (goal >= 0.5x): {} [{}]\n",
            by_ratio.ratio(),
            pass(by_ratio.ratio() >= 0.5),
            self.each(|r| format!("{:.2}x", r.ratio())),
        );
        out += &format!("  stages (ms): {}\n", csv.stages);
        out += &format!(
            "  processor CPU {:.2} s in {} s: it shares this machine's cores with PostgreSQL \
             (psql, the reference's client, barely works)\n",
            csv.cpu.as_secs_f64(),
            seconds(csv.elapsed)
        );
        out += &format!(
            "  processor peak RSS {:.0} MB, the highest of the rounds (goal <= 128 MB): {} [{} MB]\n",
            csv_peak as f64 / 1024.0,
            pass(csv_peak <= 128 * 1024),
            self.each(|r| format!("{:.0}", r.csv.peak_rss_kib as f64 / 1024.0)),
        );
        out += &format!(
            "  XLSX {} cells in {} s = {:.0} cells/s (goal >= 1,000,000/s): {}; peak RSS {:.0} MB \
             [{} cells/s]\n",
            by_cells.xlsx.cells,
            seconds(by_cells.xlsx.elapsed),
            by_cells.cells_per_s(),
            pass(by_cells.cells_per_s() >= 1_000_000.0),
            xlsx_peak as f64 / 1024.0,
            self.each(|r| format!("{:.0}", r.cells_per_s())),
        );
        out += &format!("  XLSX stages (ms): {}\n", by_cells.xlsx.stages);
        out
    }

    pub fn json(&self) -> Value {
        let run = |r: &FileRun| {
            json!({"bytes": r.bytes, "rows": r.rows, "cells": r.cells, "loaded": r.loaded,
                   "rejected": r.rejected, "seconds": r.elapsed.as_secs_f64(),
                   "cpu_ms": r.cpu.as_millis() as u64, "peak_rss_kib": r.peak_rss_kib, "stages_ms": r.stages})
        };
        let rounds: Vec<Value> = self
            .rounds
            .iter()
            .map(|r| {
                json!({"csv": run(&r.csv), "psql_copy_seconds": r.psql_copy.as_secs_f64(),
                       "xlsx": run(&r.xlsx)})
            })
            .collect();
        json!({"rounds": rounds,
               "median_csv_ratio": self.median_by(Round::ratio).ratio(),
               "median_xlsx_cells_per_s": self.median_by(Round::cells_per_s).cells_per_s()})
    }
}

fn pass(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}
