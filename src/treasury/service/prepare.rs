//! Prepare (finance): for a closed day, the day's payable to the treasury by revenue subject
//! with the documents behind it (see [`crate::treasury::batch`] for which day a movement
//! belongs to). One live batch per day: the database refuses a second; a day whose batch was
//! cancelled or rejected is prepared again under the next ids.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::read::{get, subject_rows, Remittance};
use super::{corrupt, RemitError, Settings};
use crate::audit::{self, AuditEvent};
use crate::db::schema::{
    ledger_entries, ledger_postings, payments, receipts, remittance_documents, remittance_subjects,
    remittances,
};
use crate::db::{DbConn, DbError};
use crate::ledger::days::{self, RemittanceStatus};
use crate::ledger::writer::{Batch, LedgerWriter, WriteError};
use crate::ledger::{AccountRole, Chart, DayState, EntryKind, Side};
use crate::treasury::batch::{
    self, BatchError, BatchSubject, DocumentKind, DocumentRef, PayableMovement,
};

pub(super) fn payable_accounts(chart: &Chart) -> Vec<String> {
    chart
        .accounts()
        .filter(|a| a.role == AccountRole::TreasuryPayable && a.postable)
        .map(|a| a.code.clone())
        .collect()
}

/// The stored side of a posting.
pub(super) fn side_of(text: &str) -> Result<Side, DbError> {
    text.parse()
        .map_err(|e| corrupt(format!("posting side '{text}': {e}")))
}

/// A payable posting of one of the day's payments, with its receipt.
#[derive(Queryable)]
struct PaymentMovementRow {
    payment_id: String,
    series_code: String,
    number: i64,
    account_code: String,
    side: String,
    amount_minor: i64,
}

/// A payable posting of an entry that belongs to no payment.
#[derive(Queryable)]
struct EntryMovementRow {
    seq: i64,
    reverses_seq: Option<i64>,
    account_code: String,
    side: String,
    amount_minor: i64,
}

/// A `remittance_documents` row: a document behind a batch subject.
#[derive(Queryable, Selectable)]
#[diesel(table_name = remittance_documents)]
struct DocumentRow {
    revenue_subject: String,
    document: String,
    kind: String,
    payment_id: Option<String>,
    amount_minor: i64,
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
    let of_payments: Vec<PaymentMovementRow> = ledger_postings::table
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
    let others: Vec<EntryMovementRow> = ledger_postings::table
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
    for m in of_payments {
        out.push(PayableMovement {
            side: side_of(&m.side)?,
            account: m.account_code,
            document: DocumentRef::Receipt {
                number: format!("{}/{:010}", m.series_code, m.number),
                payment_id: m.payment_id,
            },
            amount_minor: m.amount_minor,
        });
    }
    for m in others {
        out.push(PayableMovement {
            side: side_of(&m.side)?,
            account: m.account_code,
            // A reversal counts under the entry it reverses; any other entry under itself.
            document: DocumentRef::Entry {
                seq: m.reverses_seq.unwrap_or(m.seq),
            },
            amount_minor: m.amount_minor,
        });
    }
    Ok(out)
}

/// The stored subjects and documents (receipts, entries) of a batch, in the shape
/// [`batch::breakdown`] returns.
pub fn stored_subjects(conn: &mut DbConn, id: &str) -> Result<Vec<BatchSubject>, DbError> {
    let subjects = subject_rows(conn, id)?;
    let docs: Vec<DocumentRow> = remittance_documents::table
        .filter(remittance_documents::remittance_id.eq(id))
        .select(DocumentRow::as_select())
        .load(conn)?;
    let mut by_subject: BTreeMap<String, Vec<batch::BatchDocument>> = BTreeMap::new();
    for d in docs {
        let kind = DocumentKind::try_from(d.kind)?;
        by_subject
            .entry(d.revenue_subject)
            .or_default()
            .push(batch::BatchDocument {
                document: d.document,
                kind,
                payment_id: d.payment_id,
                amount_minor: d.amount_minor,
            });
    }
    Ok(subjects
        .into_iter()
        .map(|s| {
            // A subject without document rows simply has none to list.
            let mut documents = by_subject.remove(&s.revenue_subject).unwrap_or_default();
            // Receipts by number, then entries by sequence (`ENTRY-9` before `ENTRY-10`).
            documents.sort_by(|a, b| {
                (a.kind, a.document.len(), &a.document).cmp(&(
                    b.kind,
                    b.document.len(),
                    &b.document,
                ))
            });
            BatchSubject {
                revenue_subject: s.revenue_subject,
                account_code: s.account_code,
                name: s.name,
                amount_minor: s.amount_minor,
                documents,
            }
        })
        .collect())
}

/// The batch's subjects and the documents behind each.
fn insert_subjects(
    conn: &mut DbConn,
    id: &str,
    subjects: &[BatchSubject],
) -> Result<(), RemitError> {
    for s in subjects {
        diesel::insert_into(remittance_subjects::table)
            .values((
                remittance_subjects::remittance_id.eq(id),
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
                    remittance_documents::remittance_id.eq(id.to_string()),
                    remittance_documents::revenue_subject.eq(s.revenue_subject.clone()),
                    remittance_documents::document.eq(d.document.clone()),
                    remittance_documents::kind.eq(<&'static str>::from(d.kind)),
                    remittance_documents::payment_id.eq(d.payment_id.clone()),
                    remittance_documents::amount_minor.eq(d.amount_minor),
                )
            })
            .collect();
        crate::insert_chunked!(conn, remittance_documents::table, rows)?;
    }
    Ok(())
}

/// The day's next batch, written: the day must be closed and without a live batch; the
/// payable is broken down by subject and document, and the batch gets the day's next ids
/// ([`batch::nth_ids`]). Not audited: the caller records why it was prepared.
pub fn prepare_day(
    conn: &mut DbConn,
    chart: &Chart,
    now: NaiveDateTime,
    date: NaiveDate,
    message_base: &str,
    prepared_by: &str,
    prepared_by_person: Option<&str>,
) -> Result<Remittance, RemitError> {
    match days::state(conn, date)? {
        DayState::Open => return Err(RemitError::DayNotClosed(date)),
        DayState::RemittanceLocked { remittance, status } => {
            return Err(RemitError::AlreadyRemitted {
                date,
                id: remittance,
                status,
            })
        }
        DayState::Closed | DayState::Sealed => {}
    }
    let movements = day_movements(conn, chart, date)?;
    let subjects = batch::breakdown(date, &movements, chart)?;
    let total = subjects
        .iter()
        .try_fold(0i64, |acc, s| acc.checked_add(s.amount_minor))
        .ok_or_else(|| BatchError::Overflow(date.to_string()))?;
    let earlier: i64 = remittances::table
        .filter(remittances::business_date.eq(date))
        .count()
        .get_result(conn)?;
    let (id, message_id) = batch::nth_ids(date, message_base, earlier);
    let currency = chart
        .account_with_role(AccountRole::CollectionBank)
        .map_or_else(|| "CNY".to_string(), |a| a.currency.clone());
    diesel::insert_into(remittances::table)
        .values((
            remittances::id.eq(&id),
            remittances::business_date.eq(date),
            remittances::message_id.eq(message_id),
            remittances::currency.eq(&currency),
            remittances::amount_minor.eq(total),
            remittances::status.eq(RemittanceStatus::Prepared.as_ref()),
            remittances::prepared_at.eq(now),
            remittances::prepared_by.eq(prepared_by),
            remittances::prepared_by_person.eq(prepared_by_person),
        ))
        .execute(conn)?;
    insert_subjects(conn, &id, &subjects)?;
    get(conn, &id)?.ok_or_else(|| RemitError::NotFound(id.clone()))
}

/// Prepares the batch of a closed day: `actor` as the audit names them, `person` the person
/// behind them (who may then not approve it; `None` for the command line).
pub async fn prepare(
    writer: &LedgerWriter,
    settings: Settings,
    date: NaiveDate,
    actor: String,
    person: Option<String>,
) -> Result<Remittance, WriteError<RemitError>> {
    writer
        .submit(move |b: &mut Batch<'_>| -> Result<Remittance, RemitError> {
            let chart = b.chart().clone();
            let now = b.now();
            let conn = b.conn()?;
            let base = batch::message_id(&settings.receipt_series, date);
            let out = prepare_day(conn, &chart, now, date, &base, &actor, person.as_deref())?;
            audit::record_at(
                conn,
                AuditEvent {
                    actor: &actor,
                    action: "remittance.prepare",
                    subject: &format!("remittance:{}", out.id),
                    before: None,
                    after: Some(serde_json::to_value(&out)?),
                },
                now,
            )?;
            Ok(out)
        })
        .await
}
