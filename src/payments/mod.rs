//! Payments at the counter (DESIGN §3). So far: the card-data rules ([`card`]), pure and tested,
//! which intake applies before anything else. Intake, receipts, voids and refunds follow.
//!
//! May depend on: `catalogue`, `ledger`, `db`, `audit`, `keys`, `clock`, `money`.

pub mod card;
