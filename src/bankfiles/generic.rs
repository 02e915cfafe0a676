//! The generic reader: applies a [`CompiledSpec`] to a file, line by line.
//!
//! Each line is recognised (prefix or first column), checked against the order of record kinds
//! the spec lists, cut into fields (bytes of the encoding for fixed width, RFC 4180 for
//! delimited), and each field read by its type. Item lines become canonical records at once and
//! go to the sink; header values are kept for the items that follow; trailer and footer values
//! wait for the end, where the spec's control checks compare them with what the items added up
//! to. Nothing of the file is kept beyond the current line and those totals.
//!
//! Canonical names an item is built from (item field first, then a header field, then a
//! file-name capture, then a spec constant):
//! - settlement: `merchant terminal kind gross fee net currency txn_time settlement_date`
//!   and optionally `batch trace rrn auth_code masked_card original_ref own_ref`;
//! - statement: `account currency booking_date`, `amount` + `direction` or `debit` + `credit`,
//!   optionally `value_date bank_ref narrative counterparty_account counterparty_name
//!   balance_after`, and for the summary `statement_id from_date to_date`.
//!
//! Rules every settlement item obeys whatever the spec says: net = gross − fee; a purchase is
//! positive, a void or refund negative. A statement booking has exactly one of debit and credit.
//!
//! Depends on: [`super::records`], [`super::spec`], [`super::decode`], `crate::money` (amount
//! formatting in messages).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::BufRead;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};

use super::decode::{decode_field, take_bom, DecodingReader};
use super::records::{
    Direction, ReadError, Record, SettlementKind, SettlementRecord, Sink, StatementBooking,
    StatementSummary,
};
use super::spec::{
    Check, CompiledSpec, Field, FieldType, Filter, Kind, Layout, Matcher, Produces, Repeat, Role,
    SumOf, Tok, Unit,
};
use crate::money::format_minor;

/// What the file said about itself beyond its items: header values (merchant, settlement date,
/// account, period), file-name captures, and how many items it had.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileFacts {
    /// Context values as text (`merchant`, `settlement_date` as `YYYY-MM-DD`, `account`, …).
    pub values: BTreeMap<String, String>,
    /// Items read.
    pub items: u64,
}

/// A field's value on one line.
#[derive(Debug, Clone, PartialEq)]
enum Value<'a> {
    Absent,
    Text(Cow<'a, str>),
    Int(i64),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    Time(NaiveTime),
}

impl Value<'_> {
    fn into_owned(self) -> Value<'static> {
        match self {
            Value::Absent => Value::Absent,
            Value::Text(t) => Value::Text(Cow::Owned(t.into_owned())),
            Value::Int(i) => Value::Int(i),
            Value::Date(d) => Value::Date(d),
            Value::DateTime(d) => Value::DateTime(d),
            Value::Time(t) => Value::Time(t),
        }
    }

    fn display(&self) -> String {
        match self {
            Value::Absent => String::new(),
            Value::Text(t) => t.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::DateTime(d) => d.format("%Y-%m-%dT%H:%M:%S").to_string(),
            Value::Time(t) => t.format("%H:%M:%S").to_string(),
        }
    }
}

/// A canonical name, as an index into the per-file source table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum C {
    Merchant,
    Terminal,
    Kind,
    Gross,
    Fee,
    Net,
    Currency,
    TxnTime,
    SettlementDate,
    Batch,
    Trace,
    Rrn,
    AuthCode,
    MaskedCard,
    OriginalRef,
    OwnRef,
    Account,
    BookingDate,
    ValueDate,
    BankRef,
    Narrative,
    CounterpartyAccount,
    CounterpartyName,
    BalanceAfter,
    Amount,
    Direction,
    Debit,
    Credit,
    StatementId,
    FromDate,
    ToDate,
}

impl C {
    const ALL: [C; 31] = [
        C::Merchant,
        C::Terminal,
        C::Kind,
        C::Gross,
        C::Fee,
        C::Net,
        C::Currency,
        C::TxnTime,
        C::SettlementDate,
        C::Batch,
        C::Trace,
        C::Rrn,
        C::AuthCode,
        C::MaskedCard,
        C::OriginalRef,
        C::OwnRef,
        C::Account,
        C::BookingDate,
        C::ValueDate,
        C::BankRef,
        C::Narrative,
        C::CounterpartyAccount,
        C::CounterpartyName,
        C::BalanceAfter,
        C::Amount,
        C::Direction,
        C::Debit,
        C::Credit,
        C::StatementId,
        C::FromDate,
        C::ToDate,
    ];

    fn name(self) -> &'static str {
        match self {
            C::Merchant => "merchant",
            C::Terminal => "terminal",
            C::Kind => "kind",
            C::Gross => "gross",
            C::Fee => "fee",
            C::Net => "net",
            C::Currency => "currency",
            C::TxnTime => "txn_time",
            C::SettlementDate => "settlement_date",
            C::Batch => "batch",
            C::Trace => "trace",
            C::Rrn => "rrn",
            C::AuthCode => "auth_code",
            C::MaskedCard => "masked_card",
            C::OriginalRef => "original_ref",
            C::OwnRef => "own_ref",
            C::Account => "account",
            C::BookingDate => "booking_date",
            C::ValueDate => "value_date",
            C::BankRef => "bank_ref",
            C::Narrative => "narrative",
            C::CounterpartyAccount => "counterparty_account",
            C::CounterpartyName => "counterparty_name",
            C::BalanceAfter => "balance_after",
            C::Amount => "amount",
            C::Direction => "direction",
            C::Debit => "debit",
            C::Credit => "credit",
            C::StatementId => "statement_id",
            C::FromDate => "from_date",
            C::ToDate => "to_date",
        }
    }
}

static ABSENT: Value<'static> = Value::Absent;

/// Where a canonical value comes from.
#[derive(Debug, Clone)]
enum Source {
    Item(usize),
    Context(usize, usize),
    Named,
    Missing,
}

/// Running state of one file.
struct State<'s> {
    spec: &'s CompiledSpec,
    cursor: usize,
    seen: Vec<u64>,
    context: Vec<Vec<Value<'static>>>,
    context_line: Vec<u64>,
    named: BTreeMap<String, String>,
    sources: Vec<Source>,
    named_values: Vec<Value<'static>>,
    gross_by_code: bool,
    net_by_code: bool,
    check_acc: Vec<i128>,
    items: u64,
    last_line: u64,
    // statements
    first_booking_line: Option<u64>,
    opening: Option<i64>,
    balance: Option<i64>,
    credit_count: u64,
    credit_sum: i64,
    debit_count: u64,
    debit_sum: i64,
    account: Option<String>,
    currency: Option<String>,
}

fn corrupt(line: u64, byte: Option<u64>, message: impl Into<String>) -> ReadError {
    ReadError::corrupt(line, byte, message)
}

/// Reads `input` by `spec`, handing each item to `sink`. `file_name` (as received, without a
/// folder) supplies values the spec's `file_name` pattern captures.
pub fn read_with_spec<R: BufRead>(
    spec: &CompiledSpec,
    file_name: Option<&str>,
    mut input: R,
    sink: &mut Sink<'_>,
) -> Result<FileFacts, ReadError> {
    take_bom(&mut input, spec.encoding, spec.bom)?;
    let mut named: BTreeMap<String, String> = spec.constants.clone();
    if let Some(captures) = file_name.and_then(|n| spec.match_file_name(n)) {
        for (k, v) in captures {
            named.entry(k).or_insert(v);
        }
    }
    let mut sources = Vec::with_capacity(C::ALL.len());
    let mut named_values = Vec::with_capacity(C::ALL.len());
    for c in C::ALL {
        let name = c.name();
        let source = if let Some(i) = spec.kinds[spec.item]
            .fields
            .iter()
            .position(|f| f.name == name)
        {
            Source::Item(i)
        } else if let Some((k, f)) = spec.kinds.iter().enumerate().find_map(|(k, kind)| {
            (kind.role == Role::Context)
                .then(|| {
                    kind.fields
                        .iter()
                        .position(|f| f.name == name)
                        .map(|f| (k, f))
                })
                .flatten()
        }) {
            Source::Context(k, f)
        } else if named.contains_key(name) {
            Source::Named
        } else {
            Source::Missing
        };
        named_values.push(match named.get(name) {
            Some(text) => named_to_value(name, text),
            None => Value::Absent,
        });
        sources.push(source);
    }
    let mut state = State {
        spec,
        cursor: 0,
        seen: vec![0; spec.kinds.len()],
        context: spec.kinds.iter().map(|_| Vec::new()).collect(),
        context_line: vec![0; spec.kinds.len()],
        named,
        sources,
        named_values,
        gross_by_code: spec.kinds[spec.item]
            .fields
            .iter()
            .any(|f| f.name == "gross" && f.sign_from_code),
        net_by_code: spec.kinds[spec.item]
            .fields
            .iter()
            .any(|f| f.name == "net" && f.sign_from_code),
        check_acc: vec![0; spec.checks.len()],
        items: 0,
        last_line: 0,
        first_booking_line: None,
        opening: None,
        balance: None,
        credit_count: 0,
        credit_sum: 0,
        debit_count: 0,
        debit_sum: 0,
        account: None,
        currency: None,
    };
    match spec.layout {
        Layout::Fixed => read_fixed(&mut state, input, sink)?,
        Layout::Delimited => read_delimited(&mut state, input, sink)?,
    }
    state.finish(sink)
}

fn read_fixed<R: BufRead>(
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
        state.admit(kind_index, line_no)?;
        let mut values: Vec<Value<'_>> = Vec::with_capacity(kind.fields.len());
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
                &values,
                line_no,
                Some(field.position as u64),
            )?);
        }
        state.take(kind_index, values, line_no, sink)?;
    }
    Ok(())
}

/// A field that cannot be read; out of line, so the hot path stays small.
#[cold]
#[inline(never)]
fn field_error(
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

fn classify_fixed(spec: &CompiledSpec, line: &[u8]) -> Option<usize> {
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

fn read_delimited<R: BufRead>(
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
        let cell = |i: usize| -> Result<&str, ReadError> {
            let bytes = record.get(i).unwrap_or_default();
            std::str::from_utf8(bytes).map_err(|_| {
                corrupt(
                    line_no,
                    None,
                    "text that is not valid in the file's encoding",
                )
            })
        };
        let first = cell(0)?.trim();
        let kind_index = classify_delimited(spec, first).ok_or_else(|| {
            corrupt(
                line_no,
                None,
                format!("unknown row starting with '{first}'"),
            )
        })?;
        let kind = &spec.kinds[kind_index];
        if let Some(columns) = &kind.columns {
            for (i, expected) in columns.iter().enumerate() {
                let got = cell(i)?.trim();
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
        state.admit(kind_index, line_no)?;
        let mut values: Vec<Value<'_>> = Vec::with_capacity(kind.fields.len());
        for field in &kind.fields {
            let text = if field.start < record.len() {
                cell(field.start)?.trim()
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
        state.take(kind_index, values, line_no, sink)?;
    }
    Ok(())
}

fn classify_delimited(spec: &CompiledSpec, first: &str) -> Option<usize> {
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

/// Parses digits of a date/time by a compiled layout: (year, month, day, hour, minute, second).
fn parse_layout(text: &str, format: &[Tok]) -> Option<[u32; 6]> {
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
fn parse_amount_text(text: &str, field: &Field) -> Result<i64, String> {
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
fn masked_card(text: &str) -> Result<String, String> {
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

impl<'s> State<'s> {
    /// Checks that a record of `kind_index` may come now.
    fn admit(&mut self, kind_index: usize, line: u64) -> Result<(), ReadError> {
        let kinds = &self.spec.kinds;
        let name = &kinds[kind_index].name;
        if kind_index < self.cursor {
            return Err(corrupt(
                line,
                None,
                format!(
                    "a {name} record after the {} record",
                    kinds[self.cursor].name
                ),
            ));
        }
        let from = if self.seen[self.cursor] > 0 {
            self.cursor + 1
        } else {
            self.cursor
        };
        for skipped in kinds.get(from..kind_index).unwrap_or_default() {
            if skipped.repeat == Repeat::One {
                return Err(corrupt(
                    line,
                    None,
                    format!("a {name} record where the {} record belongs", skipped.name),
                ));
            }
        }
        if self.seen[kind_index] > 0 && kinds[kind_index].repeat != Repeat::Many {
            return Err(corrupt(line, None, format!("a second {name} record")));
        }
        self.cursor = kind_index;
        self.seen[kind_index] += 1;
        self.last_line = line;
        Ok(())
    }

    /// A canonical value for the current item.
    fn canonical<'v>(
        &'v self,
        c: C,
        item: &'v [Value<'v>],
        line: u64,
    ) -> Result<&'v Value<'v>, ReadError> {
        match self.sources.get(c as usize) {
            Some(Source::Item(i)) => Ok(item.get(*i).unwrap_or(&ABSENT)),
            Some(Source::Context(k, f)) => match self.context[*k].get(*f) {
                Some(v) => Ok(v),
                None => Err(corrupt(
                    line,
                    None,
                    format!(
                        "the {} record that gives {} must come before this line",
                        self.spec.kinds[*k].name,
                        c.name()
                    ),
                )),
            },
            Some(Source::Named) => Ok(self.named_values.get(c as usize).unwrap_or(&ABSENT)),
            _ => Ok(&ABSENT),
        }
    }

    fn read_value<'a>(
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
            if let Some(fb) = field.fallback {
                if let Some(v) = before.get(fb) {
                    return Ok(v.clone());
                }
            }
            if field.ty == FieldType::Amount && field.optional {
                return Ok(Value::Int(0));
            }
            if field.optional {
                return Ok(Value::Absent);
            }
            return Err(bad("empty".into()));
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
            FieldType::Datetime => {
                let p = parse_layout(&text, &field.format)
                    .ok_or_else(|| bad(format!("'{text}' does not fit the format")))?;
                let time = NaiveTime::from_hms_opt(p[3], p[4], p[5])
                    .ok_or_else(|| bad(format!("'{text}' is not a real time")))?;
                match &field.year_from {
                    None => Value::DateTime(
                        NaiveDate::from_ymd_opt(p[0] as i32, p[1], p[2])
                            .ok_or_else(|| bad(format!("'{text}' is not a real date")))?
                            .and_time(time),
                    ),
                    Some((from, days)) => {
                        let anchor = self.anchor_date(from, kind, before, line)?;
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
                }
            }
            FieldType::Amount => {
                let mut minor =
                    parse_amount_text(&text, field).map_err(|m| bad(format!("'{text}': {m}")))?;
                if let Some(sign_at) = field.sign {
                    match before.get(sign_at) {
                        Some(Value::Int(s)) => minor *= *s,
                        _ => {
                            return Err(
                                bad("its sign field must come before it in the spec".into()),
                            )
                        }
                    }
                }
                Value::Int(minor)
            }
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
                if text.contains('*') && text.bytes().all(|b| b.is_ascii_digit() || b == b'*') =>
            {
                Value::Text(text)
            }
            FieldType::MaskedCard => Value::Text(Cow::Owned(masked_card(&text).map_err(bad)?)),
        };
        Ok(value)
    }

    fn anchor_date(
        &self,
        from: &str,
        kind: &Kind,
        before: &[Value<'_>],
        line: u64,
    ) -> Result<NaiveDate, ReadError> {
        if let Some(i) = kind.fields.iter().position(|f| f.name == from) {
            if let Some(Value::Date(d)) = before.get(i) {
                return Ok(*d);
            }
        }
        let anchor = C::ALL.into_iter().find(|c| c.name() == from);
        match anchor.map(|c| self.canonical(c, &[], line)).transpose()? {
            Some(Value::Date(d)) => Ok(*d),
            _ => Err(corrupt(
                line,
                None,
                format!("{from}, which decides the year of the transaction time, is not known yet"),
            )),
        }
    }

    /// Keeps a context/control record's values, or turns an item into a canonical record.
    fn take(
        &mut self,
        kind_index: usize,
        values: Vec<Value<'_>>,
        line: u64,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        let kind = &self.spec.kinds[kind_index];
        if kind.role != Role::Item {
            self.context[kind_index] = values.into_iter().map(Value::into_owned).collect();
            self.context_line[kind_index] = line;
            return Ok(());
        }
        self.items += 1;
        let record = match self.spec.produces {
            Produces::Settlement => Record::Settlement(self.settlement(kind, &values, line)?),
            Produces::Statement => {
                let booking = self.booking(kind, &values, line)?;
                if self
                    .spec
                    .checks
                    .iter()
                    .any(|c| matches!(c, Check::BalanceChain))
                {
                    self.chain(&booking)?;
                }
                Record::Booking(booking)
            }
        };
        self.account_checks(&record);
        sink(record)
    }

    fn text(
        &self,
        c: C,
        item: &[Value<'_>],
        line: u64,
        required: bool,
    ) -> Result<Option<String>, ReadError> {
        match self.canonical(c, item, line)? {
            Value::Absent if required => Err(corrupt(line, None, self.missing(c.name()))),
            Value::Absent => Ok(None),
            v => Ok(Some(v.display())),
        }
    }

    fn missing(&self, name: &str) -> String {
        let from_name = self.spec.file_name.as_ref().is_some_and(|parts| {
            parts
                .iter()
                .any(|p| matches!(p, super::spec::NamePart::Capture(c) if c == name))
        });
        match (&self.spec.file_name_pattern, from_name) {
            (Some(pattern), true) => format!(
                "{name} is missing: this format carries it only in the file name ({pattern}), which was not given or does not fit"
            ),
            _ => format!("{name} is missing"),
        }
    }

    fn int(&self, c: C, item: &[Value<'_>], line: u64) -> Result<Option<i64>, ReadError> {
        let name = c.name();
        match self.canonical(c, item, line)? {
            Value::Int(i) => Ok(Some(*i)),
            Value::Absent => Ok(None),
            other => Err(corrupt(
                line,
                None,
                format!("{name} '{}' is not an amount", other.display()),
            )),
        }
    }

    fn date(&self, c: C, item: &[Value<'_>], line: u64) -> Result<Option<NaiveDate>, ReadError> {
        let name = c.name();
        match self.canonical(c, item, line)? {
            Value::Date(d) => Ok(Some(*d)),
            Value::DateTime(d) => Ok(Some(d.date())),
            Value::Absent => Ok(None),
            other => Err(corrupt(
                line,
                None,
                format!("{name} '{}' is not a date", other.display()),
            )),
        }
    }

    fn field_byte(&self, kind: &Kind, name: &str) -> Option<u64> {
        if self.spec.layout != Layout::Fixed {
            return None;
        }
        kind.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.position as u64)
    }

    fn settlement(
        &self,
        kind: &Kind,
        item: &[Value<'_>],
        line: u64,
    ) -> Result<SettlementRecord, ReadError> {
        let code = match self.canonical(C::Kind, item, line)? {
            Value::Text(t) => t.as_ref(),
            _ => "",
        };
        let settlement_kind = SettlementKind::parse(code).ok_or_else(|| {
            corrupt(
                line,
                self.field_byte(kind, "kind"),
                format!("'{code}' is not a transaction kind"),
            )
        })?;
        let required_int = |c: C| -> Result<i64, ReadError> {
            self.int(c, item, line)?.ok_or_else(|| {
                corrupt(
                    line,
                    self.field_byte(kind, c.name()),
                    format!("{} is missing", c.name()),
                )
            })
        };
        let fee = required_int(C::Fee)?;
        let mut net = required_int(C::Net)?;
        let mut gross = required_int(C::Gross)?;
        let code_sign = |other: i64| match settlement_kind {
            SettlementKind::Purchase => 1,
            SettlementKind::Void | SettlementKind::Refund => -1,
            SettlementKind::Adjustment => {
                if other < 0 {
                    -1
                } else {
                    1
                }
            }
        };
        if self.net_by_code {
            net *= code_sign(gross);
        }
        if self.gross_by_code {
            gross *= code_sign(net);
        }
        if gross.checked_sub(fee) != Some(net) {
            return Err(corrupt(
                line,
                self.field_byte(kind, "net"),
                format!(
                    "net {} is not the amount {} less the fee {}",
                    format_minor(net),
                    format_minor(gross),
                    format_minor(fee)
                ),
            ));
        }
        match settlement_kind {
            SettlementKind::Purchase if gross <= 0 => {
                return Err(corrupt(
                    line,
                    self.field_byte(kind, "gross"),
                    "a purchase whose amount is not positive",
                ))
            }
            SettlementKind::Void | SettlementKind::Refund if gross >= 0 => {
                return Err(corrupt(
                    line,
                    self.field_byte(kind, "gross"),
                    format!(
                        "a {} whose amount is not negative",
                        settlement_kind.as_str()
                    ),
                ))
            }
            _ => {}
        }
        let txn_time = match self.canonical(C::TxnTime, item, line)? {
            Value::DateTime(t) => *t,
            _ => {
                return Err(corrupt(
                    line,
                    self.field_byte(kind, "txn_time"),
                    "txn_time is missing",
                ))
            }
        };
        let settlement_date = self
            .date(C::SettlementDate, item, line)?
            .ok_or_else(|| corrupt(line, None, "settlement_date is missing"))?;
        Ok(SettlementRecord {
            line,
            merchant: self
                .text(C::Merchant, item, line, true)?
                .unwrap_or_default(),
            terminal: self
                .text(C::Terminal, item, line, true)?
                .unwrap_or_default(),
            batch: self.text(C::Batch, item, line, false)?,
            trace: self.text(C::Trace, item, line, false)?,
            rrn: self.text(C::Rrn, item, line, false)?,
            auth_code: self.text(C::AuthCode, item, line, false)?,
            masked_card: self
                .text(C::MaskedCard, item, line, false)?
                .filter(|c| !c.is_empty()),
            kind: settlement_kind,
            gross_minor: gross,
            fee_minor: fee,
            net_minor: net,
            currency: self
                .text(C::Currency, item, line, true)?
                .unwrap_or_default(),
            txn_time,
            settlement_date,
            original_ref: self.text(C::OriginalRef, item, line, false)?,
            own_ref: self.text(C::OwnRef, item, line, false)?,
        })
    }

    fn booking(
        &mut self,
        kind: &Kind,
        item: &[Value<'_>],
        line: u64,
    ) -> Result<StatementBooking, ReadError> {
        let (direction, amount) = if matches!(
            self.sources.get(C::Amount as usize),
            Some(Source::Item(_))
        ) {
            let amount = self.int(C::Amount, item, line)?.unwrap_or(0);
            let dir = self
                .text(C::Direction, item, line, true)?
                .unwrap_or_default();
            let direction = if dir == "credit" {
                Direction::Credit
            } else {
                Direction::Debit
            };
            if amount < 0 {
                return Err(corrupt(
                    line,
                    self.field_byte(kind, "amount"),
                    "a negative amount with a direction",
                ));
            }
            (direction, amount)
        } else {
            let debit = self.int(C::Debit, item, line)?.unwrap_or(0);
            let credit = self.int(C::Credit, item, line)?.unwrap_or(0);
            match (debit, credit) {
                (d, 0) if d > 0 => (Direction::Debit, d),
                (0, c) if c > 0 => (Direction::Credit, c),
                _ => {
                    return Err(corrupt(
                        line,
                        None,
                        format!(
                            "a booking needs exactly one positive amount of debit and credit (debit {}, credit {})",
                            format_minor(debit),
                            format_minor(credit)
                        ),
                    ))
                }
            }
        };
        if amount == 0 {
            return Err(corrupt(line, None, "a booking of zero"));
        }
        let booking_date = self
            .date(C::BookingDate, item, line)?
            .ok_or_else(|| corrupt(line, None, "booking_date is missing"))?;
        let balance_after = self.int(C::BalanceAfter, item, line)?;
        let account = self.text(C::Account, item, line, true)?.unwrap_or_default();
        let currency = self
            .text(C::Currency, item, line, true)?
            .unwrap_or_default();
        Ok(StatementBooking {
            line,
            account,
            currency,
            booking_date,
            value_date: self.date(C::ValueDate, item, line)?,
            direction,
            amount_minor: amount,
            reversal: false,
            bank_ref: self.text(C::BankRef, item, line, false)?,
            narrative: self
                .text(C::Narrative, item, line, false)?
                .unwrap_or_default(),
            counterparty_account: self.text(C::CounterpartyAccount, item, line, false)?,
            counterparty_name: self.text(C::CounterpartyName, item, line, false)?,
            balance_after_minor: balance_after,
        })
    }

    /// Updates the running totals the checks and the statement summary need.
    fn account_checks(&mut self, record: &Record) {
        let (gross, fee, net, amount, direction) = match record {
            Record::Settlement(s) => (s.gross_minor, s.fee_minor, s.net_minor, 0, None),
            Record::Booking(b) => (0, 0, 0, b.amount_minor, Some(b.direction)),
            Record::Statement(_) => return,
        };
        for (acc, check) in self.check_acc.iter_mut().zip(&self.spec.checks) {
            let (filter, value) = match check {
                Check::Count { filter, .. } => (*filter, None),
                Check::Sum { of, filter, .. } => (
                    *filter,
                    Some(match of {
                        SumOf::Gross => gross,
                        SumOf::Fee => fee,
                        SumOf::Net => net,
                        SumOf::Amount => amount,
                    }),
                ),
                Check::BalanceChain => continue,
            };
            let v = value.unwrap_or(1);
            let admitted = match filter {
                Filter::All => true,
                Filter::Positive => v > 0,
                Filter::Negative => v < 0,
                Filter::Credit => direction == Some(Direction::Credit),
                Filter::Debit => direction == Some(Direction::Debit),
            };
            if admitted {
                *acc += i128::from(if value.is_some() { v } else { 1 });
            }
        }
        if let Record::Booking(b) = record {
            match b.direction {
                Direction::Credit => {
                    self.credit_count += 1;
                    self.credit_sum = self.credit_sum.saturating_add(b.amount_minor);
                }
                Direction::Debit => {
                    self.debit_count += 1;
                    self.debit_sum = self.debit_sum.saturating_add(b.amount_minor);
                }
            }
            if self.first_booking_line.is_none() {
                self.first_booking_line = Some(b.line);
                self.account = Some(b.account.clone());
                self.currency = Some(b.currency.clone());
            }
        }
    }

    /// Balance continuity, checked as each booking arrives (the reader calls it via `take`).
    fn chain(&mut self, b: &StatementBooking) -> Result<(), ReadError> {
        let Some(after) = b.balance_after_minor else {
            return Err(corrupt(
                b.line,
                None,
                "the balance after the booking is missing",
            ));
        };
        let effect = b.direction.signed(b.amount_minor);
        match self.balance {
            None => self.opening = after.checked_sub(effect),
            Some(prev) => {
                if prev.checked_add(effect) != Some(after) {
                    return Err(corrupt(
                        b.line,
                        None,
                        format!(
                            "balance {} does not follow from the previous balance {} and this {} of {}",
                            format_minor(after),
                            format_minor(prev),
                            b.direction.as_str(),
                            format_minor(b.amount_minor)
                        ),
                    ));
                }
            }
        }
        self.balance = Some(after);
        Ok(())
    }

    fn finish(mut self, sink: &mut Sink<'_>) -> Result<FileFacts, ReadError> {
        let kinds = &self.spec.kinds;
        let from = if self.seen[self.cursor] > 0 {
            self.cursor + 1
        } else {
            self.cursor
        };
        for missing in kinds.get(from..).unwrap_or_default() {
            if missing.repeat == Repeat::One {
                return Err(corrupt(
                    self.last_line.max(1),
                    None,
                    format!("the file ends without its {} record", missing.name),
                ));
            }
        }
        for (check, acc) in self.spec.checks.iter().zip(&self.check_acc) {
            let item = &kinds[self.spec.item].name;
            let which = |filter: &Filter| match filter {
                Filter::All => String::new(),
                Filter::Positive => "positive ".into(),
                Filter::Negative => "negative ".into(),
                Filter::Credit => "credit ".into(),
                Filter::Debit => "debit ".into(),
            };
            let (equals, absolute, money, what) = match check {
                Check::Count { equals, filter } => (
                    equals,
                    false,
                    false,
                    format!("the file has {{}} {}{item} records", which(filter)),
                ),
                Check::Sum {
                    of,
                    filter,
                    absolute,
                    equals,
                } => {
                    let of = match of {
                        SumOf::Gross => "amounts",
                        SumOf::Fee => "fees",
                        SumOf::Net => "net amounts",
                        SumOf::Amount => "amounts",
                    };
                    let abs = if *absolute { "without sign, " } else { "" };
                    (
                        equals,
                        *absolute,
                        true,
                        format!(
                            "the {}{item} records' {of} add up to {abs}{{}}",
                            which(filter)
                        ),
                    )
                }
                Check::BalanceChain => continue,
            };
            let (k, f) = *equals;
            let stated = match self.context[k].get(f) {
                Some(Value::Int(v)) => i128::from(*v),
                _ => 0,
            };
            let actual = if absolute { acc.abs() } else { *acc };
            if stated != actual {
                let show = |v: i128| {
                    if money {
                        format_minor(i64::try_from(v).unwrap_or(i64::MAX))
                    } else {
                        v.to_string()
                    }
                };
                let field = &kinds[k].fields[f];
                return Err(corrupt(
                    self.context_line[k].max(1),
                    (self.spec.layout == Layout::Fixed).then_some(field.position as u64),
                    format!(
                        "{} {} says {}, but {}",
                        kinds[k].name,
                        field.name,
                        show(stated),
                        what.replace("{}", &show(actual))
                    ),
                ));
            }
        }
        let mut facts = FileFacts {
            values: BTreeMap::new(),
            items: self.items,
        };
        for (k, kind) in kinds.iter().enumerate() {
            if kind.role == Role::Context {
                for (field, value) in kind.fields.iter().zip(&self.context[k]) {
                    if *value != Value::Absent {
                        facts.values.insert(field.name.clone(), value.display());
                    }
                }
            }
        }
        for (k, v) in &self.named {
            facts.values.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if self.spec.produces == Produces::Statement {
            let account = match self.account.take() {
                Some(a) => a,
                None => self
                    .text(C::Account, &[], self.last_line, true)?
                    .unwrap_or_default(),
            };
            let currency = match self.currency.take() {
                Some(c) => c,
                None => self
                    .text(C::Currency, &[], self.last_line, true)?
                    .unwrap_or_default(),
            };
            let from_date = self.date(C::FromDate, &[], self.last_line)?;
            let to_date = self.date(C::ToDate, &[], self.last_line)?;
            let statement_id = match self.text(C::StatementId, &[], self.last_line, false)? {
                Some(id) => id,
                None => format!(
                    "{account}/{}-{}",
                    from_date
                        .map(|d| d.format("%Y%m%d").to_string())
                        .unwrap_or_default(),
                    to_date
                        .map(|d| d.format("%Y%m%d").to_string())
                        .unwrap_or_default()
                ),
            };
            sink(Record::Statement(StatementSummary {
                line: 1,
                statement_id,
                account,
                currency,
                from_date,
                to_date,
                opening_minor: self.opening,
                closing_minor: self.balance,
                credit_count: self.credit_count,
                credit_minor: self.credit_sum,
                debit_count: self.debit_count,
                debit_minor: self.debit_sum,
            }))?;
        }
        Ok(facts)
    }
}

fn named_to_value(name: &str, text: &str) -> Value<'static> {
    match name {
        "settlement_date" | "booking_date" | "value_date" | "from_date" | "to_date" => {
            NaiveDate::parse_from_str(text, "%Y%m%d")
                .or_else(|_| NaiveDate::parse_from_str(text, "%Y-%m-%d"))
                .map(Value::Date)
                .unwrap_or_else(|_| Value::Text(Cow::Owned(text.to_string())))
        }
        _ => Value::Text(Cow::Owned(text.to_string())),
    }
}
