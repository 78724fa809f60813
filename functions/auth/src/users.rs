//! Admin-only user management: `GET`/`POST /api/auth/users`, `PATCH`/`DELETE
//! /api/auth/users/{id}`. The rules live in `shared::identity::users`.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use secrecy::ExposeSecret;
use shared::ApiError;
use shared::identity::users::{self, NewUser, NewUserInput, parse_role, parse_user_id};
use shared::tenancy::context::{Caller, Tenant};
use shared::web::api::auth::{CreatedUserView, RoleChange, UserList};
use shared::web::http::{json_body, json_response, no_content};

use crate::App;

/// One routed request: the tenant, and the caller its route's access rule verified.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub app: &'a App,
    pub req: &'a Request,
    pub tenant: &'a Tenant,
    pub caller: Option<&'a Caller>,
    /// The `{id}` path parameter, where the route has one.
    pub id: &'a str,
}

impl<'a> Call<'a> {
    /// The verified caller; every route but login has one.
    pub fn signed_in(&self) -> Result<&'a Caller, ApiError> {
        self.caller.ok_or_else(|| {
            ApiError::unauthorized("missing_token", "send Authorization: Bearer <token>")
        })
    }
}

/// `200 {"users": [UserView…]}`, ordered by email.
pub async fn list(ctx: Call<'_>) -> Result<Response<Body>, ApiError> {
    let users = users::list_users(&ctx.app.tenant, ctx.tenant, ctx.signed_in()?).await?;
    Ok(json_response(StatusCode::OK, &UserList { users }))
}

/// `{email, full_name, role}` → `201 {"user": UserView, "temporary_password": "…"}`.
pub async fn create(ctx: Call<'_>) -> Result<Response<Body>, ApiError> {
    let caller = ctx.signed_in()?;
    let new = NewUser::parse(json_body::<NewUserInput>(ctx.req)?)?;
    let created =
        users::create_user(&ctx.app.tenant, &ctx.app.registry, ctx.tenant, caller, new).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &CreatedUserView {
            user: created.user,
            // Shown once, to the admin who hands it over; only its hash is stored.
            temporary_password: created.temporary_password.expose_secret().to_owned(),
        },
    ))
}

/// `{role}` → `200 UserView`.
pub async fn update(ctx: Call<'_>) -> Result<Response<Body>, ApiError> {
    let caller = ctx.signed_in()?;
    let user_id = parse_user_id(ctx.id)?;
    let change: RoleChange = json_body(ctx.req)?;
    let role = parse_role(change.role.as_deref())?;
    let user = users::change_role(
        &ctx.app.tenant,
        &ctx.app.registry,
        ctx.tenant,
        caller,
        user_id,
        role,
    )
    .await?;
    Ok(json_response(StatusCode::OK, &user))
}

/// `204`, no body.
pub async fn delete(ctx: Call<'_>) -> Result<Response<Body>, ApiError> {
    let caller = ctx.signed_in()?;
    let user_id = parse_user_id(ctx.id)?;
    users::delete_user(
        &ctx.app.tenant,
        &ctx.app.registry,
        ctx.tenant,
        caller,
        user_id,
    )
    .await?;
    Ok(no_content())
}
