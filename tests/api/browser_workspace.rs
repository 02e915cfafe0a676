//! The reconciliation workspace in a real browser (headless Chromium), on both databases: the
//! morning with every exception kind at 1,280 × 900 has no sideways scrolling (neither the
//! page nor any table's box); a finance
//! officer clears a pair with one click on its match button and claims a line settled twice
//! with a note and one click. Screenshots `workspace-open` and `workspace` are written to
//! `<target>/browser-artefacts/`.

use onecard::auth::Role;

use crate::support::spawn_app;
use crate::web_support::{create_staff, PASSWORD};
use crate::webdriver::Browser;
use crate::workspace::{a_morning_with_every_kind, rows, DAY};

#[actix_web::test]
async fn the_workspace_fits_1280_pixels_and_clears_by_clicking() {
    let Some(browser) = Browser::start("workspace").await else {
        return;
    };
    let app = spawn_app().await;
    a_morning_with_every_kind(&app).await;
    create_staff(&app, Role::Finance, "李会计").await;
    let recon = app.url(&format!("/web/reconciliation?date={DAY}"));
    browser.sign_in_to(&recon, "李会计", PASSWORD).await;
    browser.find("#ws-rows").await;
    browser.fits_width(1280).await;
    browser.screenshot("workspace-open").await;
    // The README's picture: the top of the page, where the morning's work is.
    browser.screenshot_top("workspace-top", 1400).await;

    let html = browser.client.source().await.expect("source");
    let all = rows(&html);
    assert_eq!(all.len(), 9);
    let missing = all
        .iter()
        .find(|r| r.is("清算缺失（账有单无）"))
        .expect("the missing payment");
    let (with, _) = missing
        .matches()
        .into_iter()
        .find(|(_, li)| li.contains("000000000549"))
        .expect("the stray line");
    browser
        .click(&format!("#x-{} button[value=\"{with}\"]", missing.id))
        .await;
    browser.wait_for_text("已匹配：", 10).await;

    let duplicate = all
        .iter()
        .find(|r| r.is("重复清算"))
        .expect("the duplicate");
    browser
        .type_into(
            &format!("#note-{}", duplicate.id),
            "已向收单机构追索重复清算款",
        )
        .await;
    browser
        .click(&format!("#x-{} button[value=\"bank_claim\"]", duplicate.id))
        .await;
    browser.wait_for_text("已索赔，待银行付款：", 10).await;

    let html = browser.client.source().await.expect("source");
    let now = rows(&html);
    let status = |id: &str| {
        now.iter()
            .find(|r| r.id == id)
            .map(|r| r.status())
            .unwrap_or_default()
    };
    assert_eq!(status(&missing.id), "已处理");
    assert_eq!(status(&duplicate.id), "已索赔，待银行付款");
    browser.fits_width(1280).await;
    browser.screenshot("workspace").await;
    browser.quit().await;
    app.stop().await;
}
