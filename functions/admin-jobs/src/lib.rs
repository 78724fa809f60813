//! `admin-jobs`: consumes the jobs queue, one tenant's part of a long platform-admin operation
//! per message (migrate it, delete it: `shared::control_plane::jobs`). The messages of a batch
//! are worked on at once; the event source's maximum concurrency bounds how many batches run.
//! A message that cannot be read is dropped (it can never succeed); one whose work must wait
//! (the registry unreachable, the tenant leased by another operation) is reported as a batch
//! item failure and comes back after the visibility timeout.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::StreamExt;
use lambda_runtime::LambdaEvent;
use shared::control_plane::provisioning::{ControlPlane, control_plane_from_env};
use shared::platform::config::{ConfigError, Env};
use shared::platform::telemetry::ErrorChain;
use shared::store::job_queue::JobMessage;
use shared::store::mail::SesMailer;
use shared::store::secrets::AwsSecretStore;

/// The function's name, as deployed.
pub const NAME: &str = "admin-jobs";

/// What the handler needs, built once per cold start: the control plane `provisioning` uses.
pub struct App {
    pub plane: ControlPlane<AwsSecretStore, SesMailer>,
}

impl App {
    pub fn new<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        let (plane, _) = control_plane_from_env(env, sdk)?;
        Ok(Self { plane })
    }
}

/// Handles one SQS batch; never fails as a whole, so finished messages are not redelivered.
pub async fn handle(app: &App, event: LambdaEvent<SqsEvent>) -> SqsBatchResponse {
    process_batch(app, event.payload).await
}

/// Works on every message of `batch` at once; those that must come back become batch item
/// failures.
pub async fn process_batch(app: &App, batch: SqsEvent) -> SqsBatchResponse {
    let parallel = batch.records.len().max(1);
    let failed: Vec<String> = futures_util::stream::iter(batch.records)
        .map(|message| async move {
            let retry = !process_message(app, &message).await;
            retry.then(|| message.message_id.unwrap_or_default())
        })
        .buffer_unordered(parallel)
        .filter_map(|failed| async move { failed })
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    for id in failed {
        response.add_failure(id);
    }
    response
}

/// False when the message must come back.
async fn process_message(app: &App, message: &SqsMessage) -> bool {
    let message_id = message.message_id.as_deref().unwrap_or_default();
    let body = message.body.as_deref().unwrap_or_default();
    let job: JobMessage = match serde_json::from_str(body) {
        Ok(job) => job,
        Err(error) => {
            tracing::warn!(message_id, %error, "unreadable job message; dropped");
            return true;
        }
    };
    match Box::pin(app.plane.run_job_message(&job)).await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(
                message_id,
                job_id = %job.job_id,
                tenant_id = %job.tenant_id,
                error = %ErrorChain(&error),
                "job step will be retried"
            );
            false
        }
    }
}
