//! `bench`: how long provisioning a tenant takes, and where the time goes. Creates its own stack
//! on the AWS emulator and its own template database, provisions tenants through
//! `ControlPlane::provision` and compares them with a bare `CREATE DATABASE … TEMPLATE`; with
//! `--scale`, many tenants and the registry / migrate-all paths over them. Removes everything it
//! created unless `--keep`. Then each function's cold start beside a hello-world (`cold_start`,
//! `--cold-start 0` skips it), the warm path of tenant requests (`warm`, `--warm 0` skips it),
//! the upload pipeline and analytics. Run it through `scripts/bench.sh` (`make bench`).

mod analytics;
mod cold_start;
mod concurrent;
mod ingest;
mod jobs;
mod measure;
mod platform;
mod report;
mod stats;
mod warm;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;

use crate::platform::Platform;
use crate::report::Report;

#[derive(Parser)]
#[command(
    about = "Benchmarks on the local stack (PostgreSQL + AWS emulator): provisioning, cold start, warm path, upload pipeline, analytics"
)]
struct Args {
    /// Tenants provisioned one after another (0 skips this part).
    #[arg(long, default_value_t = 20)]
    tenants: usize,
    /// Also provision this many tenants concurrently, then time lookups, listing, migrate-all.
    #[arg(long)]
    scale: Option<usize>,
    /// Provisionings (and cleanup drops) at a time in the scale run.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Registry lookups by subdomain in the scale run.
    #[arg(long, default_value_t = 200)]
    lookups: usize,
    /// Leave the databases, template and stack in place.
    #[arg(long)]
    keep: bool,
    /// Also write the figures as JSON to this file.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Warm-path rounds (discover, me, health, JWT verify and the SELECT 1 floor, one each per
    /// round) on a tenant of its own; 0 skips them.
    #[arg(long, default_value_t = 2000)]
    warm: usize,
    /// Data rows of the generated Boxnox CSV for the upload-pipeline run (1.6 M ≈ 100 MB; 0
    /// skips the run).
    #[arg(long, default_value_t = 1_600_000)]
    ingest_rows: u64,
    /// Data rows of the generated XLSX (7 cells each; at least one, since a workbook without data
    /// rows is a failed upload, and at most what a sheet holds below its header).
    #[arg(long, default_value_t = 142_857,
          value_parser = clap::value_parser!(u32).range(1..=1_048_575))]
    xlsx_rows: u32,
    /// Rounds of the upload-pipeline run, each on a fresh tenant; the median round is reported.
    #[arg(long, default_value_t = 3)]
    ingest_rounds: usize,
    /// Raw rows of the large analytics tenant (0 skips the analytics run).
    #[arg(long, default_value_t = 10_000_000)]
    analytics_rows: u64,
    /// Raw rows of the small analytics tenant (its p99 is compared with the large one's).
    #[arg(long, default_value_t = 100_000)]
    analytics_small_rows: u64,
    /// Cold-start runs of each function's release binary (and of a hello-world built the same
    /// way) against a local Lambda Runtime API; 0 skips them.
    #[arg(long, default_value_t = 5)]
    cold_start: usize,
    /// Start the release binaries already built instead of running `cargo build --release`
    /// for them first.
    #[arg(long)]
    cold_start_prebuilt: bool,
    /// Stack prefix (default: bench-<random>).
    #[arg(long)]
    prefix: Option<String>,
}

#[tokio::main]
async fn main() -> Result<()> {
    // The processor's child process (see `ingest`): one object, then out.
    let raw: Vec<String> = std::env::args().collect();
    if let [_, command, key] = raw.as_slice()
        && command == "ingest-child"
    {
        return ingest::child(key).await;
    }
    let args = Args::parse();
    // Built first: a stack on the emulator need not wait for the compiler.
    let cold_build = if args.cold_start > 0 && !args.cold_start_prebuilt {
        eprintln!("bench: building the functions' release binaries (cold start)");
        Some(cold_start::build(&cold_start::packages()?)?)
    } else {
        None
    };
    eprintln!("bench: deploying a stack on the emulator");
    let platform = Platform::start(args.prefix.clone()).await?;
    let mut report = Report {
        stack: platform.prefix.clone(),
        template_db: platform.plane.db.template_db().to_owned(),
        template_ready: Default::default(),
        facts: platform.facts().await?,
        sequential: None,
        scale: None,
        cleanup: None,
    };
    let measured = measure(&args, &platform, &mut report).await;
    let cold = match (&measured, args.cold_start) {
        (Ok(()), n) if n > 0 => Some(cold_start::run(&platform, n, cold_build).await),
        _ => None,
    };
    let warm = match (&measured, args.warm) {
        (Ok(()), n) if n > 0 => {
            eprintln!("bench: warm path, {n} rounds");
            Some(warm::run(&platform, n).await)
        }
        _ => None,
    };
    let ingested = match (&measured, args.ingest_rows) {
        (Ok(()), n) if n > 0 => {
            Some(ingest::run(&platform, n, args.xlsx_rows, args.ingest_rounds).await)
        }
        _ => None,
    };
    let analysed = match (&measured, args.analytics_rows) {
        (Ok(()), n) if n > 0 => {
            eprintln!(
                "bench: analytics, {} and {n} raw rows",
                args.analytics_small_rows
            );
            Some(analytics::run(&platform, args.analytics_small_rows, n).await)
        }
        _ => None,
    };
    print!("{}", report.human());
    match &cold {
        Some(Ok(run)) => print!("{}", run.human()),
        Some(Err(e)) => println!("\ncold-start run failed: {e:#}"),
        None => {}
    }
    if let Some(Ok(warm)) = &warm {
        print!("{}", warm.human());
    }
    match &ingested {
        Some(Ok(run)) => print!("{}", run.human()),
        Some(Err(e)) => println!("\nupload pipeline run failed: {e:#}"),
        None => {}
    }
    match &analysed {
        Some(Ok(run)) => print!("{}", run.human()),
        Some(Err(e)) => println!("\nanalytics run failed: {e:#}"),
        None => {}
    }
    if args.keep {
        println!(
            "\nkept: stack {}, template {}, every tenant database",
            platform.prefix, report.template_db
        );
    } else {
        eprintln!("bench: cleaning up");
        let cleanup = platform.clean_up(args.concurrency).await;
        report.cleanup = Some(cleanup);
        print!("{}", report.cleanup_text());
    }
    if let Some(path) = &args.json {
        let mut json = report.json();
        if let Some(Ok(run)) = &cold {
            json["cold_start"] = run.json();
        }
        if let Some(Ok(warm)) = &warm {
            json["warm"] = warm.json();
        }
        if let Some(Ok(run)) = &ingested {
            json["ingest"] = run.json();
        }
        if let Some(Ok(run)) = &analysed {
            json["analytics"] = run.json();
        }
        let text = serde_json::to_string_pretty(&json)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        println!("figures: {}", path.display());
    }
    measured?;
    cold.transpose()?;
    ingested.transpose()?;
    analysed.transpose()?;
    warm.transpose().map(|_| ())
}

async fn measure(args: &Args, platform: &Platform, report: &mut Report) -> Result<()> {
    let started = Instant::now();
    platform.plane.ensure_template().await?;
    report.template_ready = started.elapsed();
    if args.tenants > 0 {
        eprintln!("bench: {} tenants, one at a time", args.tenants);
        report.sequential = Some(measure::sequential(platform, args.tenants).await?);
    }
    if let Some(n) = args.scale {
        eprintln!(
            "bench: scale run, {n} tenants, {} at a time",
            args.concurrency
        );
        report.scale = Some(measure::scale(platform, n, args.concurrency, args.lookups).await?);
    }
    Ok(())
}
