//! Uploaded sales files into the tenant database. Today: reading the S3 → SQS upload events
//! and the object-key layout `tenants/<tenant_id>/uploads/<batch_id>/<file>`.

pub mod upload_event;
