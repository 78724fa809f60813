//! The SQS event source mapping, locally: receives from each queue a function is triggered by,
//! invokes the function with an SQS event, and deletes the messages it did not report as
//! failed. Failed messages become visible again after the queue's visibility timeout and, past
//! `maxReceiveCount`, are moved to the dead-letter queue by the queue's redrive policy.

use std::time::Duration;

use anyhow::{Context, Result};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use serde_json::{Value, json};

use crate::invoke::Invoke;
use crate::stack::Deployed;
use crate::template::Template;

/// One queue → function trigger.
#[derive(Debug, Clone)]
pub struct SqsTrigger {
    pub function: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub batch_size: i32,
    pub report_batch_item_failures: bool,
    pub region: String,
}

/// What one poll did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollOutcome {
    pub received: usize,
    pub deleted: usize,
    pub failed: usize,
}

/// The template's SQS triggers, resolved against the deployed stack.
pub fn triggers(template: &Template, deployed: &Deployed, region: &str) -> Result<Vec<SqsTrigger>> {
    let mut out = Vec::new();
    for f in template.functions()? {
        for s in &f.sqs_sources {
            let physical = &deployed.resolver.resources[&s.queue];
            out.push(SqsTrigger {
                function: f.binary.clone(),
                queue_url: physical.reference.clone(),
                queue_arn: physical.attributes.get("Arn").cloned().unwrap_or_default(),
                batch_size: s.batch_size.clamp(1, 10) as i32,
                report_batch_item_failures: s.report_batch_item_failures,
                region: region.to_owned(),
            });
        }
    }
    Ok(out)
}

/// Receives one batch (waiting up to `wait`), invokes the function, deletes what succeeded.
pub async fn poll_once<I: Invoke>(
    sqs: &aws_sdk_sqs::Client,
    trigger: &SqsTrigger,
    invoker: &I,
    wait: Duration,
) -> Result<PollOutcome> {
    let received = sqs
        .receive_message()
        .queue_url(&trigger.queue_url)
        .max_number_of_messages(trigger.batch_size)
        .wait_time_seconds(wait.as_secs() as i32)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .context("receiving from the processing queue")?;
    let messages = received.messages();
    if messages.is_empty() {
        return Ok(PollOutcome::default());
    }
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, Value> = m
                .attributes()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone())))
                .collect();
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "md5OfBody": m.md5_of_body(),
                "attributes": attributes,
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": trigger.queue_arn,
                "awsRegion": trigger.region,
            })
        })
        .collect();
    let failed_ids: Vec<String> = match invoker
        .invoke(&trigger.function, json!({ "Records": records }))
        .await
    {
        Ok(result) if trigger.report_batch_item_failures => result["batchItemFailures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
            .collect(),
        Ok(_) => Vec::new(),
        Err(err) => {
            tracing::warn!(function = trigger.function, error = %err, "invocation failed; the whole batch will be retried");
            messages
                .iter()
                .filter_map(|m| m.message_id().map(str::to_owned))
                .collect()
        }
    };
    let entries: Vec<DeleteMessageBatchRequestEntry> = messages
        .iter()
        .filter(|m| {
            !failed_ids
                .iter()
                .any(|id| Some(id.as_str()) == m.message_id())
        })
        .enumerate()
        .filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .set_receipt_handle(m.receipt_handle().map(str::to_owned))
                .build()
                .ok()
        })
        .collect();
    let deleted = entries.len();
    if deleted > 0 {
        sqs.delete_message_batch()
            .queue_url(&trigger.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .context("deleting processed messages")?;
    }
    Ok(PollOutcome {
        received: messages.len(),
        deleted,
        failed: messages.len() - deleted,
    })
}

/// Polls every trigger until the process stops.
pub async fn run<I: Invoke>(
    sqs: aws_sdk_sqs::Client,
    triggers: Vec<SqsTrigger>,
    invoker: std::sync::Arc<I>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    for trigger in triggers {
        let (sqs, invoker) = (sqs.clone(), invoker.clone());
        tasks.spawn(async move {
            loop {
                match poll_once(&sqs, &trigger, invoker.as_ref(), Duration::from_secs(5)).await {
                    Ok(o) if o.received > 0 => tracing::info!(
                        function = trigger.function,
                        received = o.received,
                        deleted = o.deleted,
                        failed = o.failed,
                        "delivered SQS batch"
                    ),
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(error = format!("{err:#}"), "SQS poll failed; retrying");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}
