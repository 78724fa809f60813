//! The upload pipeline skeleton on the emulator: an object put under the tenants' upload prefix
//! → S3 notification → SQS → the local event-source poller → `upload-processor`.

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use local_platform::poller::{self, PollOutcome, SqsTrigger};

use crate::helpers::{TestApp, spawn_app, template};

fn processor_trigger(app: &TestApp) -> SqsTrigger {
    poller::triggers(template(), &app.deployed, "us-east-1")
        .unwrap()
        .into_iter()
        .find(|t| t.function == "upload-processor")
        .expect("upload-processor is triggered by a queue")
}

async fn poll(app: &TestApp, trigger: &SqsTrigger) -> PollOutcome {
    let sqs = aws_sdk_sqs::Client::new(&app.sdk);
    poller::poll_once(&sqs, trigger, &app.functions, Duration::from_secs(1))
        .await
        .unwrap()
}

async fn queue_depth(app: &TestApp, url: &str) -> (i64, i64) {
    let sqs = aws_sdk_sqs::Client::new(&app.sdk);
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let get = |name: QueueAttributeName| {
        attrs
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1)
    };
    (
        get(QueueAttributeName::ApproximateNumberOfMessages),
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

#[tokio::test]
async fn an_uploaded_object_reaches_the_processor_through_sqs() {
    // GIVEN a platform whose bucket notifies the processing queue
    let app = spawn_app().await;
    let trigger = processor_trigger(&app);
    let s3 = shared::platform::aws::s3_client(&app.sdk);

    // WHEN a file is put under a tenant's upload prefix (a name that needs key decoding)
    let key = "tenants/tenant-a/uploads/batch-1/Boxnox Sales (Oct) 100%.csv";
    s3.put_object()
        .bucket(app.bucket())
        .key(key)
        .content_type("text/csv")
        .body(b"Product EAN,Sold Qty\n1234567890123,4\n".to_vec().into())
        .send()
        .await
        .unwrap();

    // THEN the poller delivers it to upload-processor (the emulator's s3:TestEvent may come first)
    let mut seen = None;
    for _ in 0..10 {
        let outcome = poll(&app, &trigger).await;
        assert_eq!(outcome.failed, 0, "nothing here is unreadable");
        seen = app
            .logs
            .lines()
            .into_iter()
            .find(|l| l["message"] == "upload received");
        if seen.is_some() {
            break;
        }
    }
    let line = seen.unwrap_or_else(|| panic!("upload never processed; logs: {}", app.logs.text()));
    assert_eq!(line["tenant_id"], "tenant-a");
    assert_eq!(line["batch_id"], "batch-1");
    assert_eq!(line["file_name"], "Boxnox Sales (Oct) 100%.csv");
    assert_eq!(line["key"], key);
    assert_eq!(line["bucket"], app.bucket());
    // AND the handled messages are gone from the queue
    assert_eq!(queue_depth(&app, app.queue_url()).await, (0, 0));
}

#[tokio::test]
async fn objects_outside_the_upload_prefix_do_not_reach_the_queue() {
    // GIVEN an object outside the upload prefix, and (the positive control) one inside it, put
    // after it, so the filter and not a broken notification explains what does not arrive
    let app = spawn_app().await;
    let trigger = processor_trigger(&app);
    let s3 = shared::platform::aws::s3_client(&app.sdk);
    for key in ["archive/t/export.json", "tenants/t/uploads/b/control.csv"] {
        s3.put_object()
            .bucket(app.bucket())
            .key(key)
            .body(b"{}".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    // WHEN the queue is polled until the control has arrived
    for _ in 0..10 {
        poll(&app, &trigger).await;
        if app.logs.text().contains("tenants/t/uploads/b/control.csv") {
            break;
        }
    }
    // THEN the control came through and the other object never did
    let logs = app.logs.text();
    assert!(
        logs.contains("tenants/t/uploads/b/control.csv"),
        "the upload under tenants/ arrives: {logs}"
    );
    assert!(
        !logs.contains("archive/t/export.json"),
        "the notification filter keeps other prefixes out"
    );
}

#[tokio::test]
async fn unreadable_messages_are_retried_then_dead_lettered() {
    // GIVEN a poison message on the processing queue, retried at once instead of after the
    // template's visibility timeout so the test need not wait minutes
    let app = spawn_app().await;
    let trigger = processor_trigger(&app);
    let sqs = aws_sdk_sqs::Client::new(&app.sdk);
    sqs.set_queue_attributes()
        .queue_url(app.queue_url())
        .attributes(QueueAttributeName::VisibilityTimeout, "0")
        .send()
        .await
        .unwrap();
    sqs.send_message()
        .queue_url(app.queue_url())
        .message_body("this is not an S3 event")
        .send()
        .await
        .unwrap();

    // WHEN the poller keeps delivering it
    let mut failures = 0;
    for _ in 0..6 {
        failures += poll(&app, &trigger).await.failed;
    }

    // THEN it was reported failed at most maxReceiveCount (3) times and now sits in the DLQ
    assert!(
        (1..=3).contains(&failures),
        "reported failed {failures} times"
    );
    let dlq = app.deployed.reference("ProcessingDeadLetterQueue").unwrap();
    let dead = sqs
        .receive_message()
        .queue_url(dlq)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let bodies: Vec<&str> = dead.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, ["this is not an S3 event"]);
    assert!(
        app.logs
            .text()
            .contains("unreadable message; reported as failed"),
        "the failure is logged"
    );
}
