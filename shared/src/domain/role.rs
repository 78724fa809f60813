//! `Role`: what a tenant user may do (ordered: each route names the least it needs), and
//! `Access`: who may call a route at all.

use serde::{Deserialize, Serialize};

/// A tenant user's role; each route names the least it needs.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Analyst,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "analyst" => Some(Role::Analyst),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health checks, sign-in, discovery.
    Public,
    /// A signed-in user of the host's tenant, even one who still has to change the temporary
    /// password (`me`, the password change itself).
    SignedIn,
    /// A signed-in user of the host's tenant with at least this role and a changed password.
    Tenant(Role),
    /// A platform administrator (`api.` surface).
    PlatformAdmin,
}
