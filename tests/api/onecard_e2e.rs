//! Both card channels through one night, on both databases: one-card payments taken at terminal
//! `YKT000310021` (the operator's 12-character id) and bank-card payments, the day's POS file,
//! one-card file and collection-account statement built from what the counter actually took
//! (references, serials, amounts), imported through the API, and the day reconciled. Every
//! payment ends `matched`, every file `cash_matched`, no exception; each payment's status goes
//! captured → settled (its line matched) → reconciled (its file's credit found and the
//! settlement entry posted), and the list filters by it.

use chrono::NaiveDate;
use onecard::auth::Role;
use serde_json::{json, Value};

use crate::reconciliation::{pay, pos_file};
use crate::support::{spawn_app, TestApp};

/// The one-card operator's merchant number (in its file's name) and terminal.
const YKT_MERCHANT: &str = "310000000000021";
const YKT_TERMINAL: &str = "YKT000310021";
/// The bank-card acquirer's merchant number (the POS file's header).
const POS_MERCHANT: &str = "898440379930001";

/// A one-card payment as the counter took it.
struct OneCardPaid {
    id: String,
    reference: String,
    serial: String,
    amount_minor: i64,
    txn_time: String,
}

fn yuan(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

/// Takes a one-card payment of `units` m²·日 (ZJ-ZW-01, 3.50 each) at terminal YKT000310021
/// through `POST /v1/payments`.
async fn pay_one_card(app: &TestApp, n: u32, units: i64, day: NaiveDate) -> OneCardPaid {
    let serial = format!("{}{:012}", day.format("%Y%m%d"), 100 + n);
    let txn_time = format!("{day} 10:{n:02}:00");
    let body = json!({
        "channel": "one_card", "department": "D05", "window": "W01",
        "lines": [{"fee_code": "ZJ-ZW-01", "quantity": units}],
        "amount": yuan(350 * units),
        "card": {"merchant_id": YKT_MERCHANT, "terminal_id": YKT_TERMINAL, "serial": serial,
                 "masked_card": "3100********4521", "txn_time": format!("{day}T10:{n:02}:00+08:00")}
    });
    let mut res = app
        .client
        .post(app.url("/v1/payments"))
        .bearer_auth(app.token(Role::Clerk))
        .insert_header(("content-type", "application/json"))
        .insert_header(("Idempotency-Key", format!("ykt-{n}")))
        .send_body(body.to_string())
        .await
        .expect("request");
    let bytes = res.body().await.expect("body");
    let paid: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(res.status().as_u16(), 201, "{paid}");
    assert_eq!(paid["status"], "captured", "{paid}");
    assert_eq!(paid["card"]["terminal_id"], YKT_TERMINAL, "{paid}");
    OneCardPaid {
        id: paid["id"].as_str().expect("id").to_string(),
        reference: paid["reference"].as_str().expect("reference").to_string(),
        serial,
        amount_minor: 350 * units,
        txn_time,
    }
}

/// The operator's file of `day` (UTF-8 with BOM, CR LF): one 消费 row per payment, carrying its
/// reference as 商户订单号; `fee_minor` per row; the summary row last. `serials` replaces the
/// serial the counter sent where it is `Some` (a row only the reference can match).
fn one_card_file(day: NaiveDate, paid: &[&OneCardPaid], serials: &[Option<String>]) -> Vec<u8> {
    let mut out = String::from("\u{feff}清算日期,交易流水号,商户订单号,终端编号,卡号,交易时间,交易类型,交易金额,手续费,结算金额,原交易流水号\r\n");
    let (mut gross, mut fee) = (0, 0);
    for (i, p) in paid.iter().enumerate() {
        let serial = serials
            .get(i)
            .cloned()
            .flatten()
            .unwrap_or_else(|| p.serial.clone());
        let row_fee = fee_of(p.amount_minor);
        out.push_str(&format!(
            "{day},{serial},{},{YKT_TERMINAL},3100********4521,{},消费,{},{},{},\r\n",
            p.reference,
            p.txn_time,
            yuan(p.amount_minor),
            yuan(row_fee),
            yuan(p.amount_minor - row_fee)
        ));
        gross += p.amount_minor;
        fee += row_fee;
    }
    out.push_str(&format!(
        "合计,{},,,,,,{},{},{},\r\n",
        paid.len(),
        yuan(gross),
        yuan(fee),
        yuan(gross - fee)
    ));
    out.into_bytes()
}

/// The operator's fee: 0.05 %, at least one fen.
fn fee_of(amount_minor: i64) -> i64 {
    (amount_minor * 5 / 10_000).max(1)
}

/// The collection account's statement of `booked` (GBK): one credit per (summary, payer
/// account, payer name, narrative, amount), with a running balance from zero.
fn statement(booked: NaiveDate, credits: &[(&str, &str, &str, String, i64)]) -> Vec<u8> {
    let d = booked.format("%Y%m%d");
    let mut text = format!(
        "账号,33050161234500001234\r\n户名,某市财政局非税收入汇缴结算户\r\n币种,人民币\r\n起止日期,{d},{d}\r\n\
         交易日期,交易时间,摘要,借方发生额,贷方发生额,余额,对方账号,对方户名,交易流水号,附言\r\n"
    );
    let mut balance = 0;
    for (i, (summary, account, name, narrative, amount)) in credits.iter().enumerate() {
        balance += amount;
        text.push_str(&format!(
            "{d},06{i:02}00,{summary},,{},{},{account},{name},B{d}{i:04},{narrative}\r\n",
            yuan(*amount),
            yuan(balance)
        ));
    }
    text.push_str(&format!(
        "借方合计,0,\r\n贷方合计,{},{}\r\n",
        credits.len(),
        yuan(balance)
    ));
    encoding_rs::GBK.encode(&text).0.into_owned()
}

async fn status_of(app: &TestApp, id: &str) -> String {
    let (status, p) = app.get(Role::Auditor, &format!("/v1/payments/{id}")).await;
    assert_eq!(status, 200, "{p}");
    p["status"].as_str().unwrap_or_default().to_string()
}

/// The ids `GET /v1/payments?business_date=&status=` lists, sorted.
async fn listed(app: &TestApp, day: NaiveDate, status: &str) -> Vec<String> {
    let (code, page) = app
        .get(
            Role::Finance,
            &format!("/v1/payments?business_date={day}&status={status}&limit=1000"),
        )
        .await;
    assert_eq!(code, 200, "{page}");
    let mut ids: Vec<String> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| {
            assert_eq!(p["status"], status, "{p}");
            p["id"].as_str().expect("id").to_string()
        })
        .collect();
    ids.sort();
    ids
}

async fn reconcile(app: &TestApp, day: NaiveDate) -> Value {
    let (status, _, run) = app
        .post(
            Role::Finance,
            "/v1/reconciliations",
            &json!({"business_date": day.to_string()}),
        )
        .await;
    assert_eq!(status, 201, "{run}");
    run
}

#[actix_web::test]
async fn one_card_and_bank_card_payments_reconcile_end_to_end() {
    let app = spawn_app().await;
    app.load_demo().await;

    // The counter: three bank-card sales (80.00 each), three one-card payments at
    // YKT000310021, and one bank-card sale voided the same day.
    let first = pay(&app, "000001", "000000000451", onecard::clock::today()).await;
    let (_, p) = app
        .get(Role::Auditor, &format!("/v1/payments/{first}"))
        .await;
    let day: NaiveDate = p["business_date"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("business date");
    let mut bank = vec![first];
    for n in [2u32, 3] {
        bank.push(
            pay(
                &app,
                &format!("0000{n:02}"),
                &format!("000000000{}", 450 + n),
                day,
            )
            .await,
        );
    }
    let voided = pay(&app, "000009", "000000000459", day).await;
    let (status, _, body) = app
        .post(
            Role::Clerk,
            &format!("/v1/payments/{voided}/void"),
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("voided")),
        "{body}"
    );
    let ykt = [
        pay_one_card(&app, 1, 12, day).await,
        pay_one_card(&app, 2, 20, day).await,
        pay_one_card(&app, 3, 400, day).await,
    ];
    let mut taken: Vec<String> = bank
        .iter()
        .cloned()
        .chain(ykt.iter().map(|p| p.id.clone()))
        .collect();
    taken.sort();
    for id in &taken {
        assert_eq!(status_of(&app, id).await, "captured");
    }
    assert_eq!(listed(&app, day, "captured").await, taken);

    // The night's files, from what was taken. The third one-card row carries a serial the
    // counter never saw: only its reference (商户订单号) can match it.
    let pos = pos_file(day, &[(1, 8000, 5), (2, 8000, 5), (3, 8000, 5)]);
    let pos_net = 3 * (8000 - 5);
    let ykt_rows: Vec<&OneCardPaid> = ykt.iter().collect();
    let other_serial = format!("{}{:012}", day.format("%Y%m%d"), 999_999);
    let ykt_file = one_card_file(day, &ykt_rows, &[None, None, Some(other_serial)]);
    let ykt_net: i64 = ykt
        .iter()
        .map(|p| p.amount_minor - fee_of(p.amount_minor))
        .sum();
    let ymd = day.format("%Y%m%d");
    for (query, bytes) in [
        (
            format!("spec=pos-settlement-fixed-width&name=POS_{POS_MERCHANT}_{ymd}.txt"),
            pos,
        ),
        (
            format!("spec=onecard-settlement-csv&name=YKT_{YKT_MERCHANT}_{ymd}.csv"),
            ykt_file,
        ),
    ] {
        let (status, body) = app.upload(Role::Finance, &query, bytes).await;
        assert_eq!(status, 201, "{query}: {body}");
    }

    // First run, before the statement: every line matched, so every payment is settled; no
    // credit yet, so none is reconciled — and a settled payment can no longer be voided.
    let run = reconcile(&app, day).await;
    assert_eq!(
        run["summary"]["matched"], 7,
        "six sales and the void: {run}"
    );
    for id in &taken {
        assert_eq!(status_of(&app, id).await, "settled", "{id}");
    }
    assert_eq!(status_of(&app, &voided).await, "voided");
    assert_eq!(listed(&app, day, "settled").await, taken);
    assert!(listed(&app, day, "captured").await.is_empty());
    let (status, _, body) = app
        .post(
            Role::Clerk,
            &format!("/v1/payments/{}/void", bank[1]),
            &json!({}),
        )
        .await;
    assert_eq!(
        status, 409,
        "a settled payment is refunded, not voided: {body}"
    );

    // The collection account's statement of D+1: both files' credits.
    let next = day.succ_opt().expect("date");
    let booked = statement(
        next,
        &[
            (
                "POS清算",
                POS_MERCHANT,
                "某收单机构清算户",
                format!("POS清算 {POS_MERCHANT} {ymd}"),
                pos_net,
            ),
            (
                "一卡通结算",
                YKT_MERCHANT,
                "一卡通公司结算户",
                format!("一卡通结算 {YKT_MERCHANT} {ymd}"),
                ykt_net,
            ),
        ],
    );
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=collection-account-statement-csv",
            booked,
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // The run of D again: every payment matched, both files cash-matched, nothing to work.
    let run = reconcile(&app, day).await;
    let summary = &run["summary"];
    assert_eq!(summary["matched"], 7, "{run}");
    assert_eq!(summary["cash_matched"], 2, "{run}");
    for kind in [
        "amount_mismatch",
        "missing_in_settlement",
        "missing_in_ledger",
        "duplicate_in_settlement",
        "void_settled",
        "cash_mismatch",
        "cash_missing",
    ] {
        assert_eq!(summary[kind], 0, "{kind}: {run}");
    }
    assert_eq!(
        run["settlement_entries"].as_array().map(Vec::len),
        Some(2),
        "{run}"
    );
    let id = run["id"].as_str().expect("id");
    let (_, exceptions) = app
        .get(
            Role::Finance,
            &format!("/v1/reconciliations/{id}/exceptions"),
        )
        .await;
    assert_eq!(exceptions["items"], json!([]), "{exceptions}");
    assert_eq!(run["open_exceptions"], 0, "{run}");

    // Every payment reconciled; the void stays voided; nothing left in transit.
    for id in &taken {
        assert_eq!(status_of(&app, id).await, "reconciled", "{id}");
    }
    assert_eq!(status_of(&app, &voided).await, "voided");
    assert_eq!(listed(&app, day, "reconciled").await, taken);
    assert!(listed(&app, day, "settled").await.is_empty());
    assert_eq!(listed(&app, day, "voided").await, vec![voided.clone()]);
    let (code, all) = app
        .get(Role::Auditor, "/v1/payments?status=reconciled&limit=1000")
        .await;
    assert_eq!(code, 200, "{all}");
    assert_eq!(all["items"].as_array().map(Vec::len), Some(taken.len()));
    assert_eq!(app.balance("1218.01").await, Some(json!("0.00")));

    // Once more: the same result, and no status moves back.
    let again = reconcile(&app, day).await;
    assert_eq!(again["summary"], run["summary"], "{again}");
    assert!(again.get("settlement_entries").is_none(), "{again}");
    assert_eq!(listed(&app, day, "reconciled").await, taken);
    let (_, verify) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(verify["ok"], true, "{verify}");
    app.stop().await;
}

/// The published schema tells counter developers each channel's terminal length, with an
/// example of each card object.
#[actix_web::test]
async fn the_published_card_schemas_give_each_channels_terminal() {
    let app = spawn_app().await;
    let mut res = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("request");
    let doc: Value =
        serde_json::from_slice(&res.body().limit(16 * 1024 * 1024).await.expect("body"))
            .expect("json");
    let schemas = &doc["components"]["schemas"];
    let one = &schemas["OneCardInput"];
    assert_eq!(
        one["properties"]["terminal_id"]["pattern"], "^[A-Za-z0-9]{12}$",
        "{one}"
    );
    assert_eq!(one["example"]["terminal_id"], YKT_TERMINAL, "{one}");
    let bank = &schemas["BankCardInput"];
    assert_eq!(
        bank["properties"]["terminal_id"]["pattern"], "^[A-Za-z0-9]{8}$",
        "{bank}"
    );
    assert_eq!(bank["example"]["terminal_id"], "11002001", "{bank}");
    app.stop().await;
}
