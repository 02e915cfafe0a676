//! SWIFT MT940 customer statement reader (streaming).
//!
//! Reads line by line and hands each booking (`:61:` with its `:86:`) to the sink as soon as
//! the next field starts, and each statement's summary once its closing balance has been
//! checked. Memory is bounded by one line ([`MAX_LINE_BYTES`]) and one booking's details
//! ([`MAX_DETAILS_BYTES`]), never by the file.
//!
//! What is accepted around the statements: SWIFT blocks `{1:..}{2:..}{3:..}{4:` and the `-}`
//! end (with an optional `{5:..}` trailer, and the next message's `{1:..}..{4:` on the same
//! line), SOH (0x01) … ETX (0x03) framing around each message (mBank, PostFinance: SOH at the
//! start of a line, ETX at the end of one, `-}` ETX SOH `{1:` between two messages), bank
//! preamble lines before a `:20:` (ABN AMRO `ABNANL2A` / `940`, ING `0000 01INGB...` /
//! `940 00`, Rabobank `:940:`), `-` / `-}` / `-XXX` message terminators, several messages per
//! file (with or without terminators), CRLF or LF, blank lines, and a 0x1A end-of-file mark
//! after which only blank lines may follow.
//!
//! Decisions (the report that came with this file explains them):
//! - Two-digit years: `YY < 80` is `20YY`, otherwise `19YY`.
//! - The `:61:` entry date (MMDD) takes the year that puts it closest to the value date. The
//!   booking date (entry date, or value date where there is none) must lie within
//!   [`BOOKING_DATE_TOLERANCE_DAYS`] of the statement: not before the opening balance date
//!   minus the tolerance, not after the closing balance date plus the tolerance. The closing
//!   date may not precede the opening date.
//! - `:86:` may take several lines; more than [`MAX_DETAILS_BYTES`] bytes is refused.
//!   Several `:86:` in a row after a `:61:` are all that booking's details (Danske Bank, ING
//!   write one subfield group per `:86:`), counted together against [`MAX_DETAILS_BYTES`].
//!   `:86:` right after the opening balance (before the first `:61:`, Danske Bank's account
//!   information) and after the closing balances are the statement's own information: any
//!   number of them, each bounded like a booking's, read and not kept. The balance checks do
//!   not depend on field order: the closing balance must still equal opening + bookings.
//! - German structured details (`GVC?00..?20..?32..`) give the narrative (purpose lines
//!   `?20`–`?29`, `?60`–`?63`), the counterparty account (`?31`) and name (`?32`+`?33`).
//!   Other details are joined line by line with one space.
//! - Consecutive statements for the same account and currency must chain (one's closing =
//!   the next one's opening); statements for different accounts (or currencies) are
//!   independent and not compared.
//! - Strict: unknown tags, text where no field continues, invalid UTF-8 and bad dates are
//!   refused with the line and, where it applies, the byte (1-based column).
//!
//! Layout: this file (public API and the parser's state), `framing` (lines, SWIFT blocks,
//! terminators), `fields` (one function per tag), `statement` (bookings, closing checks,
//! summaries), `values` (dates, balances, amounts, `:61:`), `details` (`:86:`).

mod details;
mod fields;
mod framing;
mod statement;
#[cfg(test)]
mod tests;
mod values;

use std::io::BufRead;

use chrono::NaiveDate;

#[cfg(doc)]
use super::records::Record;
use super::records::{ReadError, Sink};

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
pub fn read_mt940<R: BufRead>(input: R, sink: &mut Sink<'_>) -> Result<Mt940Document, ReadError> {
    let mut parser = Parser::default();
    framing::each_line(input, |line_no, text| {
        parser.last_line = line_no;
        parser.framed_line(line_no, text, sink)
    })?;
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
    /// A statement-level `:86:` (after the opening or the closing balances) whose
    /// continuation lines are being read.
    info: Option<Details>,
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
    /// SOH (0x01) seen on this line, its ETX (0x03) not yet; with the statements read before.
    open_soh: Option<(u64, u64)>,
    /// A header or preamble line not yet followed by a statement.
    header_line: Option<u64>,
    last_line: u64,
}
