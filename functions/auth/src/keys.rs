//! `POST /api/auth/keys/rotate` (admin): a new signing key, optionally revoking the older ones.
//! The work is in `shared::tenant_users::rotate_signing_keys`.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::ApiError;
use shared::http::{json_body, json_response};
use shared::tenant_context::{Role, Tenant};
use shared::tenant_users;

use crate::App;

#[derive(Default, Deserialize)]
struct RotateInput {
    #[serde(default)]
    revoke_previous: bool,
}

/// `{"revoke_previous": bool}` (body optional) → `200 {"kid", "revoked", "active_kids"}`.
pub async fn rotate(app: &App, req: &Request, tenant: &Tenant) -> Result<Response<Body>, ApiError> {
    let caller = app.tenant.authenticate(req, tenant, Role::Admin).await?;
    let body: &[u8] = req.body().as_ref();
    let input: RotateInput = if body.iter().all(u8::is_ascii_whitespace) {
        RotateInput::default()
    } else {
        json_body(req)?
    };
    let rotation = tenant_users::rotate_signing_keys(
        &app.tenant,
        &app.registry,
        tenant,
        &caller,
        input.revoke_previous,
    )
    .await?;
    Ok(json_response(StatusCode::OK, &rotation))
}
