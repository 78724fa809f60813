//! Integration tests: one binary, one module per feature. Every test spawns its own platform
//! (`helpers::spawn_app`): uniquely named emulator resources from the SAM template, the local
//! API gateway on a free port, the functions' real handlers in-process.

#![allow(clippy::unwrap_used)]

mod analytics;
mod auth;
mod auth_users;
mod browser;
mod contract;
mod discovery;
mod events;
mod hardening;
mod health;
mod helpers;
mod isolation;
mod pipeline;
mod provisioning;
mod secrets;
mod tenant_db;
mod tenantctl;
mod uploads;
