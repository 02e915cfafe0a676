//! Writing a chunk of rows the fastest way each backend has: `COPY … FROM STDIN` (binary) on
//! PostgreSQL — one statement per chunk, no statement text, no bind-parameter limit — and
//! multi-row INSERTs of a few fixed sizes on SQLite (prepared once per connection). The rows
//! are the same typed tuples either way, so both backends store the same values.
//!
//! Depends on: `db`.

use diesel::prelude::*;

use super::{BookingRow, SettlementRow, StatementRow};
use crate::db::schema::{bank_statements, settlement_records, statement_bookings};
use crate::db::DbConn;
use crate::{insert_bulk, insert_chunked};

/// Writes `rows` as settlement records and empties it.
pub(super) fn settlement(
    conn: &mut DbConn,
    rows: &mut Vec<SettlementRow>,
) -> Result<(), diesel::result::Error> {
    // On SQLite 256 rows × 18 columns: well under its 32,766 bound parameters; larger chunks
    // measured no faster.
    insert_bulk!(conn, settlement_records::table, std::mem::take(rows); 256, 64, 16, 4, 1)?;
    Ok(())
}

/// Writes `rows` as statement bookings and empties it.
pub(super) fn bookings(
    conn: &mut DbConn,
    rows: &mut Vec<BookingRow>,
) -> Result<(), diesel::result::Error> {
    insert_bulk!(conn, statement_bookings::table, std::mem::take(rows); 256, 64, 16, 4, 1)?;
    Ok(())
}

/// Writes `rows` as bank statements and empties it (a few per file: plain INSERTs).
pub(super) fn statements(
    conn: &mut DbConn,
    rows: &mut Vec<StatementRow>,
) -> Result<(), diesel::result::Error> {
    insert_chunked!(conn, bank_statements::table, rows)?;
    rows.clear();
    Ok(())
}
