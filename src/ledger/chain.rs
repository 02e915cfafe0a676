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

/// The canonical bytes of an entry at position `seq`, committed at `created_at`.
pub fn canonical_bytes(seq: i64, entry: &NewEntry, created_at: &NaiveDateTime) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + entry.postings.len() * 48);
    canonical_bytes_into(&mut out, seq, entry, created_at);
    out
}

/// [`canonical_bytes`] into a reused buffer (the verifier hashes millions of entries).
pub fn canonical_bytes_into(
    out: &mut Vec<u8>,
    seq: i64,
    entry: &NewEntry,
    created_at: &NaiveDateTime,
) {
    out.clear();
    out.extend_from_slice(DOMAIN);
    let mut num = [0u8; 20];
    field(out, decimal(seq, &mut num));
    let d = entry.business_date;
    let mut date = [0u8; 10];
    field(out, write_date(&mut date, d.year(), d.month(), d.day()));
    field(out, entry.kind.as_str().as_bytes());
    field(out, entry.memo.as_bytes());
    optional(out, entry.reference.as_deref().map(str::as_bytes));
    match entry.reverses {
        None => out.push(0),
        Some(r) => {
            out.push(1);
            field(out, decimal(r, &mut num));
        }
    }
    field(out, entry.actor.as_bytes());
    field(out, canonical_time(created_at).as_bytes());
    field(out, decimal(entry.postings.len() as i64, &mut num));
    for p in &entry.postings {
        field(out, p.account.as_bytes());
        field(out, p.side.as_str().as_bytes());
        field(out, decimal(p.amount_minor, &mut num));
        field(out, p.currency.as_bytes());
    }
}

/// Base-10 digits of `v` (with a leading '-' when negative), as `to_string` would write them.
fn decimal(v: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// `YYYY-MM-DD` for years 0–9999.
fn write_date(buf: &mut [u8; 10], year: i32, month: u32, day: u32) -> &[u8] {
    let y = year.clamp(0, 9999) as u32;
    let digits = [
        y / 1000,
        y / 100 % 10,
        y / 10 % 10,
        y % 10,
        10,
        month / 10,
        month % 10,
        10,
        day / 10,
        day % 10,
    ];
    for (b, d) in buf.iter_mut().zip(digits) {
        *b = if d == 10 { b'-' } else { b'0' + d as u8 };
    }
    &buf[..]
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
