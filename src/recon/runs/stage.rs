//! Storing a run without holding SQLite's one write lock for long (issue 19 part 5): a
//! million outcome rows written in one transaction held every payment at the counter for
//! seconds. A run is now *staged* — its rows written in short transactions, each taking its
//! turn with the counter's ledger writer (`db::turns`) — and *published* by one short commit.
//!
//! 1. **Begin**: the run's row is written `staging` (migration 000031). One run stages at a
//!    time: another waits for it (as two runs of one date always did), so nothing but the run
//!    under way writes outcomes meanwhile.
//! 2. **Release**: a re-run deactivates its date's outcomes, a chunk at a time, so that its own
//!    can claim the same lines (the partial unique indexes forbid a line, a void, a payment, a
//!    file's cash in two active outcomes: they hold for the staged rows as for any).
//! 3. **Stage**: the outcomes are written active, the exceptions inactive, a chunk at a time;
//!    each chunk renews the stage's `touched_at`.
//! 4. **Publish**, one short commit: the date's exceptions are swapped for the run's (worked
//!    ones found again unchanged keep their resolution), the run's row becomes `published`, the
//!    run is audited. A closed day is refused here too (it may have closed while the run was
//!    matching).
//!
//! All or nothing is kept for readers: a staging run is seen by no reader of runs (`get`,
//! `latest`, a day's close), its exceptions are inactive, and nothing reads outcomes by date
//! but through a run. What a re-run changes in between is which *claims* are in force: the
//! previous run's matches are released as the new run's are written — a record named by a
//! worked exception is checked against the claims in force, as before.
//!
//! A run that fails removes its stage at once; one whose process died (stage untouched for
//! [`STALE_AFTER`]) is removed by the next run or the next start ([`clean_abandoned`]): its
//! outcomes and exceptions deleted, the previous run's outcomes active again, its row gone.
//!
//! On PostgreSQL a writer never waits for a run's rows (row versions, not a database lock), so
//! the outcomes are staged in one transaction (`COPY`) there; the steps are the same.
//!
//! Depends on: [`crate::recon::matcher`] (the result), `db`, `audit`, `ledger` (a closed day).

use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::RunError;
use crate::audit::{self, AuditEvent};
use crate::bankfiles::stored;
use crate::db::schema::{recon_exceptions, recon_outcomes, recon_runs};
use crate::db::turns::{self, WriteTurns};
use crate::db::{write_txn, DbConn, DbError};
use crate::insert_bulk;
use crate::recon::exceptions::ExceptionStatus;
use crate::recon::matcher::{MatchResult, Outcome};
use crate::words::{Lang, Suggestion};

/// A run's row while its rows are written.
pub(super) const STAGING: &str = "staging";
/// A run's row once it is its date's run.
pub(super) const PUBLISHED: &str = "published";

/// A stage not touched for this long belongs to a run whose process died.
pub(super) const STALE_AFTER: chrono::Duration = chrono::Duration::seconds(30);

/// Outcome or exception rows per staging transaction on SQLite (~10 ms each).
const SQLITE_CHUNK: usize = 4_096;

/// Rows released, re-activated or deleted per transaction.
const STEP: i64 = 4_096;

/// Rest between two staging transactions, for a writer in another process (this process's
/// ledger writer takes its turn by [`WriteTurns`]).
const PAUSE: Duration = Duration::from_millis(1);

/// How long a run waits for another run's stage.
const WAIT_FOR_STAGE: Duration = Duration::from_secs(600);

/// The lock key of beginning a stage ("STAGE" in ASCII).
const STAGE_KEY: i64 = 0x0053_5441_4745;

/// The lock key of a date's runs (see [`crate::db::lock_for_rewrite`]): "RECON" in ASCII, then
/// the day number.
fn run_lock_key(date: NaiveDate) -> i64 {
    0x5245_434f_4e00_0000 + i64::from(chrono::Datelike::num_days_from_ce(&date))
}

/// A random id with `prefix`.
pub(super) fn new_id(prefix: &str) -> Result<String, DbError> {
    let bytes = crate::keys::random_bytes::<10>()
        .map_err(|e| DbError::Connect(format!("no randomness: {e}")))?;
    Ok(format!("{prefix}_{}", hex::encode(bytes)))
}

/// The run's row as it begins.
struct NewRun<'a> {
    id: &'a str,
    date: NaiveDate,
    summary: String,
    balance: String,
    actor: &'a str,
}

/// Stages `result` as the run of `date` by `actor` and publishes it; returns the run's id.
pub(super) fn store(
    conn: &mut DbConn,
    date: NaiveDate,
    actor: &str,
    result: &MatchResult,
) -> Result<String, RunError> {
    let run_id = new_id("rr")?;
    let summary = stored::to_json_value("recon_runs.summary", &result.summary)?;
    let balance = stored::to_json_value("recon_runs.balance", &result.balance)?;
    let new = NewRun {
        id: &run_id,
        date,
        summary: summary.to_string(),
        balance: balance.to_string(),
        actor,
    };
    let waiting_since = Instant::now();
    while !begin(conn, &new)? {
        if waiting_since.elapsed() > WAIT_FOR_STAGE {
            return Err(DbError::Connect(
                "another reconciliation run is still being stored".into(),
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(100));
        clean_abandoned(conn)?;
    }
    let staged = stage(conn, &run_id, date, result)
        .and_then(|exceptions| publish(conn, &new, &exceptions, &summary, &balance));
    if let Err(e) = staged {
        // best effort: what remains is removed as abandoned by the next run or start
        if let Err(cleanup) = remove(conn, &run_id, date) {
            tracing::warn!(run_id = %run_id, error = %cleanup, "staged run not removed");
        }
        return Err(e);
    }
    Ok(run_id)
}

/// Writes the run's row as `staging`; false while another run stages.
fn begin(conn: &mut DbConn, new: &NewRun<'_>) -> Result<bool, DbError> {
    let now = Utc::now().naive_utc();
    write_txn::<_, DbError, _>(conn, |conn| {
        crate::db::lock_for_rewrite(conn, STAGE_KEY)?;
        let busy: i64 = recon_runs::table
            .filter(recon_runs::state.eq(STAGING))
            .count()
            .get_result(conn)?;
        if busy > 0 {
            return Ok(false);
        }
        diesel::insert_into(recon_runs::table)
            .values((
                recon_runs::id.eq(new.id),
                recon_runs::business_date.eq(new.date),
                recon_runs::summary.eq(&new.summary),
                recon_runs::balance.eq(&new.balance),
                recon_runs::created_at.eq(now),
                recon_runs::created_by.eq(new.actor),
                recon_runs::state.eq(STAGING),
                recon_runs::touched_at.eq(now),
            ))
            .execute(conn)?;
        Ok(true)
    })
}

/// Renews the stage of `run_id` (and, the first time, notes where its outcomes begin: above
/// every outcome there is now). Inside each staging transaction.
fn touch(conn: &mut DbConn, run_id: &str, first: bool) -> Result<(), DbError> {
    let now = Utc::now().naive_utc();
    let row = diesel::update(recon_runs::table.find(run_id));
    let touched = if first {
        let max: Option<i64> = recon_outcomes::table
            .select(diesel::dsl::max(recon_outcomes::id))
            .first(conn)?;
        row.set((
            recon_runs::touched_at.eq(now),
            recon_runs::first_outcome.eq(max.unwrap_or(0) + 1),
        ))
        .execute(conn)?
    } else {
        row.set(recon_runs::touched_at.eq(now)).execute(conn)?
    };
    if touched == 0 {
        // removed as abandoned by another process: this run must not go on
        return Err(DbError::Connect(format!(
            "the stage of run {run_id} was removed as abandoned"
        )));
    }
    Ok(())
}

/// Rows per staging transaction on this backend.
fn chunk_rows(conn: &DbConn) -> usize {
    match conn {
        DbConn::Sqlite(_) => SQLITE_CHUNK,
        DbConn::Postgres(_) => usize::MAX,
    }
}

/// Runs `f` in a short write transaction that renews the stage, taking a bulk turn with this
/// process's ledger writer on SQLite; then rests a moment.
fn staged_txn<T>(
    conn: &mut DbConn,
    turns: Option<&WriteTurns>,
    run_id: &str,
    f: impl FnOnce(&mut DbConn) -> Result<T, DbError>,
) -> Result<T, DbError> {
    let out = {
        let _turn = turns.map(WriteTurns::bulk);
        write_txn::<_, DbError, _>(conn, |conn| {
            touch(conn, run_id, false)?;
            f(conn)
        })?
    };
    std::thread::sleep(PAUSE);
    Ok(out)
}

/// An exception the run staged, by what it found.
pub(super) struct StagedException {
    id: String,
    finding: Finding,
}

/// Releases the date's claims, then writes the run's outcomes (active) and exceptions
/// (inactive), a chunk at a time; returns the exceptions staged.
fn stage(
    conn: &mut DbConn,
    run_id: &str,
    date: NaiveDate,
    result: &MatchResult,
) -> Result<Vec<StagedException>, RunError> {
    let turns = turns::of(conn).map_err(DbError::from)?;
    let turns = turns.as_deref();
    // the previous run's outcomes of this date: kept, for the record, no longer claims
    loop {
        let released = staged_txn(conn, turns, run_id, |conn| {
            // the step's last id (by the date's index, in id order)
            let ids: Vec<i64> = recon_outcomes::table
                .filter(recon_outcomes::business_date.eq(date))
                .filter(recon_outcomes::active.eq(true))
                .select(recon_outcomes::id)
                .order(recon_outcomes::id)
                .limit(STEP)
                .load(conn)?;
            let Some(upto) = ids.last() else {
                return Ok(0);
            };
            Ok(diesel::update(recon_outcomes::table)
                .filter(recon_outcomes::business_date.eq(date))
                .filter(recon_outcomes::active.eq(true))
                .filter(recon_outcomes::id.le(upto))
                .set(recon_outcomes::active.eq(false))
                .execute(conn)?)
        })?;
        if released == 0 {
            break;
        }
    }
    let counted: Vec<&Outcome> = result.outcomes.iter().filter(|o| o.counted).collect();
    let size = chunk_rows(conn);
    write_txn::<_, DbError, _>(conn, |conn| touch(conn, run_id, true))?;
    for part in counted.chunks(size) {
        let rows: Vec<_> = part
            .iter()
            .map(|o| {
                (
                    recon_outcomes::run_id.eq(run_id.to_string()),
                    recon_outcomes::business_date.eq(date),
                    recon_outcomes::category.eq::<&'static str>(o.category.into()),
                    recon_outcomes::subject.eq::<&'static str>(o.subject.into()),
                    recon_outcomes::payment_id.eq(o.payment_id.clone()),
                    recon_outcomes::settlement_record_id.eq(o.line_id),
                    recon_outcomes::void_record_id.eq(o.void_line_id),
                    recon_outcomes::file_id.eq(o.file_id.clone()),
                    recon_outcomes::booking_id.eq(o.booking_id),
                    recon_outcomes::ledger_minor.eq(o.ledger_minor),
                    recon_outcomes::settlement_minor.eq(o.settlement_minor),
                    recon_outcomes::note.eq(o.note),
                    recon_outcomes::active.eq(true),
                )
            })
            .collect();
        staged_txn(conn, turns, run_id, |conn| {
            insert_bulk!(conn, recon_outcomes::table, rows)?;
            Ok(())
        })?;
    }
    let mut staged = Vec::new();
    let exceptional: Vec<&&Outcome> = counted
        .iter()
        .filter(|o| o.category.is_exception())
        .collect();
    for part in exceptional.chunks(size) {
        let mut rows = Vec::with_capacity(part.len());
        for o in part {
            let id = new_id("ex")?;
            let action = o.action.unwrap_or(Suggestion::Investigate);
            rows.push((
                recon_exceptions::id.eq(id.clone()),
                recon_exceptions::run_id.eq(run_id.to_string()),
                recon_exceptions::business_date.eq(date),
                recon_exceptions::kind.eq::<&'static str>(o.category.into()),
                recon_exceptions::payment_id.eq(o.payment_id.clone()),
                recon_exceptions::settlement_record_id.eq(o.line_id),
                recon_exceptions::file_id.eq(o.file_id.clone()),
                recon_exceptions::booking_id.eq(o.booking_id),
                recon_exceptions::ledger_minor.eq(o.ledger_minor),
                recon_exceptions::settlement_minor.eq(o.settlement_minor),
                recon_exceptions::suggested_action.eq(action.text(Lang::En)),
                recon_exceptions::action_code.eq(action.code()),
                recon_exceptions::status.eq::<&'static str>(ExceptionStatus::Open.into()),
                recon_exceptions::active.eq(false),
            ));
            staged.push(StagedException {
                id,
                finding: Finding {
                    kind: o.category.to_string(),
                    payment_id: o.payment_id.clone(),
                    settlement_record_id: o.line_id,
                    file_id: o.file_id.clone(),
                    booking_id: o.booking_id,
                    ledger_minor: o.ledger_minor,
                    settlement_minor: o.settlement_minor,
                },
            });
        }
        staged_txn(conn, turns, run_id, |conn| {
            insert_bulk!(conn, recon_exceptions::table, rows)?;
            Ok(())
        })?;
    }
    Ok(staged)
}

/// The one short commit that makes the staged run its date's run.
fn publish(
    conn: &mut DbConn,
    new: &NewRun<'_>,
    staged: &[StagedException],
    summary: &serde_json::Value,
    balance: &serde_json::Value,
) -> Result<(), RunError> {
    let (run_id, date) = (new.id, new.date);
    let turns = turns::of(conn).map_err(DbError::from)?;
    let _turn = turns.as_deref().map(WriteTurns::bulk);
    write_txn::<_, RunError, _>(conn, |conn| {
        // two runs of one date: the later publication replaces the earlier's exceptions
        crate::db::lock_for_rewrite(conn, run_lock_key(date))?;
        touch(conn, run_id, false)?;
        if crate::ledger::repo::is_day_closed(conn, date)? {
            return Err(RunError::DayClosed(date));
        }
        // Exceptions already worked stay worked when the run finds exactly the same thing
        // (same kind, records and amounts); anything else is looked at afresh.
        let worked = worked_exceptions(conn, date)?;
        diesel::update(recon_exceptions::table.filter(recon_exceptions::business_date.eq(date)))
            .filter(recon_exceptions::active.eq(true))
            .set(recon_exceptions::active.eq(false))
            .execute(conn)
            .map_err(DbError::from)?;
        diesel::update(recon_exceptions::table.filter(recon_exceptions::run_id.eq(run_id)))
            .set(recon_exceptions::active.eq(true))
            .execute(conn)
            .map_err(DbError::from)?;
        for w in &worked {
            if let Some(new) = staged.iter().find(|s| s.finding == w.finding) {
                carry_resolution(conn, &new.id, &w.id)?;
            }
        }
        diesel::update(recon_runs::table.find(run_id))
            .set(recon_runs::state.eq(PUBLISHED))
            .execute(conn)
            .map_err(DbError::from)?;
        audit::record_at(
            conn,
            AuditEvent {
                actor: new.actor,
                action: "reconciliation.run",
                subject: &format!("reconciliation:{run_id}"),
                before: None,
                after: Some(
                    serde_json::json!({"business_date": date, "summary": summary, "balance": balance}),
                ),
            },
            Utc::now().naive_utc(),
        )?;
        Ok(())
    })
}

/// The date's active exceptions someone has worked, by what they found.
fn worked_exceptions(conn: &mut DbConn, date: NaiveDate) -> Result<Vec<Worked>, DbError> {
    Ok(recon_exceptions::table
        .filter(recon_exceptions::business_date.eq(date))
        .filter(recon_exceptions::active.eq(true))
        .filter(recon_exceptions::status.ne(ExceptionStatus::Open.as_ref()))
        .select(Worked::as_select())
        .load(conn)?)
}

/// Copies the resolution of worked exception `previous` onto `new`, which repeats it.
fn carry_resolution(conn: &mut DbConn, new: &str, previous: &str) -> Result<(), DbError> {
    let resolved: Resolution = recon_exceptions::table
        .find(previous)
        .select(Resolution::as_select())
        .first(conn)?;
    diesel::update(recon_exceptions::table.find(new))
        .set(&resolved)
        .execute(conn)?;
    Ok(())
}

/// Removes the stages of runs whose process died (not touched for [`STALE_AFTER`]); returns
/// how many. Called by every run before it stages, and at the service's start.
pub fn clean_abandoned(conn: &mut DbConn) -> Result<usize, DbError> {
    let before = Utc::now().naive_utc() - STALE_AFTER;
    let stale: Vec<(String, NaiveDate)> = recon_runs::table
        .filter(recon_runs::state.eq(STAGING))
        .filter(recon_runs::touched_at.lt(before))
        .select((recon_runs::id, recon_runs::business_date))
        .load(conn)?;
    for (id, date) in &stale {
        tracing::warn!(run_id = %id, "removing the rows of an abandoned reconciliation run");
        remove(conn, id, *date)?;
    }
    Ok(stale.len())
}

/// Removes staged run `run_id` of `date`: its outcomes and exceptions, then gives the date's
/// published run its claims back, then its row — a step at a time.
fn remove(conn: &mut DbConn, run_id: &str, date: NaiveDate) -> Result<(), DbError> {
    let first: Option<Option<i64>> = recon_runs::table
        .find(run_id)
        .filter(recon_runs::state.eq(STAGING))
        .select(recon_runs::first_outcome)
        .first(conn)
        .optional()?;
    let turns = turns::of(conn)?;
    let Some(first) = first else {
        // Removed already, by a process that took this stage for abandoned while this one was
        // held up: a chunk it committed meanwhile may have outlived that removal.
        step_txn(conn, turns.as_deref(), |conn| {
            diesel::delete(recon_outcomes::table.filter(recon_outcomes::run_id.eq(run_id)))
                .execute(conn)
        })?;
        return Ok(());
    };
    let turns = turns.as_deref();
    if let Some(mut from) = first {
        let last: Option<i64> = recon_outcomes::table
            .select(diesel::dsl::max(recon_outcomes::id))
            .first(conn)?;
        while from <= last.unwrap_or(0) {
            let to = from + STEP;
            step_txn(conn, turns, |conn| {
                diesel::delete(
                    recon_outcomes::table
                        .filter(recon_outcomes::id.ge(from))
                        .filter(recon_outcomes::id.lt(to))
                        .filter(recon_outcomes::run_id.eq(run_id)),
                )
                .execute(conn)
            })?;
            from = to;
        }
    }
    step_txn(conn, turns, |conn| {
        diesel::delete(recon_exceptions::table.filter(recon_exceptions::run_id.eq(run_id)))
            .execute(conn)
    })?;
    let current: Option<String> = recon_runs::table
        .filter(recon_runs::business_date.eq(date))
        .filter(recon_runs::state.eq(PUBLISHED))
        .order((recon_runs::created_at.desc(), recon_runs::id.desc()))
        .select(recon_runs::id)
        .first(conn)
        .optional()?;
    if let Some(current) = current {
        loop {
            let restored = step_txn(conn, turns, |conn| {
                let ids: Vec<i64> = recon_outcomes::table
                    .filter(recon_outcomes::business_date.eq(date))
                    .filter(recon_outcomes::active.eq(false))
                    .filter(recon_outcomes::run_id.eq(&current))
                    .select(recon_outcomes::id)
                    .order(recon_outcomes::id)
                    .limit(STEP)
                    .load(conn)?;
                let Some(upto) = ids.last() else {
                    return Ok(0);
                };
                diesel::update(recon_outcomes::table)
                    .filter(recon_outcomes::business_date.eq(date))
                    .filter(recon_outcomes::active.eq(false))
                    .filter(recon_outcomes::run_id.eq(&current))
                    .filter(recon_outcomes::id.le(upto))
                    .set(recon_outcomes::active.eq(true))
                    .execute(conn)
            })?;
            if restored == 0 {
                break;
            }
        }
    }
    step_txn(conn, turns, |conn| {
        diesel::delete(recon_runs::table.find(run_id))
            .filter(recon_runs::state.eq(STAGING))
            .execute(conn)
    })?;
    Ok(())
}

/// One step of a removal: a short write transaction in a bulk turn.
fn step_txn(
    conn: &mut DbConn,
    turns: Option<&WriteTurns>,
    f: impl FnOnce(&mut DbConn) -> Result<usize, diesel::result::Error>,
) -> Result<usize, DbError> {
    let done = {
        let _turn = turns.map(WriteTurns::bulk);
        write_txn::<_, diesel::result::Error, _>(conn, f)?
    };
    std::thread::sleep(PAUSE);
    Ok(done)
}

/// What identifies "the same finding" across runs: kind, records, amounts.
#[derive(Queryable, Selectable, PartialEq)]
#[diesel(table_name = recon_exceptions)]
pub(super) struct Finding {
    kind: String,
    payment_id: Option<String>,
    settlement_record_id: Option<i64>,
    file_id: Option<String>,
    booking_id: Option<i64>,
    ledger_minor: Option<i64>,
    settlement_minor: Option<i64>,
}

/// A worked exception's finding and id.
#[derive(Queryable, Selectable)]
#[diesel(table_name = recon_exceptions)]
struct Worked {
    #[diesel(embed)]
    finding: Finding,
    id: String,
}

/// A resolution as stored, copied verbatim onto the same finding in a re-run (every column,
/// empty ones included).
#[derive(Queryable, Selectable, AsChangeset)]
#[diesel(table_name = recon_exceptions, treat_none_as_null = true)]
struct Resolution {
    status: String,
    resolution: Option<String>,
    note: Option<String>,
    matched_payment_id: Option<String>,
    matched_record_id: Option<i64>,
    resolved_by_token: Option<String>,
    resolved_by_person: Option<String>,
    resolved_by: Option<String>,
    resolved_at: Option<NaiveDateTime>,
    approved_by: Option<String>,
    approved_at: Option<NaiveDateTime>,
    matched_booking_id: Option<i64>,
    amount_minor: Option<i64>,
    entry_seq: Option<i64>,
}
