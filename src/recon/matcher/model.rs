//! The matcher's vocabulary: what a run is given ([`MatchInput`] and its records), what it
//! finds ([`Outcome`], [`Summary`], [`BalanceCheck`], [`FileNetting`], [`MatchResult`]), and the
//! suggested actions stored with each exception.
//!
//! Depends on: `crate::bankfiles::records`, `crate::text`, chrono, serde, strum.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

use super::statement::{ExpectedMovement, StatementLine};
use crate::bankfiles::records::{SettlementRecord, StatementBooking};

// ---------------------------------------------------------------------------------------------
// Input

crate::text_enum! {
    /// The card scheme a payment or settlement file belongs to (the payments' stored channel
    /// text, `bank_card` / `one_card`).
    #[derive(Hash, PartialOrd, Ord, Deserialize)]
    pub enum Channel as "channel" {
        /// Bank card through the acquirer's POS (settled in the fixed-width POS file).
        BankCard,
        /// City one-card (settled in the one-card CSV file).
        OneCard,
    }
}

/// A ledger payment as the matcher needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerPayment {
    /// Payment id.
    pub id: String,
    /// The payment's own reference (sent to the one-card terminal as 商户订单号).
    pub reference: String,
    /// Bank card or one-card.
    pub channel: Channel,
    /// Business date of capture.
    pub business_date: NaiveDate,
    /// Captured amount in fen (positive).
    pub amount_minor: i64,
    /// Merchant id.
    pub merchant: String,
    /// Terminal id.
    pub terminal: String,
    /// POS batch number.
    pub batch: Option<String>,
    /// POS trace number.
    pub trace: Option<String>,
    /// POS retrieval reference number.
    pub rrn: Option<String>,
    /// One-card transaction serial, if the counter received it.
    pub serial: Option<String>,
    /// Card time, Beijing.
    pub txn_time: NaiveDateTime,
    /// Voided in the ledger (same day).
    pub voided: bool,
    /// Approved ledger refunds of this payment.
    pub refunds: Vec<LedgerRefund>,
}

/// An approved refund of a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerRefund {
    /// Refund id.
    pub id: String,
    /// Refunded amount in fen (positive).
    pub amount_minor: i64,
    /// Date of approval.
    pub approved_on: NaiveDate,
}

/// A stored settlement line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettlementLine {
    /// Database id of the line (unique).
    pub id: i64,
    /// The file it came from.
    pub file_id: String,
    /// What the acquirer said.
    pub record: SettlementRecord,
}

/// A stored settlement file (its envelope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettlementFile {
    /// File id (unique).
    pub file_id: String,
    /// Which scheme's file.
    pub channel: Channel,
    /// Merchant id the file is for.
    pub merchant: String,
    /// Settlement date the file covers.
    pub settlement_date: NaiveDate,
    /// The file's declared net total (trailer / summary row).
    pub net_minor: i64,
    /// The file's declared number of lines.
    pub lines: u64,
}

/// A stored collection-account booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Booking {
    /// Database id of the booking (unique).
    pub id: i64,
    /// The statement file it came from.
    pub file_id: String,
    /// What the bank said.
    pub booking: StatementBooking,
}

/// Everything one run matches (see the module doc for what the caller passes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchInput {
    /// The business date D of the run.
    pub business_date: NaiveDate,
    /// Payments of D−1, D, D+1 (and older ones with refunds in the window).
    pub payments: Vec<LedgerPayment>,
    /// Lines of the settlement files dated D and D+1.
    pub lines: Vec<SettlementLine>,
    /// Those settlement files.
    pub files: Vec<SettlementFile>,
    /// Collection-account bookings that may pay the files.
    pub bookings: Vec<Booking>,
    /// Closing booked balance of the collection-account statement, if one was imported.
    pub statement_closing_minor: Option<i64>,
    /// Ledger balance of 1002.01 at the same point.
    pub ledger_1002_01_minor: i64,
    /// How many business days after its settlement date a file's credit is awaited before
    /// the file is `cash_missing` (default [`DEFAULT_CREDIT_HORIZON_DAYS`]).
    pub credit_horizon_days: u32,
    /// The business-day cut-off: a payment captured at or after it belongs to the next
    /// business date (`None`: midnight).
    pub business_day_cutoff: Option<NaiveTime>,
    /// Files in `files` whose cash outcome a run of another date already stands for.
    pub prior_cash: Vec<PriorCash>,
    /// The ledger's other movements of the collection account near the bookings (remittances,
    /// fee top-ups, 退库 returns), which explain statement lines (the statement tier).
    pub expected: Vec<ExpectedMovement>,
    /// Bookings stored runs of other dates found paying a settlement file (settlement money
    /// that this run's files do not explain).
    pub settled_bookings: Vec<i64>,
}

/// The default credit horizon in business days (DESIGN §5).
pub const DEFAULT_CREDIT_HORIZON_DAYS: u32 = 5;

/// A file's active cash outcome in a run of another date, as the caller found it stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriorCash {
    /// The file.
    pub file_id: String,
    /// The business date of the run that owns that outcome.
    pub owner_date: NaiveDate,
    /// `cash_matched` or `cash_mismatch` (the file's cash is spent: never claimed again here,
    /// only shown) or `cash_missing` (reported already: still unpaid, it stays that run's).
    pub category: Category,
    /// The booking that paid it, for `cash_matched` / `cash_mismatch`.
    pub booking_id: Option<i64>,
}

/// Business days (Monday to Friday; public holidays are not modelled) after `from` up to and
/// including `to`: a file dated Friday is 1 business day old on Monday. 0 when `to <= from`.
pub fn business_days_between(from: NaiveDate, to: NaiveDate) -> u32 {
    if to <= from {
        return 0;
    }
    let days = (to - from).num_days();
    let weeks = days / 7;
    let mut count = weeks * 5;
    let mut d = from + chrono::Duration::days(weeks * 7);
    while d < to {
        d += chrono::Duration::days(1);
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            count += 1;
        }
    }
    u32::try_from(count).unwrap_or(u32::MAX)
}

// ---------------------------------------------------------------------------------------------
// Output

crate::text_enum! {
    /// Outcome categories, with the API's names (serde and strum: the same snake_case text).
    #[derive(Hash, PartialOrd, Ord, Deserialize)]
    pub enum Category as "reconciliation category" {
        /// Ledger and settlement agree.
        Matched,
        /// Paired, but the amounts differ.
        AmountMismatch,
        /// A payment of the business date the acquirer did not settle.
        MissingInSettlement,
        /// A settlement line with no ledger counterpart.
        MissingInLedger,
        /// A line the acquirer settled twice.
        DuplicateInSettlement,
        /// A payment voided in the ledger whose purchase the acquirer settled anyway.
        VoidSettled,
        /// A file's net arrived on the collection account.
        CashMatched,
        /// A file's credit differs from its net, or a settlement credit names no file.
        CashMismatch,
        /// No credit for a file past the credit horizon (a bank claim).
        CashMissing,
        /// No credit for a file yet, within the credit horizon: carried forward, not an
        /// exception (DESIGN §5 "No credit is ever lost").
        AwaitingCredit,
        /// A statement line nothing explains (not settlement money, a remittance, a top-up or a
        /// 退库 return); a debit is also a supervision finding.
        UnexpectedStatementLine,
    }
}

impl Category {
    /// Whether finance staff must work it.
    pub fn is_exception(self) -> bool {
        !matches!(
            self,
            Category::Matched | Category::CashMatched | Category::AwaitingCredit
        )
    }

    /// Whether a file's outcome of this category spends its cash (a booking was found for it),
    /// so no later run may claim it again.
    pub fn consumes_cash(self) -> bool {
        matches!(self, Category::CashMatched | Category::CashMismatch)
    }
}

crate::text_enum! {
    /// What an outcome is about (which record it accounts for); stored as its snake_case name.
    #[derive(Hash, Deserialize)]
    pub enum Subject as "reconciliation subject" {
        /// A payment's capture (`payment_id`, with its purchase `line_id` and `void_line_id`).
        Payment,
        /// A settlement line with no capture of its own (`line_id`; `payment_id` and `refund_id`
        /// name what it was paired with, for context).
        Line,
        /// A settlement file's cash (`file_id`, `booking_id`).
        File,
        /// A settlement booking that paid no file (`booking_id`).
        Booking,
    }
}

/// One result of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The category.
    pub category: Category,
    /// What the outcome accounts for.
    pub subject: Subject,
    /// The business date whose run counts this outcome (see the module doc).
    pub owner_date: NaiveDate,
    /// `owner_date` is this run's business date: counted in the summary, opened as exception.
    pub counted: bool,
    /// The payment (the subject for [`Subject::Payment`], else context).
    pub payment_id: Option<String>,
    /// The ledger refund a refund line paired with.
    pub refund_id: Option<String>,
    /// The settlement line (purchase, refund, adjustment, or orphan void).
    pub line_id: Option<i64>,
    /// The void line netted with `line_id`'s purchase.
    pub void_line_id: Option<i64>,
    /// For duplicates: the line that was matched before this one (context only).
    pub related_line_id: Option<i64>,
    /// The settlement file (cash tier).
    pub file_id: Option<String>,
    /// The booking (cash tier).
    pub booking_id: Option<i64>,
    /// The ledger's amount (fen), where one applies.
    pub ledger_minor: Option<i64>,
    /// The settlement's (or bank's) amount (fen), where one applies.
    pub settlement_minor: Option<i64>,
    /// What was found, in words.
    pub note: &'static str,
    /// For exceptions: what the operator should do.
    pub action: Option<Suggestion>,
}

impl Outcome {
    /// An outcome with nothing filled in but what it is, about what, and whose run counts it
    /// (`counted` when `owner_date` is the run's `business_date`).
    pub(super) fn blank(
        category: Category,
        subject: Subject,
        owner_date: NaiveDate,
        business_date: NaiveDate,
    ) -> Outcome {
        Outcome {
            category,
            subject,
            owner_date,
            counted: owner_date == business_date,
            payment_id: None,
            refund_id: None,
            line_id: None,
            void_line_id: None,
            related_line_id: None,
            file_id: None,
            booking_id: None,
            ledger_minor: None,
            settlement_minor: None,
            note: "",
            action: None,
        }
    }
}

/// Counts of counted outcomes, with the API's names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// `matched`.
    pub matched: u64,
    /// `amount_mismatch`.
    pub amount_mismatch: u64,
    /// `missing_in_settlement`.
    pub missing_in_settlement: u64,
    /// `missing_in_ledger`.
    pub missing_in_ledger: u64,
    /// `duplicate_in_settlement`.
    pub duplicate_in_settlement: u64,
    /// `void_settled`.
    pub void_settled: u64,
    /// `cash_matched`.
    pub cash_matched: u64,
    /// `cash_mismatch`.
    pub cash_mismatch: u64,
    /// `cash_missing`.
    pub cash_missing: u64,
    /// `awaiting_credit`.
    pub awaiting_credit: u64,
    /// `unexpected_statement_line`.
    pub unexpected_statement_line: u64,
}

impl Summary {
    /// Counts one more outcome of `category`.
    pub(super) fn add(&mut self, category: Category) {
        let slot = match category {
            Category::Matched => &mut self.matched,
            Category::AmountMismatch => &mut self.amount_mismatch,
            Category::MissingInSettlement => &mut self.missing_in_settlement,
            Category::MissingInLedger => &mut self.missing_in_ledger,
            Category::DuplicateInSettlement => &mut self.duplicate_in_settlement,
            Category::VoidSettled => &mut self.void_settled,
            Category::CashMatched => &mut self.cash_matched,
            Category::CashMismatch => &mut self.cash_mismatch,
            Category::CashMissing => &mut self.cash_missing,
            Category::AwaitingCredit => &mut self.awaiting_credit,
            Category::UnexpectedStatementLine => &mut self.unexpected_statement_line,
        };
        *slot = slot.saturating_add(1);
    }
}

/// Statement closing balance against the ledger balance of 1002.01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum BalanceCheck {
    /// Both say the same.
    Agree {
        /// The common balance.
        balance_minor: i64,
    },
    /// They differ.
    Differ {
        /// Statement closing balance.
        statement_minor: i64,
        /// Ledger 1002.01.
        ledger_minor: i64,
        /// Statement − ledger.
        difference_minor: i128,
    },
    /// No statement was imported.
    NoStatement {
        /// Ledger 1002.01.
        ledger_minor: i64,
    },
}

/// Gross, fee and net of one settlement file, from its lines, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileNetting {
    /// File id.
    pub file_id: String,
    /// Scheme.
    pub channel: Channel,
    /// Merchant.
    pub merchant: String,
    /// Settlement date.
    pub settlement_date: NaiveDate,
    /// Lines of this file in the input.
    pub lines: u64,
    /// Σ gross of those lines.
    pub gross_minor: i128,
    /// Σ fee.
    pub fee_minor: i128,
    /// Σ net.
    pub net_minor: i128,
    /// The file's declared line count.
    pub declared_lines: u64,
    /// The file's declared net.
    pub declared_net_minor: i64,
    /// Lines and net agree with the declaration.
    pub agrees: bool,
}

/// Everything a run found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchResult {
    /// The run's business date.
    pub business_date: NaiveDate,
    /// Transaction outcomes (payments by business date and id, then lines without a capture
    /// by settlement date and id), then cash outcomes (files by date and id, then bookings by
    /// date and id), then unexpected statement lines (by booking date and id).
    pub outcomes: Vec<Outcome>,
    /// Counts of the counted outcomes.
    pub summary: Summary,
    /// Outcomes shown but owned by another date's run.
    pub deferred: u64,
    /// Balance tier.
    pub balance: BalanceCheck,
    /// Per file gross / fee / net, files by settlement date and id.
    pub netting: Vec<FileNetting>,
    /// Non-reversal bookings without a settlement narrative that paid no file (not cash-tier
    /// money), by booking date and id; the statement tier accounts for them.
    pub unclaimed_bookings: Vec<i64>,
    /// Every booking of the input and how it is accounted for (the statement tier), by booking
    /// date and id.
    pub statement_lines: Vec<StatementLine>,
}

// ---------------------------------------------------------------------------------------------
// Notes and actions (each exception stores its action's code; `crate::words` says it in the
// reader's language)

pub use crate::words::Suggestion;

/// Amounts differ.
pub const ACT_AMOUNT: Suggestion = Suggestion::CompareAmounts;
/// Not in the acquirer's files.
pub const ACT_MISSING_SETTLEMENT: Suggestion = Suggestion::CheckTerminalBatch;
/// Settled, not in the ledger.
pub const ACT_MISSING_LEDGER: Suggestion = Suggestion::FindCounterRecord;
/// A refund settled the ledger has not approved.
pub const ACT_REFUND_MISSING: Suggestion = Suggestion::ApproveRefundOrClaim;
/// An acquirer adjustment.
pub const ACT_ADJUSTMENT: Suggestion = Suggestion::AskAdjustmentReason;
/// Settled twice.
pub const ACT_DUPLICATE: Suggestion = Suggestion::ClaimDuplicate;
/// Voided, yet settled.
pub const ACT_VOID_SETTLED: Suggestion = Suggestion::ReverseVoidSettled;
/// A credit that differs from its file's net.
pub const ACT_CASH_MISMATCH: Suggestion = Suggestion::ClaimCashDifference;
/// No credit within the horizon.
pub const ACT_CASH_MISSING: Suggestion = Suggestion::ClaimMissingCredit;
/// A settlement credit that pays no imported file.
pub const ACT_CASH_UNCLAIMED: Suggestion = Suggestion::ImportOrReturn;
