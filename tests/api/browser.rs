//! The staff pages in a real browser (headless Chromium over WebDriver), on both databases:
//! sign in by typing, see today's figures after payments taken through the API's use case,
//! move by keyboard, switch language, sign out. Screenshots of each page are written to
//! `<target>/browser-artefacts/`.

use fantoccini::Locator;
use onecard::auth::Role;

use crate::support::spawn_app;
use crate::web_support::{create_staff, PASSWORD};
use crate::webdriver::Browser;

/// WebDriver key codes.
const TAB: &str = "\u{E004}";

#[actix_web::test]
async fn a_clerk_of_finance_signs_in_and_sees_today_by_keyboard_and_in_both_languages() {
    let Some(browser) = Browser::start("frame").await else {
        return;
    };
    let app = spawn_app().await;
    app.load_demo().await;
    let today = onecard::clock::today();
    app.capture_on(today, "SC-JL-01", "200.00", "000012", "000451234567")
        .await;
    app.capture_on(today, "ZR-BDC-02", "550.00", "000013", "000451234568")
        .await;
    create_staff(&app, Role::Finance, "李会计").await;

    // Straight to a page: the browser is sent to sign in first.
    browser.goto(&app.url("/web/today")).await;
    assert!(browser.url().await.contains("/web/sign-in"));
    browser.find("label[for=name]").await;
    browser.screenshot("sign-in").await;
    browser.type_into("#name", "李会计").await;
    browser.type_into("#password", "a wrong password").await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_text("用户名或密码错误", 10).await;
    browser.clear("#name").await;
    browser.type_into("#name", "李会计").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_text("今日收费", 10).await;
    assert!(browser.url().await.ends_with("/web/today"));
    assert_eq!(browser.text("#collected-amount").await, "¥750.00");
    let text = browser.body_text().await;
    assert!(text.contains("D04") && text.contains("银行卡"), "{text}");
    assert!(
        browser
            .client
            .source()
            .await
            .expect("page source")
            .contains("<svg"),
        "the chart is drawn"
    );
    browser.screenshot("today").await;
    browser.print_pdf("today").await;

    // Keyboard: the first Tab reaches the skip link, the next ones the header and navigation.
    browser.goto(&app.url("/web/today")).await;
    browser.keys(TAB).await;
    assert!(browser.focused_html().await.contains("class=\"skip\""));
    let mut reached_nav = false;
    for _ in 0..8 {
        browser.keys(TAB).await;
        if browser
            .focused_html()
            .await
            .contains("href=\"/web/payments\"")
        {
            reached_nav = true;
            break;
        }
    }
    assert!(reached_nav, "the navigation is reachable by keyboard");

    // English and back.
    browser.click("header a[hreflang=en]").await;
    browser.wait_for_text("Today's collections", 10).await;
    browser.screenshot("today-en").await;
    browser.click("header a[hreflang=zh-CN]").await;
    browser.wait_for_text("今日收费", 10).await;

    // Sign out: back at the sign-in form, told so; the pages ask for sign-in again.
    browser.click("header form button[type=submit]").await;
    browser.wait_for_text("已安全退出", 10).await;
    browser.goto(&app.url("/web/today")).await;
    assert!(browser.url().await.contains("/web/sign-in"));
    browser.quit().await;
}

const DAY: &str = "2026-11-24";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");

/// Signs `name` in through the form.
async fn sign_in(browser: &Browser, app: &crate::support::TestApp, name: &str) {
    browser.goto(&app.url("/web/sign-in")).await;
    browser.type_into("#name", name).await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_text("今日收费", 10).await;
}

/// Waits on a task page until its work ends; returns the page's text.
async fn task_done(browser: &Browser) -> String {
    browser.wait_for_url("/web/jobs/", 10).await;
    let text = browser.wait_for_text("已完成", 60).await;
    assert!(!text.contains("失败"), "{text}");
    text
}

#[actix_web::test]
async fn a_whole_morning_in_the_browser() {
    let Some(browser) = Browser::start("morning").await else {
        return;
    };
    let app = spawn_app().await;
    app.load_demo().await;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    app.capture_night_sales(day).await;
    create_staff(&app, Role::Finance, "李会计").await;
    create_staff(&app, Role::Supervisor, "王主管").await;
    sign_in(&browser, &app, "李会计").await;

    // 今日 for the day: the payments taken through the API are there.
    browser
        .goto(&app.url(&format!("/web/today?date={DAY}")))
        .await;
    assert_eq!(browser.text("#collected-amount").await, "¥750.00");
    browser.screenshot("today").await;

    // 缴费查询: the list, then one receipt.
    browser
        .goto(&app.url(&format!("/web/payments?date={DAY}")))
        .await;
    browser.wait_for_text("pay_", 10).await;
    browser.screenshot("payments").await;
    browser.click("table a[href^='/web/payments/pay_']").await;
    browser.wait_for_text("622848******0123", 10).await;
    browser.screenshot("payment").await;

    // 对账: import the acquirer's files and the bank statement through the upload form; each is
    // a task whose page shows its progress and ends with a link back.
    let recon = app.url(&format!("/web/reconciliation?date={DAY}"));
    browser.goto(&recon).await;
    for path in [
        "pos-settlement-fixed-width/ok/POS_898440379930001_20261124.txt",
        "onecard-settlement-csv/ok/YKT_310000000000021_20261124.csv",
        "collection-account-statement-csv/ok/33050161234500001234_20261125_20261125.csv",
    ] {
        browser
            .type_into("#upload-file", &format!("{FIXTURES}/{path}"))
            .await;
        browser.click("#upload-form button[type=submit]").await;
        let text = task_done(&browser).await;
        assert!(text.contains("条记录"), "{text}");
        if path.starts_with("pos") {
            browser.screenshot("import-task").await;
        }
        browser.click("#job-result").await;
        browser.wait_for_text("对账", 10).await;
    }
    // Run the reconciliation from the page.
    browser.click("#run-form button[type=submit]").await;
    let text = task_done(&browser).await;
    assert!(text.contains("对账完成 2026-11-24"), "{text}");
    browser.click("#job-result").await;
    let text = browser.wait_for_text("交易层", 10).await;
    assert!(text.contains("资金层") && text.contains("余额层"), "{text}");
    let run_id = browser.text("#run-id").await;
    browser.screenshot("reconciliation").await;

    // Resolve one exception from its row in the workspace (a note, then the action's button);
    // the rest through the API, the same use case, so the day can close.
    let (_, listed) = app
        .get(
            Role::Finance,
            &format!("/v1/reconciliations/{run_id}/exceptions"),
        )
        .await;
    let items = listed["items"].as_array().expect("exceptions").clone();
    assert!(!items.is_empty());
    let action = |kind: &str| {
        if kind == "missing_in_settlement" {
            "accept_timing"
        } else {
            "bank_claim"
        }
    };
    let first = &items[0];
    let id = first["id"].as_str().unwrap();
    browser
        .type_into(&format!("#note-{id}"), "核对银行回单后确认为时间差")
        .await;
    browser
        .click(&format!(
            "#x-{id} button[value={}]",
            action(first["kind"].as_str().unwrap())
        ))
        .await;
    browser.wait_for_text("对账", 10).await;
    let (_, resolved) = app
        .get(
            Role::Finance,
            &format!("/v1/reconciliations/{run_id}/exceptions"),
        )
        .await;
    let after = resolved["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == first["id"])
        .cloned()
        .unwrap();
    let want = if first["kind"] == "missing_in_settlement" {
        "resolved"
    } else {
        "claimed"
    };
    assert_eq!(after["status"], want, "{after}");
    let trail = {
        let mut conn = app.ctx.conn().unwrap();
        onecard::audit::list(&mut conn, Some(&format!("exception:{id}")), 0, 10).unwrap()
    };
    assert!(
        trail.iter().any(|r| r.actor == "finance:李会计"),
        "{trail:?}"
    );
    for x in &items[1..] {
        let (status, _, body) = app
            .post(
                Role::Finance,
                &format!("/v1/exceptions/{}/resolve", x["id"].as_str().unwrap()),
                &serde_json::json!({"action": action(x["kind"].as_str().unwrap()), "note": "checked"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    // 日结: nothing blocks; close; the seal is shown.
    browser
        .goto(&app.url(&format!("/web/days?date={DAY}")))
        .await;
    browser.find("#close-form").await;
    browser.screenshot("days").await;
    browser.click("#close-form button[type=submit]").await;
    browser.wait_for_text("已结账并签章", 10).await;
    browser.screenshot("day-closed").await;

    // 缴库: prepare as finance…
    browser.goto(&app.url("/web/remittances")).await;
    browser.clear("#prepare-date").await;
    browser.type_into("#prepare-date", "11242026").await;
    browser.click("#prepare-form button[type=submit]").await;
    browser.wait_for_text("已编制，待审批", 10).await;
    assert!(browser
        .url()
        .await
        .ends_with("/web/remittances/rem_20261124"));
    assert!(
        browser
            .client
            .find(Locator::Css("#approve-form"))
            .await
            .is_err(),
        "the preparer may not approve"
    );
    // …approve as the supervisor.
    browser.click("header form button[type=submit]").await;
    browser.wait_for_text("已安全退出", 10).await;
    sign_in(&browser, &app, "王主管").await;
    browser
        .goto(&app.url("/web/remittances/rem_20261124"))
        .await;
    browser.click("#approve-form button[type=submit]").await;
    browser.wait_for_text("已审批，待国库确认", 10).await;
    browser.find("#file-link").await;
    browser.screenshot("remittance").await;
    let (_, batch) = app.get(Role::Auditor, "/v1/remittances/rem_20261124").await;
    assert_eq!(batch["status"], "approved");
    browser.goto(&app.url("/web/remittances")).await;
    browser.wait_for_text("rem_20261124", 10).await;
    browser.screenshot("remittances").await;

    // 账簿, 审计日志, 收费目录, and the daily report, on screen and printed.
    for (path, name, needle) in [
        (format!("/web/ledger?date={DAY}"), "ledger", "借贷平衡"),
        ("/web/audit".to_string(), "audit", "remittance"),
        ("/web/catalogue".to_string(), "catalogue", "SC-JL-01"),
        (format!("/web/report?date={DAY}"), "report", "Ctrl+P"),
    ] {
        browser.goto(&app.url(&path)).await;
        browser.wait_for_text(needle, 10).await;
        browser.screenshot(name).await;
    }
    browser.print_pdf("report").await;
    // An account statement, from the trial balance.
    browser
        .goto(&app.url(&format!("/web/ledger?date={DAY}")))
        .await;
    browser.click("a[href^='/web/ledger/accounts/1002']").await;
    browser.wait_for_url("/web/ledger/accounts/1002", 10).await;
    browser.screenshot("account").await;
    browser.quit().await;
}
