//! Admin-only user management: `GET`/`POST /api/auth/users`, `PATCH`/`DELETE
//! /api/auth/users/{id}`. The rules live in `shared::tenant_users`.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use shared::ApiError;
use shared::http::{json_body, json_response};
use shared::tenant_context::{Role, Tenant};
use shared::tenant_users::{self, NewUser, NewUserInput, parse_role, parse_user_id};

use crate::App;

/// `200 {"users": [UserView…]}`, ordered by email.
pub async fn list(app: &App, req: &Request, tenant: &Tenant) -> Result<Response<Body>, ApiError> {
    let caller = app.tenant.authenticate(req, tenant, Role::Admin).await?;
    let users = tenant_users::list_users(&app.tenant, tenant, &caller).await?;
    Ok(json_response(StatusCode::OK, &json!({ "users": users })))
}

/// `{email, full_name, role}` → `201 {"user": UserView, "temporary_password": "…"}`.
pub async fn create(app: &App, req: &Request, tenant: &Tenant) -> Result<Response<Body>, ApiError> {
    let caller = app.tenant.authenticate(req, tenant, Role::Admin).await?;
    let new = NewUser::parse(json_body::<NewUserInput>(req)?)?;
    let created =
        tenant_users::create_user(&app.tenant, &app.registry, tenant, &caller, new).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({
            "user": created.user,
            // Shown once, to the admin who hands it over; only its hash is stored.
            "temporary_password": created.temporary_password.expose_secret(),
        }),
    ))
}

#[derive(Deserialize)]
struct RoleChange {
    role: Option<String>,
}

/// `{role}` → `200 UserView`.
pub async fn update(
    app: &App,
    req: &Request,
    tenant: &Tenant,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let caller = app.tenant.authenticate(req, tenant, Role::Admin).await?;
    let user_id = parse_user_id(id)?;
    let change: RoleChange = json_body(req)?;
    let role = parse_role(change.role.as_deref())?;
    let user =
        tenant_users::change_role(&app.tenant, &app.registry, tenant, &caller, user_id, role)
            .await?;
    Ok(json_response(StatusCode::OK, &user))
}

/// `204`, no body.
pub async fn delete(
    app: &App,
    req: &Request,
    tenant: &Tenant,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let caller = app.tenant.authenticate(req, tenant, Role::Admin).await?;
    let user_id = parse_user_id(id)?;
    tenant_users::delete_user(&app.tenant, &app.registry, tenant, &caller, user_id).await?;
    let mut res = Response::new(Body::Empty);
    *res.status_mut() = StatusCode::NO_CONTENT;
    res.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}
