use super::*;
use crate::ledger::Side;

fn chart() -> Chart {
    Chart::default_chart().unwrap_or_else(|e| panic!("default chart: {e}"))
}

fn req(code: &str, parent: &str) -> NewSubAccount {
    NewSubAccount {
        code: code.into(),
        name: "应缴财政款-测试收费收入".into(),
        name_en: Some("Payable to treasury: test fees".into()),
        parent: parent.into(),
    }
}

fn refused(chart: &Chart, r: &NewSubAccount) -> OpenError {
    match plan(chart, r) {
        Ok((a, _)) => panic!("{r:?} was accepted as {a:?}"),
        Err(e) => e,
    }
}

#[test]
fn a_2103_sub_account_takes_fund_kind_and_the_treasury_payable_role_from_its_parent() {
    let chart = chart();
    let (a, next) = plan(&chart, &req("2103.1030499", "2103")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.fund, Fund::Collection);
    assert_eq!(a.kind, AccountKind::Liability);
    assert_eq!(a.normal_side(), Side::Credit);
    assert_eq!(a.role, AccountRole::TreasuryPayable);
    assert_eq!(a.parent.as_deref(), Some("2103"));
    assert!(a.postable);
    // The new chart finds it for its revenue subject; the old one does not.
    assert!(chart.treasury_payable_for("1030499").is_none());
    assert_eq!(
        next.treasury_payable_for("1030499")
            .map(|x| x.code.as_str()),
        Some("2103.1030499")
    );
    assert_eq!(next.len(), chart.len() + 1);
}

#[test]
fn an_expense_sub_account_is_budget_debit_and_no_special_role() {
    let chart = chart();
    let mut r = req("5001.02", "5001");
    r.name_en = None;
    let (a, next) = plan(&chart, &r).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((a.fund, a.kind), (Fund::Budget, AccountKind::Expense));
    assert_eq!(a.normal_side(), Side::Debit);
    assert_eq!(a.role, AccountRole::Other);
    assert_eq!(
        a.name_en, a.name,
        "the English name defaults to the Chinese one"
    );
    // The bank-charge account the templates use is still the same one.
    assert_eq!(
        next.account_with_role(AccountRole::FeeExpense)
            .map(|x| x.code.as_str()),
        Some("5001.01")
    );
}

#[test]
fn only_parents_the_chart_marks_take_sub_accounts() {
    let chart = chart();
    for parent in ["1002", "1218", "2307", "1002B"] {
        let e = refused(&chart, &req(&format!("{parent}.99"), parent));
        assert!(
            matches!(&e, OpenError::ParentNotOpen { open, .. } if open == "2103, 5001"),
            "{parent}: {e}"
        );
    }
    // A postable account is no parent either.
    let e = refused(&chart, &req("2103.1030401.1", "2103.1030401"));
    assert!(matches!(e, OpenError::ParentNotOpen { .. }), "{e}");
    let e = refused(&chart, &req("9999.01", "9999"));
    assert!(
        matches!(e, OpenError::UnknownParent(ref p) if p == "9999"),
        "{e}"
    );
}

#[test]
fn the_code_must_be_the_parent_a_dot_and_one_level_of_letters_or_digits() {
    let chart = chart();
    for code in [
        "2103",
        "2103.",
        "21031030499",
        "2104.1030499",
        "5001.1030499",
        "2103.10304.99",
        "2103.10 99",
        "2103.１２",
        "2103.1030499-x",
        &format!("2103.{}", "9".repeat(28)),
    ] {
        let e = refused(&chart, &req(code, "2103"));
        assert!(
            matches!(e, OpenError::Invalid { field: "code", .. }),
            "{code}: {e}"
        );
    }
    assert!(plan(&chart, &req(&format!("2103.{}", "9".repeat(27)), "2103")).is_ok());
}

#[test]
fn an_existing_code_is_refused() {
    let chart = chart();
    let e = refused(&chart, &req("2103.1030401", "2103"));
    assert!(
        matches!(e, OpenError::Exists(ref c) if c == "2103.1030401"),
        "{e}"
    );
    let (_, next) = plan(&chart, &req("2103.1030499", "2103")).unwrap_or_else(|e| panic!("{e}"));
    let e = refused(&next, &req("2103.1030499", "2103"));
    assert!(matches!(e, OpenError::Exists(_)), "{e}");
}

#[test]
fn names_are_required_and_bounded() {
    let chart = chart();
    for (zh, en, field) in [
        ("", None, "name"),
        ("   ", None, "name"),
        (&"名".repeat(101)[..], None, "name"),
        ("名称", Some(""), "name_en"),
        ("名称\u{7}", None, "name"),
    ] {
        let mut r = req("2103.1030499", "2103");
        r.name = zh.to_string();
        r.name_en = en.map(str::to_string);
        let e = refused(&chart, &r);
        assert!(
            matches!(e, OpenError::Invalid { field: f, .. } if f == field),
            "{zh:?}/{en:?}: {e}"
        );
    }
}

#[test]
fn a_chart_file_rule_on_a_postable_or_unknown_account_is_refused() {
    let text = crate::ledger::chart::DEFAULT_CHART_JSON;
    let bad = text.replacen(
        "\"role\": \"collection_bank\", \"parent\": \"1002\"",
        "\"role\": \"collection_bank\", \"parent\": \"1002\", \"sub_accounts\": \"other\"",
        1,
    );
    assert_ne!(bad, text);
    assert!(Chart::from_json(&bad).is_err());
    // A rule that would put a collection-fund role under a budget parent.
    let bad = text.replacen(
        "\"sub_accounts\": \"other\"",
        "\"sub_accounts\": \"in_transit\"",
        1,
    );
    assert_ne!(bad, text);
    assert!(Chart::from_json(&bad).is_err());
}
