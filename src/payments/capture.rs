//! Taking a payment (DESIGN §3): [`take`] is the whole use case from the counter's key and
//! body to the answer — a retry is answered from the stored answer before anything else is
//! checked; otherwise the request is read, priced against the catalogue on the business date,
//! the payer's identity number hashed and masked, and [`capture`] runs as one ledger-writer job:
//! idempotency record, gap-free receipt number, capture entry, payment rows and audit, all in
//! one transaction.
//!
//! Nothing is read before the job on the common path: the catalogue comes from memory
//! ([`catalogue::cache`]), the retry check is the job's (one lookup per batch, `rows`). The
//! reads that remain before it — a catalogue miss, the stored answer of a request that failed
//! its checks — run on the blocking pool (`actix_rt::task::spawn_blocking`, what `web::block`
//! runs on), so diesel never blocks an async worker.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;

use super::intake::{self, IntakeError, PaymentRequest, PricedLine};
use super::stored::LineConcession;
use super::{card, view, PaymentStatus, ReceiptStatus, StoredLine, StoredPayment};
use crate::catalogue::{self, departments};
use crate::db::schema::idempotency_keys;

mod rows;
use crate::db::{DbConn, DbError, Pool};
use crate::keys::ServiceKeys;
use crate::ledger::templates::{self, Header};
use crate::ledger::writer::{Batch, LedgerWriter, PostError, WriteError};
use crate::ledger::{LedgerError, NewEntry};
use rows::{CaptureRow, CaptureRows};

/// Why a capture did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The idempotency key was used before with another request.
    #[error("this Idempotency-Key was used for a different request")]
    KeyReused,
    /// The request is not a payment the catalogue allows.
    #[error(transparent)]
    Intake(#[from] IntakeError),
    /// A ledger rule refused the capture entry (a closed day, most likely).
    #[error(transparent)]
    Post(#[from] PostError),
    /// The configured receipt series does not exist or is used up.
    #[error("receipt series '{0}' is missing or exhausted")]
    ReceiptSeries(String),
    /// A read before the job did not finish (its blocking task was cancelled or panicked).
    #[error("the capture was interrupted: {0}")]
    Interrupted(String),
    /// The token the capture was taken with was revoked before its batch began.
    #[error("the token was revoked")]
    TokenRevoked,
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
    /// Keyed hash of the canonical request ([`intake::request_hash`]).
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

/// A stored answer: (request hash, status, body).
type StoredAnswer = (Vec<u8>, i64, String);

/// The stored answer for an idempotency key, if any: (request hash, status, body).
pub fn stored_answer(conn: &mut DbConn, key: &str) -> Result<Option<StoredAnswer>, DbError> {
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

/// The answer a retry gets: the stored one for the same request, `reused` for another. A
/// stored status that is no HTTP status (100–999) is a storage failure, not a 200. Payments
/// and refund requests answer their retries with it.
pub fn replay<E: From<DbError>>(
    (hash, status, body): StoredAnswer,
    request_hash: &[u8; 32],
    reused: E,
) -> Result<Answer, E> {
    if hash == request_hash {
        let status = u16::try_from(status)
            .ok()
            .filter(|s| (100..=999).contains(s))
            .ok_or_else(|| {
                DbError::Query(diesel::result::Error::DeserializationError(
                    format!("stored answer status {status} is not an HTTP status").into(),
                ))
            })?;
        Ok(Answer { status, body })
    } else {
        Err(reused)
    }
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

/// Where payments are taken: what [`take`] reads, writes and hashes with.
#[derive(Clone, Copy)]
pub struct Counter<'a> {
    /// Pool for the reads before the job.
    pub pool: &'a Pool,
    /// The ledger writer the capture job runs in.
    pub writer: &'a LedgerWriter,
    /// Keys for the payer's identity-number hash.
    pub keys: &'a ServiceKeys,
    /// Receipt series (票据代码).
    pub series: &'a str,
}

/// Runs `f` with a pooled connection on the blocking pool.
async fn read<T, F>(pool: &Pool, f: F) -> Result<T, CaptureError>
where
    F: FnOnce(&mut DbConn) -> Result<T, DbError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_rt::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(|e| DbError::Pool(e.to_string()))?;
        f(&mut conn)
    })
    .await
    .map_err(|e| CaptureError::Interrupted(e.to_string()))?
    .map_err(CaptureError::from)
}

/// Takes a payment: the counter's Idempotency-Key (already checked for shape) and the request
/// body as sent, by `actor` on `business_date`. The same key and body answer what the first
/// attempt answered; the same key with another body is [`CaptureError::KeyReused`].
pub async fn take(
    counter: Counter<'_>,
    key: String,
    body: &[u8],
    actor: String,
    business_date: NaiveDate,
) -> Result<Answer, WriteError<CaptureError>> {
    take_by(counter, None, key, body, actor, business_date).await
}

/// [`take`] with the token `token_id` (see [`capture_by`]).
///
/// A retry is answered from the stored answer before anything else is checked, so it gets
/// exactly what the first attempt got even if, say, the fee item has since ended: the capture
/// job looks the key up first (one lookup per batch), and a request that fails its checks
/// before the job looks its key up on its own before answering the failure. The catalogue is
/// read from memory ([`catalogue::cache`]).
pub async fn take_by(
    counter: Counter<'_>,
    token_id: Option<String>,
    key: String,
    body: &[u8],
    actor: String,
    business_date: NaiveDate,
) -> Result<Answer, WriteError<CaptureError>> {
    let rejected = |e: CaptureError| WriteError::Rejected(e);
    let (value, digest) = intake::read_json(body).map_err(|e| rejected(e.into()))?;
    let request_hash = counter.keys.request_hash_of_digest(&digest);
    let checked = check(counter, value, business_date).await;
    let (request, lines) = match checked {
        Ok(checked) => checked,
        Err(refusal) => {
            let lookup = key.clone();
            let stored = read(counter.pool, move |conn| stored_answer(conn, &lookup))
                .await
                .map_err(rejected)?;
            return match stored {
                Some(stored) => {
                    replay(stored, &request_hash, CaptureError::KeyReused).map_err(rejected)
                }
                None => Err(rejected(refusal)),
            };
        }
    };
    let mut request = request;
    let (payer_id_hmac, payer_id_masked) =
        match request.payer.as_ref().and_then(|p| p.id_number.as_deref()) {
            Some(id) => (
                Some(
                    counter
                        .keys
                        .keyed_hash("payer-id", &id.to_ascii_uppercase()),
                ),
                Some(card::mask_id(id)),
            ),
            None => (None, None),
        };
    if let Some(p) = request.payer.as_mut() {
        // The clear identity number goes no further than this point.
        p.id_number = None;
    }
    capture_by(
        counter.writer,
        Capture {
            key,
            request_hash,
            request,
            lines,
            business_date,
            payer_id_hmac,
            payer_id_masked,
            actor,
            series: counter.series.to_string(),
        },
        token_id,
    )
    .await
}

/// The request read and priced on `business_date`: from the cached catalogue, or — when it
/// does not price there (a code not cached, a version not yet seen) — from the database.
async fn check(
    counter: Counter<'_>,
    value: serde_json::Value,
    business_date: NaiveDate,
) -> Result<(PaymentRequest, Vec<PricedLine>), CaptureError> {
    let request = intake::parse_value(value)?;
    let db = counter.writer.instance();
    check_place(counter, db, &request).await?;
    if let Some(versions) = cached_versions(db, &request) {
        if let Ok(lines) = intake::price(&request, &versions, business_date) {
            return Ok((request, lines));
        }
    }
    let for_pricing = request.clone();
    let generation = catalogue::cache::generation();
    let versions = read(counter.pool, move |conn| versions_for(conn, &for_pricing)).await?;
    for (code, v) in &versions {
        catalogue::cache::remember(db, code, v.clone(), generation);
    }
    let lines = intake::price(&request, &versions, business_date)?;
    Ok((request, lines))
}

/// The request's department and window are known and the window is the department's: checked
/// against the cached directory, and — when it does not know them (added a moment ago, perhaps
/// on another instance) — against the database.
async fn check_place(
    counter: Counter<'_>,
    db: u64,
    request: &PaymentRequest,
) -> Result<(), CaptureError> {
    let (department, window) = (&request.department, &request.window);
    if let Some(directory) = departments::cache::cached(db) {
        if directory.check(department, window).is_ok() {
            return Ok(());
        }
    }
    let generation = departments::cache::generation();
    let directory = std::sync::Arc::new(read(counter.pool, departments::load).await?);
    departments::cache::remember(db, std::sync::Arc::clone(&directory), generation);
    directory
        .check(department, window)
        .map_err(|e| CaptureError::Intake(e.into()))
}

/// Every version of each code the request names, if all are cached.
fn cached_versions(
    db: u64,
    request: &PaymentRequest,
) -> Option<HashMap<String, Vec<catalogue::FeeItem>>> {
    let mut out = HashMap::new();
    for line in &request.lines {
        if !out.contains_key(&line.fee_code) {
            let versions = catalogue::cache::cached(db, &line.fee_code)?;
            out.insert(line.fee_code.clone(), versions.as_ref().clone());
        }
    }
    Some(out)
}

/// The capture entry ([`templates::capture`]): Dr in transit for the total, Cr 2103.<subject>
/// for each line that charges something — an exempt line posts nothing, and a reduced line
/// only what it charges: the amount forgone never enters the ledger.
fn capture_entry(
    batch: &Batch<'_>,
    c: &Capture,
    payment_id: &str,
    reference: &str,
) -> Result<NewEntry, CaptureError> {
    let lines: Vec<(&str, i64)> = c
        .lines
        .iter()
        .filter(|l| l.amount_minor > 0)
        .map(|l| (l.fee.revenue_subject.as_str(), l.amount_minor))
        .collect();
    let header = Header {
        business_date: c.business_date,
        reference: Some(payment_id.to_string()),
        actor: c.actor.clone(),
    };
    templates::capture(
        batch.chart(),
        header,
        reference,
        c.request.amount_minor,
        &lines,
    )
    .map_err(|e| CaptureError::Post(PostError::Rule(LedgerError::from(e))))
}

/// The payment as the capture stores it.
fn stored_payment(
    c: &Capture,
    id: String,
    reference: String,
    seq: i64,
    number: i64,
    now: chrono::NaiveDateTime,
) -> StoredPayment {
    StoredPayment {
        id,
        reference,
        channel: c.request.channel,
        department: c.request.department.clone(),
        window: c.request.window.clone(),
        payer_name: c.request.payer.as_ref().map(|p| p.name.clone()),
        payer_id_masked: c.payer_id_masked.clone(),
        amount_minor: c.request.amount_minor,
        business_date: c.business_date,
        status: PaymentStatus::Captured,
        entry_seq: seq,
        receipt_series: c.series.clone(),
        receipt_number: number,
        receipt_status: ReceiptStatus::Issued,
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
                concession: l.concession.as_ref().map(|c| LineConcession {
                    code: c.code.clone(),
                    name: c.name.clone(),
                    kind: c.kind,
                    legal_basis: c.legal_basis.clone(),
                    forgone_minor: l.forgone_minor,
                }),
            })
            .collect(),
        card: c.request.card.clone(),
        created_at: now,
    }
}

/// Captures a payment through the ledger writer: all of it commits, or none of it.
pub async fn capture(
    writer: &LedgerWriter,
    c: Capture,
) -> Result<Answer, WriteError<CaptureError>> {
    capture_by(writer, c, None).await
}

/// What a capture job does first: answer a retry, or go on with the receipt number to take.
enum Step {
    Replay(StoredAnswer),
    Go(i64),
}

/// [`capture`], taken with the token `token_id`: refused as [`CaptureError::TokenRevoked`] if
/// that token was revoked before the batch began, on any instance.
///
/// The job checks and posts without touching the database but for the batch's own lookups
/// (one per batch: stored answers of its keys, revoked tokens, the series' next number) and
/// defers its rows to the batch's multi-row inserts ([`rows`]).
pub async fn capture_by(
    writer: &LedgerWriter,
    c: Capture,
    token_id: Option<String>,
) -> Result<Answer, WriteError<CaptureError>> {
    let mut tags = vec![(rows::IDEM, c.key.clone())];
    if let Some(id) = &token_id {
        tags.push((rows::TOKEN, id.clone()));
    }
    writer
        .submit_tagged(tags, move |batch| {
            let now = batch.now();
            // The chain-head lock serialises batches across instances, so the batch's lookup
            // sees every committed key, and the store every key of earlier jobs in this batch;
            // the primary key on idempotency_keys is the backstop.
            let step = batch.deferred(
                |reads| CaptureRows::load(reads, now),
                |rows, reads| -> Result<Step, CaptureError> {
                    if token_id.as_deref().is_some_and(|id| rows.is_revoked(id)) {
                        return Err(CaptureError::TokenRevoked);
                    }
                    if let Some(stored) = rows.answer(reads, &c.key)? {
                        return Ok(Step::Replay(stored));
                    }
                    Ok(Step::Go(rows.next_number(reads, &c.series)?))
                },
            )??;
            let number = match step {
                Step::Replay(stored) => {
                    return replay(stored, &c.request_hash, CaptureError::KeyReused)
                }
                Step::Go(number) => number,
            };
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
            let stored = stored_payment(&c, payment_id, reference, posted.seq, number, now);
            let body = view(&stored)?.to_string();
            let row = CaptureRow {
                payment: stored,
                payer_id_hmac: c.payer_id_hmac,
                actor: c.actor,
                key: c.key,
                request_hash: c.request_hash,
                body: body.clone(),
            };
            batch.deferred(
                |reads| CaptureRows::load(reads, now),
                |rows, _| rows.push(row),
            )?;
            Ok(Answer { status: 201, body })
        })
        .await
}
