//! The data plane's front door (DESIGN §4): host → active tenant (registry, cached) → its secret
//! → a connection to its database as its own role → the caller, verified with its keys.

pub mod context;
pub mod directory;
pub mod secret;
