//! `analytics`: sales analytics on a tenant's host.
//! In this version it answers health checks on its host; the feature routes follow.

use lambda_http::{Body, Request, Response};
use shared::config::{ConfigError, Env};
use shared::http::serve;
use shared::tenant_context::TenantContext;

/// The function's name, as deployed and as reported by its health check.
pub const NAME: &str = "analytics";

/// What the handler needs, built once per cold start.
pub struct App {
    pub tenant: TenantContext,
}

impl App {
    /// Reads the configuration through `env` (`Env::process()` in Lambda).
    pub fn new<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            tenant: TenantContext::from_env(env, sdk)?,
        })
    }
}

/// Handles one API Gateway request.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    serve(&req, |req| app.tenant.health(req, NAME)).await
}
