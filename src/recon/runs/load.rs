//! Reading what a run of a date matches: the ledger's payments (with their approved refunds),
//! the settlement files and lines, the files carried forward from earlier dates (awaiting their
//! credit), the collection account's bookings, what runs of other dates already found about
//! those files and bookings, the statement closing balance and the ledger's 1002.01 — the
//! windows are in [`super`]'s doc.
//!
//! Depends on: [`crate::recon::matcher`] (the input types), `db`, `clock`, `bankfiles` (records,
//! typed reads of stored text).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use diesel::prelude::*;

use crate::bankfiles::records::{Direction, SettlementKind, SettlementRecord, StatementBooking};
use crate::bankfiles::spec::Produces;
use crate::bankfiles::store::withdrawn_ids;
use crate::bankfiles::stored;
use crate::clock::SHANGHAI;
use crate::db::schema::{
    account_day_totals, bank_statements, ledger_entries, payment_cards, payments, recon_outcomes,
    refunds, settlement_files, settlement_records, statement_bookings,
};
use crate::db::{DbConn, DbError};
use crate::ledger::model::EntryKind;
use crate::ledger::templates::settlement_reference;
use crate::payments::{PaymentStatus, RefundStatus};
use crate::recon::matcher::{
    Booking, Category, Channel, LedgerPayment, LedgerRefund, MatchInput, PriorCash, SettlementFile,
    SettlementLine, Subject,
};

use super::Settings;

/// The collection account whose ledger balance the balance tier checks.
const COLLECTION_ACCOUNT: &str = "1002.01";

/// The settlement dates of the files whose lines a run of `date` reads: D and D+1, and D−1
/// too with a business-day cut-off (a payment of D captured on D−1 after the cut-off may be in
/// an acquirer's file of D−1).
fn file_window(date: NaiveDate, cutoff: Option<NaiveTime>) -> (NaiveDate, NaiveDate) {
    let from = if cutoff.is_some() {
        date - Duration::days(1)
    } else {
        date
    };
    (from, date + Duration::days(1))
}

/// The booking dates of the collection account a run of `date` reads: D to D+2 (files are paid
/// on T+1), from the oldest carried file's date when there is one.
fn booking_window(date: NaiveDate, oldest_carried: Option<NaiveDate>) -> (NaiveDate, NaiveDate) {
    let from = oldest_carried.map_or(date, |o| o.min(date));
    (from, date + Duration::days(2))
}

/// Cash outcomes that spend a file's cash.
const CONSUMING: [&str; 2] = ["cash_matched", "cash_mismatch"];
/// Those, and the one that reports a file missing past the credit horizon.
mod carried;
use carried::{carried_files, envelope, file_in, prior_cash};

const CASH_KNOWN: [&str; 3] = ["cash_matched", "cash_mismatch", "cash_missing"];

/// The imported files a run of `date` reads, in id order: settlement files of its window and
/// those carried forward, and statements with a booking in its window or whose closing balance
/// is the one it checks.
pub fn input_files(
    conn: &mut DbConn,
    date: NaiveDate,
    settings: &Settings,
) -> Result<Vec<String>, DbError> {
    let (files_from, files_to) = file_window(date, settings.business_day_cutoff);
    let carried = carried_files(conn, date, files_from)?;
    let oldest = carried.iter().filter_map(|f| f.settlement_date).min();
    let (bookings_from, bookings_to) = booking_window(date, oldest);
    let mut ids: Vec<String> = settlement_files::table
        .filter(settlement_files::produces.eq(Produces::Settlement.as_ref()))
        .filter(settlement_files::settlement_date.between(files_from, files_to))
        .filter(settlement_files::id.ne_all(withdrawn_ids()))
        .select(settlement_files::id)
        .load(conn)?;
    ids.extend(carried.into_iter().map(|f| f.id));
    let account = settings.collection_account.as_deref();
    let mut booked = statement_bookings::table
        .filter(statement_bookings::booking_date.between(bookings_from, bookings_to))
        .filter(statement_bookings::file_id.ne_all(withdrawn_ids()))
        .select(statement_bookings::file_id)
        .distinct()
        .into_boxed();
    if let Some(account) = account {
        booked = booked.filter(statement_bookings::account.eq(account.to_string()));
    }
    ids.extend(booked.load::<String>(conn)?);
    let mut closing = bank_statements::table
        .filter(bank_statements::to_date.eq(date))
        .filter(bank_statements::file_id.ne_all(withdrawn_ids()))
        .select(bank_statements::file_id)
        .into_boxed();
    if let Some(account) = account {
        closing = closing.filter(bank_statements::account.eq(account.to_string()));
    }
    ids.extend(closing.load::<String>(conn)?);
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Everything the matcher needs for `date`, from the database.
pub fn load(
    conn: &mut DbConn,
    date: NaiveDate,
    settings: &Settings,
) -> Result<MatchInput, DbError> {
    let payments = ledger_payments(conn, date)?;
    let (files_from, files_to) = file_window(date, settings.business_day_cutoff);
    let (mut files, lines) = settlement(conn, date, files_from, files_to)?;
    let carried = carried_files(conn, date, files_from)?;
    let oldest = carried.iter().filter_map(|f| f.settlement_date).min();
    for f in &carried {
        files.push(envelope(conn, f, date)?);
    }
    let (bookings_from, bookings_to) = booking_window(date, oldest);
    let account = settings.collection_account.as_deref();
    let bookings = bookings(conn, bookings_from, bookings_to, account)?;
    let prior_cash = prior_cash(conn, date, &mut files, &bookings)?;
    let mut closing = bank_statements::table
        .filter(bank_statements::to_date.eq(date))
        .filter(bank_statements::closing_minor.is_not_null())
        .filter(bank_statements::file_id.ne_all(withdrawn_ids()))
        .order(bank_statements::id.desc())
        .select(bank_statements::closing_minor)
        .into_boxed();
    if let Some(account) = account {
        closing = closing.filter(bank_statements::account.eq(account.to_string()));
    }
    let statement_closing_minor: Option<i64> =
        closing.first::<Option<i64>>(conn).optional()?.flatten();
    let totals: Vec<(i64, i64)> = account_day_totals::table
        .filter(account_day_totals::account_code.eq(COLLECTION_ACCOUNT))
        .filter(account_day_totals::business_date.le(date))
        .select((
            account_day_totals::debit_minor,
            account_day_totals::credit_minor,
        ))
        .load(conn)?;
    let ledger_1002_01_minor = totals.iter().map(|(d, c)| d - c).sum();
    Ok(MatchInput {
        business_date: date,
        payments,
        lines,
        files,
        bookings,
        statement_closing_minor,
        ledger_1002_01_minor,
        credit_horizon_days: settings.credit_horizon_days,
        business_day_cutoff: settings.business_day_cutoff,
        prior_cash,
        expected: crate::recon::inputs::expected_movements(conn, date)?,
        settled_bookings: crate::recon::inputs::settled_bookings(conn, date)?,
    })
}

/// The card payments of D−1, D and D+1, in id order, with their approved refunds.
fn ledger_payments(conn: &mut DbConn, date: NaiveDate) -> Result<Vec<LedgerPayment>, DbError> {
    let before = date - Duration::days(1);
    let after = date + Duration::days(1);
    let rows: Vec<PaymentRow> = payments::table
        .inner_join(payment_cards::table)
        .filter(payments::business_date.between(before, after))
        // in PaymentRow's field order
        .select((
            payments::id,
            payments::reference,
            payments::channel,
            payments::business_date,
            payments::amount_minor,
            payments::status,
            payment_cards::merchant_id,
            payment_cards::terminal_id,
            payment_cards::batch_no,
            payment_cards::trace_no,
            payment_cards::rrn,
            payment_cards::serial,
            payment_cards::txn_time,
        ))
        .order(payments::id)
        .load(conn)?;
    let mut refunds_by_payment = approved_refunds(conn, (before, after), date)?;
    rows.into_iter()
        .map(|r| {
            Ok(LedgerPayment {
                // a payment without approved refunds has none
                refunds: refunds_by_payment.remove(&r.id).unwrap_or_default(),
                txn_time: beijing(&r.txn_time)?,
                channel: stored::parse("payments.channel", &r.channel)?,
                id: r.id,
                reference: r.reference,
                business_date: r.business_date,
                amount_minor: r.amount_minor,
                voided: stored::parse::<PaymentStatus>("payments.status", &r.status)?
                    == PaymentStatus::Voided,
                merchant: r.merchant,
                terminal: r.terminal,
                batch: r.batch,
                trace: r.trace,
                rrn: r.rrn,
                serial: r.serial,
            })
        })
        .collect()
}

/// The approved refunds of the payments of business dates `window` (both ends included), by
/// payment in id order (approval dated in Beijing; `date` when the approval time is missing).
/// One query, whatever the day holds: the few approved refunds are found first and each looks
/// its payment up by key (it was 2,000 queries of 500 ids each for a day of a million payments).
fn approved_refunds(
    conn: &mut DbConn,
    window: (NaiveDate, NaiveDate),
    date: NaiveDate,
) -> Result<BTreeMap<String, Vec<LedgerRefund>>, DbError> {
    let found: Vec<(String, String, i64, Option<NaiveDateTime>)> = refunds::table
        .inner_join(payments::table.on(payments::id.eq(refunds::payment_id)))
        .filter(refunds::status.eq(RefundStatus::Approved.as_ref()))
        .filter(payments::business_date.between(window.0, window.1))
        .select((
            refunds::id,
            refunds::payment_id,
            refunds::amount_minor,
            refunds::approved_at,
        ))
        .order(refunds::id)
        .load(conn)?;
    let mut refunds_by_payment: BTreeMap<String, Vec<LedgerRefund>> = BTreeMap::new();
    for (id, payment_id, amount_minor, approved_at) in found {
        let approved_on = approved_at
            .map(|t| t.and_utc().with_timezone(&SHANGHAI).date_naive())
            .unwrap_or(date);
        refunds_by_payment
            .entry(payment_id)
            .or_default()
            .push(LedgerRefund {
                id,
                amount_minor,
                approved_on,
            });
    }
    Ok(refunds_by_payment)
}

/// The settlement files dated `files_from` to `files_to` (net and line count from their stored
/// lines), and those lines, each in id order.
fn settlement(
    conn: &mut DbConn,
    date: NaiveDate,
    files_from: NaiveDate,
    files_to: NaiveDate,
) -> Result<(Vec<SettlementFile>, Vec<SettlementLine>), DbError> {
    let files = settlement_file_rows(conn, files_from, files_to)?;
    let file_ids: Vec<&str> = files.iter().map(|f| f.id.as_str()).collect();
    let records = record_rows(conn, &file_ids)?;
    let mut nets: BTreeMap<&str, (i64, u64)> = BTreeMap::new();
    for r in &records {
        let e = nets
            .entry(
                files
                    .iter()
                    .find(|f| f.id == r.file_id)
                    .map_or("", |f| f.id.as_str()),
            )
            .or_default();
        e.0 += r.net_minor;
        e.1 += 1;
    }
    let files_in: Vec<SettlementFile> = files
        .iter()
        .map(|f| {
            // a file without lines nets nothing
            let (net_minor, lines) = nets.get(f.id.as_str()).copied().unwrap_or((0, 0));
            file_in(f, net_minor, lines, date)
        })
        .collect();
    let lines = records
        .into_iter()
        .map(settlement_line)
        .collect::<Result<_, _>>()?;
    Ok((files_in, lines))
}

/// The stored lines of `file_ids`, in id order.
fn record_rows(conn: &mut DbConn, file_ids: &[&str]) -> Result<Vec<RecordRow>, DbError> {
    Ok(settlement_records::table
        .filter(settlement_records::file_id.eq_any(file_ids))
        .select(RecordRow::as_select())
        .order(settlement_records::id)
        .load(conn)?)
}

fn settlement_line(r: RecordRow) -> Result<SettlementLine, DbError> {
    Ok(SettlementLine {
        id: r.id,
        file_id: r.file_id,
        record: SettlementRecord {
            line: stored::count("settlement_records.line_no", r.line_no)?,
            kind: stored::parse::<SettlementKind>("settlement_records.kind", &r.kind)?,
            merchant: r.merchant,
            terminal: r.terminal,
            batch: r.batch,
            trace: r.trace,
            rrn: r.rrn,
            auth_code: None,
            masked_card: None,
            gross_minor: r.gross_minor,
            fee_minor: r.fee_minor,
            net_minor: r.net_minor,
            currency: r.currency,
            txn_time: r.txn_time,
            settlement_date: r.settlement_date,
            original_ref: r.original_ref,
            own_ref: r.own_ref,
        },
    })
}

/// The collection account's bookings dated `bookings_from` to `bookings_to`, in id order
/// (only `account`'s, when it is named).
fn bookings(
    conn: &mut DbConn,
    bookings_from: NaiveDate,
    bookings_to: NaiveDate,
    account: Option<&str>,
) -> Result<Vec<Booking>, DbError> {
    let mut query = statement_bookings::table
        .filter(statement_bookings::booking_date.between(bookings_from, bookings_to))
        .filter(statement_bookings::file_id.ne_all(withdrawn_ids()))
        .select(BookingRow::as_select())
        .order(statement_bookings::id)
        .into_boxed();
    if let Some(account) = account {
        query = query.filter(statement_bookings::account.eq(account.to_string()));
    }
    let booking_rows: Vec<BookingRow> = query.load(conn)?;
    booking_rows
        .into_iter()
        .map(|b| {
            Ok(Booking {
                id: b.id,
                file_id: b.file_id,
                booking: StatementBooking {
                    line: stored::count("statement_bookings.line_no", b.line_no)?,
                    direction: stored::parse::<Direction>(
                        "statement_bookings.direction",
                        &b.direction,
                    )?,
                    account: b.account,
                    currency: b.currency,
                    booking_date: b.booking_date,
                    value_date: b.value_date,
                    amount_minor: b.amount_minor,
                    reversal: b.reversal,
                    bank_ref: b.bank_ref,
                    narrative: b.narrative,
                    counterparty_account: b.counterparty_account,
                    counterparty_name: b.counterparty_name,
                    balance_after_minor: b.balance_after_minor,
                },
            })
        })
        .collect()
}

/// A settlement file as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = settlement_files)]
pub(crate) struct FileRow {
    /// File id.
    pub id: String,
    /// The spec it was read with.
    pub spec: String,
    /// The merchant the file names, if it names one.
    pub merchant: Option<String>,
    /// The settlement date the file covers, if it states one.
    pub settlement_date: Option<NaiveDate>,
}

/// The settlement files dated `from` to `to`, in id order.
pub(crate) fn settlement_file_rows(
    conn: &mut DbConn,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<FileRow>, DbError> {
    Ok(settlement_files::table
        .filter(settlement_files::produces.eq(Produces::Settlement.as_ref()))
        .filter(settlement_files::settlement_date.between(from, to))
        .filter(settlement_files::id.ne_all(withdrawn_ids()))
        .select(FileRow::as_select())
        .order(settlement_files::id)
        .load(conn)?)
}

/// A settlement file's detail lines and Σ gross, fee and net, from its stored records.
pub(crate) fn file_sums(conn: &mut DbConn, file_id: &str) -> Result<(i64, i64, i64, i64), DbError> {
    let rows: Vec<(i64, i64, i64)> = settlement_records::table
        .filter(settlement_records::file_id.eq(file_id))
        .select((
            settlement_records::gross_minor,
            settlement_records::fee_minor,
            settlement_records::net_minor,
        ))
        .load(conn)?;
    let (gross, fee, net) = rows
        .iter()
        .fold((0i64, 0i64, 0i64), |a, r| (a.0 + r.0, a.1 + r.1, a.2 + r.2));
    Ok((rows.len() as i64, gross, fee, net))
}

/// A stored card time (RFC 3339) as Beijing wall-clock time.
fn beijing(text: &str) -> Result<NaiveDateTime, DbError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&SHANGHAI).naive_local())
        .map_err(|e| stored::corrupt("payment_cards.txn_time", text, e))
}

/// A card payment as stored, in the select order of [`ledger_payments`] (two tables).
#[derive(Queryable)]
struct PaymentRow {
    id: String,
    reference: String,
    channel: String,
    business_date: NaiveDate,
    amount_minor: i64,
    status: String,
    merchant: String,
    terminal: String,
    batch: Option<String>,
    trace: Option<String>,
    rrn: Option<String>,
    serial: Option<String>,
    txn_time: String,
}

/// A settlement line as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = settlement_records)]
struct RecordRow {
    id: i64,
    file_id: String,
    line_no: i64,
    kind: String,
    merchant: String,
    terminal: String,
    batch: Option<String>,
    trace: Option<String>,
    rrn: Option<String>,
    gross_minor: i64,
    fee_minor: i64,
    net_minor: i64,
    currency: String,
    txn_time: NaiveDateTime,
    settlement_date: NaiveDate,
    original_ref: Option<String>,
    own_ref: Option<String>,
}

/// A collection-account booking as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = statement_bookings)]
struct BookingRow {
    id: i64,
    file_id: String,
    line_no: i64,
    account: String,
    currency: String,
    booking_date: NaiveDate,
    value_date: Option<NaiveDate>,
    direction: String,
    amount_minor: i64,
    reversal: bool,
    bank_ref: Option<String>,
    narrative: String,
    counterparty_account: Option<String>,
    counterparty_name: Option<String>,
    balance_after_minor: Option<i64>,
}
