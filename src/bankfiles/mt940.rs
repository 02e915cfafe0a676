//! SWIFT MT940 customer statement reader (streaming).
//!
//! Reads line by line and hands each booking (`:61:` with its `:86:`) to the sink as soon as
//! the next field starts, and each statement's summary once its closing balance has been
//! checked. Memory is bounded by one line ([`MAX_LINE_BYTES`]) and one booking's details
//! ([`MAX_DETAILS_BYTES`]), never by the file.
//!
//! What is accepted around the statements: SWIFT blocks `{1:..}{2:..}{3:..}{4:` and the `-}`
//! end (with an optional `{5:..}` trailer), bank preamble lines before a `:20:` (ABN AMRO
//! `ABNANL2A` / `940`, ING `0000 01INGB...` / `940 00`, Rabobank `:940:`), `-` / `-}` / `-XXX`
//! message terminators, several messages per file (with or without terminators), CRLF or LF,
//! blank lines, and a 0x1A end-of-file mark after which only blank lines may follow.
//!
//! Decisions (the report that came with this file explains them):
//! - Two-digit years: `YY < 80` is `20YY`, otherwise `19YY`.
//! - The `:61:` entry date (MMDD) takes the year that puts it closest to the value date. The
//!   booking date (entry date, or value date where there is none) must lie within
//!   [`BOOKING_DATE_TOLERANCE_DAYS`] of the statement: not before the opening balance date
//!   minus the tolerance, not after the closing balance date plus the tolerance. The closing
//!   date may not precede the opening date.
//! - `:86:` may take several lines; more than [`MAX_DETAILS_BYTES`] bytes is refused.
//! - German structured details (`GVC?00..?20..?32..`) give the narrative (purpose lines
//!   `?20`–`?29`, `?60`–`?63`), the counterparty account (`?31`) and name (`?32`+`?33`).
//!   Other details are joined line by line with one space.
//! - Consecutive statements for the same account and currency must chain (one's closing =
//!   the next one's opening); statements for different accounts (or currencies) are
//!   independent and not compared.
//! - Strict: unknown tags, text where no field continues, invalid UTF-8 and bad dates are
//!   refused with the line and, where it applies, the byte (1-based column).

use std::io::{BufRead, Read};

use chrono::{Datelike, Days, NaiveDate};

use super::records::{
    minor_exponent, parse_decimal_minor, Direction, ReadError, Record, Sink, StatementBooking,
    StatementSummary,
};

/// Longest line accepted, in bytes without its line end. SWIFT lines are at most 65
/// characters; some banks write longer ones, nobody writes kilobytes.
pub const MAX_LINE_BYTES: usize = 4096;

/// Most bytes of `:86:` details accepted for one booking (SWIFT allows 6 × 65 = 390; German
/// structured details with `?60`–`?63` run longer). More is refused as corrupt.
pub const MAX_DETAILS_BYTES: usize = 2048;

/// How many days a booking date may lie before the opening balance date or after the
/// closing balance date.
pub const BOOKING_DATE_TOLERANCE_DAYS: u64 = 7;

/// What [`read_mt940`] found in a file that it accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mt940Document {
    /// Statements (messages) read, each emitted as a [`Record::Statement`].
    pub statements: u64,
    /// Bookings (`:61:` entries) read, each emitted as a [`Record::Booking`].
    pub entries: u64,
}

/// Reads an MT940 file from `input`, handing each booking and each statement summary to
/// `sink` as soon as it is complete and checked.
///
/// Returns the counts when the whole file was read and every check passed. On any error the
/// records already handed to the sink belong to a refused file and must be discarded by the
/// caller.
pub fn read_mt940<R: BufRead>(
    mut input: R,
    sink: &mut Sink<'_>,
) -> Result<Mt940Document, ReadError> {
    let mut parser = Parser::default();
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    let mut line_no: u64 = 0;
    let mut eof_mark: Option<u64> = None;
    loop {
        buf.clear();
        let limit = (MAX_LINE_BYTES as u64).saturating_add(2);
        let n = (&mut input).take(limit).read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        line_no = line_no.saturating_add(1);
        let mut bytes: &[u8] = &buf;
        if let Some(rest) = bytes.strip_suffix(b"\n") {
            bytes = rest;
        }
        if let Some(rest) = bytes.strip_suffix(b"\r") {
            bytes = rest;
        }
        if bytes.len() > MAX_LINE_BYTES {
            return Err(ReadError::corrupt(
                line_no,
                None,
                format!("line is longer than {MAX_LINE_BYTES} bytes"),
            ));
        }
        let mut sub_here = false;
        while let Some(rest) = bytes.strip_suffix(b"\x1a") {
            bytes = rest;
            sub_here = true;
        }
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                return Err(ReadError::corrupt(
                    line_no,
                    Some(col(e.valid_up_to())),
                    "not valid UTF-8",
                ))
            }
        };
        if text.trim().is_empty() {
            if sub_here && eof_mark.is_none() {
                eof_mark = Some(line_no);
            }
            continue;
        }
        if let Some(mark_line) = eof_mark {
            return Err(ReadError::corrupt(
                line_no,
                None,
                format!("data after the end-of-file mark 0x1A on line {mark_line}"),
            ));
        }
        parser.last_line = line_no;
        parser.line(line_no, text, 1, sink)?;
        if sub_here {
            eof_mark = Some(line_no);
        }
    }
    parser.finish(sink)
}

/// 1-based column of a 0-based byte offset.
fn col(offset: usize) -> u64 {
    u64::try_from(offset).unwrap_or(u64::MAX).saturating_add(1)
}

/// A balance field (`:60F:`, `:62F:`, `:64:`, `:65:`).
#[derive(Debug, Clone)]
struct Balance {
    line: u64,
    date: NaiveDate,
    currency: String,
    signed_minor: i64,
}

/// Where a statement is in its field order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Reference,
    Related,
    Account,
    Number,
    Opening,
    Entries,
    Closing,
    Available,
    Forward,
    Trailer,
}

/// A `:61:` being collected until the next field starts.
#[derive(Debug)]
struct PendingEntry {
    line: u64,
    value_col: u64,
    text: String,
    supplementary: Option<String>,
    details: Option<Details>,
}

/// `:86:` lines being collected.
#[derive(Debug)]
struct Details {
    lines: Vec<String>,
    bytes: usize,
}

impl Details {
    fn new(line: u64, first: &str) -> Result<Self, ReadError> {
        let mut d = Details {
            lines: Vec::new(),
            bytes: 0,
        };
        d.push(line, first)?;
        Ok(d)
    }

    fn push(&mut self, line: u64, text: &str) -> Result<(), ReadError> {
        self.bytes = self.bytes.saturating_add(text.len());
        if self.bytes > MAX_DETAILS_BYTES {
            return Err(ReadError::corrupt(
                line,
                None,
                format!(":86: details are longer than {MAX_DETAILS_BYTES} bytes"),
            ));
        }
        self.lines.push(text.to_owned());
        Ok(())
    }
}

/// One statement (message) being read.
#[derive(Debug)]
struct Stmt {
    line: u64,
    reference: String,
    account: Option<String>,
    number: Option<String>,
    stage: Stage,
    opening: Option<Balance>,
    closing: Option<Balance>,
    pending: Option<PendingEntry>,
    trailer_details: Option<Details>,
    running: i64,
    credit_count: u64,
    credit_minor: i64,
    debit_count: u64,
    debit_minor: i64,
    latest_booking: Option<(NaiveDate, u64)>,
}

/// The last finished statement, for the chaining check.
#[derive(Debug)]
struct Previous {
    line: u64,
    account: String,
    currency: String,
    closing_minor: i64,
}

#[derive(Debug, Default)]
struct Parser {
    stmt: Option<Stmt>,
    previous: Option<Previous>,
    doc: Mt940Document,
    /// `{4:` seen and its `-}` not yet.
    open_block4: Option<u64>,
    /// A header or preamble line not yet followed by a statement.
    header_line: Option<u64>,
    last_line: u64,
}

/// A field tag at the start of a line: `(tag, value, value column)`.
fn split_tag(text: &str, col0: u64) -> Option<(&str, &str, u64)> {
    let b = text.as_bytes();
    if b.first() != Some(&b':') {
        return None;
    }
    let d1 = b.get(1).copied()?;
    let d2 = b.get(2).copied()?;
    if !d1.is_ascii_digit() || !d2.is_ascii_digit() {
        return None;
    }
    let end = match b.get(3).copied()? {
        b':' => 3,
        c if c.is_ascii_uppercase() && b.get(4) == Some(&b':') => 4,
        _ => return None,
    };
    let tag = text.get(1..end)?;
    let value = text.get(end + 1..)?;
    Some((
        tag,
        value,
        col0.saturating_add(col(end + 1)).saturating_sub(1),
    ))
}

/// Skips balanced `{..}` blocks. Returns the text after `{4:` (`Some((rest, offset))`), or
/// `None` in the first position when the line held only complete blocks.
fn skip_blocks(text: &str) -> Result<Option<(&str, usize)>, usize> {
    let b = text.as_bytes();
    let mut i = 0usize;
    while i < b.len() {
        if b.get(i..i + 3) == Some(b"{4:") {
            return Ok(Some((text.get(i + 3..).unwrap_or(""), i + 3)));
        }
        if b.get(i) != Some(&b'{') {
            return Err(i);
        }
        let mut depth = 0usize;
        let start = i;
        loop {
            match b.get(i) {
                Some(b'{') => depth += 1,
                Some(b'}') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                Some(_) => {}
                None => return Err(start),
            }
            i += 1;
        }
    }
    Ok(None)
}

/// `-`, `-}` (with optional trailer blocks) or ING's `-XXX`.
fn is_terminator(text: &str) -> bool {
    let t = text.trim_end();
    if t == "-" || t == "-XXX" {
        return true;
    }
    match t.strip_prefix("-}") {
        Some(rest) => rest.is_empty() || matches!(skip_blocks(rest), Ok(None)),
        None => false,
    }
}

/// Bank preamble lines before a message: `ABNANL2A`, `940`, `0000 01INGBNL2AXXXX00001`.
fn is_preamble(text: &str) -> bool {
    let t = text.trim_end();
    t.len() <= 64 && t.bytes().all(|c| c.is_ascii_alphanumeric() || c == b' ')
}

impl Parser {
    fn line(
        &mut self,
        line: u64,
        text: &str,
        col0: u64,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        if is_terminator(text) {
            if let Some(stmt) = &self.stmt {
                if stmt.stage < Stage::Closing {
                    return Err(ReadError::corrupt(
                        line,
                        None,
                        format!(
                            "message ends before the closing balance (:62F:/:62M:) of the \
                             statement that starts on line {}",
                            stmt.line
                        ),
                    ));
                }
            }
            self.end_statement(sink)?;
            if text.trim_end().starts_with("-}") {
                self.open_block4 = None;
            }
            return Ok(());
        }
        if let Some((tag, value, vcol)) = split_tag(text, col0) {
            return self.field(line, tag, value, vcol, sink);
        }
        if let Some(stmt) = &mut self.stmt {
            if let Some(details) = &mut stmt.trailer_details {
                return details.push(line, text);
            }
            if let Some(entry) = &mut stmt.pending {
                if let Some(details) = &mut entry.details {
                    return details.push(line, text);
                }
                if entry.supplementary.is_none() {
                    entry.supplementary = Some(text.to_owned());
                    return Ok(());
                }
                return Err(ReadError::corrupt(
                    line,
                    Some(col0),
                    format!(
                        "the :61: on line {} has more than one line of supplementary details",
                        entry.line
                    ),
                ));
            }
            if stmt.stage < Stage::Closing {
                return Err(ReadError::corrupt(
                    line,
                    Some(col0),
                    "text where no field continues (expected a :tag:)",
                ));
            }
            self.end_statement(sink)?;
        }
        self.outside(line, text, col0, sink)
    }

    /// A non-field line between statements.
    fn outside(
        &mut self,
        line: u64,
        text: &str,
        col0: u64,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        if text.starts_with('{') {
            return match skip_blocks(text) {
                Ok(Some((rest, offset))) => {
                    self.open_block4 = Some(line);
                    self.header_line = Some(line);
                    if rest.trim().is_empty() {
                        Ok(())
                    } else {
                        let c = col0.saturating_add(u64::try_from(offset).unwrap_or(u64::MAX));
                        self.line(line, rest, c, sink)
                    }
                }
                Ok(None) => Ok(()),
                Err(at) => Err(ReadError::corrupt(
                    line,
                    Some(col0.saturating_add(u64::try_from(at).unwrap_or(u64::MAX))),
                    "malformed SWIFT block header",
                )),
            };
        }
        if text.trim_end() == ":940:" || is_preamble(text) {
            self.header_line = Some(line);
            return Ok(());
        }
        Err(ReadError::corrupt(
            line,
            Some(col0),
            "text outside a statement (expected :20: or a header line)",
        ))
    }

    fn field(
        &mut self,
        line: u64,
        tag: &str,
        value: &str,
        vcol: u64,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        let tag_col = Some(vcol.saturating_sub(u64::try_from(tag.len()).unwrap_or(0) + 2));
        if tag == "20" {
            if let Some(stmt) = &self.stmt {
                if stmt.stage < Stage::Closing {
                    return Err(ReadError::corrupt(
                        line,
                        tag_col,
                        format!(
                            "new statement (:20:) before the closing balance (:62F:/:62M:) of \
                             the statement that starts on line {}",
                            stmt.line
                        ),
                    ));
                }
            }
            self.end_statement(sink)?;
            let reference = value.trim();
            check_text(line, vcol, reference, 16, ":20: transaction reference")?;
            self.header_line = None;
            self.stmt = Some(Stmt {
                line,
                reference: reference.to_owned(),
                account: None,
                number: None,
                stage: Stage::Reference,
                opening: None,
                closing: None,
                pending: None,
                trailer_details: None,
                running: 0,
                credit_count: 0,
                credit_minor: 0,
                debit_count: 0,
                debit_minor: 0,
                latest_booking: None,
            });
            return Ok(());
        }
        if tag == "86" {
            if let Some(entry) = self.stmt.as_mut().and_then(|s| s.pending.as_mut()) {
                if entry.details.is_none() {
                    entry.details = Some(Details::new(line, value)?);
                    return Ok(());
                }
            }
        }
        // Any other field ends a pending booking.
        self.flush_entry(sink)?;
        let previous = &self.previous;
        let Some(stmt) = &mut self.stmt else {
            return Err(ReadError::corrupt(
                line,
                tag_col,
                format!(":{tag}: outside a statement (a statement starts with :20:)"),
            ));
        };
        if let Some(_done) = stmt.trailer_details.take() {
            if tag != "86" {
                return Err(ReadError::corrupt(
                    line,
                    tag_col,
                    format!(":{tag}: after the closing :86: of the statement"),
                ));
            }
        }
        let order = |ok: bool, what: &str| -> Result<(), ReadError> {
            if ok {
                Ok(())
            } else {
                Err(ReadError::corrupt(
                    line,
                    tag_col,
                    format!(":{tag}: out of place ({what})"),
                ))
            }
        };
        match tag {
            "21" => {
                order(stmt.stage == Stage::Reference, "expected right after :20:")?;
                check_text(line, vcol, value.trim(), 16, ":21: related reference")?;
                stmt.stage = Stage::Related;
            }
            "25" => {
                order(
                    stmt.stage <= Stage::Related,
                    "expected once, after :20:/:21:",
                )?;
                let account = value.trim();
                check_text(line, vcol, account, 35, ":25: account")?;
                stmt.account = Some(account.to_owned());
                stmt.stage = Stage::Account;
            }
            "28" | "28C" => {
                order(stmt.stage == Stage::Account, "expected once, after :25:")?;
                let number = value.trim();
                check_text(line, vcol, number, 11, "statement number")?;
                let slashes = number.bytes().filter(|&c| c == b'/').count();
                if slashes > 1 || !number.bytes().all(|c| c.is_ascii_digit() || c == b'/') {
                    return Err(ReadError::corrupt(
                        line,
                        Some(vcol),
                        format!("statement number '{number}' is not digits[/digits]"),
                    ));
                }
                stmt.number = Some(number.to_owned());
                stmt.stage = Stage::Number;
            }
            "60F" | "60M" => {
                order(
                    stmt.stage == Stage::Account || stmt.stage == Stage::Number,
                    "expected once, after :25: and :28C:",
                )?;
                let bal = parse_balance(line, value, vcol, tag)?;
                let account = stmt.account.clone().unwrap_or_default();
                if let Some(prev) = previous {
                    if prev.account == account
                        && prev.currency == bal.currency
                        && prev.closing_minor != bal.signed_minor
                    {
                        return Err(ReadError::corrupt(
                            line,
                            Some(vcol),
                            format!(
                                "opening balance {} {} does not continue the closing balance {} \
                                 of the previous statement for account {account} (line {})",
                                fmt_minor(bal.signed_minor, &bal.currency),
                                bal.currency,
                                fmt_minor(prev.closing_minor, &prev.currency),
                                prev.line
                            ),
                        ));
                    }
                }
                stmt.running = bal.signed_minor;
                stmt.opening = Some(bal);
                stmt.stage = Stage::Opening;
            }
            "61" => {
                order(
                    stmt.stage == Stage::Opening || stmt.stage == Stage::Entries,
                    "expected after the opening balance :60F:/:60M:",
                )?;
                stmt.pending = Some(PendingEntry {
                    line,
                    value_col: vcol,
                    text: value.to_owned(),
                    supplementary: None,
                    details: None,
                });
                stmt.stage = Stage::Entries;
            }
            "86" => {
                if stmt.stage >= Stage::Closing && stmt.stage != Stage::Trailer {
                    stmt.trailer_details = Some(Details::new(line, value)?);
                    stmt.stage = Stage::Trailer;
                } else {
                    return Err(ReadError::corrupt(
                        line,
                        tag_col,
                        ":86: out of place (expected right after a :61: or once at the end of \
                         the statement)",
                    ));
                }
            }
            "62F" | "62M" => {
                order(
                    stmt.stage == Stage::Opening || stmt.stage == Stage::Entries,
                    "expected once, after the opening balance and the entries",
                )?;
                let bal = parse_balance(line, value, vcol, tag)?;
                check_closing(stmt, &bal, vcol)?;
                stmt.closing = Some(bal);
                stmt.stage = Stage::Closing;
            }
            "64" | "65" => {
                let ok = if tag == "64" {
                    stmt.stage == Stage::Closing
                } else {
                    stmt.stage >= Stage::Closing && stmt.stage <= Stage::Forward
                };
                order(ok, "expected after the closing balance")?;
                let bal = parse_balance(line, value, vcol, tag)?;
                let currency = stmt.opening.as_ref().map(|b| b.currency.as_str());
                if currency != Some(bal.currency.as_str()) {
                    return Err(ReadError::corrupt(
                        line,
                        Some(vcol.saturating_add(7)),
                        format!(
                            ":{tag}: currency {} differs from the opening balance's",
                            bal.currency
                        ),
                    ));
                }
                stmt.stage = if tag == "64" {
                    Stage::Available
                } else {
                    Stage::Forward
                };
            }
            _ => {
                return Err(ReadError::corrupt(
                    line,
                    tag_col,
                    format!("unknown field :{tag}: in an MT940 statement"),
                ))
            }
        }
        Ok(())
    }

    /// Parses, checks and emits the pending booking, if any.
    fn flush_entry(&mut self, sink: &mut Sink<'_>) -> Result<(), ReadError> {
        let Some(stmt) = &mut self.stmt else {
            return Ok(());
        };
        let Some(entry) = stmt.pending.take() else {
            return Ok(());
        };
        let (Some(opening), Some(account)) = (&stmt.opening, &stmt.account) else {
            return Err(ReadError::corrupt(
                entry.line,
                None,
                ":61: before the opening balance",
            ));
        };
        let e = parse_61(&entry.text, entry.value_col, &opening.currency)
            .map_err(|(c, m)| ReadError::corrupt(entry.line, Some(c), m))?;
        let earliest = opening
            .date
            .checked_sub_days(Days::new(BOOKING_DATE_TOLERANCE_DAYS))
            .unwrap_or(opening.date);
        if e.booking_date < earliest {
            return Err(ReadError::corrupt(
                entry.line,
                Some(e.booking_col),
                format!(
                    "booking date {} is more than {BOOKING_DATE_TOLERANCE_DAYS} days before the \
                     opening balance date {}",
                    e.booking_date, opening.date
                ),
            ));
        }
        if stmt.latest_booking.is_none_or(|(d, _)| e.booking_date > d) {
            stmt.latest_booking = Some((e.booking_date, entry.line));
        }
        let overflow = || ReadError::corrupt(entry.line, None, "statement totals overflow");
        stmt.running = stmt
            .running
            .checked_add(e.direction.signed(e.amount_minor))
            .ok_or_else(overflow)?;
        match e.direction {
            Direction::Credit => {
                stmt.credit_count = stmt.credit_count.saturating_add(1);
                stmt.credit_minor = stmt
                    .credit_minor
                    .checked_add(e.amount_minor)
                    .ok_or_else(overflow)?;
            }
            Direction::Debit => {
                stmt.debit_count = stmt.debit_count.saturating_add(1);
                stmt.debit_minor = stmt
                    .debit_minor
                    .checked_add(e.amount_minor)
                    .ok_or_else(overflow)?;
            }
        }
        let details = entry.details.map(|d| d.lines).unwrap_or_default();
        let (narrative, counterparty_account, counterparty_name) =
            read_details(&details, entry.supplementary.as_deref());
        let booking = StatementBooking {
            line: entry.line,
            account: account.clone(),
            currency: opening.currency.clone(),
            booking_date: e.booking_date,
            value_date: Some(e.value_date),
            direction: e.direction,
            amount_minor: e.amount_minor,
            reversal: e.reversal,
            bank_ref: e.bank_ref,
            narrative,
            counterparty_account,
            counterparty_name,
            balance_after_minor: None,
        };
        self.doc.entries = self.doc.entries.saturating_add(1);
        sink(Record::Booking(booking))
    }

    /// Emits the summary of a finished statement (its checks passed at `:62F:`).
    fn end_statement(&mut self, sink: &mut Sink<'_>) -> Result<(), ReadError> {
        self.flush_entry(sink)?;
        let Some(stmt) = self.stmt.take() else {
            return Ok(());
        };
        let (Some(opening), Some(closing), Some(account)) =
            (stmt.opening, stmt.closing, stmt.account)
        else {
            return Err(ReadError::corrupt(
                stmt.line,
                None,
                "statement lacks :25:, :60F: or :62F:",
            ));
        };
        let statement_id = match &stmt.number {
            Some(n) => format!("{}/{n}", stmt.reference),
            None => stmt.reference.clone(),
        };
        self.previous = Some(Previous {
            line: closing.line,
            account: account.clone(),
            currency: closing.currency.clone(),
            closing_minor: closing.signed_minor,
        });
        self.doc.statements = self.doc.statements.saturating_add(1);
        sink(Record::Statement(StatementSummary {
            line: stmt.line,
            statement_id,
            account,
            currency: opening.currency,
            from_date: Some(opening.date),
            to_date: Some(closing.date),
            opening_minor: Some(opening.signed_minor),
            closing_minor: Some(closing.signed_minor),
            credit_count: stmt.credit_count,
            credit_minor: stmt.credit_minor,
            debit_count: stmt.debit_count,
            debit_minor: stmt.debit_minor,
        }))
    }

    fn finish(mut self, sink: &mut Sink<'_>) -> Result<Mt940Document, ReadError> {
        let last = self.last_line.max(1);
        if let Some(stmt) = &self.stmt {
            if stmt.stage < Stage::Closing {
                return Err(ReadError::corrupt(
                    last,
                    None,
                    format!(
                        "file ends inside the statement that starts on line {} (no closing \
                         balance :62F:/:62M:); truncated?",
                        stmt.line
                    ),
                ));
            }
        }
        if let Some(open) = self.open_block4 {
            return Err(ReadError::corrupt(
                last,
                None,
                format!("file ends inside the SWIFT block {{4: opened on line {open} (no -}})"),
            ));
        }
        self.end_statement(sink)?;
        if let Some(h) = self.header_line {
            return Err(ReadError::corrupt(
                last,
                None,
                format!("file ends after header lines (line {h}) without a statement; truncated?"),
            ));
        }
        if self.doc.statements == 0 {
            return Err(ReadError::corrupt(
                last,
                None,
                "no MT940 statement in the file",
            ));
        }
        Ok(self.doc)
    }
}

/// Non-empty, at most `max` characters.
fn check_text(line: u64, vcol: u64, text: &str, max: usize, what: &str) -> Result<(), ReadError> {
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

/// Closing-balance checks: currency, dates, arithmetic.
fn check_closing(stmt: &Stmt, bal: &Balance, vcol: u64) -> Result<(), ReadError> {
    let line = bal.line;
    let Some(opening) = &stmt.opening else {
        return Err(ReadError::corrupt(
            line,
            None,
            "closing balance without opening balance",
        ));
    };
    if bal.currency != opening.currency {
        return Err(ReadError::corrupt(
            line,
            Some(vcol.saturating_add(7)),
            format!(
                "closing balance currency {} differs from the opening balance's {} (line {})",
                bal.currency, opening.currency, opening.line
            ),
        ));
    }
    if bal.date < opening.date {
        return Err(ReadError::corrupt(
            line,
            Some(vcol.saturating_add(1)),
            format!(
                "closing balance date {} is before the opening balance date {} (line {})",
                bal.date, opening.date, opening.line
            ),
        ));
    }
    if let Some((latest, at)) = stmt.latest_booking {
        let limit = bal
            .date
            .checked_add_days(Days::new(BOOKING_DATE_TOLERANCE_DAYS))
            .unwrap_or(bal.date);
        if latest > limit {
            return Err(ReadError::corrupt(
                at,
                None,
                format!(
                    "booking date {latest} is more than {BOOKING_DATE_TOLERANCE_DAYS} days after \
                     the closing balance date {} (line {line})",
                    bal.date
                ),
            ));
        }
    }
    if stmt.running != bal.signed_minor {
        let cur = &bal.currency;
        return Err(ReadError::corrupt(
            line,
            Some(vcol),
            format!(
                "closing balance {} {cur} does not agree: opening {} + credits {} - debits {} = \
                 {} {cur}",
                fmt_minor(bal.signed_minor, cur),
                fmt_minor(opening.signed_minor, cur),
                fmt_minor(stmt.credit_minor, cur),
                fmt_minor(stmt.debit_minor, cur),
                fmt_minor(stmt.running, cur),
            ),
        ));
    }
    Ok(())
}

/// `1234,56` / `-12,05` in the currency's minor units.
fn fmt_minor(minor: i64, currency: &str) -> String {
    let exp = minor_exponent(currency);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let Some(unit) = 10u64.checked_pow(exp) else {
        return format!("{minor}");
    };
    if exp == 0 {
        return format!("{sign}{abs}");
    }
    let width = usize::try_from(exp).unwrap_or(0);
    format!("{sign}{},{:0width$}", abs / unit, abs % unit)
}

/// YYMMDD; `YY < 80` is 20YY, else 19YY.
fn yymmdd(s: &str) -> Option<NaiveDate> {
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
fn parse_balance(line: u64, value: &str, vcol: u64, tag: &str) -> Result<Balance, ReadError> {
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
fn parse_amount(text: &str, currency: &str) -> Result<i64, String> {
    if text.bytes().filter(|&c| c == b',').count() != 1 {
        return Err(format!(
            "amount '{text}' must have exactly one decimal comma"
        ));
    }
    parse_decimal_minor(text, currency, true)
}

/// What a `:61:` line says.
#[derive(Debug)]
struct Entry61 {
    value_date: NaiveDate,
    booking_date: NaiveDate,
    booking_col: u64,
    direction: Direction,
    reversal: bool,
    amount_minor: i64,
    bank_ref: Option<String>,
}

/// Parses the first line of a `:61:`; errors carry the column of the bad field.
fn parse_61(text: &str, vcol: u64, currency: &str) -> Result<Entry61, (u64, String)> {
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
    let rest = t.get(i..).unwrap_or("");
    let (customer, bank) = match rest.split_once("//") {
        Some((c, k)) => (c, Some(k)),
        None => (rest, None),
    };
    let customer = customer.trim_end();
    if customer.is_empty() {
        return Err((
            at(i),
            ":61: has no customer reference (NONREF when there is none)".into(),
        ));
    }
    if customer.chars().count() > 16 {
        return Err((
            at(i),
            ":61: customer reference is longer than 16 characters".into(),
        ));
    }
    let bank = bank.map(str::trim);
    if let Some(k) = bank {
        let kcol = at(i + customer.len() + 2);
        if k.is_empty() || k.chars().count() > 16 {
            return Err((
                kcol,
                ":61: bank reference must be 1 to 16 characters".into(),
            ));
        }
    }
    let bank_ref = match bank {
        Some(k) => Some(k.to_owned()),
        None if customer == "NONREF" => None,
        None => Some(customer.to_owned()),
    };
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

/// Narrative and counterparty from `:86:` lines (or the `:61:` supplementary details).
fn read_details(
    lines: &[String],
    supplementary: Option<&str>,
) -> (String, Option<String>, Option<String>) {
    let joined: String = lines.concat();
    if let Some(fields) = structured(&joined) {
        let mut purpose = String::new();
        let mut account = String::new();
        let mut name = String::new();
        let mut booking_text = String::new();
        for (code, text) in fields {
            match code {
                0 => booking_text.push_str(text),
                20..=29 | 60..=63 => purpose.push_str(text),
                31 => account.push_str(text),
                32 | 33 => name.push_str(text),
                _ => {}
            }
        }
        let some = |s: &str| {
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_owned())
        };
        let narrative = some(&purpose)
            .or_else(|| some(&booking_text))
            .unwrap_or_else(|| spaced(lines));
        return (narrative, some(&account), some(&name));
    }
    let narrative = if lines.is_empty() {
        supplementary.map(str::trim).unwrap_or("").to_owned()
    } else {
        spaced(lines)
    };
    (narrative, None, None)
}

/// Lines joined with one space, trimmed.
fn spaced(lines: &[String]) -> String {
    let parts: Vec<&str> = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    parts.join(" ")
}

/// German structured details: `GVC` (3 digits), then `?NN` subfields. Line breaks are not
/// separators there (subfields wrap mid-word), so `text` is the lines concatenated.
fn structured(text: &str) -> Option<Vec<(u32, &str)>> {
    let t = text.trim_start();
    let b = t.as_bytes();
    if !(b.get(0..3)?.iter().all(u8::is_ascii_digit) && b.get(3) == Some(&b'?')) {
        return None;
    }
    let is_mark = |i: usize| {
        b.get(i) == Some(&b'?')
            && b.get(i + 1).is_some_and(u8::is_ascii_digit)
            && b.get(i + 2).is_some_and(u8::is_ascii_digit)
    };
    let mut out = Vec::new();
    let mut i = 3;
    if !is_mark(i) {
        return None;
    }
    while i < b.len() {
        let code: u32 = t.get(i + 1..i + 3)?.parse().ok()?;
        let start = i + 3;
        let mut j = start;
        while j < b.len() && !is_mark(j) {
            j += 1;
        }
        out.push((code, t.get(start..j)?));
        i = j;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> String {
        crate::bankfiles::real_samples_dir()
            .join("mt940")
            .display()
            .to_string()
    }

    fn read(input: &[u8]) -> (Result<Mt940Document, ReadError>, Vec<Record>) {
        let mut out = Vec::new();
        let res = read_mt940(input, &mut |r: Record| {
            out.push(r);
            Ok(())
        });
        (res, out)
    }

    fn ok(input: &str) -> (Mt940Document, Vec<Record>) {
        let (res, out) = read(input.as_bytes());
        (res.unwrap(), out)
    }

    fn err_at(input: &[u8]) -> (u64, Option<u64>, String) {
        match read(input).0 {
            Err(ReadError::Corrupt {
                line,
                byte,
                message,
            }) => (line, byte, message),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    fn bookings(out: &[Record]) -> Vec<&StatementBooking> {
        out.iter()
            .filter_map(|r| match r {
                Record::Booking(b) => Some(b),
                _ => None,
            })
            .collect()
    }

    fn summaries(out: &[Record]) -> Vec<&StatementSummary> {
        out.iter()
            .filter_map(|r| match r {
                Record::Statement(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// One statement around `body` (the `:61:`/`:86:` lines), opening and closing given.
    fn stmt(open: &str, body: &str, close: &str) -> String {
        format!(":20:REF\n:25:ACC1\n:28C:1/1\n:60F:{open}\n{body}:62F:{close}\n-\n")
    }

    fn sample_files() -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(samples())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
    }

    #[test]
    fn no_prefix_of_any_sample_panics() {
        for path in sample_files() {
            let data = std::fs::read(&path).unwrap();
            let step = (data.len() / 400).max(1);
            for n in (0..data.len()).step_by(step) {
                let _ = read(&data[..n]);
                let mut flipped = data.clone();
                flipped[n] ^= 0x20;
                let _ = read(&flipped);
            }
        }
    }

    #[test]
    fn cmxl_sample_exact_bookings() {
        let data = std::fs::read(format!("{}/mt940rs-full-cmxl-mt940_1.sta", samples())).unwrap();
        let (res, out) = read(&data);
        assert_eq!(
            res.unwrap(),
            Mt940Document {
                statements: 1,
                entries: 2
            }
        );
        let b = bookings(&out);
        // `DR800,`: D, funds code R (third letter of EUR), 800,00.
        assert_eq!(b[0].line, 6);
        assert_eq!(b[0].direction, Direction::Debit);
        assert!(!b[0].reversal);
        assert_eq!(b[0].amount_minor, 80_000);
        assert_eq!(b[0].value_date, Some(d(2002, 11, 1)));
        assert_eq!(b[0].booking_date, d(2002, 11, 2));
        assert_eq!(b[0].bank_ref.as_deref(), Some("55555"));
        assert_eq!(b[0].narrative, "Miete November");
        assert_eq!(b[0].counterparty_account.as_deref(), Some("234567"));
        assert_eq!(b[0].counterparty_name.as_deref(), Some("MUELLER"));
        assert_eq!(b[1].direction, Direction::Credit);
        assert_eq!(b[1].amount_minor, 300_000);
        assert_eq!(b[1].counterparty_account.as_deref(), Some("0847564700"));
        let s = summaries(&out);
        assert_eq!(s[0].statement_id, "1234567/5/1");
        assert_eq!(s[0].account, "10020030/1234567");
        assert_eq!(s[0].opening_minor, Some(218_795));
        assert_eq!(s[0].closing_minor, Some(438_795));
        assert_eq!(s[0].to_date, Some(d(2002, 11, 30)));
    }

    #[test]
    fn rabobank_and_betterplace_samples_exact_bookings() {
        let data = std::fs::read(format!(
            "{}/mt940rs-full-jejik-rabobank-iban.sta",
            samples()
        ))
        .unwrap();
        let (res, out) = read(&data);
        assert_eq!(
            res.unwrap(),
            Mt940Document {
                statements: 2,
                entries: 4
            }
        );
        let b = bookings(&out);
        assert_eq!(b[0].line, 6);
        assert_eq!(b[0].account, "NL71RABO0123456789");
        assert_eq!(b[0].amount_minor, 2_500);
        assert_eq!(b[0].direction, Direction::Debit);
        assert_eq!(b[0].booking_date, d(2013, 1, 1));
        assert_eq!(b[0].bank_ref.as_deref(), Some("EREF"));
        assert_eq!(
            b[0].narrative,
            "/EREF/01-01-2013 12:00 0030000987654321/BENM//NAME/CONTRA ACCOUN T HOLDER/REMI//ISDT/2013-07-11"
        );
        assert_eq!(b[1].bank_ref, None);
        let s = summaries(&out);
        assert_eq!(s[0].statement_id, "940S130101/0");
        assert_eq!(s[1].opening_minor, Some(96_500));
        assert_eq!(s[1].closing_minor, Some(93_000));

        let data = std::fs::read(format!(
            "{}/mt940rs-full-betterplace-sepa_mt9401.sta",
            samples()
        ))
        .unwrap();
        let (res, out) = read(&data);
        assert_eq!(
            res.unwrap(),
            Mt940Document {
                statements: 26,
                entries: 97
            }
        );
        let b = bookings(&out);
        // `:61:0709040904RCR204,88NRTINONREF`: reversal of a credit, funds code R.
        let rc = b.iter().find(|x| x.line == 19).unwrap();
        assert_eq!(rc.direction, Direction::Debit);
        assert!(rc.reversal);
        assert_eq!(rc.amount_minor, 20_488);
        assert_eq!(rc.bank_ref, None);
        assert_eq!(rc.narrative, "0904059003");
        let s = summaries(&out);
        assert_eq!(s[0].opening_minor, Some(-123_471_836));
        assert_eq!(s[0].closing_minor, Some(-123_762_823));
    }

    #[test]
    fn rd_and_rc_are_reversals_with_their_balance_effect() {
        let body = ":61:240102RD10,00NTRFNONREF\n:61:240102RC3,00NTRFNONREF\n";
        let (doc, out) = ok(&stmt("C240102EUR1,00", body, "C240102EUR8,00"));
        assert_eq!(doc.entries, 2);
        let b = bookings(&out);
        assert_eq!((b[0].direction, b[0].reversal), (Direction::Credit, true));
        assert_eq!((b[1].direction, b[1].reversal), (Direction::Debit, true));
        let s = summaries(&out);
        assert_eq!((s[0].credit_count, s[0].credit_minor), (1, 1_000));
        assert_eq!((s[0].debit_count, s[0].debit_minor), (1, 300));
    }

    #[test]
    fn entry_date_crosses_year_end_both_ways() {
        let body = ":61:2312310102C1,00NTRFNONREF\n:61:2401021231C1,00NTRFNONREF\n";
        let (_, out) = ok(&stmt("C231231EUR0,00", body, "C240102EUR2,00"));
        let b = bookings(&out);
        assert_eq!(b[0].value_date, Some(d(2023, 12, 31)));
        assert_eq!(b[0].booking_date, d(2024, 1, 2));
        assert_eq!(b[1].value_date, Some(d(2024, 1, 2)));
        assert_eq!(b[1].booking_date, d(2023, 12, 31));
    }

    #[test]
    fn entry_date_absent_means_booking_on_value_date() {
        let (_, out) = ok(&stmt(
            "C240102EUR0,00",
            ":61:240102C1,00NTRFREF1\n",
            "C240102EUR1,00",
        ));
        let b = bookings(&out);
        assert_eq!(b[0].booking_date, d(2024, 1, 2));
        assert_eq!(b[0].value_date, Some(d(2024, 1, 2)));
        assert_eq!(b[0].bank_ref.as_deref(), Some("REF1"));
    }

    #[test]
    fn booking_date_far_outside_the_statement_is_refused() {
        let e = err_at(
            stmt(
                "C240301EUR0,00",
                ":61:2401150115C1,00NTRFNONREF\n",
                "C240301EUR1,00",
            )
            .as_bytes(),
        );
        assert_eq!((e.0, e.1), (5, Some(11)));
        let e = err_at(
            stmt(
                "C240301EUR0,00",
                ":61:240320C1,00NTRFNONREF\n",
                "C240301EUR1,00",
            )
            .as_bytes(),
        );
        assert_eq!(e.0, 5);
        assert!(e.2.contains("after the closing"), "{}", e.2);
    }

    #[test]
    fn details_continuation_lines_are_joined() {
        let body =
            ":61:240102C1,00NTRFNONREF//B1\nSUPPLEMENTARY\n:86:first line  \n second\nthird\n";
        let (_, out) = ok(&stmt("C240102EUR0,00", body, "C240102EUR1,00"));
        let b = bookings(&out);
        assert_eq!(b[0].narrative, "first line second third");
        assert_eq!(b[0].bank_ref.as_deref(), Some("B1"));
        // without :86: the supplementary details are the narrative
        let body = ":61:240102C1,00NTRFNONREF\nCard payment\n";
        let (_, out) = ok(&stmt("C240102EUR0,00", body, "C240102EUR1,00"));
        assert_eq!(bookings(&out)[0].narrative, "Card payment");
    }

    #[test]
    fn absurd_details_and_lines_are_refused() {
        let long = "X".repeat(65);
        let mut body = String::from(":61:240102C1,00NTRFNONREF\n:86:start\n");
        for _ in 0..40 {
            body.push_str(&long);
            body.push('\n');
        }
        let e = err_at(stmt("C240102EUR0,00", &body, "C240102EUR1,00").as_bytes());
        assert!(e.2.contains("longer than"), "{}", e.2);
        let line = format!(":20:{}\n", "A".repeat(MAX_LINE_BYTES + 10));
        let e = err_at(line.as_bytes());
        assert_eq!(e.0, 1);
    }

    #[test]
    fn two_messages_chain_and_a_break_is_refused() {
        let first = stmt(
            "C240102EUR10,00",
            ":61:240102D1,00NTRFNONREF\n",
            "C240102EUR9,00",
        );
        let second = stmt("C240102EUR9,00", "", "C240103EUR9,00");
        let (doc, out) = ok(&format!("{first}{second}"));
        assert_eq!(
            doc,
            Mt940Document {
                statements: 2,
                entries: 1
            }
        );
        assert_eq!(summaries(&out)[1].line, 8);
        let broken = stmt("C240102EUR9,01", "", "C240103EUR9,01");
        let e = err_at(format!("{first}{broken}").as_bytes());
        assert_eq!((e.0, e.1), (11, Some(6)));
        // another account does not chain
        let other = broken.replace("ACC1", "ACC2");
        let (doc, _) = ok(&format!("{first}{other}"));
        assert_eq!(doc.statements, 2);
    }

    #[test]
    fn balance_off_by_one_cent_is_refused_at_the_closing_line() {
        let e = err_at(
            stmt(
                "C240102EUR10,00",
                ":61:240102D1,00NTRFNONREF\n",
                "C240102EUR9,01",
            )
            .as_bytes(),
        );
        assert_eq!((e.0, e.1), (6, Some(6)));
        assert!(e.2.contains("9,01") && e.2.contains("= 9,00"), "{}", e.2);
    }

    #[test]
    fn thirtieth_of_february_is_refused_with_its_column() {
        let e = err_at(
            stmt(
                "C240228EUR0,00",
                ":61:2402300230C1,00NTRFNONREF\n",
                "C240229EUR1,00",
            )
            .as_bytes(),
        );
        assert_eq!((e.0, e.1), (5, Some(5)));
        let e = err_at(
            stmt(
                "C240228EUR0,00",
                ":61:2402290230C1,00NTRFNONREF\n",
                "C240229EUR1,00",
            )
            .as_bytes(),
        );
        assert_eq!((e.0, e.1), (5, Some(11)));
        let e = err_at(stmt("C240230EUR0,00", "", "C240229EUR0,00").as_bytes());
        assert_eq!((e.0, e.1), (4, Some(7)));
    }

    #[test]
    fn truncated_file_names_its_last_line() {
        let full = stmt(
            "C240102EUR0,00",
            ":61:240102C1,00NTRFNONREF\n:86:x\n",
            "C240102EUR1,00",
        );
        let cut: String = full.lines().take(6).map(|l| format!("{l}\n")).collect();
        let e = err_at(cut.as_bytes());
        assert_eq!(e.0, 6);
        assert!(e.2.contains("truncated"), "{}", e.2);
        let e = err_at(
            b"{1:F01X}{2:I940X}{4:\n:20:A\n:25:B\n:60F:C240102EUR0,00\n:62F:C240102EUR0,00\n",
        );
        assert_eq!(e.0, 5);
        assert!(e.2.contains("{4:"), "{}", e.2);
        let e = err_at(b"ABNANL2A\n940\nABNANL2A\n");
        assert_eq!(e.0, 3);
    }

    #[test]
    fn crlf_blocks_and_eof_mark() {
        let text = stmt(
            "C240102EUR0,00",
            ":61:240102C1,00NTRFNONREF\n:86:a\nb\n",
            "C240102EUR1,00",
        );
        let crlf = text.replace('\n', "\r\n");
        let (doc, out) = ok(&crlf);
        assert_eq!(doc.entries, 1);
        assert_eq!(bookings(&out)[0].narrative, "a b");
        let (doc, _) = ok(&format!("{crlf}\x1a"));
        assert_eq!(doc.statements, 1);
        let (doc, _) = ok(&format!("{text}\x1a\n\n"));
        assert_eq!(doc.statements, 1);
        let e = err_at(format!("{text}\x1a\n{text}").as_bytes());
        assert_eq!(e.0, 11);
        let wrapped = format!(
            "{{1:F01ABNANL2AXXXX0000000000}}{{2:I940ABNANL2AXXXXN}}{{3:{{108:X}}}}{{4:\n{}-}}{{5:{{CHK:1}}}}\n",
            text.trim_end_matches("-\n")
        );
        let (doc, _) = ok(&wrapped);
        assert_eq!(doc.statements, 1);
    }

    #[test]
    fn empty_input_is_refused() {
        assert_eq!(err_at(b"").0, 1);
        assert_eq!(err_at(b"\r\n\n").0, 1);
    }

    #[test]
    fn huge_amounts_are_exact_or_refused() {
        let (_, out) = ok(&stmt(
            "C240102EUR0,00",
            ":61:240102C999999999999999,99NTRFNONREF\n",
            "C240102EUR999999999999999,99",
        ));
        assert_eq!(bookings(&out)[0].amount_minor, 99_999_999_999_999_999);
        let e = err_at(
            stmt(
                "C240102EUR0,00",
                ":61:240102C9999999999999999,00NTRFNONREF\n",
                "C240102EUR0,00",
            )
            .as_bytes(),
        );
        assert_eq!((e.0, e.1), (5, Some(12)));
        let body = ":61:240102C999999999999999,99NTRFNONREF\n".repeat(100);
        let e = err_at(stmt("C240102EUR0,00", &body, "C240102EUR0,00").as_bytes());
        assert!(e.2.contains("overflow"), "{}", e.2);
    }

    #[test]
    fn strictness() {
        // invalid UTF-8 names line and byte
        let mut bad = stmt(
            "C240102EUR0,00",
            ":61:240102C1,00NTRFNONREF\n:86:ab\n",
            "C240102EUR1,00",
        )
        .into_bytes();
        let at = bad.iter().position(|&c| c == b'b').unwrap();
        bad[at] = 0xA0;
        assert_eq!(err_at(&bad).0, 6);
        assert_eq!(err_at(&bad).1, Some(6));
        // unknown tag
        let e = err_at(stmt("C240102EUR0,00", ":99:x\n", "C240102EUR0,00").as_bytes());
        assert_eq!((e.0, e.1), (5, Some(1)));
        // missing :25:
        let e = err_at(b":20:A\n:60F:C240102EUR0,00\n:62F:C240102EUR0,00\n");
        assert_eq!(e.0, 2);
        // currency mismatch
        let e = err_at(stmt("C240102EUR0,00", "", "C240102USD0,00").as_bytes());
        assert_eq!((e.0, e.1), (5, Some(13)));
        // a sink that stops ends the read
        let text = stmt(
            "C240102EUR0,00",
            ":61:240102C1,00NTRFNONREF\n",
            "C240102EUR1,00",
        );
        let res = read_mt940(text.as_bytes(), &mut |_r: Record| Err(ReadError::Stopped));
        assert!(matches!(res, Err(ReadError::Stopped)));
    }
}
