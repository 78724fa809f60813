//! Tenants as a whole: provisioning with recorded steps and rollback, suspend/activate,
//! delete with archive, migrate-all, and the default seeds of a new tenant database.

pub mod lifecycle;
pub mod provisioning;
pub mod seeds;
