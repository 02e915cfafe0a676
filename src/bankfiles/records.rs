//! Canonical records: what every bank-file reader produces, whatever the file looked like.
//!
//! A reader never collects a file: it hands each record to a sink as soon as it is read and
//! checked, so a million-line file is never in memory as a whole. Amounts are `i64` minor
//! units; times are Beijing wall-clock time (every file we receive states times in Beijing
//! time, and the business date is a Beijing date).
//!
//! Depends on: `text` (the closed sets) only inside the crate (chrono, serde, strum, thiserror
//! outside it).

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

crate::text_enum! {
    /// What an acquirer's detail line says happened (stored and shown as its snake_case name,
    /// through strum).
    #[derive(Hash)]
    pub enum SettlementKind as "settlement kind" {
        /// A sale (消费).
        Purchase,
        /// A same-day cancellation of a purchase (消费撤销 / 撤销).
        Void,
        /// A later-day return of a purchase (退货 / 退款).
        Refund,
        /// An acquirer's correction (调账).
        Adjustment,
    }
}

/// One transaction from an acquirer's settlement detail file.
///
/// Signs are the merchant's view: a purchase has positive `gross_minor`, a void or refund
/// negative; `fee_minor` is positive when charged, negative when returned;
/// `net_minor = gross_minor - fee_minor` always (readers refuse a line where it is not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettlementRecord {
    /// Line of the file the record came from (1-based).
    pub line: u64,
    /// Merchant id (商户号).
    pub merchant: String,
    /// Terminal id (终端号).
    pub terminal: String,
    /// Batch number (批次号), where the file has one.
    pub batch: Option<String>,
    /// Trace / voucher number (凭证号), unique within terminal + batch.
    pub trace: Option<String>,
    /// Retrieval reference number (参考号), or the operator's transaction serial (交易流水号)
    /// for files that identify transactions that way.
    pub rrn: Option<String>,
    /// Authorisation code (授权码), where the issuer gave one.
    pub auth_code: Option<String>,
    /// Masked card number as printed in the file; never a full number.
    pub masked_card: Option<String>,
    /// Purchase, void, refund or adjustment.
    pub kind: SettlementKind,
    /// Transaction amount, signed (see the type's doc).
    pub gross_minor: i64,
    /// Acquirer's fee, signed.
    pub fee_minor: i64,
    /// What the acquirer pays (or takes back): gross − fee.
    pub net_minor: i64,
    /// ISO 4217 alphabetic code.
    pub currency: String,
    /// When the card was used, Beijing time.
    pub txn_time: NaiveDateTime,
    /// The settlement date the file covers (清算日期).
    pub settlement_date: NaiveDate,
    /// For voids and refunds: the reference (RRN or serial) of the purchase they undo.
    pub original_ref: Option<String>,
    /// The payment's own reference (商户订单号) where the file carries it.
    pub own_ref: Option<String>,
}

crate::text_enum! {
    /// Money in or out of an account (stored and shown as its snake_case name, through strum).
    #[derive(Hash)]
    pub enum Direction as "booking direction" {
        /// Money in (贷方).
        Credit,
        /// Money out (借方).
        Debit,
    }
}

impl Direction {
    /// `+amount` for a credit, `-amount` for a debit: the effect on the account balance.
    pub fn signed(self, amount_minor: i64) -> i64 {
        match self {
            Direction::Credit => amount_minor,
            Direction::Debit => -amount_minor,
        }
    }
}

/// One booking on a bank account statement (or a camt.054 notification entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementBooking {
    /// Line of the file where the booking starts (1-based).
    pub line: u64,
    /// The account the booking is on (IBAN or domestic account number).
    pub account: String,
    /// ISO 4217 alphabetic code.
    pub currency: String,
    /// Booking date.
    pub booking_date: NaiveDate,
    /// Value date, where the file gives one.
    pub value_date: Option<NaiveDate>,
    /// Credit (in) or debit (out): the effect of this booking on the balance.
    pub direction: Direction,
    /// Amount in minor units, never negative; `direction` gives the sign.
    pub amount_minor: i64,
    /// The booking reverses an earlier one (ISO 20022 `RvslInd`, MT940 `RC`/`RD`).
    pub reversal: bool,
    /// The bank's reference for the booking (流水号, `AcctSvcrRef`, MT940 bank reference).
    pub bank_ref: Option<String>,
    /// Narrative: the payer's text where the file has it (附言, remittance information),
    /// otherwise the bank's short text.
    pub narrative: String,
    /// Counterparty account, where given.
    pub counterparty_account: Option<String>,
    /// Counterparty name, where given.
    pub counterparty_name: Option<String>,
    /// The account balance after this booking, where the file states it.
    pub balance_after_minor: Option<i64>,
}

/// The envelope of one statement (camt `Stmt` / `Rpt` / `Ntfctn`, one MT940 message, one CSV
/// statement file): emitted after its bookings, once its control checks have passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementSummary {
    /// Line of the file where the statement starts (1-based).
    pub line: u64,
    /// The statement's identifier in the file (camt `Id`, MT940 `:20:`/`:28C:`), or the
    /// account and period where the file has none.
    pub statement_id: String,
    /// The account.
    pub account: String,
    /// ISO 4217 alphabetic code.
    pub currency: String,
    /// First day covered, where stated.
    pub from_date: Option<NaiveDate>,
    /// Last day covered, where stated.
    pub to_date: Option<NaiveDate>,
    /// Opening booked balance (signed), where the file states one (none for notifications).
    pub opening_minor: Option<i64>,
    /// Closing booked balance (signed), where the file states one.
    pub closing_minor: Option<i64>,
    /// Number of credit bookings.
    pub credit_count: u64,
    /// Sum of credit bookings.
    pub credit_minor: i64,
    /// Number of debit bookings.
    pub debit_count: u64,
    /// Sum of debit bookings.
    pub debit_minor: i64,
}

/// Anything a reader hands on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    /// An acquirer's detail line.
    Settlement(SettlementRecord),
    /// A statement booking.
    Booking(StatementBooking),
    /// A statement's envelope, after its bookings.
    Statement(StatementSummary),
}

/// Why a file was refused. Positions are 1-based; `byte` is the byte within the line (for
/// fixed-width and binary-level problems) where it is known.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file breaks its format or its own control totals.
    #[error("line {line}{}: {message}", byte.map(|b| format!(", byte {b}")).unwrap_or_default())]
    Corrupt {
        /// Line of the first problem.
        line: u64,
        /// Byte within that line, where it applies.
        byte: Option<u64>,
        /// What is wrong, in words an operator can act on.
        message: String,
    },
    /// The file could not be read at all.
    #[error("reading the file: {0}")]
    Io(#[from] std::io::Error),
    /// The sink refused a record (for example the database failed); the sink holds the cause.
    #[error("stopped by the consumer")]
    Stopped,
}

impl ReadError {
    /// A format problem at a line (and byte, where it applies).
    pub fn corrupt(line: u64, byte: Option<u64>, message: impl Into<String>) -> Self {
        ReadError::Corrupt {
            line,
            byte,
            message: message.into(),
        }
    }
}

/// Where readers put what they read. Returning `Err(ReadError::Stopped)` ends the read.
pub type Sink<'a> = dyn FnMut(Record) -> Result<(), ReadError> + 'a;

/// Minor units per major unit of an ISO 4217 currency: 2 unless listed.
pub fn minor_exponent(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "ISK" | "CLP" | "VND" | "XAF" | "XOF" | "UGX" | "PYG" | "RWF" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "IQD" | "LYD" | "TND" => 3,
        _ => 2,
    }
}

/// Parses a bank's decimal amount (`"1234.5"`, `"1234,50"` for MT940 with `comma_decimal`)
/// into minor units of `currency`. Refuses signs, exponents, separators other than the one
/// decimal mark, and digits below the minor unit that are not zero: such an amount cannot be
/// held exactly, and onecard never rounds money it did not compute.
pub fn parse_decimal_minor(text: &str, currency: &str, comma_decimal: bool) -> Result<i64, String> {
    let exp = minor_exponent(currency) as usize;
    let mark = if comma_decimal { ',' } else { '.' };
    let (int_part, frac_part) = match text.split_once(mark) {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(format!("'{text}' is not an amount"));
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("'{text}' is not an amount"));
    }
    if int_part.len() > 15 {
        return Err(format!("'{text}' is too large"));
    }
    let (kept, dropped) = if frac_part.len() > exp {
        frac_part.split_at(exp)
    } else {
        (frac_part, "")
    };
    if dropped.bytes().any(|b| b != b'0') {
        return Err(format!(
            "'{text}' has more decimals than {currency} minor units can hold exactly"
        ));
    }
    let mut minor: i64 = 0;
    for b in int_part.bytes().chain(kept.bytes()) {
        minor = minor * 10 + i64::from(b - b'0');
    }
    for _ in kept.len()..exp {
        minor *= 10;
    }
    Ok(minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_amounts_convert_exactly_or_not_at_all() {
        assert_eq!(parse_decimal_minor("1234.5", "EUR", false), Ok(123_450));
        assert_eq!(parse_decimal_minor("1234,56", "EUR", true), Ok(123_456));
        assert_eq!(parse_decimal_minor("7", "CNY", false), Ok(700));
        assert_eq!(parse_decimal_minor("0.10000", "CHF", false), Ok(10));
        assert_eq!(parse_decimal_minor("100", "JPY", false), Ok(100));
        assert!(parse_decimal_minor("1.23456", "EUR", false).is_err());
        assert!(parse_decimal_minor("-1.00", "EUR", false).is_err());
        assert!(parse_decimal_minor("1e3", "EUR", false).is_err());
        assert!(parse_decimal_minor("", "EUR", false).is_err());
        assert!(parse_decimal_minor(".", "EUR", false).is_err());
        assert!(parse_decimal_minor("1,000.00", "EUR", false).is_err());
        assert!(parse_decimal_minor("9999999999999999", "EUR", false).is_err());
    }
}
