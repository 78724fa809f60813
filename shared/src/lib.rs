//! The library every TaskifAI function is built on: configuration, telemetry, the HTTP error
//! model, host → tenant parsing and the upload-event reader. Functions only wire these together.

pub mod admin_auth;
pub mod audit;
pub mod aws;
pub mod config;
pub mod email;
pub mod error;
pub mod host;
pub mod http;
pub mod lifecycle;
pub mod mail;
pub mod migrations;
pub mod password;
pub mod provisioning;
pub mod registry;
pub mod secrets;
pub mod subdomain;
pub mod telemetry;
pub mod tenancy;
pub mod tenant_auth;
pub mod tenant_context;
pub mod tenant_db;
pub mod tenant_users;
pub mod throttle;
pub mod tokens;
pub mod upload_event;

pub use error::ApiError;
