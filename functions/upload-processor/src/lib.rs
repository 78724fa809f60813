//! `upload-processor`: consumes the processing queue (S3 `ObjectCreated` records delivered by
//! SQS) and loads each uploaded file into its tenant's database (`shared::ingest::process`).
//! Messages that cannot be read at all, and uploads that hit a transient fault, are reported as
//! batch item failures, so only those are retried and, after three receives, land in the
//! dead-letter queue; everything else is acknowledged.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use shared::ingest::process::{Outcome, Processor};
use shared::ingest::upload_event::created_objects;
use shared::platform::config::{ConfigError, Env};
use shared::store::objects::ObjectStore;
use shared::store::secrets::AwsSecretStore;
use shared::tenancy::context::{TenantContext, TenantSettings};
use tracing::Instrument;

/// The function's name, as deployed.
pub const NAME: &str = "upload-processor";

/// What the handler needs, built once per cold start.
pub struct App {
    pub processor: Processor<AwsSecretStore>,
}

impl App {
    /// Reads the configuration through `env` (`Env::process()` in Lambda): the tenant-host
    /// settings and `UPLOADS_BUCKET`.
    pub fn new<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        let tenants = TenantContext::from_settings(TenantSettings::from_env(env)?, sdk);
        let objects = ObjectStore::new(
            shared::platform::aws::s3_client(sdk),
            env.required("UPLOADS_BUCKET")?,
        );
        Ok(Self {
            processor: Processor::new(tenants, objects),
        })
    }
}

/// Handles one SQS batch; never fails as a whole, so good messages are not redelivered.
pub async fn handle(app: &App, event: LambdaEvent<SqsEvent>) -> SqsBatchResponse {
    process_batch(app, event.payload).await
}

/// Processes every message of `batch`; unreadable or retryable ones become batch item failures.
pub async fn process_batch(app: &App, batch: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in batch.records {
        let message_id = message.message_id.clone().unwrap_or_default();
        if !process_message(app, &message).await {
            response.add_failure(message_id);
        }
    }
    response
}

/// False when the message must come back.
async fn process_message(app: &App, message: &SqsMessage) -> bool {
    let message_id = message.message_id.as_deref().unwrap_or_default();
    let receives = message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(1);
    let objects = match created_objects(message.body.as_deref().unwrap_or_default()) {
        Ok(objects) => objects,
        Err(err) => {
            tracing::warn!(message_id, error = %err, "unreadable message; reported as failed");
            return false;
        }
    };
    let mut done = true;
    for object in objects {
        tracing::info!(
            message_id,
            bucket = object.bucket,
            key = object.key,
            size = object.size,
            tenant_id = object.upload.tenant_id,
            batch_id = object.upload.batch_id,
            file_name = object.upload.file_name,
            "upload received"
        );
        let span = tracing::info_span!(
            "upload",
            message_id,
            key = object.key,
            size = object.size,
            tenant_id = tracing::field::Empty
        );
        // Boxed: processing is a deep future; the runtime's own nesting would add to it.
        let outcome = Box::pin(app.processor.process(&object, receives))
            .instrument(span.clone())
            .await;
        let _entered = span.enter();
        match outcome {
            Outcome::Completed {
                batch_id,
                loaded,
                rejected,
            } => tracing::info!(%batch_id, loaded, rejected, "upload processed"),
            Outcome::Failed { batch_id, reason } => {
                tracing::info!(%batch_id, %reason, "upload failed: bad file");
            }
            Outcome::AlreadyDone { batch_id } => {
                tracing::info!(%batch_id, "redelivered upload ignored: already processed");
            }
            // Logged where it was decided.
            Outcome::Ignored { .. } => {}
            Outcome::Retry { .. } => done = false,
        }
    }
    done
}
