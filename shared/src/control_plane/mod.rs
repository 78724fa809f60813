//! Tenants as a whole: provisioning with recorded steps and rollback, suspend/activate,
//! delete with archive, migrate-all, the jobs that run long operations off the request path,
//! and the default seeds of a new tenant database.

pub mod jobs;
pub mod lifecycle;
pub mod provisioning;
pub mod seeds;
