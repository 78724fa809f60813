//! `analytics`: sales analytics on a tenant's host.
//! In this version it answers health checks on its host; the feature routes follow.

use lambda_http::{Body, Request, Response};
use shared::config::{ConfigError, DomainConfig, Env};
use shared::http::{Surface, expect_host, health_route, serve};

/// The function's name, as deployed and as reported by its health check.
pub const NAME: &str = "analytics";

/// What the handler needs, built once per cold start.
pub struct App {
    pub domain: DomainConfig,
}

impl App {
    /// Reads the configuration through `env` (`Env::process()` in Lambda).
    pub fn new<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            domain: DomainConfig::from_env(env)?,
        })
    }
}

/// Handles one API Gateway request.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    serve(&req, |req| async move {
        let host = expect_host(req, &app.domain, Surface::Tenant)?;
        health_route(req, &host, NAME)
    })
    .await
}
