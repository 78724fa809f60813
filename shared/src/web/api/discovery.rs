//! `tenant-discovery` on `app.<domain>`: email → the tenants it can sign in to.

use http::Method;
use serde::Serialize;
use uuid::Uuid;

use crate::domain::role::Access;
use crate::web::router::{Route, RouteSpec, doc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Health,
    OpenApi,
    Discover,
}

pub static ROUTES: [Route<Op>; 3] = [
    super::health(Op::Health, "/api/health"),
    super::openapi(Op::OpenApi),
    Route {
        op: Op::Discover,
        spec: RouteSpec {
            method: Method::POST,
            path: "/api/discover",
            access: Access::Public,
            summary: "The active tenants an email belongs to, with their sign-in URLs \
                      (an unknown email gets an empty list)",
            query: &[],
            body: Some(doc::<DiscoverRequest>),
            ok: (200, Some(doc::<Discovery>)),
        },
    },
];

/// The body of `POST /api/discover`.
#[derive(Debug, utoipa::ToSchema)]
pub struct DiscoverRequest {
    pub email: String,
}

/// The answer of `POST /api/discover`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Discovery {
    pub tenants: Vec<DiscoveredTenant>,
}

/// One tenant the email can sign in to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DiscoveredTenant {
    pub tenant_id: Uuid,
    pub subdomain: String,
    pub display_name: String,
    pub login_url: String,
}
