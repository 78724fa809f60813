//! `POST /api/auth/keys/rotate` (admin): a new signing key, optionally revoking the older ones.
//! The work is in `shared::identity::users::rotate_signing_keys`.

use http::StatusCode;
use lambda_http::{Body, Response};
use shared::ApiError;
use shared::identity::users;
use shared::web::api::auth::RotateInput;
use shared::web::http::{json_body, json_response};

use crate::users::Call;

/// `{"revoke_previous": bool}` (body optional) → `200 {"kid", "revoked", "active_kids"}`.
pub async fn rotate(ctx: Call<'_>) -> Result<Response<Body>, ApiError> {
    let caller = ctx.signed_in()?;
    let body: &[u8] = ctx.req.body().as_ref();
    let input: RotateInput = if body.iter().all(u8::is_ascii_whitespace) {
        RotateInput::default()
    } else {
        json_body(ctx.req)?
    };
    let rotation = users::rotate_signing_keys(
        &ctx.app.tenant,
        &ctx.app.registry,
        ctx.tenant,
        caller,
        input.revoke_previous,
    )
    .await?;
    Ok(json_response(StatusCode::OK, &rotation))
}
