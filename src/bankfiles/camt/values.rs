//! Value parsing for the camt reader: amounts with their currency, dates, counts, credit/debit
//! indicators, and the checked arithmetic every total goes through.
//!
//! Depends on: [`crate::bankfiles::records`].

use chrono::NaiveDate;

use super::Money;
use crate::bankfiles::records::{minor_exponent, parse_decimal_minor, Direction, ReadError};

pub(super) fn corrupt(line: u64, message: impl Into<String>) -> ReadError {
    ReadError::corrupt(line, None, message)
}

pub(super) fn overflow(line: u64) -> ReadError {
    corrupt(line, "amount totals are too large to add up exactly")
}

pub(super) fn add(a: i64, b: i64, line: u64) -> Result<i64, ReadError> {
    a.checked_add(b).ok_or_else(|| overflow(line))
}

pub(super) fn signed(dir: Direction, minor: i64) -> i64 {
    dir.signed(minor)
}

/// Formats minor units of `ccy` as a decimal amount, e.g. `-1234.56`.
pub(super) fn fmt_minor(value: i64, ccy: &str) -> String {
    crate::money::format_scaled(value, minor_exponent(ccy), '.')
}

pub(super) fn parse_dir(text: &str, line: u64, what: &str) -> Result<Direction, ReadError> {
    match text {
        "CRDT" => Ok(Direction::Credit),
        "DBIT" => Ok(Direction::Debit),
        other => Err(corrupt(
            line,
            format!("{what} CdtDbtInd is '{other}', expected CRDT or DBIT"),
        )),
    }
}

pub(super) fn parse_count(text: &str, line: u64, what: &str) -> Result<u64, ReadError> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(corrupt(line, format!("{what} '{text}' is not a count")));
    }
    text.parse::<u64>()
        .map_err(|_| corrupt(line, format!("{what} '{text}' is not a count")))
}

/// Date part of an ISO date or date-time as written (`2020-11-24`, `2020-11-24T10:00:00+01:00`,
/// `2020-11-24+01:00`); no time-zone conversion.
pub(super) fn parse_date(text: &str, line: u64, what: &str) -> Result<NaiveDate, ReadError> {
    let bad = || corrupt(line, format!("{what} '{text}' is not a date"));
    let head = text.get(..10).ok_or_else(bad)?;
    let rest = text.get(10..).ok_or_else(bad)?;
    if !(rest.is_empty() || rest.starts_with(['T', 'Z', '+', '-'])) {
        return Err(bad());
    }
    NaiveDate::parse_from_str(head, "%Y-%m-%d").map_err(|_| bad())
}

pub(super) fn parse_amount(
    text: &str,
    ccy: Option<&String>,
    line: u64,
    what: &str,
) -> Result<Money, ReadError> {
    let ccy = match ccy {
        Some(c) if !c.is_empty() => c.clone(),
        _ => {
            return Err(corrupt(
                line,
                format!("{what} {text} has no currency (Ccy attribute)"),
            ))
        }
    };
    let minor = parse_decimal_minor(text, &ccy, false)
        .map_err(|e| corrupt(line, format!("{what} {ccy}: {e}")))?;
    Ok(Money { minor, ccy, line })
}

pub(super) fn set_once(slot: &mut Option<String>, value: &str) {
    if slot.is_none() && !value.is_empty() {
        *slot = Some(value.to_string());
    }
}

/// If `rel` is a path inside a `Chrgs` element of an entry or of a transaction, the part from
/// `Chrgs` on.
pub(super) fn charges_path<'a>(rel: &'a [&'a str]) -> Option<&'a [&'a str]> {
    match rel {
        ["Ntry", rest @ ..] | ["Ntry", "NtryDtls", "TxDtls", rest @ ..]
            if rest.first() == Some(&"Chrgs") =>
        {
            Some(rest)
        }
        _ => None,
    }
}
