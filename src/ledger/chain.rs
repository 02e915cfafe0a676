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
    time_field(out, created_at);
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

/// The commit time as a field, [`canonical_time`]'s text written without an allocation for the
/// years it gives four digits (0–9999, every real one); any other time through it.
fn time_field(out: &mut Vec<u8>, t: &NaiveDateTime) {
    // A leap second (nanosecond ≥ 1e9) prints seven digits of microseconds: the slow way too.
    let micros = t.nanosecond() / 1_000;
    if !(0..=9999).contains(&t.year()) || micros > 999_999 {
        field(out, canonical_time(t).as_bytes());
        return;
    }
    let mut buf = [0u8; 27];
    let mut date = [0u8; 10];
    buf[..10].copy_from_slice(write_date(&mut date, t.year(), t.month(), t.day()));
    buf[10] = b'T';
    two(&mut buf[11..13], t.hour());
    buf[13] = b':';
    two(&mut buf[14..16], t.minute());
    buf[16] = b':';
    two(&mut buf[17..19], t.second());
    buf[19] = b'.';
    let mut m = micros;
    for b in buf[20..26].iter_mut().rev() {
        *b = b'0' + (m % 10) as u8;
        m /= 10;
    }
    buf[26] = b'Z';
    field(out, &buf);
}

/// Two decimal digits of `v` (< 100).
fn two(out: &mut [u8], v: u32) {
    out[0] = b'0' + (v / 10 % 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
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

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, NaiveDateTime};

    use super::{canonical_time, field, time_field};

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, nano: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_nano_opt(h, mi, s, nano))
            .unwrap_or_default()
    }

    #[test]
    fn the_time_field_is_the_canonical_text_whatever_the_time() {
        for t in [
            at(2026, 12, 7, 9, 5, 3, 123_456_789),
            at(2026, 1, 1, 0, 0, 0, 0),
            at(1999, 12, 31, 23, 59, 59, 999_999_999),
            at(0, 1, 1, 0, 0, 0, 1_000),
            at(9999, 12, 31, 23, 59, 59, 999_000),
            at(10_000, 1, 1, 0, 0, 0, 0),
            at(-1, 6, 15, 12, 30, 30, 500_000),
            // A leap second.
            at(2016, 12, 31, 23, 59, 59, 1_500_000_000),
        ] {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            time_field(&mut fast, &t);
            field(&mut slow, canonical_time(&t).as_bytes());
            assert_eq!(fast, slow, "{t:?}");
        }
    }
}
