//! Tests that try to break the ledger rules of DESIGN §2 with plain values (no database).

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use proptest::prelude::*;

use super::chain::{canonical_bytes, entry_hash, GENESIS_HASH};
use super::model::{AccountKind, AccountRole, EntryKind, Fund, NewEntry, Posting, Side};
use super::repo::trial_balance_from;
use super::rules::{validate, Crossing, LedgerError, RuleContext};
use super::Chart;

fn chart() -> Chart {
    Chart::default_chart().unwrap_or_else(|e| panic!("default chart: {e}"))
}

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default()
}

fn entry(kind: EntryKind, postings: Vec<Posting>) -> NewEntry {
    NewEntry {
        business_date: date(),
        kind,
        memo: "test".into(),
        reference: None,
        reverses: None,
        actor: "test".into(),
        postings,
    }
}

fn ok_ctx() -> RuleContext<'static> {
    RuleContext::default()
}

fn d(a: &str, m: i64) -> Posting {
    Posting::debit(a, m)
}
fn c(a: &str, m: i64) -> Posting {
    Posting::credit(a, m)
}

const SUBJECT: &str = "2103.1030401";

/// DESIGN §2's entry templates, each accepted as written.
#[test]
fn every_design_template_is_accepted() {
    let chart = chart();
    let g = 20_000;
    let f = 120;
    let n = g - f;
    let capture = entry(EntryKind::Capture, vec![d("1218.01", g), c(SUBJECT, g)]);
    let settlement = entry(
        EntryKind::Settlement,
        vec![
            d("1002.01", n),
            d("1218.02", f),
            c("1218.01", g),
            d("5001.01", f),
            c("2307.01", f),
        ],
    );
    let top_up = entry(
        EntryKind::FeeTopUp,
        vec![
            d("1002.01", f),
            c("1218.02", f),
            d("2307.01", f),
            c("1002.02", f),
        ],
    );
    let remittance = entry(EntryKind::Remittance, vec![d(SUBJECT, g), c("1002.01", g)]);
    let refund = entry(EntryKind::Refund, vec![d(SUBJECT, g), c("1218.01", g)]);
    let appropriation = entry(
        EntryKind::Appropriation,
        vec![d("1002.02", 100_000), c("4001", 100_000)],
    );
    for e in [&capture, &remittance, &refund, &appropriation] {
        assert_eq!(
            validate(&chart, e, &ok_ctx()).map(|_| ()),
            Ok(()),
            "{:?}",
            e.kind
        );
    }
    let accepted =
        validate(&chart, &settlement, &ok_ctx()).unwrap_or_else(|e| panic!("settlement: {e}"));
    assert_eq!(accepted.interfund_delta_minor, f);
    let ctx = RuleContext {
        interfund_receivable_minor: f,
        ..RuleContext::default()
    };
    let accepted = validate(&chart, &top_up, &ctx).unwrap_or_else(|e| panic!("top-up: {e}"));
    assert_eq!(accepted.interfund_delta_minor, -f);
}

#[test]
fn an_entry_unbalanced_within_a_fund_is_refused() {
    let chart = chart();
    let e = entry(
        EntryKind::Capture,
        vec![d("1218.01", 20_000), c(SUBJECT, 19_999)],
    );
    assert!(matches!(
        validate(&chart, &e, &ok_ctx()),
        Err(LedgerError::Unbalanced {
            fund: Fund::Collection,
            debit_minor: 20_000,
            credit_minor: 19_999,
            ..
        })
    ));
    // Budget side off by one while the collection side balances.
    let e = entry(
        EntryKind::Adjustment,
        vec![
            d("1002.02", 5),
            c("4001", 4),
            d("1218.01", 1),
            c(SUBJECT, 1),
        ],
    );
    assert!(matches!(
        validate(&chart, &e, &ok_ctx()),
        Err(LedgerError::Unbalanced {
            fund: Fund::Budget,
            ..
        })
    ));
}

#[test]
fn spending_revenue_is_refused_as_fund_crossing() {
    let chart = chart();
    // Pay a bank charge straight out of the revenue account: balances overall, not per fund.
    let e = entry(
        EntryKind::Adjustment,
        vec![c("1002.01", 120), d("5001.01", 120)],
    );
    assert!(matches!(
        validate(&chart, &e, &ok_ctx()),
        Err(LedgerError::FundCrossing {
            direction: Crossing::CollectionToBudget,
            ..
        })
    ));
    // Move revenue cash into the budget bank account.
    let e = entry(
        EntryKind::Adjustment,
        vec![c("1002.01", 500), d("1002.02", 500)],
    );
    assert!(matches!(
        validate(&chart, &e, &ok_ctx()),
        Err(LedgerError::FundCrossing {
            direction: Crossing::CollectionToBudget,
            ..
        })
    ));
}

#[test]
fn a_loan_from_revenue_through_the_interfund_pair_is_refused() {
    let chart = chart();
    // Each fund balances and the pair mirrors, but revenue cash lands in the budget account.
    let loan = entry(
        EntryKind::Adjustment,
        vec![
            d("1218.02", 500),
            c("1002.01", 500),
            d("1002.02", 500),
            c("2307.01", 500),
        ],
    );
    assert!(matches!(
        validate(&chart, &loan, &ok_ctx()),
        Err(LedgerError::FundCrossing {
            direction: Crossing::CollectionToBudget,
            ..
        })
    ));
    // Revenue pays a budget expense "on account".
    let paid = entry(
        EntryKind::Adjustment,
        vec![
            d("1218.02", 500),
            c("1002.01", 500),
            d("5001.01", 500),
            c("2307.01", 500),
        ],
    );
    assert!(matches!(
        validate(&chart, &paid, &ok_ctx()),
        Err(LedgerError::FundCrossing { .. })
    ));
}

#[test]
fn the_interfund_pair_must_move_together() {
    let chart = chart();
    let one_sided = entry(
        EntryKind::Adjustment,
        vec![d("1218.02", 500), c("1218.01", 500)],
    );
    assert!(matches!(
        validate(&chart, &one_sided, &ok_ctx()),
        Err(LedgerError::FundCrossing { .. })
    ));
    let uneven = entry(
        EntryKind::Settlement,
        vec![
            d("1002.01", 19_880),
            d("1218.02", 120),
            c("1218.01", 20_000),
            d("5001.01", 100),
            c("2307.01", 100),
            d("5001.01", 20),
            c("4001", 20),
        ],
    );
    // 2307.01 credited 100 while 1218.02 debited 120.
    assert!(matches!(
        validate(&chart, &uneven, &ok_ctx()),
        Err(LedgerError::FundCrossing { .. })
    ));
}

#[test]
fn settling_more_than_the_budget_owes_is_refused() {
    let chart = chart();
    let top_up = entry(
        EntryKind::FeeTopUp,
        vec![
            d("1002.01", 200),
            c("1218.02", 200),
            d("2307.01", 200),
            c("1002.02", 200),
        ],
    );
    let ctx = RuleContext {
        interfund_receivable_minor: 120,
        ..RuleContext::default()
    };
    assert!(matches!(
        validate(&chart, &top_up, &ctx),
        Err(LedgerError::FundCrossing {
            direction: Crossing::CollectionToBudget,
            ..
        })
    ));
}

#[test]
fn netting_fees_against_revenue_is_refused() {
    let chart = chart();
    // The acquirer kept 1.20; booking it against 2103 would under-remit revenue.
    let netted = entry(
        EntryKind::Settlement,
        vec![d("1002.01", 19_880), d(SUBJECT, 120), c("1218.01", 20_000)],
    );
    assert!(matches!(
        validate(&chart, &netted, &ok_ctx()),
        Err(LedgerError::RevenueNetting {
            kind: EntryKind::Settlement,
            ..
        })
    ));
    let adj = entry(EntryKind::Adjustment, vec![d(SUBJECT, 1), c("1218.01", 1)]);
    assert!(matches!(
        validate(&chart, &adj, &ok_ctx()),
        Err(LedgerError::RevenueNetting { .. })
    ));
}

#[test]
fn a_closed_day_accepts_nothing() {
    let chart = chart();
    let e = entry(EntryKind::Capture, vec![d("1218.01", 100), c(SUBJECT, 100)]);
    let ctx = RuleContext {
        day_closed: true,
        ..RuleContext::default()
    };
    assert_eq!(
        validate(&chart, &e, &ctx).map(|_| ()),
        Err(LedgerError::DayClosed(date()))
    );
}

#[test]
fn reversals_must_mirror_their_original() {
    let chart = chart();
    let original = vec![d("1218.01", 100), c(SUBJECT, 100)];
    let mut rev = entry(
        EntryKind::Reversal,
        vec![c("1218.01", 100), d(SUBJECT, 100)],
    );
    rev.reverses = Some(7);
    let ctx = RuleContext {
        original_postings: Some(&original),
        ..RuleContext::default()
    };
    assert_eq!(validate(&chart, &rev, &ctx).map(|_| ()), Ok(()));
    let mut wrong = rev.clone();
    wrong.postings[0].amount_minor = 99;
    wrong.postings[1].amount_minor = 99;
    assert_eq!(
        validate(&chart, &wrong, &ctx).map(|_| ()),
        Err(LedgerError::ReversalMismatch(7))
    );
    let missing = RuleContext::default();
    assert_eq!(
        validate(&chart, &rev, &missing).map(|_| ()),
        Err(LedgerError::UnknownEntry(7))
    );
    let mut not_marked = rev.clone();
    not_marked.kind = EntryKind::Adjustment;
    assert_eq!(
        validate(&chart, &not_marked, &ctx).map(|_| ()),
        Err(LedgerError::ReversalShape)
    );
    let mut no_target = rev;
    no_target.reverses = None;
    assert_eq!(
        validate(&chart, &no_target, &ctx).map(|_| ()),
        Err(LedgerError::ReversalShape)
    );
}

#[test]
fn malformed_entries_are_refused() {
    let chart = chart();
    type Case = (Vec<Posting>, fn(&LedgerError) -> bool);
    let cases: Vec<Case> = vec![
        (vec![d("1218.01", 100)], |e| {
            matches!(e, LedgerError::TooFewPostings)
        }),
        (vec![d("1218.01", 0), c(SUBJECT, 0)], |e| {
            matches!(e, LedgerError::BadAmount { line: 1 })
        }),
        (vec![d("1218.01", -5), c(SUBJECT, -5)], |e| {
            matches!(e, LedgerError::BadAmount { line: 1 })
        }),
        (vec![d("9999", 5), c(SUBJECT, 5)], |e| {
            matches!(e, LedgerError::UnknownAccount { line: 1, .. })
        }),
        (vec![d("1218", 5), c(SUBJECT, 5)], |e| {
            matches!(e, LedgerError::NotPostable { line: 1, .. })
        }),
        (vec![d("1218.01", i64::MAX), c(SUBJECT, i64::MAX)], |e| {
            matches!(e, LedgerError::BadAmount { .. })
        }),
    ];
    for (postings, expect) in cases {
        let e = entry(EntryKind::Capture, postings.clone());
        match validate(&chart, &e, &ok_ctx()) {
            Err(err) if expect(&err) => {}
            other => panic!("{postings:?}: got {other:?}"),
        }
    }
    let mut usd = entry(EntryKind::Capture, vec![d("1218.01", 5), c(SUBJECT, 5)]);
    usd.postings[0].currency = "USD".into();
    assert!(matches!(
        validate(&chart, &usd, &ok_ctx()),
        Err(LedgerError::CurrencyMismatch { .. })
    ));
    let mut anonymous = entry(EntryKind::Capture, vec![d("1218.01", 5), c(SUBJECT, 5)]);
    anonymous.actor = " ".into();
    assert!(matches!(
        validate(&chart, &anonymous, &ok_ctx()),
        Err(LedgerError::InvalidEntry(_))
    ));
}

#[test]
fn the_chart_checks_itself() {
    assert!(Chart::default_chart().is_ok());
    let no_pair = r#"{"accounts":[{"code":"1","name":"a","name_en":"a","fund":"collection","kind":"asset"}]}"#;
    assert!(Chart::from_json(no_pair).is_err());
    let wrong_fund = r#"{"accounts":[
        {"code":"1218.02","name":"a","name_en":"a","fund":"budget","kind":"asset","role":"interfund_receivable"},
        {"code":"2307.01","name":"b","name_en":"b","fund":"budget","kind":"liability","role":"interfund_payable"}]}"#;
    assert!(Chart::from_json(wrong_fund).is_err());
    let chart = chart();
    assert_eq!(
        chart
            .treasury_payable_for("1030401")
            .map(|a| a.code.as_str()),
        Some(SUBJECT)
    );
    assert_eq!(
        chart.get("1218.02").map(|a| a.role),
        Some(AccountRole::InterfundReceivable)
    );
    assert_eq!(
        chart.get("2103").map(|a| a.kind),
        Some(AccountKind::Liability)
    );
}

fn t0() -> NaiveDateTime {
    date()
        .and_hms_micro_opt(1, 30, 15, 123_456)
        .unwrap_or_default()
}

#[test]
fn any_change_to_an_entry_changes_its_hash() {
    let base = entry(
        EntryKind::Capture,
        vec![d("1218.01", 20_000), c(SUBJECT, 20_000)],
    );
    let h = entry_hash(&GENESIS_HASH, 1, &base, &t0());
    let mut variants = Vec::new();
    let mut v = base.clone();
    v.postings[0].amount_minor += 1;
    variants.push(v);
    let mut v = base.clone();
    v.postings.swap(0, 1);
    variants.push(v);
    let mut v = base.clone();
    v.memo.push(' ');
    variants.push(v);
    let mut v = base.clone();
    v.reference = Some(String::new());
    variants.push(v);
    let mut v = base.clone();
    v.business_date = v.business_date.succ_opt().unwrap_or_default();
    variants.push(v);
    let mut v = base.clone();
    v.postings[1].account = "2103.1030409".into();
    variants.push(v);
    for v in &variants {
        assert_ne!(entry_hash(&GENESIS_HASH, 1, v, &t0()), h, "{v:?}");
    }
    assert_ne!(
        entry_hash(&GENESIS_HASH, 2, &base, &t0()),
        h,
        "position is part of the hash"
    );
    assert_ne!(
        entry_hash(&[1u8; 32], 1, &base, &t0()),
        h,
        "the previous hash is part of the hash"
    );
    // Field boundaries cannot be shifted: memo "ab" + reference "c" ≠ memo "a" + reference "bc".
    let mut a = base.clone();
    a.memo = "ab".into();
    a.reference = Some("c".into());
    let mut b = base;
    b.memo = "a".into();
    b.reference = Some("bc".into());
    assert_ne!(canonical_bytes(1, &a, &t0()), canonical_bytes(1, &b, &t0()));
}

// ---- property tests ----

fn postable_codes() -> Vec<String> {
    chart()
        .accounts()
        .filter(|a| a.postable)
        .map(|a| a.code.clone())
        .collect()
}

fn arb_posting() -> impl Strategy<Value = Posting> {
    let codes = postable_codes();
    (prop::sample::select(codes), any::<bool>(), 1i64..1_000_000).prop_map(
        |(account, debit, amount)| Posting {
            account,
            side: if debit { Side::Debit } else { Side::Credit },
            amount_minor: amount,
            currency: "CNY".into(),
        },
    )
}

fn arb_kind() -> impl Strategy<Value = EntryKind> {
    prop::sample::select(vec![
        EntryKind::Capture,
        EntryKind::Settlement,
        EntryKind::FeeTopUp,
        EntryKind::Remittance,
        EntryKind::Refund,
        EntryKind::Appropriation,
        EntryKind::Adjustment,
    ])
}

/// A random entry that balances overall (a last posting makes up the difference), so the
/// per-fund and crossing rules, not a plain imbalance, decide.
fn arb_balanced_overall() -> impl Strategy<Value = NewEntry> {
    (
        arb_kind(),
        prop::collection::vec(arb_posting(), 1..6),
        prop::sample::select(postable_codes()),
    )
        .prop_map(|(kind, mut postings, plug)| {
            let net: i64 = postings
                .iter()
                .map(|p| {
                    if p.side == Side::Debit {
                        p.amount_minor
                    } else {
                        -p.amount_minor
                    }
                })
                .sum();
            if net != 0 {
                postings.push(Posting {
                    account: plug,
                    side: if net > 0 { Side::Credit } else { Side::Debit },
                    amount_minor: net.abs(),
                    currency: "CNY".into(),
                });
            } else {
                postings.push(Posting::debit(&plug, 1));
                postings.push(Posting::credit(&plug, 1));
            }
            entry(kind, postings)
        })
}

fn fund_sums(chart: &Chart, e: &NewEntry) -> BTreeMap<Fund, (i64, i64)> {
    let mut m = BTreeMap::new();
    for p in &e.postings {
        let s: &mut (i64, i64) = m.entry(chart.fund_of(&p.account)).or_default();
        match p.side {
            Side::Debit => s.0 += p.amount_minor,
            Side::Credit => s.1 += p.amount_minor,
        }
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Rule 1: whatever is accepted balances within each fund.
    #[test]
    fn accepted_entries_balance_within_each_fund(e in arb_balanced_overall(), receivable in 0i64..10_000_000) {
        let chart = chart();
        let ctx = RuleContext { interfund_receivable_minor: receivable, ..RuleContext::default() };
        if validate(&chart, &e, &ctx).is_ok() {
            for (fund, (dr, cr)) in fund_sums(&chart, &e) {
                prop_assert_eq!(dr, cr, "fund {:?} unbalanced in accepted entry {:?}", fund, e);
            }
        }
    }

    /// Rule 2: an entry whose collection side gives more than it gets is always refused.
    #[test]
    fn value_never_leaves_the_collection_fund(e in arb_balanced_overall(), receivable in 0i64..10_000_000) {
        let chart = chart();
        let sums = fund_sums(&chart, &e);
        let (cd, cc) = sums.get(&Fund::Collection).copied().unwrap_or_default();
        let ctx = RuleContext { interfund_receivable_minor: receivable, ..RuleContext::default() };
        if cc > cd {
            prop_assert!(validate(&chart, &e, &ctx).is_err(), "collection gives {} net and was accepted: {:?}", cc - cd, e);
        }
        // And whatever is accepted never leaves the budget fund owing less than nothing.
        if let Ok(a) = validate(&chart, &e, &ctx) {
            prop_assert!(receivable + a.interfund_delta_minor >= 0);
            // No accepted cross-fund entry that is not a reversal puts money into a budget asset.
            let touches_both = sums.len() == 2;
            if touches_both {
                for p in &e.postings {
                    let acc = chart.get(&p.account).cloned();
                    let budget_asset_debit = acc.as_ref().is_some_and(|a| a.fund == Fund::Budget && a.kind == AccountKind::Asset) && p.side == Side::Debit;
                    prop_assert!(!budget_asset_debit, "{:?}", e);
                }
            }
        }
    }

    /// Applying any sequence of accepted entries keeps each fund's trial balance even, and the
    /// interfund receivable never negative.
    #[test]
    fn any_accepted_sequence_keeps_every_fund_even(entries in prop::collection::vec(arb_balanced_overall(), 1..60)) {
        let chart = chart();
        let mut totals: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        let mut receivable = 0i64;
        for e in entries {
            let ctx = RuleContext { interfund_receivable_minor: receivable, ..RuleContext::default() };
            if let Ok(a) = validate(&chart, &e, &ctx) {
                receivable += a.interfund_delta_minor;
                prop_assert!(receivable >= 0);
                for p in &e.postings {
                    let t = totals.entry(p.account.clone()).or_default();
                    match p.side { Side::Debit => t.0 += p.amount_minor, Side::Credit => t.1 += p.amount_minor }
                }
            }
        }
        for f in trial_balance_from(&chart, &totals) {
            prop_assert_eq!(f.debit_total_minor, f.credit_total_minor, "fund {:?}", f.fund);
        }
    }
}

/// The chain's byte format is frozen: entries hashed today must verify in ten years. A change
/// here means every stored chain stops verifying.
#[test]
fn the_canonical_encoding_is_frozen() {
    let mut e = entry(
        EntryKind::Reversal,
        vec![d("1218.01", 20_000), c(SUBJECT, 20_000)],
    );
    e.reverses = Some(-7);
    e.reference = Some("P-1".into());
    let bytes = canonical_bytes(1_234_567_890_123, &e, &t0());
    let mut expected = b"onecard-entry-v1\0".to_vec();
    fn f(expected: &mut Vec<u8>, b: &[u8]) {
        expected.extend_from_slice(&(b.len() as u32).to_be_bytes());
        expected.extend_from_slice(b);
    }
    let x = &mut expected;
    f(x, b"1234567890123");
    f(x, b"2026-11-24");
    f(x, b"reversal");
    f(x, b"test");
    x.push(1);
    f(x, b"P-1");
    x.push(1);
    f(x, b"-7");
    f(x, b"test");
    f(x, b"2026-11-24T01:30:15.123456Z");
    f(x, b"2");
    for (acct, side, amount) in [("1218.01", "debit", "20000"), (SUBJECT, "credit", "20000")] {
        f(x, acct.as_bytes());
        f(x, side.as_bytes());
        f(x, amount.as_bytes());
        f(x, b"CNY");
    }
    assert_eq!(bytes, expected);
    assert_eq!(
        hex::encode(entry_hash(&GENESIS_HASH, 1, &e, &t0())),
        hex::encode(super::chain::chain_hash(
            &GENESIS_HASH,
            &canonical_bytes(1, &e, &t0())
        ))
    );
}

proptest! {
    /// The hand-written number and date encoders agree with the standard formatting.
    #[test]
    fn canonical_numbers_and_dates_match_standard_formatting(seq in any::<i64>(), amount in 1i64..i64::MAX, days in 0i64..3_000_000) {
        let date = NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or_default() + chrono::Duration::days(days);
        let mut e = entry(EntryKind::Capture, vec![d("1218.01", amount), c(SUBJECT, amount)]);
        e.business_date = date;
        let bytes = canonical_bytes(seq, &e, &t0());
        let text = String::from_utf8_lossy(&bytes);
        prop_assert!(text.contains(&seq.to_string()));
        prop_assert!(text.contains(&date.format("%Y-%m-%d").to_string()));
        prop_assert!(text.contains(&amount.to_string()));
    }
}
