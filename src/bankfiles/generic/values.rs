//! Field value conversion: a field's text read by its type — digits, integers, dates, times
//! and date-times by the spec's layout (with the year taken from another date when the layout
//! has none), amounts in fen or yuan, signs, codes, masked card numbers.
//!
//! Depends on: [`crate::bankfiles::spec`].

use std::borrow::Cow;

use chrono::{Datelike, Duration, NaiveDate, NaiveTime};

use super::{corrupt, State, Value, C};
use crate::bankfiles::records::ReadError;
use crate::bankfiles::spec::{Field, FieldType, Kind, Tok, Unit};

/// A field that cannot be read; out of line, so the hot path stays small.
#[cold]
#[inline(never)]
pub(super) fn field_error(
    kind: &Kind,
    field: &Field,
    line: u64,
    byte: Option<u64>,
    what: String,
) -> ReadError {
    corrupt(
        line,
        byte,
        format!("{} field {}: {what}", kind.name, field.name),
    )
}

/// Parses digits of a date/time by a compiled layout: (year, month, day, hour, minute, second).
pub(super) fn parse_layout(text: &str, format: &[Tok]) -> Option<[u32; 6]> {
    let bytes = text.as_bytes();
    let mut at = 0usize;
    let mut out = [0u32, 1, 1, 0, 0, 0];
    for tok in format {
        let (slot, width) = match tok {
            Tok::Year => (0, 4),
            Tok::Month => (1, 2),
            Tok::Day => (2, 2),
            Tok::Hour => (3, 2),
            Tok::Minute => (4, 2),
            Tok::Second => (5, 2),
            Tok::Lit(b) => {
                if bytes.get(at) != Some(b) {
                    return None;
                }
                at += 1;
                continue;
            }
        };
        let digits = bytes.get(at..at + width)?;
        let mut v = 0u32;
        for d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(d - b'0');
        }
        out[slot] = v;
        at += width;
    }
    (at == bytes.len()).then_some(out)
}

/// Reads an amount in fen or yuan into minor units; `Err` says why.
pub(super) fn parse_amount_text(text: &str, field: &Field) -> Result<i64, String> {
    match plain_amount(text, field.unit) {
        Some(minor) => Ok(minor),
        None => parse_amount_general(text, field),
    }
}

/// An amount written as digits only, as fixed-width files write every amount, with at most 15
/// significant digits: read directly. `None` for anything else (a sign, a decimal point,
/// separators, too many digits, empty), which [`parse_amount_general`] reads or refuses; for
/// what this reads, it gives what that would (tested).
fn plain_amount(text: &str, unit: Unit) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let significant = text.trim_start_matches('0');
    if significant.len() > 15 {
        return None;
    }
    let minor = significant
        .bytes()
        .fold(0i64, |minor, b| minor * 10 + i64::from(b - b'0'));
    Some(match unit {
        Unit::Fen => minor,
        Unit::Yuan => minor * 100,
    })
}

/// Reads any amount the spec allows (sign, decimals, thousands separators) or says why not.
fn parse_amount_general(text: &str, field: &Field) -> Result<i64, String> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) if field.signed => (true, rest),
        Some(_) => return Err("a minus sign where the format has none".into()),
        None => (false, text),
    };
    let (int_part, frac) = match (field.unit, body.split_once('.')) {
        (Unit::Yuan, Some((i, f))) => (i, f),
        (Unit::Yuan, None) => (body, ""),
        (Unit::Fen, Some(_)) => return Err("a decimal point in an amount written in fen".into()),
        (Unit::Fen, None) => (body, ""),
    };
    if frac.len() > 2 {
        return Err("more than two decimals".into());
    }
    if int_part.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not an amount".into());
    }
    let mut minor: i64 = 0;
    let mut group = 0usize;
    let mut groups_started = false;
    let has_commas = int_part.contains(',');
    if has_commas && !field.thousands {
        return Err("a thousands separator where the format has none".into());
    }
    if has_commas {
        // Grouping must be 1-3 digits, then groups of exactly three.
        let mut parts = int_part.split(',');
        let head = parts.next().unwrap_or_default();
        if head.is_empty() || head.len() > 3 {
            return Err("thousands separators in the wrong places".into());
        }
        for p in parts {
            if p.len() != 3 {
                return Err("thousands separators in the wrong places".into());
            }
        }
        groups_started = true;
    }
    let _ = groups_started;
    for b in int_part.bytes() {
        if b == b',' {
            continue;
        }
        if !b.is_ascii_digit() {
            return Err("not an amount".into());
        }
        if b != b'0' || group > 0 {
            group += 1;
        }
        if group > 15 {
            return Err("too many digits".into());
        }
        minor = minor * 10 + i64::from(b - b'0');
    }
    if field.unit == Unit::Yuan {
        for i in 0..2 {
            minor = minor * 10
                + frac
                    .as_bytes()
                    .get(i)
                    .map(|b| i64::from(b - b'0'))
                    .unwrap_or(0);
        }
    }
    Ok(if negative { -minor } else { minor })
}

/// Masks a card number unless it already is: first six and last four kept.
pub(super) fn masked_card(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Ok(String::new());
    }
    if !text.bytes().all(|b| b.is_ascii_digit() || b == b'*') {
        return Err("a card number with characters other than digits and '*'".into());
    }
    if text.contains('*') {
        return Ok(text.to_string());
    }
    // A bank sent a whole number: keep only what a masked number shows.
    let n = text.len();
    if n < 11 {
        return Ok("*".repeat(n));
    }
    Ok(format!(
        "{}{}{}",
        &text[..6],
        "*".repeat(n - 10),
        &text[n - 4..]
    ))
}

/// An amount in minor units, times the sign field it names (which comes before it).
fn amount_value(
    field: &Field,
    text: &str,
    before: &[Value<'_>],
    bad: &dyn Fn(String) -> ReadError,
) -> Result<Value<'static>, ReadError> {
    let mut minor = parse_amount_text(text, field).map_err(|m| bad(format!("'{text}': {m}")))?;
    if let Some(sign_at) = field.sign {
        match before.get(sign_at) {
            Some(Value::Int(s)) => minor *= *s,
            _ => return Err(bad("its sign field must come before it in the spec".into())),
        }
    }
    Ok(Value::Int(minor))
}

/// The value of an empty field: its fallback field's, 0 for an optional amount, absent for
/// another optional field; `None` when it may not be empty.
fn empty_value<'a>(field: &Field, before: &[Value<'a>]) -> Option<Value<'a>> {
    if let Some(fb) = field.fallback {
        if let Some(v) = before.get(fb) {
            return Some(v.clone());
        }
    }
    if field.ty == FieldType::Amount && field.optional {
        return Some(Value::Int(0));
    }
    if field.optional {
        return Some(Value::Absent);
    }
    None
}

impl State<'_> {
    /// A field's value by its type, or why it cannot be read. Inlined into the two loops over
    /// fields: called once a field, through memory its text and value stalled on every call
    /// (store forwarding; most of the parse profile's time in this function was its first
    /// load of `text`).
    #[inline(always)]
    pub(super) fn read_value<'a>(
        &self,
        kind: &Kind,
        field: &'a Field,
        text: Cow<'a, str>,
        before: &[Value<'a>],
        line: u64,
        byte: Option<u64>,
    ) -> Result<Value<'a>, ReadError> {
        let bad = |what: String| field_error(kind, field, line, byte, what);
        if let Some(expected) = &field.equals {
            if text.as_ref() != expected.as_str() {
                return Err(bad(format!("'{text}' where the format says '{expected}'")));
            }
        }
        if text.is_empty() {
            return empty_value(field, before).ok_or_else(|| bad("empty".into()));
        }
        let value = match field.ty {
            FieldType::Text => Value::Text(text),
            FieldType::Digits => {
                if !text.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad(format!("'{text}' is not all digits")));
                }
                Value::Text(text)
            }
            FieldType::Integer => {
                if !text.bytes().all(|b| b.is_ascii_digit()) || text.len() > 18 {
                    return Err(bad(format!("'{text}' is not a whole number")));
                }
                Value::Int(
                    text.parse()
                        .map_err(|_| bad(format!("'{text}' is not a whole number")))?,
                )
            }
            FieldType::Date => {
                let p = parse_layout(&text, &field.format)
                    .ok_or_else(|| bad(format!("'{text}' does not fit the date format")))?;
                Value::Date(
                    NaiveDate::from_ymd_opt(p[0] as i32, p[1], p[2])
                        .ok_or_else(|| bad(format!("'{text}' is not a real date")))?,
                )
            }
            FieldType::Time => {
                let p = parse_layout(&text, &field.format)
                    .ok_or_else(|| bad(format!("'{text}' does not fit the time format")))?;
                Value::Time(
                    NaiveTime::from_hms_opt(p[3], p[4], p[5])
                        .ok_or_else(|| bad(format!("'{text}' is not a real time")))?,
                )
            }
            FieldType::Datetime => self.datetime_value(field, &text, before, line, &bad)?,
            FieldType::Amount => amount_value(field, &text, before, &bad)?,
            FieldType::Sign => match text.as_ref() {
                "+" => Value::Int(1),
                "-" => Value::Int(-1),
                other => return Err(bad(format!("'{other}' is not + or -"))),
            },
            FieldType::Code => match field.map.get(text.as_ref()) {
                Some(v) => Value::Text(Cow::Borrowed(v.as_str())),
                None => return Err(bad(format!("'{text}' is not one of the known codes"))),
            },
            FieldType::MaskedCard
                if text.bytes().any(|b| b == b'*')
                    && text.bytes().all(|b| b.is_ascii_digit() || b == b'*') =>
            {
                Value::Text(text)
            }
            FieldType::MaskedCard => Value::Text(Cow::Owned(masked_card(&text).map_err(bad)?)),
        };
        Ok(value)
    }

    /// A date-time by the field's layout; without a year in the layout, the year that puts it
    /// within the window before the end of the date named by `year_from`. Inlined into
    /// `read_value`, like it, so its arguments do not go through memory.
    #[inline(always)]
    fn datetime_value(
        &self,
        field: &Field,
        text: &str,
        before: &[Value<'_>],
        line: u64,
        bad: &dyn Fn(String) -> ReadError,
    ) -> Result<Value<'static>, ReadError> {
        let p = parse_layout(text, &field.format)
            .ok_or_else(|| bad(format!("'{text}' does not fit the format")))?;
        let time = NaiveTime::from_hms_opt(p[3], p[4], p[5])
            .ok_or_else(|| bad(format!("'{text}' is not a real time")))?;
        Ok(match &field.year_from {
            None => Value::DateTime(
                NaiveDate::from_ymd_opt(p[0] as i32, p[1], p[2])
                    .ok_or_else(|| bad(format!("'{text}' is not a real date")))?
                    .and_time(time),
            ),
            Some((from, days)) => {
                let anchor = self.anchor_date(from, field.year_from_field, before, line)?;
                let end = anchor
                    .succ_opt()
                    .ok_or_else(|| bad("date out of range".into()))?
                    .and_time(NaiveTime::MIN);
                let start = end - Duration::days(*days);
                let found = [anchor.year(), anchor.year() - 1]
                    .into_iter()
                    .find_map(|y| {
                        let t = NaiveDate::from_ymd_opt(y, p[1], p[2])?.and_time(time);
                        (t >= start && t < end).then_some(t)
                    });
                Value::DateTime(found.ok_or_else(|| {
                    bad(format!(
                        "'{text}' is not within the {days} days before the end of {from} {anchor}"
                    ))
                })?)
            }
        })
    }

    /// The date named `from`: the field `in_record` of this line (the index the spec resolved
    /// for that name, when the record has such a field) if read already, else the canonical
    /// value of that name.
    pub(super) fn anchor_date(
        &self,
        from: &str,
        in_record: Option<usize>,
        before: &[Value<'_>],
        line: u64,
    ) -> Result<NaiveDate, ReadError> {
        if let Some(i) = in_record {
            if let Some(Value::Date(d)) = before.get(i) {
                return Ok(*d);
            }
        }
        let anchor = C::from_name(from);
        match anchor.map(|c| self.canonical(c, &[], line)).transpose()? {
            Some(Value::Date(d)) => Ok(*d),
            _ => Err(corrupt(
                line,
                None,
                format!("{from}, which decides the year of the transaction time, is not known yet"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The POS spec's `gross` amount field, read as `unit` with the given options.
    fn amount_field(unit: Unit, signed: bool, thousands: bool) -> Field {
        let path = crate::bankfiles::default_specs_dir().join("pos-settlement-fixed-width.toml");
        let spec = crate::bankfiles::CompiledSpec::load(&path).unwrap();
        let mut field = spec.kinds[spec.item]
            .fields
            .iter()
            .find(|f| f.name == "gross")
            .unwrap()
            .clone();
        field.unit = unit;
        field.signed = signed;
        field.thousands = thousands;
        field
    }

    #[test]
    fn plain_amounts_table() {
        let fen = amount_field(Unit::Fen, false, false);
        let yuan = amount_field(Unit::Yuan, true, true);
        for (text, f, want) in [
            ("000000020000", &fen, Ok(20_000)),
            ("0", &fen, Ok(0)),
            ("999999999999999", &fen, Ok(999_999_999_999_999)),
            ("0000000000000001", &fen, Ok(1)),
            ("99999999999999a", &fen, Err("not an amount".to_string())),
            (
                "000000000000000999999999999999",
                &fen,
                Ok(999_999_999_999_999),
            ),
            ("1000000000000000", &fen, Err("too many digits".to_string())),
            ("", &fen, Err("not an amount".to_string())),
            ("12", &yuan, Ok(1_200)),
            ("1,234.5", &yuan, Ok(123_450)),
            ("-7", &yuan, Ok(-700)),
        ] {
            assert_eq!(parse_amount_text(text, f), want, "{text}");
            assert_eq!(parse_amount_general(text, f), want, "{text}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]

        /// The one-pass reading of digit-only amounts agrees with the general one on every
        /// text, digits only or not.
        #[test]
        fn plain_amounts_read_as_the_general_reader_reads_them(
            text in prop_oneof!["[0-9]{0,20}", "0{0,10}[1-9][0-9]{12,16}", "[-0-9.,+ a]{0,20}"],
            yuan in any::<bool>(),
            signed in any::<bool>(),
            thousands in any::<bool>(),
        ) {
            let unit = if yuan { Unit::Yuan } else { Unit::Fen };
            let field = amount_field(unit, signed, thousands);
            prop_assert_eq!(parse_amount_text(&text, &field), parse_amount_general(&text, &field));
        }
    }
}
