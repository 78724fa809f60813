//! `provisioning` on `api.<domain>`: platform-admin sign-in and the tenant lifecycle.

use chrono::{DateTime, Utc};
use http::Method;
use serde::Serialize;
use uuid::Uuid;

use crate::control_plane::jobs::{JobView, StartedJob};
use crate::control_plane::provisioning::NewTenantInput;
use crate::domain::role::Access;
use crate::store::audit::AuditEvent;
use crate::store::registry::{Failure, StepProgress, TenantRecord, TenantStatus};
use crate::web::api::auth::Credentials;
use crate::web::router::{PAGING, QueryParam, Route, RouteSpec, doc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Health,
    OpenApi,
    Login,
    ListTenants,
    CreateTenant,
    GetTenant,
    DeleteTenant,
    Suspend,
    Activate,
    MigrateAll,
    GetJob,
    Audit,
}

const AUDIT_QUERY: &[QueryParam] = &[
    PAGING[0],
    PAGING[1],
    QueryParam {
        name: "tenant_id",
        description: "only this tenant's events",
    },
];

pub static ROUTES: [Route<Op>; 12] = [
    super::health(Op::Health, "/api/health"),
    super::openapi(Op::OpenApi),
    Route {
        op: Op::Login,
        spec: RouteSpec {
            method: Method::POST,
            path: "/admin/login",
            access: Access::Public,
            summary: "Platform-admin sign-in: a platform token",
            query: &[],
            body: Some(doc::<Credentials>),
            ok: (200, Some(doc::<AdminSession>)),
        },
    },
    super::route(
        Op::ListTenants,
        Method::GET,
        "/admin/tenants",
        Access::PlatformAdmin,
        "Tenants, oldest first",
        PAGING,
        None,
        (200, Some(doc::<TenantList>)),
    ),
    super::route(
        Op::CreateTenant,
        Method::POST,
        "/admin/tenants",
        Access::PlatformAdmin,
        "Provision a tenant (send an Idempotency-Key header to retry safely)",
        &[],
        Some(doc::<NewTenantInput>),
        (201, Some(doc::<CreatedTenant>)),
    ),
    super::route(
        Op::GetTenant,
        Method::GET,
        "/admin/tenants/{id}",
        Access::PlatformAdmin,
        "A tenant: status, provisioning steps with timings, failure, schema version",
        &[],
        None,
        (200, Some(doc::<TenantView>)),
    ),
    super::route(
        Op::DeleteTenant,
        Method::DELETE,
        "/admin/tenants/{id}",
        Access::PlatformAdmin,
        "Start a job that archives the tenant's tables to S3, then drops its database, role, secret and registry items",
        &[],
        None,
        (202, Some(doc::<StartedJob>)),
    ),
    super::route(
        Op::Suspend,
        Method::PATCH,
        "/admin/tenants/{id}/suspend",
        Access::PlatformAdmin,
        "Suspend: the tenant's hosts answer 403 within the registry cache TTL",
        &[],
        None,
        (200, Some(doc::<TenantView>)),
    ),
    super::route(
        Op::Activate,
        Method::PATCH,
        "/admin/tenants/{id}/activate",
        Access::PlatformAdmin,
        "Activate a suspended tenant",
        &[],
        None,
        (200, Some(doc::<TenantView>)),
    ),
    super::route(
        Op::MigrateAll,
        Method::POST,
        "/admin/migrations",
        Access::PlatformAdmin,
        "Migrate the template now, then start a job bringing every tenant database to the latest schema",
        &[],
        None,
        (202, Some(doc::<StartedJob>)),
    ),
    super::route(
        Op::GetJob,
        Method::GET,
        "/admin/jobs/{id}",
        Access::PlatformAdmin,
        "A job's progress and a page of its per-tenant results",
        PAGING,
        None,
        (200, Some(doc::<JobView>)),
    ),
    super::route(
        Op::Audit,
        Method::GET,
        "/admin/audit",
        Access::PlatformAdmin,
        "The append-only audit log, newest first",
        AUDIT_QUERY,
        None,
        (200, Some(doc::<AuditPage>)),
    ),
];

/// `POST /admin/login`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminSession {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
}

/// A tenant as the admin API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantView {
    pub tenant_id: Uuid,
    pub subdomain: String,
    pub company_name: String,
    pub admin_email: String,
    pub status: TenantStatus,
    pub schema_version: i32,
    pub steps: Vec<StepProgress>,
    pub failure: Option<Failure>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub access_url: String,
}

impl TenantView {
    pub fn new(t: &TenantRecord, access_url: String) -> Self {
        Self {
            tenant_id: t.tenant_id,
            subdomain: t.subdomain.clone(),
            company_name: t.company_name.clone(),
            admin_email: t.admin_email.clone(),
            status: t.status,
            schema_version: t.schema_version,
            steps: t.steps.clone(),
            failure: t.failure.clone(),
            created_at: t.created_at,
            updated_at: t.updated_at,
            access_url,
        }
    }
}

/// `GET /admin/tenants`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantList {
    pub tenants: Vec<TenantView>,
    pub next_cursor: Option<String>,
}

/// `POST /admin/tenants`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedTenant {
    pub tenant_id: Uuid,
    pub subdomain: String,
    pub status: TenantStatus,
    pub created_at: DateTime<Utc>,
    pub access_url: String,
}

/// `GET /admin/audit`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    pub next_cursor: Option<String>,
}
