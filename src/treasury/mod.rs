//! Treasury remittance: how fee revenue reaches the treasury whole (DESIGN §6).
//!
//! - [`remt`]: the ISO 20022 remt.001.001.04 writer (pure), checked against the official XSD.
//! - [`pain001`]: the ISO 20022 pain.001.001.10 writer for 退库 (pure): the treasury's credit
//!   transfer back to the collection account, checked against the official XSD.
//! - [`iso20022`]: what both writers share (text limits, element writers).
//! - [`batch`]: which documents make up a day's payable, the batch's document, acknowledgement
//!   and supervision rules (pure).
//! - [`refund_request`]: 退库 refund requests — their statuses and the treasury's answers
//!   (pure).
//! - [`month`]: a month's collections, concessions, refunds and remittances by revenue subject
//!   and department, beside the ledger's movements on the payable (月度报表).
//! - [`service`]: the use cases over the database — prepare, approve (file fixed, hashed and
//!   signed), the treasury's pull and acknowledgement, and the supervision check.
//!
//! Depends on: `ledger` (writer, chart, model), `keys`, `audit`, `db`, `money`, `text`.

pub mod batch;
pub mod iso20022;
pub mod month;
pub mod pain001;
pub mod refund_request;
pub mod remt;
pub mod service;
