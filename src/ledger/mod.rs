//! The fund-separated double-entry ledger (DESIGN §2).
//!
//! - [`model`], [`chart`], [`rules`], [`chain`]: pure values and functions — the accounts, the
//!   rules every entry must pass, the hash chain. No database, no HTTP; most tests live here.
//! - [`templates`]: DESIGN §2's entry templates, pure functions from values to an entry draft,
//!   finding accounts by their role in the chart — every entry that moves value starts there.
//! - [`repo`]: reading the ledger back (accounts, balances, entries, trial balance);
//!   [`verify`]: the verifier that recomputes the chain and the balances and checks every
//!   closed day's seal ([`seals`]: the seal message and the pure check).
//! - [`accounts`]: opening a sub-account while the service runs, and the [`SharedChart`] every
//!   part of the service (the writer included) reads, refreshed when one is opened.
//! - [`days`]: the business-day state (open, closed, sealed, remittance locked) every module asks.
//! - [`writer`]: the group-commit writer, the only code that appends entries (its rows are
//!   written by the private `flush`); [`service`]: manual entries and reversals people start.
//!
//! May depend on: `money`, `db`, `audit`, `text`. Never on `http`.

pub mod accounts;
pub mod chain;
pub mod chart;
pub mod days;
mod flush;
pub mod model;
pub mod repo;
pub mod rules;
pub mod seals;
pub mod service;
pub mod templates;
pub mod verify;
pub mod writer;

pub use accounts::SharedChart;
pub use chart::Chart;
pub use days::DayState;
pub use model::{
    Account, AccountKind, AccountRole, EntryKind, Fund, NewEntry, PostedEntry, Posting, Side,
};
pub use rules::{validate, Crossing, LedgerError, RuleContext};

#[cfg(test)]
mod tests;
