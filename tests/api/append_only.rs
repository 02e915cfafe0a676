//! Payments, receipts, refunds and audit rows are protected in the database like ledger entries
//! (issue 18; migration 000023), on both backends: each forbidden change, made directly in SQL
//! behind the service, is refused with its guard's message, while the moves the service makes
//! still pass (the payments, void, refund, 退库 and remittance suites make them through the app).

use diesel::connection::SimpleConnection;
use onecard::auth::Role;
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp};

/// A bank-card payment of ZR-BDC-01 (80.00 each) for `quantity`.
fn payment_body(quantity: i64, trace: &str) -> Value {
    let amount = onecard::money::format_minor(8_000 * quantity);
    json!({
        "channel": "bank_card", "department": "D03", "window": "W03",
        "lines": [{"fee_code": "ZR-BDC-01", "quantity": quantity}],
        "amount": amount,
        "card": {"merchant_id": "898440379930001", "terminal_id": "11002001", "batch_no": "000001",
                 "trace_no": trace, "rrn": format!("000451{trace}"), "auth_code": "890123",
                 "masked_pan": "622848******0123", "txn_time": "2026-11-24T09:30:15+08:00"}
    })
}

/// A payment taken through the API; its id.
async fn paid(app: &TestApp, key: &str, quantity: i64) -> String {
    let (s, _, p) = app
        .post_keyed(
            Role::Clerk,
            "/v1/payments",
            key,
            &payment_body(quantity, &key[key.len() - 6..]),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    p["id"].as_str().expect("id").to_string()
}

/// A refund asked for through the API; its id.
async fn refund(app: &TestApp, payment: &str, key: &str, amount: &str) -> String {
    let (s, _, r) = app
        .post_keyed(
            Role::Clerk,
            &format!("/v1/payments/{payment}/refunds"),
            key,
            &json!({"amount": amount, "reason": "charged twice"}),
        )
        .await;
    assert_eq!((s, r["status"].as_str()), (201, Some("requested")), "{r}");
    r["id"].as_str().expect("id").to_string()
}

/// POST an action with an object body as `role`; asserts `status` and returns the body.
async fn act(app: &TestApp, role: Role, path: &str, body: Value, status: u16) -> Value {
    let (s, _, b) = app.post(role, path, &body).await;
    assert_eq!(s, status, "{path}: {b}");
    b
}

/// Every statement is refused by the database, with `message` in its error; nothing changed.
fn refused(app: &TestApp, cases: &[(String, &str)]) {
    let mut conn = app.ctx.conn().expect("conn");
    for (sql, message) in cases {
        match conn.batch_execute(sql) {
            Ok(()) => panic!("the database allowed: {sql}"),
            Err(e) => assert!(
                e.to_string().contains(message),
                "{sql}: refused with '{e}', not the guard's '{message}'"
            ),
        }
    }
}

/// Every statement is allowed.
fn allowed(app: &TestApp, sqls: &[String]) {
    let mut conn = app.ctx.conn().expect("conn");
    for sql in sqls {
        conn.batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql} was refused: {e}"));
    }
}

/// One text column of one row, read directly.
fn text_of(app: &TestApp, sql: &str) -> String {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct One {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }
    let mut conn = app.ctx.conn().expect("conn");
    diesel::sql_query(sql)
        .get_result::<One>(&mut conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .v
}

const PAYMENT_FIXED: &str = "a payment never changes; only its status moves";
const PAYMENT_MOVES: &str = "a payment's status moves only";
const RECEIPT_FIXED: &str = "a receipt never changes";

#[actix_web::test]
async fn a_payment_its_lines_card_and_receipt_never_change_and_its_status_only_moves_forward() {
    let app = spawn_app().await;
    app.load_demo().await;
    let kept = paid(&app, "ao-pay-000101", 2).await;
    let voided = paid(&app, "ao-pay-000102", 1).await;
    // The void goes through the app with the guards in place: captured → voided, and its
    // receipt issued → red_reversed.
    let v = act(
        &app,
        Role::Clerk,
        &format!("/v1/payments/{voided}/void"),
        json!({}),
        200,
    )
    .await;
    assert_eq!(
        (v["status"].as_str(), v["receipt"]["status"].as_str()),
        (Some("voided"), Some("red_reversed")),
        "{v}"
    );

    let p = |set: &str, id: &str| format!("UPDATE payments SET {set} WHERE id = '{id}'");
    refused(
        &app,
        &[
            (p("amount_minor = 1", &kept), PAYMENT_FIXED),
            (p("amount_minor = amount_minor * 2", &kept), PAYMENT_FIXED),
            (p("reference = 'elsewhere'", &kept), PAYMENT_FIXED),
            (p("business_date = '2020-01-02'", &kept), PAYMENT_FIXED),
            (p("department = 'D99'", &kept), PAYMENT_FIXED),
            (p("payer_name = 'someone else'", &kept), PAYMENT_FIXED),
            (p("created_by = 'clerk:nobody'", &kept), PAYMENT_FIXED),
            (p("entry_seq = entry_seq + 1", &kept), PAYMENT_FIXED),
            (p("id = 'pay_other'", &kept), PAYMENT_FIXED),
            // A voided payment is never captured, settled or reconciled again.
            (p("status = 'captured'", &voided), PAYMENT_MOVES),
            (p("status = 'settled'", &voided), PAYMENT_MOVES),
            (p("status = 'reconciled'", &voided), PAYMENT_MOVES),
            (format!("DELETE FROM payments WHERE id = '{kept}'"), "payments are never removed"),
            (
                format!("UPDATE payment_lines SET amount_minor = 1 WHERE payment_id = '{kept}'"),
                "a payment's lines never change",
            ),
            (
                format!("UPDATE payment_lines SET quantity = 1 WHERE payment_id = '{kept}'"),
                "a payment's lines never change",
            ),
            (
                format!("UPDATE payment_lines SET revenue_subject = 'x' WHERE payment_id = '{kept}'"),
                "a payment's lines never change",
            ),
            (
                format!("DELETE FROM payment_lines WHERE payment_id = '{kept}'"),
                "a payment's lines are never removed",
            ),
            (
                format!("UPDATE payment_cards SET masked_card = '622848******9999' WHERE payment_id = '{kept}'"),
                "a payment's card data never changes",
            ),
            (
                format!("UPDATE payment_cards SET rrn = NULL WHERE payment_id = '{kept}'"),
                "a payment's card data never changes",
            ),
            (
                format!("DELETE FROM payment_cards WHERE payment_id = '{kept}'"),
                "a payment's card data is never removed",
            ),
            (
                format!("UPDATE receipts SET number = number + 100 WHERE payment_id = '{kept}'"),
                RECEIPT_FIXED,
            ),
            (
                format!("UPDATE receipts SET payment_id = '{voided}' WHERE payment_id = '{kept}'"),
                RECEIPT_FIXED,
            ),
            // A red-reversed receipt is not issued again.
            (
                format!("UPDATE receipts SET status = 'issued' WHERE payment_id = '{voided}'"),
                RECEIPT_FIXED,
            ),
            (
                format!("DELETE FROM receipts WHERE payment_id = '{kept}'"),
                "receipts are never removed",
            ),
            (
                "UPDATE receipt_series SET next_number = 1".to_string(),
                "a receipt series only counts up",
            ),
            (
                "DELETE FROM receipt_series".to_string(),
                "a receipt series only counts up",
            ),
            (
                "UPDATE audit_log SET actor = 'nobody'".to_string(),
                "the audit log is append-only",
            ),
            (
                "UPDATE audit_log SET after_json = NULL".to_string(),
                "the audit log is append-only",
            ),
            (
                "DELETE FROM audit_log".to_string(),
                "the audit log is append-only",
            ),
        ],
    );
    if app.db.is_postgres() {
        // Row triggers do not see TRUNCATE; statement triggers refuse it even to the owner.
        refused(
            &app,
            &[
                (
                    "TRUNCATE audit_log".to_string(),
                    "the audit log is append-only",
                ),
                (
                    "TRUNCATE ledger_postings".to_string(),
                    "ledger postings are append-only",
                ),
                ("TRUNCATE ledger_entries CASCADE".to_string(), "append-only"),
                ("TRUNCATE payments CASCADE".to_string(), "never removed"),
                (
                    "TRUNCATE payment_lines".to_string(),
                    "a payment's lines are never removed",
                ),
                (
                    "TRUNCATE payment_cards".to_string(),
                    "a payment's card data is never removed",
                ),
                (
                    "TRUNCATE receipts".to_string(),
                    "receipts are never removed",
                ),
                ("TRUNCATE refunds CASCADE".to_string(), "never removed"),
                (
                    "TRUNCATE refund_requests".to_string(),
                    "refund requests are never removed",
                ),
            ],
        );
    }
    // What the service does still passes: a captured payment is settled, then reconciled; a
    // second receipt number is taken; a statement that changes nothing changes nothing.
    allowed(
        &app,
        &[
            p("status = 'settled'", &kept),
            p("status = 'reconciled'", &kept),
            p("status = status", &voided),
            "UPDATE receipt_series SET next_number = next_number + 1".to_string(),
        ],
    );
    // …and a reconciled payment does not go back, nor is it voided.
    refused(
        &app,
        &[
            (p("status = 'settled'", &kept), PAYMENT_MOVES),
            (p("status = 'captured'", &kept), PAYMENT_MOVES),
            (p("status = 'voided'", &kept), PAYMENT_MOVES),
        ],
    );
    let (_, verify) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(verify["ok"], true, "{verify}");
}

const REFUND_FIXED: &str = "a refund's amount, payment, reason and requester never change";
const REFUND_MOVES: &str = "a refund's status moves only";
const REFUND_ONCE: &str = "a refund's decision and entry are written once";

#[actix_web::test]
async fn a_refund_keeps_its_amount_and_requester_and_moves_only_forward() {
    let app = spawn_app().await;
    app.load_demo().await;
    let pay = paid(&app, "ao-pay-000201", 3).await;
    let other = paid(&app, "ao-pay-000202", 1).await;
    let waiting = refund(&app, &pay, "ao-ref-1", "80.00").await;
    let r = |set: &str, id: &str| format!("UPDATE refunds SET {set} WHERE id = '{id}'");
    refused(
        &app,
        &[
            (r("amount_minor = 24000", &waiting), REFUND_FIXED),
            (
                r(&format!("payment_id = '{other}'"), &waiting),
                REFUND_FIXED,
            ),
            (r("reason = 'something else'", &waiting), REFUND_FIXED),
            (r("requested_by = 'clerk:nobody'", &waiting), REFUND_FIXED),
            (
                r("requested_by_token = 'tok_other'", &waiting),
                REFUND_FIXED,
            ),
            (
                r("requested_by_person = 'per_other'", &waiting),
                REFUND_FIXED,
            ),
            (r("business_date = '2020-01-02'", &waiting), REFUND_FIXED),
            // Refunded only once the treasury returned the money.
            (r("status = 'refunded'", &waiting), REFUND_MOVES),
            (
                format!("DELETE FROM refunds WHERE id = '{waiting}'"),
                "refunds are never removed",
            ),
        ],
    );

    // The app's moves pass: approval by another person (requested → approved, its entry and
    // approver written), rejection and cancellation of waiting ones.
    let approved = act(
        &app,
        Role::Supervisor,
        &format!("/v1/refunds/{waiting}/approve"),
        json!({}),
        200,
    )
    .await;
    assert_eq!(approved["status"], "approved", "{approved}");
    let rejected = refund(&app, &pay, "ao-ref-2", "80.00").await;
    act(
        &app,
        Role::Supervisor,
        &format!("/v1/refunds/{rejected}/reject"),
        json!({"note": "not charged twice"}),
        200,
    )
    .await;
    let cancelled = refund(&app, &pay, "ao-ref-3", "80.00").await;
    act(
        &app,
        Role::Clerk,
        &format!("/v1/refunds/{cancelled}/cancel"),
        json!({}),
        200,
    )
    .await;

    refused(
        &app,
        &[
            (r("status = 'requested'", &waiting), REFUND_MOVES),
            (r("status = 'cancelled'", &waiting), REFUND_MOVES),
            (r("status = 'rejected'", &waiting), REFUND_MOVES),
            (r("status = 'approved'", &rejected), REFUND_MOVES),
            (r("status = 'requested'", &rejected), REFUND_MOVES),
            (r("status = 'approved'", &cancelled), REFUND_MOVES),
            (r("amount_minor = 1", &waiting), REFUND_FIXED),
            (
                r("approved_by = 'supervisor:nobody'", &waiting),
                REFUND_ONCE,
            ),
            (r("approved_at = NULL", &waiting), REFUND_ONCE),
            (r("entry_seq = NULL", &waiting), REFUND_ONCE),
            (r("entry_seq = entry_seq + 1", &waiting), REFUND_ONCE),
            (r("route = 'treasury'", &waiting), REFUND_ONCE),
            (r("closed_note = 'rewritten'", &rejected), REFUND_ONCE),
            (r("closed_by = 'supervisor:nobody'", &rejected), REFUND_ONCE),
            (r("closed_note = 'late'", &waiting), REFUND_ONCE),
            (
                format!("DELETE FROM refunds WHERE id = '{rejected}'"),
                "refunds are never removed",
            ),
        ],
    );
    let (_, verify) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(verify["ok"], true, "{verify}");
}

const REQUEST_MOVES: &str = "a refund request only moves forward; its file never changes";

#[actix_web::test]
async fn a_treasury_refund_request_keeps_its_origin_and_moves_only_forward() {
    let app = spawn_app().await;
    app.load_demo().await;
    let pay = paid(&app, "ao-pay-000301", 1).await;
    let other = paid(&app, "ao-pay-000302", 1).await;
    let asked = refund(&app, &pay, "ao-ref-4", "80.00").await;
    let subject = text_of(
        &app,
        &format!("SELECT revenue_subject AS v FROM payment_lines WHERE payment_id = '{pay}'"),
    );
    // A 退库 request as the service writes one when the refund is routed to the treasury
    // (the whole 退库 path through the app is tests/api/treasury_return.rs).
    allowed(
        &app,
        &[format!(
            "INSERT INTO refund_requests (id, refund_id, payment_id, business_date, revenue_subject, \
             account_code, amount_minor, currency, message_id, status, created_at, created_by) \
             VALUES ('rrq_test', '{asked}', '{pay}', '2026-11-24', '{subject}', '2103.{subject}', \
             8000, 'CNY', 'MSG-TEST-1', 'waiting', '2026-11-24 10:00:00', 'supervisor:test')"
        )],
    );
    let q = |set: &str| format!("UPDATE refund_requests SET {set} WHERE id = 'rrq_test'");
    refused(
        &app,
        &[
            (q("amount_minor = 1"), REQUEST_MOVES),
            (q(&format!("payment_id = '{other}'")), REQUEST_MOVES),
            (q("revenue_subject = 'other'"), REQUEST_MOVES),
            (q("business_date = '2020-01-02'"), REQUEST_MOVES),
            (q("created_by = 'supervisor:nobody'"), REQUEST_MOVES),
            (q("message_id = 'MSG-OTHER'"), REQUEST_MOVES),
            // Acknowledged only once offered to the treasury.
            (
                q(
                    "status = 'acknowledged', acknowledged_at = '2026-11-25 10:00:00', \
                   acknowledged_by = 'treasury:x', treasury_reference = 'T1', \
                   return_entry_seq = 1, payout_entry_seq = 1",
                ),
                REQUEST_MOVES,
            ),
            (
                "DELETE FROM refund_requests WHERE id = 'rrq_test'".to_string(),
                "refund requests are never removed",
            ),
        ],
    );
    // Offered, as a pull does; then it is not withdrawn to waiting, and after a rejection
    // nothing moves it.
    allowed(
        &app,
        &[q(
            "status = 'offered', pull_seq = 1, offered_at = '2026-11-25 09:00:00'",
        )],
    );
    refused(
        &app,
        &[(
            q("status = 'waiting', pull_seq = NULL, offered_at = NULL"),
            REQUEST_MOVES,
        )],
    );
    allowed(
        &app,
        &[q(
            "status = 'rejected', rejected_at = '2026-11-25 11:00:00', \
             rejected_by = 'treasury:x', reject_reason = 'no'",
        )],
    );
    refused(
        &app,
        &[
            (q("status = 'offered'"), REQUEST_MOVES),
            (q("reject_reason = 'rewritten'"), REQUEST_MOVES),
        ],
    );
}
