//! The platform's vocabulary, validated once and trusted from then on: `Subdomain`, `Email`,
//! `Role`. Parsing lives here; nothing here does I/O.

pub mod email;
pub mod role;
pub mod subdomain;
