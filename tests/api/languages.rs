//! One language per page, end to end (issue 20): every page each role reaches, in Chinese and
//! in English, with a day whose exceptions are partly open (the close blocker shows) and a
//! problem page, holds no sentence of the other language; the API's problems, suggested
//! actions and report CSV follow `Accept-Language`, and `code` never changes with it.
//!
//! A Chinese page fails on two English words in a row (a word: letters only; codes such as
//! `D01`, ids, amounts, `bank_claim` are not words) outside `<code>`, attributes, scripts and
//! elements marked `lang="en"`. An English page fails on any CJK character outside elements
//! marked `lang="zh-CN"` (data such as payer and fee item names is so marked). Records shown as
//! written (ledger memos, audit changes) are marked `translate="no"` and skipped in both.

use std::collections::{BTreeSet, VecDeque};

use chrono::NaiveDate;
use onecard::auth::Role;
use onecard::words::has_cjk;

use crate::support::{spawn_app, TestApp};
use crate::web_support::{english_run, other_language, WebSession};

#[test]
fn the_checks_find_the_other_language() {
    assert_eq!(
        english_run("仍有 8 reconciliation exception(s) of the day 未处理").as_deref(),
        Some("of the")
    );
    assert_eq!(
        english_run("导出 CSV；业务日期 2026-11-24，窗口 W03，bank_claim 追索"),
        None
    );
    let zh = "<body><p>差异<code>open exceptions</code><span lang=\"en\">Acme Trading Co</span></p></body>";
    assert_eq!(other_language(zh, "zh"), None);
    let en = "<body><p>Payer <span lang=\"zh-CN\">张三 <b>李</b></span> paid</p></body>";
    assert_eq!(other_language(en, "en"), None);
    assert!(other_language("<body><p>Payer 张三</p></body>", "en").is_some());
}

/// A day with its exceptions worked but one: the close blocker shows on the day, report and
/// reconciliation pages. Returns the run id.
async fn day_with_blocker(app: &TestApp, day: NaiveDate) -> String {
    app.worked_day(day, true).await
}

async fn crawl(app: &TestApp, role: Role, day: NaiveDate, found: &mut BTreeSet<String>) -> usize {
    let mut s = WebSession::signed_in(app, role).await;
    let mut pages = 0;
    for lang in ["zh", "en"] {
        s.get(&format!("/web/lang?to={lang}&back=/web/today")).await;
        let mut seen = BTreeSet::new();
        let mut shapes = std::collections::HashMap::new();
        let mut queue: VecDeque<String> = VecDeque::from([
            format!("/web/today?date={day}"),
            "/web/today".to_string(),
            format!("/web/days?date={day}"),
            format!("/web/report?date={day}"),
            format!("/web/reconciliation?date={day}"),
            "/web/catalogue".to_string(),
            // A problem page: an unknown payment.
            "/web/payments/pay_nosuchpayment".to_string(),
        ]);
        while let Some(path) = queue.pop_front() {
            let shape: String = path
                .split('?')
                .next()
                .unwrap_or("")
                .chars()
                .map(|c| if c.is_ascii_digit() { '#' } else { c })
                .collect();
            let of_shape = shapes.entry(shape).or_insert(0);
            if seen.contains(&path) || *of_shape >= 2 || seen.len() > 90 {
                continue;
            }
            *of_shape += 1;
            seen.insert(path.clone());
            let page = s.get(&path).await;
            if !page.content_type.starts_with("text/html") {
                continue;
            }
            pages += 1;
            if let Some(other) = other_language(&page.body, lang) {
                let shape = path.split('?').next().unwrap_or("");
                found.insert(format!("{lang} {shape} ({}): {other:?}", page.status));
            }
            if page.status != 200 {
                continue;
            }
            for a in page.body.split("href=\"").skip(1) {
                let href = a.split('"').next().unwrap_or("").replace("&amp;", "&");
                if href.starts_with("/web/")
                    && !href.starts_with("/web/lang")
                    && !href.starts_with("/web/static")
                    && !href.contains("csv=")
                    && !href.contains("sign-out")
                    && !seen.contains(&href)
                {
                    queue.push_back(href);
                }
            }
        }
    }
    pages
}

#[actix_web::test]
async fn every_page_speaks_one_language() {
    let app = spawn_app().await;
    app.load_demo().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    day_with_blocker(&app, day).await;
    // The close is refused: a problem page with the blocker.
    let mut pages = 0;
    let mut found = BTreeSet::new();
    for role in [
        Role::Finance,
        Role::Supervisor,
        Role::Auditor,
        Role::Clerk,
        Role::Admin,
    ] {
        pages += crawl(&app, role, day, &mut found).await;
    }
    assert!(
        found.is_empty(),
        "the other language on pages:\n{}",
        found.into_iter().collect::<Vec<_>>().join("\n")
    );
    assert!(pages >= 60, "only {pages} pages");
}

async fn problem(
    app: &TestApp,
    path: &str,
    post: bool,
    lang: Option<&str>,
) -> (u16, String, serde_json::Value) {
    // Not the harness's client: it asks for English by default.
    let client = awc::Client::default();
    let req = if post {
        client.post(app.url(path))
    } else {
        client.get(app.url(path))
    };
    let req = req.bearer_auth(app.token(Role::Finance));
    let req = match lang {
        Some(l) => req.insert_header(("Accept-Language", l)),
        None => req,
    };
    let mut res = if post {
        req.insert_header(("content-type", "application/json"))
            .send_body("{}")
            .await
    } else {
        req.send().await
    }
    .expect("request");
    let content_language = res
        .headers()
        .get("content-language")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = res.body().await.expect("body");
    (
        res.status().as_u16(),
        content_language,
        serde_json::from_slice(&body).unwrap_or_default(),
    )
}

fn chinese(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[actix_web::test]
async fn problems_follow_accept_language_and_keep_their_code() {
    let app = spawn_app().await;
    app.load_demo().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let run = day_with_blocker(&app, day).await;
    let cases = [
        (format!("/v1/days/{day}/close"), true, "open_exceptions"),
        ("/v1/days/2026-13-01".to_string(), false, "invalid_request"),
        ("/v1/nowhere".to_string(), false, "not_found"),
        ("/v1/payments/pay_nosuch".to_string(), false, "not_found"),
        (
            format!("/v1/reconciliations/{run}/report?format=xml"),
            false,
            "invalid_request",
        ),
        ("/v1/reconciliations".to_string(), true, "invalid_request"),
    ];
    for (path, post, code) in &cases {
        let (status, cl, en) = problem(&app, path, *post, Some("en-US,en;q=0.9")).await;
        assert!(status >= 400, "{path}: {status}");
        assert_eq!(en["code"], *code, "{path}: {en}");
        assert_eq!(cl, "en", "{path}");
        for member in ["title", "detail"] {
            let text = en[member].as_str().expect(member);
            assert!(!has_cjk(text), "{path}: English {member} {text:?}");
        }
        for lang in [Some("zh-CN"), None, Some("fr, zh-Hans;q=0.5"), Some("de")] {
            let (_, cl, zh) = problem(&app, path, *post, lang).await;
            assert_eq!(zh["code"], *code, "{path} {lang:?}");
            assert_eq!(cl, "zh-CN", "{path} {lang:?}");
            let (title, detail) = (
                zh["title"].as_str().unwrap(),
                zh["detail"].as_str().unwrap(),
            );
            assert!(chinese(title), "{path} {lang:?}: {title}");
            assert!(chinese(detail), "{path} {lang:?}: {detail}");
            assert_eq!(english_run(detail), None, "{path}: {detail}");
        }
    }
    // The blocker's detail counts the open exceptions in Chinese.
    let (_, _, zh) = problem(&app, &format!("/v1/days/{day}/close"), true, None).await;
    assert!(zh["detail"].as_str().unwrap().contains("1 笔"), "{zh}");

    // Suggested actions: codes, said in the request's language.
    for (lang, want_chinese) in [("en", false), ("zh-CN", true)] {
        let mut res = app
            .client
            .get(app.url(&format!("/v1/reconciliations/{run}/exceptions?limit=1000")))
            .bearer_auth(app.token(Role::Finance))
            .insert_header(("Accept-Language", lang))
            .send()
            .await
            .expect("request");
        let listed: serde_json::Value =
            serde_json::from_slice(&res.body().await.expect("body")).expect("json");
        let items = listed["items"].as_array().expect("items");
        assert!(!items.is_empty());
        for x in items {
            let action = x["suggested_action"].as_str().expect("action");
            assert!(x["suggested_action_code"].is_string(), "{x}");
            assert_eq!(chinese(action), want_chinese, "{lang}: {action}");
            assert_eq!(has_cjk(action), want_chinese, "{lang}: {action}");
        }
        // The report's CSV: its headings in the language too.
        let mut res = app
            .client
            .get(app.url(&format!("/v1/reconciliations/{run}/report?format=csv")))
            .bearer_auth(app.token(Role::Finance))
            .insert_header(("Accept-Language", lang))
            .send()
            .await
            .expect("request");
        let csv = String::from_utf8(res.body().await.expect("body").to_vec()).expect("utf-8");
        let first = csv.lines().next().unwrap_or("");
        assert_eq!(chinese(first), want_chinese, "{lang}: {first}");
    }
}

/// Rows stored before migration 000029 carry an English sentence and no code: the migration's
/// UPDATE gives each known sentence its code (an unknown one stays as stored), and a row it
/// did not reach reads as its code all the same.
#[actix_web::test]
async fn sentences_stored_before_the_codes_become_codes() {
    use diesel::prelude::*;
    use onecard::db::schema::recon_exceptions as ex;
    use onecard::words::Suggestion;
    let app = spawn_app().await;
    app.load_demo().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let run = day_with_blocker(&app, day).await;
    // The same SQL on both databases.
    let up = include_str!("../../migrations/sqlite/2026-12-10-000029_action_codes/up.sql");
    assert_eq!(
        up,
        include_str!("../../migrations/postgres/2026-12-10-000029_action_codes/up.sql")
    );
    let update = &up[up.find("UPDATE recon_exceptions").expect("the backfill")..];
    let ids: Vec<String> = {
        let mut conn = app.ctx.conn().expect("conn");
        ex::table
            .filter(ex::run_id.eq(&run))
            .select(ex::id)
            .order(ex::id)
            .load(&mut *conn)
            .expect("ids")
    };
    assert!(ids.len() >= 2, "{ids:?}");
    let legacy = Suggestion::ReportUnexplainedDebit.stored_sentence();
    {
        let mut conn = app.ctx.conn().expect("conn");
        diesel::update(ex::table.filter(ex::run_id.eq(&run)))
            .set((
                ex::action_code.eq(None::<String>),
                ex::suggested_action.eq(legacy),
            ))
            .execute(&mut *conn)
            .expect("as before 000029");
        diesel::update(ex::table.find(&ids[0]))
            .set(ex::suggested_action.eq("ask the acquirer"))
            .execute(&mut *conn)
            .expect("an unknown sentence");
    }
    // Not yet backfilled: read from the sentence.
    let (_, listed) = app
        .get(
            Role::Finance,
            &format!("/v1/reconciliations/{run}/exceptions?limit=1000"),
        )
        .await;
    for x in listed["items"].as_array().expect("items") {
        if x["id"] == ids[0].as_str() {
            assert!(x["suggested_action_code"].is_null(), "{x}");
            assert_eq!(x["suggested_action"], "ask the acquirer");
        } else {
            assert_eq!(
                x["suggested_action_code"], "report_unexplained_debit",
                "{x}"
            );
            assert_eq!(
                x["suggested_action"],
                Suggestion::ReportUnexplainedDebit.text(onecard::words::Lang::En)
            );
        }
    }
    let mut conn = app.ctx.conn().expect("conn");
    diesel::sql_query(update)
        .execute(&mut *conn)
        .expect("backfill");
    let codes: Vec<(String, Option<String>)> = ex::table
        .filter(ex::run_id.eq(&run))
        .select((ex::id, ex::action_code))
        .order(ex::id)
        .load(&mut *conn)
        .expect("codes");
    for (id, code) in codes {
        let want = (id != ids[0]).then(|| "report_unexplained_debit".to_string());
        assert_eq!(code, want, "{id}");
    }
}
