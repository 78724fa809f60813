//! Handler tests driven by this function's sample events (`events/provisioning/`): the answers
//! that come before any AWS call, from the real handler. Building the function makes no call
//! either: its database admin credentials are read on first use.

use shared::web::sample;

use super::*;

#[tokio::test]
async fn sample_events_get_their_documented_answer() {
    // GIVEN the function built from its configuration, reaching no AWS endpoint
    let app = App::new(&sample::offline_env(), &sample::offline_sdk())
        .expect("nothing at init needs the network");
    for (case, status, code) in [
        ("health.json", 200, None),
        ("method-not-allowed.json", 405, Some("method_not_allowed")),
    ] {
        // WHEN the sample event goes through the handler THEN it gets its documented answer
        let res = handle(&app, sample::request("provisioning", case).unwrap()).await;
        sample::check(&res, status, code).unwrap_or_else(|e| panic!("{case}: {e}"));
    }
}
