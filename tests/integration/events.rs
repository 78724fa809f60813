//! The sample events in `events/` (also used with `cargo lambda invoke --data-file`) go through
//! the real handlers and give the documented results.

use std::path::PathBuf;

use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::Value;

use crate::helpers::spawn_app;

fn event(path: &str) -> Value {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

#[tokio::test]
async fn http_events_give_their_documented_status() {
    // GIVEN the tenant the events address (acme)
    let app = spawn_app().await;
    app.provision("acme").await;
    let cases = [
        (
            "tenant-discovery",
            "tenant-discovery/health.json",
            200,
            None,
        ),
        (
            "tenant-discovery",
            "tenant-discovery/tenant-host.json",
            404,
            Some("route_not_found"),
        ),
        (
            "tenant-discovery",
            "tenant-discovery/discover-invalid-email.json",
            400,
            Some("invalid_email"),
        ),
        ("provisioning", "provisioning/health.json", 200, None),
        (
            "provisioning",
            "provisioning/method-not-allowed.json",
            405,
            Some("method_not_allowed"),
        ),
        (
            "tenant-discovery",
            "tenant-discovery/method-not-allowed.json",
            405,
            Some("method_not_allowed"),
        ),
        (
            "auth",
            "auth/method-not-allowed.json",
            405,
            Some("method_not_allowed"),
        ),
        (
            "uploads",
            "uploads/method-not-allowed.json",
            405,
            Some("method_not_allowed"),
        ),
        (
            "analytics",
            "analytics/method-not-allowed.json",
            405,
            Some("method_not_allowed"),
        ),
        ("auth", "auth/health.json", 200, None),
        (
            "auth",
            "auth/invalid-host.json",
            400,
            Some("invalid_subdomain"),
        ),
        (
            "auth",
            "auth/reserved-host.json",
            404,
            Some("tenant_not_found"),
        ),
        (
            "auth",
            "auth/unknown-route.json",
            404,
            Some("route_not_found"),
        ),
        ("uploads", "uploads/health.json", 200, None),
        ("analytics", "analytics/health.json", 200, None),
    ];
    for (function, file, status, code) in cases {
        let res = app
            .functions
            .invoke_http(function, &event(file))
            .await
            .unwrap();
        assert_eq!(res["statusCode"], status, "{file}: {res}");
        let body: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
        match code {
            Some(code) => assert_eq!(body["error"]["code"], code, "{file}"),
            None => assert_eq!(body["function"], function, "{file}"),
        }
    }
    // The discovery sample asks for acme's admin, in mixed case: acme is offered.
    let res = app
        .functions
        .invoke_http(
            "tenant-discovery",
            &event("tenant-discovery/discover-ok.json"),
        )
        .await
        .unwrap();
    assert_eq!(res["statusCode"], 200, "{res}");
    let body: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["tenants"][0]["subdomain"], "acme", "{body}");
}

#[tokio::test]
async fn web_events_get_pages_assets_and_json_errors() {
    let app = spawn_app().await;
    for (file, status, expect) in [
        ("web/page.json", 200, "data-surface=\"app\""),
        ("web/deep-page.json", 200, "data-surface=\"console\""),
        ("web/console-page.json", 200, "data-surface=\"console\""),
        ("web/asset.json", 200, "import("),
        ("web/missing-asset.json", 404, "asset_not_found"),
        ("web/unknown-api-path.json", 404, "route_not_found"),
        ("web/foreign-host.json", 400, "invalid_host"),
        ("web/method-not-allowed.json", 405, "method_not_allowed"),
    ] {
        let res = app
            .functions
            .invoke_http("web", &event(file))
            .await
            .unwrap();
        assert_eq!(res["statusCode"], status, "{file}: {res}");
        let body = res["body"].as_str().unwrap();
        assert!(body.contains(expect), "{file}: {body}");
    }
}

#[tokio::test]
async fn sqs_events_report_only_unreadable_messages() {
    // GIVEN the processor of a platform where none of the events' tenants exist
    let app = spawn_app().await;
    let processor = &app.functions.processor;
    let run = |file: &'static str| async move {
        let batch: SqsEvent = serde_json::from_value(event(file)).unwrap();
        upload_processor::process_batch(processor, batch)
            .await
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect::<Vec<_>>()
    };
    // WHEN each event is processed THEN readable ones are acknowledged (unknown uploads are
    // ignored, not retried) and only unreadable messages come back
    assert!(
        run("upload-processor/s3-object-created.json")
            .await
            .is_empty(),
        "real AWS record"
    );
    assert!(
        run("upload-processor/s3-object-created-emulator.json")
            .await
            .is_empty(),
        "emulator record"
    );
    assert!(
        run("upload-processor/s3-test-event.json").await.is_empty(),
        "test event is skipped"
    );
    assert_eq!(
        run("upload-processor/malformed.json").await,
        [
            "0e1f3c2a-0000-4000-8000-000000000001",
            "0e1f3c2a-0000-4000-8000-000000000002"
        ],
        "a non-JSON body and a key outside the upload layout fail; the good record does not"
    );
}

#[test]
fn every_event_file_is_used_by_a_test() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events");
    let this = include_str!("events.rs");
    for function in std::fs::read_dir(&dir).unwrap() {
        let function = function.unwrap().path();
        for file in std::fs::read_dir(&function).unwrap() {
            let file = file.unwrap().path();
            let rel = format!(
                "{}/{}",
                function.file_name().unwrap().to_string_lossy(),
                file.file_name().unwrap().to_string_lossy()
            );
            assert!(
                this.contains(&format!("\"{rel}\"")),
                "events/{rel} is not exercised"
            );
        }
    }
}
