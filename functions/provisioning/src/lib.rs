//! `provisioning`: the platform-admin API on `api.<domain>` — login, tenant lifecycle
//! (create, list, get, suspend, activate, delete), migrate-all and the audit log. The work is
//! done by `shared::provisioning` / `shared::lifecycle`, which `tenantctl` uses too.

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use shared::ApiError;
use shared::admin_auth::AdminAuth;
use shared::config::{ConfigError, Env};
use shared::http::{
    Surface, expect_host, header, health_route, json_body, json_response, paging, query,
    request_path, route_not_found, serve,
};
use shared::mail::SesMailer;
use shared::provisioning::{ControlPlane, NewTenant, NewTenantInput, control_plane_from_env};
use shared::secrets::AwsSecretStore;
use uuid::Uuid;

/// The function's name, as deployed and as reported by its health check.
pub const NAME: &str = "provisioning";

/// What the handler needs, built once per cold start.
pub struct App {
    pub plane: ControlPlane<AwsSecretStore, SesMailer>,
    pub auth: AdminAuth<AwsSecretStore>,
}

impl App {
    pub async fn new<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        let (plane, auth) = control_plane_from_env(env, sdk).await?;
        Ok(Self { plane, auth })
    }
}

/// Handles one API Gateway request.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    serve(&req, |req| route(app, req)).await
}

async fn route(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let host = expect_host(req, &app.plane.settings.domain, Surface::Api)?;
    let path = request_path(req).trim_end_matches('/').to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = req.method().clone();
    if !matches!(segments.first(), Some(&"admin")) {
        return health_route(req, &host, NAME);
    }
    if segments == ["admin", "login"] {
        return match method {
            Method::POST => login(app, req).await,
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    let admin = app.auth.authenticate(header(req, "authorization")).await?;
    let actor = format!("admin:{}", admin.sub);
    match (method, &segments[1..]) {
        (Method::GET, ["tenants"]) => {
            let (limit, cursor) = paging(req)?;
            let page = app.plane.list_tenants(limit, cursor.as_deref()).await?;
            let items: Vec<_> = page.items.iter().map(|t| tenant_json(app, t)).collect();
            Ok(json_response(
                StatusCode::OK,
                &json!({"tenants": items, "next_cursor": page.next_cursor}),
            ))
        }
        (Method::POST, ["tenants"]) => create_tenant(app, req, &actor).await,
        (Method::GET, ["tenants", id]) => {
            let tenant = app.plane.get_tenant(&tenant_id(id)?).await?;
            Ok(json_response(StatusCode::OK, &tenant_json(app, &tenant)))
        }
        (Method::PATCH, ["tenants", id, "suspend"]) => {
            let tenant = app.plane.suspend(&tenant_id(id)?, &actor).await?;
            Ok(json_response(StatusCode::OK, &tenant_json(app, &tenant)))
        }
        (Method::PATCH, ["tenants", id, "activate"]) => {
            let tenant = app.plane.activate(&tenant_id(id)?, &actor).await?;
            Ok(json_response(StatusCode::OK, &tenant_json(app, &tenant)))
        }
        (Method::DELETE, ["tenants", id]) => {
            let report = app.plane.delete_tenant(&tenant_id(id)?, &actor).await?;
            Ok(json_response(StatusCode::OK, &report))
        }
        (Method::POST, ["migrations"]) => {
            let run = app.plane.migrate_all(&actor).await?;
            let status = if run.failed == 0 {
                StatusCode::OK
            } else {
                StatusCode::MULTI_STATUS
            };
            Ok(json_response(status, &run))
        }
        (Method::GET, ["audit"]) => {
            let (limit, cursor) = paging(req)?;
            let tenant = query(req, "tenant_id")
                .map(|id| tenant_id(&id))
                .transpose()?;
            let page = app
                .plane
                .audit
                .list(tenant.as_ref(), limit, cursor.as_deref())
                .await
                .map_err(shared::provisioning::ControlPlaneError::from)?;
            Ok(json_response(
                StatusCode::OK,
                &json!({"events": page.items, "next_cursor": page.next_cursor}),
            ))
        }
        (
            _,
            ["tenants"]
            | ["tenants", _]
            | ["tenants", _, "suspend" | "activate"]
            | ["migrations"]
            | ["audit"],
        ) => Err(ApiError::method_not_allowed()),
        _ => Err(route_not_found()),
    }
}

#[derive(Deserialize)]
struct LoginInput {
    email: Option<String>,
    password: Option<SecretString>,
}

async fn login(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let input: LoginInput = json_body(req)?;
    let (Some(email), Some(password)) = (input.email, input.password) else {
        return Err(ApiError::bad_request(
            "missing_field",
            "email and password are required",
        ));
    };
    let token = app.auth.login(&email, &password).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"access_token": token, "token_type": "Bearer", "expires_in": shared::admin_auth::TOKEN_TTL_SECONDS}),
    ))
}

async fn create_tenant(app: &App, req: &Request, actor: &str) -> Result<Response<Body>, ApiError> {
    let input: NewTenantInput = json_body(req)?;
    let request = NewTenant::parse(input, &app.plane.settings.domain)?;
    let key = header(req, "idempotency-key")
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let provisioned = app.plane.provision(&request, &key, actor, &|_| {}).await?;
    let t = &provisioned.tenant;
    let mut res = json_response(
        StatusCode::CREATED,
        &json!({
            "tenant_id": t.tenant_id,
            "subdomain": t.subdomain,
            "status": t.status,
            "created_at": t.created_at,
            "access_url": provisioned.access_url,
        }),
    );
    if provisioned.replayed {
        res.headers_mut().insert(
            "idempotent-replayed",
            http::HeaderValue::from_static("true"),
        );
    }
    Ok(res)
}

fn tenant_json(app: &App, t: &shared::registry::TenantRecord) -> serde_json::Value {
    json!({
        "tenant_id": t.tenant_id,
        "subdomain": t.subdomain,
        "company_name": t.company_name,
        "admin_email": t.admin_email,
        "status": t.status,
        "schema_version": t.schema_version,
        "steps": t.steps,
        "failure": t.failure,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
        "access_url": app.plane.settings.access_url(&t.subdomain),
    })
}

fn tenant_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw)
        .map_err(|_| ApiError::bad_request("invalid_tenant_id", "tenant ids are UUIDs"))
}
