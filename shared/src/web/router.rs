//! Route tables and the router over them. Each HTTP function declares its routes once — method,
//! path as the SAM template writes it (`/api/auth/users/{id}`), who may call it, what it takes
//! and returns — and everything else is derived from that table: matching (`matchit`), the 405
//! `Allow` header, the OpenAPI document, and the test that holds the table and the template to
//! each other.

use std::collections::BTreeMap;

use http::Method;
use utoipa::openapi::{RefOr, Schema};

use crate::domain::role::Access;
use crate::web::error::ApiError;
use crate::web::http::route_not_found;

/// A type in the API contract: its component name and schema, with the schemas it refers to.
pub struct TypeDoc {
    pub name: String,
    pub schema: RefOr<Schema>,
    pub components: Vec<(String, RefOr<Schema>)>,
}

/// Names a contract type in a route table: `Some(doc::<Session>)`.
pub type DocFn = fn() -> TypeDoc;

/// The contract entry of `T`.
pub fn doc<T: utoipa::ToSchema>() -> TypeDoc {
    let mut components = Vec::new();
    T::schemas(&mut components);
    TypeDoc {
        name: T::name().into_owned(),
        schema: T::schema(),
        components,
    }
}

/// A query-string parameter a route reads.
#[derive(Debug, Clone, Copy)]
pub struct QueryParam {
    pub name: &'static str,
    pub description: &'static str,
}

/// `?limit=&cursor=` of every paginated listing.
pub const PAGING: &[QueryParam] = &[
    QueryParam {
        name: "limit",
        description: "items per page, 1-200 (default 50)",
    },
    QueryParam {
        name: "cursor",
        description: "the next_cursor of the previous page",
    },
];

/// The contract side of a route: everything but what the function does.
pub struct RouteSpec {
    pub method: Method,
    /// As in the SAM template; `{name}` is a path parameter, `{name+}` a greedy one.
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    pub query: &'static [QueryParam],
    /// The JSON body it takes.
    pub body: Option<DocFn>,
    /// The success status and JSON body (`None`: no body).
    pub ok: (u16, Option<DocFn>),
}

/// One route: its contract and the operation the function runs for it.
pub struct Route<Op: 'static> {
    pub op: Op,
    pub spec: RouteSpec,
}

/// A request matched to its route.
pub struct Found<'r, 'p, Op: 'static> {
    pub route: &'r Route<Op>,
    params: matchit::Params<'r, 'p>,
}

impl<Op: Copy> Found<'_, '_, Op> {
    pub fn op(&self) -> Op {
        self.route.op
    }

    pub fn access(&self) -> Access {
        self.route.spec.access
    }

    /// A path parameter the route's template names (empty if it names none such).
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).unwrap_or_default()
    }
}

/// A function's routes, indexed by path.
pub struct Router<Op: 'static> {
    routes: &'static [Route<Op>],
    by_path: matchit::Router<Vec<usize>>,
}

impl<Op: Copy> Router<Op> {
    /// Indexes `routes`. A path the router cannot take, or the same method and path twice, is
    /// a programming error found by each table's unit test; it stops the cold start here.
    pub fn new(routes: &'static [Route<Op>]) -> Self {
        let mut grouped: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, route) in routes.iter().enumerate() {
            let methods = grouped.entry(matchit_path(route.spec.path)).or_default();
            assert!(
                methods
                    .iter()
                    .all(|&j| routes[j].spec.method != route.spec.method),
                "route {} {} is declared twice",
                route.spec.method,
                route.spec.path
            );
            methods.push(i);
        }
        let mut by_path = matchit::Router::new();
        for (path, indexes) in grouped {
            if let Err(err) = by_path.insert(path.clone(), indexes) {
                panic!("route path {path} cannot be routed: {err}");
            }
        }
        Self { routes, by_path }
    }

    pub fn routes(&self) -> &'static [Route<Op>] {
        self.routes
    }

    /// The route for `method` and `path` (a trailing slash is ignored): 404 when no route has
    /// the path, 405 with the methods it has in `Allow` when none has the method.
    pub fn find<'r, 'p>(
        &'r self,
        method: &Method,
        path: &'p str,
    ) -> Result<Found<'r, 'p, Op>, ApiError> {
        let path = match path.trim_end_matches('/') {
            "" => "/",
            trimmed => trimmed,
        };
        let matched = self.by_path.at(path).map_err(|_| route_not_found())?;
        let route = matched
            .value
            .iter()
            .map(|&i| &self.routes[i])
            .find(|r| r.spec.method == *method);
        match route {
            Some(route) => Ok(Found {
                route,
                params: matched.params,
            }),
            None => {
                let allow: Vec<&str> = matched
                    .value
                    .iter()
                    .map(|&i| self.routes[i].spec.method.as_str())
                    .collect();
                Err(ApiError::method_not_allowed(&allow))
            }
        }
    }
}

/// API Gateway's `{name+}` (greedy) is `matchit`'s `{*name}`.
fn matchit_path(path: &str) -> String {
    path.split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
                Some(name) => format!("{{*{name}}}"),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Op {
        List,
        Create,
        Delete,
        Asset,
    }

    const fn route(op: Op, method: Method, path: &'static str) -> Route<Op> {
        Route {
            op,
            spec: RouteSpec {
                method,
                path,
                access: Access::Public,
                summary: "",
                query: &[],
                body: None,
                ok: (200, None),
            },
        }
    }

    static ROUTES: [Route<Op>; 4] = [
        route(Op::List, Method::GET, "/api/things"),
        route(Op::Create, Method::POST, "/api/things"),
        route(Op::Delete, Method::DELETE, "/api/things/{id}"),
        route(Op::Asset, Method::GET, "/{proxy+}"),
    ];

    #[test]
    fn finds_routes_and_their_parameters() {
        // GIVEN a table with a collection, an item and a greedy route
        let router = Router::new(&ROUTES);
        // WHEN requests are matched THEN each finds its operation and parameters
        assert_eq!(
            router
                .find(&Method::GET, "/api/things")
                .ok()
                .map(|f| f.op()),
            Some(Op::List)
        );
        assert_eq!(
            router
                .find(&Method::POST, "/api/things/")
                .ok()
                .map(|f| f.op()),
            Some(Op::Create)
        );
        let found = router.find(&Method::DELETE, "/api/things/42").ok();
        assert_eq!(
            found.as_ref().map(|f| (f.op(), f.param("id"))),
            Some((Op::Delete, "42"))
        );
        let asset = router.find(&Method::GET, "/assets/app.js").ok();
        assert_eq!(
            asset.as_ref().map(|f| f.param("proxy")),
            Some("assets/app.js")
        );
    }

    #[test]
    fn wrong_method_is_405_with_allow_from_the_table() {
        // GIVEN the table WHEN a path is called with a method it does not have
        let router = Router::new(&ROUTES);
        let err = router.find(&Method::PUT, "/api/things").err();
        // THEN 405, and Allow lists exactly the table's methods for that path
        let err = err.expect("405");
        assert_eq!(err.status, http::StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(err.allow.as_deref(), Some("GET, POST"));
        let err = router
            .find(&Method::GET, "/api/things/1")
            .err()
            .expect("405");
        assert_eq!(err.allow.as_deref(), Some("DELETE"));
    }

    #[test]
    fn unknown_path_is_404() {
        static NARROW: [Route<Op>; 1] = [route(Op::List, Method::GET, "/api/things")];
        let router = Router::new(&NARROW);
        let err = router.find(&Method::GET, "/api/other").err().expect("404");
        assert_eq!((err.status.as_u16(), err.code), (404, "route_not_found"));
    }

    #[test]
    #[should_panic(expected = "declared twice")]
    fn duplicate_routes_are_refused() {
        static TWICE: [Route<Op>; 2] = [
            route(Op::List, Method::GET, "/api/things"),
            route(Op::Create, Method::GET, "/api/things"),
        ];
        Router::new(&TWICE);
    }
}
