//! The external systems, each behind one narrow interface with its AWS implementation (and an
//! in-memory one for unit tests where useful): the DynamoDB registry, Secrets Manager, SES mail,
//! the append-only audit log, the jobs queue (SQS), and PostgreSQL administration of tenant
//! databases.

pub mod audit;
pub mod job_queue;
pub mod mail;
pub mod objects;
pub mod postgres;
pub mod registry;
pub mod secrets;
