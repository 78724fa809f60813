//! The API contract: every HTTP function's route table with the request and response types its
//! routes take and return, and the OpenAPI 3.1 document of each surface, generated from them.
//! Functions dispatch on these tables; nothing else lists routes.

pub mod admin;
pub mod analytics;
pub mod auth;
pub mod discovery;
pub mod openapi;
pub mod uploads;
pub mod web;

use http::Method;
use serde::Serialize;

use crate::domain::role::Access;
use crate::web::router::{DocFn, QueryParam, Route, RouteSpec, doc};

/// One route of a table (`const`, so tables are statics).
#[allow(clippy::too_many_arguments)]
pub(crate) const fn route<Op>(
    op: Op,
    method: Method,
    path: &'static str,
    access: Access,
    summary: &'static str,
    query: &'static [QueryParam],
    body: Option<DocFn>,
    ok: (u16, Option<DocFn>),
) -> Route<Op> {
    Route {
        op,
        spec: RouteSpec {
            method,
            path,
            access,
            summary,
            query,
            body,
            ok,
        },
    }
}

/// `GET <path>`, public, answering [`crate::web::http::Health`]: every function's health check.
pub(crate) const fn health<Op>(op: Op, path: &'static str) -> Route<Op> {
    route(
        op,
        Method::GET,
        path,
        Access::Public,
        "Health check: the function, its surface and, on a tenant host, the tenant",
        &[],
        None,
        (200, Some(doc::<crate::web::http::Health>)),
    )
}

/// `GET /api/openapi.json`, public: the surface's OpenAPI document.
pub(crate) const fn openapi<Op>(op: Op) -> Route<Op> {
    route(
        op,
        Method::GET,
        "/api/openapi.json",
        Access::Public,
        "This surface's API contract (OpenAPI 3.1)",
        &[],
        None,
        (200, None),
    )
}

/// The body of every error response: `{"error":{"code","message"}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A stable, machine-readable code and a message for people.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}
