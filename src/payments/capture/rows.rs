//! The rows of a batch's captures, written once per table per batch ([`Deferred`]): payments,
//! lines, cards, receipts, idempotency records and audit, each as multi-row inserts in a few
//! fixed chunk sizes (statements prepared once per connection); the receipt numbers as one
//! range per series and batch.
//!
//! What the captures of a batch ask is looked up once for the batch: the stored answers of
//! every Idempotency-Key the batch's jobs carry (their `idem` tags), the tokens among their
//! `token` tags that are revoked, and each series' next receipt number.
//!
//! Receipt numbers stay gap-free and in commit order: a capture takes the series' next number
//! (the base read under the chain-head lock, plus the captures before it in the batch) only once
//! nothing of it can fail, and the series moves on by exactly the numbers written, in the same
//! transaction — checked against the base it was read at.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{CaptureError, StoredAnswer};
use crate::audit::{self, OwnedAuditEvent};
use crate::db::schema::{
    api_tokens, idempotency_keys, payment_cards, payment_lines, payments, receipt_series, receipts,
};
use crate::db::{DbConn, DbError};
use crate::insert_chunked;
use crate::ledger::writer::{Deferred, Reads};
use crate::payments::hashes::KEYED_HASH;
use crate::payments::StoredPayment;

/// Tag kind of an Idempotency-Key.
pub(super) const IDEM: &str = "idem";
/// Tag kind of the id of the token a capture is taken with.
pub(super) const TOKEN: &str = "token";

/// The largest receipt number (票据号码, 10 digits).
const LAST_RECEIPT_NUMBER: i64 = 9_999_999_999;

/// How many values one lookup's `IN (…)` names at most.
const LOOKUP_CHUNK: usize = 500;

/// One capture's rows.
pub(super) struct CaptureRow {
    pub payment: StoredPayment,
    pub payer_id_hmac: Option<Vec<u8>>,
    pub actor: String,
    pub key: String,
    pub request_hash: [u8; 32],
    pub body: String,
}

/// The batch's captures so far, and what the batch looked up for them.
pub(super) struct CaptureRows {
    /// Stored answers by key: those read for the batch, and those of its captures.
    answers: HashMap<String, StoredAnswer>,
    /// The keys `answers` was read for, and the savepoint count it was read at.
    looked_up: HashSet<String>,
    read_at: u64,
    /// Tokens among the batch's tags that are revoked.
    revoked: HashSet<String>,
    /// Each series' next number in the database (what is written moves it on).
    series: HashMap<String, i64>,
    /// The captures waiting to be written, in job order.
    rows: Vec<CaptureRow>,
    /// The batch's commit time.
    now: NaiveDateTime,
}

impl CaptureRows {
    /// Reads, for the batch, the stored answers of its keys and its revoked tokens.
    pub(super) fn load(reads: &mut Reads<'_>, now: NaiveDateTime) -> Result<Self, DbError> {
        let keys: Vec<String> = tagged(reads, IDEM);
        let tokens: Vec<String> = tagged(reads, TOKEN);
        let mut answers = HashMap::new();
        for chunk in keys.chunks(LOOKUP_CHUNK) {
            let found: Vec<(String, Vec<u8>, i64, String)> = idempotency_keys::table
                .filter(idempotency_keys::idem_key.eq_any(chunk))
                .select((
                    idempotency_keys::idem_key,
                    idempotency_keys::request_hash,
                    idempotency_keys::status_code,
                    idempotency_keys::response_body,
                ))
                .load(reads.conn)?;
            for (key, hash, status, body) in found {
                answers.insert(key, (hash, status, body));
            }
        }
        let mut revoked = HashSet::new();
        for chunk in tokens.chunks(LOOKUP_CHUNK) {
            let found: Vec<String> = api_tokens::table
                .filter(api_tokens::id.eq_any(chunk))
                .filter(api_tokens::revoked_at.is_not_null())
                .select(api_tokens::id)
                .load(reads.conn)?;
            revoked.extend(found);
        }
        Ok(CaptureRows {
            answers,
            looked_up: keys.into_iter().collect(),
            read_at: reads.writes_seen,
            revoked,
            series: HashMap::new(),
            rows: Vec::new(),
            now,
        })
    }

    /// The stored answer for `key`: of an earlier batch, or of a capture before this one in
    /// the batch. A key the batch did not look up, or one a job may have written since
    /// (another job's savepoint opened after the lookup), is read on its own.
    pub(super) fn answer(
        &mut self,
        reads: &mut Reads<'_>,
        key: &str,
    ) -> Result<Option<StoredAnswer>, DbError> {
        if let Some(found) = self.answers.get(key) {
            return Ok(Some(found.clone()));
        }
        if self.looked_up.contains(key) && self.read_at == reads.writes_seen {
            return Ok(None);
        }
        super::stored_answer(reads.conn, key)
    }

    /// Whether the token `id` was revoked before the batch began.
    pub(super) fn is_revoked(&self, id: &str) -> bool {
        self.revoked.contains(id)
    }

    /// The number the next capture of `series` in this batch takes.
    pub(super) fn next_number(
        &mut self,
        reads: &mut Reads<'_>,
        series: &str,
    ) -> Result<i64, CaptureError> {
        let base = match self.series.get(series) {
            Some(base) => *base,
            None => {
                let next: Option<i64> = receipt_series::table
                    .filter(receipt_series::series_code.eq(series.to_string()))
                    .select(receipt_series::next_number)
                    .first(reads.conn)
                    .optional()
                    .map_err(DbError::from)?;
                let next = next.ok_or_else(|| CaptureError::ReceiptSeries(series.to_string()))?;
                self.series.insert(series.to_string(), next);
                next
            }
        };
        let taken = self.taken(series);
        let number = base + i64::try_from(taken).unwrap_or(i64::MAX);
        if number > LAST_RECEIPT_NUMBER {
            return Err(CaptureError::ReceiptSeries(series.to_string()));
        }
        Ok(number)
    }

    fn taken(&self, series: &str) -> usize {
        self.rows
            .iter()
            .filter(|r| r.payment.receipt_series == series)
            .count()
    }

    /// Adds a capture (its number from [`next_number`](Self::next_number), nothing since).
    pub(super) fn push(&mut self, row: CaptureRow) {
        self.answers.insert(
            row.key.clone(),
            (row.request_hash.to_vec(), 201, row.body.clone()),
        );
        self.rows.push(row);
    }
}

fn tagged(reads: &Reads<'_>, kind: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    reads
        .tags
        .iter()
        .filter(|(k, _)| *k == kind)
        .filter(|(_, v)| seen.insert(v.as_str()))
        .map(|(_, v)| v.clone())
        .collect()
}

impl Deferred for CaptureRows {
    fn len(&self) -> usize {
        self.rows.len()
    }

    fn truncate(&mut self, len: usize) {
        for dropped in self.rows.drain(len.min(self.rows.len())..) {
            self.answers.remove(&dropped.key);
        }
    }

    fn flush(&mut self, conn: &mut DbConn) -> Result<(), DbError> {
        let rows = std::mem::take(&mut self.rows);
        write_rows(conn, &rows, self.now)?;
        // Each series moves on by the numbers written, from the base it was read at.
        let mut moved: HashMap<&str, i64> = HashMap::new();
        for r in &rows {
            *moved.entry(r.payment.receipt_series.as_str()).or_default() += 1;
        }
        for (series, n) in moved {
            let base = self.series.get(series).copied().unwrap_or_default();
            let updated = diesel::update(
                receipt_series::table
                    .filter(receipt_series::series_code.eq(series.to_string()))
                    .filter(receipt_series::next_number.eq(base)),
            )
            .set(receipt_series::next_number.eq(base + n))
            .execute(conn)?;
            if updated != 1 {
                // Someone moved the series outside the writer: refuse the batch, lose nothing.
                return Err(DbError::Query(diesel::result::Error::NotFound));
            }
            self.series.insert(series.to_string(), base + n);
        }
        Ok(())
    }
}

/// Every table's rows of `rows`, one multi-row insert per table and chunk.
fn write_rows(conn: &mut DbConn, rows: &[CaptureRow], now: NaiveDateTime) -> Result<(), DbError> {
    let payment_rows: Vec<_> = rows
        .iter()
        .map(|r| {
            let p = &r.payment;
            (
                payments::id.eq(p.id.clone()),
                payments::reference.eq(p.reference.clone()),
                payments::channel.eq(p.channel.as_ref().to_string()),
                payments::department.eq(p.department.clone()),
                payments::window_code.eq(p.window.clone()),
                payments::payer_name.eq(p.payer_name.clone()),
                payments::payer_id_hmac.eq(r.payer_id_hmac.clone()),
                payments::payer_id_masked.eq(p.payer_id_masked.clone()),
                payments::amount_minor.eq(p.amount_minor),
                payments::business_date.eq(p.business_date),
                payments::status.eq(p.status.as_ref().to_string()),
                payments::entry_seq.eq(p.entry_seq),
                payments::created_at.eq(p.created_at),
                payments::created_by.eq(r.actor.clone()),
            )
        })
        .collect();
    insert_chunked!(conn, payments::table, payment_rows)?;
    let mut line_rows = Vec::with_capacity(rows.len());
    for r in rows {
        let p = &r.payment;
        for (i, l) in p.lines.iter().enumerate() {
            line_rows.push((
                payment_lines::payment_id.eq(p.id.clone()),
                payment_lines::line_no.eq(i as i64 + 1),
                payment_lines::fee_code.eq(l.fee_code.clone()),
                payment_lines::fee_version.eq(l.fee_version),
                payment_lines::quantity.eq(l.quantity),
                payment_lines::amount_minor.eq(l.amount_minor),
                payment_lines::revenue_subject.eq(l.revenue_subject.clone()),
                payment_lines::concession_code.eq(l.concession.as_ref().map(|c| c.code.clone())),
                payment_lines::forgone_minor.eq(l.concession.as_ref().map(|c| c.forgone_minor)),
            ));
        }
    }
    insert_chunked!(conn, payment_lines::table, line_rows)?;
    let card_rows: Vec<_> = rows
        .iter()
        .map(|r| {
            let c = &r.payment.card;
            (
                payment_cards::payment_id.eq(r.payment.id.clone()),
                payment_cards::merchant_id.eq(c.merchant_id.clone()),
                payment_cards::terminal_id.eq(c.terminal_id.clone()),
                payment_cards::batch_no.eq(c.batch_no.clone()),
                payment_cards::trace_no.eq(c.trace_no.clone()),
                payment_cards::rrn.eq(c.rrn.clone()),
                payment_cards::auth_code.eq(c.auth_code.clone()),
                payment_cards::serial.eq(c.serial.clone()),
                payment_cards::masked_card.eq(c.masked_card.clone()),
                payment_cards::txn_time.eq(c.txn_time.clone()),
            )
        })
        .collect();
    insert_chunked!(conn, payment_cards::table, card_rows)?;
    let receipt_rows: Vec<_> = rows
        .iter()
        .map(|r| {
            let p = &r.payment;
            (
                receipts::series_code.eq(p.receipt_series.clone()),
                receipts::number.eq(p.receipt_number),
                receipts::payment_id.eq(p.id.clone()),
                receipts::status.eq(p.receipt_status.as_ref().to_string()),
                receipts::issued_at.eq(p.created_at),
            )
        })
        .collect();
    insert_chunked!(conn, receipts::table, receipt_rows)?;
    let key_rows: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                idempotency_keys::idem_key.eq(r.key.clone()),
                idempotency_keys::request_hash.eq(r.request_hash.to_vec()),
                idempotency_keys::hash_version.eq(KEYED_HASH),
                idempotency_keys::status_code.eq(201i64),
                idempotency_keys::response_body.eq(r.body.clone()),
                idempotency_keys::payment_id.eq(Some(r.payment.id.clone())),
                idempotency_keys::created_at.eq(now),
            )
        })
        .collect();
    insert_chunked!(conn, idempotency_keys::table, key_rows)?;
    let events: Vec<OwnedAuditEvent> = rows
        .iter()
        .map(|r| OwnedAuditEvent {
            actor: r.actor.clone(),
            action: "payment.capture".into(),
            subject: format!("payment:{}", r.payment.id),
            before_json: None,
            after_json: Some(r.body.clone()),
        })
        .collect();
    audit::record_all_at(conn, &events, now)
}
