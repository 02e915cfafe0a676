//! Record framing: cutting the file into records and fields — fixed width in bytes of the
//! file's encoding (lines no longer than the longest record, an optional 0x1A end mark), or
//! delimited by RFC 4180 — and recognising each record's kind by its prefix or first column.
//!
//! Depends on: [`crate::bankfiles::decode`], [`crate::bankfiles::spec`].

use std::borrow::Cow;
use std::io::BufRead;

use super::{corrupt, State, Value};
use crate::bankfiles::decode::{decode_field, DecodingReader};
use crate::bankfiles::records::{ReadError, Sink};
use crate::bankfiles::spec::{CompiledSpec, Field, FieldType, Kind, Matcher};

pub(super) fn read_fixed<R: BufRead>(
    state: &mut State<'_>,
    mut input: R,
    sink: &mut Sink<'_>,
) -> Result<(), ReadError> {
    let spec = state.spec;
    let mut buf = Vec::with_capacity(256);
    let mut line_no: u64 = 0;
    let mut eof_seen = false;
    // No line is longer than the longest record and its CR LF: reading stops there, so a file
    // without line breaks cannot make the reader hold it whole.
    let longest = spec
        .kinds
        .iter()
        .filter_map(|k| k.length)
        .max()
        .unwrap_or(0)
        + 2;
    // One vector of values for every line: emptied and handed back after each (its values
    // borrow the line, so it goes round as an empty vector of another lifetime).
    let mut spare: Vec<Value<'static>> = Vec::new();
    loop {
        buf.clear();
        let n = std::io::Read::take(&mut input, longest as u64 + 1).read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if n > longest && buf.last() != Some(&b'\n') {
            return Err(corrupt(
                line_no,
                Some((longest - 2) as u64 + 1),
                format!(
                    "a line longer than any record of this format ({} bytes)",
                    longest - 2
                ),
            ));
        }
        let mut line = buf.as_slice();
        let had_newline = line.last() == Some(&b'\n');
        if had_newline {
            line = &line[..line.len() - 1];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
        }
        if eof_seen {
            return Err(corrupt(
                line_no - 1,
                Some(1),
                "an end-of-file byte (0x1A) before the end of the file",
            ));
        }
        if spec.eof_marker && line == b"\x1A" && !had_newline {
            eof_seen = true;
            continue;
        }
        if line.is_empty() && !had_newline {
            break;
        }
        if line.is_empty() {
            return Err(corrupt(line_no, Some(1), "an empty line"));
        }
        let kind_index = fixed_kind(spec, line, line_no)?;
        state.admit(kind_index, line_no)?;
        let mut values = recycle(std::mem::take(&mut spare));
        fixed_values(state, &spec.kinds[kind_index], line, line_no, &mut values)?;
        state.take(kind_index, &mut values, line_no, sink)?;
        spare = recycle(values);
    }
    Ok(())
}

/// The kind of a fixed-width line (by its prefix), whose length must be the kind's.
fn fixed_kind(spec: &CompiledSpec, line: &[u8], line_no: u64) -> Result<usize, ReadError> {
    let kind_index = classify_fixed(spec, line).ok_or_else(|| {
        let shown = line
            .first()
            .map(|b| {
                if b.is_ascii_graphic() {
                    format!("'{}'", *b as char)
                } else {
                    format!("0x{b:02X}")
                }
            })
            .unwrap_or_default();
        corrupt(line_no, Some(1), format!("unknown record type {shown}"))
    })?;
    let kind = &spec.kinds[kind_index];
    if let Some(expected) = kind.length {
        if line.len() != expected {
            return Err(corrupt(
                line_no,
                Some(line.len().min(expected) as u64 + 1),
                format!(
                    "{} record is {} bytes long, the format says {expected}",
                    kind.name,
                    line.len()
                ),
            ));
        }
    }
    Ok(kind_index)
}

/// The values of a fixed-width line's fields: cut at their byte positions, unpadded, decoded
/// (text only) and read by type.
fn fixed_values<'a>(
    state: &State<'_>,
    kind: &'a Kind,
    line: &'a [u8],
    line_no: u64,
    values: &mut Vec<Value<'a>>,
) -> Result<(), ReadError> {
    fixed_values_with(state, kind, line, ascii_line(line), line_no, values)
}

/// The line as text when it is all ASCII — most lines of most files, and every line without a
/// Chinese remark or name. ASCII is valid in every encoding a spec may name and decodes to
/// itself, so such a line is checked once here and its fields are borrowed slices of it
/// instead of each being validated (and, for text, checked for decoding) on its own.
fn ascii_line(line: &[u8]) -> Option<&str> {
    if line.is_ascii() {
        std::str::from_utf8(line).ok()
    } else {
        None
    }
}

/// [`fixed_values`], given the line as text when it is all ASCII (`None`: each field is
/// validated and decoded on its own, as a line with non-ASCII bytes needs). Both give the
/// same values and errors for an ASCII line (tested).
fn fixed_values_with<'a>(
    state: &State<'_>,
    kind: &'a Kind,
    line: &'a [u8],
    ascii: Option<&'a str>,
    line_no: u64,
    values: &mut Vec<Value<'a>>,
) -> Result<(), ReadError> {
    let spec = state.spec;
    for field in &kind.fields {
        let raw = line
            .get(field.start..field.start + field.len)
            .unwrap_or_default();
        // Padding is ASCII spaces: trim bytes first, so ASCII fields never go through
        // character iteration.
        let lead = raw.iter().take_while(|b| **b == b' ').count();
        let raw = raw.get(lead..).unwrap_or_default().trim_ascii_end();
        let text = match ascii {
            Some(line_text) => {
                let from = field.start + lead;
                Cow::Borrowed(line_text.get(from..from + raw.len()).unwrap_or_default())
            }
            None => decoded_field(spec, field, raw, lead, line_no)?,
        };
        values.push(state.read_value(
            kind,
            field,
            text,
            values,
            line_no,
            Some(field.position as u64),
        )?);
    }
    Ok(())
}

/// One field's unpadded bytes as text: text decoded from the file's encoding (and unpadded of
/// the ideographic space too), anything else ASCII or refused.
fn decoded_field<'a>(
    spec: &CompiledSpec,
    field: &Field,
    raw: &'a [u8],
    lead: usize,
    line_no: u64,
) -> Result<Cow<'a, str>, ReadError> {
    // Only text needs the file's encoding; numbers, dates, signs are ASCII or wrong.
    let needs_decoding = matches!(
        field.ty,
        FieldType::Text | FieldType::Code | FieldType::MaskedCard
    );
    let decoded = if needs_decoding {
        decode_field(raw, spec.encoding)
    } else {
        std::str::from_utf8(raw)
            .map(Cow::Borrowed)
            .map_err(|e| e.valid_up_to())
    };
    let text = decoded.map_err(|offset| {
        corrupt(
            line_no,
            Some((field.start + lead + offset) as u64 + 1),
            format!(
                "field {} holds bytes that are not valid in the file's encoding",
                field.name
            ),
        )
    })?;
    Ok(match text {
        // Decoded text may also be padded with the ideographic space.
        Cow::Owned(t) => {
            let trimmed = t.trim_matches(|c| c == ' ' || c == '\u{3000}');
            if trimmed.len() == t.len() {
                Cow::Owned(t)
            } else {
                Cow::Owned(trimmed.to_string())
            }
        }
        borrowed => borrowed,
    })
}

/// An emptied vector of values, for values of another lifetime: the same allocation (a
/// `Vec` collected from its own emptied `into_iter` of a same-sized type is built in place).
fn recycle<'b>(mut values: Vec<Value<'_>>) -> Vec<Value<'b>> {
    values.clear();
    values.into_iter().map(|_| Value::Absent).collect()
}

pub(super) fn classify_fixed(spec: &CompiledSpec, line: &[u8]) -> Option<usize> {
    let mut default = None;
    for (i, k) in spec.kinds.iter().enumerate() {
        match &k.matcher {
            Matcher::Prefix(p) if line.starts_with(p) => return Some(i),
            Matcher::Default => default = Some(i),
            _ => {}
        }
    }
    default
}

pub(super) fn read_delimited<R: BufRead>(
    state: &mut State<'_>,
    input: R,
    sink: &mut Sink<'_>,
) -> Result<(), ReadError> {
    let spec = state.spec;
    let decoder = DecodingReader::new(input, spec.encoding);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(spec.delimiter)
        .buffer_capacity(64 * 1024)
        .from_reader(decoder);
    let mut record = csv::ByteRecord::new();
    loop {
        let more = match reader.read_byte_record(&mut record) {
            Ok(more) => more,
            Err(e) => {
                if let Some(failure) = reader.get_mut().failure.take() {
                    return Err(failure);
                }
                let line = e
                    .position()
                    .map(|p| p.line())
                    .unwrap_or(state.last_line + 1);
                return Err(corrupt(line, None, format!("unreadable CSV: {e}")));
            }
        };
        if !more {
            break;
        }
        let line_no = record
            .position()
            .map(|p| p.line())
            .unwrap_or(state.last_line + 1);
        let first = cell(&record, 0, line_no)?.trim();
        let kind_index = classify_delimited(spec, first).ok_or_else(|| {
            corrupt(
                line_no,
                None,
                format!("unknown row starting with '{first}'"),
            )
        })?;
        let kind = &spec.kinds[kind_index];
        check_row_shape(kind, &record, line_no)?;
        state.admit(kind_index, line_no)?;
        let mut values: Vec<Value<'_>> = Vec::with_capacity(kind.fields.len());
        for field in &kind.fields {
            let text = if field.start < record.len() {
                cell(&record, field.start, line_no)?.trim()
            } else {
                ""
            };
            values.push(state.read_value(
                kind,
                field,
                Cow::Borrowed(text),
                &values,
                line_no,
                None,
            )?);
        }
        state.take(kind_index, &mut values, line_no, sink)?;
    }
    Ok(())
}

/// A row's headings (when the kind lists its columns) and its number of columns.
fn check_row_shape(kind: &Kind, record: &csv::ByteRecord, line_no: u64) -> Result<(), ReadError> {
    if let Some(columns) = &kind.columns {
        for (i, expected) in columns.iter().enumerate() {
            let got = cell(record, i, line_no)?.trim();
            if got != expected {
                return Err(corrupt(
                    line_no,
                    None,
                    format!(
                        "heading of column {} is '{got}', the format says '{expected}'",
                        i + 1
                    ),
                ));
            }
        }
    }
    if let Some(width) = kind.length {
        if record.len() != width {
            return Err(corrupt(
                line_no,
                None,
                format!(
                    "{} row has {} columns, the format says {width}",
                    kind.name,
                    record.len()
                ),
            ));
        }
    }
    Ok(())
}

/// Column `i` of a row as text (empty when the row is shorter).
fn cell(record: &csv::ByteRecord, i: usize, line_no: u64) -> Result<&str, ReadError> {
    let bytes = record.get(i).unwrap_or_default();
    std::str::from_utf8(bytes).map_err(|_| {
        corrupt(
            line_no,
            None,
            "text that is not valid in the file's encoding",
        )
    })
}

pub(super) fn classify_delimited(spec: &CompiledSpec, first: &str) -> Option<usize> {
    let mut default = None;
    for (i, k) in spec.kinds.iter().enumerate() {
        match &k.matcher {
            Matcher::FirstColumn(c) if c == first => return Some(i),
            Matcher::Default => default = Some(i),
            _ => {}
        }
    }
    default
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pos_spec() -> CompiledSpec {
        let path = crate::bankfiles::default_specs_dir().join("pos-settlement-fixed-width.toml");
        CompiledSpec::load(&path).unwrap()
    }

    const HEADER: &[u8] =
        b"H89844037993000120261124Municipal service centre window         156000318";
    const DETAIL: &[u8] = b"D112409301511002001000001000012000451234567890123622848******0123   01S001000000020000+0000000012+000000019988            window 03 licence   ";
    const TRAILER: &[u8] = b"T0000000500000000000750000000000000063150+0000000000011843";

    /// A state that has read `HEADER`, as the detail lines' date-times need.
    fn state_after_header(spec: &CompiledSpec) -> State<'_> {
        let mut state = State::new(spec, None);
        let mut values = Vec::new();
        fixed_values(&state, &spec.kinds[0], HEADER, 1, &mut values).unwrap();
        state.take(0, &mut values, 1, &mut |_| Ok(())).unwrap();
        state
    }

    /// The values (or the error) of `line` read as kind `k`, with the line checked as ASCII
    /// once and its fields borrowed (`fast`), or each field decoded on its own.
    fn read_as(
        state: &State<'_>,
        k: usize,
        line: &[u8],
        fast: bool,
    ) -> Result<Vec<String>, String> {
        let ascii = if fast { ascii_line(line) } else { None };
        let mut values = Vec::new();
        fixed_values_with(state, &state.spec.kinds[k], line, ascii, 7, &mut values)
            .map_err(|e| e.to_string())?;
        Ok(values.iter().map(|v| format!("{v:?}")).collect())
    }

    #[test]
    fn templates_are_ascii_records_of_their_kinds() {
        let spec = pos_spec();
        for (k, line) in [HEADER, DETAIL, TRAILER].into_iter().enumerate() {
            assert_eq!(classify_fixed(&spec, line), Some(k));
            assert_eq!(Some(line.len()), spec.kinds[k].length);
            assert!(ascii_line(line).is_some());
        }
        let state = state_after_header(&spec);
        assert!(read_as(&state, 1, DETAIL, true).is_ok());
        assert!(read_as(&state, 2, TRAILER, true).is_ok());
    }

    /// Lines with non-ASCII bytes never take the borrowed path.
    #[test]
    fn non_ascii_lines_are_decoded_field_by_field() {
        let mut line = DETAIL.to_vec();
        let (remark, _, _) = encoding_rs::GB18030.encode("窗口03营业执照");
        line[122..122 + remark.len()].copy_from_slice(&remark);
        assert_eq!(ascii_line(&line), None);
        assert_eq!(ascii_line(b"D\x80"), None);
        assert_eq!(ascii_line(b""), Some(""));
    }

    fn mutated(base: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
        let byte = prop::sample::select(b"0123456789 +-*.,S0Z\t\r\x0b\x0c\x7f\x01Hx".to_vec());
        (
            prop::collection::vec((0..base.len(), byte), 0..6),
            0..=base.len() + 2,
        )
            .prop_map(move |(edits, keep)| {
                let mut line = base.to_vec();
                for (at, b) in edits {
                    line[at] = b;
                }
                line.resize(keep, b' ');
                line
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        /// An ASCII line gives the same values or the same error (line, byte and message)
        /// whether its fields are borrowed from the line checked once or each decoded.
        #[test]
        fn ascii_lines_read_the_same_either_way(
            k in 0usize..3,
            detail in mutated(DETAIL),
            header in mutated(HEADER),
            trailer in mutated(TRAILER),
        ) {
            let spec = pos_spec();
            let state = state_after_header(&spec);
            let line = [header, detail, trailer][k].clone();
            prop_assert!(ascii_line(&line).is_some());
            prop_assert_eq!(read_as(&state, k, &line, true), read_as(&state, k, &line, false));
        }
    }
}
