//! The OpenAPI 3.1 document of each surface, generated from the route tables of the functions
//! serving it and the schemas of their request and response types. `GET /api/openapi.json`
//! serves it; `make openapi` writes it to `infra/openapi/`, and a test keeps those copies in step.

use std::collections::BTreeMap;

use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem, Paths, Ref,
    Required,
};

use super::{ErrorBody, admin, analytics, auth, discovery, uploads};
use crate::domain::role::Access;
use crate::web::http::Surface;
use crate::web::router::{Route, RouteSpec, TypeDoc, doc};

/// Every route served on `surface`, in table order.
pub fn routes_of(surface: Surface) -> Vec<&'static RouteSpec> {
    fn specs<Op>(routes: &'static [Route<Op>]) -> impl Iterator<Item = &'static RouteSpec> {
        routes.iter().map(|r| &r.spec)
    }
    match surface {
        Surface::App => specs(&discovery::ROUTES).collect(),
        Surface::Api => specs(&admin::ROUTES).collect(),
        Surface::Tenant => specs(&auth::ROUTES)
            .chain(specs(&uploads::ROUTES))
            .chain(specs(&analytics::ROUTES))
            .collect(),
    }
}

/// The file name of a surface's document under `infra/openapi/`.
pub fn file_name(surface: Surface) -> &'static str {
    match surface {
        Surface::App => "app.json",
        Surface::Api => "api.json",
        Surface::Tenant => "tenant.json",
    }
}

/// The OpenAPI document of `surface`.
pub fn document(surface: Surface) -> OpenApi {
    let (title, description) = match surface {
        Surface::App => (
            "TaskifAI central login (app.<domain>)",
            "Find the tenants an email belongs to.",
        ),
        Surface::Api => (
            "TaskifAI platform admin (api.<domain>)",
            "Platform administrators provision, suspend, activate, migrate and delete tenants.",
        ),
        Surface::Tenant => (
            "TaskifAI tenant API (<tenant>.<domain>)",
            "A tenant's own API: every token is signed with this tenant's key and is refused on \
             any other tenant's host.",
        ),
    };
    let mut schemas: BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Schema>> =
        BTreeMap::new();
    let mut register = |doc: TypeDoc| -> Ref {
        schemas.extend(doc.components);
        schemas.insert(doc.name.clone(), doc.schema);
        Ref::from_schema_name(doc.name)
    };
    let error = register(doc::<ErrorBody>());

    let mut by_path: BTreeMap<&str, Vec<(HttpMethod, utoipa::openapi::path::Operation)>> =
        BTreeMap::new();
    for spec in routes_of(surface) {
        let mut op = OperationBuilder::new()
            .summary(Some(spec.summary))
            .operation_id(Some(operation_id(spec)));
        for name in path_params(spec.path) {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(string_schema())),
            );
        }
        for q in spec.query {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(q.name)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(q.description))
                    .schema(Some(string_schema())),
            );
        }
        if let Some(body) = spec.body {
            let schema = register(body());
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(schema)).build(),
                    )
                    .required(Some(Required::True))
                    .build(),
            ));
        }
        let (status, ok_body) = spec.ok;
        let mut ok = ResponseBuilder::new().description(ok_description(status));
        match ok_body {
            Some(body) => {
                let schema = register(body());
                ok = ok.content(
                    "application/json",
                    ContentBuilder::new().schema(Some(schema)).build(),
                );
            }
            None if spec.path.ends_with("openapi.json") => {
                ok = ok.content("application/json", ContentBuilder::new().build());
            }
            None => {}
        }
        op = op.response(status.to_string(), ok.build()).response(
            "default",
            ResponseBuilder::new()
                .description("An error: a stable code and a message for people")
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(error.clone())).build(),
                )
                .build(),
        );
        if spec.access != Access::Public {
            op = op.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
        }
        by_path
            .entry(spec.path)
            .or_default()
            .push((http_method(&spec.method), op.build()));
    }

    let mut paths = Paths::new();
    for (path, operations) in by_path {
        let mut item = PathItem::default();
        for (method, op) in operations {
            item.merge_operations(PathItem::new(method, op));
        }
        paths.paths.insert(openapi_path(path), item);
    }
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(title)
                .description(Some(description))
                .version(env!("CARGO_PKG_VERSION"))
                .build(),
        )
        .paths(paths)
        .components(Some(components))
        .build()
}

/// `document(surface)` as pretty JSON with a final newline: what is served and committed.
pub fn document_json(surface: Surface) -> String {
    let mut json = document(surface)
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    json.push('\n');
    json
}

/// `200` with the surface's document (`GET /api/openapi.json`), cacheable for a few minutes.
pub fn response(surface: Surface) -> lambda_http::Response<lambda_http::Body> {
    let mut res = crate::web::http::response(http::StatusCode::OK, document_json(surface));
    res.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("public, max-age=300"),
    );
    res
}

fn string_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .build()
}

fn http_method(method: &http::Method) -> HttpMethod {
    match *method {
        http::Method::POST => HttpMethod::Post,
        http::Method::PUT => HttpMethod::Put,
        http::Method::PATCH => HttpMethod::Patch,
        http::Method::DELETE => HttpMethod::Delete,
        http::Method::HEAD => HttpMethod::Head,
        http::Method::OPTIONS => HttpMethod::Options,
        _ => HttpMethod::Get,
    }
}

fn ok_description(status: u16) -> &'static str {
    match status {
        201 => "Created",
        204 => "Done; no body",
        _ => "OK",
    }
}

/// `POST /api/auth/users/{id}` → `post_api_auth_users_id`.
fn operation_id(spec: &RouteSpec) -> String {
    let path: String = spec
        .path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let path: Vec<&str> = path.split('_').filter(|s| !s.is_empty()).collect();
    format!(
        "{}_{}",
        spec.method.as_str().to_ascii_lowercase(),
        path.join("_")
    )
}

/// The `{name}` and `{name+}` parameters of a template path.
fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter_map(|s| {
        s.strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .map(|s| s.trim_end_matches('+'))
    })
}

/// OpenAPI writes a greedy parameter as a plain one.
fn openapi_path(path: &str) -> String {
    path.replace("+}", "}")
}
