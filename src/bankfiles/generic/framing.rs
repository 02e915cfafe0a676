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
use crate::bankfiles::spec::{CompiledSpec, FieldType, Kind, Matcher};

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
    let spec = state.spec;
    for field in &kind.fields {
        let raw = line
            .get(field.start..field.start + field.len)
            .unwrap_or_default();
        // Padding is ASCII spaces: trim bytes first, so ASCII fields never go through
        // character iteration.
        let lead = raw.iter().take_while(|b| **b == b' ').count();
        let raw = raw.get(lead..).unwrap_or_default().trim_ascii_end();
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
        let text = match text {
            // Decoded text may also be padded with the ideographic space.
            Cow::Owned(t) => {
                Cow::Owned(t.trim_matches(|c| c == ' ' || c == '\u{3000}').to_string())
            }
            borrowed => borrowed,
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
