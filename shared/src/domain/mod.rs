//! The platform's vocabulary, validated once and trusted from then on: `Subdomain`, `Email`,
//! `Role` and `Access`, which surface a host names, and published token keys. Parsing lives
//! here; nothing here does I/O.

pub mod cursor;
pub mod email;
pub mod host;
pub mod role;
pub mod spreadsheet;
pub mod subdomain;
pub mod verifying_keys;
