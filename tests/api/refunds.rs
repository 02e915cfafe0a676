//! The refund lifecycle through the API and the pages, on both databases: a request bound to
//! its Idempotency-Key, rejection and cancellation while it waits (each by the right person
//! only), the amount a closed refund frees, the longest reason approvable, lists and paging.

use std::collections::BTreeSet;

use onecard::auth::Role;
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp};
use crate::web_support::{refund_key, WebSession};

/// A bank-card payment of ZR-BDC-01 (80.00 each) for `quantity`.
fn payment_body(quantity: i64) -> Value {
    let amount = onecard::money::format_minor(8_000 * quantity);
    json!({
        "channel": "bank_card", "department": "D03", "window": "W03",
        "lines": [{"fee_code": "ZR-BDC-01", "quantity": quantity}],
        "amount": amount,
        "card": {"merchant_id": "898440379930001", "terminal_id": "11002001", "batch_no": "000001",
                 "trace_no": "000012", "rrn": "000451234567", "auth_code": "890123",
                 "masked_pan": "622848******0123", "txn_time": "2026-11-24T09:30:15+08:00"}
    })
}

/// A demo app and a payment of `quantity` × 80.00 taken today; its id.
async fn paid(app: &TestApp, key: &str, quantity: i64) -> String {
    let (s, _, p) = app
        .post_keyed(Role::Clerk, "/v1/payments", key, &payment_body(quantity))
        .await;
    assert_eq!(s, 201, "{p}");
    p["id"].as_str().expect("id").to_string()
}

/// Asks for a refund with a key; status and body.
async fn ask(
    app: &TestApp,
    role: Role,
    payment: &str,
    key: &str,
    amount: &str,
    reason: &str,
) -> (u16, Value) {
    let (s, _, b) = app
        .post_keyed(
            role,
            &format!("/v1/payments/{payment}/refunds"),
            key,
            &json!({"amount": amount, "reason": reason}),
        )
        .await;
    (s, b)
}

/// POST with a role's token and an empty object; status and body.
async fn act(app: &TestApp, role: Role, path: &str, body: Value) -> (u16, Value) {
    let (s, _, b) = app.post(role, path, &body).await;
    (s, b)
}

/// POST with a raw token.
async fn act_as(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let mut res = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .insert_header(("content-type", "application/json"))
        .send_body(body.to_string())
        .await
        .expect("request");
    let bytes = res.body().await.expect("body");
    (
        res.status().as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A second token of `role` for another person.
async fn other_token(app: &TestApp, role: Role, name: &str) -> String {
    let ctx = app.ctx.clone();
    let name = name.to_string();
    actix_web::web::block(move || {
        let mut conn = ctx.conn().expect("conn");
        onecard::auth::create_token(&mut conn, &ctx.keys, role, &name, "test")
            .expect("token")
            .token
    })
    .await
    .expect("block")
}

fn code(b: &Value) -> Option<&str> {
    b["code"].as_str()
}

/// The refunds a payment's view lists: (id, status).
async fn listed(app: &TestApp, payment: &str) -> Vec<(String, String)> {
    let (s, p) = app
        .get(Role::Auditor, &format!("/v1/payments/{payment}"))
        .await;
    assert_eq!(s, 200, "{p}");
    p["refunds"]
        .as_array()
        .expect("the view lists its refunds")
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or("").to_string(),
                r["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Audit records of `action` on `refund:<id>`.
async fn audited(app: &TestApp, action: &str, id: &str) -> i64 {
    use diesel::prelude::*;
    use onecard::db::schema::audit_log;
    let ctx = app.ctx.clone();
    let (action, subject) = (action.to_string(), format!("refund:{id}"));
    actix_web::web::block(move || {
        let mut conn = ctx.conn().expect("conn");
        audit_log::table
            .filter(audit_log::action.eq(action))
            .filter(audit_log::subject.eq(subject))
            .count()
            .get_result::<i64>(&mut conn)
            .expect("count")
    })
    .await
    .expect("block")
}

#[actix_web::test]
async fn a_refund_request_is_answered_once_per_key() {
    let app = spawn_app().await;
    app.load_demo().await;
    let pay = paid(&app, "rk-p1", 2).await;
    let other = paid(&app, "rk-p2", 1).await;
    let path = format!("/v1/payments/{pay}/refunds");
    let body = json!({"amount": "30.00", "reason": "charged twice"});

    let (s, _, first) = app.post_keyed(Role::Clerk, &path, "rk-1", &body).await;
    assert_eq!(
        (s, first["status"].as_str()),
        (201, Some("requested")),
        "{first}"
    );
    // The same key and body, even with other spacing and key order: the same answer.
    let (s, _, again) = app.post_keyed(Role::Clerk, &path, "rk-1", &body).await;
    assert_eq!((s, &again), (201, &first));
    let mut res = app
        .client
        .post(app.url(&path))
        .bearer_auth(app.token(Role::Clerk))
        .insert_header(("content-type", "application/json"))
        .insert_header(("Idempotency-Key", "rk-1"))
        .send_body(r#"{ "reason": "charged twice",   "amount": "30.00" }"#)
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 201);
    let spaced: Value = serde_json::from_slice(&res.body().await.expect("body")).expect("json");
    assert_eq!(spaced, first);
    // The same key with another body, for another payment, or the key of a payment: 409.
    for (p, key, b) in [
        (
            &pay,
            "rk-1",
            json!({"amount": "30.01", "reason": "charged twice"}),
        ),
        (
            &pay,
            "rk-1",
            json!({"amount": "30.00", "reason": "charged twice!"}),
        ),
        (&other, "rk-1", body.clone()),
        (&pay, "rk-p2", body.clone()),
    ] {
        let (s, _, b) = app
            .post_keyed(Role::Clerk, &format!("/v1/payments/{p}/refunds"), key, &b)
            .await;
        assert_eq!((s, code(&b)), (409, Some("idempotency_key_reused")), "{b}");
    }
    // No key, or a key that is not one: refused as a payment's would be, and nothing made.
    let (s, _, b) = app.post(Role::Clerk, &path, &body).await;
    assert_eq!(
        (s, code(&b)),
        (422, Some("idempotency_key_required")),
        "{b}"
    );
    assert_eq!(b["field"], "Idempotency-Key");
    for bad in ["", "has space", "k".repeat(65).as_str(), "ключ"] {
        let (s, _, b) = app.post_keyed(Role::Clerk, &path, bad, &body).await;
        assert_eq!(s, 422, "'{bad}': {b}");
        assert!(
            matches!(
                code(&b),
                Some("invalid_idempotency_key" | "idempotency_key_required")
            ),
            "{b}"
        );
    }
    let (s, _, b) = app
        .post_keyed(Role::Clerk, &path, "k".repeat(64).as_str(), &body)
        .await;
    assert_eq!(s, 201, "a 64-character key is a key: {b}");
    // A card number in the reason is refused before anything is stored.
    let (s, _, b) = app
        .post_keyed(
            Role::Clerk,
            &path,
            "rk-card",
            &json!({"amount": "1.00", "reason": "card 6228480402564890018"}),
        )
        .await;
    assert_eq!((s, code(&b)), (422, Some("full_card_number")), "{b}");
    let refunds = listed(&app, &pay).await;
    assert_eq!(refunds.len(), 2, "one refund per key: {refunds:?}");
    assert_eq!(audited(&app, "refund.request", &refunds[0].0).await, 1);
    app.stop().await;
}

#[actix_web::test]
async fn concurrent_retries_make_one_refund_and_racing_requests_stay_within_the_payment() {
    let app = spawn_app().await;
    app.load_demo().await;
    let pay = paid(&app, "rc-p1", 1).await;
    let path = format!("/v1/payments/{pay}/refunds");
    let body = json!({"amount": "80.00", "reason": "wrong item"});
    let retries = (0..16).map(|_| app.post_keyed(Role::Clerk, &path, "rc-1", &body));
    let answers = futures_util::future::join_all(retries).await;
    let ids: BTreeSet<String> = answers
        .iter()
        .map(|(s, _, b)| {
            assert_eq!(*s, 201, "{b}");
            b["id"].as_str().unwrap_or("").to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(listed(&app, &pay).await.len(), 1);

    // Different keys for the whole amount at once: one wins, the others exceed.
    let pay2 = paid(&app, "rc-p2", 1).await;
    let path2 = format!("/v1/payments/{pay2}/refunds");
    let keys: Vec<String> = (0..8).map(|i| format!("rc-race-{i}")).collect();
    let racing = keys
        .iter()
        .map(|k| app.post_keyed(Role::Clerk, &path2, k, &body));
    let answers = futures_util::future::join_all(racing).await;
    let won = answers.iter().filter(|(s, _, _)| *s == 201).count();
    let exceeded = answers
        .iter()
        .filter(|(s, _, b)| *s == 409 && code(b) == Some("refund_exceeds_payment"))
        .count();
    assert_eq!((won, exceeded), (1, 7), "{answers:?}");
    app.stop().await;
}

#[actix_web::test]
async fn only_a_supervisor_rejects_and_only_the_requester_or_finance_cancels_a_waiting_refund() {
    let app = spawn_app().await;
    app.load_demo().await;
    let pay = paid(&app, "rr-p1", 3).await;
    let (_, r1) = ask(&app, Role::Clerk, &pay, "rr-1", "80.00", "duplicate").await;
    let r1 = r1["id"].as_str().expect("id").to_string();
    let reject = format!("/v1/refunds/{r1}/reject");

    for role in [Role::Clerk, Role::Finance, Role::Auditor] {
        let (s, b) = act(&app, role, &reject, json!({"note": "no"})).await;
        assert_eq!((s, code(&b)), (403, Some("forbidden")), "{role}: {b}");
    }
    for (body, field) in [
        (json!({}), "note"),
        (json!({"note": ""}), "note"),
        (json!({"note": "   "}), "note"),
        (json!({"note": "退".repeat(501)}), "note"),
        (json!({"note": "x", "extra": 1}), "extra"),
    ] {
        let (s, b) = act(&app, Role::Supervisor, &reject, body.clone()).await;
        assert_eq!((s, code(&b)), (422, Some("invalid_request")), "{body}: {b}");
        assert!(
            b["field"] == field || b["detail"].as_str().is_some_and(|d| d.contains(field)),
            "{b}"
        );
    }
    let note = "退".repeat(500);
    let (s, b) = act(&app, Role::Supervisor, &reject, json!({"note": note})).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("rejected")), "{b}");
    assert_eq!(b["note"], json!(note));
    assert!(b["closed_by"]
        .as_str()
        .is_some_and(|c| c.starts_with("supervisor:")));
    assert!(b["closed_at"].is_string());
    assert_eq!(audited(&app, "refund.reject", &r1).await, 1);
    // Once rejected, nothing moves it.
    for (role, action, body) in [
        (Role::Supervisor, "reject", json!({"note": "again"})),
        (Role::Clerk, "cancel", json!({})),
        (Role::Supervisor, "approve", json!({})),
    ] {
        let (s, b) = act(&app, role, &format!("/v1/refunds/{r1}/{action}"), body).await;
        assert_eq!(
            (s, code(&b)),
            (409, Some("refund_not_allowed")),
            "{action}: {b}"
        );
    }

    let (_, r2) = ask(&app, Role::Clerk, &pay, "rr-2", "80.00", "duplicate").await;
    let r2 = r2["id"].as_str().expect("id").to_string();
    let cancel = format!("/v1/refunds/{r2}/cancel");
    // Not the requester: another clerk, a supervisor; not a role that cancels: auditor.
    let clerk2 = other_token(&app, Role::Clerk, "second clerk").await;
    let (s, b) = act_as(&app, &clerk2, &cancel, json!({})).await;
    assert_eq!((s, code(&b)), (403, Some("not_requester")), "{b}");
    let (s, b) = act(&app, Role::Supervisor, &cancel, json!({})).await;
    assert_eq!((s, code(&b)), (403, Some("not_requester")), "{b}");
    let (s, b) = act(&app, Role::Auditor, &cancel, json!({})).await;
    assert_eq!((s, code(&b)), (403, Some("forbidden")), "{b}");
    let (s, b) = act(&app, Role::Clerk, &cancel, json!({})).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("cancelled")), "{b}");
    assert_eq!(b["note"], Value::Null);
    assert_eq!(audited(&app, "refund.cancel", &r2).await, 1);
    let (s, b) = act(&app, Role::Clerk, &cancel, json!({})).await;
    assert_eq!((s, code(&b)), (409, Some("refund_not_allowed")), "{b}");

    // Finance cancels anyone's; a supervisor cancels their own.
    let (_, r3) = ask(&app, Role::Clerk, &pay, "rr-3", "10.00", "typo").await;
    let (s, b) = act(
        &app,
        Role::Finance,
        &format!("/v1/refunds/{}/cancel", r3["id"].as_str().unwrap_or("")),
        json!({}),
    )
    .await;
    assert_eq!((s, b["status"].as_str()), (200, Some("cancelled")), "{b}");
    let (_, r4) = ask(&app, Role::Supervisor, &pay, "rr-4", "10.00", "typo").await;
    let (s, b) = act(
        &app,
        Role::Supervisor,
        &format!("/v1/refunds/{}/cancel", r4["id"].as_str().unwrap_or("")),
        json!({}),
    )
    .await;
    assert_eq!((s, b["status"].as_str()), (200, Some("cancelled")), "{b}");
    let (s, b) = act(
        &app,
        Role::Supervisor,
        "/v1/refunds/ref_nope/reject",
        json!({"note": "x"}),
    )
    .await;
    assert_eq!((s, code(&b)), (404, Some("not_found")), "{b}");
    let (s, b) = act(&app, Role::Clerk, "/v1/refunds/ref_nope/cancel", json!({})).await;
    assert_eq!((s, code(&b)), (404, Some("not_found")), "{b}");
    // The payment's view lists all four as they stand.
    let statuses: Vec<String> = listed(&app, &pay)
        .await
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(
        statuses,
        ["rejected", "cancelled", "cancelled", "cancelled"]
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_cancelled_or_rejected_refund_frees_its_amount_for_a_refund_and_a_void() {
    let app = spawn_app().await;
    app.load_demo().await;
    let pay = paid(&app, "rf-p1", 1).await;
    // A mistaken request for the whole payment blocks any other refund and the void.
    let (s, whole) = ask(&app, Role::Clerk, &pay, "rf-1", "80.00", "mistake").await;
    assert_eq!(s, 201, "{whole}");
    let (s, b) = ask(&app, Role::Clerk, &pay, "rf-2", "0.01", "more").await;
    assert_eq!((s, code(&b)), (409, Some("refund_exceeds_payment")), "{b}");
    let void = format!("/v1/payments/{pay}/void");
    let (s, b) = act(&app, Role::Clerk, &void, json!({})).await;
    assert_eq!((s, code(&b)), (409, Some("void_not_allowed")), "{b}");
    let whole_id = whole["id"].as_str().expect("id");
    let (s, b) = act(
        &app,
        Role::Clerk,
        &format!("/v1/refunds/{whole_id}/cancel"),
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // Its amount is free again: a new refund of all of it, then rejected, then the void.
    let (s, again) = ask(&app, Role::Clerk, &pay, "rf-3", "80.00", "the right one").await;
    assert_eq!(s, 201, "{again}");
    let again_id = again["id"].as_str().expect("id");
    let (s, b) = act(&app, Role::Clerk, &void, json!({})).await;
    assert_eq!((s, code(&b)), (409, Some("void_not_allowed")), "{b}");
    let (s, b) = act(
        &app,
        Role::Supervisor,
        &format!("/v1/refunds/{again_id}/reject"),
        json!({"note": "void it instead"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = act(&app, Role::Clerk, &void, json!({})).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("voided")), "{b}");
    // Nothing was posted for them: the capture and its reversal only.
    assert_eq!(app.balance("1218.01").await, Some(json!("0.00")));
    app.stop().await;
}

#[actix_web::test]
async fn every_accepted_reason_can_be_approved() {
    let app = spawn_app().await;
    app.load_demo().await;
    let pay = paid(&app, "rl-p1", 3).await;
    for (key, reason) in [("rl-501a", "a".repeat(501)), ("rl-501z", "退".repeat(501))] {
        let (s, b) = ask(&app, Role::Clerk, &pay, key, "1.00", &reason).await;
        assert_eq!((s, code(&b)), (422, Some("invalid_request")), "{b}");
        assert_eq!(b["field"], "reason", "{b}");
    }
    for (key, reason) in [("rl-500a", "a".repeat(500)), ("rl-500z", "退".repeat(500))] {
        let (s, r) = ask(&app, Role::Clerk, &pay, key, "40.00", &reason).await;
        assert_eq!(s, 201, "{r}");
        assert_eq!(r["reason"], json!(reason));
        let (s, a) = act(
            &app,
            Role::Supervisor,
            &format!("/v1/refunds/{}/approve", r["id"].as_str().unwrap_or("")),
            json!({}),
        )
        .await;
        assert_eq!((s, a["status"].as_str()), (200, Some("approved")), "{a}");
        let seq = a["entry_seq"].as_i64().expect("posted");
        let (_, entry) = app
            .get(Role::Auditor, &format!("/v1/ledger/entries/{seq}"))
            .await;
        let memo = entry["memo"].as_str().expect("memo");
        assert!(memo.chars().count() <= 500, "{}", memo.chars().count());
        assert!(memo.contains(r["id"].as_str().unwrap_or("?")), "{memo}");
    }
    app.stop().await;
}

#[actix_web::test]
async fn refunds_are_listed_by_status_and_request_day_and_paged() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let pay = paid(&app, &format!("rp-p{i}"), 2).await;
        for j in 0..2 {
            let (s, r) = ask(
                &app,
                Role::Clerk,
                &pay,
                &format!("rp-{i}-{j}"),
                "10.00",
                "x",
            )
            .await;
            assert_eq!(s, 201, "{r}");
            ids.push(r["id"].as_str().unwrap_or("").to_string());
        }
    }
    act(
        &app,
        Role::Supervisor,
        &format!("/v1/refunds/{}/reject", ids[0]),
        json!({"note": "n"}),
    )
    .await;
    act(
        &app,
        Role::Clerk,
        &format!("/v1/refunds/{}/cancel", ids[1]),
        json!({}),
    )
    .await;
    act(
        &app,
        Role::Supervisor,
        &format!("/v1/refunds/{}/approve", ids[2]),
        json!({}),
    )
    .await;
    let today = onecard::clock::today();
    let count = |b: &Value| b["items"].as_array().map_or(0, Vec::len);
    for (query, n) in [
        (String::new(), 6),
        ("status=requested".to_string(), 3),
        ("status=rejected".to_string(), 1),
        ("status=cancelled".to_string(), 1),
        ("status=approved".to_string(), 1),
        (format!("business_date={today}"), 6),
        (format!("business_date={today}&status=requested"), 3),
        ("business_date=2020-01-01".to_string(), 0),
    ] {
        for role in [Role::Clerk, Role::Finance, Role::Supervisor, Role::Auditor] {
            let (s, b) = app.get(role, &format!("/v1/refunds?{query}")).await;
            assert_eq!((s, count(&b)), (200, n), "{query}: {b}");
        }
    }
    // Pages of two, oldest request first, every refund once.
    let mut seen = Vec::new();
    let mut after = String::new();
    for _ in 0..5 {
        let (s, b) = app
            .get(Role::Auditor, &format!("/v1/refunds?limit=2&after={after}"))
            .await;
        assert_eq!(s, 200, "{b}");
        seen.extend(
            b["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|r| r["id"].as_str().unwrap_or("").to_string()),
        );
        match b["next"].as_str() {
            Some(n) => after = n.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, ids, "request order, no refund twice or missed");
    for (query, field) in [
        ("status=paid", "status"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("after=ref_nope", "after"),
        ("colour=red", "colour"),
    ] {
        let (s, b) = app
            .get(Role::Auditor, &format!("/v1/refunds?{query}"))
            .await;
        assert_eq!(
            (s, code(&b)),
            (422, Some("invalid_request")),
            "{query}: {b}"
        );
        assert!(
            b["field"] == field || b["detail"].as_str().is_some_and(|d| d.contains(field)),
            "{query}: {b}"
        );
    }
    let (s, one) = app
        .get(Role::Clerk, &format!("/v1/refunds/{}", ids[0]))
        .await;
    assert_eq!(
        (s, one["status"].as_str()),
        (200, Some("rejected")),
        "{one}"
    );
    assert_eq!(one["business_date"], json!(today.to_string()));
    assert_eq!(one["note"], "n");
    let (s, b) = app.get(Role::Clerk, "/v1/refunds/ref_nope").await;
    assert_eq!((s, code(&b)), (404, Some("not_found")));
    app.stop().await;
}

#[actix_web::test]
async fn the_pages_queue_reject_and_cancel_refunds_and_the_daily_report_counts_them() {
    let app = spawn_app().await;
    app.load_demo().await;
    let pay = paid(&app, "rw-p1", 2).await;
    let detail = format!("/web/payments/{pay}");
    let mut clerk = WebSession::signed_in(&app, Role::Clerk).await;
    let mut supervisor = WebSession::signed_in(&app, Role::Supervisor).await;
    let mut auditor = WebSession::signed_in(&app, Role::Auditor).await;
    // Two requests through the form; the same form sent twice makes one refund.
    for (amount, reason) in [("30.00", "重复收费"), ("20.00", "项目选错")] {
        let key = refund_key(&clerk.get(&detail).await.body);
        for _ in 0..2 {
            let done = clerk
                .post(
                    &detail,
                    &format!("{detail}/refunds"),
                    &[("amount", amount), ("reason", reason), ("key", &key)],
                )
                .await;
            assert_eq!(done.status, 303, "{}", done.body);
        }
    }
    let refunds = listed(&app, &pay).await;
    assert_eq!(refunds.len(), 2, "{refunds:?}");
    // The queue: both waiting; the supervisor may approve and reject, the clerk cancel its own,
    // the auditor only read.
    let queue = supervisor.get("/web/refunds").await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    for (id, _) in &refunds {
        assert!(queue.body.contains(&format!("approve-{id}")), "{id}");
        assert!(queue.body.contains(&format!("reject-{id}")), "{id}");
        assert!(!queue.body.contains(&format!("cancel-{id}")), "{id}");
    }
    let seen_by_clerk = clerk.get("/web/refunds").await;
    assert!(seen_by_clerk
        .body
        .contains(&format!("cancel-{}", refunds[0].0)));
    assert!(!seen_by_clerk.body.contains("reject-form"));
    let read_only = auditor.get("/web/refunds").await;
    assert_eq!(read_only.status, 200);
    assert!(read_only.body.contains(&refunds[0].0));
    for form in ["approve-form", "reject-form", "cancel-form"] {
        assert!(
            !read_only.body.contains(form),
            "an auditor only reads: {form}"
        );
    }
    // Reject from the queue, back to the queue; cancel from the payment's page, back there.
    let rejected = supervisor
        .post(
            "/web/refunds",
            &format!("/web/refunds/{}/reject", refunds[0].0),
            &[("note", "金额有误"), ("back", "queue")],
        )
        .await;
    assert_eq!(rejected.status, 303, "{}", rejected.body);
    assert_eq!(rejected.location.as_deref(), Some("/web/refunds"));
    let by_clerk = clerk
        .post(
            &detail,
            &format!("/web/refunds/{}/reject", refunds[1].0),
            &[("note", "x")],
        )
        .await;
    assert_eq!(by_clerk.status, 403, "{}", by_clerk.body);
    let cancelled = clerk
        .post(
            &detail,
            &format!("/web/refunds/{}/cancel", refunds[1].0),
            &[],
        )
        .await;
    assert_eq!(cancelled.status, 303, "{}", cancelled.body);
    assert_eq!(cancelled.location.as_deref(), Some(detail.as_str()));
    let page = clerk.get(&detail).await;
    assert!(
        page.body.contains("已驳回")
            && page.body.contains("已撤销")
            && page.body.contains("金额有误")
    );
    let queue = supervisor.get("/web/refunds").await;
    assert!(
        queue.body.contains("没有符合条件的退款申请"),
        "nothing waits"
    );
    let all = supervisor.get("/web/refunds?status=&date=").await;
    assert!(all.body.contains(&refunds[0].0) && all.body.contains(&refunds[1].0));
    // English too.
    supervisor.get("/web/lang?to=en&back=/web/refunds").await;
    let en = supervisor.get("/web/refunds?status=rejected&date=").await;
    assert!(
        en.body.contains("Rejected") && en.body.contains(&refunds[0].0),
        "{}",
        en.body
    );
    // The daily report: two requested (50.00), one rejected (30.00), one cancelled (20.00).
    let today = onecard::clock::today();
    let csv = supervisor
        .get(&format!("/web/report?date={today}&csv=refunds_of_day"))
        .await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    let text = String::from_utf8_lossy(&csv.bytes).to_string();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(
        rows,
        [
            "Requested,2,50.00",
            "Approved,0,0.00",
            "Rejected,1,30.00",
            "Cancelled,1,20.00"
        ],
        "{text}"
    );
    app.stop().await;
}
