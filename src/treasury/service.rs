//! Remittance use cases over the database (DESIGN §6).
//!
//! - **prepare** (finance): for a closed day, the day's payable to the treasury by revenue
//!   subject with the documents behind it (see [`super::batch`] for which day a movement belongs
//!   to). One batch per day: the database refuses a second.
//! - **approve** (a supervisor who did not prepare it): the payable is computed again and must be
//!   what was prepared; the remt.001 file is written, its SHA-256 recorded, its bytes signed
//!   with the service's Ed25519 key and stored; the batch gets the next pull position. From here
//!   on the database refuses any change to what the batch is.
//! - **pull** (treasury): approved batches in approval order; the stored bytes, never rebuilt.
//! - **acknowledge** (treasury): posts `Dr 2103.<subject> / Cr 1002.01` once.
//! - **supervision**: days whose payable is not zero after acknowledgement, or not remitted in
//!   time.
//!
//! Prepare, approve and acknowledge run as ledger-writer jobs, so they are serialised with
//! refund approvals (which refuse a payment whose day has a batch) and with each other.

use std::collections::BTreeMap;

use base64::Engine;
use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use diesel::prelude::*;
use ring::digest;
use serde::Serialize;
use serde_json::json;

use super::batch::{
    self, AckDecision, AckError, AckState, BatchError, BatchSubject, DayPayable, DocumentRef,
    Finding, Parties, PayableMovement,
};
use super::remt::{self, RemtError};
use crate::audit::{self, AuditEvent};
use crate::auth::Principal;
use crate::config::Config;
use crate::db::schema::{
    account_day_totals, business_days, ledger_entries, ledger_postings, payments, receipts,
    remittance_documents, remittance_subjects, remittances,
};
use crate::db::{DbConn, DbError};
use crate::keys::ServiceKeys;
use crate::ledger::writer::{Batch, LedgerWriter, PostError, WriteError};
use crate::ledger::{AccountRole, Chart, EntryKind, NewEntry, Posting, Side};
use crate::money::format_minor;

/// Why a remittance step was refused.
#[derive(Debug, thiserror::Error)]
pub enum RemitError {
    /// No such batch (or not one the caller may see).
    #[error("no remittance '{0}'")]
    NotFound(String),
    /// The day is not closed, so its payable may still change.
    #[error("{0} is not closed: close the day before remitting it")]
    DayNotClosed(NaiveDate),
    /// The day already has a batch.
    #[error("{date} is already remitted by batch {id} ({status})")]
    AlreadyRemitted {
        /// The day.
        date: NaiveDate,
        /// Its batch.
        id: String,
        /// The batch's status.
        status: String,
    },
    /// The day's payable cannot become a batch.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// The approver prepared the batch.
    #[error("the person who prepared a remittance cannot approve it")]
    SamePerson,
    /// What the ledger owes for the day is no longer what was prepared.
    #[error("the day's payable no longer matches the prepared batch: {0}")]
    Stale(String),
    /// The acknowledgement is refused.
    #[error(transparent)]
    Ack(#[from] AckError),
    /// The file could not be written (a configured name or account is unusable).
    #[error("the remittance file could not be written: {0}")]
    File(#[from] RemtError),
    /// Posting or storage failed.
    #[error(transparent)]
    Post(#[from] PostError),
}

impl From<DbError> for RemitError {
    fn from(e: DbError) -> Self {
        RemitError::Post(PostError::Storage(e))
    }
}

impl From<diesel::result::Error> for RemitError {
    fn from(e: diesel::result::Error) -> Self {
        RemitError::Post(PostError::Storage(DbError::Query(e)))
    }
}

/// What the file needs from configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Payer and payee.
    pub parties: Parties,
    /// The centre's receipt series (part of the message id).
    pub receipt_series: String,
    /// Days within which a day's payable must be acknowledged.
    pub limit_days: i64,
}

impl Settings {
    /// From the service configuration.
    pub fn from_config(config: &Config) -> Settings {
        Settings {
            parties: Parties {
                centre_name: config.centre_name.clone(),
                collection_account: config.collection_account.clone(),
                treasury_name: config.treasury_name.clone(),
                treasury_account: config.treasury_account.clone(),
            },
            receipt_series: config.receipt_series.clone(),
            limit_days: config.remit_limit_days,
        }
    }
}

/// One subject of a batch as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SubjectView {
    /// Revenue subject code.
    pub revenue_subject: String,
    /// Its name.
    pub name: String,
    /// The payable sub-account.
    pub account: String,
    /// Amount remitted for it.
    pub amount: String,
    /// How many documents (receipts, entries) make it up.
    pub documents: i64,
}

/// A batch as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Remittance {
    /// `rem_YYYYMMDD`.
    pub id: String,
    /// The day remitted.
    #[schema(value_type = String, example = "2026-11-24")]
    pub business_date: NaiveDate,
    /// remt.001 message id.
    pub message_id: String,
    /// Total remitted.
    pub amount: String,
    /// Currency.
    pub currency: String,
    /// `prepared`, `approved` or `acknowledged`.
    pub status: String,
    /// By revenue subject.
    pub subjects: Vec<SubjectView>,
    /// When prepared (UTC).
    #[schema(value_type = String)]
    pub prepared_at: NaiveDateTime,
    /// Who prepared it.
    pub prepared_by: String,
    /// When approved (UTC).
    #[schema(value_type = Option<String>)]
    pub approved_at: Option<NaiveDateTime>,
    /// Who approved it.
    pub approved_by: Option<String>,
    /// Position in the treasury's pull order: what `after` takes.
    pub cursor: Option<String>,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: Option<String>,
    /// Base64 Ed25519 signature of the file bytes.
    pub signature: Option<String>,
    /// When the treasury acknowledged it (UTC).
    #[schema(value_type = Option<String>)]
    pub acknowledged_at: Option<NaiveDateTime>,
    /// The treasury's reference.
    pub treasury_reference: Option<String>,
    /// The remittance entry posted on acknowledgement.
    pub entry_seq: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = remittances)]
struct Row {
    id: String,
    business_date: NaiveDate,
    message_id: String,
    currency: String,
    amount_minor: i64,
    status: String,
    prepared_at: NaiveDateTime,
    prepared_by: String,
    approved_at: Option<NaiveDateTime>,
    approved_by: Option<String>,
    pull_seq: Option<i64>,
    file_sha256: Option<Vec<u8>>,
    signature: Option<Vec<u8>>,
    acknowledged_at: Option<NaiveDateTime>,
    treasury_reference: Option<String>,
    ack_entry_seq: Option<i64>,
}

fn load_row(conn: &mut DbConn, id: &str) -> Result<Option<Row>, DbError> {
    Ok(remittances::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?)
}

fn subjects_of(conn: &mut DbConn, id: &str) -> Result<Vec<SubjectView>, DbError> {
    let rows: Vec<(String, String, String, i64)> = remittance_subjects::table
        .filter(remittance_subjects::remittance_id.eq(id))
        .order(remittance_subjects::account_code)
        .select((
            remittance_subjects::revenue_subject,
            remittance_subjects::name,
            remittance_subjects::account_code,
            remittance_subjects::amount_minor,
        ))
        .load(conn)?;
    let counts: Vec<(String, i64)> = remittance_documents::table
        .filter(remittance_documents::remittance_id.eq(id))
        .group_by(remittance_documents::revenue_subject)
        .select((
            remittance_documents::revenue_subject,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    let counts: BTreeMap<String, i64> = counts.into_iter().collect();
    Ok(rows
        .into_iter()
        .map(|(revenue_subject, name, account, amount)| SubjectView {
            documents: counts.get(&revenue_subject).copied().unwrap_or(0),
            revenue_subject,
            name,
            account,
            amount: format_minor(amount),
        })
        .collect())
}

fn view(conn: &mut DbConn, row: Row) -> Result<Remittance, DbError> {
    let subjects = subjects_of(conn, &row.id)?;
    Ok(Remittance {
        subjects,
        amount: format_minor(row.amount_minor),
        cursor: row.pull_seq.map(|s| s.to_string()),
        sha256: row.file_sha256.map(hex::encode),
        signature: row
            .signature
            .map(|s| base64::engine::general_purpose::STANDARD.encode(s)),
        id: row.id,
        business_date: row.business_date,
        message_id: row.message_id,
        currency: row.currency,
        status: row.status,
        prepared_at: row.prepared_at,
        prepared_by: row.prepared_by,
        approved_at: row.approved_at,
        approved_by: row.approved_by,
        acknowledged_at: row.acknowledged_at,
        treasury_reference: row.treasury_reference,
        entry_seq: row.ack_entry_seq,
    })
}

/// A batch by id.
pub fn get(conn: &mut DbConn, id: &str) -> Result<Option<Remittance>, DbError> {
    load_row(conn, id)?.map(|r| view(conn, r)).transpose()
}

/// The batch of `date`, if it has one (whatever its status): id and status. Its payments can
/// then no longer be refunded against the payable; a refund is a treasury refund request (退库).
pub fn batch_of_day(
    conn: &mut DbConn,
    date: NaiveDate,
) -> Result<Option<(String, String)>, DbError> {
    Ok(remittances::table
        .filter(remittances::business_date.eq(date))
        .select((remittances::id, remittances::status))
        .first(conn)
        .optional()?)
}

/// Batches for staff, newest day first; `after` is the last date of the previous page.
pub fn list(
    conn: &mut DbConn,
    after: Option<NaiveDate>,
    limit: i64,
) -> Result<(Vec<Remittance>, Option<String>), DbError> {
    let mut q = remittances::table
        .select(Row::as_select())
        .order(remittances::business_date.desc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(remittances::business_date.lt(after));
    }
    let rows: Vec<Row> = q.load(conn)?;
    page(conn, rows, limit, |r| r.business_date.to_string())
}

/// Approved (and acknowledged) batches in approval order, after pull position `after`.
pub fn list_for_treasury(
    conn: &mut DbConn,
    after: i64,
    limit: i64,
) -> Result<(Vec<Remittance>, Option<String>), DbError> {
    let rows: Vec<Row> = remittances::table
        .filter(remittances::pull_seq.gt(after))
        .order(remittances::pull_seq)
        .limit(limit + 1)
        .select(Row::as_select())
        .load(conn)?;
    page(conn, rows, limit, |r| {
        r.pull_seq.map(|s| s.to_string()).unwrap_or_default()
    })
}

fn page(
    conn: &mut DbConn,
    mut rows: Vec<Row>,
    limit: i64,
    cursor: impl Fn(&Row) -> String,
) -> Result<(Vec<Remittance>, Option<String>), DbError> {
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next = if more { rows.last().map(cursor) } else { None };
    let items = rows
        .into_iter()
        .map(|r| view(conn, r))
        .collect::<Result<_, _>>()?;
    Ok((items, next))
}

/// The signed file of an approved batch.
#[derive(Debug, Clone)]
pub struct SignedFile {
    /// The remt.001 bytes, exactly as approved.
    pub bytes: Vec<u8>,
    /// Their SHA-256.
    pub sha256: Vec<u8>,
    /// Ed25519 signature of the bytes.
    pub signature: Vec<u8>,
}

/// The file of an approved batch; `None` if there is no such batch or it is not approved.
pub fn file(conn: &mut DbConn, id: &str) -> Result<Option<SignedFile>, DbError> {
    type FileRow = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);
    let row: Option<FileRow> = remittances::table
        .find(id)
        .filter(remittances::status.ne("prepared"))
        .select((
            remittances::file_bytes,
            remittances::file_sha256,
            remittances::signature,
        ))
        .first(conn)
        .optional()?;
    Ok(match row {
        Some((Some(bytes), Some(sha256), Some(signature))) => Some(SignedFile {
            bytes,
            sha256,
            signature,
        }),
        _ => None,
    })
}

fn payable_accounts(chart: &Chart) -> Vec<String> {
    chart
        .accounts()
        .filter(|a| a.role == AccountRole::TreasuryPayable && a.postable)
        .map(|a| a.code.clone())
        .collect()
}

fn side_of(text: &str) -> Side {
    if text == "debit" {
        Side::Debit
    } else {
        Side::Credit
    }
}

/// Every movement on the treasury payable that belongs to `date` (see [`super::batch`]),
/// remittance entries aside.
pub fn day_movements(
    conn: &mut DbConn,
    chart: &Chart,
    date: NaiveDate,
) -> Result<Vec<PayableMovement>, DbError> {
    let payable = payable_accounts(chart);
    // Movements of the day's payments, whenever they were posted (captures, voids, refunds).
    let of_payments: Vec<(String, String, i64, String, String, i64)> = ledger_postings::table
        .inner_join(ledger_entries::table)
        .inner_join(payments::table.on(ledger_entries::reference.eq(payments::id.nullable())))
        .inner_join(receipts::table.on(receipts::payment_id.eq(payments::id)))
        .filter(payments::business_date.eq(date))
        .filter(ledger_postings::account_code.eq_any(&payable))
        .select((
            payments::id,
            receipts::series_code,
            receipts::number,
            ledger_postings::account_code,
            ledger_postings::side,
            ledger_postings::amount_minor,
        ))
        .load(conn)?;
    // Entries dated that day that belong to no payment and are not remittances.
    let others: Vec<(i64, Option<i64>, String, String, i64)> = ledger_postings::table
        .inner_join(ledger_entries::table)
        .left_join(payments::table.on(ledger_entries::reference.eq(payments::id.nullable())))
        .filter(ledger_entries::business_date.eq(date))
        .filter(ledger_entries::kind.ne(EntryKind::Remittance.as_str()))
        .filter(payments::id.nullable().is_null())
        .filter(ledger_postings::account_code.eq_any(&payable))
        .select((
            ledger_entries::seq,
            ledger_entries::reverses_seq,
            ledger_postings::account_code,
            ledger_postings::side,
            ledger_postings::amount_minor,
        ))
        .load(conn)?;
    let mut out = Vec::with_capacity(of_payments.len() + others.len());
    for (payment_id, series, number, account, side, amount_minor) in of_payments {
        out.push(PayableMovement {
            account,
            document: DocumentRef::Receipt {
                number: format!("{series}/{number:010}"),
                payment_id,
            },
            side: side_of(&side),
            amount_minor,
        });
    }
    for (seq, reverses, account, side, amount_minor) in others {
        out.push(PayableMovement {
            account,
            document: DocumentRef::Entry {
                seq: reverses.unwrap_or(seq),
            },
            side: side_of(&side),
            amount_minor,
        });
    }
    Ok(out)
}

fn day_is_closed(conn: &mut DbConn, date: NaiveDate) -> Result<bool, DbError> {
    let status: Option<String> = business_days::table
        .find(date)
        .select(business_days::status)
        .first(conn)
        .optional()?;
    Ok(status.as_deref() == Some("closed"))
}

/// The stored subjects and documents (receipts, entries) of a batch, in the shape
/// [`batch::breakdown`] returns.
pub fn stored_subjects(conn: &mut DbConn, id: &str) -> Result<Vec<BatchSubject>, DbError> {
    let subjects: Vec<(String, String, String, i64)> = remittance_subjects::table
        .filter(remittance_subjects::remittance_id.eq(id))
        .order(remittance_subjects::account_code)
        .select((
            remittance_subjects::revenue_subject,
            remittance_subjects::account_code,
            remittance_subjects::name,
            remittance_subjects::amount_minor,
        ))
        .load(conn)?;
    let docs: Vec<(String, String, String, Option<String>, i64)> = remittance_documents::table
        .filter(remittance_documents::remittance_id.eq(id))
        .select((
            remittance_documents::revenue_subject,
            remittance_documents::document,
            remittance_documents::kind,
            remittance_documents::payment_id,
            remittance_documents::amount_minor,
        ))
        .load(conn)?;
    let mut by_subject: BTreeMap<String, Vec<batch::BatchDocument>> = BTreeMap::new();
    for (subject, document, kind, payment_id, amount_minor) in docs {
        by_subject
            .entry(subject)
            .or_default()
            .push(batch::BatchDocument {
                document,
                kind: if kind == "entry" { "entry" } else { "receipt" },
                payment_id,
                amount_minor,
            });
    }
    Ok(subjects
        .into_iter()
        .map(|(revenue_subject, account_code, name, amount_minor)| {
            let mut documents = by_subject.remove(&revenue_subject).unwrap_or_default();
            // Receipts by number, then entries by sequence (`ENTRY-9` before `ENTRY-10`).
            documents.sort_by(|a, b| {
                (a.kind != "receipt", a.document.len(), &a.document).cmp(&(
                    b.kind != "receipt",
                    b.document.len(),
                    &b.document,
                ))
            });
            BatchSubject {
                revenue_subject,
                account_code,
                name,
                amount_minor,
                documents,
            }
        })
        .collect())
}

/// Prepares the batch of a closed day.
pub async fn prepare(
    writer: &LedgerWriter,
    settings: Settings,
    date: NaiveDate,
    actor: String,
) -> Result<Remittance, WriteError<RemitError>> {
    writer
        .submit(move |b: &mut Batch<'_>| -> Result<Remittance, RemitError> {
            let chart = b.chart().clone();
            let now = b.now();
            let conn = b.conn()?;
            if !day_is_closed(conn, date)? {
                return Err(RemitError::DayNotClosed(date));
            }
            if let Some((id, status)) = batch_of_day(conn, date)? {
                return Err(RemitError::AlreadyRemitted { date, id, status });
            }
            let movements = day_movements(conn, &chart, date)?;
            let subjects = batch::breakdown(date, &movements, &chart)?;
            let total = subjects
                .iter()
                .try_fold(0i64, |acc, s| acc.checked_add(s.amount_minor))
                .ok_or_else(|| BatchError::Overflow(date.to_string()))?;
            let id = batch::batch_id(date);
            let currency = chart
                .account_with_role(AccountRole::CollectionBank)
                .map_or_else(|| "CNY".to_string(), |a| a.currency.clone());
            diesel::insert_into(remittances::table)
                .values((
                    remittances::id.eq(&id),
                    remittances::business_date.eq(date),
                    remittances::message_id.eq(batch::message_id(&settings.receipt_series, date)),
                    remittances::currency.eq(&currency),
                    remittances::amount_minor.eq(total),
                    remittances::status.eq("prepared"),
                    remittances::prepared_at.eq(now),
                    remittances::prepared_by.eq(&actor),
                ))
                .execute(conn)?;
            for s in &subjects {
                diesel::insert_into(remittance_subjects::table)
                    .values((
                        remittance_subjects::remittance_id.eq(&id),
                        remittance_subjects::revenue_subject.eq(&s.revenue_subject),
                        remittance_subjects::account_code.eq(&s.account_code),
                        remittance_subjects::name.eq(&s.name),
                        remittance_subjects::amount_minor.eq(s.amount_minor),
                    ))
                    .execute(conn)?;
                let rows: Vec<_> = s
                    .documents
                    .iter()
                    .map(|d| {
                        (
                            remittance_documents::remittance_id.eq(id.clone()),
                            remittance_documents::revenue_subject.eq(s.revenue_subject.clone()),
                            remittance_documents::document.eq(d.document.clone()),
                            remittance_documents::kind.eq(d.kind),
                            remittance_documents::payment_id.eq(d.payment_id.clone()),
                            remittance_documents::amount_minor.eq(d.amount_minor),
                        )
                    })
                    .collect();
                crate::insert_chunked!(conn, remittance_documents::table, rows)?;
            }
            let out = get(conn, &id)?.ok_or_else(|| RemitError::NotFound(id.clone()))?;
            audit::record_at(
                conn,
                AuditEvent {
                    actor: &actor,
                    action: "remittance.prepare",
                    subject: &format!("remittance:{id}"),
                    before: None,
                    after: serde_json::to_value(&out).ok(),
                },
                now,
            )?;
            Ok(out)
        })
        .await
}

/// Approves a prepared batch: fixes, hashes, signs and stores its file. Approving an approved
/// batch answers it unchanged.
pub async fn approve(
    writer: &LedgerWriter,
    keys: std::sync::Arc<ServiceKeys>,
    settings: Settings,
    id: String,
    by: Principal,
) -> Result<Remittance, WriteError<RemitError>> {
    writer
        .submit(move |b: &mut Batch<'_>| -> Result<Remittance, RemitError> {
            let chart = b.chart().clone();
            let now = b.now();
            let conn = b.conn()?;
            let row = load_row(conn, &id)?.ok_or_else(|| RemitError::NotFound(id.clone()))?;
            if row.status != "prepared" {
                return Ok(view(conn, row)?);
            }
            let preparer = row.prepared_by.split_once(':').map_or("", |(_, n)| n);
            if preparer == by.name {
                return Err(RemitError::SamePerson);
            }
            let stored = stored_subjects(conn, &id)?;
            let movements = day_movements(conn, &chart, row.business_date)?;
            let current = batch::breakdown(row.business_date, &movements, &chart)?;
            if !batch::same_batch(&current, &stored) {
                let now_total: i64 = current.iter().map(|s| s.amount_minor).sum();
                return Err(RemitError::Stale(format!(
                    "prepared {} in {} subject(s), the ledger now owes {} in {}",
                    format_minor(row.amount_minor),
                    stored.len(),
                    format_minor(now_total),
                    current.len()
                )));
            }
            let created_at = Utc
                .from_utc_datetime(&now)
                .with_timezone(&crate::clock::SHANGHAI);
            let doc = batch::document(
                &row.message_id,
                row.business_date,
                &row.currency,
                &stored,
                &settings.parties,
                created_at,
            );
            let bytes = remt::write_remt(&doc)?;
            let sha256 = digest::digest(&digest::SHA256, &bytes).as_ref().to_vec();
            let signature = keys.sign(&bytes);
            let last: Option<i64> = remittances::table
                .select(diesel::dsl::max(remittances::pull_seq))
                .first(conn)?;
            let actor = by.actor();
            diesel::update(remittances::table.find(&id))
                .set((
                    remittances::status.eq("approved"),
                    remittances::approved_at.eq(Some(now)),
                    remittances::approved_by.eq(Some(&actor)),
                    remittances::pull_seq.eq(Some(last.unwrap_or(0) + 1)),
                    remittances::file_bytes.eq(Some(&bytes)),
                    remittances::file_sha256.eq(Some(&sha256)),
                    remittances::signature.eq(Some(&signature)),
                ))
                .execute(conn)?;
            let out = get(conn, &id)?.ok_or_else(|| RemitError::NotFound(id.clone()))?;
            audit::record_at(
                conn,
                AuditEvent {
                    actor: &actor,
                    action: "remittance.approve",
                    subject: &format!("remittance:{id}"),
                    before: Some(json!({"status": "prepared"})),
                    after: serde_json::to_value(&out).ok(),
                },
                now,
            )?;
            Ok(out)
        })
        .await
}

/// The outcome of an acknowledgement.
#[derive(Debug, Clone)]
pub struct Acknowledged {
    /// The batch after it.
    pub remittance: Remittance,
    /// False when the same acknowledgement had been made before.
    pub posted: bool,
}

/// The treasury acknowledges an approved batch: posts the remittance entry, dated `today`.
pub async fn acknowledge(
    writer: &LedgerWriter,
    id: String,
    by: Principal,
    treasury_reference: String,
    amount_minor: i64,
    today: NaiveDate,
) -> Result<Acknowledged, WriteError<RemitError>> {
    writer
        .submit(
            move |b: &mut Batch<'_>| -> Result<Acknowledged, RemitError> {
                let conn = b.conn()?;
                // Only approved batches exist for the treasury.
                let row = load_row(conn, &id)?
                    .filter(|r| r.status != "prepared")
                    .ok_or_else(|| RemitError::NotFound(id.clone()))?;
                let state = match (row.status.as_str(), &row.treasury_reference) {
                    ("acknowledged", Some(r)) => AckState::Acknowledged(r.clone()),
                    ("approved", _) => AckState::Approved,
                    _ => AckState::Prepared,
                };
                let reference = treasury_reference.trim().to_string();
                match batch::decide_ack(&state, row.amount_minor, &reference, amount_minor)? {
                    AckDecision::AlreadyDone => {
                        return Ok(Acknowledged {
                            remittance: view(conn, row)?,
                            posted: false,
                        })
                    }
                    AckDecision::Post => {}
                }
                let subjects = stored_subjects(conn, &id)?;
                let bank = b
                    .chart()
                    .account_with_role(AccountRole::CollectionBank)
                    .map(|a| a.code.clone())
                    .ok_or_else(|| {
                        RemitError::Post(PostError::Rule(crate::ledger::LedgerError::InvalidEntry(
                            "the chart has no collection bank account".into(),
                        )))
                    })?;
                let mut postings: Vec<Posting> = subjects
                    .iter()
                    .map(|s| Posting::debit(&s.account_code, s.amount_minor))
                    .collect();
                postings.push(Posting::credit(&bank, row.amount_minor));
                let actor = by.actor();
                let posted = b.post(NewEntry {
                    business_date: today,
                    kind: EntryKind::Remittance,
                    memo: format!(
                        "remittance {} of {} to the treasury, treasury reference {reference}",
                        row.message_id, row.business_date
                    ),
                    reference: Some(id.clone()),
                    reverses: None,
                    actor: actor.clone(),
                    postings,
                })?;
                let now = b.now();
                let conn = b.conn()?;
                diesel::update(remittances::table.find(&id))
                    .set((
                        remittances::status.eq("acknowledged"),
                        remittances::acknowledged_at.eq(Some(now)),
                        remittances::acknowledged_by.eq(Some(&actor)),
                        remittances::treasury_reference.eq(Some(&reference)),
                        remittances::ack_entry_seq.eq(Some(posted.seq)),
                    ))
                    .execute(conn)?;
                let remittance = view(
                    conn,
                    Row {
                        status: "acknowledged".into(),
                        acknowledged_at: Some(now),
                        treasury_reference: Some(reference.clone()),
                        ack_entry_seq: Some(posted.seq),
                        ..row
                    },
                )?;
                audit::record_at(
                    conn,
                    AuditEvent {
                        actor: &actor,
                        action: "remittance.acknowledge",
                        subject: &format!("remittance:{id}"),
                        before: Some(json!({"status": "approved"})),
                        after: Some(json!({
                            "status": "acknowledged",
                            "treasury_reference": reference,
                            "amount": format_minor(amount_minor),
                            "entry_seq": posted.seq,
                        })),
                    },
                    now,
                )?;
                Ok(Acknowledged {
                    remittance,
                    posted: true,
                })
            },
        )
        .await
}

/// The supervision report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SupervisionReport {
    /// The business date the check ran for.
    #[schema(value_type = String)]
    pub as_of: NaiveDate,
    /// First day checked.
    #[schema(value_type = String)]
    pub from: NaiveDate,
    /// Last day checked.
    #[schema(value_type = String)]
    pub to: NaiveDate,
    /// Days within which a day's payable must be acknowledged.
    pub limit_days: i64,
    /// Days with anything payable, or a batch, in the range.
    pub days_checked: usize,
    /// What is wrong; empty when all is well.
    pub findings: Vec<Finding>,
}

/// Each day's payable in `[from, to]`, attributed as [`super::batch`] says, with its batch.
pub fn day_payables(
    conn: &mut DbConn,
    chart: &Chart,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DayPayable>, DbError> {
    let payable = payable_accounts(chart);
    let mut balance: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    // Everything dated in the range, by the day it is dated (O(days × subjects)).
    let totals: Vec<(NaiveDate, i64, i64)> = account_day_totals::table
        .filter(account_day_totals::business_date.between(from, to))
        .filter(account_day_totals::account_code.eq_any(&payable))
        .select((
            account_day_totals::business_date,
            account_day_totals::debit_minor,
            account_day_totals::credit_minor,
        ))
        .load(conn)?;
    for (date, debit, credit) in totals {
        *balance.entry(date).or_default() += credit - debit;
    }
    // Then move what is dated one day but belongs to another: refunds of earlier payments…
    let moved: Vec<(NaiveDate, NaiveDate, String, i64)> = ledger_postings::table
        .inner_join(ledger_entries::table)
        .inner_join(payments::table.on(ledger_entries::reference.eq(payments::id.nullable())))
        .filter(payments::business_date.ne(ledger_entries::business_date))
        .filter(ledger_entries::business_date.ge(from))
        .filter(payments::business_date.le(to))
        .filter(ledger_postings::account_code.eq_any(&payable))
        .select((
            ledger_entries::business_date,
            payments::business_date,
            ledger_postings::side,
            ledger_postings::amount_minor,
        ))
        .load(conn)?;
    // …and remittance entries, which belong to the day their batch remits.
    let remitted: Vec<(NaiveDate, NaiveDate, String, i64)> = ledger_postings::table
        .inner_join(ledger_entries::table)
        .inner_join(remittances::table.on(ledger_entries::reference.eq(remittances::id.nullable())))
        .filter(ledger_entries::kind.eq(EntryKind::Remittance.as_str()))
        .filter(ledger_entries::business_date.ge(from))
        .filter(remittances::business_date.le(to))
        .filter(ledger_postings::account_code.eq_any(&payable))
        .select((
            ledger_entries::business_date,
            remittances::business_date,
            ledger_postings::side,
            ledger_postings::amount_minor,
        ))
        .load(conn)?;
    let in_range = |d: NaiveDate| d >= from && d <= to;
    for (dated, belongs, side, amount) in moved.into_iter().chain(remitted) {
        let delta = if side == "debit" { -amount } else { amount };
        if in_range(dated) {
            *balance.entry(dated).or_default() -= delta;
        }
        if in_range(belongs) {
            *balance.entry(belongs).or_default() += delta;
        }
    }
    let batches: Vec<(NaiveDate, String, String)> = remittances::table
        .filter(remittances::business_date.between(from, to))
        .select((
            remittances::business_date,
            remittances::id,
            remittances::status,
        ))
        .load(conn)?;
    let mut batches: BTreeMap<NaiveDate, (String, String)> =
        batches.into_iter().map(|(d, id, s)| (d, (id, s))).collect();
    let mut dates: Vec<NaiveDate> = balance.keys().chain(batches.keys()).copied().collect();
    dates.sort();
    dates.dedup();
    Ok(dates
        .into_iter()
        .map(|date| DayPayable {
            date,
            balance_minor: balance.get(&date).copied().unwrap_or(0),
            remittance: batches.remove(&date),
        })
        .collect())
}

/// Runs the supervision check over `[from, to]` as of `today`.
pub fn supervise(
    conn: &mut DbConn,
    chart: &Chart,
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
    limit_days: i64,
) -> Result<SupervisionReport, DbError> {
    let days = day_payables(conn, chart, from, to)?;
    Ok(SupervisionReport {
        as_of: today,
        from,
        to,
        limit_days,
        days_checked: days.len(),
        findings: batch::supervise(&days, today, limit_days),
    })
}
