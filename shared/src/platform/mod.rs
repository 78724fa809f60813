//! What every function reads at cold start: typed configuration from the environment (errors
//! name the variable), JSON telemetry, metrics (CloudWatch EMF lines), and the AWS SDK
//! configuration.

pub mod aws;
pub mod config;
pub mod metrics;
pub mod telemetry;
