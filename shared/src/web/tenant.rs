//! The web side of `tenancy`: a tenant host's request resolved to its tenant (from the host) and
//! its caller (from `Authorization`, as the route's access rule asks).

use lambda_http::Request;

use crate::domain::host::HostKind;
use crate::domain::role::Access;
use crate::domain::subdomain::Subdomain;
use crate::store::secrets::SecretStore;
use crate::tenancy::context::{Caller, Tenant, TenantContext};
use crate::tenancy::directory::ResolvedTenant;
use crate::web::error::ApiError;
use crate::web::http::{Health, Surface, expect_host, header, route_not_found};

/// The tenant subdomain the request addresses (400/404 for hosts that are not a tenant's).
pub fn subdomain<S: SecretStore>(
    ctx: &TenantContext<S>,
    req: &Request,
) -> Result<Subdomain, ApiError> {
    match expect_host(req, &ctx.platform.domain, Surface::Tenant)? {
        HostKind::Tenant(subdomain) => Ok(subdomain),
        HostKind::App | HostKind::Api => Err(route_not_found()),
    }
}

/// The live tenant of the request's host, without its secret (public tenant routes).
pub async fn live<S: SecretStore>(
    ctx: &TenantContext<S>,
    req: &Request,
) -> Result<ResolvedTenant, ApiError> {
    Ok(ctx.live_tenant(&subdomain(ctx, req)?).await?)
}

/// The live tenant of the request's host, with its secret.
pub async fn resolve<S: SecretStore>(
    ctx: &TenantContext<S>,
    req: &Request,
) -> Result<Tenant, ApiError> {
    Ok(ctx.resolve(&subdomain(ctx, req)?).await?)
}

/// The caller `access` asks for, from the request's `Authorization` header.
pub fn caller<S: SecretStore>(
    ctx: &TenantContext<S>,
    req: &Request,
    tenant: &Tenant,
    access: Access,
) -> Result<Option<Caller>, ApiError> {
    Ok(ctx.caller(header(req, "authorization"), tenant, access)?)
}

/// The live tenant of the request's host and its signed-in caller, as `access` requires (401
/// `missing_token` without one): the start of every tenant route that needs a token.
pub async fn signed_in<S: SecretStore>(
    ctx: &TenantContext<S>,
    req: &Request,
    access: Access,
) -> Result<(Tenant, Caller), ApiError> {
    let tenant = resolve(ctx, req).await?;
    let caller = caller(ctx, req, &tenant, access)?.ok_or_else(|| {
        ApiError::unauthorized("missing_token", "send Authorization: Bearer <token>")
    })?;
    Ok((tenant, caller))
}

/// `GET …/health` on a tenant host: the function, and the live tenant it resolved.
pub async fn health<S: SecretStore>(
    ctx: &TenantContext<S>,
    req: &Request,
    function: &'static str,
) -> Result<Health, ApiError> {
    let tenant = live(ctx, req).await?;
    let mut health = Health::new(function, &HostKind::Tenant(tenant.subdomain));
    health.tenant_id = Some(tenant.tenant_id.to_string());
    Ok(health)
}
