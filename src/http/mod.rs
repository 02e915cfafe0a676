//! The HTTP API: one module per resource, errors as problem+json, and the pieces the staff pages
//! share with it (extractors, paging, problem documents). The actix app that serves it is
//! assembled in [`crate::server`].
//!
//! Handlers are thin: parse the request into domain types, call one use case (inside
//! `web::block` when it touches the database), map the result. Only this layer (and the pages,
//! which render the same problems as HTML) knows status codes.
//!
//! May depend on: `app` and every domain module; never `web` or `server`.

pub mod access;
pub mod accounts;
pub mod blocking;
pub mod catalogue;
pub mod client;
pub mod concessions;
pub mod days;
pub mod departments;
pub mod extract;
pub mod health;
pub mod ledger;
pub mod limits;
pub mod openapi;
pub mod paging;
pub mod payments;
pub mod problem;
pub mod queries;
pub mod reconciliation;
pub mod refund_requests;
pub mod refunds;
pub mod remittances;
pub mod settlement;
pub mod signed_file;
pub mod upload;

use actix_web::web;

/// Registers every API route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    health::routes(cfg);
    openapi::routes(cfg);
    ledger::routes(cfg);
    catalogue::routes(cfg);
    departments::routes(cfg);
    concessions::routes(cfg);
    payments::routes(cfg);
    refunds::routes(cfg);
    settlement::routes(cfg);
    days::routes(cfg);
    reconciliation::routes(cfg);
    remittances::routes(cfg);
    refund_requests::routes(cfg);
    access::routes(cfg);
}
