//! A payment as stored — its row, lines, masked card data and receipt — written once by the
//! capture and read back whole.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::intake::CardData;
use super::Capture;
use super::CaptureError;
use crate::db::schema::{fee_items, payment_cards, payment_lines, payments, receipts};
use crate::db::{DbConn, DbError};

/// A payment as stored, with its lines, card and receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredPayment {
    /// Id (`pay_…`).
    pub id: String,
    /// The payment's own reference (one-card merchant order number).
    pub reference: String,
    /// `bank_card` or `one_card`.
    pub channel: String,
    /// Department.
    pub department: String,
    /// Window.
    pub window: String,
    /// Payer name.
    pub payer_name: Option<String>,
    /// Masked identity number.
    pub payer_id_masked: Option<String>,
    /// Total.
    pub amount_minor: i64,
    /// Business date.
    pub business_date: NaiveDate,
    /// Status.
    pub status: String,
    /// Capture entry.
    pub entry_seq: i64,
    /// 票据代码.
    pub receipt_series: String,
    /// 票据号码.
    pub receipt_number: i64,
    /// `issued` or `red_reversed`.
    pub receipt_status: String,
    /// Lines.
    pub lines: Vec<StoredLine>,
    /// Masked card data.
    #[serde(skip)]
    pub card: CardData,
    /// Capture time (UTC).
    pub created_at: NaiveDateTime,
}

/// One stored line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredLine {
    /// Catalogue code.
    pub fee_code: String,
    /// Catalogue version charged.
    pub fee_version: i64,
    /// Item name of that version.
    pub name: String,
    /// Quantity.
    pub quantity: i64,
    /// Amount.
    pub amount_minor: i64,
    /// Revenue subject.
    pub revenue_subject: String,
}

/// merchant, terminal, batch, trace, rrn, auth code, serial, masked card, time.
type CardRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
);
type PaymentRow = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    NaiveDate,
    String,
    i64,
    NaiveDateTime,
);

/// Loads one payment with its lines, card and receipt.
pub fn load(conn: &mut DbConn, id: &str) -> Result<Option<StoredPayment>, DbError> {
    let row: Option<PaymentRow> = payments::table
        .filter(payments::id.eq(id.to_string()))
        .select((
            payments::id,
            payments::reference,
            payments::channel,
            payments::department,
            payments::window_code,
            payments::payer_name,
            payments::payer_id_masked,
            payments::amount_minor,
            payments::business_date,
            payments::status,
            payments::entry_seq,
            payments::created_at,
        ))
        .first(conn)
        .optional()?;
    let Some((
        id,
        reference,
        channel,
        department,
        window,
        payer_name,
        payer_id_masked,
        amount_minor,
        business_date,
        status,
        entry_seq,
        created_at,
    )) = row
    else {
        return Ok(None);
    };
    let lines = load_lines(conn, &id)?;
    let card = load_card(conn, &id)?;
    let (receipt_series, receipt_number, receipt_status) = load_receipt(conn, &id)?;
    Ok(Some(StoredPayment {
        id,
        reference,
        channel,
        department,
        window,
        payer_name,
        payer_id_masked,
        amount_minor,
        business_date,
        status,
        entry_seq,
        receipt_series,
        receipt_number,
        receipt_status,
        lines,
        card,
        created_at,
    }))
}

fn load_lines(conn: &mut DbConn, id: &str) -> Result<Vec<StoredLine>, DbError> {
    let lines: Vec<(String, i64, String, i64, i64, String)> = payment_lines::table
        .inner_join(
            fee_items::table.on(fee_items::code
                .eq(payment_lines::fee_code)
                .and(fee_items::version.eq(payment_lines::fee_version))),
        )
        .filter(payment_lines::payment_id.eq(id.to_string()))
        .order(payment_lines::line_no)
        .select((
            payment_lines::fee_code,
            payment_lines::fee_version,
            fee_items::name,
            payment_lines::quantity,
            payment_lines::amount_minor,
            payment_lines::revenue_subject,
        ))
        .load(conn)?;
    Ok(lines
        .into_iter()
        .map(
            |(fee_code, fee_version, name, quantity, amount_minor, revenue_subject)| StoredLine {
                fee_code,
                fee_version,
                name,
                quantity,
                amount_minor,
                revenue_subject,
            },
        )
        .collect())
}

fn load_card(conn: &mut DbConn, id: &str) -> Result<CardData, DbError> {
    let card: CardRow = payment_cards::table
        .filter(payment_cards::payment_id.eq(id.to_string()))
        .select((
            payment_cards::merchant_id,
            payment_cards::terminal_id,
            payment_cards::batch_no,
            payment_cards::trace_no,
            payment_cards::rrn,
            payment_cards::auth_code,
            payment_cards::serial,
            payment_cards::masked_card,
            payment_cards::txn_time,
        ))
        .first(conn)?;
    Ok(CardData {
        merchant_id: card.0,
        terminal_id: card.1,
        batch_no: card.2,
        trace_no: card.3,
        rrn: card.4,
        auth_code: card.5,
        serial: card.6,
        masked_card: card.7,
        txn_time: card.8,
    })
}

/// Series, number and status of a payment's receipt.
fn load_receipt(conn: &mut DbConn, id: &str) -> Result<(String, i64, String), DbError> {
    Ok(receipts::table
        .filter(receipts::payment_id.eq(id.to_string()))
        .select((receipts::series_code, receipts::number, receipts::status))
        .first(conn)?)
}

pub(super) fn insert_payment(
    conn: &mut DbConn,
    p: &StoredPayment,
    c: &Capture,
) -> Result<(), CaptureError> {
    diesel::insert_into(payments::table)
        .values((
            payments::id.eq(p.id.clone()),
            payments::reference.eq(p.reference.clone()),
            payments::channel.eq(p.channel.clone()),
            payments::department.eq(p.department.clone()),
            payments::window_code.eq(p.window.clone()),
            payments::payer_name.eq(p.payer_name.clone()),
            payments::payer_id_hmac.eq(c.payer_id_hmac.clone()),
            payments::payer_id_masked.eq(p.payer_id_masked.clone()),
            payments::amount_minor.eq(p.amount_minor),
            payments::business_date.eq(p.business_date),
            payments::status.eq(p.status.clone()),
            payments::entry_seq.eq(p.entry_seq),
            payments::created_at.eq(p.created_at),
            payments::created_by.eq(c.actor.clone()),
        ))
        .execute(conn)?;
    for (i, l) in p.lines.iter().enumerate() {
        diesel::insert_into(payment_lines::table)
            .values((
                payment_lines::payment_id.eq(p.id.clone()),
                payment_lines::line_no.eq(i as i64 + 1),
                payment_lines::fee_code.eq(l.fee_code.clone()),
                payment_lines::fee_version.eq(l.fee_version),
                payment_lines::quantity.eq(l.quantity),
                payment_lines::amount_minor.eq(l.amount_minor),
                payment_lines::revenue_subject.eq(l.revenue_subject.clone()),
            ))
            .execute(conn)?;
    }
    let card = &p.card;
    diesel::insert_into(payment_cards::table)
        .values((
            payment_cards::payment_id.eq(p.id.clone()),
            payment_cards::merchant_id.eq(card.merchant_id.clone()),
            payment_cards::terminal_id.eq(card.terminal_id.clone()),
            payment_cards::batch_no.eq(card.batch_no.clone()),
            payment_cards::trace_no.eq(card.trace_no.clone()),
            payment_cards::rrn.eq(card.rrn.clone()),
            payment_cards::auth_code.eq(card.auth_code.clone()),
            payment_cards::serial.eq(card.serial.clone()),
            payment_cards::masked_card.eq(card.masked_card.clone()),
            payment_cards::txn_time.eq(card.txn_time.clone()),
        ))
        .execute(conn)?;
    diesel::insert_into(receipts::table)
        .values((
            receipts::series_code.eq(p.receipt_series.clone()),
            receipts::number.eq(p.receipt_number),
            receipts::payment_id.eq(p.id.clone()),
            receipts::status.eq(p.receipt_status.clone()),
            receipts::issued_at.eq(p.created_at),
        ))
        .execute(conn)?;
    Ok(())
}
