//! Integration tests: one binary, one module per feature. Every test spawns its own platform
//! (`helpers::spawn_app`): uniquely named emulator resources from the SAM template, the local
//! API gateway on a free port, the functions' real handlers in-process.

#![allow(clippy::unwrap_used)]
// The tests await whole in-process pipelines (upload → processor → analytics); the layout of
// those nested futures needs more than the default query depth on a cold (non-incremental) build.
#![recursion_limit = "256"]

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
mod jobs;
mod pipeline;
mod provisioning;
mod secrets;
mod tenant_db;
mod tenantctl;
mod tls;
mod uploads;
