//! The steps of [`super::import`], one function each: read the file into the open transaction
//! in chunks, write the file row with its audit entry, and settle a race between two imports of
//! the same bytes. The transaction itself (all or nothing) stays in `import`.
//!
//! Depends on: `db`, `audit`, and the readers of this module.

use std::io::BufRead;

use chrono::{NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{
    find_by_sha, to_i64, ImportError, ImportRequest, Imported, Pending, Sums, Totals, FLUSH_ROWS,
};
use crate::audit::{self, AuditEvent};
use crate::bankfiles::{stored, FileFacts, Produces, ReadError, Reader, Record};
use crate::db::schema::settlement_files;
use crate::db::{DbConn, DbError};

/// Reads `input` with `reader`, writing its records as file `id` in chunks of [`FLUSH_ROWS`]
/// as they come (each chunk by `flush`); `progress` hears the count every 8192 records and once
/// at the end.
pub(super) fn read_records(
    conn: &mut DbConn,
    reader: &Reader,
    req: &ImportRequest<'_>,
    id: &str,
    input: &mut dyn BufRead,
    progress: &mut dyn FnMut(u64),
    flush: &mut dyn FnMut(&mut DbConn, &mut Pending) -> Result<(), diesel::result::Error>,
) -> Result<(FileFacts, Sums), ImportError> {
    let mut pending = Pending::default();
    let mut sums = Sums::default();
    let mut db_failure: Option<diesel::result::Error> = None;
    let mut read = 0u64;
    let facts = {
        let mut sink = |record: Record| -> Result<(), ReadError> {
            sums.add(&record);
            pending.push(id, record);
            read += 1;
            if read.is_multiple_of(8192) {
                progress(read);
            }
            if pending.len() >= FLUSH_ROWS {
                if let Err(e) = flush(conn, &mut pending) {
                    db_failure = Some(e);
                    return Err(ReadError::Stopped);
                }
            }
            Ok(())
        };
        reader.read(req.file_name, input, &mut sink)
    };
    let facts = facts.map_err(|e| refused(e, db_failure))?;
    flush(conn, &mut pending)?;
    progress(read);
    sums.lines_new = pending.lines_new;
    sums.lines_known = pending.lines_known;
    Ok((facts, sums))
}

/// A reader's refusal as the import's error; `Stopped` is the sink stopping on `db_failure`.
fn refused(e: ReadError, db_failure: Option<diesel::result::Error>) -> ImportError {
    match e {
        ReadError::Corrupt {
            line,
            byte,
            message,
        } => ImportError::Corrupt {
            line,
            byte,
            message,
        },
        ReadError::Io(e) => ImportError::Io(e),
        ReadError::Stopped => match db_failure {
            Some(e) => e.into(),
            None => ImportError::Db(DbError::Connect("import stopped".into())),
        },
    }
}

/// Writes the row of file `id` for what was read, and its audit entry: the import as the API
/// returns it.
pub(super) fn record_file(
    conn: &mut DbConn,
    req: &ImportRequest<'_>,
    id: &str,
    produces: Produces,
    facts: FileFacts,
    sums: &Sums,
) -> Result<Imported, ImportError> {
    let totals = sums.totals(produces);
    // a statement's records are the lines it stored: those another file had are not its own
    let records = match produces {
        Produces::Settlement => sums.count,
        Produces::Statement => sums.lines_new,
    };
    let statement = produces == Produces::Statement;
    let merchant = facts
        .values
        .get("merchant")
        .cloned()
        .or(sums.merchant.clone());
    let settlement_date = facts
        .values
        .get("settlement_date")
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .or(sums.settlement_date);
    let now = Utc::now().naive_utc();
    let totals_json = stored::to_json("settlement_files.totals", &totals)?;
    let facts_json = stored::to_json("settlement_files.facts", &facts.values)?;
    diesel::insert_into(settlement_files::table)
        .values((
            settlement_files::id.eq(id),
            settlement_files::spec.eq(req.spec),
            settlement_files::sha256.eq(req.sha256),
            settlement_files::produces.eq(produces.as_ref()),
            settlement_files::file_name.eq(req.file_name),
            settlement_files::size_bytes.eq(to_i64(req.size_bytes)),
            settlement_files::records.eq(to_i64(records)),
            settlement_files::totals.eq(&totals_json),
            settlement_files::facts.eq(&facts_json),
            settlement_files::merchant.eq(produces
                .eq(&Produces::Settlement)
                .then_some(merchant)
                .flatten()),
            settlement_files::settlement_date.eq(settlement_date),
            settlement_files::imported_at.eq(now),
            settlement_files::imported_by.eq(req.actor),
            settlement_files::lines_already_imported.eq(to_i64(sums.lines_known)),
        ))
        .execute(conn)?;
    audit_import(conn, req, id, records, sums.lines_known, &totals, now)?;
    Ok(Imported {
        id: id.to_string(),
        spec: req.spec.to_string(),
        sha256: req.sha256.to_string(),
        produces,
        file_name: req.file_name.map(str::to_string),
        records,
        totals,
        facts: facts.values,
        imported_at: now.and_utc(),
        imported_by: req.actor.to_string(),
        duplicate: false,
        lines_new: statement.then_some(sums.lines_new),
        lines_already_imported: statement.then_some(sums.lines_known),
        withdrawn: false,
        withdrawn_at: None,
        withdrawn_by: None,
        reason: None,
    })
}

/// The import's audit entry: the file's spec, hash, name, record count and totals.
fn audit_import(
    conn: &mut DbConn,
    req: &ImportRequest<'_>,
    id: &str,
    records: u64,
    lines_already_imported: u64,
    totals: &Totals,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    audit::record_at(
        conn,
        AuditEvent {
            actor: req.actor,
            action: "settlement_file.import",
            subject: &format!("settlement_file:{id}"),
            before: None,
            after: Some(serde_json::json!({
                "spec": req.spec,
                "sha256": req.sha256,
                "file_name": req.file_name,
                "records": records,
                "lines_already_imported": lines_already_imported,
                "totals": totals,
            })),
        },
        now,
    )
}

/// The transaction's `outcome`, except that two imports of the same bytes at once — the second
/// meets the unique SHA-256 — give back the one that committed.
pub(super) fn settle_race(
    conn: &mut DbConn,
    sha256: &str,
    outcome: Result<Imported, ImportError>,
) -> Result<Imported, ImportError> {
    match outcome {
        Err(ImportError::Db(DbError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )))) => match find_by_sha(conn, sha256)? {
            Some(existing) => Ok(existing),
            None => Err(ImportError::Db(DbError::Connect(
                "a concurrent import of the same file did not commit".into(),
            ))),
        },
        other => other,
    }
}
