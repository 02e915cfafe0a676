//! Departments and windows as master data (issue 20 item 2), on both databases: the API, the
//! payment and fee-item checks, the CLI, the migration's seeding of codes already in use, and
//! the names on the pages.

use diesel::prelude::*;
use onecard::auth::Role;
use onecard::db::schema::{audit_log, department_windows, departments};
use serde_json::{json, Value};

use crate::support::{spawn_app, spawned::run_ok, TestApp, TestDb};
use crate::web_support::WebSession;

fn payment(department: &str, window: &str) -> Value {
    json!({
        "channel": "bank_card", "department": department, "window": window,
        "lines": [{"fee_code": "ZR-BDC-01", "quantity": 1}], "amount": "80.00",
        "card": {"merchant_id": "898440379930001", "terminal_id": "11002001", "batch_no": "000001",
                 "trace_no": "000012", "rrn": "000451234567", "auth_code": "890123",
                 "masked_pan": "622848******0123", "txn_time": "2026-11-24T09:30:15+08:00"}
    })
}

async fn departments_of(app: &TestApp) -> Vec<Value> {
    let (s, body) = app.get(Role::Auditor, "/v1/departments").await;
    assert_eq!(s, 200, "{body}");
    body["items"].as_array().expect("items").clone()
}

#[actix_web::test]
async fn admins_add_departments_and_windows_everyone_reads_them() {
    let app = spawn_app().await;
    // The test app carries the centre's sixteen departments (the demo set).
    let all = departments_of(&app).await;
    assert_eq!(all.len(), 16);
    assert_eq!(all[0]["code"], "D01");
    assert_eq!(all[0]["name"], "公安局出入境管理大队");
    assert!(all[0]["name_en"].as_str().is_some());
    assert_eq!(all[0]["windows"][0]["code"], "W01");

    let dept =
        json!({"code": "D17", "name": "退役军人事务局", "name_en": "Veterans Affairs Bureau"});
    for role in [Role::Clerk, Role::Finance, Role::Supervisor, Role::Auditor] {
        let (s, _, b) = app.post(role, "/v1/departments", &dept).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (403, Some("forbidden")),
            "{role:?}"
        );
    }
    let (s, _, b) = app.post(Role::Admin, "/v1/departments", &dept).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["code"], "D17");
    assert_eq!(b["windows"], json!([]));
    let (s, _, b) = app.post(Role::Admin, "/v1/departments", &dept).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (409, Some("department_exists")),
        "{b}"
    );

    let window = json!({"code": "W01", "name": "优待证办理窗口"});
    let (s, _, b) = app
        .post(Role::Clerk, "/v1/departments/D17/windows", &window)
        .await;
    assert_eq!(s, 403, "{b}");
    let (s, _, b) = app
        .post(Role::Admin, "/v1/departments/D17/windows", &window)
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(
        (b["code"].as_str(), b["name"].as_str()),
        (Some("W01"), Some("优待证办理窗口"))
    );
    let (s, _, b) = app
        .post(Role::Admin, "/v1/departments/D17/windows", &window)
        .await;
    assert_eq!((s, b["code"].as_str()), (409, Some("window_exists")), "{b}");
    let (s, _, b) = app
        .post(Role::Admin, "/v1/departments/D99/windows", &window)
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (422, Some("unknown_department")),
        "{b}"
    );
    for bad in [
        json!({"code": "D 18", "name": "x"}),
        json!({"code": "D18", "name": ""}),
        json!({"code": "D18"}),
        json!({"code": "D18", "name": "x", "extra": 1}),
    ] {
        let (s, _, b) = app.post(Role::Admin, "/v1/departments", &bad).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (422, Some("invalid_request")),
            "{bad}: {b}"
        );
    }

    let all = departments_of(&app).await;
    let d17 = all.iter().find(|d| d["code"] == "D17").expect("D17 listed");
    assert_eq!(d17["name_en"], "Veterans Affairs Bureau");
    assert_eq!(d17["windows"][0]["name"], "优待证办理窗口");

    // Audited, with who did it.
    let ctx = app.ctx.clone();
    let actions: Vec<(String, String)> = actix_web::web::block(move || {
        let mut conn = ctx.conn().expect("conn");
        audit_log::table
            .filter(audit_log::subject.like("department:D17%"))
            .order(audit_log::id)
            .select((audit_log::action, audit_log::actor))
            .load(&mut conn)
            .expect("audit")
    })
    .await
    .expect("block");
    assert_eq!(
        actions.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(),
        ["department.create", "department.window.create"]
    );
    assert!(
        actions.iter().all(|(_, who)| who.contains("admin")),
        "{actions:?}"
    );
    // The OpenAPI document lists the routes.
    let (_, doc) = app.get(Role::Clerk, "/openapi.json").await;
    assert!(doc["paths"]["/v1/departments"]["post"].is_object());
    assert!(doc["paths"]["/v1/departments/{code}/windows"]["post"].is_object());
}

#[actix_web::test]
async fn a_payment_must_name_a_known_department_and_one_of_its_windows() {
    let app = spawn_app().await;
    app.load_demo().await;
    let cases = [
        ("D99", "W01", "unknown_department", "D99"),
        ("D03", "W99", "unknown_window", "W99"),
        // W04 exists, but not at market regulation (D04 has three windows).
        ("D04", "W04", "unknown_window", "W04"),
    ];
    for (i, (department, window, code, named)) in cases.into_iter().enumerate() {
        let (s, _, b) = app
            .post_keyed(
                Role::Clerk,
                "/v1/payments",
                &format!("place-{i}"),
                &payment(department, window),
            )
            .await;
        assert_eq!((s, b["code"].as_str()), (422, Some(code)), "{b}");
        assert!(b["detail"].as_str().unwrap_or("").contains(named), "{b}");
    }
    let (s, _, b) = app
        .post_keyed(
            Role::Clerk,
            "/v1/payments",
            "place-ok",
            &payment("D03", "W03"),
        )
        .await;
    assert_eq!(s, 201, "{b}");

    // A window added now is usable at once (the cached directory is read afresh on a miss).
    let (s, _, _) = app
        .post(
            Role::Admin,
            "/v1/departments/D03/windows",
            &json!({"code": "W99", "name": "临时窗口", "name_en": "Temporary window"}),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _, b) = app
        .post_keyed(
            Role::Clerk,
            "/v1/payments",
            "place-new",
            &payment("D03", "W99"),
        )
        .await;
    assert_eq!(s, 201, "{b}");

    // A fee item naming an unknown department is refused too.
    let item = json!({
        "code": "T-DEPT", "name": "测试收费", "department": "D99", "revenue_subject": "1030414",
        "legal_basis": "测试", "pricing": {"kind": "fixed", "amount": "10.00"},
        "effective_from": "2020-01-01"
    });
    let (s, _, b) = app.post(Role::Admin, "/v1/fee-items", &item).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (422, Some("unknown_department")),
        "{b}"
    );
}

#[actix_web::test]
async fn the_pages_show_names_in_the_page_language() {
    let app = spawn_app().await;
    app.load_demo().await;
    let (s, _, b) = app
        .post_keyed(
            Role::Clerk,
            "/v1/payments",
            "names-1",
            &payment("D03", "W03"),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_str().expect("id").to_string();
    // A window without an English name: the Chinese one, marked as such, on English pages.
    let (s, _, _) = app
        .post(
            Role::Admin,
            "/v1/departments/D03/windows",
            &json!({"code": "W20", "name": "自助缴费机"}),
        )
        .await;
    assert_eq!(s, 201);

    let mut s = WebSession::signed_in(&app, Role::Supervisor).await;
    let date = b["business_date"].as_str().expect("date").to_string();
    for path in [
        format!("/web/today?date={date}"),
        format!("/web/payments?date={date}"),
        format!("/web/payments/{id}"),
        "/web/catalogue".to_string(),
        "/web/departments".to_string(),
    ] {
        let page = s.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(
            page.body.contains("自然资源和规划局（不动产登记中心）"),
            "{path} names the department"
        );
    }
    let csv = s
        .get(&format!("/web/today?date={date}&csv=by_window"))
        .await;
    assert!(csv.body.contains("不动产登记3号窗口"), "{}", csv.body);

    s.get("/web/lang?to=en&back=/web/today").await;
    let page = s.get(&format!("/web/payments/{id}")).await;
    assert!(
        page.body
            .contains("Natural Resources and Planning Bureau (Real Estate Registration Centre)"),
        "{}",
        page.body
    );
    let page = s.get("/web/departments").await;
    assert!(
        page.body.contains("<span lang=\"zh-CN\">自助缴费机</span>"),
        "a Chinese name on an English page is marked: {}",
        page.body
    );
    // Admins get the forms; others only the lists.
    assert!(!page.body.contains("add-department-form"));
    let mut admin = WebSession::signed_in(&app, Role::Admin).await;
    let added = admin
        .post(
            "/web/departments",
            "/web/departments",
            &[("code", "D18"), ("name", "档案馆"), ("name_en", "")],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let added = admin
        .post(
            "/web/departments",
            "/web/departments/windows",
            &[
                ("department", "D18"),
                ("code", "W01"),
                ("name", "查档窗口"),
                ("name_en", "Records"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let all = departments_of(&app).await;
    let d18 = all
        .iter()
        .find(|d| d["code"] == "D18")
        .expect("added on the page");
    assert_eq!(d18["name_en"], Value::Null);
    assert_eq!(d18["windows"][0]["name_en"], "Records");
}

#[test]
fn the_cli_adds_and_lists_departments() {
    let db = TestDb::new();
    run_ok(&db, &["migrate"]);
    let out = run_ok(
        &db,
        &[
            "departments",
            "add",
            "--code",
            "D01",
            "--name",
            "公安局出入境管理大队",
            "--name-en",
            "Exit-Entry",
        ],
    );
    let d: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(d["code"], "D01");
    run_ok(
        &db,
        &[
            "departments",
            "add-window",
            "--department",
            "D01",
            "--code",
            "W01",
            "--name",
            "1号窗口",
        ],
    );
    let list: Value = serde_json::from_str(&run_ok(&db, &["departments", "list"])).expect("json");
    assert_eq!(list[0]["windows"][0]["name"], "1号窗口");
    let again = db
        .command()
        .args(["departments", "add", "--code", "D01", "--name", "重复"])
        .output()
        .expect("run");
    assert!(!again.status.success());
}

/// A database with fee items from before migration 000027 keeps working: the codes they name
/// become departments, the code standing in for the name.
#[test]
fn the_migration_keeps_codes_already_in_use_known() {
    use diesel_migrations::MigrationHarness;
    use onecard::db::{DbConn, DbTarget, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
    let db = TestDb::new();
    let mut conn = DbTarget::parse(&db.url)
        .expect("url")
        .connect()
        .expect("connect");
    // Every migration before 000027.
    loop {
        let version = match &mut conn {
            DbConn::Sqlite(c) => c.run_next_migration(SQLITE_MIGRATIONS),
            DbConn::Postgres(c) => c.run_next_migration(POSTGRES_MIGRATIONS),
        }
        .expect("migration")
        .to_string();
        if version.ends_with("000026") {
            break;
        }
        assert!(!version.ends_with("000027"), "000026 comes first");
    }
    diesel::sql_query(
        "INSERT INTO fee_items (code, version, name, department, revenue_subject, legal_document, \
         pricing_kind, amount_minor, effective_from, created_at, created_by) VALUES \
         ('OLD-1', 1, '旧项目', 'DX9', '1030414', '旧文', 'fixed', 100, '2020-01-01', \
         '2020-01-01 00:00:00', 'test')",
    )
    .execute(&mut conn)
    .expect("legacy fee item");
    onecard::db::migrate(&mut conn).expect("migrate");
    let name: String = departments::table
        .filter(departments::code.eq("DX9"))
        .select(departments::name)
        .first(&mut conn)
        .expect("seeded");
    assert_eq!(name, "DX9");
    let windows: i64 = department_windows::table
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(windows, 0, "no payments, no windows");
}
