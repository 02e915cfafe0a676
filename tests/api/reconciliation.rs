//! A reconciliation run from the API: payments taken at the counter, the acquirer's file
//! imported, the run's summary and exceptions; a re-run gives the same summary.

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use onecard::auth::Role;
use onecard::db::schema::recon_outcomes;
use onecard::db::DbConn;
use serde_json::json;

use crate::support::{spawn_app, TestApp};

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
fn statement(day: NaiveDate, settled: NaiveDate, credit: &str) -> Vec<u8> {
    let d = day.format("%Y%m%d");
    let text = format!(
        "账号,33050161234500001234\r\n户名,某市财政局非税收入汇缴结算户\r\n币种,人民币\r\n起止日期,{d},{d}\r\n\
         交易日期,交易时间,摘要,借方发生额,贷方发生额,余额,对方账号,对方户名,交易流水号,附言\r\n\
         {d},061502,POS清算,,{credit},{credit},898440379930001,某收单机构清算户,B{d}0001,POS清算 898440379930001 {}\r\n\
         借方合计,0,\r\n贷方合计,1,{credit}\r\n",
        settled.format("%Y%m%d")
    );
    encoding_rs::GBK.encode(&text).0.into_owned()
}

#[actix_web::test]
async fn a_paid_file_posts_its_settlement_entry_once() {
    let app = spawn_app().await;
    app.load_demo().await;
    let today = onecard::clock::today();
    for n in [1, 2] {
        pay(
            &app,
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

    let mismatch = find("amount_mismatch");
    let (status, _, body) = resolve(
        mismatch.clone(),
        json!({"action": "bank_claim", "note": "acquirer settled 81.00 for an 80.00 sale"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["resolved_by"].as_str()),
        (Some("resolved"), Some("finance:test-finance"))
    );
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
        orphan,
        json!({"action": "manual_match", "note": "paid at window 5", "payment_id": ids[3]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["matched_payment_id"], ids[3].as_str());
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
            id,
            json!({"action": "accept_timing", "note": "credit arrives tomorrow"}),
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
    assert!(audited >= 5, "{audited}");
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
