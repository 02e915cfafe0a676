//! The payments, ledger, catalogue and audit pages, on both databases, driven the way a
//! browser without JavaScript drives them: payments taken through the API's use case are found
//! and shown; void, refund and approval go through the forms and the API then reports what
//! they did; forms without the CSRF token, or from a role without the right, change nothing;
//! the ledger pages show the API's figures; every table downloads as CSV.

use chrono::{Duration, NaiveDate};
use onecard::auth::Role;

use crate::support::{spawn_app, TestApp};
use crate::web_support::{refund_key, Page, WebSession};

/// The rows of a CSV download (byte-order mark dropped), header first.
fn csv_rows(page: &Page) -> Vec<Vec<String>> {
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.content_type.starts_with("text/csv"),
        "{}",
        page.content_type
    );
    let text = page.body.trim_start_matches('\u{feff}');
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("csv record").iter().map(str::to_string).collect())
        .collect()
}

/// The row whose first cell is `key`.
fn row<'a>(rows: &'a [Vec<String>], key: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r.first().map(String::as_str) == Some(key))
        .unwrap_or_else(|| panic!("no row {key} in {rows:?}"))
}

/// The `href` of the element with `id` (`<a href="…" … id="…">`), HTML escapes of `&` undone.
fn href_of(page: &Page, id: &str) -> Option<String> {
    let at = page.body.find(&format!("id=\"{id}\""))?;
    let start = page.body[..at].rfind("href=\"")? + "href=\"".len();
    let end = start + page.body[start..].find('"')?;
    Some(
        page.body[start..end]
            .replace("&#38;", "&")
            .replace("&amp;", "&"),
    )
}

async fn payment(app: &TestApp, id: &str) -> serde_json::Value {
    let (status, body) = app.get(Role::Auditor, &format!("/v1/payments/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn assert_problem(page: &Page, status: u16, code: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(page.content_type.starts_with("text/html"));
    assert!(
        page.body.contains(&format!("<code>{code}</code>")),
        "{code}: {}",
        page.body
    );
}

#[actix_web::test]
async fn payments_are_found_voided_refunded_and_audited_through_the_pages() {
    let app = spawn_app().await;
    app.load_demo().await;
    let day = onecard::clock::today();
    let first = app
        .capture_on(day, "SC-JL-01", "200.00", "000101", "000451230101")
        .await;
    let second = app
        .capture_on(day, "ZR-BDC-02", "550.00", "000102", "000451230102")
        .await;
    let old = app
        .capture_on(
            day - Duration::days(1),
            "SC-JL-01",
            "200.00",
            "000103",
            "000451230103",
        )
        .await;

    // Search: the first visit lists the day's payments; a date, a status, an id or a receipt
    // number narrows the list.
    let mut finance = WebSession::signed_in(&app, Role::Finance).await;
    let list = finance.get("/web/payments").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains(&first) && list.body.contains(&second));
    assert!(!list.body.contains(&old), "another day");
    let earlier = finance
        .get(&format!(
            "/web/payments?date={}&status=",
            day - Duration::days(1)
        ))
        .await;
    assert!(earlier.body.contains(&old) && !earlier.body.contains(&first));
    let p2 = payment(&app, &second).await;
    let receipt_no = p2["receipt_no"].as_str().unwrap().to_string();
    for q in [
        receipt_no.clone(),
        p2["receipt"]["number"].as_str().unwrap().to_string(),
        second.clone(),
        p2["reference"].as_str().unwrap().to_string(),
    ] {
        let found = finance.get(&format!("/web/payments?q={q}&date=")).await;
        assert_eq!(found.status, 200, "{}", found.body);
        assert!(found.body.contains(&second), "{q} finds the payment");
        assert!(!found.body.contains(&first), "{q} finds only it");
    }
    let none = finance
        .get(&format!("/web/payments?date={day}&status=voided"))
        .await;
    assert!(none.body.contains("没有符合条件的缴费") && !none.body.contains(&first));
    assert_problem(
        &finance.get("/web/payments?status=lost").await,
        422,
        "invalid_request",
    );
    assert_problem(
        &finance.get("/web/payments?date=24.11.2026").await,
        422,
        "invalid_request",
    );
    // Pages follow the API's cursor: one a page, the next-page link leads to the other.
    let page1 = finance
        .get(&format!("/web/payments?date={day}&limit=1"))
        .await;
    let next = href_of(&page1, "next-page").expect("a next-page link");
    let page2 = finance.get(&next).await;
    assert_eq!(page2.status, 200, "{}", page2.body);
    let on = |p: &Page, id: &str| p.body.contains(&format!(">{id}</a>"));
    assert!(on(&page1, &first) != on(&page1, &second));
    assert!(
        on(&page2, &first) != on(&page2, &second),
        "{next}: {}",
        page2.body
    );
    assert!(on(&page1, &first) != on(&page2, &first));
    assert!(
        href_of(&page2, "next-page").is_none(),
        "two payments, two pages"
    );
    let rows = csv_rows(
        &finance
            .get(&format!("/web/payments?date={day}&csv=payments"))
            .await,
    );
    assert_eq!(rows.len(), 4, "header, two payments, total: {rows:?}");
    assert_eq!(row(&rows, &second)[1], receipt_no);
    assert_eq!(
        rows[3][..9],
        ["合计 2 笔", "", "", "", "", "", "", "", "750.00"].map(String::from)
    );
    // The first visit's CSV link is the first visit's list: today's.
    assert_eq!(
        csv_rows(&finance.get("/web/payments?csv=payments").await),
        rows
    );

    // The receipt: its number, the lines with revenue subject, the card masked as stored.
    // Finance may read but not void, refund or approve: no such forms.
    let detail_path = format!("/web/payments/{second}");
    let detail = finance.get(&detail_path).await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    assert!(detail.body.contains(&receipt_no));
    assert!(detail.body.contains("622848******0123"));
    assert!(detail.body.contains("ZR-BDC-02") && detail.body.contains("1030414"));
    assert!(detail.body.contains("000451230102"), "the RRN");
    for form in ["void-form", "refund-form", "approve-form"] {
        assert!(!detail.body.contains(form), "finance sees no {form}");
    }
    let lines = csv_rows(&finance.get(&format!("{detail_path}?csv=lines")).await);
    assert_eq!(
        row(&lines, "ZR-BDC-02")[3..],
        ["1030414", "1", "550.00", "", "", ""].map(String::from),
        "no concession on this line"
    );
    assert_eq!(
        csv_rows(&finance.get(&format!("{detail_path}?csv=refunds")).await).len(),
        1
    );
    assert_problem(
        &finance.get("/web/payments/pay_nothing").await,
        404,
        "not_found",
    );

    // Void through the form. Without the CSRF token, from a role without the right, or
    // without ticking the box, nothing changes.
    let mut clerk = WebSession::signed_in(&app, Role::Clerk).await;
    let first_path = format!("/web/payments/{first}");
    let void_path = format!("{first_path}/void");
    assert!(clerk.get(&first_path).await.body.contains("void-form"));
    let forged = clerk.post_raw(&void_path, &[("confirm", "yes")]).await;
    assert_problem(&forged, 403, "form_expired");
    let mut auditor = WebSession::signed_in(&app, Role::Auditor).await;
    assert!(!auditor.get(&first_path).await.body.contains("void-form"));
    let refused = auditor
        .post("/web/payments", &void_path, &[("confirm", "yes")])
        .await;
    assert_problem(&refused, 403, "forbidden");
    let unticked = clerk.post(&first_path, &void_path, &[]).await;
    assert_problem(&unticked, 422, "invalid_request");
    assert_eq!(payment(&app, &first).await["status"], "captured");
    let voided = clerk
        .post(&first_path, &void_path, &[("confirm", "yes")])
        .await;
    assert_eq!(voided.status, 303, "{}", voided.body);
    assert_eq!(voided.location.as_deref(), Some(first_path.as_str()));
    let p1 = payment(&app, &first).await;
    assert_eq!(p1["status"], "voided");
    assert_eq!(p1["receipt"]["status"], "red_reversed");
    let shown = clerk.get(&first_path).await;
    assert!(shown.body.contains("已作废，票据已冲红") && shown.body.contains("已冲红"));
    // Twice, or on another day: the use case refuses, with its code.
    let again = clerk
        .post(&first_path, &void_path, &[("confirm", "yes")])
        .await;
    assert_problem(&again, 409, "void_not_allowed");
    let old_path = format!("/web/payments/{old}");
    let late = clerk
        .post(
            &old_path,
            &format!("{old_path}/void"),
            &[("confirm", "yes")],
        )
        .await;
    assert_problem(&late, 409, "void_not_allowed");
    assert_eq!(payment(&app, &old).await["status"], "captured");

    // A refund: requested by a clerk, approved by a supervisor, each through its form.
    let refund_path = format!("{detail_path}/refunds");
    // The form's Idempotency-Key, as the page made it.
    let key = refund_key(&clerk.get(&detail_path).await.body);
    for (amount, reason, status, code) in [
        ("abc", "wrong fee", 422, "invalid_request"),
        ("0.00", "wrong fee", 422, "invalid_request"),
        ("100.00", " ", 422, "invalid_request"),
        ("600.00", "wrong fee", 409, "refund_exceeds_payment"),
    ] {
        let bad = clerk
            .post(
                &detail_path,
                &refund_path,
                &[("amount", amount), ("reason", reason), ("key", &key)],
            )
            .await;
        assert_problem(&bad, status, code);
    }
    let requested = clerk
        .post(
            &detail_path,
            &refund_path,
            &[
                ("amount", "100.00"),
                ("reason", "收费项目选错"),
                ("key", &key),
            ],
        )
        .await;
    assert_eq!(requested.status, 303, "{}", requested.body);
    assert_eq!(requested.location.as_deref(), Some(detail_path.as_str()));
    let after = clerk.get(&detail_path).await;
    assert!(after.body.contains("收费项目选错") && after.body.contains("待批准"));
    assert!(
        !after.body.contains("approve-form"),
        "a clerk does not approve"
    );
    let mut supervisor = WebSession::signed_in(&app, Role::Supervisor).await;
    let to_approve = supervisor.get(&detail_path).await;
    let at = to_approve
        .body
        .find("/web/refunds/")
        .expect("an approve form");
    let approve_path = to_approve.body[at..].split('"').next().unwrap().to_string();
    assert!(approve_path.ends_with("/approve"), "{approve_path}");
    let by_clerk = clerk.post(&detail_path, &approve_path, &[]).await;
    assert_problem(&by_clerk, 403, "forbidden");
    let approved = supervisor.post(&detail_path, &approve_path, &[]).await;
    assert_eq!(approved.status, 303, "{}", approved.body);
    assert_eq!(approved.location.as_deref(), Some(detail_path.as_str()));
    let refunds = csv_rows(&supervisor.get(&format!("{detail_path}?csv=refunds")).await);
    assert_eq!(refunds.len(), 2, "{refunds:?}");
    assert_eq!(
        refunds[1][1..4],
        ["100.00", "收费项目选错", "已批准"].map(String::from)
    );
    assert_eq!(refunds[1][5], "supervisor:web-supervisor");
    let twice = supervisor.post(&detail_path, &approve_path, &[]).await;
    assert_problem(&twice, 409, "refund_not_allowed");
    // In transit: 950.00 taken, 200.00 voided, 100.00 refunded.
    assert_eq!(
        app.balance("1218.01").await,
        Some(serde_json::json!("650.00"))
    );
    // Four eyes: who asked cannot approve.
    let own_key = refund_key(&supervisor.get(&old_path).await.body);
    let own = supervisor
        .post(
            &old_path,
            &format!("{old_path}/refunds"),
            &[
                ("amount", "50.00"),
                ("reason", "重复收费"),
                ("key", &own_key),
            ],
        )
        .await;
    assert_eq!(own.status, 303, "{}", own.body);
    let mine = supervisor.get(&old_path).await;
    let at = mine.body.find("/web/refunds/").expect("an approve form");
    let own_approve = mine.body[at..].split('"').next().unwrap().to_string();
    assert_problem(
        &supervisor.post(&old_path, &own_approve, &[]).await,
        403,
        "same_person",
    );

    // The audit log shows the void and who did it; filters and pages; CSV.
    assert!(!clerk.get(&first_path).await.body.contains("audit-link"));
    let trail = href_of(&supervisor.get(&first_path).await, "audit-link").expect("a link");
    assert!(supervisor.get(&trail).await.body.contains("payment.void"));
    let log = supervisor.get("/web/audit?action=payment.void").await;
    assert_eq!(log.status, 200, "{}", log.body);
    assert!(log.body.contains(&format!("payment:{first}")));
    assert!(log.body.contains("clerk:web-clerk"));
    assert!(
        log.body.contains("status: captured → voided"),
        "{}",
        log.body
    );
    let of_first = csv_rows(
        &supervisor
            .get(&format!("/web/audit?subject=payment:{first}&csv=audit"))
            .await,
    );
    let actions: Vec<&str> = of_first[1..].iter().map(|r| r[3].as_str()).collect();
    assert_eq!(actions, ["payment.void", "payment.capture"], "newest first");
    assert_eq!(of_first[1][2], "clerk:web-clerk");
    let one = supervisor.get("/web/audit?limit=1").await;
    let older = href_of(&one, "next-page").expect("older records");
    assert!(older.contains("before="), "{older}");
    assert_eq!(supervisor.get(&older).await.status, 200);
    assert_problem(&clerk.get("/web/audit").await, 403, "forbidden");
    assert_problem(&finance.get("/web/audit").await, 403, "forbidden");
}

#[actix_web::test]
async fn ledger_and_catalogue_pages_show_the_api_figures() {
    let app = spawn_app().await;
    app.load_demo().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    app.capture_on(
        day - Duration::days(1),
        "SC-JL-01",
        "200.00",
        "000201",
        "000451230201",
    )
    .await;
    app.capture_on(day, "SC-JL-01", "200.00", "000202", "000451230202")
        .await;
    app.capture_on(day, "ZR-BDC-02", "550.00", "000203", "000451230203")
        .await;
    let mut finance = WebSession::signed_in(&app, Role::Finance).await;

    // The trial balance, as of a date and over everything: the API's figures, account by
    // account, and each fund's debits equal its credits.
    for (page_q, api_q) in [
        (format!("?date={day}"), format!("?as_of={day}")),
        (String::new(), String::new()),
    ] {
        let page = finance.get(&format!("/web/ledger{page_q}")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("借贷平衡"));
        let (status, tb) = app
            .get(Role::Finance, &format!("/v1/ledger/trial-balance{api_q}"))
            .await;
        assert_eq!(status, 200, "{tb}");
        let sep = if page_q.is_empty() { "?" } else { "&" };
        let funds = csv_rows(
            &finance
                .get(&format!("/web/ledger{page_q}{sep}csv=funds"))
                .await,
        );
        assert_eq!(funds.len(), 3, "{funds:?}");
        for (fund, label) in [
            ("collection", "收入线（代收资金）"),
            ("budget", "支出线（预算资金）"),
        ] {
            let api = tb["funds"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["fund"] == fund)
                .unwrap();
            let shown = row(&funds, label);
            assert_eq!(shown[1], api["debit_total"].as_str().unwrap());
            assert_eq!(shown[2], api["credit_total"].as_str().unwrap());
            assert_eq!(shown[1], shown[2], "debits equal credits");
            assert_eq!(shown[3], "借贷平衡");
            let accounts = csv_rows(
                &finance
                    .get(&format!("/web/ledger{page_q}{sep}csv={fund}"))
                    .await,
            );
            let listed = api["accounts"].as_array().unwrap();
            assert_eq!(accounts.len(), listed.len() + 2, "header and total");
            for a in listed {
                let shown = row(&accounts, a["code"].as_str().unwrap());
                assert_eq!(
                    shown[2..],
                    [&a["debit"], &a["credit"], &a["balance"]]
                        .map(|v| v.as_str().unwrap().to_string())
                );
            }
        }
        if page_q.is_empty() {
            // The demo's opening appropriation is dated today, after the 24th.
            assert!(page.body.contains("50,000.00"));
        }
    }
    let in_transit = csv_rows(
        &finance
            .get(&format!("/web/ledger?date={day}&csv=collection"))
            .await,
    );
    assert_eq!(row(&in_transit, "1218.01")[4], "950.00");

    // The chain: the head on the page, the full check as a task with progress.
    let (_, verify) = app.get(Role::Finance, "/v1/ledger/verify").await;
    let page = finance.get("/web/ledger").await;
    assert!(page.body.contains(&format!(
        "<dd id=\"chain-entries\">{}</dd>",
        verify["entries"]
    )));
    assert!(page.body.contains(verify["head"].as_str().unwrap()));
    let started = finance.post("/web/ledger", "/web/ledger/verify", &[]).await;
    assert_eq!(started.status, 303, "{}", started.body);
    let job = started.location.expect("the task's page");
    assert!(job.starts_with("/web/jobs/"), "{job}");
    let mut done = None;
    for _ in 0..200 {
        let p = finance.get(&job).await;
        if p.body.contains("job-done") || p.body.contains("job-failed") {
            done = Some(p);
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let done = done.expect("the check ends");
    assert!(
        done.body.contains("账链完整") && done.body.contains(&format!("{}", verify["entries"])),
        "{}",
        done.body
    );
    assert_problem(
        &finance.post_raw("/web/ledger/verify", &[]).await,
        403,
        "form_expired",
    );

    // The statement of the in-transit account on the 24th: the 23rd's capture is the opening
    // balance, the 24th's two the period, as the API lists them.
    let path = format!("/web/ledger/accounts/1218.01?from={day}&to={day}");
    let statement = finance.get(&path).await;
    assert_eq!(statement.status, 200, "{}", statement.body);
    assert!(statement.body.contains("<dd id=\"opening\">¥200.00</dd>"));
    assert!(statement
        .body
        .contains("<dd id=\"period-debit\">¥750.00</dd>"));
    assert!(statement
        .body
        .contains("<dd id=\"period-credit\">¥0.00</dd>"));
    assert!(statement.body.contains("<dd id=\"closing\">¥950.00</dd>"));
    let (_, api) = app
        .get(
            Role::Finance,
            &format!("/v1/ledger/accounts/1218.01/entries?from={day}&to={day}"),
        )
        .await;
    let lines = csv_rows(&finance.get(&format!("{path}&csv=statement")).await);
    let api_lines = api["items"].as_array().unwrap();
    assert_eq!(lines.len(), api_lines.len() + 1);
    for (shown, l) in lines[1..].iter().zip(api_lines) {
        assert_eq!(shown[1], l["seq"].to_string());
        assert_eq!(shown[0], l["business_date"].as_str().unwrap());
        assert_eq!(l["side"], "debit");
        assert_eq!(shown[5], l["amount"].as_str().unwrap());
    }
    let paged = finance.get(&format!("{path}&limit=1")).await;
    let next = href_of(&paged, "next-page").expect("a next-page link");
    let rest = finance.get(&next).await;
    assert!(
        rest.body.contains("<dd id=\"closing\">¥950.00</dd>"),
        "totals cover the period"
    );
    assert_problem(
        &finance.get("/web/ledger/accounts/9999").await,
        404,
        "not_found",
    );
    assert_problem(
        &finance
            .get("/web/ledger/accounts/1218.01?from=yesterday")
            .await,
        422,
        "invalid_request",
    );
    assert_problem(
        &finance.get("/web/ledger?date=2026-13-01").await,
        422,
        "invalid_request",
    );
    let mut clerk = WebSession::signed_in(&app, Role::Clerk).await;
    assert_problem(&clerk.get("/web/ledger").await, 403, "forbidden");
    // In English too.
    finance.get("/web/lang?to=en&back=/web/ledger").await;
    let en = finance.get(&format!("/web/ledger?date={day}")).await;
    assert!(en.body.contains("Trial balance") && en.body.contains("Balanced"));
    assert!(finance.get(&path).await.body.contains("Opening balance"));
    let en = csv_rows(&finance.get(&format!("{path}&csv=statement")).await);
    assert_eq!((en[0][2].as_str(), en[1][2].as_str()), ("Kind", "capture"));

    // The catalogue, to every role that reads it: the demo items as the API lists them.
    let (_, items) = app.get(Role::Clerk, "/v1/fee-items").await;
    let items = items["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    let page = clerk.get("/web/catalogue").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let rows = csv_rows(&clerk.get("/web/catalogue?csv=fee_items").await);
    assert_eq!(rows.len(), items.len() + 1);
    for i in items {
        let code = i["code"].as_str().unwrap();
        assert!(page.body.contains(code), "{code}");
        let shown = row(&rows, code);
        assert_eq!(shown[1], i["name"].as_str().unwrap());
        assert_eq!(shown[4], i["revenue_subject"].as_str().unwrap());
        assert_eq!(
            shown[5],
            i["legal_basis"]["document"]
                .as_str()
                .unwrap_or_default()
                .to_string()
                + &i["legal_basis"]["article"]
                    .as_str()
                    .map(|a| format!(" {a}"))
                    .unwrap_or_default()
        );
        assert_eq!(shown[10], i["version"].to_string());
    }
    assert_eq!(row(&rows, "ZR-BDC-02")[7], "550.00");
    assert_eq!(row(&rows, "SC-JL-01")[7], "50.00–500.00");
    let versions = csv_rows(&clerk.get("/web/catalogue/ZJ-ZW-01?csv=versions").await);
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1][7], "3.50/m²·日");
    assert_problem(&clerk.get("/web/catalogue/NOPE").await, 404, "not_found");
    let mut treasury = WebSession::signed_in(&app, Role::Treasury).await;
    assert_eq!(treasury.get("/web/catalogue").await.status, 200);
}
