//! Hardening: no function can be crashed by what a client sends. Arbitrary hosts, methods,
//! paths, query strings, headers and bodies go through every HTTP function's real entry point
//! (the same door as in Lambda), and arbitrary queue messages through the processor's: every
//! answer is a response below 500, and nothing panics.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use crate::helpers::spawn_app;

const FUNCTIONS: [&str; 6] = [
    "tenant-discovery",
    "auth",
    "uploads",
    "analytics",
    "provisioning",
    "web",
];

/// Hosts: ours, near-misses, and anything at all (IDNA, spaces, ports, brackets, control
/// characters).
fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("app.localhost".to_owned()),
        Just("api.localhost".to_owned()),
        Just("acme.localhost".to_owned()),
        "[a-z0-9-]{1,12}\\.localhost(:[0-9]{1,6})?",
        "xn--[a-z0-9-]{0,10}\\.localhost",
        "\\PC{0,30}",
        ".{0,30}",
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/api/health".to_owned()),
        Just("/api/auth/login".to_owned()),
        Just("/api/uploads/batches/x".to_owned()),
        Just("/admin/tenants".to_owned()),
        Just("/".to_owned()),
        "/[a-z/{}%.+-]{0,40}",
        "/\\PC{0,40}",
    ]
}

fn event() -> impl Strategy<Value = Value> {
    (
        host(),
        prop_oneof![
            Just("GET"),
            Just("POST"),
            Just("PUT"),
            Just("PATCH"),
            Just("DELETE"),
            Just("TRACE")
        ],
        path(),
        ".{0,40}",
        proptest::collection::vec(("[a-z][a-z-]{0,15}", ".{0,30}"), 0..4),
        prop_oneof![
            Just(None),
            ".{0,200}".prop_map(Some),
            Just(Some("{}".to_owned()))
        ],
        any::<bool>(),
    )
        .prop_map(|(host, method, path, query, headers, body, base64)| {
            let mut header_map = serde_json::Map::new();
            for (name, value) in headers {
                header_map.insert(name, json!(value));
            }
            header_map.insert("host".into(), json!(host));
            json!({
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": path,
                "rawQueryString": query,
                "headers": header_map,
                "requestContext": {
                    "accountId": "123456789012", "apiId": "api", "domainName": host,
                    "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                             "sourceIp": "203.0.113.9", "userAgent": "fuzz"},
                    "requestId": "fuzz", "routeKey": "$default", "stage": "$default",
                    "time": "23/Nov/2026:10:00:00 +0000", "timeEpoch": 0
                },
                "body": body,
                "isBase64Encoded": base64
            })
        })
}

#[test]
fn arbitrary_requests_get_an_answer_below_500_from_every_function() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = rt.block_on(spawn_app());
    rt.block_on(app.provision("acme"));
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    for function in FUNCTIONS {
        runner
            .run(&event(), |event| {
                let res = rt
                    .block_on(app.functions.invoke_http(function, &event))
                    .expect("an answer");
                let status = res["statusCode"].as_i64().unwrap_or_default();
                prop_assert!(
                    (200..500).contains(&status),
                    "{function}: {status} for {event}: {res}"
                );
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(
        !app.logs.text().contains("panicked"),
        "a panic was caught: {}",
        app.logs.text()
    );
}

#[test]
fn arbitrary_queue_messages_never_panic_the_processor() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = rt.block_on(spawn_app());
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let body = prop_oneof![
        ".{0,200}",
        "\\{\"Records\":\\[\\{\"s3\":\\{\"bucket\":\\{\"name\":\".{0,20}\"\\},\"object\":\\{\"key\":\".{0,60}\",\"size\":[0-9]{1,5}\\}\\}\\}\\]\\}",
    ];
    runner
        .run(&proptest::collection::vec(body, 1..4), |bodies| {
            let records: Vec<Value> = bodies
                .iter()
                .enumerate()
                .map(|(i, body)| json!({"messageId": format!("m{i}"), "body": body}))
                .collect();
            let batch = serde_json::from_value(json!({ "Records": records })).expect("SQS event");
            let failures = rt.block_on(upload_processor::process_batch(
                &app.functions.processor,
                batch,
            ));
            // Unreadable messages may be reported for retry; a panic would have failed here.
            prop_assert!(failures.batch_item_failures.len() <= bodies.len());
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
