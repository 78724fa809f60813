//! PostgreSQL for the platform: administration of tenant databases (template, create, migrate,
//! export, drop), the embedded schema migrations, the per-tenant connection pools of the request
//! path, TLS for all of them, rows in binary COPY format, and SQL quoting for DDL.

pub mod admin;
pub mod copy;
pub mod migrations;
pub mod pool;
pub mod sql;
pub mod tls;
