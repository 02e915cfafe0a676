//! A payment as stored — its row, lines, masked card data and receipt — written once by the
//! capture and read back whole. (The bulk status moves a reconciliation run makes are
//! `recon::runs::status`'s set-based updates, by [`PaymentStatus::moved_by`].)

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::intake::CardData;
use super::states::{Channel, PaymentStatus, ReceiptStatus};
use crate::catalogue::ConcessionKind;
use crate::db::schema::{
    fee_item_concessions, fee_items, payment_cards, payment_lines, payments, receipts,
};
use crate::db::{DbConn, DbError};

/// A payment as stored, with its lines, card and receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredPayment {
    /// Id (`pay_…`).
    pub id: String,
    /// The payment's own reference (one-card merchant order number).
    pub reference: String,
    /// Channel.
    pub channel: Channel,
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
    pub status: PaymentStatus,
    /// Capture entry.
    pub entry_seq: i64,
    /// 票据代码.
    pub receipt_series: String,
    /// 票据号码.
    pub receipt_number: i64,
    /// The receipt's status.
    pub receipt_status: ReceiptStatus,
    /// Lines.
    pub lines: Vec<StoredLine>,
    /// Masked card data.
    #[serde(skip)]
    pub card: CardData,
    /// Capture time (UTC).
    pub created_at: NaiveDateTime,
}

/// One stored line: the line joined with its catalogue version's name and, for a line under a
/// concession, the concession as that version grants it.
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
    /// The concession the line was charged under, if any.
    pub concession: Option<LineConcession>,
}

/// The concession (优惠政策) a line was charged under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineConcession {
    /// Its code in the fee item version.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Exempt or reduced.
    pub kind: ConcessionKind,
    /// Its legal basis.
    pub legal_basis: String,
    /// The standard amount forgone.
    pub forgone_minor: i64,
}

/// A `payments` row, its stored texts read as their enums.
#[derive(Queryable, Selectable)]
#[diesel(table_name = payments)]
struct PaymentRow {
    id: String,
    reference: String,
    #[diesel(deserialize_as = String)]
    channel: Channel,
    department: String,
    window_code: String,
    payer_name: Option<String>,
    payer_id_masked: Option<String>,
    amount_minor: i64,
    business_date: NaiveDate,
    #[diesel(deserialize_as = String)]
    status: PaymentStatus,
    entry_seq: i64,
    created_at: NaiveDateTime,
}

/// A `payment_cards` row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = payment_cards)]
struct CardRow {
    merchant_id: String,
    terminal_id: String,
    batch_no: Option<String>,
    trace_no: Option<String>,
    rrn: Option<String>,
    auth_code: Option<String>,
    serial: Option<String>,
    masked_card: String,
    txn_time: String,
}

impl From<CardRow> for CardData {
    fn from(c: CardRow) -> Self {
        CardData {
            merchant_id: c.merchant_id,
            terminal_id: c.terminal_id,
            batch_no: c.batch_no,
            trace_no: c.trace_no,
            rrn: c.rrn,
            auth_code: c.auth_code,
            serial: c.serial,
            masked_card: c.masked_card,
            txn_time: c.txn_time,
        }
    }
}

/// A `receipts` row: series, number and status of a payment's receipt.
#[derive(Queryable, Selectable)]
#[diesel(table_name = receipts)]
struct ReceiptRow {
    series_code: String,
    number: i64,
    #[diesel(deserialize_as = String)]
    status: ReceiptStatus,
}

/// Loads one payment with its lines, card and receipt. A stored text none of its set knows
/// is a [`DbError::Query`] (a deserialisation error naming it).
pub fn load(conn: &mut DbConn, id: &str) -> Result<Option<StoredPayment>, DbError> {
    Ok(load_many(conn, &[id.to_string()])?.into_iter().next())
}

/// Loads the payments `ids` with their lines, cards and receipts, in the order of `ids` (an id
/// that names no payment is left out): four queries whatever the number of ids, one per table,
/// grouped here, so that a page of a thousand payments costs what a page of one does. The
/// lists name at most a thousand ids, far under both databases' bind limits.
pub fn load_many(conn: &mut DbConn, ids: &[String]) -> Result<Vec<StoredPayment>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<PaymentRow> = payments::table
        .filter(payments::id.eq_any(ids))
        .select(PaymentRow::as_select())
        .load(conn)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<&String> = rows.iter().map(|r| &r.id).collect();
    let mut lines = load_lines(conn, &found)?;
    let mut cards: HashMap<String, CardData> = payment_cards::table
        .filter(payment_cards::payment_id.eq_any(&found))
        .select((payment_cards::payment_id, CardRow::as_select()))
        .load::<(String, CardRow)>(conn)?
        .into_iter()
        .map(|(id, c)| (id, CardData::from(c)))
        .collect();
    let mut receipts: HashMap<String, ReceiptRow> = receipts::table
        .filter(receipts::payment_id.eq_any(&found))
        .select((receipts::payment_id, ReceiptRow::as_select()))
        .load::<(String, ReceiptRow)>(conn)?
        .into_iter()
        .collect();
    let mut by_id: HashMap<String, StoredPayment> = HashMap::with_capacity(rows.len());
    for row in rows {
        // Every payment is written with its card and receipt in one transaction; one without
        // is a broken store, reported as a query that found nothing (as one load did).
        let card = cards
            .remove(&row.id)
            .ok_or(diesel::result::Error::NotFound)?;
        let receipt = receipts
            .remove(&row.id)
            .ok_or(diesel::result::Error::NotFound)?;
        let p = StoredPayment {
            lines: lines.remove(&row.id).unwrap_or_default(),
            id: row.id,
            reference: row.reference,
            channel: row.channel,
            department: row.department,
            window: row.window_code,
            payer_name: row.payer_name,
            payer_id_masked: row.payer_id_masked,
            amount_minor: row.amount_minor,
            business_date: row.business_date,
            status: row.status,
            entry_seq: row.entry_seq,
            receipt_series: receipt.series_code,
            receipt_number: receipt.number,
            receipt_status: receipt.status,
            card,
            created_at: row.created_at,
        };
        by_id.insert(p.id.clone(), p);
    }
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// A line as read: its payment, the line's columns, the version's name, and the concession's
/// columns (all set, or none).
type LineRow = (
    String,
    String,
    i64,
    String,
    i64,
    i64,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The lines of the payments `ids`, per payment in line order.
fn load_lines(
    conn: &mut DbConn,
    ids: &[&String],
) -> Result<HashMap<String, Vec<StoredLine>>, DbError> {
    let rows: Vec<LineRow> = payment_lines::table
        .inner_join(
            fee_items::table.on(fee_items::code
                .eq(payment_lines::fee_code)
                .and(fee_items::version.eq(payment_lines::fee_version))),
        )
        .left_join(
            fee_item_concessions::table.on(fee_item_concessions::fee_code
                .eq(payment_lines::fee_code)
                .and(fee_item_concessions::fee_version.eq(payment_lines::fee_version))
                .and(
                    fee_item_concessions::code
                        .nullable()
                        .eq(payment_lines::concession_code),
                )),
        )
        .filter(payment_lines::payment_id.eq_any(ids))
        .order((payment_lines::payment_id, payment_lines::line_no))
        .select((
            payment_lines::payment_id,
            payment_lines::fee_code,
            payment_lines::fee_version,
            fee_items::name,
            payment_lines::quantity,
            payment_lines::amount_minor,
            payment_lines::revenue_subject,
            payment_lines::concession_code,
            payment_lines::forgone_minor,
            fee_item_concessions::name.nullable(),
            fee_item_concessions::kind.nullable(),
            fee_item_concessions::legal_basis.nullable(),
        ))
        .load(conn)?;
    let mut out: HashMap<String, Vec<StoredLine>> = HashMap::new();
    for r in rows {
        let line = stored_line((r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10, r.11))?;
        out.entry(r.0).or_default().push(line);
    }
    Ok(out)
}

/// One line's columns without its payment, as [`stored_line`] reads them.
type LineCols = (
    String,
    i64,
    String,
    i64,
    i64,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn stored_line(r: LineCols) -> Result<StoredLine, DbError> {
    let (fee_code, fee_version, name, quantity, amount_minor, revenue_subject) =
        (r.0, r.1, r.2, r.3, r.4, r.5);
    let concession = match (r.6, r.7, r.8, r.9, r.10) {
        (None, ..) => None,
        (Some(code), Some(forgone_minor), Some(c_name), Some(kind), Some(legal_basis)) => {
            Some(LineConcession {
                code,
                name: c_name,
                kind: kind.try_into().map_err(|e| {
                    DbError::Query(diesel::result::Error::DeserializationError(Box::new(e)))
                })?,
                legal_basis,
                forgone_minor,
            })
        }
        (Some(code), ..) => {
            return Err(DbError::Query(diesel::result::Error::DeserializationError(
                format!(
                    "payment line of {fee_code} v{fee_version}: concession '{code}' is incomplete"
                )
                .into(),
            )))
        }
    };
    Ok(StoredLine {
        fee_code,
        fee_version,
        name,
        quantity,
        amount_minor,
        revenue_subject,
        concession,
    })
}
