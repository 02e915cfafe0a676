//! Reading the records the workspace names, each kind in one query (payments with their cards
//! and receipts, lines, bookings, files), and which of them are taken.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use diesel::prelude::*;

use super::{BookingFacts, FileFacts, LineFacts, PaymentFacts};
use crate::bankfiles::records::Direction;
use crate::bankfiles::stored;
use crate::db::schema::{
    payment_cards, payments, receipts, recon_exceptions, recon_outcomes, settlement_files,
    settlement_records, statement_bookings,
};
use crate::db::{DbConn, DbError};
use crate::recon::candidates::Record;
use crate::recon::exceptions::ExceptionStatus;
use crate::recon::matcher::Category;

type PaymentRow = (
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
);

pub(super) fn read_payments(
    conn: &mut DbConn,
    ids: &BTreeSet<String>,
) -> Result<BTreeMap<String, PaymentFacts>, DbError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<PaymentRow> = payments::table
        .left_join(payment_cards::table)
        .filter(payments::id.eq_any(ids))
        .select((
            payments::id,
            payments::business_date,
            payments::amount_minor,
            payments::department,
            payments::window_code,
            payments::reference,
            payment_cards::terminal_id.nullable(),
            payment_cards::rrn.nullable(),
            payment_cards::trace_no.nullable(),
            payment_cards::serial.nullable(),
        ))
        .load(conn)?;
    let issued: Vec<(String, String, i64)> = receipts::table
        .filter(receipts::payment_id.eq_any(ids))
        .select((
            receipts::payment_id,
            receipts::series_code,
            receipts::number,
        ))
        .order((receipts::series_code, receipts::number))
        .load(conn)?;
    let mut receipt_of: BTreeMap<String, String> = BTreeMap::new();
    for (payment, series, number) in issued {
        receipt_of
            .entry(payment)
            .or_insert_with(|| format!("{series}/{number:010}"));
    }
    Ok(rows
        .into_iter()
        .map(
            |(id, date, amount, department, window, reference, terminal, rrn, trace, serial)| {
                let facts = PaymentFacts {
                    date,
                    amount_minor: amount,
                    receipt_no: receipt_of.get(&id).cloned(),
                    department,
                    window,
                    terminal,
                    rrn,
                    trace,
                    reference,
                    serial,
                };
                (id, facts)
            },
        )
        .collect())
}

type LineRow = (
    i64,
    NaiveDate,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

pub(super) fn read_lines(
    conn: &mut DbConn,
    ids: &BTreeSet<i64>,
) -> Result<BTreeMap<i64, LineFacts>, DbError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<LineRow> = settlement_records::table
        .filter(settlement_records::id.eq_any(ids))
        .select((
            settlement_records::id,
            settlement_records::settlement_date,
            settlement_records::gross_minor,
            settlement_records::terminal,
            settlement_records::rrn,
            settlement_records::trace,
            settlement_records::own_ref,
            settlement_records::file_id,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, date, gross, terminal, rrn, trace, own_ref, file_id)| {
                (
                    id,
                    LineFacts {
                        date,
                        gross_minor: gross,
                        terminal,
                        rrn,
                        trace,
                        own_ref,
                        file_id,
                    },
                )
            },
        )
        .collect())
}

type BookingRow = (
    i64,
    NaiveDate,
    i64,
    String,
    Option<String>,
    Option<String>,
    String,
);

pub(super) fn read_bookings(
    conn: &mut DbConn,
    ids: &BTreeSet<i64>,
) -> Result<BTreeMap<i64, BookingFacts>, DbError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<BookingRow> = statement_bookings::table
        .filter(statement_bookings::id.eq_any(ids))
        .select((
            statement_bookings::id,
            statement_bookings::booking_date,
            statement_bookings::amount_minor,
            statement_bookings::direction,
            statement_bookings::bank_ref,
            statement_bookings::counterparty_name,
            statement_bookings::narrative,
        ))
        .load(conn)?;
    let mut out = BTreeMap::new();
    for (id, date, amount, direction, bank_ref, counterparty, narrative) in rows {
        let direction: Direction = stored::parse("statement_bookings.direction", &direction)?;
        let signed = if direction == Direction::Credit {
            amount
        } else {
            -amount
        };
        out.insert(
            id,
            BookingFacts {
                date,
                amount_minor: signed,
                bank_ref,
                counterparty,
                narrative,
            },
        );
    }
    Ok(out)
}

/// A file's id, merchant, settlement date, name and format.
type FileRow = (
    String,
    Option<String>,
    Option<NaiveDate>,
    Option<String>,
    String,
);

pub(super) fn read_files(
    conn: &mut DbConn,
    ids: &BTreeSet<String>,
) -> Result<BTreeMap<String, FileFacts>, DbError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<FileRow> = settlement_files::table
        .filter(settlement_files::id.eq_any(ids))
        .select((
            settlement_files::id,
            settlement_files::merchant,
            settlement_files::settlement_date,
            settlement_files::file_name,
            settlement_files::spec,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, merchant, date, name, spec)| {
            (
                id,
                FileFacts {
                    merchant,
                    date,
                    name,
                    spec,
                },
            )
        })
        .collect())
}

/// The records among these that are matched (an active `matched` outcome) or named by a
/// worked resolution.
pub(super) fn taken(
    conn: &mut DbConn,
    payment_ids: &BTreeSet<String>,
    line_ids: &BTreeSet<i64>,
    booking_ids: &BTreeSet<i64>,
) -> Result<BTreeSet<Record>, DbError> {
    let mut taken = BTreeSet::new();
    let named: Vec<(Option<String>, Option<i64>, Option<i64>)> = recon_exceptions::table
        .filter(recon_exceptions::active.eq(true))
        .filter(recon_exceptions::status.ne(ExceptionStatus::Open.as_ref()))
        .filter(
            recon_exceptions::matched_payment_id
                .eq_any(payment_ids)
                .or(recon_exceptions::matched_record_id.eq_any(line_ids))
                .or(recon_exceptions::matched_booking_id.eq_any(booking_ids)),
        )
        .select((
            recon_exceptions::matched_payment_id,
            recon_exceptions::matched_record_id,
            recon_exceptions::matched_booking_id,
        ))
        .load(conn)?;
    for (p, l, b) in named {
        taken.extend(p.map(Record::Payment));
        taken.extend(l.map(Record::Line));
        taken.extend(b.map(Record::Booking));
    }
    let matched: Vec<(Option<String>, Option<i64>)> = recon_outcomes::table
        .filter(recon_outcomes::active.eq(true))
        .filter(recon_outcomes::category.eq(Category::Matched.as_ref()))
        .filter(
            recon_outcomes::payment_id
                .eq_any(payment_ids)
                .or(recon_outcomes::settlement_record_id.eq_any(line_ids)),
        )
        .select((
            recon_outcomes::payment_id,
            recon_outcomes::settlement_record_id,
        ))
        .load(conn)?;
    for (p, l) in matched {
        taken.extend(p.map(Record::Payment));
        taken.extend(l.map(Record::Line));
    }
    Ok(taken)
}
