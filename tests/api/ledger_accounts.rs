//! Opening sub-accounts while the service runs (`POST /v1/ledger/accounts`, the CLI, the staff
//! page): a new revenue subject gets its 2103 account, then a fee item, then a payment — with
//! no restart; every refusal has its code; only admin may; each opening is audited.

use diesel::prelude::*;
use onecard::auth::Role;
use onecard::db::schema::audit_log;
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp};
use crate::web_support::WebSession;

fn fee_item(code: &str, subject: &str) -> Value {
    json!({
        "code": code, "name": "测试收费", "department": "D09", "revenue_subject": subject,
        "legal_basis": {"document": "测试文件〔2026〕1号"},
        "pricing": {"kind": "fixed", "amount": "45.00"},
        "effective_from": "2020-01-01"
    })
}

/// A card payment of one `fee` line through the API.
async fn pay(app: &TestApp, key: &str, fee: &str) -> (u16, Value) {
    let body = json!({
        "channel": "bank_card", "department": "D09", "window": "W01",
        "lines": [{"fee_code": fee, "quantity": 1, "amount": "45.00"}], "amount": "45.00",
        "card": {"merchant_id": "898440379930001", "terminal_id": "11002001", "batch_no": "000001",
                 "trace_no": "000321", "rrn": "000453210000", "auth_code": "890123",
                 "masked_pan": "622848******0123", "txn_time": "2026-11-24T09:30:15+08:00"}
    });
    let mut res = app
        .client
        .post(app.url("/v1/payments"))
        .bearer_auth(app.token(Role::Clerk))
        .insert_header(("content-type", "application/json"))
        .insert_header(("Idempotency-Key", key))
        .send_body(body.to_string())
        .await
        .expect("request");
    let bytes = res.body().await.expect("body");
    (
        res.status().as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn audits(app: &TestApp, subject: &str) -> Vec<(String, String, Option<String>)> {
    let mut conn = app.ctx.conn().expect("conn");
    audit_log::table
        .filter(audit_log::subject.eq(subject))
        .select((audit_log::actor, audit_log::action, audit_log::after_json))
        .load(&mut conn)
        .expect("audit")
}

/// A fee item whose subject has no 2103 account is refused naming the call that opens one; once
/// it is opened the item is added and a payment on it posts to the new account — no restart.
async fn subject_then_item_then_payment(
    app: &TestApp,
    open: impl std::future::Future<Output = ()>,
) {
    let (s, _, refused) = app
        .post(
            Role::Admin,
            "/v1/fee-items",
            &fee_item("TEST-01", "1030499"),
        )
        .await;
    assert_eq!(
        (s, refused["code"].as_str()),
        (422, Some("unknown_revenue_subject"))
    );
    let detail = refused["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("POST /v1/ledger/accounts"), "{detail}");
    assert!(detail.contains("2103.1030499"), "{detail}");
    open.await;
    let (s, _, item) = app
        .post(
            Role::Admin,
            "/v1/fee-items",
            &fee_item("TEST-01", "1030499"),
        )
        .await;
    assert_eq!(s, 201, "{item}");
    let (s, paid) = pay(app, "new-subject-1", "TEST-01").await;
    assert_eq!(s, 201, "{paid}");
    let balance = app.balance("2103.1030499").await.expect("listed");
    assert_eq!(balance, "45.00");
    let (_, verify) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(verify["ok"], true, "{verify}");
}

#[actix_web::test]
async fn a_new_revenue_subject_is_opened_then_taken_at_the_counter() {
    let app = spawn_app().await;
    subject_then_item_then_payment(&app, async {
        let (s, _, a) = app
            .post(
                Role::Admin,
                "/v1/ledger/accounts",
                &json!({"code": "2103.1030499", "name": "应缴财政款-测试收费收入",
                        "name_en": "Payable to treasury: test fees", "parent": "2103"}),
            )
            .await;
        assert_eq!(s, 201, "{a}");
        assert_eq!(
            (
                &a["code"],
                &a["fund"],
                &a["kind"],
                &a["normal_side"],
                &a["parent"],
                &a["postable"]
            ),
            (
                &json!("2103.1030499"),
                &json!("collection"),
                &json!("liability"),
                &json!("credit"),
                &json!("2103"),
                &json!(true)
            ),
            "{a}"
        );
        assert_eq!(a["balance"], "0.00");
    })
    .await;
    let audit = audits(&app, "account:2103.1030499");
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].1, "account.open");
    assert!(audit[0].0.contains("admin"), "{audit:?}");
    assert!(audit[0]
        .2
        .as_deref()
        .is_some_and(|j| j.contains("treasury_payable")));
    // An expense sub-account: budget fund, debit side.
    let (s, _, e) = app
        .post(
            Role::Admin,
            "/v1/ledger/accounts",
            &json!({"code": "5001.02", "name": "业务活动费用-邮电费", "parent": "5001"}),
        )
        .await;
    assert_eq!(
        (s, &e["fund"], &e["normal_side"]),
        (201, &json!("budget"), &json!("debit")),
        "{e}"
    );
    assert_eq!(e["name_en"], "业务活动费用-邮电费");
    // A restart reads the opened accounts back into the chart.
    let again = app.db.open();
    let chart = again.chart.current();
    assert!(chart.treasury_payable_for("1030499").is_some());
    assert!(chart.get("5001.02").is_some());
    drop(again);
    app.stop().await;
}

#[actix_web::test]
async fn an_account_opened_by_the_command_is_seen_by_the_running_service() {
    let app = spawn_app().await;
    subject_then_item_then_payment(&app, async {
        let out = app
            .db
            .command()
            .args([
                "accounts",
                "create",
                "--code",
                "2103.1030499",
                "--name",
                "应缴财政款-测试收费收入",
                "--parent",
                "2103",
            ])
            .output()
            .expect("run onecard");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(printed["role"], "treasury_payable");
    })
    .await;
    assert_eq!(audits(&app, "account:2103.1030499")[0].0, "cli");
    let out = app
        .db
        .command()
        .args([
            "accounts", "create", "--code", "1218.09", "--name", "x", "--parent", "1218",
        ])
        .output()
        .expect("run onecard");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("takes no new sub-accounts"));
    app.stop().await;
}

#[actix_web::test]
async fn every_refusal_has_its_code_and_nothing_is_opened() {
    let app = spawn_app().await;
    let (_, before) = app
        .get(Role::Auditor, "/v1/ledger/accounts?limit=1000")
        .await;
    let open = |body: Value| {
        let app = &app;
        async move {
            let (s, ct, b) = app.post(Role::Admin, "/v1/ledger/accounts", &body).await;
            assert_eq!(ct, "application/problem+json", "{b}");
            (s, b["code"].as_str().unwrap_or_default().to_string(), b)
        }
    };
    let cases = [
        (
            json!({"code": "2103.1030401", "name": "重复", "parent": "2103"}),
            409,
            "account_exists",
        ),
        (
            json!({"code": "9999.01", "name": "无", "parent": "9999"}),
            422,
            "unknown_account",
        ),
        (
            json!({"code": "1218.09", "name": "其他", "parent": "1218"}),
            422,
            "parent_not_open",
        ),
        (
            json!({"code": "2103.1030401.1", "name": "三级", "parent": "2103.1030401"}),
            422,
            "parent_not_open",
        ),
        (
            json!({"code": "2104.1030499", "name": "错", "parent": "2103"}),
            422,
            "invalid_request",
        ),
        (
            json!({"code": "2103.10304.99", "name": "错", "parent": "2103"}),
            422,
            "invalid_request",
        ),
        (
            json!({"code": "2103.", "name": "错", "parent": "2103"}),
            422,
            "invalid_request",
        ),
        (
            json!({"code": "2103.1030499", "name": " ", "parent": "2103"}),
            422,
            "invalid_request",
        ),
        (
            json!({"code": "2103.1030499", "parent": "2103"}),
            422,
            "invalid_request",
        ),
        (
            json!({"code": "2103.1030499", "name": "x", "parent": "2103", "fund": "budget"}),
            422,
            "invalid_request",
        ),
    ];
    for (body, status, code) in cases {
        let (s, c, b) = open(body.clone()).await;
        assert_eq!((s, c.as_str()), (status, code), "{body}: {b}");
    }
    let (_, _, b) = open(json!({"code": "2103.1030401", "name": "重复", "parent": "2103"})).await;
    assert_eq!(b["account"], "2103.1030401");
    // Only admin.
    for role in Role::ALL.into_iter().filter(|r| *r != Role::Admin) {
        let (s, _, b) = app
            .post(
                role,
                "/v1/ledger/accounts",
                &json!({"code": "2103.1030499", "name": "x", "parent": "2103"}),
            )
            .await;
        assert_eq!(s, 403, "{role}: {b}");
    }
    let (_, after) = app
        .get(Role::Auditor, "/v1/ledger/accounts?limit=1000")
        .await;
    assert_eq!(before, after, "nothing refused was opened");
    let mut conn = app.ctx.conn().expect("conn");
    let opened: i64 = audit_log::table
        .filter(audit_log::action.eq("account.open"))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(opened, 0);
    drop(conn);
    app.stop().await;
}

#[actix_web::test]
async fn the_admin_page_opens_an_account_with_its_form() {
    let app = spawn_app().await;
    let mut admin = WebSession::signed_in(&app, Role::Admin).await;
    let page = admin.get("/web/accounts").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("开设明细科目") && page.body.contains("value=\"2103\""));
    assert!(
        !page.body.contains("value=\"1218\""),
        "only parents that take sub-accounts"
    );
    let fields = [
        ("code", "2103.1030499"),
        ("name", "应缴财政款-测试收费收入"),
        ("name_en", ""),
        ("parent", "2103"),
    ];
    // Without the CSRF token nothing happens.
    assert_eq!(admin.post_raw("/web/accounts", &fields).await.status, 403);
    let done = admin.post("/web/accounts", "/web/accounts", &fields).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let listed = admin.get("/web/accounts").await;
    assert!(listed.body.contains("2103.1030499"), "{}", listed.body);
    admin.get("/web/lang?to=en&back=/web/accounts").await;
    let en = admin.get("/web/accounts").await;
    assert!(en.body.contains("Open a sub-account") && en.body.contains("2103.1030499"));
    let again = admin.post("/web/accounts", "/web/accounts", &fields).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("account_exists"));
    // A finance user does not get the page.
    let mut finance = WebSession::signed_in(&app, Role::Finance).await;
    assert_eq!(finance.get("/web/accounts").await.status, 403);
    assert_eq!(audits(&app, "account:2103.1030499").len(), 1);
    app.stop().await;
}
