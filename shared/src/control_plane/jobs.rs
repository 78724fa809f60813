//! Long operations off the request path. Migrating every tenant and deleting a tenant run as
//! jobs: the request does what must happen once (for a migration run: the template, the roles'
//! limits), records the job, sends one message per tenant to the jobs queue and answers
//! `202 {job_id}`. The `admin-jobs` function consumes the queue, with the event source's
//! maximum concurrency bounding how many tenants are worked on at once, and records each
//! tenant's result exactly once; `GET /admin/jobs/{id}` counts them.
//!
//! A message carries only ids. The kind and the actor come from the job record, and the job
//! covers exactly the tenants it recorded as pending when it started: a message naming an
//! unknown job, or a tenant the job does not cover, does nothing, and a redelivered one finds
//! its tenant done.

use std::time::Instant;

use chrono::Utc;
use serde::Serialize;
use uuid::Uuid;

use crate::control_plane::provisioning::{ControlPlane, ControlPlaneError};
use crate::platform::telemetry::ErrorChain;
use crate::store::audit::{AuditEvent, Outcome};
use crate::store::job_queue::JobMessage;
use crate::store::mail::Mailer;
use crate::store::registry::{
    JobKind, JobRecord, JobResult, JobTally, ResultOutcome, TenantRecord, TenantStatus,
};
use crate::store::secrets::SecretStore;

/// What a deletion that failed shows in its result; the cause is in the logs and the audit log.
pub const DELETE_FAILED: &str = "delete_failed: the tenant could not be deleted; the audit log has the cause, and deleting again continues where it stopped";

/// `202` to a request that started a job.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StartedJob {
    pub job_id: Uuid,
    pub kind: JobKind,
    /// Tenants it covers.
    pub total: u64,
    /// Where its progress is: `GET` it.
    pub status_url: String,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    /// Every tenant done, none failed.
    Succeeded,
    /// Every tenant done, at least one failed.
    Failed,
}

/// `GET /admin/jobs/{id}`: the job, its progress and a page of per-tenant results.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub job_id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    pub actor: String,
    pub created_at: chrono::DateTime<Utc>,
    /// When the last tenant finished, once all have.
    pub finished_at: Option<chrono::DateTime<Utc>>,
    pub total: u64,
    pub done: u64,
    pub ok: u64,
    pub failed: u64,
    pub skipped: u64,
    /// What was done once for the whole job (a migration run's template).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// Per-tenant results, in tenant-id order.
    pub results: Vec<JobResult>,
    /// Pass as `cursor` for the next page of results.
    pub next_cursor: Option<String>,
}

impl JobView {
    fn new(
        job: JobRecord,
        tally: JobTally,
        results: crate::store::registry::Page<JobResult>,
    ) -> Self {
        let done = tally.done();
        let finished = tally.pending == 0;
        Self {
            job_id: job.job_id,
            kind: job.kind,
            status: match (finished, tally.failed) {
                (false, _) => JobStatus::Running,
                (true, 0) => JobStatus::Succeeded,
                (true, _) => JobStatus::Failed,
            },
            actor: job.actor,
            created_at: job.created_at,
            finished_at: if finished {
                tally.last_finished_at.or(Some(job.created_at))
            } else {
                None
            },
            total: tally.total(),
            done,
            ok: tally.ok,
            failed: tally.failed,
            skipped: tally.skipped,
            detail: job.detail,
            results: results.items,
            next_cursor: results.next_cursor,
        }
    }
}

impl<S: SecretStore, M: Mailer> ControlPlane<S, M> {
    /// Starts a migration run: the template and the roles' limits now, then one message per
    /// live tenant.
    pub async fn start_migrations(&self, actor: &str) -> Result<StartedJob, ControlPlaneError> {
        let (template, live) = self.prepare_migrations().await?;
        let detail = serde_json::json!({
            "latest_version": crate::store::postgres::migrations::latest_version(),
            "template": template,
        });
        self.start_job(JobKind::Migrate, actor, &live, detail).await
    }

    /// Starts the deletion of tenant `id` (404 if there is none).
    pub async fn start_deletion(
        &self,
        id: &Uuid,
        actor: &str,
    ) -> Result<StartedJob, ControlPlaneError> {
        let tenant = self.get_tenant(id).await?;
        self.start_job(JobKind::Delete, actor, &[tenant], serde_json::Value::Null)
            .await
    }

    async fn start_job(
        &self,
        kind: JobKind,
        actor: &str,
        tenants: &[TenantRecord],
        detail: serde_json::Value,
    ) -> Result<StartedJob, ControlPlaneError> {
        let job = JobRecord {
            job_id: Uuid::new_v4(),
            kind,
            actor: actor.to_owned(),
            created_at: Utc::now(),
            detail,
        };
        // Recorded, tenants first, before any message is out: a worker only acts on a job it can
        // read, for a tenant it covers.
        let pending: Vec<JobResult> = tenants
            .iter()
            .map(|t| JobResult::pending(t.tenant_id, &t.subdomain))
            .collect();
        self.registry.put_job(&job, &pending).await?;
        let messages: Vec<JobMessage> = tenants
            .iter()
            .map(|t| JobMessage {
                job_id: job.job_id,
                tenant_id: t.tenant_id,
            })
            .collect();
        let queued =
            self.jobs.send(&messages).await.map_err(|e| {
                ControlPlaneError::Step("queueing the job's tenants".into(), Box::new(e))
            });
        let action = match kind {
            JobKind::Migrate => "job.migrate",
            JobKind::Delete => "job.delete",
        };
        let single = (tenants.len() == 1).then(|| tenants[0].tenant_id);
        let event = AuditEvent::new(
            actor,
            action,
            single,
            if queued.is_ok() {
                Outcome::Success
            } else {
                Outcome::Failure
            },
        )
        .with_detail(format!("job {}: {} tenant(s)", job.job_id, tenants.len()));
        self.audit.record_best_effort(&event).await;
        queued?;
        Ok(StartedJob {
            job_id: job.job_id,
            kind,
            total: tenants.len() as u64,
            status_url: format!("/admin/jobs/{}", job.job_id),
        })
    }

    /// A job with its progress and one page of results (404 if there is none).
    pub async fn job(
        &self,
        id: &Uuid,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<JobView, ControlPlaneError> {
        let job = self
            .registry
            .get_job(id)
            .await?
            .ok_or(ControlPlaneError::JobNotFound(*id))?;
        let (tally, results) = tokio::try_join!(
            self.registry.job_tally(id),
            self.registry.job_results(id, limit, cursor)
        )?;
        Ok(JobView::new(job, tally, results))
    }

    /// Does one tenant's part of a job and records its result, once. An error means the
    /// message must come back (the registry was unreachable, or the tenant is leased by another
    /// operation right now).
    pub async fn run_job_message(&self, message: &JobMessage) -> Result<(), ControlPlaneError> {
        let Some(job) = self.registry.get_job(&message.job_id).await? else {
            tracing::warn!(job_id = %message.job_id, "message for an unknown job; dropped");
            return Ok(());
        };
        let pending = match self
            .registry
            .job_result(&job.job_id, &message.tenant_id)
            .await?
        {
            None => {
                tracing::warn!(job_id = %job.job_id, tenant_id = %message.tenant_id, "the job does not cover this tenant; dropped");
                return Ok(());
            }
            Some(done) if done.outcome != ResultOutcome::Pending => {
                tracing::info!(job_id = %job.job_id, tenant_id = %message.tenant_id, "already done");
                return Ok(());
            }
            Some(pending) => pending,
        };
        let started = Instant::now();
        let tenant = self.registry.get_tenant(&message.tenant_id).await?;
        let (outcome, error, report) = match (job.kind, tenant) {
            (JobKind::Migrate, Some(tenant)) if is_live(&tenant) => {
                let migration = self.migrate_tenant(&tenant, &job.actor).await;
                let outcome = if migration.error.is_some() {
                    ResultOutcome::Failed
                } else {
                    ResultOutcome::Ok
                };
                (outcome, migration.error.clone(), to_json(&migration))
            }
            (JobKind::Migrate, _) => (ResultOutcome::Skipped, None, serde_json::Value::Null),
            (JobKind::Delete, _) => {
                match self.delete_tenant(&message.tenant_id, &job.actor).await {
                    Ok(report) => (ResultOutcome::Ok, None, to_json(&report)),
                    Err(ControlPlaneError::NotFound(_)) => {
                        (ResultOutcome::Skipped, None, serde_json::Value::Null)
                    }
                    Err(e @ ControlPlaneError::InProgress(_)) => return Err(e),
                    Err(e) => {
                        tracing::error!(tenant_id = %message.tenant_id, error = %ErrorChain(&e), "tenant deletion failed");
                        (
                            ResultOutcome::Failed,
                            Some(DELETE_FAILED.to_owned()),
                            serde_json::Value::Null,
                        )
                    }
                }
            }
        };
        let result = JobResult {
            outcome,
            finished_at: Some(Utc::now()),
            duration_ms: Some(started.elapsed().as_millis() as u64),
            error,
            report,
            ..pending
        };
        if !self.registry.record_job_result(&job, &result).await? {
            tracing::info!(job_id = %job.job_id, tenant_id = %message.tenant_id, "result recorded by another delivery");
        }
        Ok(())
    }
}

fn is_live(tenant: &TenantRecord) -> bool {
    matches!(
        tenant.status,
        TenantStatus::Active | TenantStatus::Suspended
    )
}

fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}
