//! Issue 17 on both databases: a batch cancelled by finance or rejected by the treasury lets the
//! day be prepared again; a refund that makes a prepared batch stale cancels it and prepares the
//! day again without it; a refund of remitted revenue goes to the treasury (退库): nothing posts
//! until the treasury, having pulled the signed pain.001 request, acknowledges the return —
//! then the return and the payer's refund post, and 2103 is never debited for it.

use std::process::Command;

use base64::Engine;
use chrono::{NaiveDate, Utc};
use onecard::auth::Role;
use serde_json::{json, Value};

use diesel::prelude::*;
use onecard::db::schema::{audit_log, refunds};

use crate::support::{spawn_app, TestApp};

/// A refund's stored status.
fn refund_status(app: &TestApp, id: &str) -> String {
    let mut conn = app.ctx.conn().expect("conn");
    refunds::table
        .find(id)
        .select(refunds::status)
        .first(&mut conn)
        .expect("refund")
}

/// The audit actions recorded so far.
fn audit_actions(app: &TestApp) -> Vec<String> {
    let mut conn = app.ctx.conn().expect("conn");
    audit_log::table
        .select(audit_log::action)
        .load(&mut conn)
        .expect("audit")
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).expect("date")
}

async fn approve(app: &TestApp, id: &str) -> Value {
    app.approve_remittance(id).await
}

/// Each refund request's own Idempotency-Key.
static NEXT_KEY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A clerk asks for a refund, a supervisor approves it: (request, approval status, body).
async fn refund(app: &TestApp, payment: &str, amount: &str) -> (Value, u16, Value) {
    let (status, _, asked) = app
        .post_keyed(
            Role::Clerk,
            &format!("/v1/payments/{payment}/refunds"),
            &format!(
                "refund-{}",
                NEXT_KEY.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ),
            &json!({"amount": amount, "reason": "fee charged twice"}),
        )
        .await;
    assert_eq!(status, 201, "{asked}");
    let id = asked["id"].as_str().expect("refund id");
    let (status, _, body) = app
        .post(
            Role::Supervisor,
            &format!("/v1/refunds/{id}/approve"),
            &json!({}),
        )
        .await;
    (asked, status, body)
}

/// Every fund of the trial balance balances.
async fn balanced(app: &TestApp, when: &str) {
    let (status, tb) = app.get(Role::Auditor, "/v1/ledger/trial-balance").await;
    assert_eq!(status, 200, "{tb}");
    for fund in tb["funds"].as_array().expect("funds") {
        assert_eq!(
            fund["debit_total"], fund["credit_total"],
            "{when}: fund {} does not balance: {tb}",
            fund["fund"]
        );
    }
}

/// How many ledger entries there are (to see that nothing posted).
async fn entries(app: &TestApp) -> i64 {
    let (_, v) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    v["entries"].as_i64().unwrap_or(-1)
}

async fn ack_batch(app: &TestApp, id: &str, reference: &str, amount: &str) -> (u16, Value) {
    app.treasury(
        "POST",
        &format!("/v1/treasury/remittances/{id}/ack"),
        &json!({"treasury_reference": reference, "amount": amount}),
    )
    .await
}

#[actix_web::test]
async fn a_cancelled_or_rejected_batch_lets_the_day_be_prepared_again() {
    let app = spawn_app().await;
    app.load_demo().await;
    let d = day(24);
    app.capture_on(d, "SC-JL-01", "200.00", "000012", "000451234567")
        .await;
    app.close_worked(d).await;
    let (status, first) = app.prepare_remittance(d).await;
    assert_eq!(status, 201, "{first}");
    let first_id = first["id"].as_str().expect("id").to_string();

    // Only finance cancels; then it is cancelled, with who and why.
    let cancel = format!("/v1/remittances/{first_id}/cancel");
    let (status, _, body) = app.post(Role::Clerk, &cancel, &json!({})).await;
    assert_eq!(status, 403, "{body}");
    let (status, _, body) = app
        .post(Role::Finance, &cancel, &json!({"reason": "wrong day"}))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("cancelled")),
        "{body}"
    );
    assert_eq!(body["withdrawn_reason"], "wrong day", "{body}");
    // A cancelled batch has no file, and cannot be approved.
    let (status, _) = app
        .get(Role::Finance, &format!("/v1/remittances/{first_id}/file"))
        .await;
    assert_eq!(status, 404);

    // The day is prepared again under new ids.
    let (status, second) = app.prepare_remittance(d).await;
    assert_eq!(status, 201, "{second}");
    let second_id = second["id"].as_str().expect("id").to_string();
    assert_ne!(second_id, first_id);
    assert_ne!(second["message_id"], first["message_id"]);
    approve(&app, &second_id).await;
    // An approved batch is no longer finance's to cancel.
    let (status, _, body) = app
        .post(
            Role::Finance,
            &format!("/v1/remittances/{second_id}/cancel"),
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("remittance_not_prepared")),
        "{body}"
    );

    // The treasury rejects it: signed requests only, the treasury role only, with a reason.
    let reject = format!("/v1/treasury/remittances/{second_id}/reject");
    let (status, _, body) = app
        .post(Role::Treasury, &reject, &json!({"reason": "unsigned"}))
        .await;
    assert_eq!(status, 401, "{body}");
    let now = Utc::now().timestamp();
    let payload = json!({"reason": "x"}).to_string().into_bytes();
    let (status, _, _) = app
        .signed(Role::Finance, "POST", &reject, &payload, now, None)
        .await;
    assert_eq!(status, 403);
    let (status, body) = app.treasury("POST", &reject, &json!({"reason": " "})).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app
        .treasury(
            "POST",
            &reject,
            &json!({"reason": "subject 1030401 unknown here"}),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("rejected")),
        "{body}"
    );
    // A rejected batch cannot be acknowledged.
    let (status, body) = ack_batch(&app, &second_id, "GK1", "200.00").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("remittance_rejected")),
        "{body}"
    );
    // Prepared a third time, approved and acknowledged: the day owes nothing.
    let (status, third) = app.prepare_remittance(d).await;
    assert_eq!(status, 201, "{third}");
    assert_eq!(third["amount"], "200.00");
    let third_id = third["id"].as_str().expect("id").to_string();
    approve(&app, &third_id).await;
    let (status, body) = ack_batch(&app, &third_id, "GK2", "200.00").await;
    assert_eq!(status, 200, "{body}");
    // A rejected batch can no longer be rejected after an acknowledgement elsewhere, and an
    // acknowledged one never.
    let (status, body) = app
        .treasury(
            "POST",
            &format!("/v1/treasury/remittances/{third_id}/reject"),
            &json!({"reason": "late"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("already_acknowledged")),
        "{body}"
    );
    assert_eq!(app.balance("2103").await, Some(json!("0.00")));
    balanced(&app, "after the third batch").await;
    // The audit trail has the cancel and the reject.
    let actions = audit_actions(&app);
    assert!(
        actions.iter().any(|a| a == "remittance.cancel"),
        "{actions:?}"
    );
    assert!(
        actions.iter().any(|a| a == "remittance.reject"),
        "{actions:?}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_refund_cancels_the_stale_prepared_batch_and_the_day_is_prepared_without_it() {
    let app = spawn_app().await;
    app.load_demo().await;
    let d = day(24);
    app.capture_on(d, "SC-JL-01", "200.00", "000012", "000451234567")
        .await;
    let b = app
        .capture_on(d, "ZR-BDC-02", "550.00", "000013", "000451234568")
        .await;
    app.close_worked(d).await;
    let (status, stale) = app.prepare_remittance(d).await;
    assert_eq!(
        (status, stale["amount"].as_str()),
        (201, Some("750.00")),
        "{stale}"
    );
    let stale_id = stale["id"].as_str().expect("id").to_string();

    let (asked, status, body) = refund(&app, &b, "50.00").await;
    assert_eq!(asked["route"], "direct", "{asked}");
    assert_eq!(
        (status, body["status"].as_str(), body["route"].as_str()),
        (200, Some("approved"), Some("direct")),
        "{body}"
    );
    assert!(body["entry_seq"].is_i64(), "{body}");
    let refund_id = asked["id"].as_str().expect("id");

    let (_, old) = app
        .get(Role::Finance, &format!("/v1/remittances/{stale_id}"))
        .await;
    assert_eq!(old["status"], "cancelled", "{old}");
    assert!(
        old["withdrawn_reason"]
            .as_str()
            .is_some_and(|r| r.contains(refund_id)),
        "the reason names the refund: {old}"
    );
    let (_, list) = app.get(Role::Finance, "/v1/remittances").await;
    let live: Vec<&Value> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|r| r["status"] == "prepared")
        .collect();
    assert_eq!(live.len(), 1, "{list}");
    assert_eq!(
        live[0]["amount"], "700.00",
        "the new batch excludes the refund: {list}"
    );
    assert_eq!(live[0]["business_date"], d.to_string());
    balanced(&app, "after the direct refund").await;
    let id = live[0]["id"].as_str().expect("id").to_string();
    approve(&app, &id).await;
    let (status, body) = ack_batch(&app, &id, "GK1", "700.00").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.balance("2103").await, Some(json!("0.00")));
    app.stop().await;
}

/// Pulls a refund request's file twice: (bytes, Digest, signature) — the same both times.
async fn pull_file(app: &TestApp, id: &str) -> (Vec<u8>, String, String) {
    let path = format!("/v1/treasury/refund-requests/{id}/file");
    let now = Utc::now().timestamp();
    let (status, headers, first) = app
        .signed(Role::Treasury, "GET", &path, b"", now - 5, None)
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&first));
    let (status, _, second) = app
        .signed(Role::Treasury, "GET", &path, b"", now - 4, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(first, second, "byte-identical on every pull");
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    (first, h("Digest"), h("X-Onecard-Signature"))
}

#[actix_web::test]
async fn a_refund_after_remittance_waits_for_the_treasury_and_is_paid_from_its_return() {
    let app = spawn_app().await;
    app.load_demo().await;
    let d = day(24);
    let a = app
        .capture_on(d, "SC-JL-01", "200.00", "000012", "000451234567")
        .await;
    app.close_worked(d).await;
    let (_, batch) = app.prepare_remittance(d).await;
    let batch_id = batch["id"].as_str().expect("id").to_string();
    approve(&app, &batch_id).await;
    balanced(&app, "approved").await;

    // Approved batch: the refund goes to the treasury; nothing posts.
    let before = entries(&app).await;
    let (asked, status, body) = refund(&app, &a, "50.00").await;
    assert_eq!(asked["route"], "treasury", "{asked}");
    assert_eq!(
        (status, body["status"].as_str(), body["route"].as_str()),
        (200, Some("awaiting_treasury"), Some("treasury")),
        "{body}"
    );
    assert_eq!(entries(&app).await, before, "approval posts nothing");
    let actions = audit_actions(&app);
    assert!(actions.iter().any(|a| a == "refund.approve"), "{actions:?}");
    let refund_id = asked["id"].as_str().expect("id").to_string();
    // The money has not reached the treasury: nothing to pull yet.
    let (status, listed) = app
        .treasury("GET", "/v1/treasury/refund-requests", &json!({}))
        .await;
    assert_eq!(
        (status, listed["items"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{listed}"
    );
    // Other roles and unsigned calls are refused.
    let (status, _) = app
        .get(Role::Treasury, "/v1/treasury/refund-requests")
        .await;
    assert_eq!(status, 401);
    let now = Utc::now().timestamp();
    let (status, _, _) = app
        .signed(
            Role::Finance,
            "GET",
            "/v1/treasury/refund-requests",
            b"",
            now - 7,
            None,
        )
        .await;
    assert_eq!(status, 403);

    // The batch is acknowledged (the whole 200.00 left: 2103 is not debited for the refund).
    let (status, body) = ack_batch(&app, &batch_id, "GK20261125001", "200.00").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.balance("2103").await, Some(json!("0.00")));
    balanced(&app, "batch acknowledged").await;
    let (status, listed) = app
        .treasury("GET", "/v1/treasury/refund-requests", &json!({}))
        .await;
    assert_eq!(status, 200, "{listed}");
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{listed}");
    let req = &items[0];
    assert_eq!(req["refund_id"], refund_id.as_str());
    assert_eq!(req["payment_id"], a.as_str());
    assert_eq!(req["amount"], "50.00");
    assert!(req["revenue_subject"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    let req_id = req["id"].as_str().expect("id").to_string();
    // Paged with a cursor: nothing after it.
    let cursor = req["cursor"].as_str().expect("cursor");
    let (_, after) = app
        .treasury(
            "GET",
            &format!("/v1/treasury/refund-requests?after={cursor}"),
            &json!({}),
        )
        .await;
    assert_eq!(after["items"].as_array().map(Vec::len), Some(0), "{after}");

    // The file: XSD-valid pain.001, signed, byte-identical.
    let (bytes, digest, signature) = pull_file(&app, &req_id).await;
    let b64 = base64::engine::general_purpose::STANDARD;
    let sha = ring::digest::digest(&ring::digest::SHA256, &bytes);
    assert_eq!(digest, format!("sha-256={}", b64.encode(sha.as_ref())));
    let (_, key) = app.get(Role::Auditor, "/v1/signing-key").await;
    let key = b64
        .decode(key["public_key"].as_str().expect("key"))
        .expect("base64 key");
    let sig = b64
        .decode(signature.trim_start_matches("ed25519="))
        .expect("base64 signature");
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &key)
        .verify(&bytes, &sig)
        .expect("the signature verifies");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("pain.xml");
    std::fs::write(&file, &bytes).expect("write");
    let xsd = onecard::bankfiles::real_samples_dir().join("xsd/pain.001.001.10.xsd");
    let lint = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(&file)
        .output()
        .expect("xmllint runs");
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stderr)
    );
    let xml = String::from_utf8(bytes).expect("utf-8");
    assert!(xml.contains("50.00"), "{xml}");
    assert_eq!(entries(&app).await, before + 1, "pulling posts nothing");

    // Acknowledgement: the amount must agree; then the return and the payout post.
    let ack = format!("/v1/treasury/refund-requests/{req_id}/ack");
    let (status, body) = app
        .treasury(
            "POST",
            &ack,
            &json!({"treasury_reference": "TK1", "amount": "49.00"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("amount_mismatch")),
        "{body}"
    );
    let (status, body) = app
        .treasury(
            "POST",
            &ack,
            &json!({"treasury_reference": "TK1", "amount": "50.00"}),
        )
        .await;
    assert_eq!(
        (status, body["posted"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    assert_eq!(body["status"], "acknowledged");
    assert_eq!(entries(&app).await, before + 3, "the return and the payout");
    let (status, body) = app
        .treasury(
            "POST",
            &ack,
            &json!({"treasury_reference": "TK1", "amount": "50.00"}),
        )
        .await;
    assert_eq!(
        (status, body["posted"].as_bool()),
        (200, Some(false)),
        "{body}"
    );
    let (status, body) = app
        .treasury(
            "POST",
            &ack,
            &json!({"treasury_reference": "TK2", "amount": "50.00"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("already_acknowledged")),
        "{body}"
    );
    assert_eq!(entries(&app).await, before + 3, "replays post nothing");
    assert_eq!(refund_status(&app, &refund_id), "refunded");
    assert_eq!(app.balance("2103").await, Some(json!("0.00")));
    assert_eq!(app.balance("2307.02").await, Some(json!("0.00")));
    balanced(&app, "refunded").await;
    // Rejecting an acknowledged return is refused.
    let (status, body) = app
        .treasury(
            "POST",
            &format!("/v1/treasury/refund-requests/{req_id}/reject"),
            &json!({"reason": "late"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("already_acknowledged")),
        "{body}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_return_the_treasury_rejects_posts_nothing_and_the_payment_may_be_refunded_again() {
    let app = spawn_app().await;
    app.load_demo().await;
    let d = day(24);
    let a = app
        .capture_on(d, "SC-JL-01", "200.00", "000012", "000451234567")
        .await;
    app.close_worked(d).await;
    let (_, batch) = app.prepare_remittance(d).await;
    let batch_id = batch["id"].as_str().expect("id").to_string();
    approve(&app, &batch_id).await;
    let (status, body) = ack_batch(&app, &batch_id, "GK1", "200.00").await;
    assert_eq!(status, 200, "{body}");
    // Acknowledged batch: the request is offered at once.
    let (asked, status, body) = refund(&app, &a, "200.00").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("awaiting_treasury")),
        "{body}"
    );
    let (_, listed) = app
        .treasury("GET", "/v1/treasury/refund-requests", &json!({}))
        .await;
    let req_id = listed["items"][0]["id"]
        .as_str()
        .expect("offered")
        .to_string();
    let before = entries(&app).await;
    let reject = format!("/v1/treasury/refund-requests/{req_id}/reject");
    let (status, body) = app.treasury("POST", &reject, &json!({})).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app
        .treasury("POST", &reject, &json!({"reason": "account closed"}))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("rejected")),
        "{body}"
    );
    assert_eq!(entries(&app).await, before, "a rejection posts nothing");
    let (status, body) = app
        .treasury(
            "POST",
            &format!("/v1/treasury/refund-requests/{req_id}/ack"),
            &json!({"treasury_reference": "TK1", "amount": "200.00"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let refund_id = asked["id"].as_str().expect("id");
    assert_eq!(refund_status(&app, refund_id), "rejected");
    // The payment may be refunded again, in full.
    let (again, status, body) = refund(&app, &a, "200.00").await;
    assert_eq!(again["route"], "treasury", "{again}");
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("awaiting_treasury")),
        "{body}"
    );
    assert_eq!(app.balance("2103").await, Some(json!("0.00")));
    assert_eq!(app.balance("2307.02").await, Some(json!("0.00")));
    balanced(&app, "after the rejection").await;
    app.stop().await;
}
