//! Resolutions that move value (DESIGN §2, §5): a write-off is proposed by one person,
//! approved by another, and posts through its template (2103 untouched, each fund balanced);
//! a difference in the centre's favour is never written off; a manual match checks what it
//! names; a bank claim stops holding the day; a day no run covers does not close.

use chrono::{Duration, NaiveDate};
use onecard::auth::Role;
use serde_json::{json, Value};

use crate::reconciliation::{pay, pos_file};
use crate::support::{spawn_app, TestApp};

fn minor(v: Option<Value>) -> i64 {
    v.and_then(|v| v.as_str().map(str::to_string))
        .map(|s| onecard::money::parse_signed_amount(&s).expect("amount"))
        .unwrap_or(0)
}

/// Every account's balance, by code.
async fn balances(app: &TestApp) -> Vec<(String, i64)> {
    let (_, accounts) = app
        .get(Role::Auditor, "/v1/ledger/accounts?limit=1000")
        .await;
    accounts["items"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| {
            (
                a["code"].as_str().expect("code").to_string(),
                minor(Some(a["balance"].clone())),
            )
        })
        .collect()
}

fn of(balances: &[(String, i64)], code: &str) -> i64 {
    balances
        .iter()
        .find(|(c, _)| c == code)
        .map_or(0, |(_, b)| *b)
}

async fn resolve(app: &TestApp, role: Role, id: &str, body: Value) -> (u16, Value) {
    let (status, _, body) = app
        .post(role, &format!("/v1/exceptions/{id}/resolve"), &body)
        .await;
    (status, body)
}

async fn exceptions(app: &TestApp, run: &Value) -> Vec<Value> {
    let id = run["id"].as_str().expect("run id");
    let (_, listed) = app
        .get(
            Role::Finance,
            &format!("/v1/reconciliations/{id}/exceptions?limit=1000"),
        )
        .await;
    listed["items"].as_array().expect("items").clone()
}

fn find(items: &[Value], kind: &str) -> Value {
    items
        .iter()
        .find(|e| e["kind"] == kind)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} in {items:?}"))
}

/// Two 80.00 sales today; the acquirer settles the first and one 80.00 sale we never took.
async fn a_day_with_a_missing_payment(app: &TestApp, today: NaiveDate) -> (Vec<String>, Value) {
    app.load_demo().await;
    let mut ids = Vec::new();
    for n in [1, 2] {
        ids.push(
            pay(
                app,
                &format!("0000{n:02}"),
                &format!("000000000{}", 450 + n),
                today,
            )
            .await,
        );
    }
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=pos-settlement-fixed-width",
            pos_file(today, &[(1, 8000, 5), (99, 8000, 5)]),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let run = app.reconcile(today).await;
    (ids, run)
}

#[actix_web::test]
async fn a_write_off_posts_through_its_template_once_a_second_person_approves() {
    let app = spawn_app().await;
    let today = onecard::clock::today();
    let (_, run) = a_day_with_a_missing_payment(&app, today).await;
    let items = exceptions(&app, &run).await;
    let missing = find(&items, "missing_in_settlement");
    let id = missing["id"].as_str().expect("id");

    let (status, body) = resolve(
        &app,
        Role::Finance,
        id,
        json!({"action": "write_off", "note": "the card was declined after capture"}),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str(), body["amount"].as_str()),
        (200, Some("awaiting_approval"), Some("80.00")),
        "{body}"
    );
    let before = balances(&app).await;
    let approve = format!("/v1/exceptions/{id}/approve");
    let (status, _, body) = app.post(Role::Finance, &approve, &json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("same_person")),
        "{body}"
    );
    assert_eq!(
        balances(&app).await,
        before,
        "a refused approval posts nothing"
    );

    let (status, _, approved) = app.post(Role::Supervisor, &approve, &json!({})).await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "resolved");
    let seq = approved["entry_seq"].as_i64().expect("entry posted");
    let (status, entry) = app
        .get(Role::Auditor, &format!("/v1/ledger/entries/{seq}"))
        .await;
    assert_eq!(status, 200, "{entry}");
    assert_eq!(entry["kind"], "write_off");
    assert_eq!(entry["business_date"], today.to_string());

    // 1218.01 down by the shortfall; the budget owes it (1218.02 / 2307.01) as an expense;
    // 2103 untouched; each fund balances.
    let after = balances(&app).await;
    let delta = |code: &str| of(&after, code) - of(&before, code);
    assert_eq!(delta("1218.01"), -8000);
    assert_eq!(delta("1218.02"), 8000);
    assert_eq!(delta("5001.01"), 8000);
    assert_eq!(delta("2307.01"), 8000);
    assert_eq!(delta("1002.01"), 0);
    for (code, balance) in &after {
        if code.starts_with("2103") {
            assert_eq!(*balance, of(&before, code), "{code} is never touched");
        }
    }
    let (_, tb) = app.get(Role::Auditor, "/v1/ledger/trial-balance").await;
    for f in tb["funds"].as_array().expect("funds") {
        assert_eq!(f["debit_total"], f["credit_total"], "{f}");
    }

    // Approving again answers the same and posts nothing.
    let (_, chain) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    let (status, _, again) = app.post(Role::Supervisor, &approve, &json!({})).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["entry_seq"], approved["entry_seq"]);
    let (_, chain_again) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(chain_again["entries"], chain["entries"]);
    assert_eq!(chain_again["ok"], true);
    app.stop().await;
}

#[actix_web::test]
async fn the_centres_favour_is_never_written_off_and_timing_is_not_for_money() {
    let app = spawn_app().await;
    let today = onecard::clock::today();
    let (_, run) = a_day_with_a_missing_payment(&app, today).await;
    let items = exceptions(&app, &run).await;
    // The acquirer paid a sale we never took: money in, not lost.
    let orphan = find(&items, "missing_in_ledger");
    let (status, body) = resolve(
        &app,
        Role::Finance,
        orphan["id"].as_str().expect("id"),
        json!({"action": "write_off", "note": "make it go away"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("write_off_not_allowed")),
        "{body}"
    );
    // The file's credit is carried forward by the runs (awaited, no exception) and, once
    // past the horizon, is cash_missing: nobody accepts it away as timing.
    assert_eq!(run["summary"]["awaiting_credit"], 1, "{run}");
    let later = app.reconcile(today + chrono::Duration::days(10)).await;
    let later_items = exceptions(&app, &later).await;
    let cash = find(&later_items, "cash_missing");
    let (status, body) = resolve(
        &app,
        Role::Finance,
        cash["id"].as_str().expect("id"),
        json!({"action": "accept_timing", "note": "tomorrow"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("carried_automatically")),
        "{body}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_manual_match_checks_the_ids_and_shows_both_amounts() {
    let app = spawn_app().await;
    let today = onecard::clock::today();
    let (ids, run) = a_day_with_a_missing_payment(&app, today).await;
    let items = exceptions(&app, &run).await;
    let orphan = find(&items, "missing_in_ledger");
    let orphan_id = orphan["id"].as_str().expect("id");
    let line = orphan["settlement_record_id"].as_i64().expect("line");
    let missing = find(&items, "missing_in_settlement");

    for (body, code) in [
        (
            json!({"action": "manual_match", "note": "n", "payment_id": "pay_nosuch"}),
            "unknown_payment",
        ),
        (
            json!({"action": "manual_match", "note": "n", "payment_id": ids[1], "settlement_record_id": 999_999}),
            "unknown_settlement_record",
        ),
    ] {
        let (status, answer) = resolve(&app, Role::Finance, orphan_id, body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (422, Some(code)),
            "{answer}"
        );
    }
    // The first payment is matched already (the acquirer settled it).
    let (status, answer) = resolve(
        &app,
        Role::Finance,
        orphan_id,
        json!({"action": "manual_match", "note": "n", "payment_id": ids[0]}),
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("already_matched")),
        "{answer}"
    );
    // The unsettled payment is the line the acquirer settled under another trace.
    let (status, answer) = resolve(
        &app,
        Role::Finance,
        orphan_id,
        json!({"action": "manual_match", "note": "same sale, trace mistyped", "payment_id": ids[1]}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "resolved");
    assert_eq!(
        (
            answer["matched_payment_amount"].as_str(),
            answer["matched_settlement_amount"].as_str()
        ),
        (Some("80.00"), Some("80.00")),
        "{answer}"
    );
    // Its twin — the payment's own exception — may name the same pair, and nothing else.
    let (status, answer) = resolve(
        &app,
        Role::Finance,
        missing["id"].as_str().expect("id"),
        json!({"action": "manual_match", "note": "the same pair", "settlement_record_id": line}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["matched_payment_id"], ids[1].as_str());
    app.stop().await;
}

#[actix_web::test]
async fn a_day_closes_once_a_run_covers_it_and_a_claim_does_not_hold_it() {
    let app = spawn_app().await;
    app.load_demo().await;
    let day = onecard::clock::today() - Duration::days(1);
    app.capture_on(day, "SC-JL-01", "200.00", "000012", "000451234567")
        .await;
    let close = format!("/v1/days/{day}/close");
    let (status, _, body) = app.post(Role::Finance, &close, &json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("not_reconciled")),
        "{body}"
    );
    let run = app.reconcile(day).await;
    let (status, _, body) = app.post(Role::Finance, &close, &json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("open_exceptions")),
        "{body}"
    );
    let items = exceptions(&app, &run).await;
    let missing = find(&items, "missing_in_settlement");
    let (status, body) = resolve(
        &app,
        Role::Finance,
        missing["id"].as_str().expect("id"),
        json!({"action": "bank_claim", "note": "the acquirer owes the sale"}),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("claimed")),
        "{body}"
    );
    let (_, listed) = app
        .get(
            Role::Finance,
            &format!("/v1/reconciliations/{}", run["id"].as_str().expect("id")),
        )
        .await;
    assert_eq!(listed["open_exceptions"], 0, "{listed}");
    let (status, _, closed) = app.post(Role::Finance, &close, &json!({})).await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["status"], "closed");
    // Still listed, still claimed, after the close.
    let items = exceptions(&app, &run).await;
    assert_eq!(find(&items, "missing_in_settlement")["status"], "claimed");
    app.stop().await;
}
