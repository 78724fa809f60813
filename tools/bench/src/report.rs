//! The report: a compact table for people, the same figures as JSON.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::measure::{Scale, Sequential};
use crate::platform::{Cleanup, Facts};
use crate::stats::{Summary, human, ms};

/// The goal for a single provisioning, end to end.
pub const GOAL_P50: Duration = Duration::from_secs(1);
/// …and relative to cloning the template alone.
pub const GOAL_FLOOR_RATIO: f64 = 5.0;

pub struct Report {
    pub stack: String,
    pub template_db: String,
    pub template_ready: Duration,
    pub facts: Facts,
    pub sequential: Option<Sequential>,
    pub scale: Option<Scale>,
    pub cleanup: Option<Cleanup>,
}

/// Whether the sequential run met the goal: (p50 under 1 s, p50 within 5x the floor, ratio).
pub fn goal(seq: &Sequential) -> Option<(bool, bool, f64)> {
    let e2e = Summary::of(&seq.end_to_end)?;
    let floor = Summary::of(&seq.floor_create)?;
    let ratio = e2e.p50.as_secs_f64() / floor.p50.as_secs_f64().max(1e-9);
    Some((e2e.p50 < GOAL_P50, ratio <= GOAL_FLOOR_RATIO, ratio))
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

fn row(out: &mut String, label: &str, s: Option<Summary>) {
    match s {
        Some(s) => {
            let _ = writeln!(
                out,
                "  {label:<38} {:>9} {:>9} {:>9}",
                human(s.p50),
                human(s.p95),
                human(s.max)
            );
        }
        None => {
            let _ = writeln!(out, "  {label:<38} {:>9}", "-");
        }
    }
}

fn per_second(count: usize, took: Duration) -> f64 {
    count as f64 / took.as_secs_f64().max(1e-9)
}

impl Report {
    pub fn human(&self) -> String {
        let mut out = String::new();
        let f = &self.facts;
        let _ = writeln!(out, "Provisioning benchmark: stack {}", self.stack);
        let _ = writeln!(
            out,
            "  PostgreSQL {} (local dev cluster): fsync={}, synchronous_commit={}, full_page_writes={}",
            f.postgres_version, f.fsync, f.synchronous_commit, f.full_page_writes
        );
        if f.fsync == "off" {
            let _ = writeln!(
                out,
                "  fsync is off: no figure includes disk flushes; a durable cluster (RDS) is slower per CREATE DATABASE"
            );
        }
        let _ = writeln!(
            out,
            "  AWS: emulator (moto) at {} on loopback; {} CPU(s) shared with other work",
            f.emulator, f.cpus
        );
        let _ = writeln!(
            out,
            "  template {} created and migrated once, before timing: {}",
            self.template_db,
            human(self.template_ready)
        );

        if let Some(seq) = &self.sequential {
            let _ = writeln!(
                out,
                "\nSequential provisioning: {} tenants, each followed by one bare clone",
                seq.end_to_end.len()
            );
            let _ = writeln!(out, "  {:<38} {:>9} {:>9} {:>9}", "", "p50", "p95", "max");
            row(
                &mut out,
                "provision (end to end)",
                Summary::of(&seq.end_to_end),
            );
            row(
                &mut out,
                "floor: CREATE DATABASE .. TEMPLATE",
                Summary::of(&seq.floor_create),
            );
            row(
                &mut out,
                "floor: DROP DATABASE",
                Summary::of(&seq.floor_drop),
            );
            if !seq.floor_file_copy.is_empty() {
                row(
                    &mut out,
                    "(comparison) .. STRATEGY FILE_COPY",
                    Summary::of(&seq.floor_file_copy),
                );
            }
            let _ = writeln!(out, "  per step (from the StepEvent::Done times)");
            let mut step_means = Duration::ZERO;
            for (step, samples) in &seq.steps {
                row(
                    &mut out,
                    &format!("  {}", step.as_str()),
                    Summary::of(samples),
                );
                step_means += Summary::of(samples).map_or(Duration::ZERO, |s| s.mean);
            }
            if let Some(e2e) = Summary::of(&seq.end_to_end) {
                let _ = writeln!(
                    out,
                    "  between steps (mean; idempotency claim, a registry write per step): {}",
                    human(e2e.mean.saturating_sub(step_means))
                );
            }
            if let (Some((fast, near_floor, ratio)), Some(e2e)) =
                (goal(seq), Summary::of(&seq.end_to_end))
            {
                let _ = writeln!(out, "  p50 / floor p50: {ratio:.1}x");
                let _ = writeln!(
                    out,
                    "goal: p50 < 1 s and p50 <= 5x floor: {}  (p50 {} < 1 s: {}; {ratio:.1}x floor <= 5x: {})",
                    verdict(fast && near_floor),
                    human(e2e.p50),
                    verdict(fast),
                    verdict(near_floor)
                );
            }
        }

        if let Some(s) = &self.scale {
            let _ = writeln!(
                out,
                "\nScale: {} tenants, {} at a time",
                s.tenants, s.concurrency
            );
            let _ = writeln!(
                out,
                "  provisioned           {} ok, {} failed in {} = {:.2} tenants/s",
                s.latencies.len(),
                s.failures.len(),
                human(s.wall),
                per_second(s.latencies.len(), s.wall)
            );
            for failure in s.failures.iter().take(3) {
                let _ = writeln!(out, "    failure: {failure}");
            }
            if let Some(l) = Summary::of(&s.latencies) {
                let _ = writeln!(
                    out,
                    "  provision latency     p50 {}, p95 {}, max {}",
                    human(l.p50),
                    human(l.p95),
                    human(l.max)
                );
            }
            if let Some(l) = Summary::of(&s.lookups) {
                let _ = writeln!(
                    out,
                    "  tenant_by_subdomain   {} random lookups: p50 {}, p99 {} ({} misses)",
                    l.count,
                    human(l.p50),
                    human(l.p99),
                    s.lookup_misses
                );
            }
            let _ = writeln!(
                out,
                "  list_tenants          {} pages of 100 = {} tenants in {}",
                s.list_pages,
                s.list_items,
                human(s.list_took)
            );
            let _ = writeln!(
                out,
                "  all_tenants           {} tenants in {}",
                s.all_tenants,
                human(s.all_tenants_took)
            );
            let _ = writeln!(
                out,
                "  migrate_all           {} tenants in {} = {} per tenant, {} failed (reference: one call, one tenant after the other; all at the latest version: the per-tenant check)",
                s.migrate_tenants,
                human(s.migrate_took),
                human(s.migrate_took / s.migrate_tenants.max(1) as u32),
                s.migrate_failed
            );
            let j = &s.job;
            let _ = writeln!(
                out,
                "  tenantctl migrate     {} tenants in {} through the job path (job {}; {} pollers x {} per batch), {} failed, {} report rows; {:.1}x the reference",
                j.tenants,
                human(j.took),
                human(j.job_took),
                j.pollers,
                j.batch,
                j.failed,
                j.reported,
                s.migrate_took.as_secs_f64() / j.took.as_secs_f64().max(f64::EPSILON)
            );
        }

        out.push_str(&self.cleanup_text());
        out
    }

    /// The cleanup lines (empty before the cleanup ran).
    pub fn cleanup_text(&self) -> String {
        let mut out = String::new();
        if let Some(c) = &self.cleanup {
            let _ = writeln!(
                out,
                "\ncleanup: {} tenants' databases, roles and secrets, the template and the stack: {} ({} problems)",
                c.tenants,
                human(c.took),
                c.failures.len()
            );
            for failure in c.failures.iter().take(5) {
                let _ = writeln!(out, "  problem: {failure}");
            }
        }
        out
    }

    pub fn json(&self) -> Value {
        let summary = |s: &[Duration]| Summary::of(s).map_or(Value::Null, |s| s.json());
        let f = &self.facts;
        let mut doc = json!({
            "stack": self.stack,
            "environment": {
                "postgres_version": f.postgres_version,
                "fsync": f.fsync,
                "synchronous_commit": f.synchronous_commit,
                "full_page_writes": f.full_page_writes,
                "aws_emulator": f.emulator,
                "cpus": f.cpus,
            },
            "template": {"database": self.template_db, "ready_ms": ms(self.template_ready)},
        });
        if let Some(seq) = &self.sequential {
            let steps: serde_json::Map<String, Value> = seq
                .steps
                .iter()
                .map(|(step, samples)| (step.as_str().to_owned(), summary(samples)))
                .collect();
            let goal = goal(seq).map_or(Value::Null, |(fast, near, ratio)| {
                json!({
                    "p50_under_1s": fast,
                    "p50_within_5x_floor": near,
                    "ratio_p50_to_floor_p50": ratio,
                    "pass": fast && near,
                })
            });
            doc["sequential"] = json!({
                "tenants": seq.end_to_end.len(),
                "end_to_end": summary(&seq.end_to_end),
                "floor_create_database": summary(&seq.floor_create),
                "floor_drop_database": summary(&seq.floor_drop),
                "floor_create_database_file_copy": summary(&seq.floor_file_copy),
                "steps": steps,
                "goal": goal,
            });
        }
        if let Some(s) = &self.scale {
            doc["scale"] = json!({
                "tenants": s.tenants,
                "concurrency": s.concurrency,
                "provisioned": s.latencies.len(),
                "failed": s.failures.len(),
                "failures": s.failures,
                "wall_ms": ms(s.wall),
                "tenants_per_second": per_second(s.latencies.len(), s.wall),
                "latency": summary(&s.latencies),
                "tenant_by_subdomain": summary(&s.lookups),
                "lookup_misses": s.lookup_misses,
                "list_tenants": {"pages": s.list_pages, "items": s.list_items, "ms": ms(s.list_took)},
                "all_tenants": {"items": s.all_tenants, "ms": ms(s.all_tenants_took)},
                "migrate_all": {
                    "tenants": s.migrate_tenants,
                    "failed": s.migrate_failed,
                    "ms": ms(s.migrate_took),
                    "ms_per_tenant": ms(s.migrate_took) / s.migrate_tenants.max(1) as f64,
                },
                "migrate_job": {
                    "tenants": s.job.tenants,
                    "failed": s.job.failed,
                    "report_rows": s.job.reported,
                    "ms": ms(s.job.took),
                    "job_ms": ms(s.job.job_took),
                    "pollers": s.job.pollers,
                    "batch": s.job.batch,
                },
            });
        }
        if let Some(c) = &self.cleanup {
            doc["cleanup"] = json!({
                "tenants": c.tenants,
                "ms": ms(c.took),
                "problems": c.failures,
            });
        }
        doc
    }
}
