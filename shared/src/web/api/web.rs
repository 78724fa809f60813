//! `web` on every host: the browser front end. `GET /` and any other `GET` path the API
//! functions do not claim answer the surface's page; `/assets/<build>/…` its scripts and styles.
//! API Gateway sends a request to the most specific route, so `/api/*` and `/admin/*` stay with
//! their functions; an API path no function has reaches `web` and gets the usual JSON 404.

use http::Method;

use crate::domain::role::Access;
use crate::web::router::{Route, RouteSpec};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `GET /`.
    Root,
    /// `GET /{proxy+}`: a page of the front end, an asset, or an API path nobody serves.
    Path,
}

const fn page(op: Op, path: &'static str, summary: &'static str) -> Route<Op> {
    Route {
        op,
        spec: RouteSpec {
            method: Method::GET,
            path,
            access: Access::Public,
            summary,
            query: &[],
            body: None,
            ok: (200, None),
        },
    }
}

pub static ROUTES: [Route<Op>; 2] = [
    page(Op::Root, "/", "The front end's page for this host"),
    page(
        Op::Path,
        "/{proxy+}",
        "A page of the front end (the same HTML: the page routes in the browser) or one of its \
         assets",
    ),
];
