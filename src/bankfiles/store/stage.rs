//! A settlement file on SQLite, imported without holding the write lock for long: its records
//! are written in short transactions (one chunk of [`FLUSH_ROWS`] each, taking turns with the
//! counter's ledger writer: `db::turns`), and published by one short final commit that writes
//! the file row and its audit entry. SQLite has one writer: an import in one transaction held
//! the lock for seconds (a 1M-line file ~5 s, half the writer's busy timeout), and every payment
//! at the counter waited that long.
//!
//! All or nothing still holds, for readers and after a crash:
//! - settlement records are only ever read through their file's row (runs pick files, then
//!   read their records), and that row is written last, so a staged record is seen by nobody;
//! - an import under way has a row in `settlement_file_stages`, touched with every chunk; a
//!   failed import removes its records at once, and one whose process died is recognised by a
//!   stale touch and removed by the next import or the next start ([`clean_stale`]);
//! - the records table stays append-only: its trigger (migration 000026) lets only the records
//!   of a staged import without a file row be deleted.
//!
//! While staging, the import's connection does not check foreign keys (the file row the
//! records name comes last); the publishing commit has them on again. The same bytes imported
//! twice at once: the second waits for the first and answers it, `duplicate`, as before.
//!
//! Depends on: `db`, and the steps of this module.

use std::io::BufRead;
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::{standing_or_next_id, steps, ImportError, ImportRequest, Imported, Pending};
use crate::bankfiles::Reader;
use crate::db::schema::{settlement_file_stages, settlement_records};
use crate::db::turns::{self, WriteTurns};
use crate::db::{write_txn, DbConn, DbError};

/// A stage not touched for this long belongs to an import whose process died.
const STALE_AFTER: chrono::Duration = chrono::Duration::seconds(30);

/// Rest between two staging transactions, for a writer in another process (this process's
/// ledger writer takes its turn by [`WriteTurns`], not by chance): long enough for one whose
/// busy handler polls at 1, 2, 5, 10 ms … to take the lock now and then, short enough to cost
/// an import little.
const PAUSE: Duration = Duration::from_millis(3);

/// Records deleted per transaction when a stage is removed.
const DELETE_STEP: i64 = 20_000;

/// How long the second import of the same bytes waits for the first.
const WAIT_FOR_TWIN: Duration = Duration::from_secs(120);

/// Imports a settlement file on SQLite, staged (see the module's documentation).
pub(super) fn import(
    conn: &mut DbConn,
    reader: &Reader,
    req: &ImportRequest<'_>,
    input: &mut dyn BufRead,
    progress: &mut dyn FnMut(u64),
) -> Result<Imported, ImportError> {
    clean_stale(conn)?;
    let waiting_since = Instant::now();
    let id = loop {
        let next = match standing_or_next_id(conn, req.sha256)? {
            Ok(existing) => return Ok(existing),
            Err(next) => next,
        };
        if begin(conn, &next, req.sha256)? {
            // an import of these bytes may have published between the look and the stage (it
            // let go of its stage in the same commit): if so, that one stands
            match standing_or_next_id(conn, req.sha256)? {
                Ok(existing) => {
                    remove(conn, &next)?;
                    return Ok(existing);
                }
                Err(_) => break next,
            }
        }
        // the same bytes are being imported: answer that import once it is published
        if waiting_since.elapsed() > WAIT_FOR_TWIN {
            return Err(ImportError::Db(DbError::Connect(format!(
                "an import of the same file ({next}) is still under way"
            ))));
        }
        std::thread::sleep(Duration::from_millis(50));
        clean_stale(conn)?;
    };
    let outcome = stage_and_publish(conn, reader, req, &id, input, progress);
    let restored = foreign_keys(conn, true);
    match (outcome, restored) {
        (Ok(imported), Ok(())) => Ok(imported),
        (Ok(_), Err(e)) => Err(e.into()),
        (Err(e), _) => {
            // best effort: what remains is removed as stale by the next import or start
            if let Err(cleanup) = remove(conn, &id) {
                tracing::warn!(file_id = %id, error = %cleanup, "staged import not removed");
            }
            Err(e)
        }
    }
}

fn stage_and_publish(
    conn: &mut DbConn,
    reader: &Reader,
    req: &ImportRequest<'_>,
    id: &str,
    input: &mut dyn BufRead,
    progress: &mut dyn FnMut(u64),
) -> Result<Imported, ImportError> {
    foreign_keys(conn, false)?;
    let turns = turns::of(conn)?;
    let mut first = true;
    let mut flush = |conn: &mut DbConn, pending: &mut Pending| {
        if pending.len() == 0 {
            return Ok(());
        }
        let _turn = turns.as_deref().map(WriteTurns::bulk);
        write_txn::<_, diesel::result::Error, _>(conn, |conn| {
            let now = Utc::now().naive_utc();
            let stage = diesel::update(settlement_file_stages::table.find(id));
            if first {
                // this chunk's rows get ids above every id there is now
                let max: Option<i64> = settlement_records::table
                    .select(diesel::dsl::max(settlement_records::id))
                    .first(conn)?;
                stage
                    .set((
                        settlement_file_stages::first_row.eq(max.unwrap_or(0) + 1),
                        settlement_file_stages::touched_at.eq(now),
                    ))
                    .execute(conn)?;
            } else {
                stage
                    .set(settlement_file_stages::touched_at.eq(now))
                    .execute(conn)?;
            }
            pending.flush(conn, id)
        })?;
        first = false;
        std::thread::sleep(PAUSE);
        Ok(())
    };
    let (facts, sums) = steps::read_records(conn, reader, req, id, input, progress, &mut flush)?;
    foreign_keys(conn, true)?;
    write_txn::<_, ImportError, _>(conn, |conn| {
        let imported = steps::record_file(conn, req, id, reader.produces(), facts, &sums)?;
        diesel::delete(settlement_file_stages::table.find(id)).execute(conn)?;
        Ok(imported)
    })
}

/// Opens the stage of import `id`; false when another import has it (the same bytes).
fn begin(conn: &mut DbConn, id: &str, sha256: &str) -> Result<bool, DbError> {
    let now = Utc::now().naive_utc();
    let inserted = write_txn::<_, diesel::result::Error, _>(conn, |conn| {
        let row = (
            settlement_file_stages::file_id.eq(id),
            settlement_file_stages::sha256.eq(sha256),
            settlement_file_stages::started_at.eq(now),
            settlement_file_stages::touched_at.eq(now),
        );
        crate::on_backend!(conn, c => diesel::insert_into(settlement_file_stages::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c))
    })?;
    Ok(inserted == 1)
}

/// SQLite's foreign-key checks on this connection (a no-op inside a transaction, so called
/// between them).
fn foreign_keys(conn: &mut DbConn, on: bool) -> Result<(), diesel::result::Error> {
    if let DbConn::Sqlite(c) = conn {
        c.batch_execute(if on {
            "PRAGMA foreign_keys = ON"
        } else {
            "PRAGMA foreign_keys = OFF"
        })?;
    }
    Ok(())
}

/// Removes the stages of imports whose process died (not touched for [`STALE_AFTER`]) and
/// their records; returns how many. Called by every staged import and at the service's start.
pub fn clean_stale(conn: &mut DbConn) -> Result<usize, DbError> {
    let before = Utc::now().naive_utc() - STALE_AFTER;
    let stale: Vec<String> = settlement_file_stages::table
        .filter(settlement_file_stages::touched_at.lt(before))
        .select(settlement_file_stages::file_id)
        .load(conn)?;
    for id in &stale {
        tracing::warn!(file_id = %id, "removing the records of an abandoned import");
        remove(conn, id)?;
    }
    Ok(stale.len())
}

/// Removes the records of staged import `id`, a step at a time, then its stage.
fn remove(conn: &mut DbConn, id: &str) -> Result<(), DbError> {
    let first: Option<Option<i64>> = settlement_file_stages::table
        .find(id)
        .select(settlement_file_stages::first_row)
        .first(conn)
        .optional()?;
    let Some(first) = first else {
        return Ok(());
    };
    if let Some(mut from) = first {
        let last: Option<i64> = settlement_records::table
            .select(diesel::dsl::max(settlement_records::id))
            .first(conn)?;
        let last = last.unwrap_or(0);
        let turns = turns::of(conn)?;
        while from <= last {
            let to = from + DELETE_STEP;
            let _turn = turns.as_deref().map(WriteTurns::bulk);
            write_txn::<_, diesel::result::Error, _>(conn, |conn| {
                diesel::delete(
                    settlement_records::table
                        .filter(settlement_records::id.ge(from))
                        .filter(settlement_records::id.lt(to))
                        .filter(settlement_records::file_id.eq(id)),
                )
                .execute(conn)
            })?;
            from = to;
            std::thread::sleep(PAUSE);
        }
    }
    write_txn::<_, diesel::result::Error, _>(conn, |conn| {
        diesel::delete(settlement_file_stages::table.find(id)).execute(conn)
    })?;
    Ok(())
}
