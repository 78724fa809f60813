//! Uploaded sales files into the tenant database: upload batches and their object keys, the S3 →
//! SQS upload events, and the errors of the whole area.

pub mod batches;
pub mod fx;
pub mod mapping;
pub mod process;
pub mod read;
pub mod rollup;
pub mod upload_event;
pub mod vendor;
pub mod vendors;

use crate::tenancy::TenancyError;

/// Why an upload request or a batch operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0} is required")]
    MissingField(&'static str),
    #[error("there is no active vendor {0:?} (see GET /api/vendors)")]
    UnknownVendor(String),
    #[error("the file name has no usable characters")]
    InvalidFileName,
    #[error("only CSV or XLSX files can be uploaded (.csv, .txt, .xlsx)")]
    UnsupportedFileType,
    #[error("size_bytes must be from 1 byte to 100 MB")]
    InvalidSize,
    #[error("content_type is not a valid media type")]
    InvalidContentType,
    #[error("no such batch")]
    BatchNotFound,
    #[error("the batch is being processed; try again when it has finished")]
    BatchBusy,
    #[error(transparent)]
    BadCursor(#[from] crate::domain::cursor::BadCursor),
    #[error("the status filter must be pending, processing, completed or failed")]
    InvalidStatus,
    #[error("{0}")]
    InvalidRate(String),
    #[error("no such vendor")]
    VendorNotFound,
    #[error("the vendor config is invalid")]
    InvalidConfig(Vec<crate::ingest::vendor::ConfigIssue>),
    #[error("batch ids are UUIDs")]
    InvalidBatchId,
    #[error("stored data is not what this code writes: {0}")]
    Corrupt(&'static str),
    #[error("writing CSV failed")]
    Csv(#[source] csv::Error),
    #[error(transparent)]
    Tenancy(#[from] TenancyError),
    #[error(transparent)]
    Objects(#[from] crate::store::objects::ObjectError),
    #[error("tenant database query failed")]
    Database(#[from] tokio_postgres::Error),
}
