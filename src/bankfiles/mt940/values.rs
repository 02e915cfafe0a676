//! Field values: text limits, YYMMDD dates, balances (`C`/`D`, date, currency, amount), MT940
//! amounts with their decimal comma, and the first line of a `:61:`.
//!
//! Depends on: [`crate::bankfiles::records`].

use chrono::{Datelike, NaiveDate};

use super::Balance;
use crate::bankfiles::records::{minor_exponent, parse_decimal_minor, Direction, ReadError};

/// Non-empty, at most `max` characters.
pub(super) fn check_text(
    line: u64,
    vcol: u64,
    text: &str,
    max: usize,
    what: &str,
) -> Result<(), ReadError> {
    if text.is_empty() {
        return Err(ReadError::corrupt(
            line,
            Some(vcol),
            format!("{what} is empty"),
        ));
    }
    if text.chars().count() > max {
        return Err(ReadError::corrupt(
            line,
            Some(vcol),
            format!("{what} '{text}' is longer than {max} characters"),
        ));
    }
    Ok(())
}

/// `1234,56` / `-12,05` in the currency's minor units.
pub(super) fn fmt_minor(minor: i64, currency: &str) -> String {
    crate::money::format_scaled(minor, minor_exponent(currency), ',')
}

/// YYMMDD; `YY < 80` is 20YY, else 19YY.
pub(super) fn yymmdd(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 6 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let yy: i32 = s.get(0..2)?.parse().ok()?;
    let mm: u32 = s.get(2..4)?.parse().ok()?;
    let dd: u32 = s.get(4..6)?.parse().ok()?;
    let year = if yy < 80 { 2000 + yy } else { 1900 + yy };
    NaiveDate::from_ymd_opt(year, mm, dd)
}

/// `C`/`D`, YYMMDD, currency, amount (`:60F:` etc.).
pub(super) fn parse_balance(
    line: u64,
    value: &str,
    vcol: u64,
    tag: &str,
) -> Result<Balance, ReadError> {
    let v = value.trim_end();
    let err = |offset: u64, msg: String| ReadError::corrupt(line, Some(vcol + offset), msg);
    let direction = match v.get(0..1) {
        Some("C") => Direction::Credit,
        Some("D") => Direction::Debit,
        _ => return Err(err(0, format!(":{tag}: must start with C or D"))),
    };
    let date = v
        .get(1..7)
        .and_then(yymmdd)
        .ok_or_else(|| err(1, format!(":{tag}: date is not a valid YYMMDD date")))?;
    let currency = v
        .get(7..10)
        .filter(|c| c.bytes().all(|b| b.is_ascii_uppercase()))
        .ok_or_else(|| err(7, format!(":{tag}: currency is not a 3-letter code")))?;
    let amount = v.get(10..).unwrap_or("");
    let minor = parse_amount(amount, currency).map_err(|m| err(10, format!(":{tag}: {m}")))?;
    Ok(Balance {
        line,
        date,
        currency: currency.to_owned(),
        signed_minor: direction.signed(minor),
    })
}

/// An MT940 amount: digits with one mandatory decimal comma.
pub(super) fn parse_amount(text: &str, currency: &str) -> Result<i64, String> {
    if text.bytes().filter(|&c| c == b',').count() != 1 {
        return Err(format!(
            "amount '{text}' must have exactly one decimal comma"
        ));
    }
    parse_decimal_minor(text, currency, true)
}

/// What a `:61:` line says.
#[derive(Debug)]
pub(super) struct Entry61 {
    pub(super) value_date: NaiveDate,
    pub(super) booking_date: NaiveDate,
    pub(super) booking_col: u64,
    pub(super) direction: Direction,
    pub(super) reversal: bool,
    pub(super) amount_minor: i64,
    pub(super) bank_ref: Option<String>,
}

/// Parses the first line of a `:61:`; errors carry the column of the bad field.
pub(super) fn parse_61(text: &str, vcol: u64, currency: &str) -> Result<Entry61, (u64, String)> {
    let t = text.trim_end();
    let b = t.as_bytes();
    let at = |i: usize| vcol.saturating_add(u64::try_from(i).unwrap_or(u64::MAX));
    let digits = |from: usize, n: usize| {
        b.get(from..from + n)
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    if !digits(0, 6) {
        return Err((at(0), ":61: value date must be YYMMDD".into()));
    }
    let value_date = t.get(0..6).and_then(yymmdd).ok_or_else(|| {
        (
            at(0),
            format!(
                ":61: value date '{}' is not a date",
                t.get(0..6).unwrap_or("")
            ),
        )
    })?;
    let mut i = 6;
    let mut booking_date = value_date;
    let mut booking_col = at(0);
    if digits(6, 4) {
        let mmdd = t.get(6..10).unwrap_or("");
        let mm: u32 = mmdd.get(0..2).and_then(|s| s.parse().ok()).unwrap_or(0);
        let dd: u32 = mmdd.get(2..4).and_then(|s| s.parse().ok()).unwrap_or(0);
        let y = value_date.year();
        booking_date = [y - 1, y, y + 1]
            .iter()
            .filter_map(|&yr| NaiveDate::from_ymd_opt(yr, mm, dd))
            .min_by_key(|d| (*d - value_date).num_days().abs())
            .ok_or_else(|| (at(6), format!(":61: entry date '{mmdd}' is not a date")))?;
        booking_col = at(6);
        i = 10;
    }
    let (direction, reversal, len) = match (b.get(i), b.get(i + 1)) {
        (Some(b'R'), Some(b'C')) => (Direction::Debit, true, 2),
        (Some(b'R'), Some(b'D')) => (Direction::Credit, true, 2),
        (Some(b'C'), _) => (Direction::Credit, false, 1),
        (Some(b'D'), _) => (Direction::Debit, false, 1),
        _ => {
            return Err((
                at(i),
                ":61: debit/credit mark must be C, D, RC or RD".into(),
            ))
        }
    };
    i += len;
    if b.get(i).is_some_and(u8::is_ascii_alphabetic) {
        i += 1; // funds code: third letter of the currency code
    }
    let amount_start = i;
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b',') {
        i += 1;
    }
    let amount_text = t.get(amount_start..i).unwrap_or("");
    let amount_minor =
        parse_amount(amount_text, currency).map_err(|m| (at(amount_start), format!(":61: {m}")))?;
    let type_ok = matches!(b.get(i), Some(b'N' | b'F' | b'S'))
        && b.get(i + 1..i + 4)
            .is_some_and(|s| s.iter().all(u8::is_ascii_alphanumeric));
    if !type_ok {
        return Err((
            at(i),
            ":61: transaction type must be N, F or S and a 3-character code".into(),
        ));
    }
    i += 4;
    let bank_ref = bank_ref_61(t.get(i..).unwrap_or(""), |k| at(i + k))?;
    Ok(Entry61 {
        value_date,
        booking_date,
        booking_col,
        direction,
        reversal,
        amount_minor,
        bank_ref,
    })
}

/// The references after a `:61:`'s transaction type, `rest`: the customer reference and an
/// optional `//` bank reference; which of them is the booking's reference. `at` gives the
/// column of a byte offset in `rest`.
fn bank_ref_61(rest: &str, at: impl Fn(usize) -> u64) -> Result<Option<String>, (u64, String)> {
    let (customer, bank) = match rest.split_once("//") {
        Some((c, k)) => (c, Some(k)),
        None => (rest, None),
    };
    let customer = customer.trim_end();
    if customer.is_empty() {
        return Err((
            at(0),
            ":61: has no customer reference (NONREF when there is none)".into(),
        ));
    }
    if customer.chars().count() > 16 {
        return Err((
            at(0),
            ":61: customer reference is longer than 16 characters".into(),
        ));
    }
    let bank = bank.map(str::trim);
    if let Some(k) = bank {
        let kcol = at(customer.len() + 2);
        if k.is_empty() || k.chars().count() > 16 {
            return Err((
                kcol,
                ":61: bank reference must be 1 to 16 characters".into(),
            ));
        }
    }
    Ok(match bank {
        Some(k) => Some(k.to_owned()),
        None if customer == "NONREF" => None,
        None => Some(customer.to_owned()),
    })
}
