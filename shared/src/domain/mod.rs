//! The platform's vocabulary, validated once and trusted from then on: `Subdomain`, `Email`,
//! `Role` and `Access`, and which surface a host names. Parsing lives here; nothing here does
//! I/O.

pub mod cursor;
pub mod email;
pub mod host;
pub mod role;
pub mod spreadsheet;
pub mod subdomain;
