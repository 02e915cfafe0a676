//! Import: a bank file into the database in one transaction, all or nothing.
//!
//! The file's SHA-256 is its identity (the id is derived from it), so the same bytes imported
//! again — by a second clerk, a re-run of the nightly job, or two at once — give back the first
//! import, marked `duplicate`. Records are written in chunks as the reader hands them over, in
//! the transaction that finally writes the file row; a corrupt file rolls everything back.
//!
//! Statement lines have an identity of their own ([`lines`]): a statement that overlaps one
//! imported before (or re-sends it with other bytes) stores only its new lines and says how
//! many it already had (`lines_new`, `lines_already_imported`). An import no run has used can
//! be withdrawn ([`withdraw`]): its rows stay, as evidence, but no later run or report reads
//! them, its lines may come again in another file, and the same bytes may be imported again (as
//! a new import, `sf_<hash>_<n>`).
//!
//! Depends on: `db`, `audit`, `money`, and the readers of this module.

use std::io::BufRead;

use chrono::{NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::records::Record;
use super::stored;
use super::{Produces, Registry};
use crate::db::schema::{settlement_file_withdrawals, settlement_files};
use crate::db::{DbConn, DbError};
use crate::money::format_minor;

mod bulk;
pub mod lines;
mod pending;
mod stage;
mod steps;
mod withdraw;

use pending::{BookingRow, Pending, SettlementRow, StatementRow};
pub use stage::clean_stale as clean_abandoned_imports;
pub use withdraw::{withdraw, WithdrawError, Withdrawal, MAX_REASON_CHARS};

/// Rows written per flush: large enough to amortise statements, small enough to keep memory
/// flat whatever the file's size.
const FLUSH_ROWS: usize = 2048;

/// What a file added up to, as the API shows it (amounts as decimal strings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Totals {
    /// Settlement: detail records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Settlement: Σ gross (purchases positive, voids and refunds negative).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gross: Option<String>,
    /// Settlement: Σ acquirer fee.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee: Option<String>,
    /// Settlement: Σ net, what the acquirer pays for this file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net: Option<String>,
    /// Settlement: records by kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_kind: Option<std::collections::BTreeMap<String, u64>>,
    /// Statement: statements in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statements: Option<u64>,
    /// Statement: bookings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bookings: Option<u64>,
    /// Statement: credit bookings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit_count: Option<u64>,
    /// Statement: Σ credits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits: Option<String>,
    /// Statement: debit bookings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debit_count: Option<u64>,
    /// Statement: Σ debits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debits: Option<String>,
}

/// The result of an import (or of recognising a duplicate).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Imported {
    /// Derived from the SHA-256: `sf_` and its first 24 hex digits.
    pub id: String,
    /// The spec it was read with.
    pub spec: String,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    /// `settlement` or `statement`.
    #[schema(value_type = String)]
    pub produces: Produces,
    /// The name it came with, if any.
    pub file_name: Option<String>,
    /// Records stored (details, or bookings).
    pub records: u64,
    /// What they add up to.
    pub totals: Totals,
    /// Values the file states about itself (merchant, settlement date, account, version).
    pub facts: std::collections::BTreeMap<String, String>,
    /// When it was first imported.
    pub imported_at: chrono::DateTime<Utc>,
    /// By whom.
    pub imported_by: String,
    /// True when these bytes had been imported before; nothing new was stored.
    pub duplicate: bool,
    /// Statement: lines stored by this import (lines no other file not withdrawn had).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines_new: Option<u64>,
    /// Statement: lines another import not withdrawn already had (an overlapping or re-sent
    /// statement); not stored again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines_already_imported: Option<u64>,
    /// True once finance withdrew the import: no run or report reads its records again.
    pub withdrawn: bool,
    /// When it was withdrawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn_at: Option<chrono::DateTime<Utc>>,
    /// By whom.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn_by: Option<String>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Why an import did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// No spec with that id.
    #[error("no settlement spec '{0}'; GET /v1/settlement-specs lists them")]
    UnknownSpec(String),
    /// The file is corrupt; nothing of it was stored.
    #[error("file is corrupt at line {line}{}: {message}", byte.map(|b| format!(", byte {b}")).unwrap_or_default())]
    Corrupt {
        /// Line of the first problem.
        line: u64,
        /// Byte within the line, where it applies.
        byte: Option<u64>,
        /// What is wrong.
        message: String,
    },
    /// Reading the uploaded file failed.
    #[error("reading the uploaded file: {0}")]
    Io(#[from] std::io::Error),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ImportError {
    fn from(e: diesel::result::Error) -> Self {
        ImportError::Db(DbError::from(e))
    }
}

/// The lowercase hex SHA-256 and size of a file, read as a stream (the identity an import
/// needs before it starts).
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<(String, u64)> {
    let mut reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut size = 0u64;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        digest.update(chunk);
        let n = chunk.len();
        size += n as u64;
        reader.consume(n);
    }
    Ok((hex::encode(digest.finish()), size))
}

/// The id a file with this SHA-256 gets.
pub fn file_id(sha256_hex: &str) -> String {
    format!("sf_{}", sha256_hex.get(..24).unwrap_or(sha256_hex))
}

/// The id of the import of these bytes after `earlier` imports of them (all withdrawn):
/// [`file_id`] for the first, then `_2`, `_3`, ….
pub fn file_id_after(sha256_hex: &str, earlier: u64) -> String {
    match earlier {
        0 => file_id(sha256_hex),
        n => format!("{}_{}", file_id(sha256_hex), n.saturating_add(1)),
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Running sums for [`Totals`].
#[derive(Default)]
struct Sums {
    count: u64,
    gross: i64,
    fee: i64,
    net: i64,
    by_kind: std::collections::BTreeMap<&'static str, u64>,
    statements: u64,
    credit_count: u64,
    credits: i64,
    debit_count: u64,
    debits: i64,
    merchant: Option<String>,
    settlement_date: Option<NaiveDate>,
    /// Statement lines stored (set once the file is read).
    lines_new: u64,
    /// Statement lines another file already had.
    lines_known: u64,
}

impl Sums {
    fn add(&mut self, record: &Record) {
        match record {
            Record::Settlement(s) => {
                self.count += 1;
                self.gross = self.gross.saturating_add(s.gross_minor);
                self.fee = self.fee.saturating_add(s.fee_minor);
                self.net = self.net.saturating_add(s.net_minor);
                *self.by_kind.entry(s.kind.into()).or_default() += 1;
                if self.merchant.is_none() {
                    self.merchant = Some(s.merchant.clone());
                    self.settlement_date = Some(s.settlement_date);
                }
            }
            Record::Booking(b) => match b.direction {
                super::records::Direction::Credit => {
                    self.credit_count += 1;
                    self.credits = self.credits.saturating_add(b.amount_minor);
                }
                super::records::Direction::Debit => {
                    self.debit_count += 1;
                    self.debits = self.debits.saturating_add(b.amount_minor);
                }
            },
            Record::Statement(_) => self.statements += 1,
        }
    }

    fn totals(&self, produces: Produces) -> Totals {
        match produces {
            Produces::Settlement => Totals {
                count: Some(self.count),
                gross: Some(format_minor(self.gross)),
                fee: Some(format_minor(self.fee)),
                net: Some(format_minor(self.net)),
                by_kind: Some(
                    self.by_kind
                        .iter()
                        .map(|(k, n)| ((*k).to_string(), *n))
                        .collect(),
                ),
                ..Totals::default()
            },
            Produces::Statement => Totals {
                statements: Some(self.statements),
                bookings: Some(self.credit_count + self.debit_count),
                credit_count: Some(self.credit_count),
                credits: Some(format_minor(self.credits)),
                debit_count: Some(self.debit_count),
                debits: Some(format_minor(self.debits)),
                ..Totals::default()
            },
        }
    }
}

/// An import request: the bytes are already on disk (streamed there by the caller, hashed on
/// the way), so they can be read as a stream and never held whole in memory.
pub struct ImportRequest<'a> {
    /// `?spec=`.
    pub spec: &'a str,
    /// The file's name as received, if known (some formats carry values only there).
    pub file_name: Option<&'a str>,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: &'a str,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Who imports (`finance:alice`, `cli`, `nightly`).
    pub actor: &'a str,
}

/// Finds an earlier import of the same bytes that was not withdrawn.
pub fn find_by_sha(conn: &mut DbConn, sha256: &str) -> Result<Option<Imported>, DbError> {
    let row = settlement_files::table
        .filter(settlement_files::sha256.eq(sha256))
        .filter(settlement_files::id.ne_all(withdrawn_ids()))
        .select(FileRow::as_select())
        .order(settlement_files::imported_at.desc())
        .first::<FileRow>(conn)
        .optional()?;
    row.map(|r| r.into_imported(true, None)).transpose()
}

/// The ids of the withdrawn imports, as a subquery: filter any read of imported rows with
/// `file_id.ne_all(withdrawn_ids())` so a withdrawn file is never read again.
pub fn withdrawn_ids(
) -> diesel::dsl::Select<settlement_file_withdrawals::table, settlement_file_withdrawals::file_id> {
    settlement_file_withdrawals::table.select(settlement_file_withdrawals::file_id)
}

/// The import of these bytes that stands (not withdrawn), or else the id the next import of
/// them gets — read in one statement, so two imports racing each other both pick the same id
/// and the second meets the first's primary key (see `steps::settle_race`).
fn standing_or_next_id(
    conn: &mut DbConn,
    sha256: &str,
) -> Result<Result<Imported, String>, DbError> {
    let rows: Vec<(FileRow, bool)> = settlement_files::table
        .filter(settlement_files::sha256.eq(sha256))
        .select((
            FileRow::as_select(),
            settlement_files::id.eq_any(withdrawn_ids()),
        ))
        .order(settlement_files::imported_at.desc())
        .load(conn)?;
    let earlier = rows.len() as u64;
    match rows.into_iter().find(|(_, withdrawn)| !withdrawn) {
        Some((row, _)) => row.into_imported(true, None).map(Ok),
        // every earlier import of these bytes was withdrawn: this one is the next
        None => Ok(Err(file_id_after(sha256, earlier))),
    }
}

/// One imported file (withdrawn ones too, marked so).
pub fn get(conn: &mut DbConn, id: &str) -> Result<Option<Imported>, DbError> {
    let row = settlement_files::table
        .find(id)
        .select(FileRow::as_select())
        .first::<FileRow>(conn)
        .optional()?;
    let Some(row) = row else {
        return Ok(None);
    };
    let withdrawal = withdraw::of(conn, id)?;
    row.into_imported(false, withdrawal).map(Some)
}

/// The stored imports `ids` (those that exist), in id order: two queries whatever their number.
pub fn get_many(conn: &mut DbConn, ids: &[String]) -> Result<Vec<Imported>, DbError> {
    let rows: Vec<FileRow> = settlement_files::table
        .filter(settlement_files::id.eq_any(ids))
        .select(FileRow::as_select())
        .order(settlement_files::id)
        .load(conn)?;
    let mut withdrawals = withdraw::of_many(conn, ids)?;
    rows.into_iter()
        .map(|row| {
            let withdrawal = withdrawals.remove(&row.id);
            row.into_imported(false, withdrawal)
        })
        .collect()
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = settlement_files)]
struct FileRow {
    id: String,
    spec: String,
    sha256: String,
    produces: String,
    file_name: Option<String>,
    records: i64,
    totals: String,
    facts: String,
    imported_at: NaiveDateTime,
    imported_by: String,
    lines_already_imported: i64,
}

impl FileRow {
    fn into_imported(
        self,
        duplicate: bool,
        withdrawal: Option<Withdrawal>,
    ) -> Result<Imported, DbError> {
        let produces: Produces = stored::parse("settlement_files.produces", &self.produces)?;
        let records = stored::count("settlement_files.records", self.records)?;
        let statement = produces == Produces::Statement;
        let known = stored::count(
            "settlement_files.lines_already_imported",
            self.lines_already_imported,
        )?;
        Ok(Imported {
            produces,
            records,
            lines_new: statement.then_some(records),
            lines_already_imported: statement.then_some(known),
            withdrawn: withdrawal.is_some(),
            withdrawn_at: withdrawal.as_ref().map(|w| w.withdrawn_at.and_utc()),
            withdrawn_by: withdrawal.as_ref().map(|w| w.withdrawn_by.clone()),
            reason: withdrawal.map(|w| w.reason),
            totals: stored::json("settlement_files.totals", &self.totals)?,
            facts: stored::json("settlement_files.facts", &self.facts)?,
            id: self.id,
            spec: self.spec,
            sha256: self.sha256,
            file_name: self.file_name,
            imported_at: self.imported_at.and_utc(),
            imported_by: self.imported_by,
            duplicate,
        })
    }
}

/// Imports `input` by `req.spec`, all or nothing: in one transaction, or — a settlement file on
/// SQLite — staged in short transactions and published by one short commit ([`stage`]). `progress` is called with the number of
/// records read so far, every few thousand records (for progress bars).
pub fn import(
    conn: &mut DbConn,
    registry: &Registry,
    req: &ImportRequest<'_>,
    input: &mut dyn BufRead,
    progress: &mut dyn FnMut(u64),
) -> Result<Imported, ImportError> {
    let reader = registry
        .get(req.spec)
        .ok_or_else(|| ImportError::UnknownSpec(req.spec.to_string()))?;
    if matches!(conn, DbConn::Sqlite(_)) && reader.produces() == Produces::Settlement {
        return stage::import(conn, reader, req, input, progress);
    }
    let id = match standing_or_next_id(conn, req.sha256)? {
        Ok(existing) => return Ok(existing),
        Err(next) => next,
    };
    // Records, file row and audit entry commit together or not at all.
    let outcome = crate::db::write_txn::<_, ImportError, _>(conn, |conn| {
        let mut flush = |conn: &mut DbConn, pending: &mut Pending| pending.flush(conn, &id);
        let (facts, sums) =
            steps::read_records(conn, reader, req, &id, input, progress, &mut flush)?;
        steps::record_file(conn, req, &id, reader.produces(), facts, &sums)
    });
    let imported = steps::settle_race(conn, req.sha256, outcome)?;
    if !imported.duplicate {
        // the run that follows an import reads its records at once
        let tables: &[&str] = match reader.produces() {
            Produces::Settlement => &["settlement_records"],
            Produces::Statement => &["statement_bookings", "bank_statements"],
        };
        crate::db::refresh_statistics(conn, tables)?;
    }
    Ok(imported)
}
