//! `provisioning`: the platform-admin API on `api.<domain>` — login, tenant lifecycle
//! (create, list, get, suspend, activate), the jobs that delete a tenant and migrate every
//! tenant (started here, run by `admin-jobs`) and the audit log. The work is
//! done by `shared::control_plane::provisioning` / `shared::control_plane::lifecycle`, which `tenantctl` uses too.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::control_plane::jobs::StartedJob;
use shared::control_plane::provisioning::{
    ControlPlane, ControlPlaneError, NewTenant, NewTenantInput, control_plane_from_env,
};
use shared::domain::role::Access;
use shared::identity::admins::{AdminAuth, TOKEN_TTL_SECONDS};
use shared::platform::config::{ConfigError, Env};
use shared::store::mail::SesMailer;
use shared::store::registry::TenantRecord;
use shared::store::secrets::AwsSecretStore;
use shared::web::api::admin::{
    AdminSession, AuditPage, CreatedTenant, Op, ROUTES, TenantList, TenantView,
};
use shared::web::api::auth::Credentials;
use shared::web::http::{
    Health, Surface, expect_host, header, json_body, json_response, paging, query, request_path,
    serve, source_ip,
};
use shared::web::router::Router;
use uuid::Uuid;

/// The function's name, as deployed and as reported by its health check.
pub const NAME: &str = "provisioning";

/// What the handler needs, built once per cold start.
pub struct App {
    pub plane: ControlPlane<AwsSecretStore, SesMailer>,
    pub auth: AdminAuth<AwsSecretStore>,
    pub router: Router<Op>,
}

impl App {
    pub fn new<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        let (plane, auth) = control_plane_from_env(env, sdk)?;
        Ok(Self {
            plane,
            auth,
            router: Router::new(&ROUTES),
        })
    }
}

/// Handles one API Gateway request.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    serve(&req, |req| route(app, req)).await
}

async fn route(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let host = expect_host(req, &app.plane.settings.platform.domain, Surface::Api)?;
    let found = app.router.find(req.method(), request_path(req))?;
    let actor = match found.access() {
        Access::PlatformAdmin => {
            let admin = app.auth.authenticate(header(req, "authorization")).await?;
            format!("admin:{}", admin.sub)
        }
        _ => String::new(),
    };
    let id = || tenant_id(found.param("id"));
    match found.op() {
        Op::Health => Ok(json_response(StatusCode::OK, &Health::new(NAME, &host))),
        Op::OpenApi => Ok(shared::web::api::openapi::response(Surface::Api)),
        Op::Login => login(app, req).await,
        Op::ListTenants => {
            let (limit, cursor) = paging(req)?;
            let page = app.plane.list_tenants(limit, cursor.as_deref()).await?;
            let tenants = page.items.iter().map(|t| tenant_view(app, t)).collect();
            Ok(json_response(
                StatusCode::OK,
                &TenantList {
                    tenants,
                    next_cursor: page.next_cursor,
                },
            ))
        }
        Op::CreateTenant => create_tenant(app, req, &actor).await,
        Op::GetTenant => {
            let tenant = app.plane.get_tenant(&id()?).await?;
            Ok(json_response(StatusCode::OK, &tenant_view(app, &tenant)))
        }
        Op::Suspend => {
            let tenant = app.plane.suspend(&id()?, &actor).await?;
            Ok(json_response(StatusCode::OK, &tenant_view(app, &tenant)))
        }
        Op::Activate => {
            let tenant = app.plane.activate(&id()?, &actor).await?;
            Ok(json_response(StatusCode::OK, &tenant_view(app, &tenant)))
        }
        Op::DeleteTenant => started(app.plane.start_deletion(&id()?, &actor).await?),
        Op::MigrateAll => started(app.plane.start_migrations(&actor).await?),
        Op::GetJob => {
            let (limit, cursor) = paging(req)?;
            let job_id = Uuid::parse_str(found.param("id"))
                .map_err(|_| ApiError::bad_request("invalid_job_id", "job ids are UUIDs"))?;
            let job = app.plane.job(&job_id, limit, cursor.as_deref()).await?;
            Ok(json_response(StatusCode::OK, &job))
        }
        Op::Audit => {
            let (limit, cursor) = paging(req)?;
            let tenant = query(req, "tenant_id")
                .map(|id| tenant_id(&id))
                .transpose()?;
            let page = app
                .plane
                .audit
                .list(tenant.as_ref(), limit, cursor.as_deref())
                .await
                .map_err(ControlPlaneError::from)?;
            Ok(json_response(
                StatusCode::OK,
                &AuditPage {
                    events: page.items,
                    next_cursor: page.next_cursor,
                },
            ))
        }
    }
}

async fn login(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let input: Credentials = json_body(req)?;
    let (Some(email), Some(password)) = (input.email, input.password) else {
        return Err(ApiError::bad_request(
            "missing_field",
            "email and password are required",
        ));
    };
    let token = app
        .auth
        .login(&email, &password, source_ip(req).as_deref())
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &AdminSession {
            access_token: token,
            token_type: "Bearer".into(),
            expires_in: TOKEN_TTL_SECONDS,
        },
    ))
}

async fn create_tenant(app: &App, req: &Request, actor: &str) -> Result<Response<Body>, ApiError> {
    let input: NewTenantInput = json_body(req)?;
    let request = NewTenant::parse(input, &app.plane.settings.platform.domain)?;
    let key = header(req, "idempotency-key")
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let provisioned = app.plane.provision(&request, &key, actor, &|_| {}).await?;
    let t = &provisioned.tenant;
    let mut res = json_response(
        StatusCode::CREATED,
        &CreatedTenant {
            tenant_id: t.tenant_id,
            subdomain: t.subdomain.clone(),
            status: t.status,
            created_at: t.created_at,
            access_url: provisioned.access_url.clone(),
        },
    );
    if provisioned.replayed {
        res.headers_mut().insert(
            "idempotent-replayed",
            http::HeaderValue::from_static("true"),
        );
    }
    Ok(res)
}

/// `202 Accepted` with the job and a `Location` to follow.
fn started(job: StartedJob) -> Result<Response<Body>, ApiError> {
    let mut res = json_response(StatusCode::ACCEPTED, &job);
    if let Ok(location) = http::HeaderValue::from_str(&job.status_url) {
        res.headers_mut().insert(http::header::LOCATION, location);
    }
    Ok(res)
}

fn tenant_view(app: &App, t: &TenantRecord) -> TenantView {
    TenantView::new(t, app.plane.settings.platform.tenant_url(&t.subdomain))
}

fn tenant_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw)
        .map_err(|_| ApiError::bad_request("invalid_tenant_id", "tenant ids are UUIDs"))
}

#[cfg(test)]
mod events_tests;
