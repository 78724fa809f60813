//! PostgreSQL for the platform: administration of tenant databases (template, create, migrate,
//! export, drop), the embedded schema migrations, and SQL quoting for DDL.

pub mod admin;
pub mod migrations;
pub mod sql;
