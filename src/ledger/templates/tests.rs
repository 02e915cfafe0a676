//! Each template drafts an entry that balances within each fund, passes the rules, and touches
//! exactly the accounts DESIGN §2 names, in the order the entries were posted before the
//! templates existed (the hash chain depends on it).

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::*;
use crate::ledger::model::{Fund, Side};
use crate::ledger::rules::{check_fund_balance, validate, RuleContext};

fn chart() -> Chart {
    Chart::default_chart().unwrap_or_else(|e| panic!("default chart: {e}"))
}

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default()
}

fn header(reference: &str) -> Header {
    Header {
        business_date: date(),
        reference: Some(reference.into()),
        actor: "clerk:window-3".into(),
    }
}

/// (account, side, amount) of each posting, in order.
fn lines(e: &NewEntry) -> Vec<(String, Side, i64)> {
    e.postings
        .iter()
        .map(|p| (p.account.clone(), p.side, p.amount_minor))
        .collect()
}

fn d(a: &str, m: i64) -> (String, Side, i64) {
    (a.to_string(), Side::Debit, m)
}
fn c(a: &str, m: i64) -> (String, Side, i64) {
    (a.to_string(), Side::Credit, m)
}

/// Σ debits − Σ credits per fund: zero for each fund the entry touches.
fn assert_balances_per_fund(chart: &Chart, e: &NewEntry) {
    let mut net: BTreeMap<Fund, i64> = BTreeMap::new();
    for p in &e.postings {
        let delta = match p.side {
            Side::Debit => p.amount_minor,
            Side::Credit => -p.amount_minor,
        };
        *net.entry(chart.fund_of(&p.account)).or_default() += delta;
    }
    for (fund, n) in net {
        assert_eq!(
            n,
            0,
            "{:?}: the {} fund is off by {n}",
            e.kind,
            fund.as_str()
        );
    }
    assert_eq!(check_fund_balance(chart, e), Ok(()), "{:?}", e.kind);
}

fn accepted(chart: &Chart, e: &NewEntry, interfund_receivable_minor: i64) {
    let ctx = RuleContext {
        interfund_receivable_minor,
        ..RuleContext::default()
    };
    if let Err(err) = validate(chart, e, &ctx) {
        panic!("{:?} refused: {err}", e.kind);
    }
}

#[test]
fn capture_debits_transit_and_credits_each_line_subject() {
    let chart = chart();
    let e = capture(
        &chart,
        header("pay_01"),
        "P123450000000001",
        12_000,
        &[("1030401", 2_000), ("1030409", 10_000)],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        lines(&e),
        vec![
            d("1218.01", 12_000),
            c("2103.1030401", 2_000),
            c("2103.1030409", 10_000)
        ]
    );
    assert_eq!(e.kind, EntryKind::Capture);
    assert_eq!(e.memo, "card payment P123450000000001");
    assert_eq!(e.reference.as_deref(), Some("pay_01"));
    assert_eq!(e.reverses, None);
    assert_balances_per_fund(&chart, &e);
    accepted(&chart, &e, 0);
}

#[test]
fn capture_of_an_unknown_subject_is_refused() {
    let r = capture(&chart(), header("pay_01"), "P1", 100, &[("9999999", 100)]);
    assert_eq!(r, Err(TemplateError::NoPayable("9999999".into())));
}

#[test]
fn void_is_the_reversal_of_the_capture() {
    let chart = chart();
    let original = capture(&chart, header("pay_01"), "P1", 500, &[("1030401", 500)])
        .unwrap_or_else(|e| panic!("{e}"));
    let posted = PostedEntry {
        seq: 7,
        entry: original,
        created_at: date().and_hms_opt(9, 0, 0).unwrap_or_default(),
        prev_hash: [0; 32],
        hash: [1; 32],
    };
    let e = void(&posted, "P1", "clerk:window-3".into());
    assert_eq!(lines(&e), vec![c("1218.01", 500), d("2103.1030401", 500)]);
    assert_eq!(e.kind, EntryKind::Reversal);
    assert_eq!(e.reverses, Some(7));
    assert_eq!(e.reference.as_deref(), Some("pay_01"));
    assert_eq!(e.memo, "void of payment P1");
    assert_balances_per_fund(&chart, &e);
    let ctx = RuleContext {
        original_postings: Some(&posted.entry.postings),
        ..RuleContext::default()
    };
    assert!(validate(&chart, &e, &ctx).is_ok());
}

#[test]
fn settlement_is_gross_out_of_transit_net_to_bank_fee_to_budget_expense() {
    let chart = chart();
    let t = SettlementTotals {
        gross_minor: 20_000,
        fee_minor: 120,
        net_minor: 19_880,
    };
    let e = settlement(&chart, date(), "sf_1", t, "nightly")
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("postable totals"));
    assert_eq!(
        lines(&e),
        vec![
            d("1002.01", 19_880),
            c("1218.01", 20_000),
            d("1218.02", 120),
            d("5001.01", 120),
            c("2307.01", 120)
        ]
    );
    assert_eq!(e.kind, EntryKind::Settlement);
    assert_eq!(e.reference.as_deref(), Some("settlement:sf_1"));
    assert_eq!(
        e.memo,
        "acquirer settlement of file sf_1: gross 200.00, fee 1.20, net 198.80"
    );
    assert_balances_per_fund(&chart, &e);
    accepted(&chart, &e, 0);
}

/// The settlement entry is exactly the one reconciliation posts today, for every shape of
/// totals (including those it leaves to a person).
#[test]
fn settlement_matches_what_reconciliation_posts() {
    let chart = chart();
    let cases: [(i64, i64, i64); 7] = [
        (20_000, 120, 19_880),
        (5_000, 0, 5_000),
        (0, 0, 0),
        (-100, 0, -100),
        (1_000, -5, 1_005),
        (1_000, 10, 900),
        (100, 100, 0),
    ];
    for (gross, fee, net) in cases {
        let ours = settlement(
            &chart,
            date(),
            "sf_9",
            SettlementTotals {
                gross_minor: gross,
                fee_minor: fee,
                net_minor: net,
            },
            "nightly",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let theirs = posted_before_templates(date(), "sf_9", gross, fee, net, "nightly");
        assert_eq!(ours, theirs, "gross {gross}, fee {fee}, net {net}");
    }
}

/// The settlement entry reconciliation built by hand, with literal account codes, before the
/// templates existed — frozen here so the template is held to byte-identical entries (the hash
/// chain of every ledger already in service depends on them).
fn posted_before_templates(
    date: NaiveDate,
    file_id: &str,
    gross: i64,
    fee: i64,
    net: i64,
    actor: &str,
) -> Option<NewEntry> {
    if gross <= 0 || net <= 0 || fee < 0 || gross - fee != net {
        return None;
    }
    let mut postings = vec![
        Posting::debit("1002.01", net),
        Posting::credit("1218.01", gross),
    ];
    if fee > 0 {
        postings.push(Posting::debit("1218.02", fee));
        postings.push(Posting::debit("5001.01", fee));
        postings.push(Posting::credit("2307.01", fee));
    }
    Some(NewEntry {
        business_date: date,
        kind: EntryKind::Settlement,
        memo: format!(
            "acquirer settlement of file {file_id}: gross {}, fee {}, net {}",
            crate::money::format_minor(gross),
            crate::money::format_minor(fee),
            crate::money::format_minor(net)
        ),
        reference: Some(format!("settlement:{file_id}")),
        reverses: None,
        actor: actor.to_string(),
        postings,
    })
}

#[test]
fn fee_top_up_moves_the_fee_from_budget_bank_to_collection_bank() {
    let chart = chart();
    let e = fee_top_up(&chart, header("sf_1"), 120, "fee top-up".into())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        lines(&e),
        vec![
            d("1002.01", 120),
            c("1218.02", 120),
            d("2307.01", 120),
            c("1002.02", 120)
        ]
    );
    assert_eq!(e.kind, EntryKind::FeeTopUp);
    assert_balances_per_fund(&chart, &e);
    accepted(&chart, &e, 120);
}

#[test]
fn remittance_debits_each_subject_and_credits_the_collection_bank() {
    let chart = chart();
    let e = remittance(
        &chart,
        header("rem_20261124"),
        "remittance".into(),
        &[("2103.1030401", 2_000), ("2103.1030409", 10_000)],
        12_000,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        lines(&e),
        vec![
            d("2103.1030401", 2_000),
            d("2103.1030409", 10_000),
            c("1002.01", 12_000)
        ]
    );
    assert_eq!(e.kind, EntryKind::Remittance);
    assert_balances_per_fund(&chart, &e);
    accepted(&chart, &e, 0);
    let wrong = remittance(&chart, header("r"), "r".into(), &[("1218.01", 1)], 1);
    assert_eq!(wrong, Err(TemplateError::NotPayable("1218.01".into())));
}

#[test]
fn refund_credits_transit_before_settlement_and_the_bank_after() {
    let chart = chart();
    let allocation = vec![("1030401".to_string(), 300), ("1030409".to_string(), 200)];
    for (settled, credit) in [(false, "1218.01"), (true, "1002.01")] {
        let e = refund(
            &chart,
            header("pay_01"),
            "refund".into(),
            settled,
            &allocation,
            500,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            lines(&e),
            vec![
                d("2103.1030401", 300),
                d("2103.1030409", 200),
                c(credit, 500)
            ],
            "settled: {settled}"
        );
        assert_eq!(e.kind, EntryKind::Refund);
        assert_balances_per_fund(&chart, &e);
        accepted(&chart, &e, 0);
    }
}

#[test]
fn treasury_return_credits_refund_payable_and_the_payout_empties_it() {
    let chart = chart();
    let back = treasury_return(&chart, header("TK-01"), "退库".into(), 5_000)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lines(&back), vec![d("1002.01", 5_000), c("2307.02", 5_000)]);
    assert_eq!(back.kind, EntryKind::TreasuryReturn);
    // The kind reconciliation looks for on the collection account's statement.
    assert_eq!(
        back.kind.as_str(),
        crate::recon::inputs::TREASURY_RETURN_ENTRY_KIND
    );
    assert_balances_per_fund(&chart, &back);
    accepted(&chart, &back, 0);
    leaves_2103_alone(&chart, &back);
    for (settled, credit) in [(false, "1218.01"), (true, "1002.01")] {
        let out = refund_payout(&chart, header("pay_01"), "payout".into(), settled, 5_000)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lines(&out), vec![d("2307.02", 5_000), c(credit, 5_000)]);
        assert_eq!(out.kind, EntryKind::Refund);
        assert_balances_per_fund(&chart, &out);
        accepted(&chart, &out, 0);
        leaves_2103_alone(&chart, &out);
    }
    // Refund payable is a collection-fund liability: the return and payout net to nothing on it.
    let payable = chart
        .account_with_role(AccountRole::RefundPayable)
        .unwrap_or_else(|| panic!("no refund payable"));
    assert_eq!(payable.fund, Fund::Collection);
    // Without the account neither can be drafted (no pre-financing from elsewhere).
    let accounts: Vec<_> = chart
        .accounts()
        .filter(|a| a.role != AccountRole::RefundPayable)
        .cloned()
        .collect();
    let bare = Chart::new(accounts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        treasury_return(&bare, header("x"), "m".into(), 1),
        Err(TemplateError::NoAccount(AccountRole::RefundPayable))
    );
    assert_eq!(
        refund_payout(&bare, header("x"), "m".into(), true, 1),
        Err(TemplateError::NoAccount(AccountRole::RefundPayable))
    );
}

#[test]
fn a_chart_without_the_role_names_it() {
    let mut accounts: Vec<_> = chart()
        .accounts()
        .filter(|a| a.role != AccountRole::InTransit)
        .cloned()
        .collect();
    accounts.sort_by(|a, b| a.code.cmp(&b.code));
    let chart = Chart::new(accounts).unwrap_or_else(|e| panic!("{e}"));
    let r = capture(&chart, header("p"), "P", 1, &[("1030401", 1)]);
    assert_eq!(r, Err(TemplateError::NoAccount(AccountRole::InTransit)));
    assert_eq!(
        TemplateError::NoAccount(AccountRole::InTransit).to_string(),
        "the chart has no in-transit account"
    );
}

/// No posting of the entry touches a treasury-payable (2103) account.
fn leaves_2103_alone(chart: &Chart, e: &NewEntry) {
    for p in &e.postings {
        assert_ne!(
            chart.role_of(&p.account),
            AccountRole::TreasuryPayable,
            "{:?} touches {}",
            e.kind,
            p.account
        );
    }
}

#[test]
fn write_off_of_a_line_shortfall_moves_it_from_transit_to_what_the_budget_owes() {
    let chart = chart();
    let s = Shortfall {
        out_of_transit_minor: 350,
        received_minor: 0,
    };
    let e =
        write_off(&chart, header("ex_1"), "write-off".into(), s).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        lines(&e),
        vec![
            c("1218.01", 350),
            d("1218.02", 350),
            d("5001.01", 350),
            c("2307.01", 350)
        ]
    );
    assert_eq!(e.kind, EntryKind::WriteOff);
    assert_balances_per_fund(&chart, &e);
    leaves_2103_alone(&chart, &e);
    accepted(&chart, &e, 0);
}

#[test]
fn write_off_of_a_file_takes_its_gross_out_of_transit_and_its_credit_to_the_bank() {
    let chart = chart();
    let s = Shortfall {
        out_of_transit_minor: 20_000,
        received_minor: 19_000,
    };
    assert_eq!(s.lost_minor(), 1_000);
    let e =
        write_off(&chart, header("ex_2"), "write-off".into(), s).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        lines(&e),
        vec![
            d("1002.01", 19_000),
            c("1218.01", 20_000),
            d("1218.02", 1_000),
            d("5001.01", 1_000),
            c("2307.01", 1_000)
        ]
    );
    assert_balances_per_fund(&chart, &e);
    leaves_2103_alone(&chart, &e);
    accepted(&chart, &e, 0);
}

#[test]
fn nothing_in_the_centres_favour_is_written_off() {
    let chart = chart();
    for (out, received) in [(0, 0), (-5, 0), (100, 100), (100, 150), (100, -1)] {
        let s = Shortfall {
            out_of_transit_minor: out,
            received_minor: received,
        };
        assert_eq!(
            write_off(&chart, header("ex"), "w".into(), s),
            Err(TemplateError::NotAShortfall {
                out_of_transit_minor: out,
                received_minor: received
            }),
            "{out} / {received}"
        );
    }
}

#[test]
fn a_paid_claim_moves_the_difference_from_transit_to_the_bank() {
    let chart = chart();
    let e = claim_paid(&chart, header("ex_3"), "claim paid".into(), 250)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lines(&e), vec![d("1002.01", 250), c("1218.01", 250)]);
    assert_eq!(e.kind, EntryKind::Settlement);
    assert_balances_per_fund(&chart, &e);
    leaves_2103_alone(&chart, &e);
    accepted(&chart, &e, 0);
    assert!(claim_paid(&chart, header("ex"), "c".into(), 0).is_err());
}

proptest::proptest! {
    /// Every shortfall drafts an entry that balances in each fund, never touches 2103, and
    /// passes every ledger rule (so no value goes collection → budget), whatever the budget
    /// fund owed before.
    #[test]
    fn every_shortfall_write_off_balances_per_fund_and_passes_the_rules(
        out in 1i64..10_000_000_000,
        received_share in 0u32..1000,
        owed in 0i64..1_000_000,
    ) {
        let chart = chart();
        let received = (out / 1000 * i64::from(received_share)).min(out - 1);
        let s = Shortfall { out_of_transit_minor: out, received_minor: received };
        let e = write_off(&chart, header("ex_p"), "w".into(), s)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_balances_per_fund(&chart, &e);
        leaves_2103_alone(&chart, &e);
        let ctx = RuleContext { interfund_receivable_minor: owed, ..RuleContext::default() };
        let ok = validate(&chart, &e, &ctx).unwrap_or_else(|err| panic!("{err}"));
        proptest::prop_assert_eq!(ok.interfund_delta_minor, out - received);
    }
}
