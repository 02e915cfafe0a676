//! The two-thread matcher against the one-thread one: the same result, on inputs whose keys
//! collide on purpose (several payments wanting the same line, chains of lines under one key,
//! voids and refunds of shared references), and on the synthetic day.

use chrono::{NaiveDate, NaiveTime};
use proptest::prelude::*;

use super::tests::synthetic;
use super::*;
use crate::bankfiles::records::{SettlementKind, SettlementRecord};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

/// A payment from small pools: references, traces and RRNs repeat across payments.
fn payment(i: usize, (one_card, term, n, r, amt, d, hour, voided): PaySpec) -> LedgerPayment {
    let time = day(d).and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap());
    LedgerPayment {
        id: format!("p{i:03}"),
        reference: format!("R{r}"),
        channel: if one_card {
            Channel::OneCard
        } else {
            Channel::BankCard
        },
        business_date: day(d),
        amount_minor: amt,
        merchant: "M1".into(),
        terminal: format!("T{term}"),
        batch: (!one_card).then(|| "000001".into()),
        trace: (!one_card).then(|| format!("{n:06}")),
        rrn: (!one_card && n != 0).then(|| format!("{n:012}")),
        serial: one_card.then(|| format!("S{n}")),
        txn_time: time,
        voided,
        refunds: if amt == 300 {
            vec![LedgerRefund {
                id: format!("f{i:03}"),
                amount_minor: 100,
                approved_on: day(24),
            }]
        } else {
            vec![]
        },
    }
}

type PaySpec = (bool, u8, u8, u8, i64, u32, u32, bool);
type LineSpec = (u8, u8, u8, u8, u8, i64, u32, bool);

/// A line from the same pools: kind 0–2 purchase, 3 void, 4 refund, 5 adjustment.
fn line(i: usize, (kind, term, n, r, orig, amt, d, own): LineSpec) -> SettlementLine {
    let kind = match kind {
        0..=2 => SettlementKind::Purchase,
        3 => SettlementKind::Void,
        4 => SettlementKind::Refund,
        _ => SettlementKind::Adjustment,
    };
    let sign = if kind == SettlementKind::Purchase {
        1
    } else {
        -1
    };
    let id = i64::try_from(i).unwrap() + 1;
    SettlementLine {
        id,
        file_id: format!("F{d}"),
        record: SettlementRecord {
            line: u64::try_from(id).unwrap(),
            merchant: "M1".into(),
            terminal: format!("T{term}"),
            batch: Some("000001".into()),
            trace: Some(format!("{n:06}")),
            rrn: if n == 0 {
                None
            } else if n.is_multiple_of(3) {
                Some(format!("S{n}"))
            } else {
                Some(format!("{n:012}"))
            },
            auth_code: None,
            masked_card: None,
            kind,
            gross_minor: sign * amt,
            fee_minor: 0,
            net_minor: sign * amt,
            currency: "CNY".into(),
            txn_time: day(d).and_time(NaiveTime::from_hms_opt(10, 0, 0).unwrap()),
            settlement_date: day(d),
            original_ref: (kind != SettlementKind::Purchase).then(|| format!("{orig:012}")),
            own_ref: own.then(|| format!("R{r}")),
        },
    }
}

fn input(pays: Vec<PaySpec>, lines: Vec<LineSpec>) -> MatchInput {
    MatchInput {
        business_date: day(24),
        payments: pays
            .into_iter()
            .enumerate()
            .map(|(i, s)| payment(i, s))
            .collect(),
        lines: lines
            .into_iter()
            .enumerate()
            .map(|(i, s)| line(i, s))
            .collect(),
        files: vec![],
        bookings: vec![],
        statement_closing_minor: None,
        ledger_1002_01_minor: 0,
        credit_horizon_days: DEFAULT_CREDIT_HORIZON_DAYS,
        business_day_cutoff: Some(NaiveTime::from_hms_opt(22, 0, 0).unwrap()),
        prior_cash: vec![],
        expected: vec![],
        settled_bookings: vec![],
    }
}

fn pay_spec() -> impl Strategy<Value = PaySpec> {
    (
        any::<bool>(),
        0u8..2,
        0u8..6,
        0u8..6,
        prop::sample::select(vec![100i64, 200, 300]),
        23u32..26,
        prop::sample::select(vec![9u32, 22, 23]),
        prop::bool::weighted(0.15),
    )
}

fn line_spec() -> impl Strategy<Value = LineSpec> {
    (
        0u8..6,
        0u8..2,
        0u8..6,
        0u8..6,
        0u8..6,
        prop::sample::select(vec![100i64, 200, 300]),
        23u32..27,
        any::<bool>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn two_threads_find_what_one_thread_finds(
        pays in proptest::collection::vec(pay_spec(), 0..60),
        lines in proptest::collection::vec(line_spec(), 0..80),
    ) {
        let inp = input(pays, lines);
        let one = reconcile_split(&inp, usize::MAX);
        let two = reconcile_split(&inp, 0);
        prop_assert_eq!(one, two);
    }
}

#[test]
fn two_threads_find_what_one_thread_finds_on_the_synthetic_day() {
    let inp = synthetic::synthetic(20_000, 7);
    assert_eq!(reconcile_split(&inp, usize::MAX), reconcile_split(&inp, 0));
}
