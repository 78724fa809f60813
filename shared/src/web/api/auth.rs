//! `auth` on a tenant host: sign-in, the caller's profile and password, user management and
//! signing-key rotation.

use http::Method;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::domain::role::Access;
use crate::domain::role::Role;
use crate::identity::login::{Session, UserView};
use crate::identity::users::{KeyRotation, NewUserInput};
use crate::web::router::{Route, doc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Health,
    OpenApi,
    Login,
    Me,
    ChangePassword,
    ListUsers,
    CreateUser,
    ChangeRole,
    DeleteUser,
    RotateKeys,
}

const ADMIN: Access = Access::Tenant(Role::Admin);

pub static ROUTES: [Route<Op>; 10] = [
    super::health(Op::Health, "/api/health"),
    super::openapi(Op::OpenApi),
    super::route(
        Op::Login,
        Method::POST,
        "/api/auth/login",
        Access::Public,
        "Sign in with email and password: an access token for this tenant",
        &[],
        Some(doc::<Credentials>),
        (200, Some(doc::<Session>)),
    ),
    super::route(
        Op::Me,
        Method::GET,
        "/api/auth/me",
        Access::SignedIn,
        "The signed-in user",
        &[],
        None,
        (200, Some(doc::<UserView>)),
    ),
    super::route(
        Op::ChangePassword,
        Method::POST,
        "/api/auth/password",
        Access::SignedIn,
        "Change the password (required after the first sign-in); a fresh token",
        &[],
        Some(doc::<PasswordChange>),
        (200, Some(doc::<Session>)),
    ),
    super::route(
        Op::ListUsers,
        Method::GET,
        "/api/auth/users",
        ADMIN,
        "The tenant's users, by email",
        &[],
        None,
        (200, Some(doc::<UserList>)),
    ),
    super::route(
        Op::CreateUser,
        Method::POST,
        "/api/auth/users",
        ADMIN,
        "Invite a user: created with a temporary password, shown once",
        &[],
        Some(doc::<NewUserInput>),
        (201, Some(doc::<CreatedUserView>)),
    ),
    super::route(
        Op::ChangeRole,
        Method::PATCH,
        "/api/auth/users/{id}",
        ADMIN,
        "Change a user's role (the last admin cannot step down)",
        &[],
        Some(doc::<RoleChange>),
        (200, Some(doc::<UserView>)),
    ),
    super::route(
        Op::DeleteUser,
        Method::DELETE,
        "/api/auth/users/{id}",
        ADMIN,
        "Remove a user (not yourself, not the last admin)",
        &[],
        None,
        (204, None),
    ),
    super::route(
        Op::RotateKeys,
        Method::POST,
        "/api/auth/keys/rotate",
        ADMIN,
        "A new signing key from now on; optionally revoke the older ones at once",
        &[],
        Some(doc::<RotateInput>),
        (200, Some(doc::<KeyRotation>)),
    ),
];

/// The body of `POST /api/auth/login`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    pub email: Option<String>,
    #[schema(value_type = Option<String>)]
    pub password: Option<SecretString>,
}

/// The body of `POST /api/auth/password`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    #[schema(value_type = Option<String>)]
    pub current_password: Option<SecretString>,
    #[schema(value_type = Option<String>)]
    pub new_password: Option<SecretString>,
}

/// The body of `PATCH /api/auth/users/{id}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct RoleChange {
    pub role: Option<String>,
}

/// The body of `POST /api/auth/keys/rotate` (optional).
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct RotateInput {
    #[serde(default)]
    pub revoke_previous: bool,
}

/// `GET /api/auth/users`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserList {
    pub users: Vec<UserView>,
}

/// `POST /api/auth/users`: the user, and the temporary password to hand over (only its hash is
/// stored).
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedUserView {
    pub user: UserView,
    pub temporary_password: String,
}
