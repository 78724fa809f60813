//! `analytics` on a tenant host: the summary, grouped figures, top-N, e-commerce figures, CSV
//! exports and saved dashboards. Every role reads; everyone keeps their own dashboards.

use http::Method;

use crate::analytics::dashboards::{DashboardInput, DashboardList, DashboardView};
use crate::analytics::query::{GroupPage, Summary, TopList};
use crate::domain::role::{Access, Role};
use crate::web::router::{QueryParam, Route, doc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Health,
    Summary,
    Sales,
    TopProducts,
    TopResellers,
    Ecommerce,
    Export,
    ListDashboards,
    CreateDashboard,
    GetDashboard,
    PutDashboard,
    DeleteDashboard,
}

const fn param(name: &'static str, description: &'static str) -> QueryParam {
    QueryParam { name, description }
}

const FROM: QueryParam = param(
    "from",
    "first month, YYYY-MM (default: 11 months before `to`)",
);
const TO: QueryParam = param(
    "to",
    "last month, YYYY-MM (default: the latest month with data)",
);
const VENDOR: QueryParam = param("vendor", "only this vendor");
const RESELLER: QueryParam = param("reseller", "only this reseller");
const PRODUCT: QueryParam = param("product", "only this product (EAN)");
const COUNTRY: QueryParam = param("country", "only this country");
const SORT: QueryParam = param(
    "sort",
    "revenue or units (largest first) or key; default: key when grouped by month first, else revenue",
);
const LIMIT: QueryParam = param("limit", "rows per page, 1-1000 (default 100)");
const CURSOR: QueryParam = param("cursor", "the next_cursor of the previous page");
const METRIC: QueryParam = param("metric", "revenue (default) or units");
const TOP_LIMIT: QueryParam = param("limit", "how many, 1-1000 (default 10)");

const SUMMARY_QUERY: &[QueryParam] = &[FROM, TO, VENDOR, RESELLER, PRODUCT];
const SALES_QUERY: &[QueryParam] = &[
    param(
        "group_by",
        "month, reseller, product or vendor, or two of them comma-separated (e.g. month,reseller)",
    ),
    FROM,
    TO,
    VENDOR,
    RESELLER,
    PRODUCT,
    SORT,
    LIMIT,
    CURSOR,
];
const TOP_PRODUCTS_QUERY: &[QueryParam] = &[METRIC, TOP_LIMIT, FROM, TO, VENDOR, RESELLER];
const TOP_RESELLERS_QUERY: &[QueryParam] = &[METRIC, TOP_LIMIT, FROM, TO, VENDOR, PRODUCT];
const ECOMMERCE_QUERY: &[QueryParam] = &[
    param(
        "group_by",
        "month, country or product, or two of them comma-separated",
    ),
    FROM,
    TO,
    COUNTRY,
    PRODUCT,
    SORT,
    LIMIT,
    CURSOR,
];
const EXPORT_QUERY: &[QueryParam] = &[
    param("dataset", "sales (default) or ecommerce"),
    param(
        "group_by",
        "as for /api/analytics/sales or /api/analytics/ecommerce",
    ),
    FROM,
    TO,
    VENDOR,
    RESELLER,
    PRODUCT,
    COUNTRY,
    SORT,
];

const READ: Access = Access::Tenant(Role::Viewer);

pub static ROUTES: [Route<Op>; 12] = [
    super::health(Op::Health, "/api/analytics/health"),
    super::route(
        Op::Summary,
        Method::GET,
        "/api/analytics/summary",
        READ,
        "Revenue, units, products, resellers and average price for a period, the previous period \
         of equal length, the change in %, and the best month, reseller and product",
        SUMMARY_QUERY,
        None,
        (200, Some(doc::<Summary>)),
    ),
    super::route(
        Op::Sales,
        Method::GET,
        "/api/analytics/sales",
        READ,
        "Revenue and units grouped by one or two dimensions, sorted and paginated",
        SALES_QUERY,
        None,
        (200, Some(doc::<GroupPage>)),
    ),
    super::route(
        Op::TopProducts,
        Method::GET,
        "/api/analytics/top-products",
        READ,
        "The best-selling products by revenue or units",
        TOP_PRODUCTS_QUERY,
        None,
        (200, Some(doc::<TopList>)),
    ),
    super::route(
        Op::TopResellers,
        Method::GET,
        "/api/analytics/top-resellers",
        READ,
        "The best-selling resellers by revenue or units",
        TOP_RESELLERS_QUERY,
        None,
        (200, Some(doc::<TopList>)),
    ),
    super::route(
        Op::Ecommerce,
        Method::GET,
        "/api/analytics/ecommerce",
        READ,
        "E-commerce orders: revenue, units and orders grouped by one or two dimensions",
        ECOMMERCE_QUERY,
        None,
        (200, Some(doc::<GroupPage>)),
    ),
    super::route(
        Op::Export,
        Method::GET,
        "/api/analytics/export.csv",
        READ,
        "The grouped figures as CSV (UTF-8 with BOM); a large export answers 303 to a \
         short-lived download URL",
        EXPORT_QUERY,
        None,
        (200, None),
    ),
    super::route(
        Op::ListDashboards,
        Method::GET,
        "/api/dashboards",
        READ,
        "Your saved dashboards and the tenant's shared ones, your default first",
        &[],
        None,
        (200, Some(doc::<DashboardList>)),
    ),
    super::route(
        Op::CreateDashboard,
        Method::POST,
        "/api/dashboards",
        READ,
        "Save a dashboard (sharing it with the tenant takes an admin)",
        &[],
        Some(doc::<DashboardInput>),
        (201, Some(doc::<DashboardView>)),
    ),
    super::route(
        Op::GetDashboard,
        Method::GET,
        "/api/dashboards/{id}",
        READ,
        "One dashboard you own or that is shared",
        &[],
        None,
        (200, Some(doc::<DashboardView>)),
    ),
    super::route(
        Op::PutDashboard,
        Method::PUT,
        "/api/dashboards/{id}",
        READ,
        "Replace a dashboard (yours, or a shared one if you are an admin)",
        &[],
        Some(doc::<DashboardInput>),
        (200, Some(doc::<DashboardView>)),
    ),
    super::route(
        Op::DeleteDashboard,
        Method::DELETE,
        "/api/dashboards/{id}",
        READ,
        "Delete a dashboard (yours, or a shared one if you are an admin)",
        &[],
        None,
        (204, None),
    ),
];
