//! Reading what a run of a date matches: the ledger's payments (with their approved refunds),
//! the settlement files and lines, the collection account's bookings, the statement closing
//! balance and the ledger's 1002.01 — the windows are in [`super`]'s doc.
//!
//! Depends on: [`crate::recon::matcher`] (the input types), `db`, `clock`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::bankfiles::records::{Direction, SettlementKind, SettlementRecord, StatementBooking};
use crate::clock::SHANGHAI;
use crate::db::schema::{
    account_day_totals, bank_statements, payment_cards, payments, refunds, settlement_files,
    settlement_records, statement_bookings,
};
use crate::db::{DbConn, DbError};
use crate::recon::matcher::{
    Booking, Channel, LedgerPayment, LedgerRefund, MatchInput, SettlementFile, SettlementLine,
};

/// The collection account whose ledger balance the balance tier checks.
const COLLECTION_ACCOUNT: &str = "1002.01";

/// The settlement dates of the files a run of `date` reads: D and D+1.
fn file_window(date: NaiveDate) -> (NaiveDate, NaiveDate) {
    (date, date + Duration::days(1))
}

/// The booking dates of the collection account a run of `date` reads: D to D+2 (files are paid
/// on T+1).
fn booking_window(date: NaiveDate) -> (NaiveDate, NaiveDate) {
    (date, date + Duration::days(2))
}

/// The imported files a run of `date` reads, in id order: settlement files of its window, and
/// statements with a booking in its window or whose closing balance is the one it checks.
pub fn input_files(conn: &mut DbConn, date: NaiveDate) -> Result<Vec<String>, DbError> {
    let (files_from, files_to) = file_window(date);
    let (bookings_from, bookings_to) = booking_window(date);
    let mut ids: Vec<String> = settlement_files::table
        .filter(settlement_files::produces.eq("settlement"))
        .filter(settlement_files::settlement_date.between(files_from, files_to))
        .select(settlement_files::id)
        .load(conn)?;
    ids.extend(
        statement_bookings::table
            .filter(statement_bookings::booking_date.between(bookings_from, bookings_to))
            .select(statement_bookings::file_id)
            .distinct()
            .load::<String>(conn)?,
    );
    ids.extend(
        bank_statements::table
            .filter(bank_statements::to_date.eq(date))
            .select(bank_statements::file_id)
            .load::<String>(conn)?,
    );
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Everything the matcher needs for `date`, from the database.
pub fn load(conn: &mut DbConn, date: NaiveDate) -> Result<MatchInput, DbError> {
    let payments = ledger_payments(conn, date)?;
    let (files, lines) = settlement(conn, date)?;
    let bookings = bookings(conn, date)?;
    let statement_closing_minor: Option<i64> = bank_statements::table
        .filter(bank_statements::to_date.eq(date))
        .filter(bank_statements::closing_minor.is_not_null())
        .order(bank_statements::id.desc())
        .select(bank_statements::closing_minor)
        .first::<Option<i64>>(conn)
        .optional()?
        .flatten();
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
    })
}

/// The card payments of D−1, D and D+1, in id order, with their approved refunds.
fn ledger_payments(conn: &mut DbConn, date: NaiveDate) -> Result<Vec<LedgerPayment>, DbError> {
    let before = date - Duration::days(1);
    let after = date + Duration::days(1);
    let rows: Vec<PaymentRow> = payments::table
        .inner_join(payment_cards::table)
        .filter(payments::business_date.between(before, after))
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
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let mut refunds_by_payment = approved_refunds(conn, &ids, date)?;
    Ok(rows
        .into_iter()
        .map(|r| LedgerPayment {
            refunds: refunds_by_payment.remove(&r.0).unwrap_or_default(),
            txn_time: beijing(&r.12).unwrap_or_else(|| r.3.and_time(chrono::NaiveTime::MIN)),
            id: r.0,
            reference: r.1,
            channel: if r.2 == "one_card" {
                Channel::OneCard
            } else {
                Channel::BankCard
            },
            business_date: r.3,
            amount_minor: r.4,
            voided: r.5 == "voided",
            merchant: r.6,
            terminal: r.7,
            batch: r.8,
            trace: r.9,
            rrn: r.10,
            serial: r.11,
        })
        .collect())
}

/// The approved refunds of the payments `ids`, by payment (approval dated in Beijing; `date`
/// when the approval time is missing).
fn approved_refunds(
    conn: &mut DbConn,
    ids: &[&str],
    date: NaiveDate,
) -> Result<BTreeMap<String, Vec<LedgerRefund>>, DbError> {
    let mut refunds_by_payment: BTreeMap<String, Vec<LedgerRefund>> = BTreeMap::new();
    for chunk in ids.chunks(500) {
        let found: Vec<(String, String, i64, Option<NaiveDateTime>)> = refunds::table
            .filter(refunds::payment_id.eq_any(chunk))
            .filter(refunds::status.eq("approved"))
            .select((
                refunds::id,
                refunds::payment_id,
                refunds::amount_minor,
                refunds::approved_at,
            ))
            .load(conn)?;
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
    }
    Ok(refunds_by_payment)
}

/// The settlement files dated D and D+1 (net and line count from their stored lines), and
/// those lines, each in id order.
fn settlement(
    conn: &mut DbConn,
    date: NaiveDate,
) -> Result<(Vec<SettlementFile>, Vec<SettlementLine>), DbError> {
    let (files_from, files_to) = file_window(date);
    let files = settlement_file_rows(conn, files_from, files_to)?;
    let file_ids: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    let records = record_rows(conn, &file_ids)?;
    let mut nets: BTreeMap<&str, (i64, u64)> = BTreeMap::new();
    for r in &records {
        let e = nets
            .entry(
                files
                    .iter()
                    .find(|f| f.0 == r.1)
                    .map_or("", |f| f.0.as_str()),
            )
            .or_default();
        e.0 += r.11;
        e.1 += 1;
    }
    let files_in: Vec<SettlementFile> = files
        .iter()
        .map(|(id, spec, merchant, settlement_date)| {
            let (net_minor, lines) = nets.get(id.as_str()).copied().unwrap_or((0, 0));
            SettlementFile {
                file_id: id.clone(),
                channel: if spec == "onecard-settlement-csv" {
                    Channel::OneCard
                } else {
                    Channel::BankCard
                },
                merchant: merchant.clone().unwrap_or_default(),
                settlement_date: settlement_date.unwrap_or(date),
                net_minor,
                lines,
            }
        })
        .collect();
    Ok((files_in, records.into_iter().map(settlement_line).collect()))
}

/// The stored lines of `file_ids`, in id order.
fn record_rows(conn: &mut DbConn, file_ids: &[&str]) -> Result<Vec<RecordRow>, DbError> {
    Ok(settlement_records::table
        .filter(settlement_records::file_id.eq_any(file_ids))
        .select((
            settlement_records::id,
            settlement_records::file_id,
            settlement_records::line_no,
            settlement_records::kind,
            settlement_records::merchant,
            settlement_records::terminal,
            settlement_records::batch,
            settlement_records::trace,
            settlement_records::rrn,
            settlement_records::gross_minor,
            settlement_records::fee_minor,
            settlement_records::net_minor,
            settlement_records::currency,
            settlement_records::txn_time,
            settlement_records::settlement_date,
            settlement_records::original_ref,
            settlement_records::own_ref,
        ))
        .order(settlement_records::id)
        .load(conn)?)
}

fn settlement_line(r: RecordRow) -> SettlementLine {
    SettlementLine {
        id: r.0,
        file_id: r.1,
        record: SettlementRecord {
            line: u64::try_from(r.2).unwrap_or(0),
            kind: SettlementKind::parse(&r.3).unwrap_or(SettlementKind::Adjustment),
            merchant: r.4,
            terminal: r.5,
            batch: r.6,
            trace: r.7,
            rrn: r.8,
            auth_code: None,
            masked_card: None,
            gross_minor: r.9,
            fee_minor: r.10,
            net_minor: r.11,
            currency: r.12,
            txn_time: r.13,
            settlement_date: r.14,
            original_ref: r.15,
            own_ref: r.16,
        },
    }
}

/// The collection account's bookings dated D to D+2, in id order.
fn bookings(conn: &mut DbConn, date: NaiveDate) -> Result<Vec<Booking>, DbError> {
    let (bookings_from, bookings_to) = booking_window(date);
    let booking_rows: Vec<BookingRow> = statement_bookings::table
        .filter(statement_bookings::booking_date.between(bookings_from, bookings_to))
        .select((
            statement_bookings::id,
            statement_bookings::file_id,
            statement_bookings::line_no,
            statement_bookings::account,
            statement_bookings::currency,
            statement_bookings::booking_date,
            statement_bookings::value_date,
            statement_bookings::direction,
            statement_bookings::amount_minor,
            statement_bookings::reversal,
            statement_bookings::bank_ref,
            statement_bookings::narrative,
            statement_bookings::counterparty_account,
            statement_bookings::counterparty_name,
            statement_bookings::balance_after_minor,
        ))
        .order(statement_bookings::id)
        .load(conn)?;
    Ok(booking_rows
        .into_iter()
        .map(|b| Booking {
            id: b.0,
            file_id: b.1,
            booking: StatementBooking {
                line: u64::try_from(b.2).unwrap_or(0),
                account: b.3,
                currency: b.4,
                booking_date: b.5,
                value_date: b.6,
                direction: if b.7 == "credit" {
                    Direction::Credit
                } else {
                    Direction::Debit
                },
                amount_minor: b.8,
                reversal: b.9,
                bank_ref: b.10,
                narrative: b.11,
                counterparty_account: b.12,
                counterparty_name: b.13,
                balance_after_minor: b.14,
            },
        })
        .collect())
}

/// A settlement file as stored: id, spec, merchant, settlement date.
pub(crate) type FileRow = (String, String, Option<String>, Option<NaiveDate>);

/// The settlement files dated `from` to `to`, in id order.
pub(crate) fn settlement_file_rows(
    conn: &mut DbConn,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<FileRow>, DbError> {
    Ok(settlement_files::table
        .filter(settlement_files::produces.eq("settlement"))
        .filter(settlement_files::settlement_date.between(from, to))
        .select((
            settlement_files::id,
            settlement_files::spec,
            settlement_files::merchant,
            settlement_files::settlement_date,
        ))
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

fn beijing(text: &str) -> Option<NaiveDateTime> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&SHANGHAI).naive_local())
}

type PaymentRow = (
    String,
    String,
    String,
    NaiveDate,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

type RecordRow = (
    i64,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
    i64,
    String,
    NaiveDateTime,
    NaiveDate,
    Option<String>,
    Option<String>,
);

type BookingRow = (
    i64,
    String,
    i64,
    String,
    String,
    NaiveDate,
    Option<NaiveDate>,
    String,
    i64,
    bool,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
);
