//! Concessions (优惠政策) end to end, on both databases: carried by a fee item version, charged
//! on payment lines at exactly the concession's amount, kept out of the ledger where nothing is
//! charged, refunded within what was charged, and listed for supervision by the API, the daily
//! report and the staff pages.

use onecard::auth::Role;
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp};
use crate::web_support::WebSession;

fn body(lines: Value, amount: &str, trace: &str) -> Value {
    json!({
        "channel": "bank_card", "department": "D03", "window": "W03",
        "lines": lines, "amount": amount,
        "card": {"merchant_id": "898440379930001", "terminal_id": "11002001", "batch_no": "000001",
                 "trace_no": trace, "rrn": format!("000451{trace}"), "auth_code": "890123",
                 "masked_pan": "622848******0123", "txn_time": "2026-11-24T09:30:15+08:00"}
    })
}

async fn pay(app: &TestApp, key: &str, body: &Value) -> (u16, Value) {
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

/// (account, side, amount) of each posting of an entry.
async fn postings(app: &TestApp, seq: i64) -> Vec<(String, String, String)> {
    let (_, entry) = app
        .get(Role::Auditor, &format!("/v1/ledger/entries/{seq}"))
        .await;
    entry["postings"]
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
        .collect()
}

fn item(code: &str, concessions: Value) -> Value {
    json!({
        "code": code, "name": "测试收费", "department": "D03", "revenue_subject": "1030414",
        "legal_basis": "市发改〔2026〕1号", "pricing": {"kind": "fixed", "amount": "80.00"},
        "effective_from": "2020-01-01", "concessions": concessions
    })
}

#[actix_web::test]
async fn a_version_carries_its_concessions_and_bad_ones_are_refused() {
    let app = spawn_app().await;
    app.load_demo().await;
    let (s, demo) = app.get(Role::Clerk, "/v1/fee-items/ZR-BDC-01").await;
    assert_eq!(s, 200);
    let codes: Vec<(&str, &str, &str)> = demo["concessions"]
        .as_array()
        .expect("concessions")
        .iter()
        .map(|c| {
            (
                c["code"].as_str().unwrap_or(""),
                c["kind"].as_str().unwrap_or(""),
                c["amount"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        codes,
        vec![("DB-01", "exempt", "0.00"), ("CJ-01", "reduced", "40.00")]
    );
    assert!(demo["concessions"][0]["legal_basis"]
        .as_str()
        .is_some_and(|b| b.contains("〔2022〕31号")));
    assert_eq!(demo["versions"][0]["concessions"][1]["code"], "CJ-01");

    let good = item(
        "T-OK",
        json!([{"code": "DB", "name": "低保户免收", "legal_basis": "民发〔2021〕11号", "kind": "exempt"},
               {"code": "CJ", "name": "残疾人减收", "legal_basis": "残联发〔2020〕3号", "kind": "reduced", "amount": "79.99"}]),
    );
    let (s, _, created) = app.post(Role::Admin, "/v1/fee-items", &good).await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["concessions"][0]["amount"], "0.00");
    assert_eq!(created["concessions"][1]["amount"], "79.99");
    let (_, listed) = app.get(Role::Finance, "/v1/fee-items?after=T-OJ").await;
    assert_eq!(listed["items"][0]["concessions"][1]["code"], "CJ");

    for (concessions, field) in [
        (
            json!([{"code": "DB", "name": "a", "legal_basis": "b", "kind": "exempt"},
                   {"code": "DB", "name": "c", "legal_basis": "d", "kind": "exempt"}]),
            "concessions.code",
        ),
        (
            json!([{"code": "DB", "name": "a", "legal_basis": "b", "kind": "exempt", "amount": "0.01"}]),
            "concessions.amount",
        ),
        (
            json!([{"code": "CJ", "name": "a", "legal_basis": "b", "kind": "reduced", "amount": "80.00"}]),
            "concessions.amount",
        ),
        (
            json!([{"code": "CJ", "name": "a", "legal_basis": "b", "kind": "reduced"}]),
            "concessions.amount",
        ),
        (
            json!([{"code": "CJ", "name": "a", "legal_basis": " ", "kind": "exempt"}]),
            "concessions.legal_basis",
        ),
    ] {
        let (s, _, p) = app
            .post(Role::Admin, "/v1/fee-items", &item("T-BAD", concessions))
            .await;
        assert_eq!(
            (s, p["code"].as_str(), p["field"].as_str()),
            (422, Some("invalid_request"), Some(field)),
            "{p}"
        );
    }
    let (s, _, p) = app
        .post(
            Role::Admin,
            "/v1/fee-items",
            &item(
                "T-BAD",
                json!([{"code": "X", "name": "a", "legal_basis": "b", "kind": "halved"}]),
            ),
        )
        .await;
    assert_eq!(
        (s, p["code"].as_str()),
        (422, Some("invalid_request")),
        "{p}"
    );
    let (s, _) = app.get(Role::Admin, "/v1/fee-items/T-BAD").await;
    assert_eq!(s, 404, "nothing of a refused item is stored");
}

#[actix_web::test]
async fn concession_lines_charge_the_concession_and_post_only_what_is_charged() {
    let app = spawn_app().await;
    app.load_demo().await;
    // 低保 exemption (0.00 of 80.00), 残疾人 half (40.00 of 80.00), a passport at 120.00, and
    // 残疾人 road occupation per unit (1.75 of 3.50 × 12 m²·日).
    let lines = json!([
        {"fee_code": "ZR-BDC-01", "concession": "DB-01", "amount": "0.00"},
        {"fee_code": "ZR-BDC-01", "concession": "CJ-01"},
        {"fee_code": "GA-HZ-01", "quantity": 1},
        {"fee_code": "ZJ-ZW-01", "quantity": 12, "concession": "CJ-01", "amount": "21.00"}
    ]);
    let (s, p) = pay(&app, "c-1", &body(lines, "181.00", "000101")).await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(p["amount"], "181.00");
    type Shown<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);
    let shown: Vec<Shown> = p["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l["amount"].as_str().unwrap_or(""),
                l["concession"]["code"].as_str(),
                l["concession"]["standard_amount"].as_str(),
                l["concession"]["forgone"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            ("0.00", Some("DB-01"), Some("80.00"), Some("80.00")),
            ("40.00", Some("CJ-01"), Some("80.00"), Some("40.00")),
            ("120.00", None, None, None),
            ("21.00", Some("CJ-01"), Some("42.00"), Some("21.00")),
        ]
    );
    assert!(p["lines"][0]["concession"]["legal_basis"]
        .as_str()
        .is_some_and(|b| b.contains("最低生活保障")));
    assert_eq!(p["lines"][0]["concession"]["kind"], "exempt");
    assert!(p["lines"][2].get("concession").is_none());
    let id = p["id"].as_str().expect("id").to_string();
    let (_, read) = app.get(Role::Finance, &format!("/v1/payments/{id}")).await;
    assert_eq!(
        read["lines"], p["lines"],
        "the stored lines read back the same"
    );

    // The entry: gross of what was charged; no zero posting, nothing for what was forgone.
    let seq = p["entry_seq"].as_i64().expect("entry");
    assert_eq!(
        postings(&app, seq).await,
        vec![
            ("1218.01".into(), "debit".into(), "181.00".into()),
            ("2103.1030414".into(), "credit".into(), "40.00".into()),
            ("2103.1030401".into(), "credit".into(), "120.00".into()),
            ("2103.1030416".into(), "credit".into(), "21.00".into()),
        ]
    );
    let (_, trial) = app.get(Role::Finance, "/v1/ledger/trial-balance").await;
    for fund in trial["funds"].as_array().expect("funds") {
        assert_eq!(fund["debit_total"], fund["credit_total"], "{fund}");
    }

    // Refunds stay within what each subject was charged: 181.00 in all, no more.
    let refunds = format!("/v1/payments/{id}/refunds");
    let (s, _, over) = app
        .post_keyed(
            Role::Clerk,
            &refunds,
            "concession-refund-over",
            &json!({"amount": "181.01", "reason": "x"}),
        )
        .await;
    assert_eq!(
        (s, over["code"].as_str()),
        (409, Some("refund_exceeds_payment"))
    );
    let (s, _, r) = app
        .post_keyed(
            Role::Clerk,
            &refunds,
            "concession-refund",
            &json!({"amount": "181.00", "reason": "application withdrawn"}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let (s, _, a) = app
        .post(
            Role::Supervisor,
            &format!("/v1/refunds/{}/approve", r["id"].as_str().unwrap_or("")),
            &json!({}),
        )
        .await;
    assert_eq!((s, a["status"].as_str()), (200, Some("approved")), "{a}");
    assert_eq!(
        postings(&app, a["entry_seq"].as_i64().expect("refund entry")).await,
        vec![
            ("2103.1030414".into(), "debit".into(), "40.00".into()),
            ("2103.1030401".into(), "debit".into(), "120.00".into()),
            ("2103.1030416".into(), "debit".into(), "21.00".into()),
            ("1218.01".into(), "credit".into(), "181.00".into()),
        ]
    );
}

#[actix_web::test]
async fn wrong_unknown_foreign_and_all_exempt_concessions_are_refused() {
    let app = spawn_app().await;
    app.load_demo().await;
    let cases = [
        // A reduced line at the full amount.
        (
            json!([{"fee_code": "ZR-BDC-01", "concession": "CJ-01", "amount": "80.00"}]),
            "80.00",
            "amount_mismatch",
            "lines[0].amount",
        ),
        // The total at the standard while the line is reduced.
        (
            json!([{"fee_code": "ZR-BDC-01", "concession": "CJ-01"}]),
            "80.00",
            "amount_mismatch",
            "amount",
        ),
        // An exemption that charges something.
        (
            json!([{"fee_code": "ZR-BDC-01", "quantity": 1},
                   {"fee_code": "ZR-BDC-01", "concession": "DB-01", "amount": "1.00"}]),
            "81.00",
            "amount_mismatch",
            "lines[1].amount",
        ),
        (
            json!([{"fee_code": "ZR-BDC-01", "concession": "NOPE"}]),
            "40.00",
            "unknown_concession",
            "lines[0].concession",
        ),
        // ZR-BDC-02's version carries no concession: ZR-BDC-01's codes are not its own.
        (
            json!([{"fee_code": "ZR-BDC-01", "quantity": 1},
                   {"fee_code": "ZR-BDC-02", "concession": "CJ-01"}]),
            "80.00",
            "unknown_concession",
            "lines[1].concession",
        ),
        (
            json!([{"fee_code": "ZR-BDC-01", "concession": "DB-01"},
                   {"fee_code": "ZR-BDC-01", "concession": "DB-01", "quantity": 2}]),
            "0.00",
            "nothing_to_charge",
            "amount",
        ),
        (
            json!([{"fee_code": "ZR-BDC-01", "concession": "has space"}]),
            "40.00",
            "invalid_request",
            "lines[0].concession",
        ),
    ];
    for (i, (lines, amount, code, field)) in cases.into_iter().enumerate() {
        let (s, p) = pay(&app, &format!("bad-{i}"), &body(lines, amount, "000201")).await;
        assert_eq!(
            (s, p["code"].as_str(), p["field"].as_str()),
            (422, Some(code), Some(field)),
            "case {i}: {p}"
        );
    }
    let (_, listed) = app.get(Role::Finance, "/v1/payments").await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(0));
}

#[actix_web::test]
async fn supervision_lists_the_concessions_granted_with_what_was_forgone() {
    let app = spawn_app().await;
    app.load_demo().await;
    let today = onecard::clock::today();
    let exempt = json!([{"fee_code": "ZR-BDC-01", "concession": "DB-01"},
                        {"fee_code": "GA-TXZ-01"}]);
    for (key, trace) in [("s-1", "000301"), ("s-2", "000302")] {
        let (s, p) = pay(&app, key, &body(exempt.clone(), "15.00", trace)).await;
        assert_eq!(s, 201, "{p}");
    }
    let reduced = json!([{"fee_code": "ZR-BDC-01", "concession": "CJ-01"}]);
    let (s, p) = pay(&app, "s-3", &body(reduced.clone(), "40.00", "000303")).await;
    assert_eq!(s, 201, "{p}");
    // A voided payment granted nothing.
    let (s, v) = pay(&app, "s-4", &body(reduced, "40.00", "000304")).await;
    assert_eq!(s, 201, "{v}");
    let (s, _, _) = app
        .post(
            Role::Clerk,
            &format!("/v1/payments/{}/void", v["id"].as_str().unwrap_or("")),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200);

    let (s, list) = app
        .get(
            Role::Supervisor,
            &format!("/v1/concessions?business_date={today}"),
        )
        .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(
        (
            list["count"].as_u64(),
            list["charged"].as_str(),
            list["forgone"].as_str()
        ),
        (Some(3), Some("40.00"), Some("200.00")),
        "{list}"
    );
    let groups: Vec<(&str, &str, &str, u64, &str)> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|g| {
            (
                g["concession"].as_str().unwrap_or(""),
                g["window"].as_str().unwrap_or(""),
                g["kind"].as_str().unwrap_or(""),
                g["count"].as_u64().unwrap_or(0),
                g["forgone"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        groups,
        vec![
            ("CJ-01", "W03", "reduced", 1, "40.00"),
            ("DB-01", "W03", "exempt", 2, "160.00"),
        ]
    );
    assert!(list["items"][0]["clerk"]
        .as_str()
        .is_some_and(|c| c.starts_with("clerk:")));
    let (_, range) = app
        .get(
            Role::Auditor,
            &format!("/v1/concessions?from={today}&to={today}"),
        )
        .await;
    assert_eq!(range["items"], list["items"]);
    let (_, before) = app
        .get(Role::Finance, "/v1/concessions?business_date=2020-01-01")
        .await;
    assert_eq!(
        (before["count"].as_u64(), before["forgone"].as_str()),
        (Some(0), Some("0.00"))
    );
    for bad in [
        format!("/v1/concessions?business_date={today}&from={today}"),
        "/v1/concessions?from=2026-11-24&to=2026-11-23".to_string(),
        "/v1/concessions?from=2024-01-01&to=2026-01-01".to_string(),
        "/v1/concessions?business_date=yesterday".to_string(),
    ] {
        let (s, p) = app.get(Role::Finance, &bad).await;
        assert_eq!(
            (s, p["code"].as_str()),
            (422, Some("invalid_request")),
            "{bad}: {p}"
        );
    }
    let (s, _) = app.get(Role::Clerk, "/v1/concessions").await;
    assert_eq!(s, 403);

    // The staff page: the same figures, a CSV, both languages; not for clerks.
    let mut supervisor = WebSession::signed_in(&app, Role::Supervisor).await;
    let page = supervisor
        .get(&format!("/web/concessions?date={today}"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("id=\"granted-count\">3<"),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"granted-forgone\">¥200.00<"));
    assert!(page.body.contains("城乡最低生活保障对象免收"));
    let csv = supervisor
        .get(&format!(
            "/web/concessions?from={today}&to={today}&csv=concessions"
        ))
        .await;
    assert_eq!(csv.status, 200);
    let text = String::from_utf8_lossy(&csv.bytes);
    assert!(text.contains("DB-01") && text.contains("160.00"), "{text}");
    supervisor
        .get("/web/lang?to=en&back=/web/concessions")
        .await;
    let en = supervisor
        .get(&format!("/web/concessions?date={today}"))
        .await;
    assert!(en.body.contains("Concessions granted"), "{}", en.body);
    let bad = supervisor.get("/web/concessions?from=24.11.2026").await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let mut clerk = WebSession::signed_in(&app, Role::Clerk).await;
    assert_eq!(clerk.get("/web/concessions").await.status, 403);
    let mut finance = WebSession::signed_in(&app, Role::Finance).await;
    let receipt = finance
        .get(&format!("/web/payments/{}", p["id"].as_str().unwrap_or("")))
        .await;
    assert!(
        receipt.body.contains("持证残疾人减半收取"),
        "{}",
        receipt.body
    );
    assert!(receipt.body.contains("第二条第（二）项"));
    let csv = finance
        .get(&format!(
            "/web/payments/{}?csv=lines",
            p["id"].as_str().unwrap_or("")
        ))
        .await;
    let text = String::from_utf8_lossy(&csv.bytes);
    assert!(
        text.contains(",1,40.00,持证残疾人减半收取（减收，CJ-01）,40.00,市发改〔2022〕31号"),
        "amount, concession, forgone, basis: {text}"
    );
    let item = finance.get("/web/catalogue/ZR-BDC-01").await;
    assert!(
        item.body.contains("t-concessions") && item.body.contains("DB-01"),
        "{}",
        item.body
    );
    let csv = finance
        .get("/web/catalogue/ZR-BDC-01?csv=concessions")
        .await;
    let text = String::from_utf8_lossy(&csv.bytes);
    assert!(
        text.contains("1,CJ-01,持证残疾人减半收取,减收,40.00,"),
        "{text}"
    );
    let report = finance.get(&format!("/web/report?date={today}")).await;
    assert!(report.body.contains("t-concessions"), "{}", report.body);
}

#[actix_web::test]
async fn the_daily_report_lists_the_day_s_concessions() {
    let app = spawn_app().await;
    app.load_demo().await;
    let today = onecard::clock::today();
    let lines = json!([{"fee_code": "ZR-BDC-01", "concession": "CJ-01"}]);
    let (s, p) = pay(&app, "r-1", &body(lines, "40.00", "000401")).await;
    assert_eq!(s, 201, "{p}");
    let run = app.reconcile(today).await;
    let id = run["id"].as_str().expect("run id");
    let (s, report) = app
        .get(Role::Auditor, &format!("/v1/reconciliations/{id}/report"))
        .await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["concessions"]["count"], 1, "{report}");
    assert_eq!(report["concessions"]["forgone"], "40.00");
    assert_eq!(report["concessions"]["items"][0]["concession"], "CJ-01");
    let mut res = app
        .client
        .get(app.url(&format!("/v1/reconciliations/{id}/report?format=csv")))
        .bearer_auth(app.token(Role::Auditor))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 200);
    let text = String::from_utf8(res.body().await.expect("body").to_vec()).expect("utf8");
    assert!(
        text.contains("\nconcession,ZR-BDC-01,CJ-01,reduced,W03,")
            && text.contains("concession_total,,,,,,1,40.00,40.00,"),
        "{text}"
    );
}

#[actix_web::test]
async fn the_openapi_document_describes_concessions() {
    let app = spawn_app().await;
    let mut res = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("request");
    let doc: Value = serde_json::from_slice(&res.body().await.expect("body")).expect("json");
    let list = &doc["paths"]["/v1/concessions"]["get"];
    assert!(list["responses"]["200"].is_object(), "{list}");
    let params: Vec<&str> = list["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(params, ["business_date", "from", "to"]);
    let refused = doc["paths"]["/v1/payments"]["post"]["responses"]["422"]["description"]
        .as_str()
        .unwrap_or("");
    assert!(
        refused.contains("unknown_concession") && refused.contains("nothing_to_charge"),
        "{refused}"
    );
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["ConcessionKind"]["enum"],
        json!(["exempt", "reduced"]),
        "{}",
        schemas["ConcessionKind"]
    );
    for (schema, field) in [
        ("LineView", "concession"),
        ("LineConcessionView", "forgone"),
        ("GrantedSummary", "forgone"),
        ("FeeItemInput", "concessions"),
        ("FeeItemView", "concessions"),
        ("LineInput", "concession"),
    ] {
        assert!(
            schemas[schema]["properties"][field].is_object(),
            "{schema}.{field}: {}",
            schemas[schema]
        );
    }
    assert!(
        !schemas["GrantedSummary"]["properties"]["forgone_minor"].is_object(),
        "fen stay inside"
    );
}
