//! `uploads` on a tenant host: upload batches (a presigned PUT per file), their rejected rows,
//! the tenant's vendor configs and FX rates.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use http::Method;
use serde::Serialize;
use uuid::Uuid;

use crate::domain::role::{Access, Role};
use crate::ingest::batches::{BatchPage, BatchView, ErrorPage, UploadRequest};
use crate::ingest::fx::FxRates;
use crate::ingest::vendor::VendorConfig;
use crate::ingest::vendors::{VendorList, VendorView};
use crate::web::router::{DocFn, PAGING, QueryParam, Route, RouteSpec, doc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Health,
    CreateUpload,
    ListBatches,
    GetBatch,
    BatchErrors,
    BatchErrorsCsv,
    DeleteBatch,
    ListVendors,
    GetVendor,
    PutVendor,
    DeleteVendor,
    GetFxRates,
    PutFxRates,
}

#[allow(clippy::too_many_arguments)]
const fn route(
    op: Op,
    method: Method,
    path: &'static str,
    need: Role,
    summary: &'static str,
    query: &'static [QueryParam],
    body: Option<DocFn>,
    ok: (u16, Option<DocFn>),
) -> Route<Op> {
    Route {
        op,
        spec: RouteSpec {
            method,
            path,
            access: Access::Tenant(need),
            summary,
            query,
            body,
            ok,
        },
    }
}

const LIST_QUERY: &[QueryParam] = &[
    PAGING[0],
    PAGING[1],
    QueryParam {
        name: "status",
        description: "only batches in this state: pending, processing, completed, failed",
    },
];

pub static ROUTES: [Route<Op>; 13] = [
    super::health(Op::Health, "/api/uploads/health"),
    route(
        Op::CreateUpload,
        Method::POST,
        "/api/uploads",
        Role::Analyst,
        "Start an upload: a pending batch and a presigned PUT URL (15 min) for its file",
        &[],
        Some(doc::<UploadRequest>),
        (201, Some(doc::<UploadTicket>)),
    ),
    route(
        Op::ListBatches,
        Method::GET,
        "/api/uploads/batches",
        Role::Viewer,
        "Upload batches, newest first",
        LIST_QUERY,
        None,
        (200, Some(doc::<BatchPage>)),
    ),
    route(
        Op::GetBatch,
        Method::GET,
        "/api/uploads/batches/{id}",
        Role::Viewer,
        "A batch: status, counts, timings, failure reason, uploader",
        &[],
        None,
        (200, Some(doc::<BatchView>)),
    ),
    route(
        Op::BatchErrors,
        Method::GET,
        "/api/uploads/batches/{id}/errors",
        Role::Viewer,
        "The batch's rejected rows: row number, column, code, message, raw values",
        PAGING,
        None,
        (200, Some(doc::<ErrorPage>)),
    ),
    route(
        Op::BatchErrorsCsv,
        Method::GET,
        "/api/uploads/batches/{id}/errors.csv",
        Role::Viewer,
        "Every rejected row as CSV (UTF-8 with BOM), to fix and upload again",
        &[],
        None,
        (200, None),
    ),
    route(
        Op::DeleteBatch,
        Method::DELETE,
        "/api/uploads/batches/{id}",
        Role::Analyst,
        "Delete a batch: its rows leave the tables and the rollups in one transaction",
        &[],
        None,
        (204, None),
    ),
    route(
        Op::ListVendors,
        Method::GET,
        "/api/vendors",
        Role::Viewer,
        "The tenant's vendor configs",
        &[],
        None,
        (200, Some(doc::<VendorList>)),
    ),
    route(
        Op::GetVendor,
        Method::GET,
        "/api/vendors/{name}",
        Role::Viewer,
        "One vendor's current config and version",
        &[],
        None,
        (200, Some(doc::<VendorView>)),
    ),
    route(
        Op::PutVendor,
        Method::PUT,
        "/api/vendors/{name}",
        Role::Admin,
        "Create a vendor or save a new version of its config (422 names each invalid field)",
        &[],
        Some(doc::<VendorConfig>),
        (200, Some(doc::<VendorView>)),
    ),
    route(
        Op::DeleteVendor,
        Method::DELETE,
        "/api/vendors/{name}",
        Role::Admin,
        "Deactivate a vendor: no new uploads for it",
        &[],
        None,
        (204, None),
    ),
    route(
        Op::GetFxRates,
        Method::GET,
        "/api/fx-rates",
        Role::Viewer,
        "The tenant's monthly rates to EUR",
        &[],
        None,
        (200, Some(doc::<FxRates>)),
    ),
    route(
        Op::PutFxRates,
        Method::PUT,
        "/api/fx-rates",
        Role::Admin,
        "Set monthly rates to EUR (others stay)",
        &[],
        Some(doc::<FxRates>),
        (200, Some(doc::<FxRates>)),
    ),
];

/// `POST /api/uploads`: PUT the file to `upload_url` with exactly `upload_headers` before
/// `expires_at`; the batch is then processed on its own.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadTicket {
    pub batch_id: Uuid,
    pub upload_url: String,
    pub upload_headers: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
    pub batch: BatchView,
}
