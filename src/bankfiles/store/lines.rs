//! Statement-line identity: what makes a collection-account booking the same line in two
//! files, so an overlapping or re-sent statement stores only what is new.
//!
//! A booking's identity is its account, booking date, direction, amount, its occurrence among
//! the identical lines of its file (1, 2, … in file order), and the bank's reference — or,
//! when the bank gives none, the narrative. The occurrence keeps two genuinely identical lines
//! of one statement apart while the same two lines in a later, overlapping statement still
//! meet them. Migration 11 computes the same text in SQL for bookings imported before it.
//!
//! The identities held by files not withdrawn are the `statement_lines` register (its primary
//! key is the identity): each flush offers its lines' identities with `INSERT … ON CONFLICT DO
//! NOTHING` in a few fixed-size chunks, and stores the bookings whose identity it got. A chunk
//! where every identity was new (the usual case) costs one statement more than before; only a
//! chunk with known lines reads back which identities are its own.
//!
//! Depends on: `db`, and the records of this module.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use diesel::prelude::*;

use crate::bankfiles::records::StatementBooking;
use crate::db::schema::statement_lines;
use crate::db::DbConn;

/// Like `crate::insert_chunked!`, but each multi-row INSERT skips rows that meet a unique key
/// (`ON CONFLICT DO NOTHING`, on both backends); evaluates to the rows inserted.
macro_rules! insert_new_chunked {
    ($conn:expr, $table:expr, $rows:expr; $($n:literal),+) => {{
        let mut rest = &$rows[..];
        let mut inserted: diesel::QueryResult<usize> = Ok(0);
        while !rest.is_empty() {
            match insert_new_chunked!(@largest $conn, $table, rest; $($n),+) {
                Ok(n) => inserted = inserted.map(|sum| sum + n),
                Err(e) => {
                    inserted = Err(e);
                    break;
                }
            }
        }
        inserted
    }};
    (@largest $conn:expr, $table:expr, $rest:ident; $n:literal $(, $smaller:literal)*) => {
        if let Some((chunk, tail)) = $rest.split_first_chunk::<$n>() {
            $rest = tail;
            $crate::on_backend!($conn, c => diesel::RunQueryDsl::execute(
                diesel::insert_into($table).values(chunk).on_conflict_do_nothing(),
                c,
            ))
        } else {
            insert_new_chunked!(@largest $conn, $table, $rest; $($smaller),*)
        }
    };
    (@largest $conn:expr, $table:expr, $rest:ident; ) => {
        Ok(0)
    };
}

/// The bank's reference when it gives one (an empty reference is none).
fn bank_ref(b: &StatementBooking) -> Option<&str> {
    b.bank_ref.as_deref().filter(|r| !r.is_empty())
}

/// What identical lines of one file share (the identity without the occurrence).
fn same_line_key(b: &StatementBooking) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    b.account.hash(&mut h);
    b.booking_date.hash(&mut h);
    b.direction.hash(&mut h);
    b.amount_minor.hash(&mut h);
    match bank_ref(b) {
        Some(r) => (0u8, r).hash(&mut h),
        None => (1u8, b.narrative.as_str()).hash(&mut h),
    }
    h.finish()
}

/// The identity of `b`, the `occurrence`-th (from 1) of the identical lines of its file.
pub fn identity(b: &StatementBooking, occurrence: u32) -> String {
    let tail = match bank_ref(b) {
        Some(r) => format!("ref:{r}"),
        None => format!("txt:{}", b.narrative),
    };
    format!(
        "{}|{}|{}|{}|{}|{}",
        b.account,
        b.booking_date.format("%Y-%m-%d"),
        b.direction.as_ref(),
        b.amount_minor,
        occurrence,
        tail
    )
}

/// Counts identical lines as a file is read, to number them. Keyed by a 64-bit hash of the
/// line (a few bytes per distinct line, not the line): two different lines colliding would
/// only share a count, and the same file read again collides the same way.
#[derive(Default)]
pub(super) struct Occurrences {
    seen: HashMap<u64, u32>,
}

impl Occurrences {
    /// The identity of the next line `b` of the file.
    pub(super) fn identity(&mut self, b: &StatementBooking) -> String {
        let n = self.seen.entry(same_line_key(b)).or_insert(0);
        *n = n.saturating_add(1);
        identity(b, *n)
    }
}

/// Claims `identities` (distinct, of file `file_id`) in the register; returns, in order,
/// whether each was new (false: another file not withdrawn holds that line).
pub(super) fn claim(
    conn: &mut DbConn,
    file_id: &str,
    identities: &[String],
) -> Result<Vec<bool>, diesel::result::Error> {
    let rows: Vec<_> = identities
        .iter()
        .map(|i| {
            (
                statement_lines::identity.eq(i.clone()),
                statement_lines::file_id.eq(file_id.to_string()),
            )
        })
        .collect();
    let inserted = insert_new_chunked!(conn, statement_lines::table, rows; 256, 64, 16, 4, 1)?;
    if inserted == identities.len() {
        return Ok(vec![true; identities.len()]);
    }
    let mut ours: HashSet<String> = HashSet::with_capacity(inserted);
    for chunk in identities.chunks(1000) {
        ours.extend(
            statement_lines::table
                .filter(statement_lines::file_id.eq(file_id))
                .filter(statement_lines::identity.eq_any(chunk))
                .select(statement_lines::identity)
                .load::<String>(conn)?,
        );
    }
    Ok(identities.iter().map(|i| ours.contains(i)).collect())
}
