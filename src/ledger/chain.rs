//! The hash chain (DESIGN §2 rule 5): `hash = SHA-256(previous hash ‖ canonical bytes)`.
//!
//! The canonical bytes are a versioned, length-prefixed encoding of every field of an entry and
//! its postings, so no two different entries share an encoding and a changed amount, account,
//! date, memo or order of postings changes the hash.

use chrono::{Datelike, NaiveDateTime, Timelike};
use ring::digest;

use super::model::NewEntry;

/// The hash before the first entry.
pub const GENESIS_HASH: [u8; 32] = [0u8; 32];

const DOMAIN: &[u8] = b"onecard-entry-v1\0";

/// Formats a commit time the one way the chain knows it (microseconds, UTC).
pub fn canonical_time(t: &NaiveDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond() / 1_000
    )
}

fn canonical_date(d: &chrono::NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// The canonical bytes of an entry at position `seq`, committed at `created_at`.
pub fn canonical_bytes(seq: i64, entry: &NewEntry, created_at: &NaiveDateTime) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + entry.postings.len() * 48);
    out.extend_from_slice(DOMAIN);
    field(&mut out, seq.to_string().as_bytes());
    field(&mut out, canonical_date(&entry.business_date).as_bytes());
    field(&mut out, entry.kind.as_str().as_bytes());
    field(&mut out, entry.memo.as_bytes());
    optional(&mut out, entry.reference.as_deref().map(str::as_bytes));
    optional(
        &mut out,
        entry
            .reverses
            .map(|s| s.to_string())
            .as_deref()
            .map(str::as_bytes),
    );
    field(&mut out, entry.actor.as_bytes());
    field(&mut out, canonical_time(created_at).as_bytes());
    field(&mut out, entry.postings.len().to_string().as_bytes());
    for p in &entry.postings {
        field(&mut out, p.account.as_bytes());
        field(&mut out, p.side.as_str().as_bytes());
        field(&mut out, p.amount_minor.to_string().as_bytes());
        field(&mut out, p.currency.as_bytes());
    }
    out
}

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    // Fields are bounded far below 4 GiB (memo ≤ 500 chars, codes ≤ 32 bytes).
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

fn optional(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => out.push(0),
        Some(b) => {
            out.push(1);
            field(out, b);
        }
    }
}

/// `SHA-256(prev ‖ canonical)`.
pub fn chain_hash(prev: &[u8; 32], canonical: &[u8]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(prev);
    ctx.update(canonical);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The hash of an entry at `seq` following `prev`.
pub fn entry_hash(
    prev: &[u8; 32],
    seq: i64,
    entry: &NewEntry,
    created_at: &NaiveDateTime,
) -> [u8; 32] {
    chain_hash(prev, &canonical_bytes(seq, entry, created_at))
}
