//! Who is calling: tenant users signing in and being managed on their tenant's host, the
//! tenant's signing keys, and the platform administrators of `api.<domain>`.

pub mod admins;
pub mod login;
pub mod users;
