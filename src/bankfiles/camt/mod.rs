//! Streaming reader for ISO 20022 bank-to-customer cash management messages:
//! camt.052 (account report, `Rpt`), camt.053 (statement, `Stmt`) and camt.054
//! (debit/credit notification, `Ntfctn`), versions `.001.02` to `.001.08`.
//!
//! The reader never builds a tree of the document. It walks quick-xml events, keeps only the
//! envelope of the statement it is inside (identifier, account, balances, running totals) and
//! the entry it is inside, and hands every booked entry to the sink as soon as its `Ntry`
//! element ends. After the statement's last entry, once its control totals agree, it hands on
//! a [`StatementSummary`]. If a later check fails, bookings of that statement have already
//! reached the sink: a sink must treat any `Err` from [`read_camt`] as "discard the whole
//! file".
//!
//! Decisions:
//! - **Only booked entries are emitted.** An entry whose status (`Sts` in .02–.06, `Sts/Cd`
//!   in .07+) is not `BOOK` (pending `PDNG`, `INFO`, `FUTR`, ...) is checked (amount,
//!   currency, direction) and counted in [`CamtDocument::skipped_not_booked`], but not handed
//!   on and not part of the balance check. `TxsSummry` totals are compared with *all* entries
//!   of the statement, whatever their status, as the banks' own samples count them.
//! - **Versions.** Any `camt.05X.001.NN` with NN from 02 to 08 is accepted: every element
//!   this reader uses has the same path in all of them, and the two shapes that changed
//!   (status code, `TtlNetNtryAmt` vs `TtlNetNtry`, party name directly or under `Pty`) are
//!   read in either shape.
//! - **Reversals.** `RvslInd` = true sets [`StatementBooking::reversal`]; `CdtDbtInd` is
//!   already the effect on the balance and is never flipped.
//! - **Balances.** Opening is `OPBD`, else `PRCD`; closing is `CLBD`. When both are present,
//!   opening + booked entries (credit +, debit −) must equal closing. One exception is
//!   accepted, because PostFinance's real statements do it: a `CLBD` dated D may leave out
//!   booked entries whose value date is after D (those are in the forward balance `FWAV`);
//!   the statement is accepted only if opening + the booked entries value-dated on or before
//!   D equals closing exactly. All balances and entry amounts of a statement must be in one
//!   currency.
//! - **Batches.** Under `NtryDtls`, a `Btch/NbOfTxs` is compared with the number of `TxDtls`
//!   when there are two or more `TxDtls` (the batch is itemised). A single `TxDtls` under a
//!   batch of several transactions describes the batch as a whole (the Finnish banks' sample
//!   statement does this) and is accepted. `Btch/TtlAmt` must equal the sum of the `TxDtls`
//!   amounts when every `TxDtls` has one.
//! - **Charges.** From .03 on, a `Chrgs` with `TtlChrgsAndTaxAmt` and `Rcrd` records must
//!   have the total equal the records' sum. In .02 a `Chrgs` holds a single charge with an
//!   optional total of *all* charges of the entry, which cannot be checked from one record:
//!   .02 charges are read past, not checked.
//! - **Line numbers** are 1-based and point at the line where the offending element's start
//!   tag begins (a line break is LF, CRLF or a lone CR). Errors about a whole statement point
//!   at the element that disagrees (the `CLBD` amount, the `TxsSummry` total). For malformed
//!   XML the line is where the parser stopped, which is within the broken construct.
//! - **Limits.** Any single XML item (tag, text, comment) over 128 KiB of input, any element's
//!   text over 64 KiB, or nesting deeper than 64 elements is refused. The narrative built from
//!   many `Ustrd` lines is cut at 64 KiB (marked with `…`).
//!
//! Layout: this file (public API, the XML event loop, the state types), `events` (the
//! streaming event machine, message detection by namespace), `statement` (balances and
//! statement checks), `entry` (entry and transaction-detail builders), `values` (value
//! parsing), `lines` (line counting under quick-xml).
//!
//! [`StatementSummary`]: super::records::StatementSummary
//! [`StatementBooking::reversal`]: super::records::StatementBooking::reversal

mod entry;
mod events;
mod lines;
mod statement;
#[cfg(test)]
mod tests;
mod values;

use std::io::{self, BufRead};

use chrono::NaiveDate;
use quick_xml::events::{BytesRef, Event};
use quick_xml::Reader;

use super::records::{Direction, ReadError, Sink};
use lines::LineCounter;

/// Longest text content of one element that is accepted.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Longest single XML item (tag, text run, comment) in input bytes.
const MAX_EVENT_BYTES: u64 = 128 * 1024;
/// Deepest element nesting accepted (camt needs about 15).
const MAX_DEPTH: usize = 64;
/// Namespace prefix shared by every ISO 20022 message.
const ISO_NS: &str = "urn:iso:std:iso:20022:tech:xsd:";

/// Which camt message the caller expects (the spec id chosen by the operator).
///
/// Its text (strum) is the message id without version, e.g. `camt.053`: the reader's spec id.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::AsRefStr,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::Display,
)]
pub enum CamtMessage {
    /// camt.052 bank-to-customer account report (`BkToCstmrAcctRpt`/`Rpt`).
    #[strum(serialize = "camt.052")]
    Camt052,
    /// camt.053 bank-to-customer statement (`BkToCstmrStmt`/`Stmt`).
    #[strum(serialize = "camt.053")]
    Camt053,
    /// camt.054 bank-to-customer debit/credit notification (`BkToCstmrDbtCdtNtfctn`/`Ntfctn`).
    #[strum(serialize = "camt.054")]
    Camt054,
}

impl CamtMessage {
    fn describe(self) -> &'static str {
        match self {
            CamtMessage::Camt052 => "camt.052 (account report)",
            CamtMessage::Camt053 => "camt.053 (account statement)",
            CamtMessage::Camt054 => "camt.054 (debit/credit notification)",
        }
    }

    fn message_element(self) -> &'static str {
        match self {
            CamtMessage::Camt052 => "BkToCstmrAcctRpt",
            CamtMessage::Camt053 => "BkToCstmrStmt",
            CamtMessage::Camt054 => "BkToCstmrDbtCdtNtfctn",
        }
    }

    fn statement_element(self) -> &'static str {
        match self {
            CamtMessage::Camt052 => "Rpt",
            CamtMessage::Camt053 => "Stmt",
            CamtMessage::Camt054 => "Ntfctn",
        }
    }

    fn from_digit(d: u8) -> Option<Self> {
        match d {
            b'2' => Some(CamtMessage::Camt052),
            b'3' => Some(CamtMessage::Camt053),
            b'4' => Some(CamtMessage::Camt054),
            _ => None,
        }
    }
}

/// What was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CamtDocument {
    /// The message found (always the one expected: anything else is refused).
    pub message: CamtMessage,
    /// Full message id with version, e.g. `camt.053.001.08`.
    pub version: String,
    /// Number of statements (`Stmt`, `Rpt` or `Ntfctn`) read and handed on.
    pub statements: u64,
    /// Number of booked entries handed to the sink.
    pub entries: u64,
    /// Number of entries that were not booked (pending, information only) and so not handed on.
    pub skipped_not_booked: u64,
}

/// Reads one camt message from `input`, handing each booked entry and then each statement's
/// summary to `sink`. See the module documentation for what is checked.
pub fn read_camt<R: BufRead>(
    input: R,
    expect: CamtMessage,
    sink: &mut Sink<'_>,
) -> Result<CamtDocument, ReadError> {
    let mut reader = Reader::from_reader(LineCounter::new(input));
    {
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.trim_text(false);
    }
    let mut parser = Parser::new(expect);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        reader.get_mut().event_bytes = 0;
        let before = reader.get_ref().line;
        let event = reader.read_event_into(&mut buf);
        let after = reader.get_ref().line;
        match event {
            Err(err) => return Err(xml_error(&err, reader.get_ref().limit_hit, after)),
            Ok(Event::Start(start)) => parser.start(&start, before)?,
            Ok(Event::Empty(start)) => {
                parser.start(&start, before)?;
                parser.end(after, sink)?;
            }
            Ok(Event::End(_)) => parser.end(after, sink)?,
            Ok(Event::Text(text)) => {
                let s = text.xml_content().map_err(|e| bad_text(before, &e))?;
                parser.text(&s, before)?;
            }
            Ok(Event::CData(data)) => {
                let s = data.xml_content().map_err(|e| bad_text(before, &e))?;
                parser.text(&s, before)?;
            }
            Ok(Event::GeneralRef(reference)) => {
                parser.text(&resolve_ref(&reference, before)?, before)?;
            }
            Ok(Event::Eof) => return parser.finish(after),
            Ok(Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_)) => {}
        }
    }
}

/// Why quick-xml stopped: the item-size limit, an I/O error, or XML that is not well-formed.
fn xml_error(err: &quick_xml::Error, limit_hit: bool, after: u64) -> ReadError {
    if limit_hit {
        return ReadError::corrupt(
            after,
            None,
            format!(
                "a single XML item (tag, text or comment) is longer than {} KiB",
                MAX_EVENT_BYTES / 1024
            ),
        );
    }
    if let quick_xml::Error::Io(io_err) = err {
        return ReadError::Io(io::Error::new(io_err.kind(), io_err.to_string()));
    }
    ReadError::corrupt(
        after,
        None,
        format!("the file is not well-formed XML: {err}"),
    )
}

/// The text of a character reference or one of the five predefined entities.
fn resolve_ref(reference: &BytesRef<'_>, before: u64) -> Result<String, ReadError> {
    match reference.resolve_char_ref() {
        Ok(Some(ch)) => Ok(ch.to_string()),
        Ok(None) => {
            let name = reference.decode().map_err(|e| bad_text(before, &e))?;
            match quick_xml::escape::resolve_predefined_entity(&name) {
                Some(s) => Ok(s.to_string()),
                None => Err(ReadError::corrupt(
                    before,
                    None,
                    format!("unknown XML entity '&{name};'"),
                )),
            }
        }
        Err(e) => Err(ReadError::corrupt(
            before,
            None,
            format!("bad XML character reference: {e}"),
        )),
    }
}

fn bad_text(line: u64, err: &dyn std::fmt::Display) -> ReadError {
    ReadError::corrupt(line, None, format!("text is not valid UTF-8: {err}"))
}
/// An open element.
struct Open {
    name: String,
    line: u64,
    ccy: Option<String>,
}

/// An amount as read, with where it was.
#[derive(Clone)]
struct Money {
    minor: i64,
    ccy: String,
    line: u64,
}

#[derive(Default)]
struct BalanceBuilder {
    code: Option<String>,
    amount: Option<Money>,
    dir: Option<Direction>,
    date: Option<NaiveDate>,
    line: u64,
}

struct Balance {
    code: String,
    signed: i64,
    ccy: String,
    line: u64,
    date: Option<NaiveDate>,
}

/// A `TxsSummry` value as text with its line (parsed at the statement's end, once the
/// statement's currency is certain).
type Stated = Option<(String, u64)>;

#[derive(Default)]
struct Summary {
    ttl_nb: Stated,
    ttl_sum: Stated,
    ttl_net: Stated,
    ttl_net_dir: Stated,
    cdt_nb: Stated,
    cdt_sum: Stated,
    dbt_nb: Stated,
    dbt_sum: Stated,
}

#[derive(Default, Clone)]
struct TxInfo {
    acct_svcr_ref: Option<String>,
    end_to_end: Option<String>,
    dbtr_name: Option<String>,
    dbtr_acct: Option<String>,
    cdtr_name: Option<String>,
    cdtr_acct: Option<String>,
    amount: Option<Money>,
    amount_alt: Option<Money>,
}

#[derive(Default)]
struct Group {
    nb_of_txs: Option<(u64, u64)>,
    ttl_amt: Option<Money>,
    tx_count: u64,
    tx_sum: i64,
    all_have_amounts: bool,
    ccys: Option<String>,
    mixed_ccy: bool,
}

#[derive(Default)]
struct Charges {
    total: Option<Money>,
    records: u64,
    net: i64,
    abs_sum: i64,
    saw_credit: bool,
    saw_debit: bool,
    rec_amount: Option<Money>,
    rec_dir: Option<Direction>,
}

#[derive(Default)]
struct Entry {
    line: u64,
    amount: Option<Money>,
    dir: Option<Direction>,
    reversal: bool,
    status: Option<String>,
    booking_date: Option<NaiveDate>,
    value_date: Option<NaiveDate>,
    acct_svcr_ref: Option<String>,
    addtl_inf: Option<String>,
    prtry_code: Option<String>,
    domain: Vec<String>,
    ustrd: String,
    ustrd_cut: bool,
    tx_count: u64,
    first_tx: TxInfo,
    tx: TxInfo,
    group: Option<Group>,
}

#[derive(Default)]
struct Totals {
    count: u64,
    sum: i64,
}

#[derive(Default)]
struct StmtState {
    line: u64,
    id: Option<String>,
    account: Option<String>,
    ccy: Option<(String, u64, &'static str)>,
    from_date: Option<NaiveDate>,
    to_date: Option<NaiveDate>,
    bal: Option<BalanceBuilder>,
    opbd: Option<Balance>,
    prcd: Option<Balance>,
    clbd: Option<Balance>,
    summary: Summary,
    entry: Option<Entry>,
    charges: Option<Charges>,
    // All entries, whatever their status (for TxsSummry).
    all_count: u64,
    all_abs: i64,
    all_net: i64,
    all_cdt: Totals,
    all_dbt: Totals,
    // Booked entries.
    booked_cdt: Totals,
    booked_dbt: Totals,
    booked_net: i64,
    /// Booked entries value-dated after the closing balance's date.
    forward_net: i64,
}

struct Parser {
    expect: CamtMessage,
    version: Option<String>,
    version_nn: u32,
    stack: Vec<Open>,
    text: String,
    seen_root: bool,
    root_done: bool,
    statements: u64,
    entries: u64,
    skipped: u64,
    stmt: Option<StmtState>,
}
