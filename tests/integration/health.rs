//! Every surface answers its health check through the gateway, routed by host and path exactly
//! as the template declares; bad hosts get clear 4xx errors.

use crate::helpers::spawn_app;

#[tokio::test]
async fn each_surface_answers_health_with_its_function() {
    // GIVEN a running platform with a tenant at acme
    let app = spawn_app().await;
    let tenant = app.provision("acme").await.tenant;

    // WHEN each host's health route is called THEN the template's function answers
    let cases = [
        ("app.localhost", "/api/health", "tenant-discovery", "app"),
        ("api.localhost", "/api/health", "provisioning", "api"),
        ("acme.localhost", "/api/health", "auth", "tenant"),
        ("acme.localhost", "/api/uploads/health", "uploads", "tenant"),
        (
            "acme.localhost",
            "/api/analytics/health",
            "analytics",
            "tenant",
        ),
    ];
    for (host, path, function, surface) in cases {
        let (status, body) = app.get(host, path).await;
        assert_eq!(status, 200, "{host}{path}: {body}");
        assert_eq!(body["function"], function, "{host}{path}");
        assert_eq!(body["surface"], surface, "{host}{path}");
        if surface == "tenant" {
            assert_eq!(
                body["tenant_id"],
                tenant.tenant_id.to_string(),
                "{host}{path}"
            );
        }
    }
    let (_, body) = app.get("Acme.LOCALHOST", "/api/health").await;
    assert_eq!(body["subdomain"], "acme", "hosts are case-insensitive");
}

#[tokio::test]
async fn invalid_and_reserved_hosts_are_rejected_with_a_code() {
    let app = spawn_app().await;
    let cases = [
        ("ab.localhost", 400, "invalid_subdomain"),
        ("-acme.localhost", 400, "invalid_subdomain"),
        ("www.localhost", 404, "tenant_not_found"),
        ("admin.localhost", 404, "tenant_not_found"),
        ("staging.localhost", 404, "tenant_not_found"),
    ];
    for (host, want_status, want_code) in cases {
        let (status, body) = app.get(host, "/api/health").await;
        assert_eq!(status, want_status, "{host}: {body}");
        assert_eq!(body["error"]["code"], want_code, "{host}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let long = format!("{}.localhost", "a".repeat(51));
    assert_eq!(app.get(&long, "/api/health").await.0, 400);
    let (status, body) = app.get("nobody-here.localhost", "/api/health").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("tenant_not_found"))
    );
}

#[tokio::test]
async fn the_gateway_only_serves_declared_hosts_and_routes() {
    let app = spawn_app().await;
    // a host outside the platform's domain, a nested tenant host: the gateway's own 404
    for (host, path) in [
        ("example.com", "/api/health"),
        ("a.b.localhost", "/api/health"),
    ] {
        let (status, body) = app.get(host, path).await;
        assert_eq!(status, 404, "{host}{path}: {body}");
        assert_eq!(body["message"], "Not Found");
    }
    // an API path no function declares reaches the front end's catch-all, which answers the
    // API's JSON 404, never a page
    for (host, path) in [
        ("acme.localhost", "/api/nope"),
        ("app.localhost", "/api/uploads/health"),
        ("api.localhost", "/admin/nope"),
    ] {
        let (status, body) = app.get(host, path).await;
        assert_eq!(status, 404, "{host}{path}: {body}");
        assert_eq!(body["error"]["code"], "route_not_found", "{host}{path}");
    }
    // a method the route does not declare
    let res = app
        .request(reqwest::Method::POST, "acme.localhost", "/api/health")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // a host with characters no DNS name has
    let res = app
        .request(reqwest::Method::GET, "acme_x'.localhost", "/api/health")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn logs_are_json_with_request_id_and_host() {
    let app = spawn_app().await;
    app.get("ab.localhost", "/api/health").await;
    let line = app
        .logs
        .lines()
        .into_iter()
        .find(|l| l["message"] == "request rejected")
        .unwrap_or_else(|| panic!("no rejection logged: {}", app.logs.text()));
    assert_eq!(line["code"], "invalid_subdomain");
    assert_eq!(line["span"]["host"], "ab.localhost");
    assert!(
        line["span"]["request_id"]
            .as_str()
            .is_some_and(|id| id.len() == 36)
    );
}
