//! `analytics` on a tenant's host. In this version it answers its health check; the feature routes
//! follow. Routes come from `shared::web::api::analytics::ROUTES`.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::platform::config::{ConfigError, Env};
use shared::tenancy::context::{TenantContext, TenantSettings};
use shared::web::api::analytics::{Op, ROUTES};
use shared::web::http::{Surface, expect_host, json_response, request_path, serve};
use shared::web::router::Router;

/// The function's name, as deployed and as reported by its health check.
pub const NAME: &str = "analytics";

/// What the handler needs, built once per cold start.
pub struct App {
    pub tenant: TenantContext,
    pub router: Router<Op>,
}

impl App {
    /// Reads the configuration through `env` (`Env::process()` in Lambda).
    pub fn new<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            tenant: TenantContext::from_settings(TenantSettings::from_env(env)?, sdk),
            router: Router::new(&ROUTES),
        })
    }
}

/// Handles one API Gateway request.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    serve(&req, |req| route(app, req)).await
}

async fn route(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    expect_host(req, &app.tenant.platform.domain, Surface::Tenant)?;
    let found = app.router.find(req.method(), request_path(req))?;
    match found.op() {
        Op::Health => Ok(json_response(
            StatusCode::OK,
            &shared::web::tenant::health(&app.tenant, req, NAME).await?,
        )),
    }
}

#[cfg(test)]
mod events_tests;
