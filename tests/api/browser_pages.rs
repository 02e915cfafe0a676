//! The pages issue 20 added, in a real browser (headless Chromium over WebDriver) on both
//! databases: 部门与窗口 (an admin adds a department and a window by its forms), 月度报表 (a
//! month's page, its check against the ledger, an XLSX link that downloads a workbook) and
//! 待审批 (the supervisor approves each waiting item from its row and the queue empties), each
//! switched to English and back. Screenshots `admin-departments`, `supervisor-month` and
//! `supervisor-approvals` (and their `-en` ones) go to `<target>/browser-artefacts/`.

use onecard::auth::Role;

use crate::approvals::{a_batch_and_a_write_off_wait, a_refund_waits};
use crate::month::{headings, sheet};
use crate::support::spawn_app;
use crate::web_support::{create_staff, PASSWORD};
use crate::webdriver::Browser;

/// Switches the page to English, waits for `english` and takes screenshot `<shot>-en`; then
/// back to Chinese, waiting for `chinese`.
async fn in_english_and_back(
    browser: &Browser,
    english: &str,
    chinese: &str,
    shot: &str,
) -> String {
    browser.click("header a[hreflang=en]").await;
    let text = browser.wait_for_text(english, 10).await;
    browser.screenshot(&format!("{shot}-en")).await;
    browser.click("header a[hreflang=zh-CN]").await;
    browser.wait_for_text(chinese, 10).await;
    text
}

#[actix_web::test]
async fn an_admin_adds_a_department_and_a_window_by_form() {
    let Some(browser) = Browser::start("admin").await else {
        return;
    };
    let app = spawn_app().await;
    app.load_demo().await;
    create_staff(&app, Role::Admin, "赵管理").await;
    browser
        .sign_in_to(&app.url("/web/departments"), "赵管理", PASSWORD)
        .await;
    browser.wait_for_text("部门与窗口", 10).await;

    // A department, then a window of it, each through its form.
    browser.type_into("#dept-code", "D17").await;
    browser.type_into("#dept-name", "城市管理局").await;
    browser
        .type_into("#dept-name-en", "City Management Bureau")
        .await;
    browser
        .click("#add-department-form button[type=submit]")
        .await;
    browser.wait_for_text("已新增部门 D17", 10).await;
    browser.click("#window-department option[value=D17]").await;
    browser.type_into("#window-code", "W01").await;
    browser.type_into("#window-name", "城管综合窗口").await;
    browser.click("#add-window-form button[type=submit]").await;
    let text = browser.wait_for_text("已新增窗口 W01", 10).await;
    assert!(
        text.contains("城市管理局") && text.contains("城管综合窗口"),
        "{text}"
    );
    browser.screenshot("departments-whole").await;
    // The forms and the departments' table, D17 last in it (the windows' list runs long).
    browser.screenshot_top("departments", 1780).await;

    // The API sees both.
    let (status, listed) = app.get(Role::Auditor, "/v1/departments").await;
    assert_eq!(status, 200, "{listed}");
    let d17 = listed
        .as_array()
        .or_else(|| listed["items"].as_array())
        .expect("departments")
        .iter()
        .find(|d| d["code"] == "D17")
        .cloned()
        .unwrap_or_else(|| panic!("D17 in {listed}"));
    assert_eq!(d17["windows"][0]["code"], "W01", "{d17}");

    // In English: the page's words, the English name where there is one.
    let text = in_english_and_back(
        &browser,
        "Departments and windows",
        "部门与窗口",
        "departments",
    )
    .await;
    assert!(text.contains("City Management Bureau"), "{text}");
    browser.quit().await;
}

#[actix_web::test]
async fn a_supervisor_reads_the_month_and_clears_the_queue() {
    let Some(browser) = Browser::start("supervisor").await else {
        return;
    };
    let app = spawn_app().await;
    app.load_demo().await;
    // 2026-11-24 worked and its batch prepared, a write-off proposed today, a refund asked:
    // all by others than the supervisor.
    let waiting = a_batch_and_a_write_off_wait(&app, None).await;
    let refund = a_refund_waits(&app, None).await;
    create_staff(&app, Role::Supervisor, "王主管").await;

    // 月度报表 of November: the check against the ledger, then a table's XLSX downloaded.
    browser
        .sign_in_to(&app.url("/web/month?month=2026-11"), "王主管", PASSWORD)
        .await;
    let text = browser.wait_for_text("月度报表", 10).await;
    assert!(text.contains("本月合计与总账一致"), "{text}");
    assert!(
        text.contains("市场监督管理局"),
        "departments by name: {text}"
    );
    browser.fits_width(1280).await;
    browser.screenshot("month").await;
    browser.click("#t-by_department a.xlsx").await;
    let bytes = browser.downloaded(".xlsx", 20).await;
    let range = sheet(&bytes);
    let head = headings(&range);
    assert!(head.iter().any(|h| h.contains("部门")), "{head:?}");
    let text = in_english_and_back(&browser, "Monthly report", "月度报表", "month").await;
    assert!(
        text.contains("The month's totals agree with the ledger"),
        "{text}"
    );

    // 待审批, from the navigation: the three items oldest first, each approved from its row.
    browser.click("header nav a[href='/web/approvals']").await;
    let text = browser.wait_for_text("待审批（3）", 10).await;
    assert!(
        text.contains("缴库批次") && text.contains("对账核销"),
        "{text}"
    );
    browser.fits_width(1280).await;
    browser.screenshot("approvals").await;
    let text = in_english_and_back(
        &browser,
        "Awaiting approval (3)",
        "待审批（3）",
        "approvals",
    )
    .await;
    assert!(
        text.contains("Remittance batch") && text.contains("Write-off"),
        "{text}"
    );
    for (id, left) in [
        (waiting.batch.as_str(), "待审批（2）"),
        (waiting.write_off.as_str(), "待审批（1）"),
        (refund.as_str(), "没有等待审批的事项"),
    ] {
        browser.click(&format!("#approve-{id}")).await;
        browser.wait_for_text(left, 10).await;
        assert!(browser.url().await.ends_with("/web/approvals"));
    }
    browser.find("#queue-empty").await;

    // Each is approved, as the API tells.
    let (_, batch) = app
        .get(Role::Auditor, &format!("/v1/remittances/{}", waiting.batch))
        .await;
    assert_eq!(batch["status"], "approved", "{batch}");
    let (_, asked) = app
        .get(Role::Auditor, &format!("/v1/refunds/{refund}"))
        .await;
    assert_eq!(asked["status"], "approved", "{asked}");
    browser.quit().await;
}
