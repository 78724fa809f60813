//! Migrating every tenant through the job path, as an operator does it: `tenantctl migrate`
//! starts the job and follows it to its per-tenant report while `admin-jobs` works the jobs
//! queue in-process, with the pollers and batch size the template gives the deployed function.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use aws_lambda_events::event::sqs::SqsEvent;
use local_platform::invoke::{Invoke, InvokeError};
use serde_json::Value;
use shared::platform::config::Env;

use crate::platform::Platform;

/// What `tenantctl migrate` did.
pub struct JobRun {
    /// `tenantctl migrate`, start to report.
    pub took: Duration,
    /// The job's own span: recorded → last tenant done.
    pub job_took: Duration,
    pub tenants: u64,
    pub failed: u64,
    /// Rows of the per-tenant report.
    pub reported: usize,
    /// Pollers × messages per batch.
    pub pollers: usize,
    pub batch: i32,
}

/// `admin-jobs`' handler, as the local event source calls it.
struct AdminJobs(admin_jobs::App);

impl Invoke for AdminJobs {
    async fn invoke(&self, function: &str, event: Value) -> Result<Value, InvokeError> {
        let batch: SqsEvent =
            serde_json::from_value(event).map_err(|e| InvokeError::FunctionError {
                function: function.into(),
                payload: e.to_string(),
            })?;
        let response = admin_jobs::process_batch(&self.0, batch).await;
        serde_json::to_value(response).map_err(|e| InvokeError::FunctionError {
            function: function.into(),
            payload: e.to_string(),
        })
    }
}

pub async fn migrate(platform: &Platform) -> Result<JobRun> {
    let vars = platform.env.clone();
    let env = Env(move |name: &str| vars.get(name).cloned());
    let worker = Arc::new(AdminJobs(
        admin_jobs::App::new(&env, &platform.sdk).context("admin-jobs' configuration")?,
    ));
    let trigger = local_platform::poller::triggers(
        &platform.template,
        &platform.deployed,
        platform.sdk.region().map_or("us-east-1", |r| r.as_ref()),
    )?
    .into_iter()
    .find(|t| t.function == admin_jobs::NAME)
    .context("admin-jobs has no queue trigger in the template")?;
    // As many pollers as the event source's maximum concurrency.
    let pollers: usize = platform
        .deployed
        .resolver
        .parameters
        .get("AdminJobsConcurrency")
        .and_then(|n| n.parse().ok())
        .unwrap_or(2);
    let batch = trigger.batch_size;
    let sqs = aws_sdk_sqs::Client::new(&platform.sdk);
    let workers = tokio::spawn(local_platform::poller::run(
        sqs,
        vec![trigger; pollers],
        worker,
    ));

    let (mut out, mut err) = (Vec::new(), Vec::new());
    let started = Instant::now();
    let code = tenantctl::run_args(
        ["tenantctl", "--json", "migrate"],
        &env,
        &platform.sdk,
        &mut tenantctl::Terminal {
            stdin: &mut std::io::empty(),
            stdout: &mut out,
            stderr: &mut err,
        },
    )
    .await;
    let took = started.elapsed();
    workers.abort();
    if code > 1 {
        bail!(
            "tenantctl migrate exited {code}: {}",
            String::from_utf8_lossy(&err)
        );
    }
    let job: Value = serde_json::from_slice(&out).context("tenantctl's JSON report")?;
    let time = |key: &str| {
        job[key]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    let job_took = match (time("created_at"), time("finished_at")) {
        (Some(start), Some(end)) => (end - start).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    };
    Ok(JobRun {
        took,
        job_took,
        tenants: job["total"].as_u64().unwrap_or_default(),
        failed: job["failed"].as_u64().unwrap_or_default(),
        reported: job["results"].as_array().map_or(0, Vec::len),
        pollers,
        batch,
    })
}
