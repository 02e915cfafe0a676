//! A reconciliation run from the API: payments taken at the counter, the acquirer's file
//! imported, the run's summary and exceptions; a re-run gives the same summary.

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use onecard::auth::Role;
use onecard::db::schema::recon_outcomes;
use onecard::db::DbConn;
use serde_json::json;

use crate::support::{spawn_app, TestApp};
use crate::web_support::WebSession;

pub(crate) async fn pay(app: &TestApp, trace: &str, rrn: &str, today: NaiveDate) -> String {
    let body = json!({
        "channel": "bank_card", "department": "D03", "window": "W03",
        "lines": [{"fee_code": "ZR-BDC-01", "quantity": 1, "amount": "80.00"}],
        "amount": "80.00",
        "card": {"merchant_id": "898440379930001", "terminal_id": "11002001", "batch_no": "000001",
                 "trace_no": trace, "rrn": rrn, "auth_code": "890123",
                 "masked_pan": "622848******0123", "txn_time": format!("{today}T09:30:15+08:00")}
    });
    let mut res = app
        .client
        .post(app.url("/v1/payments"))
        .bearer_auth(app.token(Role::Clerk))
        .insert_header(("content-type", "application/json"))
        .insert_header(("Idempotency-Key", format!("recon-{trace}")))
        .send_body(body.to_string())
        .await
        .expect("request");
    let bytes = res.body().await.expect("body");
    let paid: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(res.status().as_u16(), 201, "{paid}");
    paid["id"].as_str().expect("id").to_string()
}

/// One POS detail line (ASCII only), 142 bytes.
fn detail(today: NaiveDate, trace: &str, rrn: &str, amount: i64, fee: i64) -> String {
    format!(
        "D{:02}{:02}093015110020010000010{trace:0>5}{rrn:0>12}890123622848******0123   01S001{amount:012}+{fee:010}+{:012}{:32}",
        today.month(),
        today.day(),
        amount - fee,
        ""
    )
}

/// A POS settlement file of `day` for merchant 898440379930001: (trace = RRN suffix, amount,
/// fee) per purchase line.
pub(crate) fn pos_file(day: NaiveDate, lines: &[(u32, i64, i64)]) -> Vec<u8> {
    let mut out = format!(
        "H898440379930001{}{:<40}156000001\r\n",
        day.format("%Y%m%d"),
        "TEST"
    );
    let (mut purchases, mut net) = (0, 0);
    for (n, amount, fee) in lines {
        out.push_str(&detail(
            day,
            &format!("{n:05}"),
            &format!("000000000{}", 450 + n),
            *amount,
            *fee,
        ));
        out.push_str("\r\n");
        purchases += amount;
        net += amount - fee;
    }
    out.push_str(&format!(
        "T{:08}{purchases:016}{:016}+{net:016}\r\n",
        lines.len(),
        0
    ));
    out.into_bytes()
}

/// The collection account's statement for `day` (GBK): one credit with the acquirer's
/// narrative for the file of `settled`.
pub(crate) fn statement(day: NaiveDate, settled: NaiveDate, credit: &str) -> Vec<u8> {
    statement_of("33050161234500001234", day, settled, credit)
}

/// [`statement`] of another account.
fn statement_of(account: &str, day: NaiveDate, settled: NaiveDate, credit: &str) -> Vec<u8> {
    let d = day.format("%Y%m%d");
    let text = format!(
        "账号,{account}\r\n户名,某市财政局非税收入汇缴结算户\r\n币种,人民币\r\n起止日期,{d},{d}\r\n\
         交易日期,交易时间,摘要,借方发生额,贷方发生额,余额,对方账号,对方户名,交易流水号,附言\r\n\
         {d},061502,POS清算,,{credit},{credit},898440379930001,某收单机构清算户,B{d}0001,POS清算 898440379930001 {}\r\n\
         借方合计,0,\r\n贷方合计,1,{credit}\r\n",
        settled.format("%Y%m%d")
    );
    encoding_rs::GBK.encode(&text).0.into_owned()
}

/// Today with two 80.00 payments, the POS file that settles them (fee 0.05 each) and the next
/// day's statement that credits its net 159.90: a day whose file is cash-matched.
pub(crate) async fn a_day_settled_and_credited(app: &TestApp) -> NaiveDate {
    app.load_demo().await;
    let today = onecard::clock::today();
    for n in [1, 2] {
        pay(
            app,
            &format!("0000{n:02}"),
            &format!("000000000{}", 450 + n),
            today,
        )
        .await;
    }
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=pos-settlement-fixed-width",
            pos_file(today, &[(1, 8000, 5), (2, 8000, 5)]),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let next = today.succ_opt().expect("date");
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=collection-account-statement-csv",
            statement(next, today, "159.90"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    today
}

/// Only the collection account's statements are reconciled: the same credit on a statement of
/// another account (the budget account, say) is not the collection account's money and is
/// neither a second payment of the file nor a line to account for.
#[actix_web::test]
async fn a_statement_of_another_account_is_not_read() {
    let app = spawn_app().await;
    let today = a_day_settled_and_credited(&app).await;
    let next = today.succ_opt().expect("date");
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=collection-account-statement-csv",
            statement_of("33050169999900009999", next, today, "159.90"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let run = run_of(&app, today).await;
    assert_eq!(run["summary"]["cash_matched"], 1, "{run}");
    assert_eq!(run["summary"]["cash_mismatch"], 0, "{run}");
    assert_eq!(run["summary"]["unexpected_statement_line"], 0, "{run}");
    assert_eq!(run["open_exceptions"], 0, "{run}");
    app.stop().await;
}

#[actix_web::test]
async fn a_paid_file_posts_its_settlement_entry_once() {
    let app = spawn_app().await;
    let today = a_day_settled_and_credited(&app).await;
    let before = app.balance("1002.01").await;
    let request = json!({"business_date": today.to_string()});
    let (status, _, run) = app
        .post(Role::Finance, "/v1/reconciliations", &request)
        .await;
    assert_eq!(status, 201, "{run}");
    assert_eq!(run["summary"]["matched"], 2, "{run}");
    assert_eq!(run["summary"]["cash_matched"], 1, "{run}");
    let posted = run["settlement_entries"]
        .as_array()
        .expect("posted")
        .clone();
    assert_eq!(posted.len(), 1, "{run}");
    // Revenue stays gross; the net reaches the collection account; the fee is budget expense.
    let (status, entry) = app
        .get(Role::Auditor, &format!("/v1/ledger/entries/{}", posted[0]))
        .await;
    assert_eq!(status, 200, "{entry}");
    assert_eq!(entry["kind"], "settlement");
    let after = app.balance("1002.01").await;
    assert_ne!(before, after);
    assert_eq!(app.balance("5001.01").await, Some(json!("0.10")));
    assert_eq!(app.balance("1218.01").await, Some(json!("0.00")));
    // Again: nothing more is posted.
    let (status, _, again) = app
        .post(Role::Finance, "/v1/reconciliations", &request)
        .await;
    assert_eq!(status, 201);
    assert!(again.get("settlement_entries").is_none(), "{again}");
    assert_eq!(app.balance("1002.01").await, after);
    let (_, report) = app
        .get(
            Role::Finance,
            &format!(
                "/v1/reconciliations/{}/report",
                again["id"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(report["netting"][0]["entry_seq"], posted[0]);
    app.stop().await;
}

#[actix_web::test]
async fn a_run_reports_each_disagreement_once_and_reruns_the_same() {
    let app = spawn_app().await;
    app.load_demo().await;
    let today = onecard::clock::today();
    let mut ids = Vec::new();
    for (trace, rrn) in [("01", "451"), ("02", "452"), ("03", "453"), ("04", "454")] {
        ids.push(
            pay(
                &app,
                &format!("0000{trace}"),
                &format!("000000000{rrn}"),
                today,
            )
            .await,
        );
    }
    // The acquirer settles 1 and 2 as taken, 3 at 81.00, not 4, and one sale we never took.
    let file = pos_file(
        today,
        &[(1, 8000, 5), (2, 8000, 5), (3, 8100, 5), (99, 1500, 1)],
    );
    let (status, imported) = app
        .upload(Role::Finance, "spec=pos-settlement-fixed-width", file)
        .await;
    assert_eq!(status, 201, "{imported}");

    let (status, _, run) = app
        .post(
            Role::Finance,
            "/v1/reconciliations",
            &json!({"business_date": today.to_string()}),
        )
        .await;
    assert_eq!(status, 201, "{run}");
    let summary = run["summary"].clone();
    assert_eq!(summary["matched"], 2, "{run}");
    assert_eq!(summary["amount_mismatch"], 1, "{run}");
    assert_eq!(summary["missing_in_settlement"], 1, "{run}");
    assert_eq!(summary["missing_in_ledger"], 1, "{run}");
    // No statement yet: the file awaits its credit (not an exception).
    assert_eq!(summary["awaiting_credit"], 1, "{run}");
    assert_eq!(summary["cash_missing"], 0, "{run}");
    let expected_exceptions: u64 = [
        "amount_mismatch",
        "missing_in_settlement",
        "missing_in_ledger",
        "duplicate_in_settlement",
        "void_settled",
        "cash_mismatch",
        "cash_missing",
        "unexpected_statement_line",
    ]
    .iter()
    .map(|k| summary[*k].as_u64().unwrap_or(0))
    .sum();
    let id = run["id"].as_str().expect("id").to_string();
    let (status, listed) = app
        .get(
            Role::Auditor,
            &format!("/v1/reconciliations/{id}/exceptions"),
        )
        .await;
    assert_eq!(status, 200);
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len() as u64, expected_exceptions, "{listed}");
    let first_exception = items[0]["id"].as_str().expect("id").to_string();
    let mismatch = items
        .iter()
        .find(|e| e["kind"] == "amount_mismatch")
        .expect("mismatch");
    assert_eq!(
        (
            mismatch["ledger_amount"].as_str(),
            mismatch["settlement_amount"].as_str()
        ),
        (Some("80.00"), Some("81.00"))
    );
    assert_eq!(mismatch["payment_id"], ids[2].as_str());
    let missing = items
        .iter()
        .find(|e| e["kind"] == "missing_in_settlement")
        .expect("missing");
    assert_eq!(missing["payment_id"], ids[3].as_str());
    assert!(items.iter().all(|e| e["status"] == "open"
        && e["suggested_action"]
            .as_str()
            .is_some_and(|a| !a.is_empty())));
    let (status, got) = app
        .get(Role::Supervisor, &format!("/v1/reconciliations/{id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(got["open_exceptions"].as_u64(), Some(expected_exceptions));

    // Again: the same summary; only the new run's outcomes are active.
    let (status, _, again) = app
        .post(
            Role::Finance,
            "/v1/reconciliations",
            &json!({"business_date": today.to_string()}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(again["summary"], summary);
    assert_ne!(again["id"], run["id"]);
    let mut conn = app.ctx.conn().expect("conn");
    let conn: &mut DbConn = &mut conn;
    let active_runs: Vec<String> = recon_outcomes::table
        .filter(recon_outcomes::active.eq(true))
        .select(recon_outcomes::run_id)
        .distinct()
        .load(conn)
        .expect("load");
    assert_eq!(
        active_runs,
        vec![again["id"].as_str().expect("id").to_string()]
    );

    // Work the new run's exceptions; the replaced run's cannot be worked any more.
    let new_id = again["id"].as_str().expect("id").to_string();
    let (_, listed) = app
        .get(
            Role::Finance,
            &format!("/v1/reconciliations/{new_id}/exceptions"),
        )
        .await;
    let items = listed["items"].as_array().expect("items").clone();
    let find = |kind: &str| -> String {
        items
            .iter()
            .find(|e| e["kind"] == kind)
            .and_then(|e| e["id"].as_str())
            .expect(kind)
            .to_string()
    };
    let resolve = |id: String, body: serde_json::Value| {
        let app = &app;
        async move {
            app.post(
                Role::Finance,
                &format!("/v1/exceptions/{id}/resolve"),
                &body,
            )
            .await
        }
    };
    let (status, _, body) = resolve(
        first_exception,
        json!({"action": "bank_claim", "note": "x"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("exception_not_open")),
        "{body}"
    );

    // The acquirer settled 81.00 for an 80.00 sale: in the centre's favour, never written off;
    // claimed instead, which no longer holds the day.
    let mismatch = find("amount_mismatch");
    let (status, _, body) = resolve(
        mismatch.clone(),
        json!({"action": "write_off", "note": "too much"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("write_off_not_allowed")),
        "{body}"
    );
    let (status, _, body) = resolve(
        mismatch.clone(),
        json!({"action": "accept_timing", "note": "tomorrow"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("not_a_timing_difference")),
        "{body}"
    );
    let (status, _, body) = resolve(
        mismatch.clone(),
        json!({"action": "bank_claim", "note": "acquirer settled 81.00 for an 80.00 sale"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["resolved_by"].as_str()),
        (Some("claimed"), Some("finance:test-finance"))
    );
    assert_eq!(body["amount"], "1.00", "{body}");
    let (status, _, body) = resolve(
        mismatch,
        json!({"action": "accept_timing", "note": "again"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("exception_not_open")),
        "{body}"
    );

    let missing = find("missing_in_settlement");
    let (status, _, body) = resolve(
        missing.clone(),
        json!({"action": "write_off", "note": "  "}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_request")),
        "{body}"
    );
    let (status, _, body) = resolve(
        missing.clone(),
        json!({"action": "write_off", "note": "card declined after capture"}),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("awaiting_approval")),
        "{body}"
    );
    let approve = format!("/v1/exceptions/{missing}/approve");
    let (status, _, body) = app.post(Role::Finance, &approve, &json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("same_person")),
        "{body}"
    );
    let (status, _, body) = app.post(Role::Supervisor, &approve, &json!({})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("resolved")),
        "{body}"
    );
    assert_eq!(body["approved_by"], "supervisor:test-supervisor");
    assert!(body["entry_seq"].is_i64(), "{body}");

    // The orphan line (15.00) is not the unsettled 80.00 payment: refused, amounts shown.
    let orphan = find("missing_in_ledger");
    let (status, _, body) = resolve(
        orphan.clone(),
        json!({"action": "manual_match", "note": "n"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_request")),
        "{body}"
    );
    let (status, _, body) = resolve(
        orphan.clone(),
        json!({"action": "manual_match", "note": "paid at window 5", "payment_id": "pay_nosuch"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("unknown_payment")),
        "{body}"
    );
    let (status, _, body) = resolve(
        orphan.clone(),
        json!({"action": "manual_match", "note": "paid at window 5", "payment_id": ids[3]}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("match_amounts_differ")),
        "{body}"
    );
    assert_eq!(
        (
            body["ledger_amount"].as_str(),
            body["other_amount"].as_str()
        ),
        (Some("80.00"), Some("15.00")),
        "{body}"
    );
    let (status, _, body) = resolve(
        orphan,
        json!({"action": "bank_claim", "note": "not ours: the acquirer takes it back"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "claimed");
    let worked = [
        "amount_mismatch",
        "missing_in_settlement",
        "missing_in_ledger",
    ];
    for rest in items
        .iter()
        .filter(|e| !worked.contains(&e["kind"].as_str().unwrap_or("")))
    {
        let id = rest["id"].as_str().expect("id").to_string();
        let (status, _, body) = resolve(
            id.clone(),
            json!({"action": "accept_timing", "note": "credit arrives tomorrow"}),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("carried_automatically")),
            "{body}"
        );
        let (status, _, body) = resolve(
            id,
            json!({"action": "bank_claim", "note": "no credit: chase the acquirer"}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    // The report: per channel, per department, netting per file, every exception.
    let (status, report) = app
        .get(
            Role::Auditor,
            &format!("/v1/reconciliations/{new_id}/report"),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    let card = report["by_channel"]
        .as_array()
        .expect("channels")
        .iter()
        .find(|g| g["key"] == "bank_card")
        .expect("bank_card")
        .clone();
    assert_eq!(
        (
            card["payments"].as_u64(),
            card["amount"].as_str(),
            card["matched"].as_u64()
        ),
        (Some(4), Some("320.00"), Some(2)),
        "{report}"
    );
    assert_eq!(report["by_department"][0]["key"], "D03");
    assert_eq!(report["netting"][0]["gross"], "256.00");
    assert_eq!(report["netting"][0]["fee"], "0.16");
    assert_eq!(report["netting"][0]["net"], "255.84");
    assert_eq!(
        report["exceptions"].as_array().map(Vec::len),
        Some(items.len())
    );
    let mut res = app
        .client
        .get(app.url(&format!("/v1/reconciliations/{new_id}/report?format=csv")))
        .bearer_auth(app.token(Role::Finance))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 200);
    assert!(res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv")));
    let text = String::from_utf8(res.body().await.expect("body").to_vec()).expect("utf8");
    assert!(
        text.contains("summary,") && text.contains("netting,") && text.contains("exception,"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("by_channel,bank_card,4,320.00,2,")),
        "{text}"
    );
    let (status, body) = app
        .get(
            Role::Finance,
            &format!("/v1/reconciliations/{new_id}/report?format=pdf"),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_request"))
    );

    let (_, state) = app
        .get(Role::Auditor, &format!("/v1/reconciliations/{new_id}"))
        .await;
    assert_eq!(state["open_exceptions"], 0, "{state}");

    // A re-run that finds the same things keeps the work done on them.
    let (status, _, third) = app
        .post(
            Role::Finance,
            "/v1/reconciliations",
            &json!({"business_date": today.to_string()}),
        )
        .await;
    assert_eq!(status, 201, "{third}");
    assert_eq!(third["open_exceptions"], 0, "{third}");
    let third_id = third["id"].as_str().expect("id");
    let (_, listed) = app
        .get(
            Role::Finance,
            &format!("/v1/reconciliations/{third_id}/exceptions"),
        )
        .await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(items.len()));
    let audited: i64 = onecard::db::schema::audit_log::table
        .filter(onecard::db::schema::audit_log::action.like("exception.%"))
        .count()
        .get_result(conn)
        .expect("audit");
    // amount_mismatch, missing_in_settlement, missing_in_ledger ×2 (the file's credit is
    // awaited, not an exception)
    assert!(audited >= 4, "{audited}");
    app.stop().await;
}

#[actix_web::test]
async fn bad_run_requests_are_clear() {
    let app = spawn_app().await;
    let (status, _, body) = app
        .post(
            Role::Finance,
            "/v1/reconciliations",
            &json!({"business_date": "2026-13-01"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_request")),
        "{body}"
    );
    let (status, _, body) = app
        .post(
            Role::Finance,
            "/v1/reconciliations",
            &json!({"date": "2026-11-01"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_request")),
        "{body}"
    );
    let (status, _) = app.get(Role::Finance, "/v1/reconciliations/rr_nope").await;
    assert_eq!(status, 404);
    let (status, _) = app
        .get(Role::Finance, "/v1/reconciliations/rr_nope/exceptions")
        .await;
    assert_eq!(status, 404);
    // An empty day reconciles to nothing.
    let (status, _, run) = app
        .post(
            Role::Finance,
            "/v1/reconciliations",
            &json!({"business_date": "2020-01-01"}),
        )
        .await;
    assert_eq!(status, 201, "{run}");
    assert_eq!(run["summary"]["matched"], 0);
    app.stop().await;
}

/// Runs the reconciliation of `date` through the API (201 expected).
pub(crate) async fn run_of(app: &TestApp, date: NaiveDate) -> serde_json::Value {
    let (status, _, run) = app
        .post(
            Role::Finance,
            "/v1/reconciliations",
            &json!({"business_date": date.to_string()}),
        )
        .await;
    assert_eq!(status, 201, "{run}");
    run
}

/// The CSV report of run `id`.
async fn report_text(app: &TestApp, id: &str) -> String {
    let mut res = app
        .client
        .get(app.url(&format!("/v1/reconciliations/{id}/report?format=csv")))
        .bearer_auth(app.token(Role::Finance))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 200);
    String::from_utf8(res.body().await.expect("body").to_vec()).expect("utf8")
}

/// DESIGN §5 "No credit is ever lost": a day reconciled before its credit arrives closes with
/// the file awaiting; the run of the day the credit is known (three days later) matches it and
/// posts the settlement entry dated that day; the closed day's seal never changes.
#[actix_web::test]
async fn a_late_credit_is_carried_forward_and_posted_on_the_open_day() {
    let app = spawn_app().await;
    app.load_demo().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
    let later = NaiveDate::from_ymd_opt(2026, 11, 27).expect("date");
    for n in [1u32, 2] {
        app.capture_on(
            day,
            "ZR-BDC-01",
            "80.00",
            &format!("0000{n:02}"),
            &format!("000000000{}", 450 + n),
        )
        .await;
    }
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=pos-settlement-fixed-width",
            pos_file(day, &[(1, 8000, 5), (2, 8000, 5)]),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let in_transit = app.balance("1218.01").await;
    assert_eq!(in_transit, Some(json!("160.00")));

    // The night of the 24th: no statement yet. The file awaits its credit; no exception.
    let run = run_of(&app, day).await;
    assert_eq!(run["summary"]["matched"], 2, "{run}");
    assert_eq!(run["summary"]["awaiting_credit"], 1, "{run}");
    assert_eq!(run["summary"]["cash_missing"], 0, "{run}");
    assert_eq!(run["open_exceptions"], 0, "{run}");
    let first = run["id"].as_str().expect("id").to_string();
    let (_, report) = app
        .get(
            Role::Finance,
            &format!("/v1/reconciliations/{first}/report"),
        )
        .await;
    let awaiting = report["awaiting_credit"]
        .as_array()
        .expect("awaiting")
        .clone();
    assert_eq!(awaiting.len(), 1, "{report}");
    assert_eq!(awaiting[0]["age_business_days"], 0);
    assert_eq!(awaiting[0]["net"], "159.90");
    assert_eq!(awaiting[0]["gross"], "160.00");
    assert!(report_text(&app, &first)
        .await
        .contains(",2026-11-24,0,159.90,160.00"));
    // The staff pages list it too: the reconciliation page and the daily report.
    let file_id = awaiting[0]["file_id"].as_str().expect("file").to_string();
    let mut finance = WebSession::signed_in(&app, Role::Finance).await;
    for path in ["/web/reconciliation", "/web/report"] {
        let page = finance.get(&format!("{path}?date={day}")).await;
        assert!(
            page.body.contains("待到账") && page.body.contains(&file_id),
            "{path}: {}",
            page.body
        );
    }

    // The day closes with the item awaiting.
    let (status, _, closed) = app
        .post(Role::Finance, &format!("/v1/days/{day}/close"), &json!({}))
        .await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(app.balance("1218.01").await, in_transit);

    // The 25th and 26th: still awaiting, aged and listed by each day's report.
    for (date, age) in [(25, 1), (26, 2)] {
        let date = NaiveDate::from_ymd_opt(2026, 11, date).expect("date");
        let run = run_of(&app, date).await;
        assert_eq!(run["summary"]["awaiting_credit"], 1, "{run}");
        let (_, report) = app
            .get(
                Role::Finance,
                &format!(
                    "/v1/reconciliations/{}/report",
                    run["id"].as_str().expect("id")
                ),
            )
            .await;
        assert_eq!(
            report["awaiting_credit"][0]["age_business_days"], age,
            "{report}"
        );
        assert_eq!(
            report["awaiting_credit"][0]["settlement_date"],
            "2026-11-24"
        );
    }

    // The credit is on the statement of the 27th: the run of the 27th matches and posts.
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=collection-account-statement-csv",
            statement(later, day, "159.90"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let run = run_of(&app, later).await;
    assert_eq!(run["summary"]["cash_matched"], 1, "{run}");
    assert_eq!(run["summary"]["awaiting_credit"], 0, "{run}");
    let posted = run["settlement_entries"]
        .as_array()
        .expect("posted")
        .clone();
    assert_eq!(posted.len(), 1, "{run}");
    let (status, entry) = app
        .get(Role::Auditor, &format!("/v1/ledger/entries/{}", posted[0]))
        .await;
    assert_eq!(status, 200, "{entry}");
    assert_eq!(entry["kind"], "settlement");
    assert_eq!(entry["business_date"], later.to_string(), "{entry}");
    assert_eq!(app.balance("1218.01").await, Some(json!("0.00")));

    // Nothing posted twice: the 28th and a re-run of the 27th see the file paid.
    let run = run_of(&app, later.succ_opt().expect("date")).await;
    assert_eq!(run["summary"]["cash_matched"], 0, "{run}");
    assert_eq!(run["summary"]["awaiting_credit"], 0, "{run}");
    assert!(run.get("settlement_entries").is_none(), "{run}");
    let run = run_of(&app, later).await;
    assert_eq!(run["summary"]["cash_matched"], 1, "{run}");
    assert!(run.get("settlement_entries").is_none(), "{run}");
    assert_eq!(app.balance("1218.01").await, Some(json!("0.00")));

    // The closed day is as it was sealed; its run still says what it found then.
    let (_, sealed) = app.get(Role::Auditor, &format!("/v1/days/{day}")).await;
    for k in ["seal", "last_entry_hash", "entries", "closed_at"] {
        assert_eq!(sealed[k], closed[k], "{k}: {sealed}");
    }
    assert!(
        app.seal_verifies(
            day,
            sealed["last_entry_hash"].as_str().expect("hash"),
            sealed["entries"].as_i64().expect("entries"),
            sealed["seal"].as_str().expect("seal"),
        )
        .await
    );
    let (_, first_run) = app
        .get(Role::Finance, &format!("/v1/reconciliations/{first}"))
        .await;
    assert_eq!(first_run["summary"]["awaiting_credit"], 1, "{first_run}");
    app.stop().await;
}

/// Past the credit horizon (5 business days) an unpaid file is `cash_missing` once, with a
/// bank claim as the suggested action; the later runs do not report it again.
#[actix_web::test]
async fn a_credit_past_the_horizon_is_cash_missing_once() {
    let app = spawn_app().await;
    app.load_demo().await;
    // Tuesday 10 November 2026.
    let day = NaiveDate::from_ymd_opt(2026, 11, 10).expect("date");
    app.capture_on(day, "ZR-BDC-01", "80.00", "000001", "000000000451")
        .await;
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=pos-settlement-fixed-width",
            pos_file(day, &[(1, 8000, 5)]),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let run = run_of(&app, day).await;
    assert_eq!(run["summary"]["awaiting_credit"], 1, "{run}");
    // Tuesday the 17th: five business days, still awaited.
    let run = run_of(&app, NaiveDate::from_ymd_opt(2026, 11, 17).expect("date")).await;
    assert_eq!(run["summary"]["awaiting_credit"], 1, "{run}");
    assert_eq!(run["open_exceptions"], 0, "{run}");
    // Wednesday the 18th: six, past the horizon.
    let run = run_of(&app, NaiveDate::from_ymd_opt(2026, 11, 18).expect("date")).await;
    assert_eq!(run["summary"]["awaiting_credit"], 0, "{run}");
    assert_eq!(run["summary"]["cash_missing"], 1, "{run}");
    let id = run["id"].as_str().expect("id");
    let (_, listed) = app
        .get(
            Role::Finance,
            &format!("/v1/reconciliations/{id}/exceptions"),
        )
        .await;
    let missing = &listed["items"][0];
    assert_eq!(missing["kind"], "cash_missing", "{listed}");
    let action = missing["suggested_action"].as_str().expect("action");
    assert!(
        action.contains("bank_claim") && !action.contains("accept_timing"),
        "{action}"
    );
    // The 19th: looked for still, reported by the 18th already.
    let run = run_of(&app, NaiveDate::from_ymd_opt(2026, 11, 19).expect("date")).await;
    assert_eq!(run["summary"]["cash_missing"], 0, "{run}");
    assert_eq!(run["summary"]["awaiting_credit"], 0, "{run}");
    assert_eq!(run["open_exceptions"], 0, "{run}");
    assert_eq!(app.balance("1218.01").await, Some(json!("80.00")));

    // Finance raises the bank claim: tracked (claimed), no longer holding the day.
    let missing_id = missing["id"].as_str().expect("id").to_string();
    let (status, _, claimed) = app
        .post(
            Role::Finance,
            &format!("/v1/exceptions/{missing_id}/resolve"),
            &json!({"action": "bank_claim", "note": "claimed from the acquirer"}),
        )
        .await;
    assert_eq!(status, 200, "{claimed}");
    assert_eq!(claimed["status"], "claimed", "{claimed}");
    // The bank pays on Friday the 20th: that run matches the credit, posts the settlement
    // dated the 20th, and settles the claim; nothing is left in transit.
    let paid_on = NaiveDate::from_ymd_opt(2026, 11, 20).expect("date");
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=collection-account-statement-csv",
            statement(paid_on, day, "79.95"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let run = run_of(&app, paid_on).await;
    assert_eq!(run["summary"]["cash_matched"], 1, "{run}");
    assert_eq!(
        run["settlement_entries"].as_array().map(Vec::len),
        Some(1),
        "{run}"
    );
    assert_eq!(app.balance("1218.01").await, Some(json!("0.00")));
    let (_, listed) = app
        .get(
            Role::Finance,
            &format!("/v1/reconciliations/{id}/exceptions"),
        )
        .await;
    let settled = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["id"] == missing_id.as_str())
        .expect("the claim is still listed");
    assert_eq!(settled["status"], "resolved", "{listed}");
    app.stop().await;
}
