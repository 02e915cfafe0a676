//! What a stored run moves in the payments' status (DESIGN §3; the rules are
//! [`PaymentStatus::after`](crate::payments::PaymentStatus::after)):
//! - a payment the run matched to its acquirer line (transaction tier `matched`) becomes
//!   `settled`;
//! - a payment whose matched line is in a file whose settlement entry has posted (the file's
//!   credit was found on the collection account, cash tier `cash_matched`) becomes
//!   `reconciled` — whichever run stored its match, so the order the nights run in does not
//!   matter.
//!
//! The second move is made first, so a payment whose file's credit came with its match goes
//! captured → reconciled and its row is written once: written twice, the second version of a
//! million rows found no room left on PostgreSQL's pages (a payment's page keeps room for one:
//! migration 000030), so it was not heap-only.
//!
//! Voided payments stay voided; nothing moves backwards. Each move is set-based, `UPDATE
//! payments … WHERE status IN (…) AND id IN (SELECT payment_id FROM recon_outcomes …)`, so a
//! run of a million payments neither holds their ids nor sends them back to the database in
//! long `IN` lists: the row's status is checked by the database in the same statement
//! ([`PaymentStatus::moved_by`](crate::payments::PaymentStatus::moved_by)), so a concurrent
//! void and this move cannot both win. On SQLite the statement is run over a window of
//! [`SQLITE_WINDOW`] outcome (or line) ids at a time, each window its own short transaction
//! taking its turn with the counter's ledger writer (issue 19 part 5; on PostgreSQL, whose
//! writers never wait for these rows, one window holds the move): a move cut short by a crash
//! is finished by the next run (the run's `finished_at` is still empty), and the moves are
//! idempotent. One audit record for the whole move.
//!
//! Depends on: `payments` (the status moves), `db`, `audit`, `ledger::templates` (the
//! settlement entry's reference), [`crate::recon::matcher`] (the categories).

use chrono::{NaiveDate, Utc};
use diesel::prelude::*;

use crate::audit::{self, AuditEvent};
use crate::db::schema::{self, ledger_entries, recon_outcomes, settlement_records};
use crate::db::turns::{self, WriteTurns};
use crate::db::{DbConn, DbError};
use crate::ledger::model::EntryKind;
use crate::ledger::templates::settlement_reference;
use crate::payments::{PaymentEvent, PaymentStatus};
use crate::recon::matcher::{Category, Subject};

/// How many files one statement names (well under the databases' bind limits).
const FILES_PER_STATEMENT: usize = 500;

/// Outcome (or line) ids per status-moving transaction on SQLite: each is short, so the
/// counter's payments are not held behind a million row rewrites (issue 19 part 5).
/// PostgreSQL's writers never wait for these rows, and each transaction there costs a flush:
/// one window holds the whole move.
const SQLITE_WINDOW: i64 = 4_096;

/// How many payments a run moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Moved {
    /// Captured → settled (matched; their file's credit not yet found).
    pub(super) settled: usize,
    /// Captured or settled → reconciled.
    pub(super) reconciled: usize,
}

/// Moves the statuses of the payments the stored run `run_id` of `date` settled and
/// reconciled (run after its settlement entries are posted).
pub(super) fn apply(
    conn: &mut DbConn,
    run_id: &str,
    date: NaiveDate,
    actor: &str,
) -> Result<Moved, DbError> {
    let turns = turns::of(conn)?;
    let turns = turns.as_deref();
    // Reconciled first, then settled: a payment of a posted file goes captured →
    // reconciled in one move (the status allows it), so no row is written twice here.
    let files = posted_files(conn, run_id)?;
    let reconciled = reconcile(conn, turns, run_id, &files)?;
    let settled = settle(conn, turns, run_id)?;
    let moved = Moved {
        settled,
        reconciled,
    };
    if settled + reconciled > 0 {
        crate::db::write_txn::<_, DbError, _>(conn, |conn| {
            audit::record_at(
                conn,
                AuditEvent {
                    actor,
                    action: "payment.status",
                    subject: &format!("reconciliation:{run_id}"),
                    before: None,
                    after: Some(serde_json::json!({
                        "business_date": date,
                        "settled": settled,
                        "reconciled": reconciled,
                        "files": files,
                    })),
                },
                Utc::now().naive_utc(),
            )
        })?;
    }
    Ok(moved)
}

/// One step of a move: a short write transaction (in a bulk turn with this process's ledger
/// writer on SQLite) that renews the run's `touched_at` and runs `update`.
fn step(
    conn: &mut DbConn,
    turns: Option<&WriteTurns>,
    run_id: &str,
    update: impl FnOnce(&mut DbConn) -> Result<usize, diesel::result::Error>,
) -> Result<usize, DbError> {
    let _turn = turns.map(WriteTurns::bulk);
    crate::db::write_txn::<_, DbError, _>(conn, |conn| {
        // one move at a time: two runs' moves never lock the same rows in opposite orders
        // ("STATUS" in ASCII: one key for every run)
        crate::db::lock_for_rewrite(conn, 0x5354_4154_5553)?;
        diesel::update(schema::recon_runs::table.find(run_id))
            .set(schema::recon_runs::touched_at.eq(Utc::now().naive_utc()))
            .execute(conn)?;
        Ok(update(conn)?)
    })
}

/// Runs `update(lo, hi)` over the ids `first..=last`, a window of [`SQLITE_WINDOW`] at a time
/// on SQLite (one on PostgreSQL), each window its own [`step`]; returns the rows moved.
fn in_windows(
    conn: &mut DbConn,
    turns: Option<&WriteTurns>,
    run_id: &str,
    first: i64,
    last: i64,
    mut update: impl FnMut(&mut DbConn, i64, i64) -> Result<usize, diesel::result::Error>,
) -> Result<usize, DbError> {
    let window = match conn {
        DbConn::Sqlite(_) => SQLITE_WINDOW,
        DbConn::Postgres(_) => i64::MAX / 2,
    };
    let mut moved = 0;
    let mut at = first;
    while at <= last {
        let hi = at.saturating_add(window);
        moved += step(conn, turns, run_id, |conn| update(conn, at, hi))?;
        at = hi;
    }
    Ok(moved)
}

/// The payment ids of the active `matched` payment outcomes among `query`'s rows.
macro_rules! matched_payments {
    ($query:expr) => {
        $query
            .filter(recon_outcomes::active.eq(true))
            .filter(recon_outcomes::category.eq(Category::Matched.as_ref()))
            .filter(recon_outcomes::subject.eq(Subject::Payment.as_ref()))
            .filter(recon_outcomes::payment_id.is_not_null())
            .select(recon_outcomes::payment_id)
    };
}

/// Moves the payments `ids` (a subquery) that are in a status of `from` to `to`: the status
/// checked by the database in the same statement.
macro_rules! move_payments {
    ($conn:expr, $from:expr, $to:expr, $ids:expr) => {
        diesel::update(
            schema::payments::table
                .filter(schema::payments::status.eq_any($from))
                .filter(schema::payments::id.nullable().eq_any($ids)),
        )
        .set(schema::payments::status.eq($to.as_ref()))
        .execute($conn)
    };
}

/// The statuses a move by `event` to `to` may find in the rows it changes, as stored.
fn moved_from(event: PaymentEvent, to: PaymentStatus) -> Vec<&'static str> {
    PaymentStatus::moved_by(event, to)
        .into_iter()
        .map(<&'static str>::from)
        .collect()
}

/// The payments of the run's active `matched` payment outcomes → settled, a window of outcome
/// ids at a time ([`in_windows`]; a run's outcomes begin at its
/// `first_outcome`).
fn settle(conn: &mut DbConn, turns: Option<&WriteTurns>, run_id: &str) -> Result<usize, DbError> {
    let to = PaymentStatus::Settled;
    let from = moved_from(PaymentEvent::LineMatched, to);
    let first: Option<i64> = schema::recon_runs::table
        .find(run_id)
        .select(schema::recon_runs::first_outcome)
        .first(conn)?;
    let first = first.unwrap_or(0);
    let last: Option<i64> = recon_outcomes::table
        .filter(recon_outcomes::id.ge(first))
        .filter(recon_outcomes::run_id.eq(run_id))
        .select(diesel::dsl::max(recon_outcomes::id))
        .first(conn)?;
    in_windows(
        conn,
        turns,
        run_id,
        first,
        last.unwrap_or(-1),
        |conn, lo, hi| {
            let matched = matched_payments!(recon_outcomes::table
                .filter(recon_outcomes::id.ge(lo))
                .filter(recon_outcomes::id.lt(hi))
                .filter(recon_outcomes::run_id.eq(run_id)));
            move_payments!(conn, &from, to, matched)
        },
    )
}

/// The files whose settlement entry has posted among those the run touched: the files it
/// found paid, and the files of the lines it matched (their credit may have been found by
/// an earlier run).
fn posted_files(conn: &mut DbConn, run_id: &str) -> Result<Vec<String>, DbError> {
    let mut files = super::store::paid_files(conn, run_id)?;
    files.extend(
        recon_outcomes::table
            .inner_join(
                settlement_records::table
                    .on(recon_outcomes::settlement_record_id.eq(settlement_records::id.nullable())),
            )
            .filter(recon_outcomes::run_id.eq(run_id))
            .filter(recon_outcomes::category.eq(Category::Matched.as_ref()))
            .filter(recon_outcomes::subject.eq(Subject::Payment.as_ref()))
            .select(settlement_records::file_id)
            .distinct()
            .load::<String>(conn)?,
    );
    files.sort();
    files.dedup();
    let mut posted = Vec::new();
    // Files per statement: well under SQLite's and PostgreSQL's bind limits.
    for chunk in files.chunks(FILES_PER_STATEMENT) {
        let references: Vec<String> = chunk.iter().map(|f| settlement_reference(f)).collect();
        let found: Vec<Option<String>> = ledger_entries::table
            .filter(ledger_entries::kind.eq(EntryKind::Settlement.as_str()))
            .filter(ledger_entries::reference.eq_any(&references))
            .select(ledger_entries::reference)
            .load(conn)?;
        posted.extend(
            chunk
                .iter()
                .filter(|f| found.contains(&Some(settlement_reference(f))))
                .cloned(),
        );
    }
    Ok(posted)
}

/// The payments of every active `matched` payment outcome whose line is in one of `files`
/// → reconciled: file by file, a window of line ids at a time ([`in_windows`]).
fn reconcile(
    conn: &mut DbConn,
    turns: Option<&WriteTurns>,
    run_id: &str,
    files: &[String],
) -> Result<usize, DbError> {
    let to = PaymentStatus::Reconciled;
    let from = moved_from(PaymentEvent::SettlementPosted, to);
    let mut moved = 0;
    for file in files {
        let (lo, hi): (Option<i64>, Option<i64>) = settlement_records::table
            .filter(settlement_records::file_id.eq(file))
            .select((
                diesel::dsl::min(settlement_records::id),
                diesel::dsl::max(settlement_records::id),
            ))
            .first(conn)?;
        let (Some(first), Some(last)) = (lo, hi) else {
            continue;
        };
        moved += in_windows(conn, turns, run_id, first, last, |conn, lo, hi| {
            let matched =
                matched_payments!(recon_outcomes::table
                    .inner_join(settlement_records::table.on(
                        recon_outcomes::settlement_record_id.eq(settlement_records::id.nullable()),
                    ))
                    .filter(settlement_records::id.ge(lo))
                    .filter(settlement_records::id.lt(hi))
                    .filter(settlement_records::file_id.eq(file)));
            move_payments!(conn, &from, to, matched)
        })?;
    }
    Ok(moved)
}
