//! The route tables are the one list of routes: every template route is served by its
//! function's table and every table route is in the template; a method a path does not have gets
//! 405 with `Allow` from the table; the OpenAPI documents cover every route and the committed
//! copies in `infra/openapi/` are current.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;
use shared::web::api::openapi::{document_json, file_name, routes_of};
use shared::web::api::{admin, analytics, auth, discovery, uploads, web};
use shared::web::http::Surface;
use shared::web::router::RouteSpec;

use crate::helpers::{http_event, spawn_app, template};

const SURFACES: [Surface; 3] = [Surface::App, Surface::Api, Surface::Tenant];

/// Each HTTP function's table, by binary name.
fn tables() -> Vec<(&'static str, Vec<&'static RouteSpec>)> {
    fn specs<Op>(routes: &'static [shared::web::router::Route<Op>]) -> Vec<&'static RouteSpec> {
        routes.iter().map(|r| &r.spec).collect()
    }
    vec![
        ("tenant-discovery", specs(&discovery::ROUTES)),
        ("auth", specs(&auth::ROUTES)),
        ("uploads", specs(&uploads::ROUTES)),
        ("analytics", specs(&analytics::ROUTES)),
        ("provisioning", specs(&admin::ROUTES)),
        ("web", specs(&web::ROUTES)),
    ]
}

#[test]
fn every_template_route_is_in_its_functions_table_and_back() {
    // GIVEN the SAM template's routes per function and the functions' route tables
    let functions = template().functions().expect("functions");
    for (binary, table) in tables() {
        let declared: BTreeSet<(String, String)> = functions
            .iter()
            .find(|f| f.binary == binary)
            .unwrap_or_else(|| panic!("{binary} is in the template"))
            .routes
            .iter()
            .map(|r| (r.method.clone(), r.path.clone()))
            .collect();
        // WHEN the table is listed the same way
        let served: BTreeSet<(String, String)> = table
            .iter()
            .map(|s| (s.method.as_str().to_owned(), s.path.to_owned()))
            .collect();
        // THEN they are the same set
        assert_eq!(served, declared, "{binary}: table vs template");
    }
}

fn host_of(function: &str) -> &'static str {
    match function {
        "tenant-discovery" => "app.localhost",
        "provisioning" => "api.localhost",
        _ => "acme.localhost",
    }
}

#[tokio::test]
async fn a_method_the_table_lacks_gets_405_with_allow_from_the_table_on_every_function() {
    // GIVEN every function and every path of its table (parameters filled in)
    let app = spawn_app().await;
    app.provision("acme").await;
    for (function, table) in tables() {
        let paths: BTreeSet<&str> = table.iter().map(|s| s.path).collect();
        for path in paths {
            let allowed: Vec<&str> = table
                .iter()
                .filter(|s| s.path == path)
                .map(|s| s.method.as_str())
                .collect();
            let concrete = path.replace("{id}", "00000000-0000-4000-8000-000000000000");
            // WHEN it is called with a method none of its routes has
            let res = app
                .functions
                .invoke_http(
                    function,
                    &http_event("TRACE", host_of(function), &concrete, None),
                )
                .await
                .unwrap();
            // THEN 405, with exactly the table's methods in Allow
            assert_eq!(res["statusCode"], 405, "{function} TRACE {path}: {res}");
            assert_eq!(
                res["headers"]["allow"],
                allowed.join(", "),
                "{function} {path}"
            );
            let body: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
            assert_eq!(body["error"]["code"], "method_not_allowed");
        }
    }
}

#[tokio::test]
async fn each_surface_serves_its_openapi_document_covering_every_route() {
    // GIVEN a platform with a live tenant
    let app = spawn_app().await;
    app.provision("acme").await;
    for (surface, host) in [
        (Surface::App, "app.localhost"),
        (Surface::Api, "api.localhost"),
        (Surface::Tenant, "acme.localhost"),
    ] {
        // WHEN the surface's contract is fetched through the gateway
        let (status, doc) = app.get(host, "/api/openapi.json").await;
        // THEN it is an OpenAPI 3.1 document with every route of the surface
        assert_eq!(status, 200, "{host}");
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
        for spec in routes_of(surface) {
            let path = spec.path.replace("+}", "}");
            let method = spec.method.as_str().to_ascii_lowercase();
            let op = &doc["paths"][&path][&method];
            assert!(op.is_object(), "{host}: {method} {path} missing");
            assert!(
                op["responses"][spec.ok.0.to_string()].is_object(),
                "{host}: {method} {path} lacks its success response"
            );
            // Every schema it refers to is in the document.
            for reference in refs(op) {
                let name = reference.trim_start_matches("#/components/schemas/");
                assert!(
                    doc["components"]["schemas"][name].is_object(),
                    "{host}: {reference} dangling"
                );
            }
        }
        // AND the served document is the generated one
        assert_eq!(
            doc,
            serde_json::from_str::<Value>(&document_json(surface)).unwrap()
        );
    }
}

fn refs(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| match (k.as_str(), v) {
                ("$ref", Value::String(r)) => vec![r.clone()],
                _ => refs(v),
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(refs).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn committed_openapi_documents_are_current() {
    // GIVEN the documents generated from the route tables
    for surface in SURFACES {
        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../infra/openapi")
            .join(file_name(surface));
        // WHEN compared with the committed copy
        let committed = std::fs::read_to_string(&file).unwrap_or_default();
        // THEN they are the same (`make openapi` rewrites them)
        assert!(
            committed == document_json(surface),
            "{} is stale: run `make openapi`",
            file.display()
        );
    }
}
