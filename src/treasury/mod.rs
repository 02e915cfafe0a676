//! Treasury remittance: how fee revenue reaches the treasury whole (DESIGN §6).
//!
//! - [`remt`]: the ISO 20022 remt.001.001.04 writer (pure), checked against the official XSD.
//! - [`batch`]: which documents make up a day's payable, the batch's document, acknowledgement
//!   and supervision rules (pure).
//! - [`refund_request`]: 退库 refund requests — their statuses and the treasury's answers
//!   (pure).
//! - [`service`]: the use cases over the database — prepare, approve (file fixed, hashed and
//!   signed), the treasury's pull and acknowledgement, and the supervision check.
//!
//! Depends on: `ledger` (writer, chart, model), `keys`, `audit`, `db`, `money`, `text`.

pub mod batch;
pub mod refund_request;
pub mod remt;
pub mod service;
