//! The library every TaskifAI function is built on, one folder per area. Dependencies point one
//! way, from the bottom of this list to the top of it being used by what comes after:
//!
//! | area | for |
//! |---|---|
//! | [`domain`] | validated newtypes and records; no I/O |
//! | [`platform`] | typed configuration, telemetry, AWS SDK configuration |
//! | [`security`] | passwords, signed tokens, throttling |
//! | [`store`] | one narrow interface per external system (registry, secrets, mail, audit, PostgreSQL) |
//! | [`tenancy`] | a request's tenant, its secret and its database connection |
//! | [`identity`] | tenant sign-in and users, signing keys, platform admins |
//! | [`control_plane`] | provisioning and the tenant lifecycle |
//! | [`ingest`] | uploaded sales files into the tenant database |
//! | [`analytics`] | sales analytics from the rollups |
//! | [`web`] | HTTP: hosts, routes, the one mapping of errors to responses, the API contract |
//!
//! Functions only wire these together.

pub mod analytics;
pub mod control_plane;
pub mod domain;
pub mod identity;
pub mod ingest;
pub mod platform;
pub mod security;
pub mod store;
pub mod tenancy;
pub mod web;

pub use web::error::ApiError;
