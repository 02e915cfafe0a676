//! Nightly reconciliation: the ledger's payments against the acquirers' settlement detail and
//! the collection account's statement, in three tiers (DESIGN §5).
//!
//! - [`matcher`]: the pure, deterministic matcher over in-memory records (no database, no
//!   HTTP), property-tested.
//!
//! - [`days`]: business days, and the close that seals them.
//!
//! - [`runs`]: a run — load the date's records, match, store outcomes and exceptions.
//!
//! - [`report`]: a stored run's report (per channel, department and file; exceptions), as JSON
//!   and CSV.
//!
//! - [`inputs`]: which imported files a stored run used, and withdrawing one it did not.
//!
//! - [`candidates`]: an open item's candidate counterparts (pure), and [`workspace`]: the pool
//!   they are chosen from, read in a few queries, for the reconciliation workspace.
//!
//! - [`exceptions`]: working exceptions — manual match, write-off with a second person's
//!   approval, bank claim, accept as timing.
//!
//! Depends on: [`crate::bankfiles::records`], [`crate::text`].

pub mod candidates;
pub mod days;
pub mod exceptions;
pub mod inputs;
pub mod matcher;
pub mod report;
pub mod runs;
pub mod workspace;
