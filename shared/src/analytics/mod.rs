//! Sales analytics, answered from the rollups kept current at ingest
//! ([`crate::ingest::rollup`]); no request reads raw rows.
//!
//! - [`filters`]: the request vocabulary (months, periods, dimensions, grouping, sort, limits),
//!   validated, each refusal naming its parameter;
//! - [`query`]: summary with comparison, grouped figures, top-N, streamed groups for exports;
//! - [`export`]: the grouped figures as spreadsheet-safe CSV;
//! - [`dashboards`]: users' saved dashboards, private or shared with the tenant.

pub mod dashboards;
pub mod export;
pub mod filters;
pub mod query;

use crate::tenancy::TenancyError;

/// Why an analytics request failed.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error("{name}: must be {message}")]
    InvalidParameter {
        name: &'static str,
        message: &'static str,
    },
    #[error("from must not be after to")]
    InvalidRange,
    #[error(transparent)]
    BadCursor(#[from] crate::domain::cursor::BadCursor),
    #[error("no such dashboard")]
    DashboardNotFound,
    #[error("dashboard ids are UUIDs")]
    InvalidDashboardId,
    #[error("{0}")]
    DashboardForbidden(&'static str),
    #[error("the dashboard is invalid: {0}")]
    InvalidDashboard(String),
    #[error("another request changed your default dashboard at the same time; try again")]
    DefaultConflict,
    #[error("writing CSV failed")]
    Csv(#[from] csv::Error),
    #[error("writing the export failed")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Tenancy(#[from] TenancyError),
    #[error("tenant database query failed")]
    Database(#[from] tokio_postgres::Error),
}
