//! Credentials and abuse control: argon2id passwords, signed access tokens with key rings,
//! and attempt throttling over registry counters.

pub mod password;
pub mod throttle;
pub mod tokens;
