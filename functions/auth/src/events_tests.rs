//! Handler tests driven by this function's sample events (`events/auth/`): the answers that
//! come before any AWS call — host, route and method checks — from the real handler.

use shared::web::sample;

use super::*;

#[tokio::test]
async fn sample_events_get_their_documented_answer() {
    // GIVEN the function built from its configuration, reaching no AWS endpoint
    let app = App::new(&sample::offline_env(), &sample::offline_sdk()).unwrap();
    for (case, status, code) in [
        ("invalid-host.json", 400, Some("invalid_subdomain")),
        ("reserved-host.json", 404, Some("tenant_not_found")),
        ("unknown-route.json", 404, Some("route_not_found")),
        ("method-not-allowed.json", 405, Some("method_not_allowed")),
    ] {
        // WHEN the sample event goes through the handler THEN it gets its documented answer
        let res = handle(&app, sample::request("auth", case).unwrap()).await;
        sample::check(&res, status, code).unwrap_or_else(|e| panic!("{case}: {e}"));
    }
}
