//! Statement lines on both databases: an overlapping or re-sent statement stores only its new
//! lines and says so, and a run counts each line once; a withdrawn import is read by no run and
//! its bytes may come again, while one a run used stays; every line of the collection account is
//! accounted for — a remittance debit and a fee top-up are explained by the ledger, any other
//! debit is a supervision finding.

use chrono::NaiveDate;
use onecard::auth::Role;
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).expect("date")
}

/// One line: date, debit or credit (fen, positive), bank reference, narrative.
type Line<'a> = (NaiveDate, bool, i64, &'a str, &'a str);

fn yuan(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

/// The collection account's CSV statement (GBK) for `from`..`to`, the balance running from
/// `opening` (fen).
fn statement(from: NaiveDate, to: NaiveDate, opening: i64, lines: &[Line<'_>]) -> Vec<u8> {
    let mut text = format!(
        "账号,33050161234500001234\r\n户名,某市财政局非税收入汇缴结算户\r\n币种,人民币\r\n起止日期,{},{}\r\n\
         交易日期,交易时间,摘要,借方发生额,贷方发生额,余额,对方账号,对方户名,交易流水号,附言\r\n",
        from.format("%Y%m%d"),
        to.format("%Y%m%d")
    );
    let (mut balance, mut debits, mut credits) = (opening, (0, 0), (0, 0));
    for (date, debit, amount, bank_ref, narrative) in lines {
        let (d, c) = if *debit {
            balance -= amount;
            debits = (debits.0 + 1, debits.1 + amount);
            (yuan(*amount), String::new())
        } else {
            balance += amount;
            credits = (credits.0 + 1, credits.1 + amount);
            (String::new(), yuan(*amount))
        };
        text.push_str(&format!(
            "{},101500,{narrative},{d},{c},{},,,{bank_ref},{narrative}\r\n",
            date.format("%Y%m%d"),
            yuan(balance)
        ));
    }
    text.push_str(&format!(
        "借方合计,{},{}\r\n贷方合计,{},{}\r\n",
        debits.0,
        yuan(debits.1),
        credits.0,
        yuan(credits.1)
    ));
    encoding_rs::GBK.encode(&text).0.into_owned()
}

const SPEC: &str = "spec=collection-account-statement-csv";

async fn run(app: &TestApp, date: NaiveDate) -> Value {
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

/// The run's `unexpected_statement_line` exceptions: (bank amount in fen, suggested action).
async fn unexpected(app: &TestApp, run: &Value) -> Vec<(i64, String)> {
    let id = run["id"].as_str().expect("run id");
    let (status, page) = app
        .get(
            Role::Finance,
            &format!("/v1/reconciliations/{id}/exceptions?limit=100"),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["kind"] == "unexpected_statement_line")
        .map(|e| {
            (
                onecard::money::parse_signed_amount(
                    e["settlement_amount"].as_str().expect("amount"),
                )
                .expect("amount"),
                e["suggested_action"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

async fn withdraw(app: &TestApp, id: &str, reason: &str) -> (u16, Value) {
    let (status, _, body) = app
        .post(
            Role::Finance,
            &format!("/v1/settlement-files/{id}/withdraw"),
            &json!({"reason": reason}),
        )
        .await;
    (status, body)
}

#[actix_web::test]
async fn overlapping_statements_store_only_new_lines_and_withdrawal_frees_them() {
    let app = spawn_app().await;
    let (d24, d25) = (day(24), day(25));
    let first: [Line<'_>; 2] = [
        (d24, false, 10_000, "R1", "来账"),
        (d24, true, 3_000, "R2", "转账支出"),
    ];
    let a = statement(d24, d24, 50_000, &first);
    let mut both = first.to_vec();
    both.push((d25, false, 5_000, "R3", "来账二"));
    let b = statement(d24, d25, 50_000, &both);

    let (status, fa) = app.upload(Role::Finance, SPEC, a.clone()).await;
    assert_eq!(status, 201, "{fa}");
    assert_eq!(
        (
            fa["lines_new"].as_u64(),
            fa["lines_already_imported"].as_u64()
        ),
        (Some(2), Some(0)),
        "{fa}"
    );
    // The overlapping statement: only its third line is new.
    let (status, fb) = app.upload(Role::Finance, SPEC, b.clone()).await;
    assert_eq!(status, 201, "{fb}");
    assert_eq!(
        (
            fb["records"].as_u64(),
            fb["lines_new"].as_u64(),
            fb["lines_already_imported"].as_u64()
        ),
        (Some(1), Some(1), Some(2)),
        "{fb}"
    );
    assert_eq!(
        fb["totals"]["bookings"], 3,
        "the totals describe the file as sent: {fb}"
    );
    // The same bytes again: recognised as before.
    let (status, again) = app.upload(Role::Finance, SPEC, b.clone()).await;
    assert_eq!(
        (status, again["duplicate"].as_bool()),
        (200, Some(true)),
        "{again}"
    );
    assert_eq!(again["id"], fb["id"]);

    // The run of the 24th counts each of its two lines once: no line counted twice.
    let run24 = run(&app, d24).await;
    assert_eq!(run24["summary"]["unexpected_statement_line"], 2, "{run24}");
    let mut found = unexpected(&app, &run24).await;
    found.sort();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].0, -3_000);
    assert!(found[0].1.starts_with("SUPERVISION FINDING"), "{found:?}");
    assert_eq!(found[1].0, 10_000);
    let id24 = run24["id"].as_str().expect("id");
    let (status, report) = app
        .get(Role::Auditor, &format!("/v1/reconciliations/{id24}/report"))
        .await;
    assert_eq!(status, 200, "{report}");
    let findings = report["supervision_findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{report}");
    assert_eq!(findings[0]["settlement_minor"], -3_000);
    let mut res = app
        .client
        .get(app.url(&format!("/v1/reconciliations/{id24}/report?format=csv")))
        .bearer_auth(app.token(Role::Auditor))
        .send()
        .await
        .expect("csv");
    let csv = String::from_utf8(res.body().await.expect("body").to_vec()).expect("utf-8");
    assert!(csv.contains("supervision_finding,"), "{csv}");

    // The first statement was used by that run: it stays.
    let a_id = fa["id"].as_str().expect("id");
    let (status, body) = withdraw(&app, a_id, "wrong account").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("file_in_use")),
        "{body}"
    );
    // Finance says why; nobody else may.
    let b_id = fb["id"].as_str().expect("id");
    let (status, body) = withdraw(&app, b_id, "  ").await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("reason")),
        "{body}"
    );
    let (status, body) = withdraw(&app, "sf_000000000000000000000000", "x").await;
    assert_eq!(status, 404, "{body}");
    let (status, _, body) = app
        .post(
            Role::Supervisor,
            &format!("/v1/settlement-files/{b_id}/withdraw"),
            &json!({"reason": "x"}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    // The second one no run has used: withdrawn, audited, and shown so.
    let (status, body) = withdraw(&app, b_id, "sent twice by the bank").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["withdrawn"].as_bool(), body["reason"].as_str()),
        (Some(true), Some("sent twice by the bank")),
        "{body}"
    );
    assert!(
        body["withdrawn_at"].is_string() && body["withdrawn_by"].is_string(),
        "{body}"
    );
    let (status, got) = app
        .get(Role::Auditor, &format!("/v1/settlement-files/{b_id}"))
        .await;
    assert_eq!(
        (status, got["withdrawn"].as_bool()),
        (200, Some(true)),
        "{got}"
    );
    {
        use diesel::prelude::*;
        use onecard::db::schema::audit_log;
        let mut conn = app.ctx.conn().expect("conn");
        let audited: i64 = audit_log::table
            .filter(audit_log::action.eq("settlement_file.withdraw"))
            .filter(audit_log::subject.eq(format!("settlement_file:{b_id}")))
            .count()
            .get_result(&mut *conn)
            .expect("audit");
        assert_eq!(audited, 1);
    }
    // Nothing of it is read any more: the 25th has no line.
    let run25 = run(&app, d25).await;
    assert_eq!(run25["summary"]["unexpected_statement_line"], 0, "{run25}");
    // The same bytes again: a new import, whose third line is new again.
    let (status, fb2) = app.upload(Role::Finance, SPEC, b.clone()).await;
    assert_eq!(status, 201, "{fb2}");
    assert_ne!(fb2["id"], fb["id"]);
    assert_eq!(fb2["sha256"], fb["sha256"]);
    assert_eq!(
        (
            fb2["duplicate"].as_bool(),
            fb2["lines_new"].as_u64(),
            fb2["lines_already_imported"].as_u64()
        ),
        (Some(false), Some(1), Some(2)),
        "{fb2}"
    );
    let run25 = run(&app, d25).await;
    assert_eq!(run25["summary"]["unexpected_statement_line"], 1, "{run25}");
    // And the run of the 24th is unchanged by all this.
    let again24 = run(&app, d24).await;
    assert_eq!(again24["summary"], run24["summary"]);
    app.stop().await;
}

#[actix_web::test]
async fn a_remittance_and_a_top_up_are_explained_and_any_other_debit_is_a_finding() {
    let app = spawn_app().await;
    app.load_demo().await;
    let today = app.ctx.business_today();
    // A day remitted to the treasury: its acknowledgement posts the remittance, dated today.
    let d = day(24);
    app.capture_on(d, "SC-JL-01", "200.00", "000071", "000451234571")
        .await;
    app.reconcile_and_work(d).await;
    let (status, _, body) = app
        .post(Role::Finance, &format!("/v1/days/{d}/close"), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, batch) = app
        .post(
            Role::Finance,
            "/v1/remittances",
            &json!({"business_date": d.to_string()}),
        )
        .await;
    assert_eq!(status, 201, "{batch}");
    let id = batch["id"].as_str().expect("id");
    let amount = batch["amount"].as_str().expect("amount").to_string();
    app.approve_remittance(id).await;
    let (status, body) = app
        .treasury(
            "POST",
            &format!("/v1/treasury/remittances/{id}/ack"),
            &json!({"treasury_reference": "GK-LINES-0001", "amount": amount}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // An acquirer kept a fee of 1.50 (as a settlement books it: the budget fund now owes it)…
    let fee = json!({
        "business_date": today.to_string(), "kind": "adjustment", "memo": "收单手续费",
        "postings": [
            {"account": "1218.02", "side": "debit", "amount": "1.50"},
            {"account": "1218.01", "side": "credit", "amount": "1.50"},
            {"account": "5001.01", "side": "debit", "amount": "1.50"},
            {"account": "2307.01", "side": "credit", "amount": "1.50"}
        ]
    });
    let (status, _, body) = app.post(Role::Supervisor, "/v1/ledger/entries", &fee).await;
    assert_eq!(status, 201, "{body}");
    // …and the budget fund tops it up.
    let top_up = json!({
        "business_date": today.to_string(), "kind": "fee_top_up", "memo": "手续费补足",
        "postings": [
            {"account": "1002.01", "side": "debit", "amount": "1.50"},
            {"account": "1218.02", "side": "credit", "amount": "1.50"},
            {"account": "2307.01", "side": "debit", "amount": "1.50"},
            {"account": "1002.02", "side": "credit", "amount": "1.50"}
        ]
    });
    let (status, _, body) = app
        .post(Role::Supervisor, "/v1/ledger/entries", &top_up)
        .await;
    assert_eq!(status, 201, "{body}");
    // The bank's statement of today: the remittance, the top-up, and a debit nobody ordered.
    let remitted = onecard::money::parse_amount(&amount).expect("amount");
    let lines: [Line<'_>; 3] = [
        (today, true, remitted, "BK0001", "缴库 GK-LINES-0001"),
        (today, false, 150, "BK0002", "手续费补足"),
        (today, true, 8_800, "BK0003", "转账支出"),
    ];
    let (status, body) = app
        .upload(
            Role::Finance,
            SPEC,
            statement(today, today, 1_000_000, &lines),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let r = run(&app, today).await;
    let found = unexpected(&app, &r).await;
    let amounts: Vec<i64> = found.iter().map(|f| f.0).collect();
    assert!(
        amounts.contains(&-8_800),
        "the unordered debit is reported: {found:?}"
    );
    assert!(
        !amounts.contains(&-remitted),
        "the remittance is explained: {found:?}"
    );
    assert!(
        !amounts.contains(&150),
        "the top-up is explained: {found:?}"
    );
    let finding = found.iter().find(|f| f.0 == -8_800).expect("finding");
    // In English, without the Chinese term (坐支 is said in the Chinese sentence).
    assert!(
        finding.1.contains("spending of revenue before remittance"),
        "{finding:?}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn finance_withdraws_an_import_from_the_reconciliation_page_and_sees_findings() {
    use crate::web_support::WebSession;
    let app = spawn_app().await;
    let d24 = day(24);
    let page = format!("/web/reconciliation?date={d24}");
    let lines: [Line<'_>; 1] = [(d24, true, 4_200, "R9", "转账支出")];
    let (status, wrong) = app
        .upload(Role::Finance, SPEC, statement(d24, d24, 10_000, &lines))
        .await;
    assert_eq!(status, 201, "{wrong}");
    let id = wrong["id"].as_str().expect("id").to_string();
    let mut s = WebSession::signed_in(&app, Role::Finance).await;
    let shown = s.get(&page).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(
        shown.body.contains(&format!("id=\"withdraw-{id}\"")),
        "{}",
        shown.body
    );
    // Withdrawn from the page: gone from the date's files, kept on record.
    let done = s
        .post(
            &page,
            &format!("/web/settlement-files/{id}/withdraw"),
            &[("reason", "wrong statement"), ("date", &d24.to_string())],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let shown = s.get(&page).await;
    assert!(
        !shown.body.contains(&format!("withdraw-{id}")),
        "{}",
        shown.body
    );
    let (status, got) = app
        .get(Role::Auditor, &format!("/v1/settlement-files/{id}"))
        .await;
    assert_eq!(
        (status, got["reason"].as_str()),
        (200, Some("wrong statement")),
        "{got}"
    );
    // The right statement, then a run: the unexplained debit is listed as a finding.
    let (status, body) = app
        .upload(Role::Finance, SPEC, statement(d24, d24, 20_000, &lines))
        .await;
    assert_eq!(status, 201, "{body}");
    run(&app, d24).await;
    let shown = s.get(&page).await;
    assert!(shown.body.contains("id=\"t-findings\""), "{}", shown.body);
    assert!(shown.body.contains("42.00"), "{}", shown.body);
    app.stop().await;
}
