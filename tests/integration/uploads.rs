//! The upload pipeline end to end on the emulator and real PostgreSQL: `POST /api/uploads` → PUT
//! to the presigned URL → S3 notification → SQS → `upload-processor` → rows, rejected rows,
//! rollup and batch status in the tenant's database.

use std::time::Duration;

use local_platform::poller::{self, SqsTrigger};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::{TenantAdmin, call, signed_in_admin, signed_in_user};
use crate::helpers::{TestApp, spawn_app, template};

/// A Boxnox file: a header, `good` valid rows (reseller R1/R2, months 1-2 of 2025) and the
/// bad rows given.
fn boxnox_csv(good: usize, bad: &[&str]) -> String {
    let mut csv = String::from(
        "Product EAN,Functional Name,Sold Qty,Sales Amount (EUR),Reseller,Month,Year\n",
    );
    for i in 0..good {
        csv.push_str(&format!(
            "{},Product {},{},{}.50,R{},{},2025\n",
            4_006_381_333_900_u64 + (i % 7) as u64,
            i % 7,
            1 + i % 5,
            10 + i,
            1 + i % 2,
            1 + i % 2
        ));
    }
    for row in bad {
        csv.push_str(row);
        csv.push('\n');
    }
    csv
}

fn trigger(app: &TestApp) -> SqsTrigger {
    poller::triggers(template(), &app.deployed, "us-east-1")
        .unwrap()
        .into_iter()
        .find(|t| t.function == "upload-processor")
        .expect("upload-processor is triggered by a queue")
}

/// Starts a Boxnox upload and PUTs `bytes` to its URL; the batch id.
async fn upload(app: &TestApp, admin: &TenantAdmin, name: &str, bytes: Vec<u8>) -> Uuid {
    upload_for(app, admin, "boxnox", name, bytes).await
}

/// Starts an upload for `vendor` and PUTs `bytes` to its URL; the batch id.
pub(crate) async fn upload_for(
    app: &TestApp,
    admin: &TenantAdmin,
    vendor: &str,
    name: &str,
    bytes: Vec<u8>,
) -> Uuid {
    let res = call(
        app,
        Method::POST,
        &admin.host,
        "/api/uploads",
        Some(&admin.token),
        Some(&json!({"vendor": vendor, "file_name": name, "size_bytes": bytes.len()})),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let mut put = app
        .client
        .put(res.body["upload_url"].as_str().unwrap())
        .body(bytes);
    for (k, v) in res.body["upload_headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    let put = put.send().await.unwrap();
    assert!(put.status().is_success(), "PUT: {}", put.status());
    res.body["batch_id"].as_str().unwrap().parse().unwrap()
}

/// Polls the queue until the batch is finished; its view.
pub(crate) async fn processed(app: &TestApp, admin: &TenantAdmin, batch: &Uuid) -> Value {
    let sqs = aws_sdk_sqs::Client::new(&app.sdk);
    let trigger = trigger(app);
    for _ in 0..20 {
        poller::poll_once(&sqs, &trigger, &app.functions, Duration::from_millis(200))
            .await
            .unwrap();
        let view = get_batch(app, admin, batch).await;
        if matches!(view["status"].as_str(), Some("completed" | "failed")) {
            return view;
        }
    }
    panic!("batch {batch} never finished; logs: {}", app.logs.text())
}

async fn get_batch(app: &TestApp, admin: &TenantAdmin, batch: &Uuid) -> Value {
    let res = call(
        app,
        Method::GET,
        &admin.host,
        &format!("/api/uploads/batches/{batch}"),
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body
}

/// Deletes `batch` as the tenant's admin, and checks it is gone.
async fn delete_batch(app: &TestApp, admin: &TenantAdmin, batch: &Uuid) {
    let path = format!("/api/uploads/batches/{batch}");
    let res = call(
        app,
        Method::DELETE,
        &admin.host,
        &path,
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(res.status, 204, "{}", res.body);
}

/// `(rows, quantity, sales_eur)` of the raw table and of the rollup, straight from the tenant
/// database.
async fn totals(app: &TestApp, admin: &TenantAdmin) -> ((i64, i64, String), (i64, i64, String)) {
    let db = app.tenant_db(&admin.tenant.tenant_id).await;
    let raw = db
        .query_one(
            "select count(*), coalesce(sum(quantity), 0)::bigint, coalesce(sum(sales_eur), 0)::text \
             from sellout_entries",
            &[],
        )
        .await
        .unwrap();
    let rollup = db
        .query_one(
            "select coalesce(sum(entries), 0)::bigint, coalesce(sum(quantity), 0)::bigint, \
                    coalesce(sum(sales_eur), 0)::text from sales_monthly",
            &[],
        )
        .await
        .unwrap();
    (
        (raw.get(0), raw.get(1), raw.get(2)),
        (rollup.get(0), rollup.get(1), rollup.get(2)),
    )
}

#[tokio::test]
async fn a_new_tenant_starts_with_no_batches() {
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "fresh").await;
    let res = call(
        &app,
        Method::GET,
        &admin.host,
        "/api/uploads/batches",
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!((res.status, res.body["batches"].clone()), (200, json!([])));
}

#[tokio::test]
async fn an_uploaded_file_is_loaded_with_its_bad_rows_reported() {
    // GIVEN a signed-in admin and a Boxnox file with 40 good rows and 3 bad ones
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "upload").await;
    let csv = boxnox_csv(
        40,
        &[
            "123,Short EAN,1,1.00,R1,1,2025",
            "4006381333931,Bad qty,abc,1.00,R1,1,2025",
            "4006381333931,Bad month,1,1.00,R1,13,2025",
        ],
    );

    // WHEN it is uploaded as a user would
    let batch = upload(&app, &admin, "boxnox-2025.csv", csv.into_bytes()).await;
    let view = processed(&app, &admin, &batch).await;

    // THEN the batch is completed with the right counts
    assert_eq!(view["status"], "completed", "{view}");
    assert_eq!(
        (
            view["rows_total"].clone(),
            view["rows_loaded"].clone(),
            view["rows_rejected"].clone()
        ),
        (json!(43), json!(40), json!(3)),
        "{view}"
    );
    assert_eq!(view["uploaded_by_email"], admin.email.as_str());
    // AND the time of each stage is there, the commit's once it is over
    let mut stages = view["stage_ms"].clone();
    for _ in 0..100 {
        if stages.get("commit").is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        stages = get_batch(&app, &admin, &batch).await["stage_ms"].clone();
    }
    for stage in ["download", "read", "map", "copy", "rollup", "commit"] {
        assert!(stages[stage].is_u64(), "{stage} in {stages}");
    }
    assert_eq!(stages["bytes"], view["size_bytes"], "{view}");
    // AND the errors name each bad row as the user sees it (header = row 1), with its column
    let errors = call(
        &app,
        Method::GET,
        &admin.host,
        &format!("/api/uploads/batches/{batch}/errors"),
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(errors.status, 200, "{}", errors.body);
    let rows: Vec<(i64, String)> = errors.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row_number"].as_i64().unwrap(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (42, "invalid_ean".to_owned()),
            (43, "invalid_quantity".to_owned()),
            (44, "invalid_month".to_owned())
        ],
        "{}",
        errors.body
    );
    assert_eq!(errors.body["errors"][1]["raw"]["Sold Qty"], "abc");
    // AND the CSV download carries them too
    let csv = app
        .request(
            Method::GET,
            &admin.host,
            &format!("/api/uploads/batches/{batch}/errors.csv"),
        )
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.unwrap();
    assert!(text.starts_with('\u{feff}'), "BOM for spreadsheets");
    assert_eq!(text.lines().count(), 4, "{text}");
    // AND the rollup holds exactly the loaded rows
    let (raw, rollup) = totals(&app, &admin).await;
    assert_eq!(raw.0, 40);
    assert_eq!(raw, rollup);
    // AND EUR amounts of two decimals are only stored as sales_eur (no copy beside it)
    let db = app.tenant_db(&admin.tenant.tenant_id).await;
    let kept = db
        .query_one(
            "select count(*) from sellout_entries where amount is not null or currency is not null",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(kept.get::<_, i64>(0), 0);
}

#[tokio::test]
async fn redelivery_never_duplicates_rows_and_deleting_a_batch_restores_the_rollup() {
    // GIVEN a tenant with one loaded batch
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "redeliver").await;
    let first = upload(&app, &admin, "a.csv", boxnox_csv(10, &[]).into_bytes()).await;
    processed(&app, &admin, &first).await;
    let before = totals(&app, &admin).await;

    // WHEN a second batch is loaded and its notification is delivered three more times
    let second = upload(&app, &admin, "b.csv", boxnox_csv(25, &[]).into_bytes()).await;
    processed(&app, &admin, &second).await;
    let key = format!("tenants/{}/uploads/{second}/b.csv", admin.tenant.tenant_id);
    let record = json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": app.bucket()}, "object": {"key": key, "size": 1}}}]});
    for _ in 0..3 {
        let event = json!({"Records": [{"messageId": Uuid::new_v4().to_string(),
            "body": record.to_string(), "attributes": {"ApproximateReceiveCount": "1"}}]});
        let response = local_platform::invoke::Invoke::invoke(
            app.functions.as_ref(),
            "upload-processor",
            event,
        )
        .await
        .unwrap();
        assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    }

    // THEN the rows are there once
    let (raw, rollup) = totals(&app, &admin).await;
    assert_eq!(raw.0, 35);
    assert_eq!(raw, rollup);

    // WHEN the second batch is deleted THEN everything is as before it
    delete_batch(&app, &admin, &second).await;
    assert_eq!(totals(&app, &admin).await, before);
    let gone = call(
        &app,
        Method::GET,
        &admin.host,
        &format!("/api/uploads/batches/{second}"),
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!((gone.status, gone.code()), (404, "batch_not_found"));
}

#[tokio::test]
async fn bad_files_fail_their_batch_with_a_reason() {
    // GIVEN a tenant
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "badfiles").await;
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.csv", vec![], "empty"),
        (
            "header.csv",
            boxnox_csv(0, &[]).into_bytes(),
            "no data rows",
        ),
        ("garbage.csv", garbage, "not a CSV or XLSX"),
        (
            "columns.csv",
            b"EAN,Qty\n4006381333931,1\n".to_vec(),
            "Sold Qty",
        ),
        (
            "allbad.csv",
            boxnox_csv(0, &["x,y,z,w,R1,1,2025", "1,2,3,4,R1,14,2025"]).into_bytes(),
            "none of the file's 2 rows",
        ),
    ];
    for (name, bytes, reason) in cases {
        // WHEN each is uploaded
        let batch = if bytes.is_empty() {
            // S3 refuses a zero-length presigned declaration; put it directly.
            let res = call(
                &app,
                Method::POST,
                &admin.host,
                "/api/uploads",
                Some(&admin.token),
                Some(&json!({"vendor": "boxnox", "file_name": name, "size_bytes": 1})),
            )
            .await;
            let id: Uuid = res.body["batch_id"].as_str().unwrap().parse().unwrap();
            shared::platform::aws::s3_client(&app.sdk)
                .put_object()
                .bucket(app.bucket())
                .key(format!(
                    "tenants/{}/uploads/{id}/{name}",
                    admin.tenant.tenant_id
                ))
                .body(Vec::new().into())
                .send()
                .await
                .unwrap();
            id
        } else {
            upload(&app, &admin, name, bytes).await
        };
        let view = processed(&app, &admin, &batch).await;
        // THEN it failed, saying why in words a person understands
        assert_eq!(view["status"], "failed", "{name}: {view}");
        let why = view["failure_reason"].as_str().unwrap_or_default();
        assert!(why.contains(reason), "{name}: {why:?} lacks {reason:?}");
    }
    // AND nothing was loaded
    assert_eq!(totals(&app, &admin).await.0.0, 0);
}

#[tokio::test]
async fn a_fault_before_commit_loads_nothing_and_the_retry_completes() {
    // GIVEN the processor failing between COPY and commit, and a queue that hands a message
    // back at once instead of after the template's visibility timeout
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "fault").await;
    let sqs = aws_sdk_sqs::Client::new(&app.sdk);
    sqs.set_queue_attributes()
        .queue_url(app.queue_url())
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "0",
        )
        .send()
        .await
        .unwrap();
    app.functions
        .processor
        .processor
        .fail_before_commit
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let batch = upload(&app, &admin, "f.csv", boxnox_csv(12, &[]).into_bytes()).await;
    let trigger = trigger(&app);
    let mut failed = 0;
    for _ in 0..5 {
        failed += poller::poll_once(&sqs, &trigger, &app.functions, Duration::from_millis(200))
            .await
            .unwrap()
            .failed;
        if failed > 0 {
            break;
        }
    }
    // THEN the message is retried, nothing is loaded and the batch waits
    assert_eq!(failed, 1, "the attempt is reported for a retry");
    assert_eq!(totals(&app, &admin).await.0.0, 0);
    assert_eq!(get_batch(&app, &admin, &batch).await["status"], "pending");

    // WHEN the fault is gone and the message comes back
    app.functions
        .processor
        .processor
        .fail_before_commit
        .store(false, std::sync::atomic::Ordering::Relaxed);
    let view = processed(&app, &admin, &batch).await;
    // THEN it completes, once
    assert_eq!(view["status"], "completed", "{view}");
    assert_eq!(view["attempts"], 2);
    assert_eq!(totals(&app, &admin).await.0.0, 12);
}

#[tokio::test]
async fn a_message_naming_another_tenant_loads_nothing_there() {
    // GIVEN tenants A and B, and a pending batch of A
    let app = spawn_app().await;
    let a = signed_in_admin(&app, "tena").await;
    let b = signed_in_admin(&app, "tenb").await;
    let res = call(
        &app,
        Method::POST,
        &a.host,
        "/api/uploads",
        Some(&a.token),
        Some(&json!({"vendor": "boxnox", "file_name": "x.csv", "size_bytes": 100})),
    )
    .await;
    let batch = res.body["batch_id"].as_str().unwrap().to_owned();

    // WHEN a file is put under B's prefix with A's batch id
    let key = format!("tenants/{}/uploads/{batch}/x.csv", b.tenant.tenant_id);
    shared::platform::aws::s3_client(&app.sdk)
        .put_object()
        .bucket(app.bucket())
        .key(&key)
        .body(boxnox_csv(5, &[]).into_bytes().into())
        .send()
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&app.sdk);
    for _ in 0..3 {
        poller::poll_once(
            &sqs,
            &trigger(&app),
            &app.functions,
            Duration::from_millis(200),
        )
        .await
        .unwrap();
    }

    // THEN nothing is loaded in either tenant and A's batch still waits for its own file
    assert_eq!(totals(&app, &a).await.0.0, 0);
    assert_eq!(totals(&app, &b).await.0.0, 0);
    let view = get_batch(&app, &a, &batch.parse().unwrap()).await;
    assert_eq!(view["status"], "pending");
    // AND A's batch is not visible on B's host
    let res = call(
        &app,
        Method::GET,
        &b.host,
        &format!("/api/uploads/batches/{batch}"),
        Some(&b.token),
        None,
    )
    .await;
    assert_eq!(res.status, 404);
}

#[tokio::test]
async fn viewers_read_batches_but_cannot_upload_or_delete() {
    // GIVEN a viewer of a tenant with a loaded batch
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "roles").await;
    let batch = upload(&app, &admin, "v.csv", boxnox_csv(3, &[]).into_bytes()).await;
    processed(&app, &admin, &batch).await;
    let viewer = signed_in_user(&app, &admin, "viewer").await;

    // WHEN the viewer lists, uploads and deletes
    let list = call(
        &app,
        Method::GET,
        &admin.host,
        "/api/uploads/batches",
        Some(&viewer),
        None,
    )
    .await;
    let post = call(
        &app,
        Method::POST,
        &admin.host,
        "/api/uploads",
        Some(&viewer),
        Some(&json!({"vendor": "boxnox", "file_name": "x.csv", "size_bytes": 10})),
    )
    .await;
    let delete = call(
        &app,
        Method::DELETE,
        &admin.host,
        &format!("/api/uploads/batches/{batch}"),
        Some(&viewer),
        None,
    )
    .await;

    // THEN reading works and the rest is forbidden, with nothing changed
    assert_eq!(list.status, 200);
    assert_eq!(list.body["batches"].as_array().unwrap().len(), 1);
    assert_eq!((post.status, post.code()), (403, "forbidden"));
    assert_eq!((delete.status, delete.code()), (403, "forbidden"));
    assert_eq!(totals(&app, &admin).await.0.0, 3);
}

#[tokio::test]
async fn upload_requests_are_validated() {
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "validate").await;
    for (body, status, code) in [
        (
            json!({"vendor": "nope", "file_name": "a.csv", "size_bytes": 10}),
            422,
            "unknown_vendor",
        ),
        (
            json!({"vendor": "boxnox", "file_name": "a.pdf", "size_bytes": 10}),
            400,
            "unsupported_file_type",
        ),
        (
            json!({"vendor": "boxnox", "file_name": "a.csv", "size_bytes": 0}),
            400,
            "invalid_size",
        ),
        (
            json!({"vendor": "boxnox", "file_name": "a.csv", "size_bytes": 104_857_601}),
            400,
            "invalid_size",
        ),
        (
            json!({"vendor": "boxnox", "size_bytes": 10}),
            400,
            "missing_field",
        ),
    ] {
        let res = call(
            &app,
            Method::POST,
            &admin.host,
            "/api/uploads",
            Some(&admin.token),
            Some(&body),
        )
        .await;
        assert_eq!(
            (res.status, res.code()),
            (status, code),
            "{body}: {}",
            res.body
        );
    }
}

#[tokio::test]
async fn concurrent_deliveries_of_one_upload_load_it_once() {
    // GIVEN an uploaded file whose notification arrives five times at once
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "race").await;
    let batch = upload(&app, &admin, "r.csv", boxnox_csv(30, &[]).into_bytes()).await;
    let object = created_object(&app, &admin, &batch, "r.csv");

    // WHEN five processors race for it
    let processor = &app.functions.processor.processor;
    let outcomes =
        futures_util::future::join_all((0..5).map(|_| processor.process(&object, 1))).await;

    // THEN exactly one loads it; the others find it taken or done, and the rows are there once
    let completed = outcomes
        .iter()
        .filter(|o| matches!(o, shared::ingest::process::Outcome::Completed { .. }))
        .count();
    assert_eq!(completed, 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| matches!(
        o,
        shared::ingest::process::Outcome::Completed { .. }
            | shared::ingest::process::Outcome::AlreadyDone { .. }
            | shared::ingest::process::Outcome::Retry { .. }
    )));
    let (raw, rollup) = totals(&app, &admin).await;
    assert_eq!(raw.0, 30);
    assert_eq!(raw, rollup);
}

#[tokio::test]
async fn different_uploads_loading_at_once_beside_a_deletion_keep_the_rollups_exact() {
    // GIVEN a loaded batch and four more uploads whose rows fall in the same groups
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "overlap").await;
    let first = upload(&app, &admin, "o0.csv", boxnox_csv(40, &[]).into_bytes()).await;
    assert_eq!(processed(&app, &admin, &first).await["status"], "completed");
    let mut objects = Vec::new();
    for i in 1..=4 {
        let name = format!("o{i}.csv");
        let batch = upload(&app, &admin, &name, boxnox_csv(20 + i, &[]).into_bytes()).await;
        objects.push(created_object(&app, &admin, &batch, &name));
    }

    // WHEN the four are processed at once while the first batch is deleted
    let processor = &app.functions.processor.processor;
    let loads = futures_util::future::join_all(objects.iter().map(|o| processor.process(o, 1)));
    let path = format!("/api/uploads/batches/{first}");
    let deletion = call(
        &app,
        Method::DELETE,
        &admin.host,
        &path,
        Some(&admin.token),
        None,
    );
    let (outcomes, deleted) = tokio::join!(loads, deletion);

    // THEN every load completes, the deletion too, and every rollup equals the raw rows
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, shared::ingest::process::Outcome::Completed { .. })),
        "{outcomes:?}"
    );
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let (raw, rollup) = totals(&app, &admin).await;
    assert_eq!(raw.0, 21 + 22 + 23 + 24);
    assert_eq!(raw, rollup);
    assert_eq!(rollup_mismatches(&app, &admin).await, 0);
}

/// The notification S3 sends when the browser has put `name` for `batch`.
fn created_object(
    app: &TestApp,
    admin: &TenantAdmin,
    batch: &Uuid,
    name: &str,
) -> shared::ingest::upload_event::CreatedObject {
    let key = format!("tenants/{}/uploads/{batch}/{name}", admin.tenant.tenant_id);
    shared::ingest::upload_event::CreatedObject {
        bucket: app.bucket().to_owned(),
        upload: shared::ingest::upload_event::UploadKey::parse(&key).unwrap(),
        key,
        size: None,
    }
}

/// Rows that differ between the rollup and a `GROUP BY` of the raw rows (0 when exact).
async fn rollup_mismatches(app: &TestApp, admin: &TenantAdmin) -> i64 {
    let db = app.tenant_db(&admin.tenant.tenant_id).await;
    let mut mismatches = 0;
    // Every rollup, at its own grain.
    for rollup in shared::ingest::vendor::Target::Sellout.rollups() {
        let keys = rollup.keys.join(", ");
        let raw_keys = rollup
            .keys
            .iter()
            .map(|k| match *k {
                "reseller" | "product_ean" => format!("coalesce({k}, '')"),
                other => other.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let grouped = format!(
            "select {raw_keys}, sum(quantity)::bigint, coalesce(sum(sales_eur), 0), count(*) \
             from sellout_entries join upload_batches using (batch_id) group by {raw_keys}"
        );
        let table = format!(
            "select {keys}, quantity, sales_eur, entries from {}",
            rollup.table
        );
        let n: i64 = db
            .query_one(
                &format!(
                    "select count(*) from (({grouped} except {table}) union all ({table} except {grouped})) d"
                ),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        mismatches += n;
    }
    mismatches
}

/// The summary over every month equals the raw rows' totals.
async fn summary_matches_raw_rows(app: &TestApp, admin: &TenantAdmin) {
    let ((_, units, revenue), _) = totals(app, admin).await;
    let res = call(
        app,
        Method::GET,
        &admin.host,
        "/api/analytics/summary?from=2000-01&to=2100-12",
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let figures = &res.body["current"];
    assert_eq!(figures["units"].as_i64().unwrap(), units, "{figures}");
    let api: f64 = figures["revenue"].as_str().unwrap().parse().unwrap();
    let raw: f64 = revenue.parse().unwrap();
    assert!((api - raw).abs() < 0.005, "{api} vs {raw}");
}

#[tokio::test]
async fn loaded_plus_rejected_is_total_and_the_rollup_stays_exact_through_loads_and_deletions() {
    // GIVEN a tenant and a deterministic generator of files mixing valid and invalid rows
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "prop").await;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut live: Vec<Uuid> = Vec::new();
    for step in 0..6 {
        // WHEN a random file is loaded, or (every third step) a random batch is deleted
        if step % 3 == 2 && !live.is_empty() {
            let victim = live.remove(usize::try_from(next(live.len() as u64)).unwrap());
            delete_batch(&app, &admin, &victim).await;
        } else {
            let mut csv = boxnox_csv(0, &[]);
            let total = 5 + next(40);
            let mut bad = 0;
            for _ in 0..total {
                let ean = 4_006_381_333_900 + next(9);
                let qty = if next(10) == 0 {
                    bad += 1;
                    "x".to_owned()
                } else {
                    (1 + next(50)).to_string()
                };
                let reseller = ["R1", "R2", "R3"][usize::try_from(next(3)).unwrap()];
                csv.push_str(&format!(
                    "{ean},P{ean},{qty},{}.{:02},{reseller},{},{}\n",
                    next(900),
                    next(100),
                    1 + next(12),
                    2024 + next(2)
                ));
            }
            let batch = upload(&app, &admin, &format!("p{step}.csv"), csv.into_bytes()).await;
            let view = processed(&app, &admin, &batch).await;
            // THEN loaded + rejected = total
            assert_eq!(view["rows_total"], total, "{view}");
            assert_eq!(view["rows_rejected"], bad, "{view}");
            assert_eq!(
                view["rows_loaded"].as_u64().unwrap() + view["rows_rejected"].as_u64().unwrap(),
                total
            );
            live.push(batch);
        }
        // AND every rollup equals a GROUP BY of the raw rows, group by group, and the
        // summary's totals equal the raw rows'
        assert_eq!(
            rollup_mismatches(&app, &admin).await,
            0,
            "after step {step}"
        );
        summary_matches_raw_rows(&app, &admin).await;
    }
}

/// PUTs a vendor config as the admin; the answer.
async fn put_vendor(
    app: &TestApp,
    admin: &TenantAdmin,
    name: &str,
    config: &Value,
) -> crate::auth::Answer {
    call(
        app,
        Method::PUT,
        &admin.host,
        &format!("/api/vendors/{name}"),
        Some(&admin.token),
        Some(config),
    )
    .await
}

#[tokio::test]
async fn amounts_in_another_currency_use_the_months_rate_or_are_rejected() {
    // GIVEN a PLN vendor and a rate for March 2025 only
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "fx").await;
    let config = json!({"currency": "PLN", "column_mapping": {
        "EAN": "product_ean", "Qty": "quantity", "Value": "sales_eur", "Month": "month", "Year": "year"}});
    let res = put_vendor(&app, &admin, "plnshop", &config).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["version"], 1);
    let rates = json!({"rates": [{"currency": "PLN", "month": "2025-03", "rate_to_eur": "0.25"}]});
    let res = call(
        &app,
        Method::PUT,
        &admin.host,
        "/api/fx-rates",
        Some(&admin.token),
        Some(&rates),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["rates"][0]["rate_to_eur"], "0.25000000");

    // WHEN a file with a March row and an April row is loaded
    let csv =
        "EAN,Qty,Value,Month,Year\n4006381333931,2,100.00,3,2025\n4006381333931,1,40.00,4,2025\n";
    let batch = upload_for(&app, &admin, "plnshop", "pl.csv", csv.as_bytes().to_vec()).await;
    let view = processed(&app, &admin, &batch).await;

    // THEN March is converted (100 PLN = 25 EUR, the original kept) and April has no rate
    assert_eq!(
        (view["rows_loaded"].clone(), view["rows_rejected"].clone()),
        (json!(1), json!(1))
    );
    let db = app.tenant_db(&admin.tenant.tenant_id).await;
    let row = db
        .query_one(
            "select sales_eur::text, amount::text, currency from sellout_entries",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, String>(0),
            row.get::<_, String>(1),
            row.get::<_, String>(2)
        ),
        ("25.00".to_owned(), "100.0000".to_owned(), "PLN".to_owned())
    );
    let errors = call(
        &app,
        Method::GET,
        &admin.host,
        &format!("/api/uploads/batches/{batch}/errors"),
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(
        errors.body["errors"][0]["code"], "no_fx_rate",
        "{}",
        errors.body
    );
    assert_eq!(errors.body["errors"][0]["row_number"], 3);
}

#[tokio::test]
async fn an_ecommerce_report_loads_orders_with_their_dates_and_its_monthly_rollup() {
    // GIVEN an ecommerce vendor (orders by date, country and city)
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "shop").await;
    let config = json!({"target": "ecommerce", "currency": "EUR", "date_formats": ["%Y-%m-%d"],
        "column_mapping": {"Order": "order_id", "EAN": "product_ean", "Qty": "quantity",
                           "Total": "sales_eur", "Date": "date", "Country": "country",
                           "City": "city"}});
    let res = put_vendor(&app, &admin, "webshop", &config).await;
    assert_eq!(res.status, 200, "{}", res.body);

    // WHEN a file of three orders over two months (one with no city) is loaded
    let csv = "Order,EAN,Qty,Total,Date,Country,City\n\
               A-1,4006381333931,2,19.98,2025-03-31,DE,Berlin\n\
               A-2,4006381333931,1,9.99,2025-03-01,DE,\n\
               A-3,4006381333948,5,50.00,2024-12-31,FR,Paris\n";
    let batch = upload_for(
        &app,
        &admin,
        "webshop",
        "orders.csv",
        csv.as_bytes().to_vec(),
    )
    .await;
    let view = processed(&app, &admin, &batch).await;

    // THEN every order is stored as the file says, dates included, and the rollup sums them
    assert_eq!(view["status"], "completed", "{view}");
    assert_eq!(view["rows_loaded"], 3, "{view}");
    let db = app.tenant_db(&admin.tenant.tenant_id).await;
    let rows = |sql: &'static str| {
        let db = &db;
        async move {
            db.query(sql, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        rows(
            "select concat_ws(' ', external_order_id, product_ean, order_date, quantity, \
                    sales_eur, country, coalesce(city, '-')) \
             from ecommerce_orders order by source_row"
        )
        .await,
        [
            "A-1 4006381333931 2025-03-31 2 19.98 DE Berlin",
            "A-2 4006381333931 2025-03-01 1 9.99 DE -",
            "A-3 4006381333948 2024-12-31 5 50.00 FR Paris",
        ]
    );
    assert_eq!(
        rows(
            "select concat_ws(' ', year, month, country, product_ean, quantity, sales_eur, \
                    orders) \
             from ecommerce_monthly order by year, month, product_ean"
        )
        .await,
        [
            "2024 12 FR 4006381333948 5 50.00 1",
            "2025 3 DE 4006381333931 3 29.97 2",
        ]
    );

    // AND deleting the batch takes its orders out of the table and the rollup
    delete_batch(&app, &admin, &batch).await;
    let left = db
        .query_one(
            "select (select count(*) from ecommerce_orders) + \
                    (select count(*) from ecommerce_monthly)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(left.get::<_, i64>(0), 0);
}

#[tokio::test]
async fn a_tenant_not_yet_migrated_to_raw_rows_without_vendor_still_loads_and_deletes() {
    // GIVEN a tenant database as migration 8 found it: raw sell-out rows carry the vendor
    // (between a deployment and the migration run after it)
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "premigr").await;
    let db = app.tenant_db(&admin.tenant.tenant_id).await;
    db.batch_execute(
        "alter table sellout_entries add column vendor_name text not null; \
         delete from schema_migrations where version >= 8;",
    )
    .await
    .unwrap();

    // WHEN a file is uploaded
    let batch = upload(&app, &admin, "boxnox.csv", boxnox_csv(5, &[]).into_bytes()).await;
    let view = processed(&app, &admin, &batch).await;

    // THEN its rows load with their vendor, and its deletion takes them out again
    assert_eq!(
        (view["status"].clone(), view["rows_loaded"].clone()),
        (json!("completed"), json!(5)),
        "{view}"
    );
    let vendors = db
        .query_one(
            "select count(*) filter (where vendor_name = 'boxnox'), count(*) from sellout_entries",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((vendors.get::<_, i64>(0), vendors.get::<_, i64>(1)), (5, 5));
    delete_batch(&app, &admin, &batch).await;
    assert_eq!(
        totals(&app, &admin).await,
        ((0, 0, "0".into()), (0, 0, "0".into()))
    );
}

#[tokio::test]
async fn vendor_configs_are_validated_versioned_and_batches_keep_their_version() {
    // GIVEN the seeded boxnox config
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "vendors").await;
    let list = call(
        &app,
        Method::GET,
        &admin.host,
        "/api/vendors",
        Some(&admin.token),
        None,
    )
    .await;
    let names: Vec<&str> = list.body["vendors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["vendor"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["boxnox", "galilu", "skins"]);

    // WHEN an invalid config is put THEN 422 names each bad field and nothing changes
    let bad = json!({"currency": "euro", "column_mapping": {"Qty": "quantity"}, "header_row": "x"});
    let res = put_vendor(&app, &admin, "boxnox", &bad).await;
    assert_eq!(
        (res.status, res.code()),
        (422, "invalid_vendor_config"),
        "{}",
        res.body
    );
    let message = res.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("header_row"), "{message}");
    let current = call(
        &app,
        Method::GET,
        &admin.host,
        "/api/vendors/boxnox",
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(current.body["version"], 1);

    // WHEN a batch is started, and then the config changes (Qty now in another column)
    let ticket = call(
        &app,
        Method::POST,
        &admin.host,
        "/api/uploads",
        Some(&admin.token),
        Some(&json!({"vendor": "boxnox", "file_name": "v.csv", "size_bytes": 10})),
    )
    .await;
    assert_eq!(ticket.body["batch"]["vendor_config_version"], 1);
    let mut changed = current.body["config"].clone();
    changed["column_mapping"]["Quantity Sold"] = json!("quantity");
    changed["column_mapping"]
        .as_object_mut()
        .unwrap()
        .remove("Sold Qty");
    let res = put_vendor(&app, &admin, "boxnox", &changed).await;
    assert_eq!(
        (res.status, res.body["version"].clone()),
        (200, json!(2)),
        "{}",
        res.body
    );

    // THEN the earlier batch is still processed with version 1 (the file has "Sold Qty")
    let batch: Uuid = ticket.body["batch_id"].as_str().unwrap().parse().unwrap();
    let csv = boxnox_csv(4, &[]);
    shared::platform::aws::s3_client(&app.sdk)
        .put_object()
        .bucket(app.bucket())
        .key(format!(
            "tenants/{}/uploads/{batch}/v.csv",
            admin.tenant.tenant_id
        ))
        .body(csv.into_bytes().into())
        .send()
        .await
        .unwrap();
    let view = processed(&app, &admin, &batch).await;
    assert_eq!(view["status"], "completed", "{view}");
    assert_eq!(view["rows_loaded"], 4);

    // AND a viewer may read configs but not change them
    let viewer = signed_in_user(&app, &admin, "viewer").await;
    let read = call(
        &app,
        Method::GET,
        &admin.host,
        "/api/vendors/boxnox",
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(read.status, 200);
    let res = call(
        &app,
        Method::PUT,
        &admin.host,
        "/api/vendors/boxnox",
        Some(&viewer),
        Some(&changed),
    )
    .await;
    assert_eq!((res.status, res.code()), (403, "forbidden"));
}

#[tokio::test]
async fn an_xlsx_report_is_loaded_like_a_csv() {
    // GIVEN a Boxnox report as an Excel workbook (numbers as numbers, as Excel writes them)
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "xlsx").await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let header = [
        "Product EAN",
        "Functional Name",
        "Sold Qty",
        "Sales Amount (EUR)",
        "Reseller",
        "Month",
        "Year",
    ];
    for (c, h) in header.iter().enumerate() {
        sheet
            .write_string(0, u16::try_from(c).unwrap(), *h)
            .unwrap();
    }
    for r in 1..=20u32 {
        sheet.write_number(r, 0, 4_006_381_333_931.0).unwrap();
        sheet.write_string(r, 1, "Serum").unwrap();
        sheet.write_number(r, 2, f64::from(r)).unwrap();
        sheet.write_number(r, 3, f64::from(r) * 2.5).unwrap();
        sheet.write_string(r, 4, "R1").unwrap();
        sheet.write_number(r, 5, f64::from(1 + r % 12)).unwrap();
        sheet.write_number(r, 6, 2025.0).unwrap();
    }
    let bytes = book.save_to_buffer().unwrap();

    // WHEN it is uploaded
    let batch = upload(&app, &admin, "report.xlsx", bytes).await;
    let view = processed(&app, &admin, &batch).await;

    // THEN every row is loaded, with the amounts exact
    assert_eq!(view["status"], "completed", "{view}");
    assert_eq!(
        (view["file_kind"].clone(), view["rows_loaded"].clone()),
        (json!("xlsx"), json!(20))
    );
    let (raw, rollup) = totals(&app, &admin).await;
    assert_eq!(raw, (20, 210, "525.00".to_owned()));
    assert_eq!(raw, rollup);
}

#[tokio::test]
async fn the_third_failed_attempt_fails_the_batch_before_the_dead_letter_queue() {
    // GIVEN a processor that always fails before commit, and a queue that redelivers at once
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "dlq").await;
    aws_sdk_sqs::Client::new(&app.sdk)
        .set_queue_attributes()
        .queue_url(app.queue_url())
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "0",
        )
        .send()
        .await
        .unwrap();
    app.functions
        .processor
        .processor
        .fail_before_commit
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let batch = upload(&app, &admin, "d.csv", boxnox_csv(3, &[]).into_bytes()).await;

    // WHEN it is delivered until the queue gives up (three receives)
    let view = processed(&app, &admin, &batch).await;

    // THEN the batch says it failed after three attempts, with nothing loaded
    assert_eq!(view["status"], "failed", "{view}");
    assert_eq!(view["attempts"], 3);
    assert!(
        view["failure_reason"]
            .as_str()
            .unwrap()
            .contains("3 attempts"),
        "{view}"
    );
    assert_eq!(totals(&app, &admin).await.0.0, 0);
}
