//! The pure rules of working an exception: which status a step leads to, what a write-off or
//! a claim is worth, and which kinds may be accepted as timing. No database, no HTTP.

use super::{Action, ExceptionStatus};
use crate::recon::matcher::Category;

/// What is done to an exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Resolved (or, for a write-off, proposed; for a bank claim, raised) with this action.
    Resolve(Action),
    /// A claimed exception settled by hand: `manual_match` naming the statement booking that
    /// paid the claim (proposed; a second person approves, as it posts an entry).
    SettleClaim,
    /// A proposed write-off or claim settlement approved by a second person.
    Approve,
    /// The bank's money for a claim arrived and a reconciliation run matched it.
    ClaimPaid,
}

impl ExceptionStatus {
    /// The status `step` leads to from this one, or `None` when it is not allowed:
    ///
    /// | from | step | to |
    /// |---|---|---|
    /// | open | manual_match, accept_timing | resolved |
    /// | open | bank_claim | claimed |
    /// | open | write_off | awaiting_approval |
    /// | claimed | manual_match (payment / line) | resolved |
    /// | claimed | manual_match naming the booking that paid ([`Step::SettleClaim`]) | awaiting_approval |
    /// | claimed | write_off (the bank refused the claim) | awaiting_approval |
    /// | claimed | the bank's money matched by a run ([`Step::ClaimPaid`]) | resolved |
    /// | awaiting_approval | approve (a second person; posts the entry) | resolved |
    ///
    /// Nothing leaves resolved.
    pub fn after(self, step: Step) -> Option<ExceptionStatus> {
        use ExceptionStatus::*;
        match (self, step) {
            (Open, Step::Resolve(Action::WriteOff)) => Some(AwaitingApproval),
            (Open, Step::Resolve(Action::BankClaim)) => Some(Claimed),
            (Open, Step::Resolve(Action::ManualMatch | Action::AcceptTiming)) => Some(Resolved),
            (Claimed, Step::Resolve(Action::ManualMatch)) => Some(Resolved),
            (Claimed, Step::SettleClaim | Step::Resolve(Action::WriteOff)) => {
                Some(AwaitingApproval)
            }
            (Claimed, Step::ClaimPaid) => Some(Resolved),
            (AwaitingApproval, Step::Approve) => Some(Resolved),
            _ => None,
        }
    }

    /// Does an exception in this status stop its day from closing? Open and awaiting approval
    /// do; a claim is tracked (carried and listed) until the bank pays, and does not.
    pub fn blocks_close(self) -> bool {
        matches!(
            self,
            ExceptionStatus::Open | ExceptionStatus::AwaitingApproval
        )
    }
}

/// Is the exception about a settlement file's cash (the cash tier)?
pub fn is_cash(kind: Category) -> bool {
    matches!(
        kind,
        Category::CashMatched | Category::CashMismatch | Category::CashMissing
    )
}

/// Why a difference cannot be written off or claimed as a shortfall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotShortfall {
    /// The bank or acquirer paid more than the ledger expects (or paid something the ledger
    /// does not know): return or claim it, never write it off.
    CentresFavour,
    /// Nothing differs (or the finding has no amounts to compare).
    NoDifference,
}

/// What the ledger expected less what arrived, for an exception the centre lost money on:
/// a payment or line's `ledger − settlement` (a side that is absent counts 0), a file's
/// `net − credit` (no credit: the whole net). `Err` when the difference is in the centre's
/// favour or there is none.
pub fn shortfall(
    kind: Category,
    ledger_minor: Option<i64>,
    settlement_minor: Option<i64>,
) -> Result<i64, NotShortfall> {
    if kind == Category::CashMismatch && ledger_minor.is_none() {
        // A credit that pays no file: money in, nothing expected.
        return Err(NotShortfall::CentresFavour);
    }
    if ledger_minor.is_none() && settlement_minor.is_none() {
        return Err(NotShortfall::NoDifference);
    }
    let lost = i128::from(ledger_minor.unwrap_or(0)) - i128::from(settlement_minor.unwrap_or(0));
    match lost.cmp(&0) {
        std::cmp::Ordering::Greater => i64::try_from(lost).map_err(|_| NotShortfall::NoDifference),
        std::cmp::Ordering::Less => Err(NotShortfall::CentresFavour),
        std::cmp::Ordering::Equal => Err(NotShortfall::NoDifference),
    }
}

/// Why `accept_timing` does not fit an exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotTiming {
    /// A file's credit: later runs look for it by themselves (carried forward), so nobody needs
    /// to accept it.
    CarriedAutomatically,
    /// Not something a later day clears (a wrong amount, a duplicate, a settled void).
    NotATimingDifference,
}

/// May `accept_timing` resolve an exception of `kind`? Only where the other side can really
/// appear on a later day: a payment the acquirer settles in a later file
/// (`missing_in_settlement`), or a settled line whose payment is dated later
/// (`missing_in_ledger`).
pub fn timing_fits(kind: Category) -> Result<(), NotTiming> {
    match kind {
        Category::MissingInSettlement | Category::MissingInLedger => Ok(()),
        k if is_cash(k) => Err(NotTiming::CarriedAutomatically),
        _ => Err(NotTiming::NotATimingDifference),
    }
}

/// The actions a row of the workspace offers for an exception of `kind` in `status` with
/// these amounts, besides matching a listed candidate: only what the use case would accept.
/// Open: accept as timing where a later day clears it, write off a shortfall, claim. Claimed:
/// write off a shortfall (the bank refused). Awaiting approval and resolved: nothing (the
/// approval is a step of its own).
pub fn allowed(
    kind: Category,
    status: ExceptionStatus,
    ledger_minor: Option<i64>,
    settlement_minor: Option<i64>,
) -> Vec<Action> {
    let shortfall = shortfall(kind, ledger_minor, settlement_minor).is_ok();
    let fits = |a: Action| match a {
        Action::AcceptTiming => timing_fits(kind).is_ok(),
        Action::WriteOff => shortfall,
        Action::BankClaim => true,
        // A manual match names its other side: the candidates' buttons.
        Action::ManualMatch => false,
    };
    [Action::AcceptTiming, Action::WriteOff, Action::BankClaim]
        .into_iter()
        .filter(|&a| fits(a) && status.after(Step::Resolve(a)).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExceptionStatus::*;

    const ALL_STATUSES: [ExceptionStatus; 4] = [Open, AwaitingApproval, Claimed, Resolved];
    const ALL_ACTIONS: [Action; 4] = [
        Action::ManualMatch,
        Action::WriteOff,
        Action::BankClaim,
        Action::AcceptTiming,
    ];

    fn steps() -> Vec<Step> {
        let mut s: Vec<Step> = ALL_ACTIONS.iter().map(|&a| Step::Resolve(a)).collect();
        s.extend([Step::SettleClaim, Step::Approve, Step::ClaimPaid]);
        s
    }

    #[test]
    fn open_goes_where_each_action_says() {
        assert_eq!(
            Open.after(Step::Resolve(Action::WriteOff)),
            Some(AwaitingApproval)
        );
        assert_eq!(Open.after(Step::Resolve(Action::BankClaim)), Some(Claimed));
        assert_eq!(
            Open.after(Step::Resolve(Action::ManualMatch)),
            Some(Resolved)
        );
        assert_eq!(
            Open.after(Step::Resolve(Action::AcceptTiming)),
            Some(Resolved)
        );
        assert_eq!(Open.after(Step::Approve), None);
        assert_eq!(Open.after(Step::ClaimPaid), None);
        assert_eq!(Open.after(Step::SettleClaim), None);
    }

    #[test]
    fn a_claim_waits_for_the_bank_or_a_second_person() {
        assert_eq!(Claimed.after(Step::ClaimPaid), Some(Resolved));
        assert_eq!(Claimed.after(Step::SettleClaim), Some(AwaitingApproval));
        assert_eq!(
            Claimed.after(Step::Resolve(Action::WriteOff)),
            Some(AwaitingApproval)
        );
        assert_eq!(
            Claimed.after(Step::Resolve(Action::ManualMatch)),
            Some(Resolved)
        );
        assert_eq!(Claimed.after(Step::Resolve(Action::BankClaim)), None);
        assert_eq!(Claimed.after(Step::Resolve(Action::AcceptTiming)), None);
        assert_eq!(Claimed.after(Step::Approve), None);
    }

    #[test]
    fn only_approval_leaves_awaiting_approval_and_nothing_leaves_resolved() {
        for step in steps() {
            let want = (step == Step::Approve).then_some(Resolved);
            assert_eq!(AwaitingApproval.after(step), want, "{step:?}");
            assert_eq!(Resolved.after(step), None, "{step:?}");
        }
    }

    #[test]
    fn no_step_reopens_and_every_status_but_resolved_can_move() {
        for from in ALL_STATUSES {
            for step in steps() {
                assert_ne!(from.after(step), Some(Open), "{from} {step:?}");
            }
            let moves = steps().into_iter().any(|s| from.after(s).is_some());
            assert_eq!(moves, from != Resolved, "{from}");
        }
    }

    #[test]
    fn claims_do_not_block_the_close_open_and_proposed_do() {
        assert!(Open.blocks_close());
        assert!(AwaitingApproval.blocks_close());
        assert!(!Claimed.blocks_close());
        assert!(!Resolved.blocks_close());
    }

    #[test]
    fn a_shortfall_is_what_the_ledger_expected_less_what_arrived() {
        use Category::*;
        assert_eq!(shortfall(AmountMismatch, Some(500), Some(450)), Ok(50));
        assert_eq!(shortfall(MissingInSettlement, Some(500), None), Ok(500));
        assert_eq!(shortfall(CashMissing, Some(19_880), None), Ok(19_880));
        assert_eq!(shortfall(CashMismatch, Some(19_880), Some(19_000)), Ok(880));
        // An acquirer's refund or adjustment the ledger lacks took money: a shortfall.
        assert_eq!(shortfall(MissingInLedger, None, Some(-300)), Ok(300));
    }

    #[test]
    fn the_centres_favour_is_never_a_shortfall() {
        use Category::*;
        let favour = Err(NotShortfall::CentresFavour);
        assert_eq!(shortfall(AmountMismatch, Some(450), Some(500)), favour);
        assert_eq!(shortfall(MissingInLedger, None, Some(500)), favour);
        assert_eq!(shortfall(DuplicateInSettlement, None, Some(500)), favour);
        assert_eq!(shortfall(VoidSettled, Some(0), Some(500)), favour);
        assert_eq!(shortfall(CashMismatch, Some(19_000), Some(19_880)), favour);
        assert_eq!(shortfall(CashMismatch, None, Some(19_880)), favour);
        assert_eq!(
            shortfall(AmountMismatch, Some(500), Some(500)),
            Err(NotShortfall::NoDifference)
        );
        assert_eq!(
            shortfall(MissingInLedger, None, None),
            Err(NotShortfall::NoDifference)
        );
    }

    #[test]
    fn a_row_offers_only_what_the_use_case_accepts() {
        use Category::*;
        assert_eq!(
            allowed(MissingInSettlement, Open, Some(8_000), None),
            vec![Action::AcceptTiming, Action::WriteOff, Action::BankClaim]
        );
        assert_eq!(
            allowed(AmountMismatch, Open, Some(8_000), Some(8_100)),
            vec![Action::BankClaim],
            "the centre's favour is never written off"
        );
        assert_eq!(
            allowed(CashMissing, Claimed, Some(15_990), None),
            vec![Action::WriteOff]
        );
        for status in [AwaitingApproval, Resolved] {
            assert!(allowed(AmountMismatch, status, Some(8_000), Some(7_000)).is_empty());
        }
        for kind in [
            VoidSettled,
            DuplicateInSettlement,
            UnexpectedStatementLine,
            CashMismatch,
        ] {
            for status in ALL_STATUSES {
                for a in allowed(kind, status, Some(1), Some(2)) {
                    assert!(
                        status.after(Step::Resolve(a)).is_some(),
                        "{kind} {status} {a}"
                    );
                    assert_ne!(a, Action::AcceptTiming, "{kind}");
                }
            }
        }
    }

    #[test]
    fn only_a_later_day_can_clear_a_timing_difference() {
        use Category::*;
        assert_eq!(timing_fits(MissingInSettlement), Ok(()));
        assert_eq!(timing_fits(MissingInLedger), Ok(()));
        for k in [CashMismatch, CashMissing] {
            assert_eq!(timing_fits(k), Err(NotTiming::CarriedAutomatically));
        }
        for k in [AmountMismatch, DuplicateInSettlement, VoidSettled] {
            assert_eq!(timing_fits(k), Err(NotTiming::NotATimingDifference));
        }
    }
}
