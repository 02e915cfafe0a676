//! Payments at the counter (DESIGN §3).
//!
//! - [`card`]: card-data rules (full card numbers refused anywhere; masked forms; identity
//!   numbers hashed and masked) — pure.
//! - [`intake`]: reading and pricing a request — pure.
//! - this module: capture, as one ledger-writer job: idempotency record, gap-free receipt
//!   number, capture entry, payment rows and audit, all in one transaction; and reading back.
//!
//! May depend on: `catalogue`, `ledger`, `db`, `audit`, `keys`, `clock`, `money`.

pub mod card;
pub mod collections;
pub mod intake;
pub mod refunds;

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, AuditEvent};
use crate::catalogue;
use crate::db::schema::{
    fee_items, idempotency_keys, payment_cards, payment_lines, payments, receipt_series, receipts,
};
use crate::db::{DbConn, DbError};
use crate::ledger::writer::{Batch, LedgerWriter, PostError, WriteError};
use crate::ledger::{AccountRole, EntryKind, LedgerError, NewEntry, Posting};
use crate::money::{format_minor, CNY};
use intake::{CardData, Channel, PaymentRequest, PricedLine};

/// Why a capture did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The idempotency key was used before with another request.
    #[error("this Idempotency-Key was used for a different request")]
    KeyReused,
    /// A ledger rule refused the capture entry (a closed day, most likely).
    #[error(transparent)]
    Post(#[from] PostError),
    /// The configured receipt series does not exist or is used up.
    #[error("receipt series '{0}' is missing or exhausted")]
    ReceiptSeries(String),
}

impl From<DbError> for CaptureError {
    fn from(e: DbError) -> Self {
        CaptureError::Post(PostError::Storage(e))
    }
}

impl From<diesel::result::Error> for CaptureError {
    fn from(e: diesel::result::Error) -> Self {
        CaptureError::Post(PostError::Storage(DbError::Query(e)))
    }
}

/// What the client gets: a new payment, or the stored answer to an earlier identical request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status of the original answer.
    pub status: u16,
    /// The original body, byte for byte.
    pub body: String,
}

/// Everything a capture needs, checked and priced before the job runs.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The Idempotency-Key.
    pub key: String,
    /// SHA-256 of the canonical request.
    pub request_hash: [u8; 32],
    /// The request.
    pub request: PaymentRequest,
    /// Its priced lines.
    pub lines: Vec<PricedLine>,
    /// Business date.
    pub business_date: NaiveDate,
    /// Keyed hash of the payer's identity number.
    pub payer_id_hmac: Option<Vec<u8>>,
    /// Masked identity number.
    pub payer_id_masked: Option<String>,
    /// Who (`clerk:window-3`).
    pub actor: String,
    /// Receipt series (票据代码).
    pub series: String,
}

/// The stored answer for an idempotency key, if any: (request hash, status, body).
pub fn stored_answer(
    conn: &mut DbConn,
    key: &str,
) -> Result<Option<(Vec<u8>, i64, String)>, DbError> {
    Ok(idempotency_keys::table
        .filter(idempotency_keys::idem_key.eq(key.to_string()))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::status_code,
            idempotency_keys::response_body,
        ))
        .first(conn)
        .optional()?)
}

/// Makes sure a receipt series exists (numbers start at 1).
pub fn ensure_series(conn: &mut DbConn, series: &str) -> Result<(), DbError> {
    let exists: i64 = receipt_series::table
        .filter(receipt_series::series_code.eq(series.to_string()))
        .count()
        .get_result(conn)?;
    if exists == 0 {
        diesel::insert_into(receipt_series::table)
            .values((
                receipt_series::series_code.eq(series),
                receipt_series::next_number.eq(1i64),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Takes the next number of a series inside the caller's transaction: gap-free, because a
/// rolled-back payment rolls the increment back with it, and unique, because the row is
/// locked until commit.
fn next_receipt_number(conn: &mut DbConn, series: &str) -> Result<i64, CaptureError> {
    #[derive(QueryableByName)]
    struct Next {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        number: i64,
    }
    let next: Option<Next> = diesel::sql_query("UPDATE receipt_series SET next_number = next_number + 1 WHERE series_code = $1 RETURNING next_number - 1 AS number")
        .bind::<diesel::sql_types::Text, _>(series)
        .get_result(conn)
        .optional()
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::CheckViolation, _) => CaptureError::ReceiptSeries(series.to_string()),
            other => other.into(),
        })?;
    next.map(|n| n.number)
        .ok_or_else(|| CaptureError::ReceiptSeries(series.to_string()))
}

/// The capture entry: Dr 1218.01 for the total, Cr 2103.<subject> for each line.
fn capture_entry(
    batch: &Batch<'_>,
    c: &Capture,
    payment_id: &str,
    reference: &str,
) -> Result<NewEntry, CaptureError> {
    let chart = batch.chart();
    let missing =
        |what: String| CaptureError::Post(PostError::Rule(LedgerError::InvalidEntry(what)));
    let in_transit = chart
        .account_with_role(AccountRole::InTransit)
        .ok_or_else(|| missing("the chart has no in-transit account".into()))?;
    let mut postings = vec![Posting::debit(&in_transit.code, c.request.amount_minor)];
    for l in &c.lines {
        let payable = chart
            .treasury_payable_for(&l.fee.revenue_subject)
            .ok_or_else(|| {
                missing(format!(
                    "no treasury-payable account for subject {}",
                    l.fee.revenue_subject
                ))
            })?;
        postings.push(Posting::credit(&payable.code, l.amount_minor));
    }
    Ok(NewEntry {
        business_date: c.business_date,
        kind: EntryKind::Capture,
        memo: format!("card payment {reference}"),
        reference: Some(payment_id.to_string()),
        reverses: None,
        actor: c.actor.clone(),
        postings,
    })
}

/// Captures a payment through the ledger writer: all of it commits, or none of it.
pub async fn capture(
    writer: &LedgerWriter,
    c: Capture,
) -> Result<Answer, WriteError<CaptureError>> {
    writer
        .submit(move |batch| {
            // The chain-head lock serialises batches across instances, so this read sees every
            // committed key and every key of earlier jobs in this batch; the primary key on
            // idempotency_keys is the backstop.
            if let Some((hash, status, body)) = stored_answer(batch.conn()?, &c.key)? {
                return if hash == c.request_hash {
                    Ok(Answer {
                        status: u16::try_from(status).unwrap_or(200),
                        body,
                    })
                } else {
                    Err(CaptureError::KeyReused)
                };
            }
            let number = next_receipt_number(batch.conn()?, &c.series)?;
            let payment_id = format!(
                "pay_{}",
                hex::encode(
                    crate::keys::random_bytes::<8>()
                        .map_err(|_| DbError::Connect("no randomness".into()))?
                )
            );
            let reference = format!("P{}{number:010}", c.series);
            let entry = capture_entry(batch, &c, &payment_id, &reference)?;
            let posted = batch.post(entry)?;
            let now = batch.now();
            let stored = StoredPayment {
                id: payment_id.clone(),
                reference,
                channel: c.request.channel.as_str().to_string(),
                department: c.request.department.clone(),
                window: c.request.window.clone(),
                payer_name: c.request.payer.as_ref().map(|p| p.name.clone()),
                payer_id_masked: c.payer_id_masked.clone(),
                amount_minor: c.request.amount_minor,
                business_date: c.business_date,
                status: "captured".into(),
                entry_seq: posted.seq,
                receipt_series: c.series.clone(),
                receipt_number: number,
                receipt_status: "issued".into(),
                lines: c
                    .lines
                    .iter()
                    .map(|l| StoredLine {
                        fee_code: l.fee.code.clone(),
                        fee_version: l.fee.version,
                        name: l.fee.name.clone(),
                        quantity: l.quantity,
                        amount_minor: l.amount_minor,
                        revenue_subject: l.fee.revenue_subject.clone(),
                    })
                    .collect(),
                card: c.request.card.clone(),
                created_at: now,
            };
            let conn = batch.conn()?;
            insert_payment(conn, &stored, &c)?;
            let body = view(&stored).to_string();
            diesel::insert_into(idempotency_keys::table)
                .values((
                    idempotency_keys::idem_key.eq(c.key.clone()),
                    idempotency_keys::request_hash.eq(c.request_hash.to_vec()),
                    idempotency_keys::status_code.eq(201i64),
                    idempotency_keys::response_body.eq(body.clone()),
                    idempotency_keys::payment_id.eq(Some(payment_id.clone())),
                    idempotency_keys::created_at.eq(now),
                ))
                .execute(conn)?;
            audit::record_at(
                conn,
                AuditEvent {
                    actor: &c.actor,
                    action: "payment.capture",
                    subject: &format!("payment:{payment_id}"),
                    before: None,
                    after: Some(view(&stored)),
                },
                now,
            )?;
            Ok(Answer { status: 201, body })
        })
        .await
}

fn insert_payment(conn: &mut DbConn, p: &StoredPayment, c: &Capture) -> Result<(), CaptureError> {
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

/// The API view of a payment (API.md §Payments): the capture answer and every read. Its
/// schema is the one `/openapi.json` publishes.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PaymentView {
    /// Id (`pay_…`).
    pub id: String,
    /// The payment's own reference, passed to the one-card terminal as merchant order number.
    pub reference: String,
    /// `<receipt code>/<receipt number>`.
    pub receipt_no: String,
    /// The fiscal receipt.
    pub receipt: ReceiptView,
    /// `captured`, `settled`, `reconciled` or `voided`.
    pub status: String,
    /// `bank_card` or `one_card`.
    pub channel: String,
    /// Collecting department.
    pub department: String,
    /// Counter window.
    pub window: String,
    /// Total, decimal string with two places.
    pub amount: String,
    /// Always `CNY`.
    pub currency: &'static str,
    /// Business date of capture.
    pub business_date: NaiveDate,
    /// The payer, if named (the identity number only masked).
    pub payer: Option<PayerView>,
    /// The lines as charged.
    pub lines: Vec<LineView>,
    /// Masked card data.
    pub card: CardView,
    /// The capture's ledger entry.
    pub entry_seq: i64,
    /// Capture time, RFC 3339 UTC.
    pub captured_at: String,
}

/// A payment's fiscal receipt.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReceiptView {
    /// 票据代码 (8 digits).
    pub code: String,
    /// 票据号码 (10 digits).
    pub number: String,
    /// `issued` or `red_reversed`.
    pub status: String,
}

/// The payer as shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PayerView {
    /// Name as given.
    pub name: String,
    /// Identity number, masked, if one was given.
    pub id_number_masked: Option<String>,
}

/// A line as charged.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LineView {
    /// Catalogue code.
    pub fee_code: String,
    /// Catalogue version charged.
    pub fee_version: i64,
    /// Item name of that version.
    pub name: String,
    /// Quantity.
    pub quantity: i64,
    /// Amount, decimal string.
    pub amount: String,
    /// Revenue subject.
    pub revenue_subject: String,
}

/// Masked card data: a bank card's POS fields, or the one-card operator's serial.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum CardView {
    /// `channel: bank_card`.
    BankCard {
        /// Acquirer merchant number.
        merchant_id: String,
        /// Terminal.
        terminal_id: String,
        /// POS batch.
        batch_no: Option<String>,
        /// POS trace.
        trace_no: Option<String>,
        /// Retrieval reference number.
        rrn: Option<String>,
        /// Authorisation code.
        auth_code: Option<String>,
        /// Masked card number.
        masked_pan: String,
        /// Terminal transaction time, as sent.
        txn_time: String,
    },
    /// `channel: one_card`.
    OneCard {
        /// Merchant number.
        merchant_id: String,
        /// Terminal.
        terminal_id: String,
        /// The operator's 20-digit transaction serial.
        serial: Option<String>,
        /// Masked card number.
        masked_card: String,
        /// Terminal transaction time, as sent.
        txn_time: String,
    },
}

impl From<&StoredPayment> for PaymentView {
    fn from(p: &StoredPayment) -> Self {
        let card = p.card.clone();
        let card = if p.channel == Channel::OneCard.as_str() {
            CardView::OneCard {
                merchant_id: card.merchant_id,
                terminal_id: card.terminal_id,
                serial: card.serial,
                masked_card: card.masked_card,
                txn_time: card.txn_time,
            }
        } else {
            CardView::BankCard {
                merchant_id: card.merchant_id,
                terminal_id: card.terminal_id,
                batch_no: card.batch_no,
                trace_no: card.trace_no,
                rrn: card.rrn,
                auth_code: card.auth_code,
                masked_pan: card.masked_card,
                txn_time: card.txn_time,
            }
        };
        PaymentView {
            id: p.id.clone(),
            reference: p.reference.clone(),
            receipt_no: format!("{}/{:010}", p.receipt_series, p.receipt_number),
            receipt: ReceiptView {
                code: p.receipt_series.clone(),
                number: format!("{:010}", p.receipt_number),
                status: p.receipt_status.clone(),
            },
            status: p.status.clone(),
            channel: p.channel.clone(),
            department: p.department.clone(),
            window: p.window.clone(),
            amount: format_minor(p.amount_minor),
            currency: CNY,
            business_date: p.business_date,
            payer: p.payer_name.as_ref().map(|n| PayerView {
                name: n.clone(),
                id_number_masked: p.payer_id_masked.clone(),
            }),
            lines: p
                .lines
                .iter()
                .map(|l| LineView {
                    fee_code: l.fee_code.clone(),
                    fee_version: l.fee_version,
                    name: l.name.clone(),
                    quantity: l.quantity,
                    amount: format_minor(l.amount_minor),
                    revenue_subject: l.revenue_subject.clone(),
                })
                .collect(),
            card,
            entry_seq: p.entry_seq,
            captured_at: format!("{}Z", p.created_at.format("%Y-%m-%dT%H:%M:%S%.6f")),
        }
    }
}

/// [`PaymentView`] as JSON (keys in order, as stored with idempotent answers and audit records).
pub fn view(p: &StoredPayment) -> serde_json::Value {
    serde_json::to_value(PaymentView::from(p)).unwrap_or_default()
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
    let lines: Vec<(String, i64, String, i64, i64, String)> = payment_lines::table
        .inner_join(
            fee_items::table.on(fee_items::code
                .eq(payment_lines::fee_code)
                .and(fee_items::version.eq(payment_lines::fee_version))),
        )
        .filter(payment_lines::payment_id.eq(id.clone()))
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
    let card: CardRow = payment_cards::table
        .filter(payment_cards::payment_id.eq(id.clone()))
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
    let (receipt_series, receipt_number, receipt_status): (String, i64, String) = receipts::table
        .filter(receipts::payment_id.eq(id.clone()))
        .select((receipts::series_code, receipts::number, receipts::status))
        .first(conn)?;
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
        lines: lines
            .into_iter()
            .map(
                |(fee_code, fee_version, name, quantity, amount_minor, revenue_subject)| {
                    StoredLine {
                        fee_code,
                        fee_version,
                        name,
                        quantity,
                        amount_minor,
                        revenue_subject,
                    }
                },
            )
            .collect(),
        card: CardData {
            merchant_id: card.0,
            terminal_id: card.1,
            batch_no: card.2,
            trace_no: card.3,
            rrn: card.4,
            auth_code: card.5,
            serial: card.6,
            masked_card: card.7,
            txn_time: card.8,
        },
        created_at,
    }))
}

/// Every version of each code the request names, for pricing.
pub fn versions_for(
    conn: &mut DbConn,
    request: &PaymentRequest,
) -> Result<HashMap<String, Vec<catalogue::FeeItem>>, DbError> {
    let mut out = HashMap::new();
    for line in &request.lines {
        if !out.contains_key(&line.fee_code) {
            out.insert(
                line.fee_code.clone(),
                catalogue::versions(conn, &line.fee_code)?,
            );
        }
    }
    Ok(out)
}

/// Why a void was refused.
#[derive(Debug, thiserror::Error)]
pub enum VoidError {
    /// No such payment.
    #[error("no payment '{0}'")]
    NotFound(String),
    /// Only a captured payment can be voided, and only on its business date.
    #[error("{0}")]
    NotAllowed(String),
    /// The reversal entry was refused, or storage failed.
    #[error(transparent)]
    Post(#[from] PostError),
}

impl From<DbError> for VoidError {
    fn from(e: DbError) -> Self {
        VoidError::Post(PostError::Storage(e))
    }
}

impl From<diesel::result::Error> for VoidError {
    fn from(e: diesel::result::Error) -> Self {
        VoidError::Post(PostError::Storage(DbError::Query(e)))
    }
}

/// Voids a payment on its business date, before settlement: posts the reversal of its capture
/// entry, marks the payment voided and its receipt red-reversed (冲红) — nothing is deleted.
pub async fn void(
    writer: &LedgerWriter,
    id: String,
    actor: String,
    today: NaiveDate,
) -> Result<StoredPayment, WriteError<VoidError>> {
    writer
        .submit(move |batch| {
            // Batches are serialised by the chain-head lock, so the status read here cannot
            // change before this job commits.
            let before = load(batch.conn()?, &id)?.ok_or_else(|| VoidError::NotFound(id.clone()))?;
            if before.status != "captured" {
                return Err(VoidError::NotAllowed(format!("payment {id} is {}; only a captured payment can be voided", before.status)));
            }
            if before.business_date != today {
                return Err(VoidError::NotAllowed(format!(
                    "payment {id} was taken on {}; a void is only possible on the same business day ({today}) — request a refund instead",
                    before.business_date
                )));
            }
            // A void gives back the whole fee; after a refund that would pay part of it twice.
            let refunds: i64 = crate::db::schema::refunds::table
                .filter(crate::db::schema::refunds::payment_id.eq(id.clone()))
                .count()
                .get_result(batch.conn()?)?;
            if refunds > 0 {
                return Err(VoidError::NotAllowed(format!(
                    "payment {id} has refunds; it can no longer be voided — refund the rest instead"
                )));
            }
            let original = crate::ledger::repo::load_entry(batch.conn()?, before.entry_seq)?
                .ok_or(PostError::Rule(LedgerError::UnknownEntry(before.entry_seq)))?;
            let reversal = crate::ledger::service::reversal_of(&original, format!("void of payment {}", before.reference), actor.clone());
            batch.post(reversal)?;
            let now = batch.now();
            let conn = batch.conn()?;
            diesel::update(payments::table.filter(payments::id.eq(&id)))
                .set(payments::status.eq("voided"))
                .execute(conn)?;
            diesel::update(receipts::table.filter(receipts::payment_id.eq(&id)))
                .set(receipts::status.eq("red_reversed"))
                .execute(conn)?;
            let after = StoredPayment {
                status: "voided".into(),
                receipt_status: "red_reversed".into(),
                ..before.clone()
            };
            audit::record_at(
                conn,
                AuditEvent {
                    actor: &actor,
                    action: "payment.void",
                    subject: &format!("payment:{id}"),
                    before: Some(view(&before)),
                    after: Some(view(&after)),
                },
                now,
            )?;
            Ok(after)
        })
        .await
}

/// The statuses a payment can have: taken, in a settlement file, matched by reconciliation,
/// or voided.
pub const STATUSES: [&str; 4] = ["captured", "settled", "reconciled", "voided"];

/// Ids of payments matching the filters, in id order after `after`, at most `limit`.
pub fn list_ids(
    conn: &mut DbConn,
    business_date: Option<NaiveDate>,
    status: Option<&str>,
    after: &str,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    let mut q = payments::table
        .filter(payments::id.gt(after.to_string()))
        .into_boxed();
    if let Some(d) = business_date {
        q = q.filter(payments::business_date.eq(d));
    }
    if let Some(s) = status {
        q = q.filter(payments::status.eq(s.to_string()));
    }
    Ok(q.order(payments::id)
        .limit(limit)
        .select(payments::id)
        .load(conn)?)
}

/// Most payments [`find`] returns.
pub const FIND_LIMIT: i64 = 100;

/// Ids of the payments a clerk's search text names, in id order: a payment id (`pay_…`), a
/// payment reference (`P…`), or a receipt number — `<code>/<number>` as printed, or the number
/// alone in any series (leading zeros optional). Nothing for empty text.
pub fn find(conn: &mut DbConn, text: &str) -> Result<Vec<String>, DbError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<String> = payments::table
        .filter(
            payments::id
                .eq(text.to_string())
                .or(payments::reference.eq(text.to_string())),
        )
        .select(payments::id)
        .limit(FIND_LIMIT)
        .load(conn)?;
    let (series, number) = match text.split_once('/') {
        Some((s, n)) => (Some(s.trim()), n.trim()),
        None => (None, text),
    };
    if let Some(number) = number
        .parse::<i64>()
        .ok()
        .filter(|_| number.bytes().all(|b| b.is_ascii_digit()))
    {
        let mut q = receipts::table
            .filter(receipts::number.eq(number))
            .into_boxed();
        if let Some(s) = series {
            q = q.filter(receipts::series_code.eq(s.to_string()));
        }
        ids.extend(
            q.select(receipts::payment_id)
                .limit(FIND_LIMIT)
                .load::<String>(conn)?,
        );
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}
