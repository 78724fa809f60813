//! The local platform: the SAM template's resources on an AWS emulator, an API Gateway emulation
//! that routes by host and path exactly as the template declares, and the SQS event-source
//! poller. `make dev` runs it in front of `cargo lambda watch`; the integration tests run the same
//! code with the functions in-process.

pub mod demo;
pub mod gateway;
pub mod invoke;
pub mod poller;
pub mod stack;
pub mod template;
