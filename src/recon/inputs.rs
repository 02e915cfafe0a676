//! What a run reads besides its own day's records, and which imported files runs have used.
//!
//! - [`expected_movements`] and [`settled_bookings`]: the statement tier's inputs (the ledger's
//!   remittances, fee top-ups and 退库 returns near the bookings; bookings other dates' runs
//!   found paying a file).
//! - [`file_in_use`] and [`withdraw_file`]: which imported files reconciliation has used, and
//!   the withdrawal of one it has not.
//!
//! A run's stored outcomes name the files, settlement lines and bookings they account for, and
//! a run of a date read the statements whose closing balance is that date's, if it ran after
//! their import. A file any stored run used (active or replaced) stays: withdrawing it would
//! change a result someone may already have acted on.
//!
//! Depends on: [`super::matcher`] (the input types), `db`, `ledger` (entry kinds),
//! `bankfiles::store`.

use std::collections::{BTreeMap, HashSet};

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;

use super::matcher::{Category, ExpectedKind, ExpectedMovement, Subject};
use crate::bankfiles::store::{self, Imported, WithdrawError};
use crate::db::schema::{
    bank_statements, ledger_entries, ledger_postings, recon_outcomes, recon_runs, remittances,
    settlement_files, settlement_records, statement_bookings,
};
use crate::db::{DbConn, DbError};
use crate::ledger::model::{EntryKind, Side};

/// The collection account whose other movements explain statement lines.
const COLLECTION_ACCOUNT: &str = "1002.01";

/// The stored kind of the 退库 return entry (Dr 1002.01 / Cr refunds payable,
/// [`EntryKind::TreasuryReturn`]); its reference is the treasury's reference for the return.
pub const TREASURY_RETURN_ENTRY_KIND: &str = "treasury_return";

/// The entry dates whose movements a run of `date` reads: a week either side of its bookings
/// (D to D+2), wide enough for every line's match window.
fn movement_window(date: NaiveDate) -> (NaiveDate, NaiveDate) {
    (date - Duration::days(7), date + Duration::days(2 + 7))
}

/// The ledger's remittances, fee top-ups and 退库 returns dated near the bookings of `date`'s
/// run, with their amount on 1002.01 and reference (a remittance's treasury reference); an
/// entry reversed since is left out. In entry order.
pub fn expected_movements(
    conn: &mut DbConn,
    date: NaiveDate,
) -> Result<Vec<ExpectedMovement>, DbError> {
    let (from, to) = movement_window(date);
    let kinds = [
        EntryKind::Remittance.as_str(),
        EntryKind::FeeTopUp.as_str(),
        TREASURY_RETURN_ENTRY_KIND,
    ];
    let rows: Vec<(i64, String, NaiveDate, Option<String>, String, i64)> = ledger_entries::table
        .inner_join(ledger_postings::table)
        .filter(ledger_entries::kind.eq_any(kinds))
        .filter(ledger_entries::business_date.between(from, to))
        .filter(ledger_postings::account_code.eq(COLLECTION_ACCOUNT))
        .select((
            ledger_entries::seq,
            ledger_entries::kind,
            ledger_entries::business_date,
            ledger_entries::reference,
            ledger_postings::side,
            ledger_postings::amount_minor,
        ))
        .order((ledger_entries::seq, ledger_postings::line_no))
        .load(conn)?;
    let seqs: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut reversed: HashSet<i64> = HashSet::new();
    let mut treasury_refs: BTreeMap<i64, String> = BTreeMap::new();
    for chunk in seqs.chunks(500) {
        reversed.extend(
            ledger_entries::table
                .filter(ledger_entries::reverses_seq.eq_any(chunk))
                .select(ledger_entries::reverses_seq)
                .load::<Option<i64>>(conn)?
                .into_iter()
                .flatten(),
        );
        let refs: Vec<(Option<i64>, Option<String>)> = remittances::table
            .filter(remittances::ack_entry_seq.eq_any(chunk))
            .select((remittances::ack_entry_seq, remittances::treasury_reference))
            .load(conn)?;
        for (seq, reference) in refs {
            if let (Some(seq), Some(reference)) = (seq, reference) {
                treasury_refs.insert(seq, reference);
            }
        }
    }
    // seq → (kind, date, reference, Σ debit − credit on 1002.01)
    let mut entries: BTreeMap<i64, (ExpectedKind, NaiveDate, Option<String>, i64)> =
        BTreeMap::new();
    for (seq, kind, business_date, reference, side, amount) in rows {
        if reversed.contains(&seq) {
            continue;
        }
        let kind = if kind == EntryKind::Remittance.as_str() {
            ExpectedKind::Remittance
        } else if kind == EntryKind::FeeTopUp.as_str() {
            ExpectedKind::TopUp
        } else {
            ExpectedKind::TreasuryReturn
        };
        let signed = if side == Side::Debit.as_str() {
            amount
        } else {
            -amount
        };
        let e = entries.entry(seq).or_insert_with(|| {
            let reference = treasury_refs.get(&seq).cloned().or(reference);
            (kind, business_date, reference, 0)
        });
        e.3 = e.3.saturating_add(signed);
    }
    Ok(entries
        .into_values()
        .filter(|(_, _, _, net)| *net != 0)
        .map(|(kind, date, reference, net)| ExpectedMovement {
            kind,
            date,
            amount_minor: net.saturating_abs(),
            reference,
        })
        .collect())
}

/// Bookings of `date`'s run (booked D to D+2) that the active outcomes of other dates' runs
/// name as paying a settlement file.
pub fn settled_bookings(conn: &mut DbConn, date: NaiveDate) -> Result<Vec<i64>, DbError> {
    Ok(recon_outcomes::table
        .filter(recon_outcomes::active.eq(true))
        .filter(recon_outcomes::business_date.ne(date))
        .filter(recon_outcomes::subject.eq(Subject::File.as_ref()))
        .filter(recon_outcomes::category.eq_any([
            Category::CashMatched.as_ref(),
            Category::CashMismatch.as_ref(),
        ]))
        .filter(
            recon_outcomes::booking_id.eq_any(
                statement_bookings::table
                    .filter(
                        statement_bookings::booking_date.between(date, date + Duration::days(2)),
                    )
                    .select(statement_bookings::id.nullable()),
            ),
        )
        .select(recon_outcomes::booking_id)
        .distinct()
        .load::<Option<i64>>(conn)?
        .into_iter()
        .flatten()
        .collect())
}

/// Whether a stored run used import `file_id` (see the module doc).
pub fn file_in_use(conn: &mut DbConn, file_id: &str) -> Result<bool, DbError> {
    let named: i64 = recon_outcomes::table
        .filter(recon_outcomes::file_id.eq(file_id))
        .count()
        .get_result(conn)?;
    if named > 0 {
        return Ok(true);
    }
    let records = || {
        settlement_records::table
            .filter(settlement_records::file_id.eq(file_id))
            .select(settlement_records::id.nullable())
    };
    let lines: i64 = recon_outcomes::table
        .filter(
            recon_outcomes::settlement_record_id
                .eq_any(records())
                .or(recon_outcomes::void_record_id.eq_any(records())),
        )
        .count()
        .get_result(conn)?;
    if lines > 0 {
        return Ok(true);
    }
    let bookings: i64 = recon_outcomes::table
        .filter(
            recon_outcomes::booking_id.eq_any(
                statement_bookings::table
                    .filter(statement_bookings::file_id.eq(file_id))
                    .select(statement_bookings::id.nullable()),
            ),
        )
        .count()
        .get_result(conn)?;
    if bookings > 0 {
        return Ok(true);
    }
    let imported_at: Option<chrono::NaiveDateTime> = settlement_files::table
        .find(file_id)
        .select(settlement_files::imported_at)
        .first(conn)
        .optional()?;
    let Some(imported_at) = imported_at else {
        return Ok(false);
    };
    let closing_dates: Vec<Option<chrono::NaiveDate>> = bank_statements::table
        .filter(bank_statements::file_id.eq(file_id))
        .filter(bank_statements::closing_minor.is_not_null())
        .select(bank_statements::to_date)
        .load(conn)?;
    let dates: Vec<chrono::NaiveDate> = closing_dates.into_iter().flatten().collect();
    if dates.is_empty() {
        return Ok(false);
    }
    let runs: i64 = recon_runs::table
        .filter(recon_runs::business_date.eq_any(dates))
        .filter(recon_runs::created_at.ge(imported_at))
        .count()
        .get_result(conn)?;
    Ok(runs > 0)
}

/// Withdraws import `id` for `reason` by `actor`, refused when a stored run used it
/// ([`file_in_use`]).
pub fn withdraw_file(
    conn: &mut DbConn,
    id: &str,
    reason: &str,
    actor: &str,
) -> Result<Imported, WithdrawError> {
    store::withdraw(conn, id, reason, actor, &mut |conn, id| {
        file_in_use(conn, id)
    })
}
