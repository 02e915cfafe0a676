//! The staff pages in a real browser (headless Chromium over WebDriver), on both databases:
//! sign in by typing, see today's figures after payments taken through the API's use case,
//! move by keyboard, switch language, sign out. Screenshots of each page are written to
//! `<target>/browser-artefacts/`.

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
        browser.source().await.contains("<svg"),
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
