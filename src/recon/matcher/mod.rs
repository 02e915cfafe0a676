//! The nightly reconciliation matcher: ledger payments ↔ acquirer settlement lines ↔
//! collection-account bookings ↔ the ledger balance of 1002.01 (DESIGN §5).
//!
//! A pure function over in-memory records: no I/O, no clock, no database. The same input, in
//! any order, gives the same [`MatchResult`] with its outcomes in the same order.
//!
//! Depends on: `crate::bankfiles::records` (record types), `crate::text` (the closed sets), chrono,
//! serde. No database, no HTTP.
//!
//! # Layout
//! - `model`: the input and outcome types, and the suggested actions stored with exceptions;
//! - `index`: the key indexes (fingerprint → chain of record indices) the tiers probe;
//! - `transaction`: the transaction tier (payments ↔ acquirer lines);
//! - `cash`: the cash tier (settlement files ↔ collection-account credits) and the balance tier;
//! - `statement`: the statement tier — every collection-account line accounted for (its rules
//!   and ownership are in that module's doc);
//! - this file: [`reconcile`], which runs them in order, and the re-exports callers use.
//!
//! # What a run sees
//! The caller of the run for business date D passes the payments dated D−1, D and D+1 (plus any
//! older payment that carries a ledger refund approved in the window, so refund lines can find
//! it), the settlement lines of the files dated D and D+1 (and D−1 with a business-day
//! cut-off), those files, the files carried forward from earlier dates (their cash not yet
//! found: envelopes only), the bookings of the collection-account statement on which they may
//! be paid (normally booked on D+1; from the oldest carried file's date), and in
//! [`MatchInput::prior_cash`] what runs of other dates already found about the cash of those
//! files and bookings. The credit horizon and the cut-off come with the input.
//!
//! # Ownership: how consecutive nights never report a thing twice
//! Every outcome has an `owner_date`; only outcomes with `owner_date == D` are `counted` (in the
//! [`Summary`], and as exceptions the caller opens). The others are shown for context and are
//! counted by the run of their own date, which sees the same records:
//! - an outcome about a payment's capture belongs to the payment's business date;
//! - a duplicate line belongs to the date of the payment its original matched;
//! - any other line-only outcome (missing in ledger, refunds, adjustments) belongs to the
//!   line's settlement date;
//! - a cash outcome belongs to the later of the file's settlement date and D: a file carried
//!   forward from an earlier (perhaps closed) day is reported, and its settlement entry posted,
//!   by the run that finds it, so a closed day never changes — except that a file whose cash a
//!   run of another date already spent ([`Category::consumes_cash`]) stays that run's, and so
//!   does a file that run reported `cash_missing` while it still is; an unclaimed settlement
//!   booking belongs to the latest date its narrative names;
//! - an `unexpected_statement_line` belongs to the line's booking date.
//!
//! Payments dated D−1 or D+1 get an outcome only when they pair with a line in the window;
//! only payments dated D are reported `missing_in_settlement`.
//!
//! # Transaction tier
//! - A payment of date P may pair with a purchase line of a file dated P or P+1 (POS cut-off
//!   23:00, one-card midnight), and P−1 when our business-day cut-off
//!   ([`MatchInput::business_day_cutoff`]) made it P: captured on P−1 at or after the cut-off
//!   (the acquirer's day had not ended yet).
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
//! - First of all, a file whose cash a run of another date spent is held for the booking that
//!   paid it (when that booking is in the input: its other files still add up), or set aside;
//!   it is never claimed afresh, so a booking is never spent twice.
//! - A file still unclaimed: net 0 → `cash_matched` without a booking; else, up to
//!   [`MatchInput::credit_horizon_days`] business days after its settlement date (Monday to
//!   Friday, [`business_days_between`]; public holidays are not modelled), `awaiting_credit` —
//!   not an exception: later runs keep looking — and after that `cash_missing` (a bank claim).
//! - A settlement-narrative booking that claims no file → `cash_mismatch` with no file
//!   ([`Subject::Booking`]). Other bookings nothing claimed are not settlement money (fee
//!   top-ups, remittances, …): they are listed in [`MatchResult::unclaimed_bookings`] and the
//!   statement tier accounts for them.
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

mod cash;
mod index;
mod model;
mod statement;
mod transaction;

pub use cash::parse_settlement_narrative;
pub use model::*;
pub use statement::{
    is_supervision_finding, ExpectedKind, ExpectedMovement, LineClass, StatementLine, ACT_REVERSAL,
    ACT_UNEXPECTED_CREDIT, ACT_UNEXPLAINED_DEBIT, NEAREST_WITHIN_DAYS, REFERENCE_WITHIN_DAYS,
};

/// How many lines sharing one key the matcher looks at before giving up on that key.
pub const MAX_KEY_CHAIN: usize = 32;

/// Runs the three tiers over `input`. Pure and deterministic (see the module doc).
pub fn reconcile(input: &MatchInput) -> MatchResult {
    reconcile_split(input, transaction::PARALLEL_FROM)
}

/// What the cash, balance and statement tiers find (they read the input only, never the
/// transaction tier's outcomes).
struct CashSide {
    outcomes: Vec<Outcome>,
    unclaimed_bookings: Vec<i64>,
    statement_lines: Vec<StatementLine>,
    balance: BalanceCheck,
    netting: Vec<FileNetting>,
}

fn cash_side(input: &MatchInput) -> CashSide {
    let mut outcomes = Vec::with_capacity(input.files.len() + input.bookings.len());
    let unclaimed_bookings = cash::outcomes(input, &mut outcomes);
    // Only cash outcomes name bookings.
    let settled: std::collections::HashSet<i64> =
        outcomes.iter().filter_map(|o| o.booking_id).collect();
    let statement_lines = statement::classify(input, &settled);
    statement::outcomes(input, &statement_lines, &mut outcomes);
    CashSide {
        outcomes,
        unclaimed_bookings,
        statement_lines,
        balance: cash::balance(input),
        netting: cash::netting(input),
    }
}

/// [`reconcile`], on two threads from `parallel_from` payments on: the cash side beside the
/// transaction tier, whose lookups and outcomes are split in two as well. The result is the
/// same either way (the tests compare).
fn reconcile_split(input: &MatchInput, parallel_from: usize) -> MatchResult {
    let mut outcomes =
        Vec::with_capacity(input.payments.len().max(input.lines.len()) + input.files.len());
    let cash = if input.payments.len() >= parallel_from {
        std::thread::scope(|s| {
            let cash = s.spawn(|| cash_side(input));
            transaction::outcomes_split(input, &mut outcomes, parallel_from);
            match cash.join() {
                Ok(cash) => cash,
                Err(e) => std::panic::resume_unwind(e),
            }
        })
    } else {
        transaction::outcomes_split(input, &mut outcomes, parallel_from);
        cash_side(input)
    };
    outcomes.extend(cash.outcomes);
    let mut summary = Summary::default();
    let mut deferred: u64 = 0;
    for o in &outcomes {
        if o.counted {
            summary.add(o.category);
        } else {
            deferred = deferred.saturating_add(1);
        }
    }
    MatchResult {
        business_date: input.business_date,
        outcomes,
        summary,
        deferred,
        balance: cash.balance,
        netting: cash.netting,
        unclaimed_bookings: cash.unclaimed_bookings,
        statement_lines: cash.statement_lines,
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
mod tests;

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
mod tests_split;
