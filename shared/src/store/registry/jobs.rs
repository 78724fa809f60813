//! Jobs in the registry table: one item per job (`JOB#<id>`/`JOB`) and one per tenant in the
//! job's own partition (`JOB#<id>#RESULTS`/`TENANT#<tenant>`), written `pending` when the job
//! starts. A result replaces its pending item only while it is pending, so a tenant is done
//! once whatever the redeliveries, and a message naming a tenant the job does not cover finds
//! no item and does nothing. Progress is the count of items by outcome, read with a projection,
//! so concurrent workers never contend on a counter. Everything expires 30 days after the job
//! started (the table's TTL).

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::keys::{job as job_key, job_result as result_key, job_results as results_partition};
use super::{Item, Page, Put, Registry, RegistryError, applied, aws, s};

/// How long a job and its results are kept.
pub const JOB_RETENTION: chrono::Duration = chrono::Duration::days(30);

/// What a job does to each of its tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Bring the tenant's database and keys to the latest version.
    Migrate,
    /// Archive, then drop the tenant.
    Delete,
}

/// A job as started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub job_id: Uuid,
    pub kind: JobKind,
    /// Who started it: every step is audited as them.
    pub actor: String,
    pub created_at: DateTime<Utc>,
    /// What was done once, before the fan-out (the template's migration).
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// How one tenant's part ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResultOutcome {
    /// Not done yet.
    Pending,
    Ok,
    Failed,
    /// Nothing to do any more (the tenant was deleted since the job started).
    Skipped,
}

impl ResultOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

/// One tenant's result in a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobResult {
    pub tenant_id: Uuid,
    pub subdomain: String,
    pub outcome: ResultOutcome,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    /// A stable code and message when it failed; the cause is in the logs and the audit log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What was done (a migration's versions, a deletion's archive).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
}

/// A job's progress, counted from its results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobTally {
    pub pending: u64,
    pub ok: u64,
    pub failed: u64,
    pub skipped: u64,
    /// The latest result's time.
    pub last_finished_at: Option<DateTime<Utc>>,
}

impl JobTally {
    pub fn done(&self) -> u64 {
        self.ok + self.failed + self.skipped
    }

    /// The tenants the job covers: one item each, done or pending.
    pub fn total(&self) -> u64 {
        self.done() + self.pending
    }
}

/// The TTL attribute of a job's items.
fn expires(created_at: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N((created_at + JOB_RETENTION).timestamp().to_string())
}

impl JobResult {
    /// A tenant's item while the job has not done it.
    pub fn pending(tenant_id: Uuid, subdomain: impl Into<String>) -> Self {
        Self {
            tenant_id,
            subdomain: subdomain.into(),
            outcome: ResultOutcome::Pending,
            finished_at: None,
            duration_ms: None,
            error: None,
            report: serde_json::Value::Null,
        }
    }
}

/// BatchWriteItem takes at most 25 items; this many batches are in flight at once.
const WRITE_BATCH: usize = 25;
const WRITES_IN_FLIGHT: usize = 8;

impl Registry {
    /// Stores a new job and a pending item for each of its tenants (`pending`); the job is
    /// written last, so a job that can be read has all its tenants.
    pub async fn put_job(
        &self,
        job: &JobRecord,
        pending: &[JobResult],
    ) -> Result<(), RegistryError> {
        let items: Vec<Item> = pending
            .iter()
            .map(|result| Self::result_item(job, result))
            .collect();
        let batches: Vec<Vec<Item>> = items.chunks(WRITE_BATCH).map(<[_]>::to_vec).collect();
        futures_util::stream::iter(batches)
            .map(|batch| self.write_batch(batch))
            .buffer_unordered(WRITES_IN_FLIGHT)
            .try_collect::<()>()
            .await?;
        let mut item = Self::item(job_key(&job.job_id), job);
        item.insert("expires_at".into(), expires(job.created_at));
        match self.put_new::<JobRecord>(item).await? {
            Put::Created => Ok(()),
            Put::Exists(_) => Err(RegistryError::Contention(format!("JOB#{}", job.job_id))),
        }
    }

    /// Writes `items`, again for those DynamoDB leaves unprocessed (with a growing pause).
    async fn write_batch(&self, items: Vec<Item>) -> Result<(), RegistryError> {
        let mut requests: Vec<WriteRequest> = items
            .into_iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
                    .map_err(aws("job items"))
            })
            .collect::<Result<_, _>>()?;
        for attempt in 0..8u32 {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(aws("write job items"))?;
            requests = out
                .unprocessed_items
                .and_then(|mut left| left.remove(&self.table))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
        }
        Err(RegistryError::Contention(
            "job items left unprocessed".into(),
        ))
    }

    fn result_item(job: &JobRecord, result: &JobResult) -> Item {
        let mut item = Self::item(result_key(&job.job_id, &result.tenant_id), result);
        // Beside the JSON, what counting needs, so a count reads nothing else.
        item.insert("outcome".into(), s(result.outcome.as_str()));
        if let Some(at) = result.finished_at {
            item.insert("finished_at".into(), s(at.to_rfc3339()));
        }
        item.insert("expires_at".into(), expires(job.created_at));
        item
    }
    pub async fn get_job(&self, id: &Uuid) -> Result<Option<JobRecord>, RegistryError> {
        self.get(job_key(id)).await
    }

    pub async fn job_result(
        &self,
        id: &Uuid,
        tenant: &Uuid,
    ) -> Result<Option<JobResult>, RegistryError> {
        self.get(result_key(id, tenant)).await
    }

    /// Records a tenant's result in place of its pending item; false when there is no
    /// pending item for it (done by another delivery, or not one of the job's tenants).
    pub async fn record_job_result(
        &self,
        job: &JobRecord,
        result: &JobResult,
    ) -> Result<bool, RegistryError> {
        let write = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::result_item(job, result)))
            .condition_expression("outcome = :pending")
            .expression_attribute_values(":pending", s(ResultOutcome::Pending.as_str()))
            .send()
            .await;
        Ok(applied(write, "record job result")?.is_some())
    }

    /// One page of a job's results, in tenant-id order.
    pub async fn job_results(
        &self,
        id: &Uuid,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<JobResult>, RegistryError> {
        self.query_page(false, &results_partition(id), limit, cursor, false)
            .await
    }

    /// Counts a job's tenants by outcome (every page).
    pub async fn job_tally(&self, id: &Uuid) -> Result<JobTally, RegistryError> {
        let mut tally = JobTally::default();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :p")
                .expression_attribute_values(":p", s(results_partition(id)))
                .projection_expression("outcome, finished_at")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(aws("count job results"))?;
            for item in out.items() {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
                match text("outcome").map(String::as_str) {
                    Some("ok") => tally.ok += 1,
                    Some("failed") => tally.failed += 1,
                    Some("skipped") => tally.skipped += 1,
                    _ => tally.pending += 1,
                }
                let finished = text("finished_at")
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc));
                tally.last_finished_at = tally.last_finished_at.max(finished);
            }
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(tally),
            }
        }
    }
}
