//! The fee catalogue over HTTP: admin writes, every role reads, versions never change.

use onecard::auth::Role;
use serde_json::{json, Value};

use crate::support::spawn_app;

fn registration(effective_from: &str, amount: &str) -> Value {
    json!({
        "code": "ZR-BDC-01", "name": "不动产登记费（住宅）", "department": "D03", "revenue_subject": "1030414",
        "legal_basis": {"document": "发改价格规〔2016〕2559号", "article": "一"},
        "pricing": {"kind": "fixed", "amount": amount},
        "effective_from": effective_from
    })
}

#[actix_web::test]
async fn items_are_created_in_versions_and_read_by_everyone() {
    let app = spawn_app().await;
    let (s, _, v1) = app
        .post(
            Role::Admin,
            "/v1/fee-items",
            &registration("2020-01-01", "80.00"),
        )
        .await;
    assert_eq!(s, 201, "{v1}");
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["pricing"], json!({"kind": "fixed", "amount": "80.00"}));
    assert_eq!(v1["legal_basis"]["document"], "发改价格规〔2016〕2559号");

    // A price change takes effect from a future date as version 2; version 1 stays as it was.
    let (s, _, v2) = app
        .post(
            Role::Admin,
            "/v1/fee-items",
            &registration("2099-01-01", "90.00"),
        )
        .await;
    assert_eq!(s, 201, "{v2}");
    assert_eq!(v2["version"], 2);
    for role in Role::ALL {
        let (s, item) = app.get(role, "/v1/fee-items/ZR-BDC-01").await;
        assert_eq!(s, 200, "{role} reads the catalogue");
        assert_eq!(item["version"], 2);
        assert_eq!(item["versions"][0]["pricing"]["amount"], "80.00");
        assert_eq!(item["versions"][1]["pricing"]["amount"], "90.00");
    }

    // A change may not reach back into days that have begun, nor start before the latest version.
    let (s, _, b) = app
        .post(
            Role::Admin,
            "/v1/fee-items",
            &registration("2021-01-01", "99.00"),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (409, Some("version_out_of_order")),
        "{b}"
    );
    let (s, _, b) = app
        .post(
            Role::Admin,
            "/v1/fee-items",
            &registration("2099-06-01", "95.00"),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let mut per_unit = registration("2020-01-01", "1.00");
    per_unit["code"] = json!("ZJ-ZW-01");
    per_unit["revenue_subject"] = json!("1030416");
    per_unit["legal_basis"] = json!("市发改〔2021〕15号");
    per_unit["pricing"] = json!({"kind": "per_unit", "unit_amount": "3.50", "unit": "m²"});
    let (s, _, b) = app.post(Role::Admin, "/v1/fee-items", &per_unit).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(
        b["legal_basis"],
        json!({"document": "市发改〔2021〕15号", "article": null})
    );

    let (_, page) = app.get(Role::Clerk, "/v1/fee-items?limit=1").await;
    assert_eq!(page["items"][0]["code"], "ZJ-ZW-01");
    let next = page["next"].as_str().expect("next");
    let (_, page2) = app
        .get(Role::Clerk, &format!("/v1/fee-items?limit=1&after={next}"))
        .await;
    assert_eq!(page2["items"][0]["code"], "ZR-BDC-01");
    assert_eq!(page2["items"][0]["version"], 3);
    assert_eq!(page2["next"], Value::Null);

    let (s, b) = app.get(Role::Clerk, "/v1/fee-items/NOPE").await;
    assert_eq!((s, b["code"].as_str()), (404, Some("not_found")));
    app.stop().await;
}

#[actix_web::test]
async fn bad_items_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    for role in [
        Role::Clerk,
        Role::Finance,
        Role::Supervisor,
        Role::Auditor,
        Role::Treasury,
    ] {
        let (s, _, _) = app
            .post(role, "/v1/fee-items", &registration("2020-01-01", "80.00"))
            .await;
        assert_eq!(s, 403, "{role} may not change the catalogue");
    }
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (json!({"code": "bad code"}), 422, "invalid_request", "code"),
        (
            json!({"revenue_subject": "9999999"}),
            422,
            "unknown_revenue_subject",
            "revenue_subject",
        ),
        (
            json!({"revenue_subject": "10304x"}),
            422,
            "invalid_request",
            "revenue_subject",
        ),
        (
            json!({"pricing": {"kind": "fixed", "amount": "80.001"}}),
            422,
            "invalid_request",
            "pricing.amount",
        ),
        (
            json!({"pricing": {"kind": "fixed", "amount": "-1.00"}}),
            422,
            "invalid_request",
            "pricing.amount",
        ),
        (
            json!({"pricing": {"kind": "range", "min": "50.00", "max": "10.00"}}),
            422,
            "invalid_request",
            "pricing.max",
        ),
        (
            json!({"pricing": {"kind": "auction", "amount": "1.00"}}),
            422,
            "invalid_request",
            "pricing",
        ),
        (
            json!({"effective_to": "2019-01-01"}),
            422,
            "invalid_request",
            "effective_to",
        ),
        (json!({"name": ""}), 422, "invalid_request", "name"),
    ];
    for (patch, status, code, field) in cases {
        let mut body = registration("2020-01-01", "80.00");
        for (k, v) in patch.as_object().expect("object") {
            body[k] = v.clone();
        }
        let (s, ct, b) = app.post(Role::Admin, "/v1/fee-items", &body).await;
        assert!(ct.starts_with("application/problem+json"));
        assert_eq!(
            (s, b["code"].as_str()),
            (status, Some(code)),
            "{patch}: {b}"
        );
        assert!(
            b["field"].as_str().is_some_and(|f| f.starts_with(field)),
            "{patch}: {b}"
        );
    }
    let (_, list) = app.get(Role::Admin, "/v1/fee-items").await;
    assert_eq!(
        list["items"].as_array().map(Vec::len),
        Some(0),
        "nothing refused was stored"
    );
    app.stop().await;
}

#[test]
fn the_demo_catalogue_is_valid_against_the_chart() {
    let chart = onecard::ledger::Chart::default_chart().expect("chart");
    let items = onecard::catalogue::demo_items().expect("demo catalogue parses");
    assert!(items.len() >= 5);
    for item in items {
        item.check()
            .unwrap_or_else(|e| panic!("{}: {e}", item.code));
        assert!(
            chart.treasury_payable_for(&item.revenue_subject).is_some(),
            "{}",
            item.code
        );
    }
}

#[test]
fn demo_data_loads_once_however_often_the_demo_starts() {
    let db = crate::support::TestDb::new();
    let ctx = db.open();
    let first = onecard::app::demo::load(&ctx).expect("demo");
    let second = onecard::app::demo::load(&ctx).expect("demo again");
    assert_eq!(first.len(), 6, "one token per role");
    assert_eq!(second.len(), 6);
    assert!(
        first
            .iter()
            .zip(&second)
            .all(|(a, b)| a.1.token != b.1.token),
        "tokens are generated anew"
    );
    let treasury = first
        .iter()
        .find(|(r, _)| *r == Role::Treasury)
        .expect("treasury");
    assert!(
        treasury.1.secret.is_some(),
        "the treasury token comes with its HMAC secret"
    );
    let mut conn = ctx.conn().expect("conn");
    let items = onecard::catalogue::latest_versions(&mut conn, "", 100).expect("catalogue");
    assert_eq!(
        items.len(),
        onecard::catalogue::demo_items().expect("demo").len()
    );
    assert!(
        items.iter().all(|i| i.version == 1),
        "the demo catalogue is loaded once"
    );
    let (head, _) = onecard::ledger::repo::chain_head(&mut conn).expect("head");
    assert_eq!(head, 1, "the opening appropriation is posted once");
}
