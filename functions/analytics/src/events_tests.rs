//! Handler tests driven by this function's sample events (`events/analytics/`): the answers that
//! come before any AWS call — host, route and method checks — from the real handler.

use super::*;

fn env() -> Env<impl Fn(&str) -> Option<String>> {
    shared::platform::config::pairs_env(&[
        ("ROOT_DOMAIN", "localhost"),
        ("REGISTRY_TABLE", "registry"),
        ("SECRETS_PREFIX", "taskifai/test"),
        ("UPLOADS_BUCKET", "uploads"),
    ])
}

#[tokio::test]
async fn sample_events_get_their_documented_answer() {
    // GIVEN the function built from its configuration, reaching no AWS endpoint
    let app = App::new(&env(), &shared::platform::aws::offline_config()).unwrap();
    for (case, status, code) in [("method-not-allowed.json", 405, Some("method_not_allowed"))] {
        // WHEN the sample event goes through the handler
        let req = shared::platform::aws::sample_event("analytics", case).unwrap();
        let res = handle(&app, req).await;
        // THEN its status and error code are the documented ones
        assert_eq!(res.status().as_u16(), status, "{case}");
        let body: serde_json::Value = match res.body() {
            lambda_http::Body::Text(text) => serde_json::from_str(text).unwrap(),
            _ => serde_json::Value::Null,
        };
        assert_eq!(body["error"]["code"].as_str(), code, "{case}: {body}");
        if status == 405 {
            assert!(res.headers().contains_key(http::header::ALLOW), "{case}");
        }
    }
}
