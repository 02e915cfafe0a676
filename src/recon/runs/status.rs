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
//! captured → reconciled and its row is written once: written twice in one transaction, the
//! second version of a million rows found no room left on PostgreSQL's pages (a payment's
//! page keeps room for one: migration 000030), so it was not heap-only.
//!
//! Voided payments stay voided; nothing moves backwards. Each move is one set-based
//! `UPDATE payments … WHERE status IN (…) AND id IN (SELECT payment_id FROM recon_outcomes …)`
//! (per chunk of files for the second), so a run of a million payments neither holds their
//! ids nor sends them back to the database in thousands of long `IN` lists: the row's status is
//! checked by the database in the same statement
//! ([`PaymentStatus::moved_by`](crate::payments::PaymentStatus::moved_by)), so a concurrent
//! void and this move cannot both win. One transaction, one audit record for the whole move.
//!
//! Depends on: `payments` (the status moves), `db`, `audit`, `ledger::templates` (the
//! settlement entry's reference), [`crate::recon::matcher`] (the categories).

use chrono::{NaiveDate, Utc};
use diesel::prelude::*;

use crate::audit::{self, AuditEvent};
use crate::db::schema::{self, ledger_entries, recon_outcomes, settlement_records};
use crate::db::{DbConn, DbError};
use crate::ledger::model::EntryKind;
use crate::ledger::templates::settlement_reference;
use crate::payments::{PaymentEvent, PaymentStatus};
use crate::recon::matcher::{Category, Subject};

/// How many files one statement names (well under the databases' bind limits).
const FILES_PER_STATEMENT: usize = 500;

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
    crate::db::write_txn::<_, DbError, _>(conn, |conn| {
        // It reads before it writes: on SQLite a deferred transaction that turns into a write
        // while another run stores fails at once ("database is locked"); take the write lock
        // first, waiting like any writer ("STATUS" in ASCII: one key for every run).
        crate::db::lock_for_rewrite(conn, 0x5354_4154_5553)?;
        // Reconciled first, then settled: a payment of a posted file goes captured →
        // reconciled in one move (the status allows it), so no row is written twice here.
        let files = posted_files(conn, run_id)?;
        let reconciled = reconcile(conn, &files)?;
        let settled = settle(conn, run_id, date)?;
        let moved = Moved {
            settled,
            reconciled,
        };
        if settled + reconciled > 0 {
            audit::record_at(
                conn,
                AuditEvent {
                    actor,
                    action: "payment.status",
                    subject: &format!("reconciliation:{run_id}"),
                    before: None,
                    after: Some(serde_json::json!({
                        "settled": settled,
                        "reconciled": reconciled,
                        "files": files,
                    })),
                },
                Utc::now().naive_utc(),
            )?;
        }
        Ok(moved)
    })
}

/// The statuses a move by `event` to `to` may find in the rows it changes, as stored.
fn moved_from(event: PaymentEvent, to: PaymentStatus) -> Vec<&'static str> {
    PaymentStatus::moved_by(event, to)
        .into_iter()
        .map(<&'static str>::from)
        .collect()
}

/// The payments of the run's `matched` payment outcomes → settled. The run's outcomes are
/// found through the date's index (the run just stored is its date's active one).
fn settle(conn: &mut DbConn, run_id: &str, date: NaiveDate) -> Result<usize, DbError> {
    let to = PaymentStatus::Settled;
    let matched = recon_outcomes::table
        .filter(recon_outcomes::business_date.eq(date))
        .filter(recon_outcomes::active.eq(true))
        .filter(recon_outcomes::run_id.eq(run_id))
        .filter(recon_outcomes::category.eq(Category::Matched.as_ref()))
        .filter(recon_outcomes::subject.eq(Subject::Payment.as_ref()))
        .filter(recon_outcomes::payment_id.is_not_null())
        .select(recon_outcomes::payment_id);
    Ok(diesel::update(
        schema::payments::table
            .filter(schema::payments::status.eq_any(moved_from(PaymentEvent::LineMatched, to)))
            .filter(schema::payments::id.nullable().eq_any(matched)),
    )
    .set(schema::payments::status.eq(to.as_ref()))
    .execute(conn)?)
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
/// → reconciled.
fn reconcile(conn: &mut DbConn, files: &[String]) -> Result<usize, DbError> {
    let to = PaymentStatus::Reconciled;
    let from = moved_from(PaymentEvent::SettlementPosted, to);
    let mut moved = 0;
    // Files per statement: well under SQLite's and PostgreSQL's bind limits.
    for chunk in files.chunks(FILES_PER_STATEMENT) {
        let matched = recon_outcomes::table
            .inner_join(
                settlement_records::table
                    .on(recon_outcomes::settlement_record_id.eq(settlement_records::id.nullable())),
            )
            .filter(settlement_records::file_id.eq_any(chunk))
            .filter(recon_outcomes::active.eq(true))
            .filter(recon_outcomes::category.eq(Category::Matched.as_ref()))
            .filter(recon_outcomes::subject.eq(Subject::Payment.as_ref()))
            .filter(recon_outcomes::payment_id.is_not_null())
            .select(recon_outcomes::payment_id);
        moved += diesel::update(
            schema::payments::table
                .filter(schema::payments::status.eq_any(&from))
                .filter(schema::payments::id.nullable().eq_any(matched)),
        )
        .set(schema::payments::status.eq(to.as_ref()))
        .execute(conn)?;
    }
    Ok(moved)
}
