//! How results look in a terminal: aligned tables, step progress lines, record details.
//! Pure functions of their input, so they are unit-tested here.

use chrono::{DateTime, Utc};
use shared::control_plane::jobs::JobView;
use shared::control_plane::provisioning::{Step, StepEvent};
use shared::store::audit::AuditEvent;
use shared::store::registry::{JobKind, JobResult, ResultOutcome, TenantRecord};

/// Left-aligned columns separated by two spaces; no trailing spaces.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = width.saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `label  value` lines with the values aligned.
pub fn fields(rows: &[(&str, String)]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(label, value)| vec![(*label).to_owned(), value.clone()])
        .collect();
    let text = table(&["", ""], &rows);
    // The header line of a table with blank headers is empty.
    text.strip_prefix('\n').unwrap_or(&text).to_owned()
}

/// `[3/9] migrate ............ done  (41 ms)`; `None` for events that print nothing.
pub fn progress_line(event: &StepEvent) -> Option<String> {
    let (step, status) = match event {
        StepEvent::Started(_) => return None,
        StepEvent::Done(step, ms) => (*step, format!("done  ({ms} ms)")),
        StepEvent::Failed(step, reason) => (*step, format!("FAILED: {reason}")),
        StepEvent::Undone(step) => (*step, "undone".to_owned()),
    };
    let position = Step::ALL.iter().position(|s| *s == step).unwrap_or(0) + 1;
    let name = step.as_str();
    let dots = ".".repeat(20usize.saturating_sub(name.len()).max(3));
    Some(format!(
        "[{position}/{}] {name} {dots} {status}",
        Step::ALL.len()
    ))
}

fn time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The `tenants list` table.
pub fn tenants_table(tenants: &[TenantRecord]) -> String {
    let rows: Vec<Vec<String>> = tenants
        .iter()
        .map(|t| {
            vec![
                t.tenant_id.to_string(),
                t.subdomain.clone(),
                t.status.as_str().to_owned(),
                t.schema_version.to_string(),
                time(&t.created_at),
                t.company_name.clone(),
            ]
        })
        .collect();
    table(
        &[
            "TENANT ID",
            "SUBDOMAIN",
            "STATUS",
            "SCHEMA",
            "CREATED (UTC)",
            "COMPANY",
        ],
        &rows,
    )
}

/// One tenant, field per line (`tenants get`, `suspend`, `activate`).
pub fn tenant_details(t: &TenantRecord) -> String {
    let mut rows = vec![
        ("tenant id", t.tenant_id.to_string()),
        ("subdomain", t.subdomain.clone()),
        ("company", t.company_name.clone()),
        ("admin", format!("{} <{}>", t.admin_name, t.admin_email)),
        ("status", t.status.as_str().to_owned()),
        ("schema version", t.schema_version.to_string()),
        ("created", time(&t.created_at)),
        ("updated", time(&t.updated_at)),
    ];
    if !t.steps.is_empty() {
        let steps: Vec<String> = t
            .steps
            .iter()
            .map(|s| format!("{} {}ms", s.step, s.duration_ms))
            .collect();
        rows.push(("steps", steps.join(", ")));
    }
    if let Some(f) = &t.failure {
        rows.push((
            "failure",
            format!("step {} at {}: {}", f.step, time(&f.at), f.reason),
        ));
    }
    fields(&rows)
}

/// The `migrate` report: template, a row per tenant, a summary.
pub fn job_report(job: &JobView) -> String {
    let applied = |v: &serde_json::Value| {
        let versions: Vec<String> = v
            .as_array()
            .into_iter()
            .flatten()
            .map(ToString::to_string)
            .collect();
        if versions.is_empty() {
            "-".to_owned()
        } else {
            versions.join(",")
        }
    };
    let took = job
        .finished_at
        .map(|end| {
            format!(
                " in {:.1} s",
                (end - job.created_at).num_milliseconds() as f64 / 1000.0
            )
        })
        .unwrap_or_default();
    let mut out = format!(
        "job {} ({}): {} of {} done, {} ok, {} failed, {} skipped{took}\n",
        job.job_id,
        match job.kind {
            JobKind::Migrate => "migrate",
            JobKind::Delete => "delete",
        },
        job.done,
        job.total,
        job.ok,
        job.failed,
        job.skipped,
    );
    if let Some(template) = job.detail.get("template") {
        out.push_str(&format!(
            "template: version {} -> {} (applied {})\n",
            template["from"],
            template["to"],
            applied(&template["applied"])
        ));
    }
    if job.results.is_empty() {
        return out;
    }
    let outcome = |r: &JobResult| match r.outcome {
        ResultOutcome::Pending => "pending",
        ResultOutcome::Ok => "ok",
        ResultOutcome::Failed => "failed",
        ResultOutcome::Skipped => "skipped",
    };
    let rows: Vec<Vec<String>> = job
        .results
        .iter()
        .map(|r| {
            let mut row = vec![r.subdomain.clone(), r.tenant_id.to_string()];
            match job.kind {
                JobKind::Migrate => row.extend([
                    r.report["from"].to_string(),
                    r.report["to"].to_string(),
                    applied(&r.report["applied"]),
                ]),
                JobKind::Delete => row.push(
                    r.report["archive_prefix"]
                        .as_str()
                        .unwrap_or("-")
                        .to_owned(),
                ),
            }
            row.extend([
                outcome(r).to_owned(),
                r.duration_ms
                    .map_or_else(|| "-".to_owned(), |ms| format!("{ms} ms")),
                r.error.clone().unwrap_or_default(),
            ]);
            row
        })
        .collect();
    let headers: &[&str] = match job.kind {
        JobKind::Migrate => &[
            "SUBDOMAIN",
            "TENANT ID",
            "FROM",
            "TO",
            "APPLIED",
            "OUTCOME",
            "TOOK",
            "ERROR",
        ],
        JobKind::Delete => &[
            "SUBDOMAIN",
            "TENANT ID",
            "ARCHIVE",
            "OUTCOME",
            "TOOK",
            "ERROR",
        ],
    };
    out.push_str(&table(headers, &rows));
    out
}

/// `[=====>    ] 512/1000  ok 510  failed 2  skipped 0`: a job's progress on one line.
pub fn progress_bar(job: &JobView) -> String {
    const WIDTH: u64 = 30;
    let filled = (job.done * WIDTH).checked_div(job.total).unwrap_or(WIDTH);
    format!(
        "[{}{}] {}/{}  ok {}  failed {}  skipped {}",
        "=".repeat(filled as usize),
        " ".repeat((WIDTH - filled.min(WIDTH)) as usize),
        job.done,
        job.total,
        job.ok,
        job.failed,
        job.skipped
    )
}

/// The `audit` table.
pub fn audit_table(events: &[AuditEvent]) -> String {
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                time(&e.at),
                e.actor.clone(),
                e.action.clone(),
                e.tenant_id.map(|t| t.to_string()).unwrap_or_default(),
                serde_json::to_value(e.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                e.detail.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &["AT (UTC)", "ACTOR", "ACTION", "TENANT", "OUTCOME", "DETAIL"],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::store::registry::TenantStatus;
    use uuid::Uuid;

    #[test]
    fn table_aligns_columns_without_trailing_spaces() {
        let text = table(
            &["ID", "NAME", "NOTE"],
            &[
                vec!["1".into(), "acme".into(), String::new()],
                vec!["200".into(), "ünïcode".into(), "x".into()],
            ],
        );
        assert_eq!(
            text,
            "ID   NAME     NOTE\n\
             1    acme\n\
             200  ünïcode  x\n"
        );
    }

    #[test]
    fn table_of_nothing_is_the_header() {
        assert_eq!(table(&["A", "B"], &[]), "A  B\n");
    }

    #[test]
    fn progress_lines_number_the_steps() {
        assert_eq!(
            progress_line(&StepEvent::Done(Step::Migrate, 41)).unwrap(),
            "[3/9] migrate ............. done  (41 ms)"
        );
        assert_eq!(
            progress_line(&StepEvent::Failed(Step::Audit, "boom".into())).unwrap(),
            "[9/9] audit ............... FAILED: boom"
        );
        assert_eq!(
            progress_line(&StepEvent::Undone(Step::CreateDatabase)).unwrap(),
            "[2/9] create_database ..... undone"
        );
        assert_eq!(progress_line(&StepEvent::Started(Step::Migrate)), None);
        // Every step's line is aligned: the status starts in the same column.
        let columns: Vec<usize> = Step::ALL
            .iter()
            .map(|s| {
                let line = progress_line(&StepEvent::Done(*s, 1)).unwrap();
                line.find(" done").unwrap()
            })
            .collect();
        assert!(columns.windows(2).all(|w| w[0] == w[1]), "{columns:?}");
    }

    #[test]
    fn tenants_table_has_a_row_per_tenant() {
        let at = DateTime::parse_from_rfc3339("2025-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let tenant = TenantRecord {
            tenant_id: Uuid::nil(),
            subdomain: "acme".into(),
            company_name: "Acme Inc".into(),
            admin_email: "a@acme.example".into(),
            admin_name: "Ada".into(),
            status: TenantStatus::Active,
            steps: Vec::new(),
            failure: None,
            schema_version: 3,
            secret_id: "s".into(),
            idempotency_key: "k".into(),
            created_at: at,
            updated_at: at,
            keys_version: 0,
            verifying_keys: Default::default(),
        };
        let text = tenants_table(std::slice::from_ref(&tenant));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("TENANT ID"));
        assert_eq!(
            lines[1],
            "00000000-0000-0000-0000-000000000000  acme       active  3       2025-01-02 03:04:05  Acme Inc"
        );
        let details = tenant_details(&tenant);
        assert!(
            details.starts_with("tenant id       00000000-"),
            "{details}"
        );
        assert!(details.contains("\nadmin           Ada <a@acme.example>\n"));
    }
}
