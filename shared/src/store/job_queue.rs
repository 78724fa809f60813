//! The jobs queue (SQS): one message per tenant of a long platform-admin operation, carrying
//! only the job's and the tenant's ids (`control_plane::jobs` decides what they mean).

use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// SendMessageBatch takes at most ten messages; this many batches are in flight at once.
const SEND_BATCH: usize = 10;
const SENDS_IN_FLIGHT: usize = 8;

/// Messages the queue did not take.
#[derive(Debug, thiserror::Error)]
#[error("sending to the jobs queue failed")]
pub struct QueueError(#[source] Box<dyn std::error::Error + Send + Sync>);

/// One tenant's part of a job, as queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub job_id: Uuid,
    pub tenant_id: Uuid,
}

/// The jobs queue.
#[derive(Debug, Clone)]
pub struct JobQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl JobQueue {
    pub fn new(sqs: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            sqs,
            url: url.into(),
        }
    }

    /// Sends every message, ten per request, several requests at once.
    pub async fn send(&self, messages: &[JobMessage]) -> Result<(), QueueError> {
        // Owned chunks: a stream of futures borrowing from `messages` would not be `Send` for
        // every lifetime the handler's future needs.
        let chunks: Vec<Vec<JobMessage>> = messages.chunks(SEND_BATCH).map(<[_]>::to_vec).collect();
        futures_util::stream::iter(chunks)
            .map(|chunk| self.send_batch(chunk))
            .buffer_unordered(SENDS_IN_FLIGHT)
            .try_collect::<()>()
            .await
    }

    async fn send_batch(&self, chunk: Vec<JobMessage>) -> Result<(), QueueError> {
        let queue = |e: Box<dyn std::error::Error + Send + Sync>| QueueError(e);
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, message)| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(serde_json::to_string(message).unwrap_or_default())
                    .build()
                    .map_err(|e| queue(e.into()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .sqs
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| queue(e.into()))?;
        match out.failed().first() {
            None => Ok(()),
            Some(failed) => Err(queue(
                format!(
                    "{} of {} messages refused: {}",
                    out.failed().len(),
                    chunk.len(),
                    failed.message().unwrap_or(failed.code())
                )
                .into(),
            )),
        }
    }
}
