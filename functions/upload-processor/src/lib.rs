//! `upload-processor`: consumes the processing queue (S3 `ObjectCreated` records delivered by
//! SQS) and reports the messages it could not read as batch item failures, so only those are
//! retried and, after three receives, land in the dead-letter queue.
//! In this version it validates and logs each upload; ingestion follows.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::ingest::upload_event::created_objects;

/// The function's name, as deployed.
pub const NAME: &str = "upload-processor";

/// Handles one SQS batch; never fails as a whole, so good messages are not redelivered.
pub async fn handle(event: LambdaEvent<SqsEvent>) -> SqsBatchResponse {
    process_batch(event.payload)
}

/// Reads every message of `batch`; unreadable ones become batch item failures.
pub fn process_batch(batch: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in batch.records {
        let message_id = message.message_id.unwrap_or_default();
        match created_objects(message.body.as_deref().unwrap_or_default()) {
            Ok(objects) => {
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
                }
            }
            Err(err) => {
                tracing::warn!(message_id, error = %err, "unreadable message; reported as failed");
                response.add_failure(message_id);
            }
        }
    }
    response
}
