//! Reconciliation runs: load the day's records from the database, match them
//! ([`super::matcher`]), store the outcomes and exceptions (staged in short transactions,
//! published by one short commit: [`stage`]), then post what the run found paid and move the
//! payments' status.
//!
//! A run of date D loads the payments of D−1, D and D+1 (a payment pairs across the cut-off),
//! the settlement lines and files dated D and D+1 (and D−1 with a business-day cut-off: a
//! payment of D captured on D−1 after it may be in the acquirer's file of D−1), the files
//! carried forward, the collection account's bookings dated D to D+2 (files are paid on T+1;
//! from the oldest carried file's date when there is one), the statement closing balance for D
//! and the ledger's 1002.01 as of D. Only the outcomes the matcher says belong to D are stored:
//! the next night's run owns the rest. A re-run replaces the date's active outcomes and
//! exceptions (kept, inactive, for the record); the database's partial unique indexes forbid a
//! settlement line or a payment in two active outcomes, and a file's cash spent by two.
//!
//! # Carried forward (DESIGN §5 "No credit is ever lost")
//! A settlement file dated before the window whose cash no run of another date has spent
//! (no active `cash_matched` / `cash_mismatch`) and whose settlement entry is not posted is
//! loaded by every run, whatever its age: the run that finds its credit owns the outcome and
//! posts the settlement entry dated D (an open day: a closed day's run is refused), so a
//! closed day never changes. Until then each run reports it `awaiting_credit` with its age in
//! business days; past [`Settings::credit_horizon_days`] it is `cash_missing` once (an
//! exception for a bank claim) and later runs keep looking for its credit without reporting
//! it again. Bookings and files another run already used are loaded as context
//! ([`crate::recon::matcher::PriorCash`]) so a booking is never spent twice.
//!
//! - `load`: reading the date's records;
//! - `stage`: storing the run, its outcomes and exceptions, and removing abandoned stages;
//! - `store`: posting the settlement entries (from `ledger::templates::settlement`), and
//!   reading stored runs back;
//! - `status`: the payments' status moves;
//! - this file: the run as one use case — load, match, store, post — and finishing a run a
//!   process that died left published but unfinished.
//!
//! The report of a stored run is in [`super::report`] (re-exported here).
//!
//! Depends on: [`super::matcher`], `db`, `audit`, `clock`, `ledger`.

mod load;
mod stage;
mod status;
mod store;

pub use super::report::{awaiting, report, report_csv, Awaiting, Group, Netting, Report};
pub(super) use load::{file_sums, settlement_file_rows};
pub use load::{input_files, load};
pub use stage::clean_abandoned as clean_abandoned_runs;
pub(crate) use store::StoredExceptionRow;
pub use store::{exceptions, get, latest, post_settlements, ExceptionRow};

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::Serialize;

use diesel::prelude::*;

use super::matcher::{reconcile, DEFAULT_CREDIT_HORIZON_DAYS};
use crate::db::schema::recon_runs;
use crate::db::{DbConn, DbError};
use crate::ledger::writer::LedgerWriter;

/// What a run needs from the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Business days (Monday to Friday; public holidays are not modelled) after its settlement
    /// date that a file's credit is awaited before it is `cash_missing`.
    pub credit_horizon_days: u32,
    /// The business-day cut-off, if any (`Config::business_day_cutoff`).
    pub business_day_cutoff: Option<NaiveTime>,
    /// The collection account's number (`Config::collection_account`): only its statements and
    /// bookings are reconciled; a statement of any other account is not the collection
    /// account's money. `None` reads every imported statement (a bench's synthetic day).
    pub collection_account: Option<String>,
}

impl Settings {
    /// The settings of a run.
    pub fn new(
        credit_horizon_days: u32,
        business_day_cutoff: Option<NaiveTime>,
        collection_account: Option<String>,
    ) -> Settings {
        Settings {
            credit_horizon_days,
            business_day_cutoff,
            collection_account,
        }
    }
}

impl Default for Settings {
    /// Five business days, no cut-off.
    fn default() -> Settings {
        Settings::new(DEFAULT_CREDIT_HORIZON_DAYS, None, None)
    }
}

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

impl From<diesel::result::Error> for RunError {
    fn from(e: diesel::result::Error) -> Self {
        RunError::Db(e.into())
    }
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
    settings: &Settings,
    date: NaiveDate,
    actor: &str,
) -> Result<Run, RunError> {
    run_with_progress(conn, writer, settings, date, actor, &mut |_| {})
}

/// [`run`], telling `phase` as each step begins (for a progress display).
pub fn run_with_progress(
    conn: &mut DbConn,
    writer: &LedgerWriter,
    settings: &Settings,
    date: NaiveDate,
    actor: &str,
    phase: &mut dyn FnMut(Phase),
) -> Result<Run, RunError> {
    // A closed day's reconciliation is part of what its seal stands for.
    if crate::ledger::repo::is_day_closed(conn, date)? {
        return Err(RunError::DayClosed(date));
    }
    stage::clean_abandoned(conn)?;
    finish_abandoned(conn, writer);
    phase(Phase::Load);
    let input = load(conn, date, settings)?;
    phase(Phase::Match);
    let result = reconcile(&input);
    drop(input);
    phase(Phase::Store);
    let run_id = stage::store(conn, date, actor, &result)?;
    drop(result);
    // the status move and the posting read the outcomes just stored
    crate::db::refresh_statistics(conn, &["recon_outcomes"])?;
    phase(Phase::Post);
    let posted = finish(conn, writer, &run_id, date, actor)?;
    let stored = get(conn, &run_id)?
        .ok_or_else(|| DbError::Connect("the run just stored is gone".into()))?;
    Ok(Run {
        settlement_entries: posted,
        ..stored
    })
}

/// What follows a run's publication: the settlement entries of the files it found paid (dated
/// its date: open, checked before it ran, also for files carried from earlier, closed days),
/// the payments' status moves, the bank claims its credits settle; then the run is finished.
/// Each step is idempotent, so a run cut short here is finished by the next.
fn finish(
    conn: &mut DbConn,
    writer: &LedgerWriter,
    run_id: &str,
    date: NaiveDate,
    actor: &str,
) -> Result<Vec<i64>, RunError> {
    let paid = store::paid_files(conn, run_id)?;
    let posted = post_settlements(conn, writer, date, &paid, actor)?;
    status::apply(conn, run_id, date, actor)?;
    // A bank claim on a file this run found paid is settled (its credit came).
    let now = chrono::Utc::now().naive_utc();
    super::exceptions::claims_paid(conn, &paid, run_id, now)?;
    crate::db::write_txn::<_, DbError, _>(conn, |conn| {
        // finished once (two processes may have finished it at once)
        diesel::update(recon_runs::table.find(run_id))
            .filter(recon_runs::finished_at.is_null())
            .set(recon_runs::finished_at.eq(now))
            .execute(conn)?;
        Ok(())
    })?;
    Ok(posted)
}

/// Finishes the runs a process that died left published but unfinished (untouched for
/// [`stage::STALE_AFTER`]). One that cannot be finished now (its day closed since, say) is
/// logged and left for the next run: it must not stop this one.
fn finish_abandoned(conn: &mut DbConn, writer: &LedgerWriter) {
    let before = chrono::Utc::now().naive_utc() - stage::STALE_AFTER;
    let unfinished: Result<Vec<(String, NaiveDate, String)>, _> = recon_runs::table
        .filter(recon_runs::finished_at.is_null())
        .filter(recon_runs::state.eq(stage::PUBLISHED))
        .filter(recon_runs::touched_at.lt(before))
        .select((
            recon_runs::id,
            recon_runs::business_date,
            recon_runs::created_by,
        ))
        .load(conn);
    let unfinished = match unfinished {
        Ok(runs) => runs,
        Err(e) => {
            tracing::warn!(error = %e, "unfinished runs not looked for");
            return;
        }
    };
    for (id, date, actor) in unfinished {
        tracing::warn!(run_id = %id, "finishing a run a stopped process left unfinished");
        if let Err(e) = finish(conn, writer, &id, date, &actor) {
            tracing::warn!(run_id = %id, error = %e, "unfinished run not finished");
        }
    }
}
