//! `auth`: signing in on a tenant's host and managing its users. Tokens are signed with the
//! tenant's own key and are useless on any other tenant. Routes come from
//! `shared::web::api::auth::ROUTES`; the work is in `shared::identity`.

mod keys;
mod users;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::identity::login;
use shared::platform::config::{ConfigError, Env};
use shared::security::throttle::{Limits, Throttle};
use shared::store::registry::Registry;
use shared::tenancy::context::{TenantContext, TenantSettings};
use shared::web::api::auth::{Credentials, Op, PasswordChange, ROUTES};
use shared::web::http::{
    Surface, expect_host, json_body, json_response, request_path, serve, source_ip,
};
use shared::web::router::Router;

/// The function's name, as deployed and as reported by its health check.
pub const NAME: &str = "auth";

/// What the function reads at cold start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tenant: TenantSettings,
    pub limits: Limits,
}

impl Settings {
    /// The tenant-host settings and the login throttle's limits.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            tenant: TenantSettings::from_env(env)?,
            limits: Limits::from_env(env)?,
        })
    }
}

/// What the handler needs, built once per cold start.
pub struct App {
    pub tenant: TenantContext,
    pub throttle: Throttle,
    pub registry: Registry,
    pub router: Router<Op>,
}

impl App {
    /// Reads the configuration through `env` (`Env::process()` in Lambda).
    pub fn new<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        Ok(Self::from_settings(Settings::from_env(env)?, sdk))
    }

    /// One registry client for the tenant context, the throttle and user management.
    pub fn from_settings(settings: Settings, sdk: &aws_config::SdkConfig) -> Self {
        let tenant = TenantContext::from_settings(settings.tenant, sdk);
        let registry = tenant.directory.registry().clone();
        Self {
            throttle: Throttle::new(registry.clone(), settings.limits),
            registry,
            tenant,
            router: Router::new(&ROUTES),
        }
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
        Op::OpenApi => {
            shared::web::tenant::live(&app.tenant, req).await?;
            Ok(shared::web::api::openapi::response(Surface::Tenant))
        }
        op => {
            let tenant = shared::web::tenant::resolve(&app.tenant, req).await?;
            let caller = shared::web::tenant::caller(&app.tenant, req, &tenant, found.access())?;
            let ctx = users::Call {
                app,
                req,
                tenant: &tenant,
                caller: caller.as_ref(),
                id: found.param("id"),
            };
            match op {
                Op::Login => sign_in(ctx).await,
                Op::Me => Ok(json_response(
                    StatusCode::OK,
                    &login::me(&app.tenant, &tenant, ctx.signed_in()?).await?,
                )),
                Op::ChangePassword => change_password(ctx).await,
                Op::ListUsers => users::list(ctx).await,
                Op::CreateUser => users::create(ctx).await,
                Op::ChangeRole => users::update(ctx).await,
                Op::DeleteUser => users::delete(ctx).await,
                Op::RotateKeys => keys::rotate(ctx).await,
                Op::Health | Op::OpenApi => unreachable_route(),
            }
        }
    }
}

/// Answered above; kept out of `unreachable!` so no request can panic the function.
fn unreachable_route() -> Result<Response<Body>, ApiError> {
    Err(shared::web::http::route_not_found())
}

async fn sign_in(ctx: users::Call<'_>) -> Result<Response<Body>, ApiError> {
    let input: Credentials = json_body(ctx.req)?;
    let (Some(email), Some(password)) = (input.email, input.password) else {
        return Err(ApiError::bad_request(
            "missing_field",
            "email and password are required",
        ));
    };
    if email.len() > 320 {
        return Err(ApiError::bad_request(
            "invalid_email",
            "the email is too long",
        ));
    }
    let session = login::login(
        &ctx.app.tenant,
        &ctx.app.throttle,
        ctx.tenant,
        &email,
        &password,
        source_ip(ctx.req).as_deref(),
    )
    .await?;
    Ok(json_response(StatusCode::OK, &session))
}

async fn change_password(ctx: users::Call<'_>) -> Result<Response<Body>, ApiError> {
    let caller = ctx.signed_in()?;
    let input: PasswordChange = json_body(ctx.req)?;
    let (Some(current), Some(new)) = (input.current_password, input.new_password) else {
        return Err(ApiError::bad_request(
            "missing_field",
            "current_password and new_password are required",
        ));
    };
    let session =
        login::change_password(&ctx.app.tenant, ctx.tenant, caller, &current, &new).await?;
    Ok(json_response(StatusCode::OK, &session))
}

#[cfg(test)]
mod events_tests;
