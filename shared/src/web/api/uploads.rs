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
use crate::web::router::{PAGING, QueryParam, Route, doc};

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
    super::route(
        Op::CreateUpload,
        Method::POST,
        "/api/uploads",
        Access::Tenant(Role::Analyst),
        "Start an upload: a pending batch and a presigned PUT URL (15 min) for its file",
        &[],
        Some(doc::<UploadRequest>),
        (201, Some(doc::<UploadTicket>)),
    ),
    super::route(
        Op::ListBatches,
        Method::GET,
        "/api/uploads/batches",
        Access::Tenant(Role::Viewer),
        "Upload batches, newest first",
        LIST_QUERY,
        None,
        (200, Some(doc::<BatchPage>)),
    ),
    super::route(
        Op::GetBatch,
        Method::GET,
        "/api/uploads/batches/{id}",
        Access::Tenant(Role::Viewer),
        "A batch: status, counts, timings, failure reason, uploader",
        &[],
        None,
        (200, Some(doc::<BatchView>)),
    ),
    super::route(
        Op::BatchErrors,
        Method::GET,
        "/api/uploads/batches/{id}/errors",
        Access::Tenant(Role::Viewer),
        "The batch's rejected rows: row number, column, code, message, raw values",
        PAGING,
        None,
        (200, Some(doc::<ErrorPage>)),
    ),
    super::route(
        Op::BatchErrorsCsv,
        Method::GET,
        "/api/uploads/batches/{id}/errors.csv",
        Access::Tenant(Role::Viewer),
        "Every rejected row as CSV (UTF-8 with BOM), to fix and upload again",
        &[],
        None,
        (200, None),
    ),
    super::route(
        Op::DeleteBatch,
        Method::DELETE,
        "/api/uploads/batches/{id}",
        Access::Tenant(Role::Analyst),
        "Delete a batch: its rows leave the tables and the rollups in one transaction",
        &[],
        None,
        (204, None),
    ),
    super::route(
        Op::ListVendors,
        Method::GET,
        "/api/vendors",
        Access::Tenant(Role::Viewer),
        "The tenant's vendor configs",
        &[],
        None,
        (200, Some(doc::<VendorList>)),
    ),
    super::route(
        Op::GetVendor,
        Method::GET,
        "/api/vendors/{name}",
        Access::Tenant(Role::Viewer),
        "One vendor's current config and version",
        &[],
        None,
        (200, Some(doc::<VendorView>)),
    ),
    super::route(
        Op::PutVendor,
        Method::PUT,
        "/api/vendors/{name}",
        Access::Tenant(Role::Admin),
        "Create a vendor or save a new version of its config (422 names each invalid field)",
        &[],
        Some(doc::<VendorConfig>),
        (200, Some(doc::<VendorView>)),
    ),
    super::route(
        Op::DeleteVendor,
        Method::DELETE,
        "/api/vendors/{name}",
        Access::Tenant(Role::Admin),
        "Deactivate a vendor: no new uploads for it",
        &[],
        None,
        (204, None),
    ),
    super::route(
        Op::GetFxRates,
        Method::GET,
        "/api/fx-rates",
        Access::Tenant(Role::Viewer),
        "The tenant's monthly rates to EUR",
        &[],
        None,
        (200, Some(doc::<FxRates>)),
    ),
    super::route(
        Op::PutFxRates,
        Method::PUT,
        "/api/fx-rates",
        Access::Tenant(Role::Admin),
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
