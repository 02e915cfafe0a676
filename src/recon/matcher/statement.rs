//! The statement tier: every line of the collection account's statement accounted for
//! (DESIGN §5) — a settlement credit (the cash tier's), a remittance debit, a budget fee
//! top-up, a 退库 return, a reversal paired with what it reverses, or an exception
//! `unexpected_statement_line`. A debit that is none of these is also a supervision finding:
//! money left the revenue account without a remittance (possible 坐支).
//!
//! # Rules
//! - Settlement lines: a booking the cash tier used (any cash outcome names it), or one a
//!   stored run of another date found paying a file ([`MatchInput::settled_bookings`]), is a
//!   settlement credit; its outcome is the cash tier's.
//! - Reversals, in booking order (date, id): a reversal pairs with an unpaired booking it can
//!   undo — not a reversal, the other direction, same account and amount, booked on or before
//!   it — preferring the same bank reference, then the latest date, then the lowest id. Paired with a line that is not settlement money, both are accounted for
//!   ([`LineClass::Reversed`]); a reversal of a settlement credit, or one with nothing to
//!   undo, is `unexpected_statement_line`.
//! - Expected movements, from the ledger ([`ExpectedMovement`]): a remittance is a debit, a
//!   top-up and a 退库 return are credits. First by reference: a line of the same amount and
//!   direction whose bank reference is the movement's reference, or whose narrative contains
//!   it, within [`REFERENCE_WITHIN_DAYS`]; then by date: the line's nearest movement of the
//!   same amount and direction within [`NEAREST_WITHIN_DAYS`] (ties: earlier date, then kind,
//!   then reference). Each movement explains one line.
//! - Anything else is `unexpected_statement_line`; a debit is a supervision finding, with its
//!   own suggested action ([`ACT_UNEXPLAINED_DEBIT`]).
//!
//! # Ownership
//! A line's outcome belongs to the run of its booking date (a run reads the bookings of D to
//! D+2, so each line is counted by exactly one run). Movements are matched by value, so the run
//! of each line's date finds the same movement whichever other lines it reads, except when two
//! lines of equal amount compete for one movement across days; then each run decides by its own
//! lines, and the exception, if any, shows the line and amount for a person to judge.
//!
//! Depends on: [`super::model`], chrono.

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::model::{Booking, Category, MatchInput, Outcome, Subject};
use crate::bankfiles::records::Direction;

/// How far (days) a line may be from its movement when their references agree.
pub const REFERENCE_WITHIN_DAYS: i64 = 7;
/// How far (days) a line may be from its movement when only the amount agrees.
pub const NEAREST_WITHIN_DAYS: i64 = 3;

crate::text_enum! {
    /// What the ledger expects on the collection account besides settlement credits.
    #[derive(Hash, PartialOrd, Ord, Deserialize)]
    pub enum ExpectedKind as "expected movement kind" {
        /// Remittance to the treasury (Cr 1002.01): a debit.
        Remittance,
        /// The budget fund tops up an acquirer's fee (Dr 1002.01): a credit.
        TopUp,
        /// 退库: the treasury returns remitted revenue for a refund (Dr 1002.01): a credit.
        TreasuryReturn,
    }
}

impl ExpectedKind {
    /// The direction of its line on the statement.
    pub fn direction(self) -> Direction {
        match self {
            ExpectedKind::Remittance => Direction::Debit,
            ExpectedKind::TopUp | ExpectedKind::TreasuryReturn => Direction::Credit,
        }
    }
}

/// A movement of the collection account the ledger has posted (outside settlement).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectedMovement {
    /// Remittance, top-up or 退库 return.
    pub kind: ExpectedKind,
    /// The entry's business date.
    pub date: NaiveDate,
    /// Amount on 1002.01 in fen (positive).
    pub amount_minor: i64,
    /// The reference the bank may show (the treasury's reference for a remittance).
    pub reference: Option<String>,
}

crate::text_enum! {
    /// How a statement line is accounted for.
    #[derive(Hash, PartialOrd, Ord, Deserialize)]
    pub enum LineClass as "statement line class" {
        /// Settlement money: the cash tier's (matched, mismatched, or naming no file).
        SettlementCredit,
        /// A remittance to the treasury.
        RemittanceDebit,
        /// The budget fund's fee top-up.
        TopUpCredit,
        /// A 退库 return from the treasury.
        TreasuryReturnCredit,
        /// A reversal and the line it reverses.
        Reversed,
        /// Nothing explains it: `unexpected_statement_line`.
        Unexpected,
    }
}

/// One statement line and how it is accounted for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementLine {
    /// The booking.
    pub booking_id: i64,
    /// Its booking date (the date whose run counts it).
    pub booking_date: NaiveDate,
    /// How it is accounted for.
    pub class: LineClass,
    /// Owned by the run's date.
    pub counted: bool,
    /// The movement that explains it, where one does.
    pub movement: Option<ExpectedMovement>,
    /// For [`LineClass::Reversed`]: the other line of the pair.
    pub paired_booking_id: Option<i64>,
    /// An unexplained debit: a supervision finding (possible 坐支).
    pub finding: bool,
}

/// A credit nothing explains.
pub const ACT_UNEXPECTED_CREDIT: super::Suggestion = super::Suggestion::IdentifyPayer;
/// A debit nothing explains: a supervision finding.
pub const ACT_UNEXPLAINED_DEBIT: super::Suggestion = super::Suggestion::ReportUnexplainedDebit;
/// A bank reversal.
pub const ACT_REVERSAL: super::Suggestion = super::Suggestion::ObtainReversalAdvice;

/// Whether an exception is a supervision finding: an unexpected line that took money out.
pub fn is_supervision_finding(kind: Category, settlement_minor: Option<i64>) -> bool {
    kind == Category::UnexpectedStatementLine && settlement_minor.is_some_and(|m| m < 0)
}

/// Classifies every booking of `input` (one [`StatementLine`] each, by booking date and id).
/// `settled` are the bookings the cash tier used.
pub(super) fn classify(input: &MatchInput, settled: &HashSet<i64>) -> Vec<StatementLine> {
    let mut order: Vec<&Booking> = input.bookings.iter().collect();
    order.sort_by_key(|b| (b.booking.booking_date, b.id));
    let elsewhere: HashSet<i64> = input.settled_bookings.iter().copied().collect();
    let mut lines: Vec<StatementLine> = order
        .iter()
        .map(|b| StatementLine {
            booking_id: b.id,
            booking_date: b.booking.booking_date,
            class: if settled.contains(&b.id) || elsewhere.contains(&b.id) {
                LineClass::SettlementCredit
            } else {
                LineClass::Unexpected
            },
            counted: b.booking.booking_date == input.business_date,
            movement: None,
            paired_booking_id: None,
            finding: false,
        })
        .collect();
    pair_reversals(&order, &mut lines);
    explain_by_movements(input, &order, &mut lines);
    for (line, b) in lines.iter_mut().zip(&order) {
        line.finding = line.class == LineClass::Unexpected
            && !b.booking.reversal
            && b.booking.direction == Direction::Debit;
    }
    lines
}

/// Pairs each reversal with the line it undoes (see the module doc).
fn pair_reversals(order: &[&Booking], lines: &mut [StatementLine]) {
    let mut paired = vec![false; order.len()];
    for (r, rb) in order.iter().enumerate() {
        if !rb.booking.reversal {
            continue;
        }
        let candidate = order
            .iter()
            .enumerate()
            .filter(|(o, ob)| {
                !ob.booking.reversal
                    && !paired.get(*o).copied().unwrap_or(true)
                    && ob.booking.direction != rb.booking.direction
                    && ob.booking.account == rb.booking.account
                    && ob.booking.amount_minor == rb.booking.amount_minor
                    && ob.booking.booking_date <= rb.booking.booking_date
            })
            .min_by_key(|(_, ob)| {
                let same_ref =
                    rb.booking.bank_ref.is_some() && ob.booking.bank_ref == rb.booking.bank_ref;
                (!same_ref, std::cmp::Reverse(ob.booking.booking_date), ob.id)
            })
            .map(|(o, _)| o);
        let Some(o) = candidate else {
            continue; // nothing to undo: stays unexpected
        };
        if lines
            .get(o)
            .is_some_and(|l| l.class == LineClass::SettlementCredit)
        {
            continue; // undoes settlement money: stays unexpected, for a person
        }
        if let Some(p) = paired.get_mut(o) {
            *p = true;
        }
        let (r_id, o_id) = (rb.id, order.get(o).map_or(0, |b| b.id));
        if let Some(l) = lines.get_mut(r) {
            l.class = LineClass::Reversed;
            l.paired_booking_id = Some(o_id);
        }
        if let Some(l) = lines.get_mut(o) {
            l.class = LineClass::Reversed;
            l.paired_booking_id = Some(r_id);
        }
    }
}

/// The class a line explained by a movement of `kind` gets.
fn class_of(kind: ExpectedKind) -> LineClass {
    match kind {
        ExpectedKind::Remittance => LineClass::RemittanceDebit,
        ExpectedKind::TopUp => LineClass::TopUpCredit,
        ExpectedKind::TreasuryReturn => LineClass::TreasuryReturnCredit,
    }
}

/// Whether line `b` can be movement `m`'s, `within` days apart.
fn fits(b: &Booking, m: &ExpectedMovement, within: i64) -> bool {
    !b.booking.reversal
        && b.booking.direction == m.kind.direction()
        && b.booking.amount_minor == m.amount_minor
        && (b.booking.booking_date - m.date).num_days().abs() <= within
}

/// Whether line `b` names movement `m`'s reference.
fn names(b: &Booking, m: &ExpectedMovement) -> bool {
    match m
        .reference
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        Some(r) => {
            b.booking.bank_ref.as_deref().map(str::trim) == Some(r)
                || b.booking.narrative.contains(r)
        }
        None => false,
    }
}

/// Explains the lines still unexpected by the ledger's movements (see the module doc).
fn explain_by_movements(input: &MatchInput, order: &[&Booking], lines: &mut [StatementLine]) {
    let mut movements: Vec<&ExpectedMovement> = input.expected.iter().collect();
    movements.sort_by(|a, b| {
        (a.date, a.kind, a.amount_minor, &a.reference).cmp(&(
            b.date,
            b.kind,
            b.amount_minor,
            &b.reference,
        ))
    });
    let mut used = vec![false; movements.len()];
    let open = |lines: &[StatementLine], i: usize| {
        lines
            .get(i)
            .is_some_and(|l| l.class == LineClass::Unexpected)
    };
    // by reference first, in movement order: each takes the nearest line naming it
    for (m, mv) in movements.iter().enumerate() {
        let pick = order
            .iter()
            .enumerate()
            .filter(|(i, b)| open(lines, *i) && fits(b, mv, REFERENCE_WITHIN_DAYS) && names(b, mv))
            .min_by_key(|(_, b)| {
                (
                    (b.booking.booking_date - mv.date).num_days().abs(),
                    b.booking.booking_date,
                    b.id,
                )
            })
            .map(|(i, _)| i);
        if let Some(i) = pick {
            take(lines, i, mv, &mut used, m);
        }
    }
    // then by amount, in line order: each takes its nearest unused movement
    for (i, b) in order.iter().enumerate() {
        if !open(lines, i) {
            continue;
        }
        let pick = movements
            .iter()
            .enumerate()
            .filter(|(m, mv)| {
                !used.get(*m).copied().unwrap_or(true) && fits(b, mv, NEAREST_WITHIN_DAYS)
            })
            .min_by_key(|(m, mv)| {
                (
                    (b.booking.booking_date - mv.date).num_days().abs(),
                    mv.date,
                    *m,
                )
            })
            .map(|(m, _)| m);
        if let Some(m) = pick {
            if let Some(mv) = movements.get(m) {
                take(lines, i, mv, &mut used, m);
            }
        }
    }
}

/// Line `i` is explained by movement `m`.
fn take(lines: &mut [StatementLine], i: usize, mv: &ExpectedMovement, used: &mut [bool], m: usize) {
    if let Some(u) = used.get_mut(m) {
        *u = true;
    }
    if let Some(l) = lines.get_mut(i) {
        l.class = class_of(mv.kind);
        l.movement = Some(mv.clone());
    }
}

/// One `unexpected_statement_line` outcome per unexpected line (in line order), owned by its
/// booking date.
pub(super) fn outcomes(input: &MatchInput, lines: &[StatementLine], out: &mut Vec<Outcome>) {
    let by_id: std::collections::HashMap<i64, &Booking> =
        input.bookings.iter().map(|b| (b.id, b)).collect();
    for line in lines.iter().filter(|l| l.class == LineClass::Unexpected) {
        let Some(b) = by_id.get(&line.booking_id) else {
            continue;
        };
        let mut o = Outcome::blank(
            Category::UnexpectedStatementLine,
            Subject::Booking,
            line.booking_date,
            input.business_date,
        );
        o.booking_id = Some(b.id);
        o.settlement_minor = Some(b.booking.direction.signed(b.booking.amount_minor));
        (o.note, o.action) = if b.booking.reversal {
            (
                "a reversal that undoes settlement money or nothing the run can see",
                Some(ACT_REVERSAL),
            )
        } else if line.finding {
            (
                "an unexplained debit from the collection account: a supervision finding (possible 坐支)",
                Some(ACT_UNEXPLAINED_DEBIT),
            )
        } else {
            (
                "a credit no settlement file, top-up or treasury return explains",
                Some(ACT_UNEXPECTED_CREDIT),
            )
        };
        out.push(o);
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;
    use crate::bankfiles::records::StatementBooking;
    use crate::recon::matcher::{reconcile, Channel, SettlementFile};

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    fn line(id: i64, day: u32, dir: Direction, amount: i64, bank_ref: &str, text: &str) -> Booking {
        Booking {
            id,
            file_id: "S".into(),
            booking: StatementBooking {
                line: u64::try_from(id).unwrap(),
                account: "33050161234500001234".into(),
                currency: "CNY".into(),
                booking_date: d(day),
                value_date: None,
                direction: dir,
                amount_minor: amount,
                reversal: false,
                bank_ref: (!bank_ref.is_empty()).then(|| bank_ref.to_string()),
                narrative: text.into(),
                counterparty_account: None,
                counterparty_name: None,
                balance_after_minor: None,
            },
        }
    }

    fn movement(
        kind: ExpectedKind,
        day: u32,
        amount: i64,
        reference: Option<&str>,
    ) -> ExpectedMovement {
        ExpectedMovement {
            kind,
            date: d(day),
            amount_minor: amount,
            reference: reference.map(str::to_string),
        }
    }

    fn input(bookings: Vec<Booking>, expected: Vec<ExpectedMovement>) -> MatchInput {
        MatchInput {
            business_date: d(24),
            payments: vec![],
            lines: vec![],
            files: vec![SettlementFile {
                file_id: "p24".into(),
                channel: Channel::BankCard,
                merchant: "898440379930001".into(),
                settlement_date: d(24),
                net_minor: 9_990,
                lines: 1,
            }],
            bookings,
            statement_closing_minor: None,
            ledger_1002_01_minor: 0,
            credit_horizon_days: super::super::DEFAULT_CREDIT_HORIZON_DAYS,
            business_day_cutoff: None,
            prior_cash: vec![],
            expected,
            settled_bookings: vec![],
        }
    }

    fn class_of_line(r: &crate::recon::matcher::MatchResult, id: i64) -> LineClass {
        r.statement_lines
            .iter()
            .find(|l| l.booking_id == id)
            .unwrap()
            .class
    }

    #[test]
    fn every_kind_of_line_is_accounted_for() {
        let mut reversal = line(7, 24, Direction::Debit, 1_234, "", "冲正");
        reversal.booking.reversal = true;
        let inp = input(
            vec![
                line(
                    1,
                    24,
                    Direction::Credit,
                    9_990,
                    "B1",
                    "POS清算 898440379930001 20261124",
                ),
                line(2, 24, Direction::Debit, 50_000, "B2", "缴库 GK20261124001"),
                line(3, 24, Direction::Credit, 10, "B3", "手续费补足"),
                line(4, 24, Direction::Debit, 8_800, "B4", "转账支出"),
                line(5, 24, Direction::Credit, 2_000, "B5", "退库 TK001"),
                line(6, 24, Direction::Credit, 1_234, "B6", "来账"),
                reversal,
                line(8, 24, Direction::Credit, 77, "B8", "不明来账"),
                line(9, 25, Direction::Debit, 300, "B9", "次日支出"),
            ],
            vec![
                movement(ExpectedKind::Remittance, 23, 50_000, Some("GK20261124001")),
                movement(ExpectedKind::TopUp, 25, 10, None),
                movement(ExpectedKind::TreasuryReturn, 24, 2_000, Some("TK001")),
            ],
        );
        let r = reconcile(&inp);
        let want = [
            (1, LineClass::SettlementCredit),
            (2, LineClass::RemittanceDebit),
            (3, LineClass::TopUpCredit),
            (4, LineClass::Unexpected),
            (5, LineClass::TreasuryReturnCredit),
            (6, LineClass::Reversed),
            (7, LineClass::Reversed),
            (8, LineClass::Unexpected),
            (9, LineClass::Unexpected),
        ];
        for (id, class) in want {
            assert_eq!(class_of_line(&r, id), class, "booking {id}");
        }
        let unexpected: Vec<(Option<i64>, bool, Option<super::super::Suggestion>)> = r
            .outcomes
            .iter()
            .filter(|o| o.category == Category::UnexpectedStatementLine)
            .map(|o| (o.booking_id, o.counted, o.action))
            .collect();
        assert_eq!(
            unexpected,
            vec![
                (Some(4), true, Some(ACT_UNEXPLAINED_DEBIT)),
                (Some(8), true, Some(ACT_UNEXPECTED_CREDIT)),
                // booked on D+1: the next night's run counts it
                (Some(9), false, Some(ACT_UNEXPLAINED_DEBIT)),
            ]
        );
        assert_eq!(r.summary.unexpected_statement_line, 2);
        let findings: Vec<i64> = r
            .statement_lines
            .iter()
            .filter(|l| l.finding)
            .map(|l| l.booking_id)
            .collect();
        assert_eq!(findings, vec![4, 9]);
        let o4 = r.outcomes.iter().find(|o| o.booking_id == Some(4)).unwrap();
        assert!(is_supervision_finding(o4.category, o4.settlement_minor));
        assert_eq!(o4.settlement_minor, Some(-8_800));
    }

    #[test]
    fn a_movement_explains_one_line_and_references_win_over_dates() {
        // Two equal debits; the remittance names the second one's reference.
        let inp = input(
            vec![
                line(1, 24, Direction::Debit, 500, "X", "支出"),
                line(2, 25, Direction::Debit, 500, "GK9", "缴库"),
            ],
            vec![movement(ExpectedKind::Remittance, 24, 500, Some("GK9"))],
        );
        let r = reconcile(&inp);
        assert_eq!(class_of_line(&r, 1), LineClass::Unexpected);
        assert_eq!(class_of_line(&r, 2), LineClass::RemittanceDebit);
        // Too far from its movement by date alone: unexpected.
        let far = input(
            vec![line(1, 24, Direction::Debit, 500, "X", "支出")],
            vec![movement(ExpectedKind::Remittance, 20, 500, None)],
        );
        assert_eq!(class_of_line(&reconcile(&far), 1), LineClass::Unexpected);
        // A credit is never a remittance.
        let credit = input(
            vec![line(1, 24, Direction::Credit, 500, "GK9", "缴库")],
            vec![movement(ExpectedKind::Remittance, 24, 500, Some("GK9"))],
        );
        assert_eq!(class_of_line(&reconcile(&credit), 1), LineClass::Unexpected);
    }

    #[test]
    fn a_reversal_of_settlement_money_or_of_nothing_is_an_exception() {
        let mut undo_settlement = line(2, 24, Direction::Debit, 9_990, "", "冲正");
        undo_settlement.booking.reversal = true;
        let mut orphan = line(3, 24, Direction::Credit, 5, "", "冲正");
        orphan.booking.reversal = true;
        let inp = input(
            vec![
                line(
                    1,
                    24,
                    Direction::Credit,
                    9_990,
                    "B1",
                    "POS清算 898440379930001 20261124",
                ),
                undo_settlement,
                orphan,
            ],
            vec![],
        );
        let r = reconcile(&inp);
        assert_eq!(class_of_line(&r, 1), LineClass::SettlementCredit);
        assert_eq!(class_of_line(&r, 2), LineClass::Unexpected);
        assert_eq!(class_of_line(&r, 3), LineClass::Unexpected);
        let actions: Vec<_> = r
            .outcomes
            .iter()
            .filter(|o| o.category == Category::UnexpectedStatementLine)
            .map(|o| o.action)
            .collect();
        assert_eq!(actions, vec![Some(ACT_REVERSAL), Some(ACT_REVERSAL)]);
        // not findings: a reversal is the bank's correction, worked as such
        assert!(r.statement_lines.iter().all(|l| !l.finding));
    }

    #[test]
    fn a_line_another_run_settled_is_settlement_money() {
        let mut inp = input(
            vec![line(1, 24, Direction::Credit, 4_321, "", "来账")],
            vec![],
        );
        inp.settled_bookings = vec![1];
        let r = reconcile(&inp);
        assert_eq!(class_of_line(&r, 1), LineClass::SettlementCredit);
        assert_eq!(r.summary.unexpected_statement_line, 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn every_booking_is_accounted_for_exactly_once(
            specs in proptest::collection::vec(
                (any::<bool>(), 0usize..4, 24u32..27, any::<bool>(), 0u8..4),
                0..30,
            ),
            moves in proptest::collection::vec((0u8..3, 0usize..4, 20u32..30, any::<bool>()), 0..8),
            settled_elsewhere in proptest::collection::vec(1i64..31, 0..4),
        ) {
            const AMOUNTS: [i64; 4] = [9_990, 500, 1_234, 77];
            let bookings: Vec<Booking> = specs
                .iter()
                .enumerate()
                .map(|(i, (credit, a, day, reversal, text))| {
                    let id = i64::try_from(i).unwrap() + 1;
                    let dir = if *credit { Direction::Credit } else { Direction::Debit };
                    let narrative = match text {
                        0 => "POS清算 898440379930001 20261124".to_string(),
                        1 => format!("缴库 GK{a}"),
                        _ => "其他".to_string(),
                    };
                    let mut b = line(id, *day, dir, AMOUNTS[*a], "", &narrative);
                    b.booking.reversal = *reversal;
                    b
                })
                .collect();
            let expected: Vec<ExpectedMovement> = moves
                .iter()
                .map(|(k, a, day, with_ref)| {
                    let kind = [ExpectedKind::Remittance, ExpectedKind::TopUp, ExpectedKind::TreasuryReturn][usize::from(*k)];
                    let reference = with_ref.then(|| format!("GK{a}"));
                    movement(kind, *day, AMOUNTS[*a], reference.as_deref())
                })
                .collect();
            let mut inp = input(bookings.clone(), expected.clone());
            inp.settled_bookings = settled_elsewhere;
            let r = reconcile(&inp);
            // every booking exactly once, and nothing else
            let mut seen: HashMap<i64, usize> = HashMap::new();
            for l in &r.statement_lines {
                *seen.entry(l.booking_id).or_default() += 1;
            }
            prop_assert_eq!(seen.len(), bookings.len());
            prop_assert!(seen.values().all(|&n| n == 1));
            // each unexpected line has exactly one outcome, and only those have one
            for l in &r.statement_lines {
                let n = r.outcomes.iter()
                    .filter(|o| o.category == Category::UnexpectedStatementLine && o.booking_id == Some(l.booking_id))
                    .count();
                prop_assert_eq!(n, usize::from(l.class == LineClass::Unexpected));
                prop_assert_eq!(l.counted, l.booking_date == inp.business_date);
                prop_assert_eq!(l.finding, l.class == LineClass::Unexpected
                    && bookings.iter().any(|b| b.id == l.booking_id && !b.booking.reversal && b.booking.direction == Direction::Debit));
            }
            // a movement explains at most as many lines as there are of it, with its direction
            for m in &expected {
                let uses = r.statement_lines.iter().filter(|l| l.movement.as_ref() == Some(m)).count();
                let copies = expected.iter().filter(|x| *x == m).count();
                prop_assert!(uses <= copies);
            }
            for l in r.statement_lines.iter().filter(|l| l.movement.is_some()) {
                let b = bookings.iter().find(|b| b.id == l.booking_id).unwrap();
                let m = l.movement.as_ref().unwrap();
                prop_assert_eq!(b.booking.direction, m.kind.direction());
                prop_assert_eq!(b.booking.amount_minor, m.amount_minor);
            }
            // reversal pairs point at each other
            for l in r.statement_lines.iter().filter(|l| l.class == LineClass::Reversed) {
                let other = r.statement_lines.iter().find(|o| Some(o.booking_id) == l.paired_booking_id).unwrap();
                prop_assert_eq!(other.paired_booking_id, Some(l.booking_id));
            }
            // the same input in another order gives the same classes
            let mut shuffled = inp.clone();
            shuffled.bookings.reverse();
            shuffled.expected.reverse();
            prop_assert_eq!(&reconcile(&shuffled).statement_lines, &r.statement_lines);
        }
    }
}
