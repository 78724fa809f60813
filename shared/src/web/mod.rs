//! HTTP on API Gateway: which surface a host is, request and response plumbing, and the one
//! mapping of every area's errors to `{"error":{"code","message"}}` responses.

pub mod api;
pub mod entry;
pub mod error;
pub mod http;
pub mod router;
pub mod sample;
pub mod tenant;
