//! `auth`: signing in on a tenant's host and managing its users. Tokens are signed with the
//! tenant's own key and are useless on any other tenant. The work is in `shared::tenant_auth`
//! and `shared::tenant_users`; this crate parses requests and shapes responses.

mod keys;
mod users;

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use secrecy::SecretString;
use serde::Deserialize;
use shared::ApiError;
use shared::config::{ConfigError, Env};
use shared::http::{json_body, json_response, request_path, route_not_found, serve, source_ip};
use shared::registry::Registry;
use shared::tenant_auth;
use shared::tenant_context::TenantContext;
use shared::throttle::Throttle;

/// The function's name, as deployed and as reported by its health check.
pub const NAME: &str = "auth";

/// What the handler needs, built once per cold start.
pub struct App {
    pub tenant: TenantContext,
    pub throttle: Throttle,
    pub registry: Registry,
}

impl App {
    /// Reads the configuration through `env` (`Env::process()` in Lambda).
    pub fn new<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        let registry = Registry::new(
            aws_sdk_dynamodb::Client::new(sdk),
            env.required("REGISTRY_TABLE")?,
        );
        Ok(Self {
            tenant: TenantContext::from_env(env, sdk)?,
            throttle: Throttle::from_env(env, registry.clone())?,
            registry,
        })
    }
}

/// Handles one API Gateway request.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    serve(&req, |req| route(app, req)).await
}

async fn route(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let path = request_path(req).trim_end_matches('/').to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if !matches!(segments.as_slice(), ["api", "auth", ..]) {
        return app.tenant.health(req, NAME).await;
    }
    let tenant = app.tenant.resolve(req).await?;
    let method = req.method().clone();
    match (method, &segments[2..]) {
        (Method::POST, ["login"]) => {
            let input: Credentials = json_body(req)?;
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
            let session = tenant_auth::login(
                &app.tenant,
                &app.throttle,
                &tenant,
                &email,
                &password,
                source_ip(req).as_deref(),
            )
            .await?;
            Ok(json_response(StatusCode::OK, &session))
        }
        (Method::GET, ["me"]) => {
            let caller = app.tenant.authenticate_any(req, &tenant).await?;
            Ok(json_response(
                StatusCode::OK,
                &tenant_auth::me(&app.tenant, &tenant, &caller).await?,
            ))
        }
        (Method::POST, ["password"]) => {
            let caller = app.tenant.authenticate_any(req, &tenant).await?;
            let input: PasswordChange = json_body(req)?;
            let (Some(current), Some(new)) = (input.current_password, input.new_password) else {
                return Err(ApiError::bad_request(
                    "missing_field",
                    "current_password and new_password are required",
                ));
            };
            let session =
                tenant_auth::change_password(&app.tenant, &tenant, &caller, &current, &new).await?;
            Ok(json_response(StatusCode::OK, &session))
        }
        (Method::GET, ["users"]) => users::list(app, req, &tenant).await,
        (Method::POST, ["users"]) => users::create(app, req, &tenant).await,
        (Method::PATCH, ["users", id]) => users::update(app, req, &tenant, id).await,
        (Method::DELETE, ["users", id]) => users::delete(app, req, &tenant, id).await,
        (Method::POST, ["keys", "rotate"]) => keys::rotate(app, req, &tenant).await,
        (_, ["login" | "me" | "password" | "users"] | ["users", _] | ["keys", "rotate"]) => {
            Err(ApiError::method_not_allowed())
        }
        _ => Err(route_not_found()),
    }
}

#[derive(Deserialize)]
struct Credentials {
    email: Option<String>,
    password: Option<SecretString>,
}

#[derive(Deserialize)]
struct PasswordChange {
    current_password: Option<SecretString>,
    new_password: Option<SecretString>,
}
