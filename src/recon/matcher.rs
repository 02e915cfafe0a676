//! The nightly reconciliation matcher: ledger payments ↔ acquirer settlement lines ↔
//! collection-account bookings ↔ the ledger balance of 1002.01 (DESIGN §5).
//!
//! A pure function over in-memory records: no I/O, no clock, no database. The same input, in
//! any order, gives the same [`MatchResult`] with its outcomes in the same order.
//!
//! Depends on: `crate::bankfiles::records` (record types), chrono, serde.
//!
//! # What a run sees
//! The caller of the run for business date D passes the payments dated D−1, D and D+1 (plus any
//! older payment that carries a ledger refund approved in the window, so refund lines can find
//! it), the settlement lines of the files dated D and D+1, those files, and the bookings of the
//! collection-account statement on which the files of D are paid (normally booked on D+1).
//!
//! # Ownership: how consecutive nights never report a thing twice
//! Every outcome has an `owner_date`; only outcomes with `owner_date == D` are `counted` (in the
//! [`Summary`], and as exceptions the caller opens). The others are shown for context and are
//! counted by the run of their own date, which sees the same records:
//! - an outcome about a payment's capture belongs to the payment's business date;
//! - a duplicate line belongs to the date of the payment its original matched;
//! - any other line-only outcome (missing in ledger, refunds, adjustments) belongs to the
//!   line's settlement date;
//! - a cash outcome belongs to the file's settlement date; an unclaimed settlement booking to
//!   the latest date its narrative names.
//!
//! Payments dated D−1 or D+1 get an outcome only when they pair with a line in the window;
//! only payments dated D are reported `missing_in_settlement`.
//!
//! # Transaction tier
//! - A payment of date P may pair with a purchase line of a file dated P or P+1 (POS cut-off
//!   23:00, one-card midnight; a later business-date cut-off is the caller's matter).
//! - Keys, strongest first, each in its own pass over all payments so a strong key is never
//!   pre-empted by a weak one: (1) the line's `own_ref` = the payment's `reference`;
//!   (2) (merchant, terminal, batch, trace); (3) (terminal, RRN, transaction date), where the
//!   payment's RRN or, failing it, its one-card serial meets the line's `rrn`. Empty keys are
//!   never used. Among lines sharing a key, the first unused line (by settlement date, then id)
//!   whose gross equals the payment's amount wins, else the first unused one. At most
//!   [`MAX_KEY_CHAIN`] lines of one key are looked at (keys are unique in real files; a
//!   degenerate file cannot make the run quadratic, it only shows up as exceptions).
//! - A void line attaches to its purchase: first to the purchase line in the window whose
//!   (merchant, RRN/serial) is the void's (merchant, `original_ref`), else to a payment whose
//!   (merchant, RRN or serial) is that, else (one-card) to the payment whose `reference` is the
//!   void's `own_ref`. One void per purchase; a second void of the same original is
//!   `duplicate_in_settlement`; a void whose original is unknown is `missing_in_ledger`.
//! - A payment's single outcome compares the ledger's net effect (0 when voided, else the
//!   amount) with the gross of its purchase line plus its void line:
//!   purchase only, amounts equal → `matched`; purchase and void both settled and the payment
//!   voided → `matched` (netted; `void_line_id` set); voided but the purchase settled without
//!   a void → `void_settled`; any other disagreement (including a void the ledger lacks, or a
//!   void settled without its purchase) → `amount_mismatch`; voided with nothing settled →
//!   `matched` with the note "voided; nothing to settle"; nothing at all → `missing_in_settlement`.
//! - A refund line finds its payment through its original purchase line in the window, or
//!   through a payment whose (merchant, RRN or serial) is its `original_ref`; it then takes the
//!   unused ledger refund of that payment of the same amount (earliest `approved_on`, then id)
//!   → `matched`; failing that any unused ledger refund → `amount_mismatch`; failing that, or
//!   with no payment → `missing_in_ledger`. Amounts on refund outcomes carry the settlement's
//!   sign (negative). A ledger refund no line claims gets no outcome: refunds may be paid by
//!   transfer rather than through the acquirer.
//! - An unpaired purchase line that shares a key with a line that did pair →
//!   `duplicate_in_settlement`; otherwise `missing_in_ledger` (with its void attached, if any).
//!   Adjustment lines (调账) have no ledger counterpart: `missing_in_ledger` with their own action.
//!
//! Every line of the input ends in exactly one outcome (as `line_id` or `void_line_id`), and
//! every payment dated D in exactly one outcome with [`Subject::Payment`].
//!
//! # Cash tier
//! - Bookings that are reversals are not considered. A booking whose narrative is
//!   `POS清算 <merchant> <YYYYMMDD>…` (bank-card files) or `一卡通结算 <merchant> <YYYYMMDD>…`
//!   (one-card files) names files by (channel, merchant, date); spaces (also full-width),
//!   commas and semicolons separate tokens; several dates, or several merchant–date groups,
//!   name several files paid by one booking. In booking order (booking date, id), a booking
//!   claims every named file not yet claimed; the sum of their declared nets against the
//!   booking's signed amount gives each file `cash_matched` or `cash_mismatch`.
//! - Fallback, for bookings without a settlement narrative: a file whose net equals exactly one
//!   such booking, and whose amount no other unclaimed file shares, is `cash_matched` to it;
//!   then the unclaimed files of one (channel, merchant) together are matched to the one
//!   booking whose amount is the sum of their nets.
//! - A file still unclaimed: net 0 → `cash_matched` without a booking; else `cash_missing`.
//! - A settlement-narrative booking that claims no file → `cash_mismatch` with no file
//!   ([`Subject::Booking`]). Other bookings nothing claimed are not settlement money (fee
//!   top-ups, remittances): they get no outcome and are listed in
//!   [`MatchResult::unclaimed_bookings`]; the balance tier accounts for them.
//! - On cash outcomes `ledger_minor` is the file's declared net and `settlement_minor` the
//!   booking's signed amount (the whole booking, shared by all files it paid).
//!
//! # Balance tier
//! Statement closing balance against the ledger balance of 1002.01: [`BalanceCheck`].

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};

use crate::bankfiles::records::{Direction, SettlementKind, SettlementRecord, StatementBooking};

/// How many lines sharing one key the matcher looks at before giving up on that key.
pub const MAX_KEY_CHAIN: usize = 32;

const NONE: usize = usize::MAX;

// ---------------------------------------------------------------------------------------------
// Input

/// The card scheme a payment or settlement file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Bank card through the acquirer's POS (settled in the fixed-width POS file).
    BankCard,
    /// City one-card (settled in the one-card CSV file).
    OneCard,
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
}

// ---------------------------------------------------------------------------------------------
// Output

/// Outcome categories, with the API's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
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
    /// No credit for a file.
    CashMissing,
}

impl Category {
    /// The API's snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Matched => "matched",
            Category::AmountMismatch => "amount_mismatch",
            Category::MissingInSettlement => "missing_in_settlement",
            Category::MissingInLedger => "missing_in_ledger",
            Category::DuplicateInSettlement => "duplicate_in_settlement",
            Category::VoidSettled => "void_settled",
            Category::CashMatched => "cash_matched",
            Category::CashMismatch => "cash_mismatch",
            Category::CashMissing => "cash_missing",
        }
    }

    /// Whether finance staff must work it.
    pub fn is_exception(self) -> bool {
        !matches!(self, Category::Matched | Category::CashMatched)
    }
}

/// What an outcome is about (which record it accounts for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
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

impl Subject {
    /// The stored snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Payment => "payment",
            Subject::Line => "line",
            Subject::File => "file",
            Subject::Booking => "booking",
        }
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
    pub action: Option<&'static str>,
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
}

impl Summary {
    fn add(&mut self, category: Category) {
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
    /// date and id).
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
    /// money; listed so they do not vanish), by booking date and id.
    pub unclaimed_bookings: Vec<i64>,
}

// ---------------------------------------------------------------------------------------------
// Notes and actions (stored with each exception; the staff pages translate them, see
// `web::reconciliation::suggestion`)

/// A suggested action (stored text).
pub const ACT_AMOUNT: &str = "Compare the receipt and terminal slip with the acquirer's line; if the ledger is wrong correct it with a reversing entry, otherwise claim the difference from the acquirer (bank_claim).";
/// A suggested action (stored text).
pub const ACT_MISSING_SETTLEMENT: &str = "Not in the acquirer's files of the day or the next: check the terminal batch was settled and ask the acquirer; if the card was never charged, reverse the payment.";
/// A suggested action (stored text).
pub const ACT_MISSING_LEDGER: &str = "The acquirer settled a transaction the ledger does not have: find the counter record and manual_match it, or record the payment; if it is not ours, bank_claim.";
/// A suggested action (stored text).
pub const ACT_REFUND_MISSING: &str = "The acquirer settled a refund the ledger has not approved: find the refund request and approve it, or bank_claim the amount from the acquirer.";
/// A suggested action (stored text).
pub const ACT_ADJUSTMENT: &str =
    "Acquirer adjustment (调账): ask the acquirer for the reason, then book it or bank_claim it.";
/// A suggested action (stored text).
pub const ACT_DUPLICATE: &str =
    "The acquirer settled the same transaction twice: bank_claim the duplicate from the acquirer.";
/// A suggested action (stored text).
pub const ACT_VOID_SETTLED: &str = "Voided in the ledger but the acquirer settled the purchase: ask the acquirer to reverse it (bank_claim), or refund the cardholder.";
/// A suggested action (stored text).
pub const ACT_CASH_MISMATCH: &str = "The credit differs from the file's net: check fees and adjustments with the acquirer and bank_claim the difference.";
/// A suggested action (stored text).
pub const ACT_CASH_MISSING: &str = "No credit for this file on the collection account: check the next statement (accept_timing) or chase the acquirer.";
/// A suggested action (stored text).
pub const ACT_CASH_UNCLAIMED: &str = "A settlement credit that pays no imported file: import the file it names, or identify the payer and return the money.";

// ---------------------------------------------------------------------------------------------
// Hashing: a small Fx-style hasher (deterministic, fast on short strings). Inputs come from our
// own ledger and from acquirers' files, not from the public.

#[derive(Default, Clone, Copy)]
struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            for (d, s) in word.iter_mut().zip(chunk) {
                *d = *s;
            }
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            for (d, s) in word.iter_mut().zip(rest) {
                *d = *s;
            }
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_i32(&mut self, i: i32) {
        self.add(u64::from(i as u32));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Multiplication leaves the low bits (the bucket index) weak: mix the high bits down.
        let mut z = self.hash;
        z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        z ^ (z >> 33)
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
type FxSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

fn fx_map<K, V>(capacity: usize) -> FxMap<K, V> {
    FxMap::with_capacity_and_hasher(capacity, BuildHasherDefault::default())
}

/// Hashes a key once; the index stores only this fingerprint, so building and probing never
/// touch the records' strings. Lines whose keys merely share a fingerprint share a chain; every
/// use checks the real key on the candidates it takes.
fn fingerprint<K: Hash + ?Sized>(key: &K) -> u64 {
    let mut h = FxHasher::default();
    key.hash(&mut h);
    h.finish()
}

/// Passes an already mixed fingerprint through.
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Key fingerprint → chain of record indices in sorted order, without a list per key.
struct Index<K: ?Sized> {
    head: HashMap<u64, usize, BuildHasherDefault<IdHasher>>,
    next: Vec<usize>,
    key: std::marker::PhantomData<fn(&K)>,
}

impl<K: Hash + ?Sized> Index<K> {
    fn new(records: usize, capacity: usize) -> Self {
        Index {
            head: HashMap::with_capacity_and_hasher(capacity, BuildHasherDefault::default()),
            next: vec![NONE; records],
            key: std::marker::PhantomData,
        }
    }

    /// Insert records in reverse sorted order so chains come out in sorted order.
    fn push_front(&mut self, key: &K, record: usize) {
        let prev = self.head.insert(fingerprint(key), record).unwrap_or(NONE);
        if let Some(slot) = self.next.get_mut(record) {
            *slot = prev;
        }
    }

    /// Candidates for `key` (callers check the real key).
    fn chain(&self, key: &K) -> Chain<'_> {
        Chain {
            next: &self.next,
            cur: if self.head.is_empty() {
                NONE
            } else {
                self.head.get(&fingerprint(key)).copied().unwrap_or(NONE)
            },
            left: MAX_KEY_CHAIN,
        }
    }

    fn is_empty(&self) -> bool {
        self.head.is_empty()
    }
}

struct Chain<'a> {
    next: &'a [usize],
    cur: usize,
    left: usize,
}

impl Iterator for Chain<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.cur == NONE || self.left == 0 {
            return None;
        }
        let here = self.cur;
        self.left -= 1;
        self.cur = self.next.get(here).copied().unwrap_or(NONE);
        Some(here)
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

fn key(text: &Option<String>) -> Option<&str> {
    text.as_deref().filter(|t| !t.trim().is_empty())
}

fn in_window(payment_date: NaiveDate, line_date: NaiveDate) -> bool {
    line_date == payment_date || Some(line_date) == payment_date.succ_opt()
}

fn get<T>(items: &[T], i: usize) -> Option<&T> {
    items.get(i)
}

fn at(items: &[usize], i: usize) -> usize {
    items.get(i).copied().unwrap_or(NONE)
}

fn set(items: &mut [usize], i: usize, value: usize) {
    if let Some(slot) = items.get_mut(i) {
        *slot = value;
    }
}

fn to_i64(value: i128) -> Option<i64> {
    i64::try_from(value).ok()
}

type Own<'a> = &'a str;
type Mtbt<'a> = (&'a str, &'a str, &'a str, &'a str);
type Trd<'a> = (&'a str, &'a str, NaiveDate);
type MerchRef<'a> = (&'a str, &'a str);

fn line_mtbt(r: &SettlementRecord) -> Option<Mtbt<'_>> {
    Some((
        r.merchant.as_str(),
        r.terminal.as_str(),
        key(&r.batch)?,
        key(&r.trace)?,
    ))
}

/// A void's or refund's (merchant, original reference).
fn orig_key(lines: &[SettlementLine], l: usize) -> Option<MerchRef<'_>> {
    let r = line_rec(lines, l)?;
    Some((r.merchant.as_str(), key(&r.original_ref)?))
}

fn line_trd(r: &SettlementRecord) -> Option<Trd<'_>> {
    Some((r.terminal.as_str(), key(&r.rrn)?, r.txn_time.date()))
}

fn pay_mtbt(p: &LedgerPayment) -> Option<Mtbt<'_>> {
    Some((
        p.merchant.as_str(),
        p.terminal.as_str(),
        key(&p.batch)?,
        key(&p.trace)?,
    ))
}

/// The (merchant, reference) pairs a void's or refund's `original_ref` may name.
fn pay_refs(p: &LedgerPayment) -> impl Iterator<Item = MerchRef<'_>> {
    let rrn = key(&p.rrn);
    let serial = key(&p.serial).filter(|s| Some(*s) != rrn);
    rrn.into_iter()
        .chain(serial)
        .map(move |r| (p.merchant.as_str(), r))
}

// ---------------------------------------------------------------------------------------------
// The transaction tier

struct Tx<'a> {
    bd: NaiveDate,
    payments: &'a [LedgerPayment],
    lines: &'a [SettlementLine],
    porder: Vec<usize>,
    lorder: Vec<usize>,
    own: Index<Own<'a>>,
    mtbt: Index<Mtbt<'a>>,
    trd: Index<Trd<'a>>,
    /// payment → its purchase line.
    pay_line: Vec<usize>,
    /// purchase line → its payment.
    line_pay: Vec<usize>,
    /// purchase line → its void line.
    line_void: Vec<usize>,
    /// payment without purchase line → its void line.
    pay_void: Vec<usize>,
    /// void / refund line already attached.
    used: Vec<bool>,
    /// void key → the void that took the slot (for duplicate voids).
    void_taken_orig: FxMap<MerchRef<'a>, usize>,
    void_taken_own: FxMap<Own<'a>, usize>,
    /// refund line → payment.
    refund_pay: FxMap<usize, usize>,
}

fn line_rec(lines: &[SettlementLine], l: usize) -> Option<&SettlementRecord> {
    lines.get(l).map(|x| &x.record)
}

impl<'a> Tx<'a> {
    fn new(input: &'a MatchInput) -> Self {
        let payments = input.payments.as_slice();
        let lines = input.lines.as_slice();
        let mut porder: Vec<usize> = (0..payments.len()).collect();
        porder.sort_unstable_by(|&a, &b| match (payments.get(a), payments.get(b)) {
            (Some(x), Some(y)) => (x.business_date, &x.id)
                .cmp(&(y.business_date, &y.id))
                .then_with(|| (&x.reference, x.txn_time).cmp(&(&y.reference, y.txn_time)))
                .then_with(|| x.amount_minor.cmp(&y.amount_minor)),
            _ => a.cmp(&b),
        });
        let mut lorder: Vec<usize> = (0..lines.len()).collect();
        lorder.sort_unstable_by(|&a, &b| match (lines.get(a), lines.get(b)) {
            (Some(x), Some(y)) => (x.record.settlement_date, x.id)
                .cmp(&(y.record.settlement_date, y.id))
                .then_with(|| (&x.file_id, x.record.line).cmp(&(&y.file_id, y.record.line))),
            _ => a.cmp(&b),
        });
        let n = lines.len();
        Tx {
            bd: input.business_date,
            payments,
            lines,
            porder,
            lorder,
            own: Index::new(n, 0),
            mtbt: Index::new(n, 0),
            trd: Index::new(n, 0),
            pay_line: vec![NONE; payments.len()],
            line_pay: vec![NONE; n],
            line_void: vec![NONE; n],
            pay_void: vec![NONE; payments.len()],
            used: vec![false; n],
            void_taken_orig: fx_map(0),
            void_taken_own: fx_map(0),
            refund_pay: fx_map(0),
        }
    }

    /// Indexes the purchase lines still unpaired under the key of `pass` (each pass indexes
    /// only what the passes before it left, so a million-line file is hashed about once).
    fn index_purchases(&mut self, pass: usize) {
        let lines = self.lines;
        for &l in self.lorder.iter().rev() {
            if at(&self.line_pay, l) != NONE {
                continue;
            }
            let Some(r) = line_rec(lines, l) else {
                continue;
            };
            if r.kind != SettlementKind::Purchase {
                continue;
            }
            match pass {
                0 => {
                    if let Some(k) = key(&r.own_ref) {
                        self.own.push_front(&k, l);
                    }
                }
                1 => {
                    if let Some(k) = line_mtbt(r) {
                        self.mtbt.push_front(&k, l);
                    }
                }
                _ => {
                    if let Some(k) = line_trd(r) {
                        self.trd.push_front(&k, l);
                    }
                }
            }
        }
    }

    /// First unused line of `chain` in the payment's window, preferring an equal amount.
    fn pick(
        &self,
        chain: Chain<'_>,
        p: &LedgerPayment,
        is_key: impl Fn(&SettlementRecord) -> bool,
    ) -> Option<usize> {
        let mut first = None;
        for l in chain {
            if at(&self.line_pay, l) != NONE {
                continue;
            }
            let Some(r) = line_rec(self.lines, l) else {
                continue;
            };
            if !in_window(p.business_date, r.settlement_date) || !is_key(r) {
                continue;
            }
            if r.gross_minor == p.amount_minor {
                return Some(l);
            }
            if first.is_none() {
                first = Some(l);
            }
        }
        first
    }

    fn pair(&mut self, p: usize, l: usize) {
        set(&mut self.pay_line, p, l);
        set(&mut self.line_pay, l, p);
    }

    fn pair_purchases(&mut self) {
        let payments = self.payments;
        for pass in 0..3 {
            self.index_purchases(pass);
            if match pass {
                0 => self.own.is_empty(),
                1 => self.mtbt.is_empty(),
                _ => self.trd.is_empty(),
            } {
                continue;
            }
            for i in 0..self.porder.len() {
                let p = at(&self.porder, i);
                if at(&self.pay_line, p) != NONE {
                    continue;
                }
                let Some(pm) = get(payments, p) else {
                    continue;
                };
                let found = match pass {
                    0 => {
                        if pm.reference.trim().is_empty() {
                            None
                        } else {
                            let k = pm.reference.as_str();
                            self.pick(self.own.chain(&k), pm, |r| key(&r.own_ref) == Some(k))
                        }
                    }
                    1 => pay_mtbt(pm).and_then(|k| {
                        self.pick(self.mtbt.chain(&k), pm, |r| line_mtbt(r) == Some(k))
                    }),
                    _ => {
                        let date = pm.txn_time.date();
                        let term = pm.terminal.as_str();
                        key(&pm.rrn)
                            .and_then(|r| {
                                let k = (term, r, date);
                                self.pick(self.trd.chain(&k), pm, |x| line_trd(x) == Some(k))
                            })
                            .or_else(|| {
                                key(&pm.serial).and_then(|s| {
                                    let k = (term, s, date);
                                    self.pick(self.trd.chain(&k), pm, |x| line_trd(x) == Some(k))
                                })
                            })
                    }
                };
                if let Some(l) = found {
                    self.pair(p, l);
                }
            }
        }
    }

    /// The void slot of a payment: its purchase line's if it has one, else its own.
    fn void_slot(&self, p: usize) -> usize {
        let l = at(&self.pay_line, p);
        if l != NONE {
            at(&self.line_void, l)
        } else {
            at(&self.pay_void, p)
        }
    }

    fn attach_voids(&mut self) {
        let lines = self.lines;
        let payments = self.payments;
        let mut by_orig: Index<MerchRef<'a>> = Index::new(lines.len(), 0);
        let mut by_own: Index<Own<'a>> = Index::new(lines.len(), 0);
        for &l in self.lorder.iter().rev() {
            let Some(r) = line_rec(lines, l) else {
                continue;
            };
            if r.kind != SettlementKind::Void {
                continue;
            }
            if let Some(o) = key(&r.original_ref) {
                by_orig.push_front(&(r.merchant.as_str(), o), l);
            }
            if let Some(o) = key(&r.own_ref) {
                by_own.push_front(&o, l);
            }
        }
        if by_orig.is_empty() && by_own.is_empty() {
            return;
        }
        // (a) purchase lines in the window.
        if !by_orig.is_empty() {
            for i in 0..self.lorder.len() {
                let l = at(&self.lorder, i);
                let Some(r) = line_rec(lines, l) else {
                    continue;
                };
                if r.kind != SettlementKind::Purchase {
                    continue;
                }
                let Some(rrn) = key(&r.rrn) else {
                    continue;
                };
                let k = (r.merchant.as_str(), rrn);
                if let Some(v) = by_orig.chain(&k).find(|&v| {
                    !self.used.get(v).copied().unwrap_or(true) && orig_key(lines, v) == Some(k)
                }) {
                    self.take_void(v);
                    set(&mut self.line_void, l, v);
                }
            }
        }
        // (b) payments, by RRN / serial, then (one-card) by own reference.
        for i in 0..self.porder.len() {
            let p = at(&self.porder, i);
            if self.void_slot(p) != NONE {
                continue;
            }
            let Some(pm) = get(payments, p) else {
                continue;
            };
            let free = |v: &usize| !self.used.get(*v).copied().unwrap_or(true);
            let mut found = pay_refs(pm).find_map(|k| {
                by_orig
                    .chain(&k)
                    .find(|v| free(v) && orig_key(lines, *v) == Some(k))
            });
            let own = pm.reference.as_str();
            if found.is_none() && !own.trim().is_empty() {
                found = by_own.chain(&own).find(|v| {
                    free(v) && line_rec(lines, *v).and_then(|r| key(&r.own_ref)) == Some(own)
                });
            }
            if let Some(v) = found {
                self.take_void(v);
                let l = at(&self.pay_line, p);
                if l != NONE {
                    set(&mut self.line_void, l, v);
                } else {
                    set(&mut self.pay_void, p, v);
                }
            }
        }
    }

    fn take_void(&mut self, v: usize) {
        if let Some(u) = self.used.get_mut(v) {
            *u = true;
        }
        if let Some(r) = line_rec(self.lines, v) {
            if let Some(o) = key(&r.original_ref) {
                self.void_taken_orig
                    .entry((r.merchant.as_str(), o))
                    .or_insert(v);
            }
            if let Some(o) = key(&r.own_ref) {
                self.void_taken_own.entry(o).or_insert(v);
            }
        }
    }

    fn attach_refunds(&mut self) {
        let lines = self.lines;
        let payments = self.payments;
        let mut by_orig: Index<MerchRef<'a>> = Index::new(lines.len(), 0);
        for &l in self.lorder.iter().rev() {
            let Some(r) = line_rec(lines, l) else {
                continue;
            };
            if r.kind != SettlementKind::Refund {
                continue;
            }
            if let Some(o) = key(&r.original_ref) {
                by_orig.push_front(&(r.merchant.as_str(), o), l);
            }
        }
        if by_orig.is_empty() {
            return;
        }
        for i in 0..self.lorder.len() {
            let l = at(&self.lorder, i);
            let p = at(&self.line_pay, l);
            if p == NONE {
                continue;
            }
            let Some(r) = line_rec(lines, l) else {
                continue;
            };
            let Some(rrn) = key(&r.rrn) else {
                continue;
            };
            let k = (r.merchant.as_str(), rrn);
            for f in by_orig.chain(&k) {
                if orig_key(lines, f) == Some(k) {
                    self.refund_pay.entry(f).or_insert(p);
                }
            }
        }
        for i in 0..self.porder.len() {
            let p = at(&self.porder, i);
            let Some(pm) = get(payments, p) else {
                continue;
            };
            for k in pay_refs(pm) {
                for f in by_orig.chain(&k) {
                    if orig_key(lines, f) == Some(k) {
                        self.refund_pay.entry(f).or_insert(p);
                    }
                }
            }
        }
    }

    fn outcome(&self, category: Category, subject: Subject, owner: NaiveDate) -> Outcome {
        Outcome {
            category,
            subject,
            owner_date: owner,
            counted: owner == self.bd,
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

    fn payment_outcome(&self, p: usize) -> Option<Outcome> {
        let pm = get(self.payments, p)?;
        let l = at(&self.pay_line, p);
        let v = self.void_slot(p);
        let purchase = line_rec(self.lines, l);
        let void = line_rec(self.lines, v);
        let of_day = pm.business_date == self.bd;
        let ledger: i64 = if pm.voided { 0 } else { pm.amount_minor };
        let settled: i128 = purchase.map_or(0, |r| i128::from(r.gross_minor))
            + void.map_or(0, |r| i128::from(r.gross_minor));
        use Category::*;
        let (category, note, action) = match (purchase, void, pm.voided) {
            (None, None, true) if of_day => {
                (Matched, "voided the same day; nothing to settle", None)
            }
            (None, None, false) if of_day => (
                MissingInSettlement,
                "no settlement line in the files of the business date or the next day",
                Some(ACT_MISSING_SETTLEMENT),
            ),
            (None, None, _) => return None,
            (Some(r), None, false) => {
                if r.gross_minor == pm.amount_minor {
                    (Matched, "settled", None)
                } else {
                    (
                        AmountMismatch,
                        "settled with another amount",
                        Some(ACT_AMOUNT),
                    )
                }
            }
            (Some(r), Some(_), true) => {
                if i128::from(r.gross_minor) == i128::from(pm.amount_minor) && settled == 0 {
                    (
                        Matched,
                        "voided; purchase and void both settled and net to zero",
                        None,
                    )
                } else {
                    (
                        AmountMismatch,
                        "voided; the settled purchase and void do not net to the captured amount",
                        Some(ACT_AMOUNT),
                    )
                }
            }
            (Some(_), None, true) => (
                VoidSettled,
                "voided in the ledger but the purchase was settled without its void",
                Some(ACT_VOID_SETTLED),
            ),
            (Some(_), Some(_), false) => (
                AmountMismatch,
                "the acquirer settled a void the ledger does not have",
                Some(ACT_AMOUNT),
            ),
            (None, Some(_), _) => (
                AmountMismatch,
                "the acquirer settled a void without its purchase",
                Some(ACT_AMOUNT),
            ),
        };
        let mut o = self.outcome(category, Subject::Payment, pm.business_date);
        o.payment_id = Some(pm.id.clone());
        o.line_id = get(self.lines, l).map(|x| x.id);
        o.void_line_id = get(self.lines, v).map(|x| x.id);
        o.ledger_minor = Some(ledger);
        if purchase.is_some() || void.is_some() {
            o.settlement_minor = to_i64(settled);
        }
        o.note = note;
        o.action = action;
        Some(o)
    }

    /// A paired purchase line sharing a key with `r` (not `l` itself).
    fn original_of_duplicate(&self, l: usize, r: &'a SettlementRecord) -> Option<usize> {
        let paired = |c: &usize| *c != l && at(&self.line_pay, *c) != NONE;
        let rec = |c: &usize| line_rec(self.lines, *c);
        key(&r.own_ref)
            .and_then(|k| {
                self.own
                    .chain(&k)
                    .find(|c| paired(c) && rec(c).and_then(|x| key(&x.own_ref)) == Some(k))
            })
            .or_else(|| {
                line_mtbt(r).and_then(|k| {
                    self.mtbt
                        .chain(&k)
                        .find(|c| paired(c) && rec(c).and_then(line_mtbt) == Some(k))
                })
            })
            .or_else(|| {
                line_trd(r).and_then(|k| {
                    self.trd
                        .chain(&k)
                        .find(|c| paired(c) && rec(c).and_then(line_trd) == Some(k))
                })
            })
    }

    fn line_outcome(&self, l: usize, refunds_used: &mut FxSet<(usize, usize)>) -> Option<Outcome> {
        let line = get(self.lines, l)?;
        let r = &line.record;
        let own_date = r.settlement_date;
        let mut o = match r.kind {
            SettlementKind::Purchase => {
                if at(&self.line_pay, l) != NONE {
                    return None;
                }
                let v = at(&self.line_void, l);
                let void = line_rec(self.lines, v);
                if let Some(orig) = self.original_of_duplicate(l, r) {
                    let p = at(&self.line_pay, orig);
                    let pm = get(self.payments, p);
                    let mut o = self.outcome(
                        Category::DuplicateInSettlement,
                        Subject::Line,
                        pm.map_or(own_date, |x| x.business_date),
                    );
                    o.payment_id = pm.map(|x| x.id.clone());
                    o.line_id = Some(line.id);
                    o.related_line_id = get(self.lines, orig).map(|x| x.id);
                    o.note = "a second purchase line with the key of a matched one";
                    o.action = Some(ACT_DUPLICATE);
                    o.void_line_id = get(self.lines, v).map(|x| x.id);
                    o.settlement_minor = to_i64(
                        i128::from(r.gross_minor) + void.map_or(0, |x| i128::from(x.gross_minor)),
                    );
                    return Some(o);
                }
                let mut o = self.outcome(Category::MissingInLedger, Subject::Line, own_date);
                o.void_line_id = get(self.lines, v).map(|x| x.id);
                o.settlement_minor = to_i64(
                    i128::from(r.gross_minor) + void.map_or(0, |x| i128::from(x.gross_minor)),
                );
                o.note = if void.is_some() {
                    "a purchase and its void the ledger does not have"
                } else {
                    "a purchase the ledger does not have"
                };
                o.action = Some(ACT_MISSING_LEDGER);
                o
            }
            SettlementKind::Void => {
                if self.used.get(l).copied().unwrap_or(false) {
                    return None;
                }
                let taken = key(&r.original_ref)
                    .and_then(|k| self.void_taken_orig.get(&(r.merchant.as_str(), k)))
                    .or_else(|| key(&r.own_ref).and_then(|k| self.void_taken_own.get(&k)))
                    .copied();
                if let Some(first) = taken {
                    let mut o =
                        self.outcome(Category::DuplicateInSettlement, Subject::Line, own_date);
                    o.related_line_id = get(self.lines, first).map(|x| x.id);
                    o.note = "a second void of the same purchase";
                    o.action = Some(ACT_DUPLICATE);
                    o
                } else {
                    let mut o = self.outcome(Category::MissingInLedger, Subject::Line, own_date);
                    o.note = "a void whose purchase is unknown";
                    o.action = Some(ACT_MISSING_LEDGER);
                    o
                }
            }
            SettlementKind::Refund => {
                let p = self.refund_pay.get(&l).copied().unwrap_or(NONE);
                let pm = get(self.payments, p);
                let want = r.gross_minor.checked_neg();
                let chosen = pm.and_then(|pm| {
                    let free = pm
                        .refunds
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| !refunds_used.contains(&(p, *j)));
                    let best = |it: &mut dyn Iterator<Item = (usize, &'a LedgerRefund)>| {
                        it.min_by(|a, b| {
                            (a.1.approved_on, &a.1.id).cmp(&(b.1.approved_on, &b.1.id))
                        })
                    };
                    best(&mut free.clone().filter(|(_, f)| Some(f.amount_minor) == want))
                        .or_else(|| best(&mut free.clone()))
                });
                let mut o = match chosen {
                    Some((j, f)) => {
                        refunds_used.insert((p, j));
                        let equal = Some(f.amount_minor) == want;
                        let mut o = self.outcome(
                            if equal {
                                Category::Matched
                            } else {
                                Category::AmountMismatch
                            },
                            Subject::Line,
                            own_date,
                        );
                        o.refund_id = Some(f.id.clone());
                        o.ledger_minor = f.amount_minor.checked_neg();
                        o.note = if equal {
                            "refund settled"
                        } else {
                            "refund settled with another amount"
                        };
                        o.action = if equal { None } else { Some(ACT_AMOUNT) };
                        o
                    }
                    None => {
                        let mut o =
                            self.outcome(Category::MissingInLedger, Subject::Line, own_date);
                        o.note = if pm.is_some() {
                            "a refund of a known payment that has no ledger refund"
                        } else {
                            "a refund whose purchase is unknown"
                        };
                        o.action = Some(ACT_REFUND_MISSING);
                        o
                    }
                };
                o.payment_id = pm.map(|x| x.id.clone());
                o
            }
            SettlementKind::Adjustment => {
                let mut o = self.outcome(Category::MissingInLedger, Subject::Line, own_date);
                o.note = "an acquirer adjustment";
                o.action = Some(ACT_ADJUSTMENT);
                o
            }
        };
        o.line_id = Some(line.id);
        if o.settlement_minor.is_none() {
            o.settlement_minor = Some(r.gross_minor);
        }
        Some(o)
    }

    fn outcomes(&self, out: &mut Vec<Outcome>) {
        for &p in &self.porder {
            if let Some(o) = self.payment_outcome(p) {
                out.push(o);
            }
        }
        let mut refunds_used: FxSet<(usize, usize)> = FxSet::default();
        for &l in &self.lorder {
            if let Some(o) = self.line_outcome(l, &mut refunds_used) {
                out.push(o);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The cash tier

/// The files a settlement narrative names: `(channel, [(merchant, date)])`.
pub fn parse_settlement_narrative(text: &str) -> Option<(Channel, Vec<(&str, NaiveDate)>)> {
    let t = text.trim_start();
    let (channel, rest) = if let Some(rest) = t.strip_prefix("POS清算") {
        (Channel::BankCard, rest)
    } else if let Some(rest) = t.strip_prefix("一卡通结算") {
        (Channel::OneCard, rest)
    } else {
        return None;
    };
    let mut merchant: Option<&str> = None;
    let mut named = Vec::new();
    for token in rest
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '，' | ';' | '；'))
        .filter(|t| !t.is_empty())
    {
        let date = if token.len() == 8 && token.bytes().all(|b| b.is_ascii_digit()) {
            NaiveDate::parse_from_str(token, "%Y%m%d").ok()
        } else {
            None
        };
        match (date, merchant) {
            (Some(d), Some(m)) => named.push((m, d)),
            (Some(_), None) => return None,
            (None, _) => merchant = Some(token),
        }
    }
    if named.is_empty() {
        None
    } else {
        Some((channel, named))
    }
}

fn cash(input: &MatchInput, out: &mut Vec<Outcome>) -> Vec<i64> {
    let bd = input.business_date;
    let files = input.files.as_slice();
    let mut forder: Vec<usize> = (0..files.len()).collect();
    forder.sort_by(|&a, &b| match (files.get(a), files.get(b)) {
        (Some(x), Some(y)) => (x.settlement_date, &x.file_id, x.channel, &x.merchant).cmp(&(
            y.settlement_date,
            &y.file_id,
            y.channel,
            &y.merchant,
        )),
        _ => a.cmp(&b),
    });
    let bookings = input.bookings.as_slice();
    let mut border: Vec<usize> = (0..bookings.len())
        .filter(|&b| bookings.get(b).is_some_and(|x| !x.booking.reversal))
        .collect();
    border.sort_by(|&a, &b| match (bookings.get(a), bookings.get(b)) {
        (Some(x), Some(y)) => (x.booking.booking_date, x.id).cmp(&(y.booking.booking_date, y.id)),
        _ => a.cmp(&b),
    });
    let signed = |b: usize| {
        bookings
            .get(b)
            .map_or(0, |x| x.booking.direction.signed(x.booking.amount_minor))
    };
    let net = |f: usize| files.get(f).map_or(0, |x| x.net_minor);
    // file → booking that paid it (NONE: unclaimed).
    let mut paid_by = vec![NONE; files.len()];
    // booking → files it paid, in file order; and whether it was matched by narrative.
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut narrative_unclaimed: Vec<(usize, NaiveDate)> = Vec::new();
    let mut plain: Vec<usize> = Vec::new();

    for &b in &border {
        let Some(bk) = bookings.get(b) else { continue };
        match parse_settlement_narrative(&bk.booking.narrative) {
            Some((channel, named)) => {
                let group: Vec<usize> = forder
                    .iter()
                    .copied()
                    .filter(|&f| {
                        at(&paid_by, f) == NONE
                            && files.get(f).is_some_and(|x| {
                                x.channel == channel
                                    && named
                                        .iter()
                                        .any(|(m, d)| *m == x.merchant && *d == x.settlement_date)
                            })
                    })
                    .collect();
                if group.is_empty() {
                    let last = named.iter().map(|(_, d)| *d).max().unwrap_or(bd);
                    narrative_unclaimed.push((b, last));
                } else {
                    for &f in &group {
                        set(&mut paid_by, f, b);
                    }
                    groups.push((b, group));
                }
            }
            None => plain.push(b),
        }
    }
    // Fallback by amount, singles first.
    let mut plain_used = vec![false; bookings.len()];
    for &f in &forder {
        if at(&paid_by, f) != NONE || net(f) == 0 {
            continue;
        }
        let amount = net(f);
        let same_files = forder
            .iter()
            .filter(|&&g| at(&paid_by, g) == NONE && net(g) == amount)
            .count();
        let cands: Vec<usize> = plain
            .iter()
            .copied()
            .filter(|&b| !plain_used.get(b).copied().unwrap_or(true) && signed(b) == amount)
            .collect();
        if let ([b], 1) = (cands.as_slice(), same_files) {
            set(&mut paid_by, f, *b);
            if let Some(u) = plain_used.get_mut(*b) {
                *u = true;
            }
            groups.push((*b, vec![f]));
        }
    }
    // Then whole merchants.
    let mut merchants: Vec<(Channel, &str)> = forder
        .iter()
        .filter(|&&f| at(&paid_by, f) == NONE)
        .filter_map(|&f| files.get(f).map(|x| (x.channel, x.merchant.as_str())))
        .collect();
    merchants.sort();
    merchants.dedup();
    for (channel, merchant) in merchants {
        let group: Vec<usize> = forder
            .iter()
            .copied()
            .filter(|&f| {
                at(&paid_by, f) == NONE
                    && files
                        .get(f)
                        .is_some_and(|x| x.channel == channel && x.merchant == merchant)
            })
            .collect();
        if group.len() < 2 {
            continue;
        }
        let sum: i128 = group.iter().map(|&f| i128::from(net(f))).sum();
        let cands: Vec<usize> = plain
            .iter()
            .copied()
            .filter(|&b| {
                !plain_used.get(b).copied().unwrap_or(true) && i128::from(signed(b)) == sum
            })
            .collect();
        if let [b] = cands.as_slice() {
            for &f in &group {
                set(&mut paid_by, f, *b);
            }
            if let Some(u) = plain_used.get_mut(*b) {
                *u = true;
            }
            groups.push((*b, group));
        }
    }

    let mut file_outcomes: Vec<Option<Outcome>> = vec![None; files.len()];
    for (b, group) in &groups {
        let sum: i128 = group.iter().map(|&f| i128::from(net(f))).sum();
        let credit = signed(*b);
        let ok = sum == i128::from(credit);
        for &f in group {
            let Some(file) = files.get(f) else { continue };
            let owner = file.settlement_date;
            let o = Outcome {
                category: if ok {
                    Category::CashMatched
                } else {
                    Category::CashMismatch
                },
                subject: Subject::File,
                owner_date: owner,
                counted: owner == bd,
                payment_id: None,
                refund_id: None,
                line_id: None,
                void_line_id: None,
                related_line_id: None,
                file_id: Some(file.file_id.clone()),
                booking_id: bookings.get(*b).map(|x| x.id),
                ledger_minor: Some(file.net_minor),
                settlement_minor: Some(credit),
                note: match (ok, group.len()) {
                    (true, 1) => "the file's net was credited",
                    (true, _) => "credited together with other files in one booking",
                    (false, 1) => "the credit differs from the file's net",
                    (false, _) => {
                        "one booking paid several files; it differs from the sum of their nets"
                    }
                },
                action: if ok { None } else { Some(ACT_CASH_MISMATCH) },
            };
            if let Some(slot) = file_outcomes.get_mut(f) {
                *slot = Some(o);
            }
        }
    }
    for &f in &forder {
        let Some(file) = files.get(f) else { continue };
        let o = match file_outcomes.get_mut(f).and_then(Option::take) {
            Some(o) => o,
            None => {
                let zero = file.net_minor == 0;
                Outcome {
                    category: if zero {
                        Category::CashMatched
                    } else {
                        Category::CashMissing
                    },
                    subject: Subject::File,
                    owner_date: file.settlement_date,
                    counted: file.settlement_date == bd,
                    payment_id: None,
                    refund_id: None,
                    line_id: None,
                    void_line_id: None,
                    related_line_id: None,
                    file_id: Some(file.file_id.clone()),
                    booking_id: None,
                    ledger_minor: Some(file.net_minor),
                    settlement_minor: None,
                    note: if zero {
                        "net zero: no credit due"
                    } else {
                        "no credit for this file"
                    },
                    action: if zero { None } else { Some(ACT_CASH_MISSING) },
                }
            }
        };
        out.push(o);
    }
    for (b, last) in narrative_unclaimed {
        let Some(bk) = bookings.get(b) else { continue };
        out.push(Outcome {
            category: Category::CashMismatch,
            subject: Subject::Booking,
            owner_date: last,
            counted: last == bd,
            payment_id: None,
            refund_id: None,
            line_id: None,
            void_line_id: None,
            related_line_id: None,
            file_id: None,
            booking_id: Some(bk.id),
            ledger_minor: None,
            settlement_minor: Some(signed(b)),
            note: "a settlement credit that names no unpaid file of the run",
            action: Some(ACT_CASH_UNCLAIMED),
        });
    }
    plain
        .iter()
        .filter(|&&b| !plain_used.get(b).copied().unwrap_or(true))
        .filter_map(|&b| bookings.get(b).map(|x| x.id))
        .collect()
}

fn netting(input: &MatchInput) -> Vec<FileNetting> {
    let mut rows: Vec<FileNetting> = input
        .files
        .iter()
        .map(|f| FileNetting {
            file_id: f.file_id.clone(),
            channel: f.channel,
            merchant: f.merchant.clone(),
            settlement_date: f.settlement_date,
            lines: 0,
            gross_minor: 0,
            fee_minor: 0,
            net_minor: 0,
            declared_lines: f.lines,
            declared_net_minor: f.net_minor,
            agrees: false,
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.settlement_date, &a.file_id, a.channel, &a.merchant).cmp(&(
            b.settlement_date,
            &b.file_id,
            b.channel,
            &b.merchant,
        ))
    });
    let mut by_id: FxMap<&str, usize> = fx_map(rows.len());
    for (i, row) in rows.iter().enumerate() {
        by_id.entry(row.file_id.as_str()).or_insert(i);
    }
    let mut acc: Vec<(u64, i128, i128, i128)> = vec![(0, 0, 0, 0); rows.len()];
    for line in &input.lines {
        if let Some(a) = by_id
            .get(line.file_id.as_str())
            .and_then(|&i| acc.get_mut(i))
        {
            a.0 = a.0.saturating_add(1);
            a.1 += i128::from(line.record.gross_minor);
            a.2 += i128::from(line.record.fee_minor);
            a.3 += i128::from(line.record.net_minor);
        }
    }
    for (row, a) in rows.iter_mut().zip(acc) {
        row.lines = a.0;
        row.gross_minor = a.1;
        row.fee_minor = a.2;
        row.net_minor = a.3;
        row.agrees =
            row.lines == row.declared_lines && row.net_minor == i128::from(row.declared_net_minor);
    }
    rows
}

/// Runs the three tiers over `input`. Pure and deterministic (see the module doc).
pub fn reconcile(input: &MatchInput) -> MatchResult {
    let mut tx = Tx::new(input);
    tx.pair_purchases();
    tx.attach_voids();
    tx.attach_refunds();
    let mut outcomes =
        Vec::with_capacity(input.payments.len().max(input.lines.len()) + input.files.len());
    tx.outcomes(&mut outcomes);
    drop(tx);
    let unclaimed_bookings = cash(input, &mut outcomes);
    let mut summary = Summary::default();
    let mut deferred: u64 = 0;
    for o in &outcomes {
        if o.counted {
            summary.add(o.category);
        } else {
            deferred = deferred.saturating_add(1);
        }
    }
    let balance = match input.statement_closing_minor {
        None => BalanceCheck::NoStatement {
            ledger_minor: input.ledger_1002_01_minor,
        },
        Some(s) if s == input.ledger_1002_01_minor => BalanceCheck::Agree { balance_minor: s },
        Some(s) => BalanceCheck::Differ {
            statement_minor: s,
            ledger_minor: input.ledger_1002_01_minor,
            difference_minor: i128::from(s) - i128::from(input.ledger_1002_01_minor),
        },
    };
    MatchResult {
        business_date: input.business_date,
        outcomes,
        summary,
        deferred,
        balance,
        netting: netting(input),
        unclaimed_bookings,
    }
}

// ---------------------------------------------------------------------------------------------
// Synthetic input for benchmarks

struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

const SYN_POS: &str = "898440379930001";
const SYN_ONE: &str = "310000000000021";

/// A deterministic run of `n` payments of 2026-11-24 and `n` settlement lines for benchmarks:
/// a quarter one-card, the rest bank card (a few after the 23:00 cut-off, settled in the next
/// day's file); about 0.5% of payments without a line, 0.5% of lines without a payment and
/// 0.2% of lines with another amount; the POS and one-card files of the day are credited on
/// the statement, the POS file of the next day not yet.
pub fn synthetic(n: usize, seed: u64) -> MatchInput {
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default();
    let next = day.succ_opt().unwrap_or(day);
    let midnight = day.and_time(NaiveTime::MIN);
    let mut rng = SplitMix(seed);
    let mut payments = Vec::with_capacity(n);
    let mut lines = Vec::with_capacity(n);
    let spread = i64::try_from(n.max(1)).unwrap_or(i64::MAX);
    for i in 0..n {
        let i64i = i64::try_from(i).unwrap_or(0);
        let one_card = i % 4 == 0;
        let amount = 100 + i64::try_from(rng.next() % 100_000).unwrap_or(0);
        let secs = 8 * 3600 + (i64i.saturating_mul(16 * 3600 - 60) / spread);
        let txn_time = midnight + Duration::seconds(secs);
        let (merchant, terminal) = if one_card {
            (SYN_ONE, format!("YKT0003100{:02}", i % 20))
        } else {
            (SYN_POS, format!("1100{:04}", i % 50))
        };
        let seq = i / 50;
        let payment = LedgerPayment {
            id: format!("pay{i:09}"),
            reference: format!("P20261124-{i:08}"),
            channel: if one_card {
                Channel::OneCard
            } else {
                Channel::BankCard
            },
            business_date: day,
            amount_minor: amount,
            merchant: merchant.to_string(),
            terminal,
            batch: (!one_card).then(|| format!("{:06}", seq / 1_000_000 + 1)),
            trace: (!one_card).then(|| format!("{:06}", seq % 1_000_000)),
            rrn: (!one_card).then(|| format!("{:012}", 450_000_000_000u64 + i as u64)),
            serial: one_card.then(|| format!("2026112409{i:010}")),
            txn_time,
            voided: false,
            refunds: Vec::new(),
        };
        let roll = rng.next() % 1000;
        if roll >= 5 {
            let gross = if roll < 7 { amount + 1 } else { amount };
            lines.push(synthetic_line(&payment, gross, day, next, lines.len()));
        }
        if roll >= 995 {
            // A line the ledger does not have (keeps the line count near n).
            let mut ghost = payment.clone();
            ghost.reference = format!("X20261124-{i:08}");
            ghost.trace = ghost.trace.map(|t| format!("9{t}"));
            ghost.rrn = ghost.rrn.map(|r| format!("9{r}"));
            ghost.serial = ghost.serial.map(|s| format!("9{s}"));
            lines.push(synthetic_line(&ghost, amount, day, next, lines.len()));
        }
        payments.push(payment);
    }
    let mut files = Vec::new();
    let mut bookings = Vec::new();
    for (k, (channel, merchant, date)) in [
        (Channel::BankCard, SYN_POS, day),
        (Channel::OneCard, SYN_ONE, day),
        (Channel::BankCard, SYN_POS, next),
    ]
    .into_iter()
    .enumerate()
    {
        let file_id = format!("F{}-{}", merchant, date.format("%Y%m%d"));
        let (count, net) = lines
            .iter()
            .filter(|l| l.file_id == file_id)
            .fold((0u64, 0i64), |(c, s), l| {
                (c + 1, s.saturating_add(l.record.net_minor))
            });
        if k < 2 {
            let label = if channel == Channel::BankCard {
                "POS清算"
            } else {
                "一卡通结算"
            };
            bookings.push(Booking {
                id: i64::try_from(k).unwrap_or(0) + 1,
                file_id: "STMT".to_string(),
                booking: synthetic_booking(
                    next,
                    net,
                    format!("{label} {merchant} {}", date.format("%Y%m%d")),
                ),
            });
        }
        files.push(SettlementFile {
            file_id,
            channel,
            merchant: merchant.to_string(),
            settlement_date: date,
            net_minor: net,
            lines: count,
        });
    }
    MatchInput {
        business_date: day,
        payments,
        lines,
        files,
        bookings,
        statement_closing_minor: None,
        ledger_1002_01_minor: 0,
    }
}

fn synthetic_line(
    p: &LedgerPayment,
    gross: i64,
    day: NaiveDate,
    next: NaiveDate,
    at: usize,
) -> SettlementLine {
    let late = p.channel == Channel::BankCard
        && p.txn_time.time() >= NaiveTime::from_hms_opt(23, 0, 0).unwrap_or(NaiveTime::MIN);
    let date = if late { next } else { day };
    let fee = gross * 6 / 10_000;
    let record = SettlementRecord {
        line: u64::try_from(at).unwrap_or(0) + 2,
        merchant: p.merchant.clone(),
        terminal: p.terminal.clone(),
        batch: p.batch.clone(),
        trace: p.trace.clone(),
        rrn: p.rrn.clone().or_else(|| p.serial.clone()),
        auth_code: None,
        masked_card: Some("622848******0123".to_string()),
        kind: SettlementKind::Purchase,
        gross_minor: gross,
        fee_minor: fee,
        net_minor: gross - fee,
        currency: "CNY".to_string(),
        txn_time: p.txn_time,
        settlement_date: date,
        original_ref: None,
        own_ref: (p.channel == Channel::OneCard).then(|| p.reference.clone()),
    };
    SettlementLine {
        id: i64::try_from(at).unwrap_or(0) + 1,
        file_id: format!("F{}-{}", p.merchant, date.format("%Y%m%d")),
        record,
    }
}

fn synthetic_booking(date: NaiveDate, signed: i64, narrative: String) -> StatementBooking {
    StatementBooking {
        line: 1,
        account: "33050161234500001234".to_string(),
        currency: "CNY".to_string(),
        booking_date: date,
        value_date: Some(date),
        direction: if signed < 0 {
            Direction::Debit
        } else {
            Direction::Credit
        },
        amount_minor: signed.saturating_abs(),
        reversal: false,
        bank_ref: None,
        narrative,
        counterparty_account: None,
        counterparty_name: None,
        balance_after_minor: None,
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    fn at_time(day: u32, h: u32, m: u32) -> NaiveDateTime {
        d(day).and_hms_opt(h, m, 0).unwrap()
    }

    fn pos(id: &str, n: u32, amount: i64, time: NaiveDateTime) -> LedgerPayment {
        LedgerPayment {
            id: id.into(),
            reference: format!("R{id}"),
            channel: Channel::BankCard,
            business_date: time.date(),
            amount_minor: amount,
            merchant: SYN_POS.into(),
            terminal: "11002001".into(),
            batch: Some("000001".into()),
            trace: Some(format!("{n:06}")),
            rrn: Some(format!("{:012}", n)),
            serial: None,
            txn_time: time,
            voided: false,
            refunds: vec![],
        }
    }

    fn one(id: &str, n: u32, amount: i64, time: NaiveDateTime) -> LedgerPayment {
        LedgerPayment {
            channel: Channel::OneCard,
            merchant: SYN_ONE.into(),
            terminal: "YKT000310021".into(),
            batch: None,
            trace: None,
            rrn: None,
            serial: Some(format!("2026{n:016}")),
            ..pos(id, n, amount, time)
        }
    }

    fn line(
        id: i64,
        p: &LedgerPayment,
        kind: SettlementKind,
        gross: i64,
        date: NaiveDate,
    ) -> SettlementLine {
        let fee = gross / 1000;
        let own_card = p.channel == Channel::OneCard;
        SettlementLine {
            id,
            file_id: format!("{}-{}", p.merchant, date),
            record: SettlementRecord {
                line: u64::try_from(id).unwrap(),
                merchant: p.merchant.clone(),
                terminal: p.terminal.clone(),
                batch: p.batch.clone(),
                trace: if kind == SettlementKind::Purchase {
                    p.trace.clone()
                } else {
                    Some(format!("9{id:05}"))
                },
                rrn: if kind == SettlementKind::Purchase {
                    p.rrn.clone().or(p.serial.clone())
                } else {
                    Some(format!("V{id:011}"))
                },
                auth_code: None,
                masked_card: None,
                kind,
                gross_minor: gross,
                fee_minor: fee,
                net_minor: gross - fee,
                currency: "CNY".into(),
                txn_time: p.txn_time,
                settlement_date: date,
                original_ref: (kind != SettlementKind::Purchase)
                    .then(|| p.rrn.clone().or(p.serial.clone()).unwrap()),
                own_ref: own_card.then(|| p.reference.clone()),
            },
        }
    }

    fn input(payments: Vec<LedgerPayment>, lines: Vec<SettlementLine>) -> MatchInput {
        MatchInput {
            business_date: d(24),
            payments,
            lines,
            files: vec![],
            bookings: vec![],
            statement_closing_minor: None,
            ledger_1002_01_minor: 0,
        }
    }

    fn cats(r: &MatchResult) -> Vec<(Category, bool)> {
        r.outcomes.iter().map(|o| (o.category, o.counted)).collect()
    }

    /// Every line once (as line or void line); every payment of D once as a payment subject.
    fn check_invariants(inp: &MatchInput, r: &MatchResult) {
        let mut seen: HashMap<i64, usize> = HashMap::new();
        for o in &r.outcomes {
            for id in [o.line_id, o.void_line_id].into_iter().flatten() {
                *seen.entry(id).or_default() += 1;
            }
        }
        for l in &inp.lines {
            assert_eq!(seen.get(&l.id), Some(&1), "line {} once", l.id);
        }
        assert_eq!(seen.len(), inp.lines.len());
        for p in &inp.payments {
            let n = r
                .outcomes
                .iter()
                .filter(|o| o.subject == Subject::Payment && o.payment_id.as_deref() == Some(&p.id))
                .count();
            if p.business_date == inp.business_date {
                assert_eq!(n, 1, "payment {}", p.id);
            } else {
                assert!(n <= 1);
            }
        }
    }

    #[test]
    fn plain_match_and_amount_mismatch_and_missing() {
        let a = pos("a", 1, 20000, at_time(24, 9, 30));
        let b = pos("b", 2, 5000, at_time(24, 10, 0));
        let c = pos("c", 3, 700, at_time(24, 11, 0));
        let ghost = pos("ghost", 4, 100, at_time(24, 12, 0));
        let lines = vec![
            line(1, &a, SettlementKind::Purchase, 20000, d(24)),
            line(2, &b, SettlementKind::Purchase, 5001, d(24)),
            line(3, &ghost, SettlementKind::Purchase, 100, d(24)),
        ];
        let inp = input(vec![a, b, c], lines);
        let r = reconcile(&inp);
        check_invariants(&inp, &r);
        assert_eq!(r.summary.matched, 1);
        assert_eq!(r.summary.amount_mismatch, 1);
        assert_eq!(r.summary.missing_in_settlement, 1);
        assert_eq!(r.summary.missing_in_ledger, 1);
        let mm = r
            .outcomes
            .iter()
            .find(|o| o.category == Category::AmountMismatch)
            .unwrap();
        assert_eq!(
            (mm.ledger_minor, mm.settlement_minor),
            (Some(5000), Some(5001))
        );
        assert!(mm.action.is_some());
    }

    #[test]
    fn late_purchase_settles_next_day_and_is_not_missing() {
        let late = pos("late", 1, 12000, at_time(24, 23, 10));
        let lines = vec![line(1, &late, SettlementKind::Purchase, 12000, d(25))];
        let inp = input(vec![late], lines);
        let r = reconcile(&inp);
        check_invariants(&inp, &r);
        assert_eq!(cats(&r), vec![(Category::Matched, true)]);
        // Yesterday's late payment in today's file: matched, owned (counted) by yesterday.
        let y = pos("y", 2, 300, at_time(23, 23, 30));
        let inp = input(
            vec![y.clone()],
            vec![line(5, &y, SettlementKind::Purchase, 300, d(24))],
        );
        let r = reconcile(&inp);
        assert_eq!(cats(&r), vec![(Category::Matched, false)]);
        assert_eq!(r.summary, Summary::default());
        // Tomorrow's file lines with no payment belong to tomorrow's run.
        let g = pos("g", 3, 300, at_time(25, 9, 0));
        let inp = input(
            vec![],
            vec![line(6, &g, SettlementKind::Purchase, 300, d(25))],
        );
        let r = reconcile(&inp);
        assert_eq!(cats(&r), vec![(Category::MissingInLedger, false)]);
        assert_eq!(r.deferred, 1);
    }

    #[test]
    fn voids() {
        let mut v = pos("v", 1, 5000, at_time(24, 10, 0));
        v.voided = true;
        let mut s = pos("s", 2, 7000, at_time(24, 10, 5));
        s.voided = true;
        let mut n = pos("n", 3, 800, at_time(24, 10, 9));
        n.voided = true;
        let lines = vec![
            line(1, &v, SettlementKind::Purchase, 5000, d(24)),
            line(2, &v, SettlementKind::Void, -5000, d(24)),
            line(3, &s, SettlementKind::Purchase, 7000, d(24)),
            line(4, &v, SettlementKind::Void, -5000, d(24)),
        ];
        let inp = input(vec![v, s, n], lines);
        let r = reconcile(&inp);
        check_invariants(&inp, &r);
        let o = |id: &str| {
            r.outcomes
                .iter()
                .find(|o| o.payment_id.as_deref() == Some(id) && o.subject == Subject::Payment)
                .unwrap()
        };
        assert_eq!(o("v").category, Category::Matched);
        assert_eq!((o("v").line_id, o("v").void_line_id), (Some(1), Some(2)));
        assert_eq!(o("s").category, Category::VoidSettled);
        assert_eq!(o("n").category, Category::Matched);
        assert_eq!(r.summary.duplicate_in_settlement, 1, "second void of v");
    }

    #[test]
    fn refund_and_unknown_refund() {
        let mut old = pos("old", 1, 9000, at_time(20, 9, 0));
        old.refunds = vec![LedgerRefund {
            id: "rf1".into(),
            amount_minor: 2000,
            approved_on: d(24),
        }];
        let stranger = pos("x", 2, 1, at_time(20, 9, 0));
        let lines = vec![
            line(1, &old, SettlementKind::Refund, -2000, d(24)),
            line(2, &stranger, SettlementKind::Refund, -500, d(24)),
        ];
        let inp = input(vec![old], lines);
        let r = reconcile(&inp);
        check_invariants(&inp, &r);
        assert_eq!(
            cats(&r),
            vec![(Category::Matched, true), (Category::MissingInLedger, true)]
        );
        assert_eq!(r.outcomes[0].refund_id.as_deref(), Some("rf1"));
        assert_eq!(r.outcomes[0].ledger_minor, Some(-2000));
    }

    #[test]
    fn duplicate_lines_and_one_card_own_reference() {
        let a = pos("a", 1, 20000, at_time(24, 9, 30));
        let mut c = one("c", 7, 128000, at_time(24, 9, 35));
        c.serial = None; // the counter never got the serial: only the own reference can match
        let mut oc = line(3, &c, SettlementKind::Purchase, 128000, d(24));
        oc.record.rrn = Some("20261124093512000017".into());
        let lines = vec![
            line(1, &a, SettlementKind::Purchase, 20000, d(24)),
            line(2, &a, SettlementKind::Purchase, 20000, d(24)),
            oc,
        ];
        let inp = input(vec![a, c], lines);
        let r = reconcile(&inp);
        check_invariants(&inp, &r);
        assert_eq!(r.summary.matched, 2);
        assert_eq!(r.summary.duplicate_in_settlement, 1);
        let dup = r
            .outcomes
            .iter()
            .find(|o| o.category == Category::DuplicateInSettlement)
            .unwrap();
        assert_eq!((dup.line_id, dup.related_line_id), (Some(2), Some(1)));
    }

    fn file(id: &str, ch: Channel, m: &str, day: u32, net: i64) -> SettlementFile {
        SettlementFile {
            file_id: id.into(),
            channel: ch,
            merchant: m.into(),
            settlement_date: d(day),
            net_minor: net,
            lines: 1,
        }
    }

    fn bk(id: i64, amount: i64, narrative: &str) -> Booking {
        Booking {
            id,
            file_id: "S".into(),
            booking: synthetic_booking(d(25), amount, narrative.into()),
        }
    }

    #[test]
    fn cash_tier() {
        let mut inp = input(vec![], vec![]);
        inp.files = vec![
            file("p23", Channel::BankCard, SYN_POS, 23, 100),
            file("p24", Channel::BankCard, SYN_POS, 24, 250),
            file("o24", Channel::OneCard, SYN_ONE, 24, 999),
            file("z24", Channel::OneCard, "310000000000099", 24, 0),
            file("q24", Channel::BankCard, "898440379930002", 24, 40),
        ];
        inp.bookings = vec![
            bk(1, 350, "POS清算  898440379930001   20261123,20261124"),
            bk(2, 998, "一卡通结算 310000000000021 20261124"),
            bk(3, 77, "POS清算 898440379930009 20261124"),
            bk(4, 5000, "手续费补足"),
        ];
        inp.statement_closing_minor = Some(10);
        inp.ledger_1002_01_minor = 7;
        let r = reconcile(&inp);
        let by_file = |f: &str| {
            r.outcomes
                .iter()
                .find(|o| o.file_id.as_deref() == Some(f))
                .unwrap()
        };
        assert_eq!(by_file("p24").category, Category::CashMatched);
        assert_eq!(by_file("p23").category, Category::CashMatched);
        assert!(!by_file("p23").counted);
        assert_eq!(by_file("o24").category, Category::CashMismatch);
        assert_eq!(by_file("z24").category, Category::CashMatched);
        assert_eq!(by_file("q24").category, Category::CashMissing);
        let unclaimed = r
            .outcomes
            .iter()
            .find(|o| o.subject == Subject::Booking)
            .unwrap();
        assert_eq!(
            (unclaimed.category, unclaimed.booking_id),
            (Category::CashMismatch, Some(3))
        );
        assert_eq!(r.unclaimed_bookings, vec![4]);
        assert_eq!(
            r.balance,
            BalanceCheck::Differ {
                statement_minor: 10,
                ledger_minor: 7,
                difference_minor: 3
            }
        );
        // Fallback: no narrative, amount equal to the merchant's files together.
        let mut inp2 = input(vec![], vec![]);
        inp2.files = vec![
            file("a", Channel::BankCard, SYN_POS, 23, 10),
            file("b", Channel::BankCard, SYN_POS, 24, 20),
        ];
        inp2.bookings = vec![bk(9, 30, "清算款")];
        let r2 = reconcile(&inp2);
        assert!(r2
            .outcomes
            .iter()
            .all(|o| o.category == Category::CashMatched && o.booking_id == Some(9)));
    }

    #[test]
    fn synthetic_is_deterministic_and_complete() {
        let inp = synthetic(3000, 7);
        let r = reconcile(&inp);
        check_invariants(&inp, &r);
        let mut shuffled = inp.clone();
        shuffled.payments.reverse();
        shuffled.lines.reverse();
        shuffled.files.reverse();
        shuffled.bookings.reverse();
        assert_eq!(reconcile(&shuffled), r);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn injected_faults_are_reported_exactly(
            specs in proptest::collection::vec((any::<bool>(), 1i64..100_000, 0u32..24*60-10, 0u8..20), 1..40),
            cash_fault in 0u8..3,
        ) {
            let mut payments = Vec::new();
            let mut lines = Vec::new();
            let mut expected: Vec<(Category, String)> = Vec::new();
            let mut next_id = 1i64;
            let mut owner: HashMap<i64, String> = HashMap::new();
            for (i, (is_one, amount, minute, fault)) in specs.iter().enumerate() {
                let t = at_time(24, minute / 60, minute % 60);
                let n = u32::try_from(i).unwrap() + 1;
                let id = format!("p{i:03}");
                let mut p = if *is_one { one(&id, n, *amount, t) } else { pos(&id, n, *amount, t) };
                let late = !is_one && t.time() >= NaiveTime::from_hms_opt(23, 0, 0).unwrap();
                let mut fdate = if late { d(25) } else { d(24) };
                if *fault == 6 && !is_one { fdate = d(25); } // moved to next day's file: fine
                p.voided = *fault == 4 || *fault == 5;
                let back = (amount / 2).max(1);
                if *fault == 8 || *fault == 10 {
                    p.refunds = vec![LedgerRefund { id: format!("r{i:03}"), amount_minor: back, approved_on: d(24) }];
                }
                let start = lines.len();
                let mut mk = |kind, gross| { let l = line(next_id, &p, kind, gross, fdate); next_id += 1; l };
                match fault {
                    1 => expected.push((Category::MissingInSettlement, id.clone())), // drop the line
                    2 => { lines.push(mk(SettlementKind::Purchase, *amount)); expected.push((Category::MissingInLedger, id.clone())); }
                    3 => { lines.push(mk(SettlementKind::Purchase, amount + 1)); expected.push((Category::AmountMismatch, id.clone())); }
                    7 => { lines.push(mk(SettlementKind::Purchase, *amount)); lines.push(mk(SettlementKind::Purchase, *amount)); expected.push((Category::DuplicateInSettlement, id.clone())); }
                    4 => { lines.push(mk(SettlementKind::Purchase, *amount)); lines.push(mk(SettlementKind::Void, -amount)); }
                    5 => { lines.push(mk(SettlementKind::Purchase, *amount)); expected.push((Category::VoidSettled, id.clone())); }
                    // A refund the ledger approved, settled for the same amount: no exception.
                    8 => {
                        lines.push(mk(SettlementKind::Purchase, *amount));
                        lines.push(mk(SettlementKind::Refund, -back));
                    }
                    // A refund the acquirer settled that the ledger never approved.
                    9 => {
                        lines.push(mk(SettlementKind::Purchase, *amount));
                        lines.push(mk(SettlementKind::Refund, -1));
                        expected.push((Category::MissingInLedger, id.clone()));
                    }
                    // A refund settled for another amount than the ledger approved.
                    10 => {
                        lines.push(mk(SettlementKind::Purchase, *amount));
                        lines.push(mk(SettlementKind::Refund, -(back + 1)));
                        expected.push((Category::AmountMismatch, id.clone()));
                    }
                    _ => lines.push(mk(SettlementKind::Purchase, *amount)),
                }
                for l in &lines[start..] {
                    owner.insert(l.id, id.clone());
                }
                if *fault != 2 {
                    payments.push(p);
                }
            }
            // The day's files and, on the next day, their credits on the collection account;
            // then one cash fault: a POS credit that never came, or a one-card credit off by 0.01.
            let mut files: BTreeMap<String, SettlementFile> = BTreeMap::new();
            for l in &lines {
                let f = files.entry(l.file_id.clone()).or_insert_with(|| SettlementFile {
                    file_id: l.file_id.clone(),
                    channel: if l.record.merchant == SYN_ONE { Channel::OneCard } else { Channel::BankCard },
                    merchant: l.record.merchant.clone(),
                    settlement_date: l.record.settlement_date,
                    net_minor: 0,
                    lines: 0,
                });
                f.net_minor += l.record.net_minor;
                f.lines += 1;
            }
            let files: Vec<SettlementFile> = files.into_values().filter(|f| f.net_minor > 0).collect();
            let mut bookings = Vec::new();
            for (k, f) in files.iter().enumerate() {
                if f.settlement_date != d(24) {
                    continue;
                }
                let scheme = if f.channel == Channel::OneCard { "一卡通结算" } else { "POS清算" };
                let mut amount = f.net_minor;
                if cash_fault == 1 && f.channel == Channel::BankCard {
                    expected.push((Category::CashMissing, f.file_id.clone()));
                    continue;
                }
                if cash_fault == 2 && f.channel == Channel::OneCard {
                    amount += 1;
                    expected.push((Category::CashMismatch, f.file_id.clone()));
                }
                bookings.push(Booking {
                    id: i64::try_from(k).unwrap() + 1,
                    file_id: "S".into(),
                    booking: synthetic_booking(d(25), amount, format!("{scheme} {} 20261124", f.merchant)),
                });
            }
            let mut inp = input(payments, lines);
            inp.files = files;
            inp.bookings = bookings;
            let r = reconcile(&inp);
            check_invariants(&inp, &r);
            let mut got: Vec<(Category, String)> = r.outcomes.iter().filter(|o| o.category.is_exception() && (o.counted || o.file_id.is_none())).map(|o| {
                let who = o
                    .payment_id
                    .clone()
                    .or_else(|| o.line_id.map(|l| owner[&l].clone()))
                    .or_else(|| o.file_id.clone())
                    .unwrap_or_else(|| format!("booking {:?}", o.booking_id));
                (o.category, who)
            }).collect();
            got.sort();
            expected.sort();
            prop_assert_eq!(got, expected);
        }
    }
}
