//! `uploads` on a tenant host.

use crate::web::router::Route;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Health,
}

pub static ROUTES: [Route<Op>; 1] = [super::health(Op::Health, "/api/uploads/health")];
