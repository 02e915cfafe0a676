//! Reconciliation runs: load the day's records from the database, match them
//! ([`super::matcher`]), and store the outcomes and exceptions in one transaction.
//!
//! A run of date D loads the payments of D−1, D and D+1 (a payment pairs across the cut-off),
//! the settlement lines and files dated D and D+1, the collection account's bookings dated D to
//! D+2 (files are paid on T+1), the statement closing balance for D and the ledger's 1002.01 as
//! of D. Only the outcomes the matcher says belong to D are stored: the next night's run owns the
//! rest. A re-run replaces the date's active outcomes and exceptions (kept, inactive, for the
//! record); the database's partial unique indexes forbid a settlement line or a payment in two
//! active outcomes.
//!
//! - `load`: reading the date's records;
//! - `store`: storing the run, its outcomes and exceptions, posting the settlement entries (from
//!   `ledger::templates::settlement`), and reading stored runs back;
//! - this file: the run as one use case — load, match, store, post.
//!
//! The report of a stored run is in [`super::report`] (re-exported here).
//!
//! Depends on: [`super::matcher`], `db`, `audit`, `clock`, `ledger`.

mod load;
mod status;
mod store;

pub use super::report::{report, report_csv, Group, Netting, Report};
pub(super) use load::{file_sums, settlement_file_rows};
pub use load::{input_files, load};
pub(crate) use store::StoredExceptionRow;
pub use store::{exceptions, get, latest, post_settlements, ExceptionRow};

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use super::matcher::reconcile;
use crate::db::DbConn;
use crate::ledger::writer::LedgerWriter;

/// A stored run, as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Run {
    /// `rr_` and random hex.
    pub id: String,
    /// The business date reconciled.
    #[schema(value_type = String)]
    pub business_date: NaiveDate,
    /// Counts per outcome, with the API's names.
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
    /// The balance tier: statement closing balance against ledger 1002.01.
    #[schema(value_type = Object)]
    pub balance: serde_json::Value,
    /// Open exceptions of this run.
    pub open_exceptions: i64,
    /// When it ran (UTC).
    #[schema(value_type = String)]
    pub created_at: NaiveDateTime,
    /// Who ran it.
    pub created_by: String,
    /// Settlement entries this run posted (files found paid and not posted before).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub settlement_entries: Vec<i64>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// The day is closed: its reconciliation stands as it was when it was sealed.
    #[error("{0} is closed; its reconciliation can no longer change")]
    DayClosed(NaiveDate),
    /// A settlement entry could not be posted (the outcomes are stored; running again posts
    /// what is missing).
    #[error("the settlement entry could not be posted: {0}")]
    Post(String),
}

/// The steps of a run, in order, as [`run_with_progress`] reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Loading the day's payments, settlement lines, bookings and balances.
    Load,
    /// Matching them (the three tiers).
    Match,
    /// Storing the outcomes and exceptions.
    Store,
    /// Posting the settlement entries of the files found paid.
    Post,
}

/// Runs the reconciliation of `date` and stores it: one transaction for the outcomes and
/// exceptions; then the settlement entries of the files found paid, through the ledger writer.
pub fn run(
    conn: &mut DbConn,
    writer: &LedgerWriter,
    date: NaiveDate,
    actor: &str,
) -> Result<Run, RunError> {
    run_with_progress(conn, writer, date, actor, &mut |_| {})
}

/// [`run`], telling `phase` as each step begins (for a progress display).
pub fn run_with_progress(
    conn: &mut DbConn,
    writer: &LedgerWriter,
    date: NaiveDate,
    actor: &str,
    phase: &mut dyn FnMut(Phase),
) -> Result<Run, RunError> {
    // A closed day's reconciliation is part of what its seal stands for.
    if crate::ledger::repo::is_day_closed(conn, date)? {
        return Err(RunError::DayClosed(date));
    }
    phase(Phase::Load);
    let input = load(conn, date)?;
    phase(Phase::Match);
    let result = reconcile(&input);
    drop(input);
    phase(Phase::Store);
    let stored = store::store(conn, date, actor, &result)?;
    drop(result);
    phase(Phase::Post);
    let paid = store::paid_files(conn, &stored.id)?;
    let posted = post_settlements(conn, writer, date, &paid, actor)?;
    status::apply(conn, &stored.id, actor)?;
    Ok(Run {
        settlement_entries: posted,
        ..stored
    })
}
