//! Counter payments as the counter system sees them, on both databases.

use onecard::auth::Role;
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp};

async fn with_demo(app: &TestApp) {
    app.load_demo().await;
}

fn bank_payment(amount: &str) -> Value {
    json!({
        "channel": "bank_card", "department": "D03", "window": "W03",
        "payer": {"name": "张三", "id_number": "11010519491231002X"},
        "lines": [{"fee_code": "ZR-BDC-01", "quantity": 1, "amount": amount}],
        "amount": amount,
        "card": {"merchant_id": "898440379930001", "terminal_id": "11002001", "batch_no": "000001",
                 "trace_no": "000012", "rrn": "000451234567", "auth_code": "890123",
                 "masked_pan": "622848******0123", "txn_time": "2026-11-24T09:30:15+08:00"}
    })
}

/// A bank-card payment with some fields replaced (JSON pointers; a missing key is added at the
/// top level).
fn patched(amount: &str, changes: &[(&str, Value)]) -> Value {
    let mut body = bank_payment(amount);
    for (pointer, value) in changes {
        match body.pointer_mut(pointer) {
            Some(slot) => *slot = value.clone(),
            None => body[pointer.trim_start_matches('/')] = value.clone(),
        }
    }
    body
}

async fn pay(app: &TestApp, key: Option<&str>, body: &Value) -> (u16, String, Value, String) {
    let mut req = app
        .client
        .post(app.url("/v1/payments"))
        .bearer_auth(app.token(Role::Clerk))
        .insert_header(("content-type", "application/json"));
    if let Some(k) = key {
        req = req.insert_header(("Idempotency-Key", k));
    }
    let mut res = req.send_body(body.to_string()).await.expect("request");
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = res.body().await.expect("body");
    let text = String::from_utf8(bytes.to_vec()).expect("utf8");
    (
        res.status().as_u16(),
        ct,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

#[actix_web::test]
async fn a_payment_is_captured_once_receipted_and_posted_gross() {
    let app = spawn_app().await;
    with_demo(&app).await;
    let body = bank_payment("80.00");
    let (s, _, p, raw) = pay(&app, Some("k-1"), &body).await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(p["status"], "captured");
    assert_eq!(p["amount"], "80.00");
    assert_eq!(p["business_date"], onecard::clock::today().to_string());
    assert_eq!(p["lines"][0]["fee_version"], 1);
    assert_eq!(p["lines"][0]["revenue_subject"], "1030414");
    assert_eq!(p["card"]["masked_pan"], "622848******0123");
    assert_eq!(p["payer"]["id_number_masked"], "110***********002X");
    assert_eq!(p["receipt_no"], "44030126/0000000001");
    assert!(p["reference"].as_str().is_some_and(|r| r.starts_with('P')));

    // The same key and body: the original answer, byte for byte; no second payment.
    let (s2, _, _, raw2) = pay(&app, Some("k-1"), &body).await;
    assert_eq!((s2, &raw2), (201, &raw));
    // Key order and whitespace do not make a different request.
    let reordered: Value =
        serde_json::from_str(&serde_json::to_string_pretty(&body).expect("json")).expect("json");
    assert_eq!(pay(&app, Some("k-1"), &reordered).await.0, 201);
    // The same key with another body: refused.
    let (s3, ct, b3, _) = pay(&app, Some("k-1"), &bank_payment("550.00")).await;
    assert!(ct.starts_with("application/problem+json"));
    assert_eq!(
        (s3, b3["code"].as_str()),
        (409, Some("idempotency_key_reused"))
    );

    let id = p["id"].as_str().expect("id");
    let (s, mut read) = app.get(Role::Finance, &format!("/v1/payments/{id}")).await;
    assert_eq!(s, 200);
    // The read lists the payment's refunds besides.
    let refunds = read.as_object_mut().and_then(|o| o.remove("refunds"));
    assert_eq!(refunds, Some(json!([])));
    assert_eq!(read, p, "reading it back gives what capture answered");

    assert_eq!(app.balance("1218.01").await, Some(json!("80.00")));
    assert_eq!(app.balance("2103.1030414").await, Some(json!("80.00")));
    let (_, v) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entries"], 2, "the demo appropriation and this capture");

    // The identity number is nowhere in clear: not in the payment, not in the audit trail.
    let ctx = app.ctx.clone();
    let leaked = actix_web::web::block(move || {
        use diesel::prelude::*;
        let mut conn = ctx.conn().expect("conn");
        let audit = onecard::audit::list(&mut conn, None, 0, 1000).expect("audit");
        let masked: Vec<Option<String>> = onecard::db::schema::payments::table
            .select(onecard::db::schema::payments::payer_id_masked)
            .load(&mut conn)
            .expect("payments");
        audit
            .iter()
            .any(|a| format!("{a:?}").contains("11010519491231002X"))
            || masked.iter().flatten().any(|m| m.contains("19491231"))
    })
    .await
    .expect("block");
    assert!(!leaked);
    app.stop().await;
}

#[actix_web::test]
async fn one_card_payments_carry_the_operator_serial() {
    let app = spawn_app().await;
    with_demo(&app).await;
    let body = json!({
        "channel": "one_card", "department": "D05", "window": "W01",
        "lines": [{"fee_code": "ZJ-ZW-01", "quantity": 12}],
        "amount": "42.00",
        "card": {"merchant_id": "898440379930002", "terminal_id": "YKT000310021", "serial": "20261124093015000001",
                 "masked_card": "3100********5678", "txn_time": "2026-11-24T09:30:15+08:00"}
    });
    let (s, _, p, _) = pay(&app, Some("oc-1"), &body).await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(p["lines"][0]["amount"], "42.00", "3.50 per m²·日 × 12");
    assert_eq!(p["card"]["serial"], "20261124093015000001");
    assert_eq!(p["payer"], Value::Null);
    app.stop().await;
}

#[actix_web::test]
async fn every_rule_of_intake_has_its_code() {
    let app = spawn_app().await;
    with_demo(&app).await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            patched("80.00", &[("/lines/0/fee_code", json!("NO-SUCH"))]),
            422,
            "unknown_fee_item",
        ),
        (bank_payment("79.99"), 422, "amount_mismatch"),
        (
            patched("80.00", &[("/amount", json!("160.00"))]),
            422,
            "amount_mismatch",
        ),
        (
            patched("80.00", &[("/card/masked_pan", json!("4111111111111111"))]),
            422,
            "full_card_number",
        ),
        (
            patched(
                "80.00",
                &[("/payer/name", json!("card 4111 1111 1111 1111"))],
            ),
            422,
            "full_card_number",
        ),
        (
            patched("80.00", &[("/lines/0/quantity", json!("one"))]),
            422,
            "invalid_request",
        ),
        (
            patched("80.00", &[("/tip", json!("1.00"))]),
            422,
            "invalid_request",
        ),
        (
            patched(
                "80.00",
                &[("/payer/id_number", json!("110105194912310021"))],
            ),
            422,
            "invalid_request",
        ),
        (
            patched("80.00", &[("/card/txn_time", json!("yesterday"))]),
            422,
            "invalid_request",
        ),
        (
            patched("80.00", &[("/lines", json!([]))]),
            422,
            "invalid_request",
        ),
        (
            patched("600.00", &[("/lines/0/fee_code", json!("SC-JL-01"))]),
            422,
            "amount_mismatch",
        ),
    ];
    for (i, (body, status, code)) in cases.into_iter().enumerate() {
        let (s, ct, b, _) = pay(&app, Some(&format!("bad-{i}")), &body).await;
        assert!(ct.starts_with("application/problem+json"), "case {i}");
        assert_eq!(
            (s, b["code"].as_str()),
            (status, Some(code)),
            "case {i}: {b}"
        );
    }
    // A full card number is refused and goes nowhere: not into the audit trail or any answer.
    let (_, _, b, raw) = pay(&app, Some("pan"), &{
        let mut b = bank_payment("80.00");
        b["window"] = json!("4111111111111111");
        b
    })
    .await;
    assert_eq!(b["field"], "window");
    assert!(!raw.contains("4111111111111111"));

    let (s, _, b, _) = pay(&app, None, &bank_payment("80.00")).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (422, Some("idempotency_key_required"))
    );
    let (s, _, b, _) = pay(&app, Some("has space"), &bank_payment("80.00")).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (422, Some("invalid_idempotency_key"))
    );
    let long = "k".repeat(65);
    let (s, _, _, _) = pay(&app, Some(&long), &bank_payment("80.00")).await;
    assert_eq!(s, 422);
    for role in [
        Role::Finance,
        Role::Supervisor,
        Role::Auditor,
        Role::Treasury,
        Role::Admin,
    ] {
        let mut res = app
            .client
            .post(app.url("/v1/payments"))
            .bearer_auth(app.token(role))
            .insert_header(("Idempotency-Key", "r"))
            .insert_header(("content-type", "application/json"))
            .send_body(bank_payment("80.00").to_string())
            .await
            .expect("request");
        assert_eq!(res.status().as_u16(), 403, "{role} takes no payments");
        let _ = res.body().await;
    }

    // A closed business day takes no payment.
    {
        use diesel::connection::SimpleConnection;
        let mut conn = app.ctx.conn().expect("conn");
        conn.batch_execute(&format!(
            "INSERT INTO business_days (business_date, status) VALUES ('{}', 'closed')",
            onecard::clock::today()
        ))
        .expect("close");
    }
    let (s, _, b, _) = pay(&app, Some("late"), &bank_payment("80.00")).await;
    assert_eq!((s, b["code"].as_str()), (422, Some("day_closed")), "{b}");

    // Nothing refused left a trace: no payment, no receipt number used, only the demo entry.
    let (_, v) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(v["entries"], 1, "{v}");
    let ctx = app.ctx.clone();
    let next: i64 = actix_web::web::block(move || {
        use diesel::prelude::*;
        let mut conn = ctx.conn().expect("conn");
        onecard::db::schema::receipt_series::table
            .select(onecard::db::schema::receipt_series::next_number)
            .first(&mut conn)
            .expect("series")
    })
    .await
    .expect("block");
    assert_eq!(
        next, 1,
        "no receipt number was consumed by a refused payment"
    );
    app.stop().await;
}

#[actix_web::test]
async fn forty_concurrent_retries_make_one_payment_and_receipts_have_no_gaps() {
    let app = spawn_app().await;
    with_demo(&app).await;
    let body = bank_payment("80.00");
    let answers =
        futures_util::future::join_all((0..40).map(|_| pay(&app, Some("same-key"), &body))).await;
    let first = &answers[0].3;
    for (s, _, _, raw) in &answers {
        assert_eq!(*s, 201);
        assert_eq!(raw, first, "every retry gets the same answer");
    }
    // 30 different payments at once: numbers 2..=31, no gap, no duplicate.
    let answers = futures_util::future::join_all((0..30).map(|i| {
        let body = body.clone();
        let app = &app;
        async move { pay(app, Some(&format!("distinct-{i}")), &body).await }
    }))
    .await;
    let mut numbers: Vec<String> = answers
        .iter()
        .map(|(s, _, p, _)| {
            assert_eq!(*s, 201, "{p}");
            p["receipt"]["number"].as_str().unwrap_or("").to_string()
        })
        .collect();
    numbers.sort();
    let expected: Vec<String> = (2..=31).map(|n| format!("{n:010}")).collect();
    assert_eq!(numbers, expected);
    let (_, v) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(v["entries"], 32, "demo entry + 31 captures: {v}");
    let transit = app.balance("1218.01").await;
    assert_eq!(transit, Some(json!("2480.00")), "31 × 80.00");
    app.stop().await;
}

#[actix_web::test]
async fn a_void_reverses_the_capture_and_red_reverses_the_receipt() {
    let app = spawn_app().await;
    with_demo(&app).await;
    let (_, _, first, _) = pay(&app, Some("v-1"), &bank_payment("80.00")).await;
    let mut second_body = bank_payment("550.00");
    second_body["lines"][0]["fee_code"] = json!("ZR-BDC-02");
    let (_, _, second, _) = pay(&app, Some("v-2"), &second_body).await;
    let first_id = first["id"].as_str().expect("id").to_string();
    let second_id = second["id"].as_str().expect("id").to_string();

    let (s, _, b) = app
        .post(
            Role::Finance,
            &format!("/v1/payments/{first_id}/void"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 403, "finance does not void: {b}");
    let (s, _, voided) = app
        .post(
            Role::Clerk,
            &format!("/v1/payments/{first_id}/void"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{voided}");
    assert_eq!(voided["status"], "voided");
    assert_eq!(voided["receipt"]["status"], "red_reversed");
    assert_eq!(
        voided["receipt_no"], first["receipt_no"],
        "the receipt keeps its number"
    );
    let (s, _, again) = app
        .post(
            Role::Clerk,
            &format!("/v1/payments/{first_id}/void"),
            &json!({}),
        )
        .await;
    assert_eq!((s, again["code"].as_str()), (409, Some("void_not_allowed")));
    let (s, _, missing) = app
        .post(Role::Clerk, "/v1/payments/pay_nope/void", &json!({}))
        .await;
    assert_eq!((s, missing["code"].as_str()), (404, Some("not_found")));

    // A payment of an earlier business day is refunded, not voided. (Backdated behind the
    // service: the database refuses to change a payment's date, so its guard goes first.)
    {
        use diesel::connection::SimpleConnection;
        let mut conn = app.ctx.conn().expect("conn");
        let drop_guard = if app.db.is_postgres() {
            "DROP TRIGGER payments_fixed ON payments"
        } else {
            "DROP TRIGGER payments_fixed"
        };
        conn.batch_execute(drop_guard).expect("drop the guard");
        conn.batch_execute(&format!(
            "UPDATE payments SET business_date = '2020-01-02' WHERE id = '{second_id}'"
        ))
        .expect("backdate");
    }
    let (s, _, late) = app
        .post(
            Role::Clerk,
            &format!("/v1/payments/{second_id}/void"),
            &json!({}),
        )
        .await;
    assert_eq!(
        (s, late["code"].as_str()),
        (409, Some("void_not_allowed")),
        "{late}"
    );

    assert_eq!(
        app.balance("1218.01").await,
        Some(json!("550.00")),
        "only the second payment is still in transit"
    );
    assert_eq!(
        app.balance("2103.1030414").await,
        Some(json!("550.00")),
        "revenue falls by exactly the voided fee"
    );
    let (_, v) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(
        (v["ok"].clone(), v["entries"].clone()),
        (json!(true), json!(4)),
        "{v}"
    );

    let today = onecard::clock::today();
    let (_, list) = app
        .get(
            Role::Auditor,
            &format!("/v1/payments?business_date={today}&status=voided"),
        )
        .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["items"][0]["id"], first_id.as_str());
    let (_, page) = app.get(Role::Finance, "/v1/payments?limit=1").await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    let next = page["next"].as_str().expect("next");
    let (_, page2) = app
        .get(Role::Finance, &format!("/v1/payments?limit=1&after={next}"))
        .await;
    assert_eq!(page2["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(page2["next"], Value::Null);
    let (s, b) = app.get(Role::Finance, "/v1/payments?status=lost").await;
    assert_eq!((s, b["code"].as_str()), (422, Some("invalid_request")));
    app.stop().await;
}

#[actix_web::test]
async fn refunds_need_four_eyes_and_never_exceed_the_payment() {
    let app = spawn_app().await;
    with_demo(&app).await;
    let mut body = bank_payment("200.00");
    body["lines"] = json!([
        {"fee_code": "ZR-BDC-01", "quantity": 1},
        {"fee_code": "GA-HZ-01", "quantity": 1, "amount": "120.00"}
    ]);
    let (s, _, p, _) = pay(&app, Some("r-1"), &body).await;
    assert_eq!(s, 201, "{p}");
    let id = p["id"].as_str().expect("id").to_string();
    let refunds = format!("/v1/payments/{id}/refunds");

    let (s, _, r1) = app
        .post_keyed(
            Role::Clerk,
            &refunds,
            "rf-1",
            &json!({"amount": "150.00", "reason": "duplicate application"}),
        )
        .await;
    assert_eq!((s, r1["status"].as_str()), (201, Some("requested")), "{r1}");
    let (s, _, over) = app
        .post_keyed(
            Role::Clerk,
            &refunds,
            "rf-2",
            &json!({"amount": "50.01", "reason": "x"}),
        )
        .await;
    assert_eq!(
        (s, over["code"].as_str()),
        (409, Some("refund_exceeds_payment")),
        "{over}"
    );
    let (s, _, bad) = app
        .post_keyed(
            Role::Clerk,
            &refunds,
            "rf-3",
            &json!({"amount": "1.00", "reason": ""}),
        )
        .await;
    assert_eq!((s, bad["code"].as_str()), (422, Some("invalid_request")));
    let (s, _, r2) = app
        .post_keyed(
            Role::Supervisor,
            &refunds,
            "rf-4",
            &json!({"amount": "50.00", "reason": "fee waived"}),
        )
        .await;
    assert_eq!(s, 201, "{r2}");

    let approve = |r: &Value| format!("/v1/refunds/{}/approve", r["id"].as_str().unwrap_or(""));
    let (s, _, b) = app.post(Role::Clerk, &approve(&r1), &json!({})).await;
    assert_eq!(s, 403, "a clerk does not approve: {b}");
    let (s, _, same) = app.post(Role::Supervisor, &approve(&r2), &json!({})).await;
    assert_eq!(
        (s, same["code"].as_str()),
        (403, Some("same_person")),
        "{same}"
    );
    let (s, _, a1) = app.post(Role::Supervisor, &approve(&r1), &json!({})).await;
    assert_eq!((s, a1["status"].as_str()), (200, Some("approved")), "{a1}");
    let (s, _, again) = app.post(Role::Supervisor, &approve(&r1), &json!({})).await;
    assert_eq!(
        (s, again["code"].as_str()),
        (409, Some("refund_not_allowed"))
    );
    let (s, _, missing) = app
        .post(Role::Supervisor, "/v1/refunds/ref_nope/approve", &json!({}))
        .await;
    assert_eq!((s, missing["code"].as_str()), (404, Some("not_found")));

    // 150.00 comes off the first line's subject (80.00) and then the second's (70.00).
    let seq = a1["entry_seq"].as_i64().expect("posted");
    let (_, entry) = app
        .get(Role::Auditor, &format!("/v1/ledger/entries/{seq}"))
        .await;
    assert_eq!(entry["kind"], "refund");
    let postings: Vec<(String, String, String)> = entry["postings"]
        .as_array()
        .expect("postings")
        .iter()
        .map(|p| {
            (
                p["account"].as_str().unwrap_or("").into(),
                p["side"].as_str().unwrap_or("").into(),
                p["amount"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        postings,
        vec![
            ("2103.1030414".into(), "debit".into(), "80.00".into()),
            ("2103.1030401".into(), "debit".into(), "70.00".into()),
            ("1218.01".into(), "credit".into(), "150.00".into()),
        ]
    );
    // The second refund needs another supervisor than its requester: make one.
    let ctx = app.ctx.clone();
    let other = actix_web::web::block(move || {
        let mut conn = ctx.conn().expect("conn");
        onecard::auth::create_token(
            &mut conn,
            &ctx.keys,
            Role::Supervisor,
            "second supervisor",
            "test",
        )
        .expect("token")
        .token
    })
    .await
    .expect("block");
    let mut res = app
        .client
        .post(app.url(&approve(&r2)))
        .bearer_auth(&other)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 200);
    let _ = res.body().await;

    for code in ["1218.01", "2103.1030414", "2103.1030401"] {
        assert_eq!(
            app.balance(code).await,
            Some(json!("0.00")),
            "{code} after refunding everything"
        );
    }
    let (_, v) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(v["ok"], true, "{v}");
    // A voided payment has nothing to refund.
    let (_, _, p2, _) = pay(&app, Some("r-2"), &bank_payment("80.00")).await;
    let id2 = p2["id"].as_str().expect("id");
    app.post(Role::Clerk, &format!("/v1/payments/{id2}/void"), &json!({}))
        .await;
    let (s, _, b) = app
        .post_keyed(
            Role::Clerk,
            &format!("/v1/payments/{id2}/refunds"),
            "rf-5",
            &json!({"amount": "1.00", "reason": "x"}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (409, Some("refund_not_allowed")));
    app.stop().await;
}

#[derive(Debug, Clone)]
enum Op {
    Pay { fee: usize, quantity: i64 },
    Void { which: usize },
    Refund { which: usize, percent: i64 },
    Approve { which: usize },
}

fn arb_op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        3 => (0usize..3, 1i64..4).prop_map(|(fee, quantity)| Op::Pay { fee, quantity }),
        1 => (0usize..8).prop_map(|which| Op::Void { which }),
        2 => (0usize..8, 1i64..=100).prop_map(|(which, percent)| Op::Refund { which, percent }),
        2 => (0usize..8).prop_map(|which| Op::Approve { which }),
    ]
}

/// Pays, voids, refunds and approvals in any order: revenue owed to the treasury (Σ 2103) is
/// always exactly what was captured, less what was voided, less what was refunded; every fund
/// stays balanced and the chain verifies.
async fn run_ops(ops: Vec<Op>) -> Result<(), String> {
    const FEES: [(&str, i64); 3] = [
        ("ZR-BDC-01", 8_000),
        ("GA-HZ-01", 12_000),
        ("ZJ-ZW-01", 350),
    ];
    let app = spawn_app().await;
    with_demo(&app).await;
    let mut paid: Vec<(String, i64, bool)> = Vec::new(); // id, amount, voided
    let mut requested: Vec<(String, i64, bool)> = Vec::new(); // id, amount, approved
    let mut expected: i64 = 0;
    for (n, op) in ops.into_iter().enumerate() {
        match op {
            Op::Pay { fee, quantity } => {
                let (code, unit) = FEES[fee];
                let amount = unit * quantity;
                let mut body = bank_payment("0.00");
                body["lines"] = json!([{"fee_code": code, "quantity": quantity}]);
                body["amount"] = json!(onecard::money::format_minor(amount));
                let (s, _, p, _) = pay(&app, Some(&format!("op-{n}")), &body).await;
                if s != 201 {
                    return Err(format!("pay: {s} {p}"));
                }
                paid.push((p["id"].as_str().unwrap_or("").to_string(), amount, false));
                expected += amount;
            }
            Op::Void { which } => {
                let Some(i) = (!paid.is_empty()).then(|| which % paid.len()) else {
                    continue;
                };
                let (id, amount, voided) = paid[i].clone();
                let (s, _, b) = app
                    .post(Role::Clerk, &format!("/v1/payments/{id}/void"), &json!({}))
                    .await;
                let has_refunds = requested
                    .iter()
                    .any(|(rid, _, _)| rid.starts_with(&format!("{id}#")));
                match (voided || has_refunds, s) {
                    (false, 200) => {
                        paid[i].2 = true;
                        expected -= amount;
                    }
                    (true, 409) => {}
                    other => return Err(format!("void {other:?}: {b}")),
                }
            }
            Op::Refund { which, percent } => {
                let Some(i) = (!paid.is_empty()).then(|| which % paid.len()) else {
                    continue;
                };
                let (id, amount, voided) = paid[i].clone();
                let want = (amount * percent / 100).max(1);
                let already: i64 = requested
                    .iter()
                    .filter(|(rid, _, _)| rid.starts_with(&format!("{id}#")))
                    .map(|r| r.1)
                    .sum();
                let body = json!({"amount": onecard::money::format_minor(want), "reason": "test"});
                let (s, _, b) = app
                    .post_keyed(
                        Role::Clerk,
                        &format!("/v1/payments/{id}/refunds"),
                        &format!("rf-op-{n}"),
                        &body,
                    )
                    .await;
                match s {
                    201 if !voided && already + want <= amount => {
                        requested.push((format!("{id}#{}", b["id"].as_str().unwrap_or("")), want, false));
                    }
                    409 if voided || already + want > amount => {}
                    _ => return Err(format!("refund of {want} on {amount} (already {already}, voided {voided}): {s} {b}")),
                }
            }
            Op::Approve { which } => {
                let Some(i) = (!requested.is_empty()).then(|| which % requested.len()) else {
                    continue;
                };
                let (key, amount, approved) = requested[i].clone();
                let (payment_id, refund_id) = key.split_once('#').unwrap_or_default();
                let voided = paid.iter().any(|(id, _, v)| id == payment_id && *v);
                let (s, _, b) = app
                    .post(
                        Role::Supervisor,
                        &format!("/v1/refunds/{refund_id}/approve"),
                        &json!({}),
                    )
                    .await;
                match (approved || voided, s) {
                    (false, 200) => {
                        requested[i].2 = true;
                        expected -= amount;
                    }
                    (true, 409) => {}
                    other => return Err(format!("approve {other:?}: {b}")),
                }
            }
        }
    }
    let owed = app.balance("2103").await;
    let (_, tb) = app.get(Role::Auditor, "/v1/ledger/trial-balance").await;
    let (_, v) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    app.stop().await;
    if owed != Some(json!(onecard::money::format_minor(expected))) {
        return Err(format!(
            "Σ 2103 is {owed:?}, expected {}",
            onecard::money::format_minor(expected)
        ));
    }
    for f in tb["funds"].as_array().cloned().unwrap_or_default() {
        if f["debit_total"] != f["credit_total"] {
            return Err(format!("fund out of balance: {f}"));
        }
    }
    if v["ok"] != true {
        return Err(format!("verify: {v}"));
    }
    Ok(())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 12, ..proptest::prelude::ProptestConfig::default() })]
    #[test]
    fn revenue_owed_is_captured_less_voided_less_refunded(ops in proptest::collection::vec(arb_op(), 1..25)) {
        let outcome = actix_web::rt::System::new().block_on(run_ops(ops));
        proptest::prop_assert!(outcome.is_ok(), "{:?}", outcome);
    }
}
