//! Batches as staff and the treasury read them: one by id, pages of them, and an approved
//! batch's signed file — the stored bytes, never rebuilt.

use std::collections::BTreeMap;

use base64::Engine;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::corrupt;
use crate::db::schema::{remittance_documents, remittance_subjects, remittances};
use crate::db::{DbConn, DbError};
use crate::ledger::days::RemittanceStatus;
use crate::money::format_minor;

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
    /// `prepared`, `approved`, `acknowledged`, `cancelled` or `rejected`.
    #[schema(value_type = String)]
    pub status: RemittanceStatus,
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
    /// When it was cancelled or rejected (UTC).
    #[schema(value_type = Option<String>)]
    pub withdrawn_at: Option<NaiveDateTime>,
    /// Who cancelled or rejected it.
    pub withdrawn_by: Option<String>,
    /// Why.
    pub withdrawn_reason: Option<String>,
}

impl Remittance {
    /// Is the batch prepared and awaiting approval (the only status approval moves on)?
    pub fn awaits_approval(&self) -> bool {
        self.status.can_become(RemittanceStatus::Approved)
    }
}

/// A `remittances` row as the views read it (the file bytes aside).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = remittances)]
pub(super) struct Row {
    pub(super) id: String,
    pub(super) business_date: NaiveDate,
    pub(super) message_id: String,
    pub(super) currency: String,
    pub(super) amount_minor: i64,
    #[diesel(deserialize_as = String)]
    pub(super) status: RemittanceStatus,
    pub(super) prepared_at: NaiveDateTime,
    pub(super) prepared_by: String,
    pub(super) approved_at: Option<NaiveDateTime>,
    pub(super) approved_by: Option<String>,
    pub(super) pull_seq: Option<i64>,
    pub(super) file_sha256: Option<Vec<u8>>,
    pub(super) signature: Option<Vec<u8>>,
    pub(super) acknowledged_at: Option<NaiveDateTime>,
    pub(super) treasury_reference: Option<String>,
    pub(super) ack_entry_seq: Option<i64>,
    /// The person who prepared it (none for the command line): not the approver.
    pub(super) prepared_by_person: Option<String>,
    pub(super) withdrawn_at: Option<NaiveDateTime>,
    pub(super) withdrawn_by: Option<String>,
    pub(super) withdrawn_reason: Option<String>,
}

pub(super) fn load_row(conn: &mut DbConn, id: &str) -> Result<Option<Row>, DbError> {
    Ok(remittances::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?)
}

/// A `remittance_subjects` row: what a batch remits for one revenue subject.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = remittance_subjects)]
pub(super) struct SubjectRow {
    pub(super) revenue_subject: String,
    pub(super) name: String,
    pub(super) account_code: String,
    pub(super) amount_minor: i64,
}

/// The stored subjects of a batch, by account.
pub(super) fn subject_rows(conn: &mut DbConn, id: &str) -> Result<Vec<SubjectRow>, DbError> {
    Ok(remittance_subjects::table
        .filter(remittance_subjects::remittance_id.eq(id))
        .order(remittance_subjects::account_code)
        .select(SubjectRow::as_select())
        .load(conn)?)
}

/// The subjects of the batches `ids`, each with how many documents make it up, by batch: two
/// queries whatever the number of batches (a page lists them all at once).
fn subjects_of(
    conn: &mut DbConn,
    ids: &[&str],
) -> Result<BTreeMap<String, Vec<SubjectView>>, DbError> {
    let rows: Vec<(String, SubjectRow)> = remittance_subjects::table
        .filter(remittance_subjects::remittance_id.eq_any(ids))
        .order((
            remittance_subjects::remittance_id,
            remittance_subjects::account_code,
        ))
        .select((remittance_subjects::remittance_id, SubjectRow::as_select()))
        .load(conn)?;
    let counts: Vec<(String, String, i64)> = remittance_documents::table
        .filter(remittance_documents::remittance_id.eq_any(ids))
        .group_by((
            remittance_documents::remittance_id,
            remittance_documents::revenue_subject,
        ))
        .select((
            remittance_documents::remittance_id,
            remittance_documents::revenue_subject,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    let counts: BTreeMap<(String, String), i64> = counts
        .into_iter()
        .map(|(id, subject, n)| ((id, subject), n))
        .collect();
    let mut out: BTreeMap<String, Vec<SubjectView>> = BTreeMap::new();
    for (id, s) in rows {
        // A subject without document rows has none to count (the group has no row).
        let documents = counts
            .get(&(id.clone(), s.revenue_subject.clone()))
            .copied()
            .unwrap_or(0);
        out.entry(id).or_default().push(SubjectView {
            documents,
            revenue_subject: s.revenue_subject,
            name: s.name,
            account: s.account_code,
            amount: format_minor(s.amount_minor),
        });
    }
    Ok(out)
}

/// A batch as the API shows it.
pub(super) fn view(conn: &mut DbConn, row: Row) -> Result<Remittance, DbError> {
    let subjects = subjects_of(conn, &[row.id.as_str()])?
        .remove(&row.id)
        .unwrap_or_default();
    Ok(view_with(row, subjects))
}

/// Batches as the API shows them, in the order of `rows`, their subjects read for all at once.
fn views(conn: &mut DbConn, rows: Vec<Row>) -> Result<Vec<Remittance>, DbError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut subjects = subjects_of(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let subjects = subjects.remove(&row.id).unwrap_or_default();
            view_with(row, subjects)
        })
        .collect())
}

fn view_with(row: Row, subjects: Vec<SubjectView>) -> Remittance {
    Remittance {
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
        withdrawn_at: row.withdrawn_at,
        withdrawn_by: row.withdrawn_by,
        withdrawn_reason: row.withdrawn_reason,
    }
}

/// A batch by id.
pub fn get(conn: &mut DbConn, id: &str) -> Result<Option<Remittance>, DbError> {
    load_row(conn, id)?.map(|r| view(conn, r)).transpose()
}

/// Batches for staff, newest day first (a day's batches newest first); `after` is the last
/// date of the previous page.
pub fn list(
    conn: &mut DbConn,
    after: Option<NaiveDate>,
    limit: i64,
) -> Result<(Vec<Remittance>, Option<String>), DbError> {
    let mut q = remittances::table
        .select(Row::as_select())
        .order((
            remittances::business_date.desc(),
            remittances::prepared_at.desc(),
        ))
        .limit(limit + 1)
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(remittances::business_date.lt(after));
    }
    let rows: Vec<Row> = q.load(conn)?;
    page(conn, rows, limit, |r| Ok(r.business_date.to_string()))
}

/// A batch prepared and waiting for a supervisor's approval, as the supervisor's queue shows
/// it (no subjects: the batch's own page has them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitingApproval {
    /// `rem_YYYYMMDD`.
    pub id: String,
    /// The day remitted.
    pub business_date: NaiveDate,
    /// Total, in fen.
    pub amount_minor: i64,
    /// Who prepared it (`role:name`).
    pub prepared_by: String,
    /// When (UTC).
    pub prepared_at: NaiveDateTime,
    /// The person who prepared it: not the approver.
    pub prepared_by_person: Option<String>,
}

/// The prepared batches, oldest preparation first, at most `limit`: one query.
pub fn awaiting_approval(conn: &mut DbConn, limit: i64) -> Result<Vec<AwaitingApproval>, DbError> {
    let rows: Vec<(
        String,
        NaiveDate,
        i64,
        String,
        NaiveDateTime,
        Option<String>,
    )> = remittances::table
        .filter(remittances::status.eq(RemittanceStatus::Prepared.as_ref()))
        .order((remittances::prepared_at, remittances::id))
        .limit(limit)
        .select((
            remittances::id,
            remittances::business_date,
            remittances::amount_minor,
            remittances::prepared_by,
            remittances::prepared_at,
            remittances::prepared_by_person,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, business_date, amount_minor, prepared_by, prepared_at, prepared_by_person)| {
                AwaitingApproval {
                    id,
                    business_date,
                    amount_minor,
                    prepared_by,
                    prepared_at,
                    prepared_by_person,
                }
            },
        )
        .collect())
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
        r.pull_seq
            .map(|s| s.to_string())
            .ok_or_else(|| corrupt(format!("approved remittance {} has no pull position", r.id)))
    })
}

fn page(
    conn: &mut DbConn,
    mut rows: Vec<Row>,
    limit: i64,
    cursor: impl Fn(&Row) -> Result<String, DbError>,
) -> Result<(Vec<Remittance>, Option<String>), DbError> {
    let more = rows.len() as i64 > limit;
    // The limit is a page size checked by the caller (1..=max); a negative one shows nothing.
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next = if more {
        rows.last().map(cursor).transpose()?
    } else {
        None
    };
    Ok((views(conn, rows)?, next))
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
    /// The id of the key that made it.
    pub kid: Option<String>,
}

/// The file of an approved batch; `None` if there is no such batch or it is not approved.
pub fn file(conn: &mut DbConn, id: &str) -> Result<Option<SignedFile>, DbError> {
    type FileRow = (
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Option<String>,
    );
    let row: Option<FileRow> = remittances::table
        .find(id)
        // Approved once (a rejected batch keeps its file); never a prepared or cancelled one.
        .filter(remittances::approved_at.is_not_null())
        .select((
            remittances::file_bytes,
            remittances::file_sha256,
            remittances::signature,
            remittances::signature_kid,
        ))
        .first(conn)
        .optional()?;
    Ok(match row {
        None => None,
        Some((Some(bytes), Some(sha256), Some(signature), kid)) => Some(SignedFile {
            bytes,
            sha256,
            signature,
            kid: crate::auth::signing_keys::resolve(conn, kid)?,
        }),
        Some(_) => {
            return Err(corrupt(format!(
                "approved remittance {id} has no complete signed file"
            )))
        }
    })
}
