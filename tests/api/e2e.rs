//! A whole day from fixture files, on both databases: payments of 24 November 2026 at the
//! counter, the night's POS file, one-card file and collection-account statement imported, the
//! day reconciled, every exception worked, the day closed and its seal checked.

use chrono::NaiveDate;
use onecard::auth::Role;
use serde_json::json;

use crate::support::spawn_app;

#[actix_web::test]
async fn a_day_from_counter_to_seal() {
    let app = spawn_app().await;
    app.load_demo().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
    // The two POS sales the acquirer's file carries (trace 000012 and 000013).
    app.capture_night_sales(day).await;

    app.import_night_files().await;

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
        // A shortfall (the ledger expected more than arrived) is written off by two people;
        // a file's credit is claimed from the bank; the rest is claimed or timing.
        let minor = |k: &str| {
            e[k].as_str()
                .map(|a| onecard::money::parse_signed_amount(a).expect("amount"))
                .unwrap_or(0)
        };
        let shortfall = minor("ledger_amount") > minor("settlement_amount");
        let action = match e["kind"].as_str() {
            Some("cash_mismatch" | "cash_missing") => "bank_claim",
            Some("missing_in_ledger") if i % 2 == 0 => "bank_claim",
            Some("missing_in_ledger") => "accept_timing",
            _ if shortfall => "write_off",
            _ => "bank_claim",
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
