//! Handler tests driven by this function's sample events (`events/web/`): pages, assets, API
//! paths nobody serves and foreign hosts, from the real handler.

use shared::web::sample;

use super::*;

fn app() -> App {
    App::new(&sample::offline_env(), &sample::offline_sdk()).unwrap()
}

fn header<'r>(res: &'r Response<Body>, name: &str) -> &'r str {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn sample_events_get_their_documented_answer() {
    // GIVEN the function built from its configuration
    let app = app();
    for (case, status, code) in [
        ("page.json", 200, None),
        ("deep-page.json", 200, None),
        ("console-page.json", 200, None),
        ("asset.json", 200, None),
        ("missing-asset.json", 404, Some("asset_not_found")),
        ("unknown-api-path.json", 404, Some("route_not_found")),
        ("foreign-host.json", 400, Some("invalid_host")),
        ("method-not-allowed.json", 405, Some("method_not_allowed")),
    ] {
        // WHEN the sample event goes through the handler THEN it gets its documented answer
        let res = handle(&app, sample::request(NAME, case).unwrap()).await;
        sample::check(&res, status, code).unwrap_or_else(|e| panic!("{case}: {e}"));
        // AND every answer, errors too, carries the security headers
        assert_eq!(header(&res, "x-frame-options"), "DENY", "{case}");
        assert_eq!(header(&res, "x-content-type-options"), "nosniff", "{case}");
        assert!(header(&res, "strict-transport-security").contains("max-age="));
    }
}

#[tokio::test]
async fn a_page_names_its_surface_and_build_under_a_strict_policy_and_is_revalidated() {
    let app = app();
    let tenant = HostKind::Tenant(
        shared::domain::subdomain::Subdomain::parse("acme", &Default::default()).unwrap(),
    );
    for (host, surface, bucket) in [
        (HostKind::App, "app", false),
        (HostKind::Api, "console", false),
        (tenant, "tenant", true),
    ] {
        let res = page(&app, &host);
        let Body::Text(html) = res.body() else {
            panic!("{surface}: the page is text")
        };
        assert!(html.contains(&format!("data-surface=\"{surface}\"")));
        assert!(html.contains(&format!("/assets/{}/main.js", app.build())));
        assert_eq!(header(&res, "cache-control"), "no-cache");
        let csp = header(&res, "content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{surface}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{surface}: {csp}");
        // Only tenant pages may send files to the uploads bucket.
        assert_eq!(
            csp.contains("https://uploads.s3.us-east-1.amazonaws.com"),
            bucket,
            "{surface}: {csp}"
        );
    }
}

#[tokio::test]
async fn assets_of_this_build_are_immutable_and_of_another_build_revalidated() {
    let app = app();
    let mut event = sample::request(NAME, "asset.json").unwrap();
    let res = handle(&app, event).await;
    assert_eq!(header(&res, "cache-control"), "no-cache", "another build");
    assert!(header(&res, "content-type").starts_with("text/javascript"));
    // The same file under this build's folder.
    event = lambda_http::http::Request::builder()
        .uri(format!(
            "https://app.localhost/assets/{}/main.js",
            app.build()
        ))
        .header("host", "app.localhost")
        .body(Body::Empty)
        .unwrap();
    let res = handle(&app, event).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "cache-control"),
        "public, max-age=31536000, immutable"
    );
}
