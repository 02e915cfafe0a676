//! The matcher's tests: worked cases per tier, the synthetic day's determinism, and a
//! property test that injects faults and expects exactly them back.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use proptest::prelude::*;

use super::*;
use crate::bankfiles::records;
use crate::bankfiles::records::{SettlementKind, SettlementRecord};
use crate::recon::matcher;

/// The benchmarks' generator, shared by `#[path]` (it reaches `matcher` and `records` through
/// `super::`).
#[path = "../../../benches/support/synthetic.rs"]
mod synthetic;
use synthetic::{synthetic, synthetic_booking, SYN_ONE, SYN_POS};

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
        expected: vec![],
        settled_bookings: vec![],
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
    // (file, category, counted by this run)
    for (f, category, counted) in [
        ("p24", Category::CashMatched, true),
        ("p23", Category::CashMatched, false),
        ("o24", Category::CashMismatch, true),
        ("z24", Category::CashMatched, true),
        ("q24", Category::CashMissing, true),
    ] {
        let o = by_file(f);
        assert_eq!((o.category, o.counted), (category, counted), "file {f}");
    }
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
fn settlement_narratives_name_files() {
    let m1 = "898440379930001";
    let m2 = "898440379930002";
    type Named<'a> = Option<(Channel, Vec<(&'a str, NaiveDate)>)>;
    let cases: &[(&str, Named)] = &[
        (
            "POS清算 898440379930001 20261124",
            Some((Channel::BankCard, vec![(m1, d(24))])),
        ),
        (
            "一卡通结算 310000000000021 20261123，20261124",
            Some((Channel::OneCard, vec![(SYN_ONE, d(23)), (SYN_ONE, d(24))])),
        ),
        (
            "POS清算\u{3000}898440379930001 20261123; 898440379930002 20261124",
            Some((Channel::BankCard, vec![(m1, d(23)), (m2, d(24))])),
        ),
        ("POS清算 20261124", None),
        ("POS清算 898440379930001", None),
        ("清算款 898440379930001 20261124", None),
    ];
    for (text, expected) in cases {
        assert_eq!(
            &parse_settlement_narrative(text),
            expected,
            "narrative {text:?}"
        );
    }
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

/// The day's files (from `lines`) and, on the next day, their credits on the collection
/// account; then one cash fault: 1, a POS credit that never came; 2, a one-card credit off by
/// 0.01 (each added to `expected`).
fn faulty_cash(
    lines: &[SettlementLine],
    cash_fault: u8,
    expected: &mut Vec<(Category, String)>,
) -> (Vec<SettlementFile>, Vec<Booking>) {
    let mut files: BTreeMap<String, SettlementFile> = BTreeMap::new();
    for l in lines {
        let f = files
            .entry(l.file_id.clone())
            .or_insert_with(|| SettlementFile {
                file_id: l.file_id.clone(),
                channel: if l.record.merchant == SYN_ONE {
                    Channel::OneCard
                } else {
                    Channel::BankCard
                },
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
        let scheme = if f.channel == Channel::OneCard {
            "一卡通结算"
        } else {
            "POS清算"
        };
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
    (files, bookings)
}

/// The exceptions a run reports (counted ones, and unclaimed bookings), each with who it is
/// about: the payment, the payment whose line it is (`owner`), the file, or the booking.
fn exceptions_by_owner(r: &MatchResult, owner: &HashMap<i64, String>) -> Vec<(Category, String)> {
    r.outcomes
        .iter()
        .filter(|o| o.category.is_exception() && (o.counted || o.file_id.is_none()))
        .map(|o| {
            let who = o
                .payment_id
                .clone()
                .or_else(|| o.line_id.map(|l| owner[&l].clone()))
                .or_else(|| o.file_id.clone())
                .unwrap_or_else(|| format!("booking {:?}", o.booking_id));
            (o.category, who)
        })
        .collect()
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
        let (files, bookings) = faulty_cash(&lines, cash_fault, &mut expected);
        let mut inp = input(payments, lines);
        inp.files = files;
        inp.bookings = bookings;
        let r = reconcile(&inp);
        check_invariants(&inp, &r);
        let mut got = exceptions_by_owner(&r, &owner);
        got.sort();
        expected.sort();
        prop_assert_eq!(got, expected);
    }
}
