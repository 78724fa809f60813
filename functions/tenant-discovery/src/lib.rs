//! `tenant-discovery`: the central login at `app.<domain>`. `POST /api/discover {"email"}` lists
//! the active tenants an email belongs to, with their login URLs, so the login page can send the
//! user to the right host. An unknown email gets the same answer shape as a known one (no account
//! enumeration), and every request is throttled per source address and per email.

use futures_util::{StreamExt, TryStreamExt, stream};
use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::domain::email::Email;
use shared::platform::config::{ConfigError, Env, PlatformSettings};
use shared::security::throttle::{Limits, Throttle, ThrottleKey};
use shared::store::registry::{Registry, TenantStatus};
use shared::web::api::discovery::{DiscoveredTenant, Discovery, Op, ROUTES};
use shared::web::http::{
    Health, Surface, expect_host, json_body, json_response, request_path, serve, source_ip,
};
use shared::web::router::Router;
use uuid::Uuid;

/// The function's name, as deployed and as reported by its health check.
pub const NAME: &str = "tenant-discovery";

/// Tenant records read at once for one discovery.
const CONCURRENT_LOOKUPS: usize = 8;

/// What the function reads at cold start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub platform: PlatformSettings,
    pub limits: Limits,
}

impl Settings {
    /// The platform's settings and the throttle's limits.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            platform: PlatformSettings::from_env(env)?,
            limits: Limits::from_env(env)?,
        })
    }
}

/// What the handler needs, built once per cold start.
pub struct App {
    pub platform: PlatformSettings,
    pub registry: Registry,
    pub throttle: Throttle,
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

    /// Builds the registry client once; the throttle shares it.
    pub fn from_settings(settings: Settings, sdk: &aws_config::SdkConfig) -> Self {
        let registry = Registry::new(
            aws_sdk_dynamodb::Client::new(sdk),
            &settings.platform.tables,
        );
        Self {
            throttle: Throttle::new(registry.clone(), settings.limits),
            registry,
            platform: settings.platform,
            router: Router::new(&ROUTES),
        }
    }
}

/// Handles one API Gateway request.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    serve(&req, |req| async move {
        let host = expect_host(req, &app.platform.domain, Surface::App)?;
        match app.router.find(req.method(), request_path(req))?.op() {
            Op::Health => Ok(json_response(
                http::StatusCode::OK,
                &Health::new(NAME, &host),
            )),
            Op::OpenApi => Ok(shared::web::api::openapi::response(Surface::App)),
            Op::Discover => discover(app, req).await,
        }
    })
    .await
}

/// `POST /api/discover`.
async fn discover(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let email = discover_email(req);
    // Every request counts against its source address, malformed ones too; a valid email is
    // also counted on its own, so spreading requests over many addresses does not help either.
    let mut keys = vec![ThrottleKey::discover_ip(
        source_ip(req).as_deref().unwrap_or("unknown"),
    )];
    if let Ok(email) = &email {
        keys.push(ThrottleKey::discover_email(email));
    }
    app.throttle.hit(&keys).await?;
    let tenants = active_tenants_of(app, &email?).await?;
    tracing::info!(tenants = tenants.len(), "discovery answered");
    Ok(json_response(http::StatusCode::OK, &Discovery { tenants }))
}

/// The email of a discovery request; the error says which of body, field or value is wrong.
fn discover_email(req: &Request) -> Result<Email, ApiError> {
    // A JSON object, read loosely so a missing, `null` or non-string email gets its own code.
    let body: serde_json::Map<String, serde_json::Value> = json_body(req)?;
    let invalid = || ApiError::bad_request("invalid_email", "email is not a valid email address");
    match body.get("email") {
        None | Some(serde_json::Value::Null) => Err(ApiError::bad_request(
            "missing_field",
            "the body needs an \"email\" field",
        )),
        Some(serde_json::Value::String(raw)) => Email::parse(raw).map_err(|_| invalid()),
        Some(_) => Err(invalid()),
    }
}

/// The active tenants `email` belongs to, sorted by display name.
async fn active_tenants_of(app: &App, email: &Email) -> Result<Vec<DiscoveredTenant>, ApiError> {
    let internal = |e: shared::store::registry::RegistryError| ApiError::internal(&e);
    let memberships = app
        .registry
        .memberships_of_email(email.as_str())
        .await
        .map_err(internal)?;
    if memberships.is_empty() {
        // An unknown email costs the same registry round trips as a known one, so response time
        // does not tell which emails have accounts.
        app.registry
            .get_tenant(&Uuid::nil())
            .await
            .map_err(internal)?;
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = memberships.iter().map(|m| m.tenant_id).collect();
    let records: Vec<_> = stream::iter(ids)
        .map(|id| async move { app.registry.get_tenant(&id).await })
        .buffered(CONCURRENT_LOOKUPS)
        .try_collect()
        .await
        .map_err(internal)?;
    let mut tenants: Vec<DiscoveredTenant> = memberships
        .into_iter()
        .zip(records)
        .filter_map(|(membership, record)| {
            // Suspended, failed, half-provisioned or deleted tenants are not offered.
            let record = record.filter(|r| r.status == TenantStatus::Active)?;
            Some(DiscoveredTenant {
                tenant_id: record.tenant_id,
                login_url: app.platform.tenant_url(&record.subdomain),
                subdomain: record.subdomain,
                display_name: membership.display_name,
            })
        })
        .collect();
    tenants.sort_by_cached_key(|t| (t.display_name.to_lowercase(), t.subdomain.clone()));
    Ok(tenants)
}

#[cfg(test)]
mod events_tests;
