//! A whole day from fixture files, on both databases: payments of 24 November 2026 at the
//! counter, the night's POS file, one-card file and collection-account statement imported, the
//! day reconciled, every exception worked, the day closed and its seal checked.

use chrono::NaiveDate;
use onecard::auth::Role;
use onecard::payments::{self, intake, Capture};
use serde_json::json;

use crate::support::{spawn_app, TestApp};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");

/// Captures a bank-card payment dated `day` through the same use case the API calls.
async fn capture_on(
    app: &TestApp,
    day: NaiveDate,
    fee: &str,
    amount: &str,
    trace: &str,
    rrn: &str,
) -> String {
    let body = json!({
        "channel": "bank_card", "department": "D04", "window": "W01",
        "lines": [{"fee_code": fee, "quantity": 1, "amount": amount}], "amount": amount,
        "card": {"merchant_id": "898440379930001", "terminal_id": "11002001", "batch_no": "000001",
                 "trace_no": trace, "rrn": rrn, "auth_code": "890123",
                 "masked_pan": "622848******0123", "txn_time": format!("{day}T09:30:15+08:00")}
    });
    let (value, request_hash) = intake::read_json(body.to_string().as_bytes()).expect("json");
    let request = intake::parse_value(value).expect("request");
    let versions = {
        let mut conn = app.ctx.conn().expect("conn");
        payments::versions_for(&mut conn, &request).expect("versions")
    };
    let lines = intake::price(&request, &versions, day).expect("priced");
    let answer = payments::capture(
        &app.ctx.writer,
        Capture {
            key: format!("e2e-{trace}"),
            request_hash,
            request,
            lines,
            business_date: day,
            payer_id_hmac: None,
            payer_id_masked: None,
            actor: "clerk:e2e".into(),
            series: app.ctx.config.receipt_series.clone(),
        },
    )
    .await
    .expect("captured");
    let paid: serde_json::Value = serde_json::from_str(&answer.body).expect("answer");
    paid["id"].as_str().expect("id").to_string()
}

#[actix_web::test]
async fn a_day_from_counter_to_seal() {
    let app = spawn_app().await;
    app.load_demo().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
    // The two POS sales the acquirer's file carries (trace 000012 and 000013).
    capture_on(&app, day, "SC-JL-01", "200.00", "000012", "000451234567").await;
    capture_on(&app, day, "ZR-BDC-02", "550.00", "000013", "000451234568").await;

    for (path, query) in [
        (
            "pos-settlement-fixed-width/ok/POS_898440379930001_20261124.txt",
            "spec=pos-settlement-fixed-width",
        ),
        (
            "onecard-settlement-csv/ok/YKT_310000000000021_20261124.csv",
            "spec=onecard-settlement-csv&name=YKT_310000000000021_20261124.csv",
        ),
        (
            "collection-account-statement-csv/ok/33050161234500001234_20261125_20261125.csv",
            "spec=collection-account-statement-csv",
        ),
    ] {
        let bytes = std::fs::read(format!("{FIXTURES}/{path}")).expect("fixture");
        let (status, body) = app.upload(Role::Finance, query, bytes).await;
        assert_eq!(status, 201, "{path}: {body}");
    }

    let (status, _, run) = app
        .post(
            Role::Finance,
            "/v1/reconciliations",
            &json!({"business_date": day.to_string()}),
        )
        .await;
    assert_eq!(status, 201, "{run}");
    assert_eq!(
        run["summary"]["matched"], 1,
        "the 200.00 sale matches: {run}"
    );
    let id = run["id"].as_str().expect("id").to_string();
    let (_, listed) = app
        .get(
            Role::Finance,
            &format!("/v1/reconciliations/{id}/exceptions?limit=1000"),
        )
        .await;
    let items = listed["items"].as_array().expect("items").clone();
    assert!(items.len() >= 3, "{listed}");

    // The day cannot close yet.
    let close = format!("/v1/days/{day}/close");
    let (status, _, body) = app.post(Role::Finance, &close, &json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("open_exceptions")),
        "{body}"
    );
    assert_eq!(
        body["open_exceptions"].as_array().map(Vec::len),
        Some(items.len().min(100))
    );

    // Work every exception: a write-off needs the supervisor; the rest finance settles.
    for (i, e) in items.iter().enumerate() {
        let ex = e["id"].as_str().expect("id");
        let action = match e["kind"].as_str() {
            Some("cash_mismatch" | "cash_missing") => "accept_timing",
            Some("missing_in_ledger") if i % 2 == 0 => "bank_claim",
            _ => "write_off",
        };
        let (status, _, body) = app
            .post(
                Role::Finance,
                &format!("/v1/exceptions/{ex}/resolve"),
                &json!({"action": action, "note": format!("e2e: {action}")}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        if action == "write_off" {
            let (status, _, body) = app
                .post(
                    Role::Supervisor,
                    &format!("/v1/exceptions/{ex}/approve"),
                    &json!({}),
                )
                .await;
            assert_eq!(
                (status, body["status"].as_str()),
                (200, Some("resolved")),
                "{body}"
            );
        }
    }

    let (status, _, sealed) = app.post(Role::Finance, &close, &json!({})).await;
    assert_eq!(status, 200, "{sealed}");
    assert_eq!(sealed["status"], "closed");
    assert!(
        app.seal_verifies(
            day,
            sealed["last_entry_hash"].as_str().expect("hash"),
            sealed["entries"].as_i64().expect("entries"),
            sealed["seal"].as_str().expect("seal"),
        )
        .await
    );
    // The closed day takes nothing more, and the chain still verifies.
    let (status, _, body) = app
        .post(
            Role::Finance,
            "/v1/reconciliations",
            &json!({"business_date": day.to_string()}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("day_closed")),
        "{body}"
    );
    let (status, verify) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(
        (status, verify["ok"].as_bool()),
        (200, Some(true)),
        "{verify}"
    );
    app.stop().await;
}
