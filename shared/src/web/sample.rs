//! Sample events for the functions' handler tests: `events/<function>/<case>.json` as the request
//! lambda_http hands a handler, a configuration that reaches no AWS endpoint until a request is
//! made (for answers that come before any AWS call: host, route and method checks), and the check
//! of an answer's status and error code.

use aws_config::BehaviorVersion;
use lambda_http::{Body, Request, Response};

use crate::platform::config::{Env, pairs_env};

/// Every variable a function's settings require, with placeholder values.
pub fn offline_env() -> Env<impl Fn(&str) -> Option<String>> {
    pairs_env(&[
        ("ROOT_DOMAIN", "localhost"),
        ("REGISTRY_TABLE", "registry"),
        ("ADMINS_TABLE", "admins"),
        ("AUDIT_TABLE", "audit"),
        ("SECRETS_PREFIX", "taskifai/test"),
        ("UPLOADS_BUCKET", "uploads"),
        (
            "DB_ADMIN_SECRET_ID",
            "taskifai/test/platform/database-admin",
        ),
        (
            "JOBS_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
        ),
        ("MAIL_FROM", "TaskifAI <no-reply@localhost>"),
        // A CA whose key was thrown away: the handlers under test never reach a database.
        (
            "DATABASE_CA_FILE",
            concat!(env!("CARGO_MANIFEST_DIR"), "/src/web/offline-ca.pem"),
        ),
    ])
}

/// An SDK configuration with a region and nothing else.
pub fn offline_sdk() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build()
}

/// `events/<function>/<case>` as a request.
pub fn request(function: &str, case: &str) -> Result<Request, String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(function)
        .join(case);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    lambda_http::request::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Whether `res` has `status` and, for errors, the error `code` (405s also an `Allow` header).
pub fn check(res: &Response<Body>, status: u16, code: Option<&str>) -> Result<(), String> {
    // Error bodies are JSON; a success may be anything (a page, a file).
    let body: serde_json::Value = match res.body() {
        Body::Text(text) if res.status().is_success() => {
            serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
        }
        Body::Text(text) => serde_json::from_str(text).map_err(|e| e.to_string())?,
        _ => serde_json::Value::Null,
    };
    let got = (res.status().as_u16(), body["error"]["code"].as_str());
    if got != (status, code) {
        return Err(format!("expected {status} {code:?}, got {got:?}: {body}"));
    }
    if status == 405 && !res.headers().contains_key(http::header::ALLOW) {
        return Err("405 without Allow".into());
    }
    Ok(())
}
