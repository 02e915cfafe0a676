//! The finance staff's morning through the pages, on both databases: the fixture files of
//! 24 November 2026 uploaded through the reconciliation page's multipart form (import as a task
//! with progress), the reconciliation run from the page, its tiers, every exception worked
//! through its form (a write-off approved by a second person), the day closed from the page
//! (refused first, with the use case's code), a remittance prepared and approved from the pages
//! and its file downloaded, the printable daily report, and every table's CSV. Forms without
//! the CSRF token, and roles without the right, change nothing.

use chrono::NaiveDate;
use onecard::auth::Role;

use crate::support::{spawn_app, spawn_app_with, TestApp};
use crate::web_support::{Page, WebSession};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
const DAY: &str = "2026-11-24";
const RECON: &str = "/web/reconciliation?date=2026-11-24";
const DAYS: &str = "/web/days?date=2026-11-24";
const BOUNDARY: &str = "----onecard-test-boundary-7c1f";

/// A multipart body: text fields in order, then the file part (if any).
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((file_name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{path}")).expect("fixture")
}

/// Uploads through the page's form (the session's token first) and answers the redirect.
async fn upload(s: &mut WebSession<'_>, spec: &str, name: &str, bytes: &[u8]) -> Page {
    let csrf = s.get(RECON).await.csrf().expect("csrf");
    s.post_body(
        "/web/reconciliation/upload",
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        multipart(
            &[("csrf", &csrf), ("date", DAY), ("spec", spec)],
            Some((name, bytes)),
        ),
    )
    .await
}

/// Follows a task page until the task has ended; answers the last page.
async fn follow(s: &mut WebSession<'_>, started: &Page) -> Page {
    assert_eq!(started.status, 303, "{}", started.body);
    let at = started.location.clone().expect("location");
    assert!(at.starts_with("/web/jobs/"), "{at}");
    for _ in 0..400 {
        let page = s.get(&at).await;
        assert_eq!(page.status, 200, "{}", page.body);
        if page.body.contains("id=\"job-done\"") || page.body.contains("id=\"job-failed\"") {
            return page;
        }
        // Still running: the page refreshes itself and says how far the task has got.
        assert!(page.body.contains("id=\"job-running\""), "{}", page.body);
        assert!(page.body.contains("http-equiv=\"refresh\""));
        actix_web::rt::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the task at {at} did not end");
}

/// Every CSV link on a page downloads as CSV (with the byte-order mark), and a table that is not
/// on the page is a 404. Answers the number of tables.
async fn every_csv(s: &mut WebSession<'_>, page: &Page) -> usize {
    let mut links: Vec<String> = page
        .body
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|h| h.contains("csv="))
        .map(|h| h.replace("&amp;", "&").replace("&#38;", "&"))
        .collect();
    links.sort();
    links.dedup();
    for link in &links {
        let csv = s.get(link).await;
        assert_eq!(csv.status, 200, "{link}: {}", csv.body);
        assert!(csv.content_type.starts_with("text/csv"), "{link}");
        assert!(csv.body.starts_with('\u{feff}'), "{link}");
        assert!(csv.body.lines().count() >= 2, "{link}: {}", csv.body);
    }
    links.len()
}

async fn csv(s: &mut WebSession<'_>, path: &str) -> Vec<Vec<String>> {
    let page = s.get(path).await;
    assert_eq!(page.status, 200, "{path}: {}", page.body);
    assert!(page.content_type.starts_with("text/csv"), "{path}");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(page.body.trim_start_matches('\u{feff}').as_bytes());
    reader
        .records()
        .map(|r| r.expect("row").iter().map(str::to_string).collect())
        .collect()
}

async fn imported_files(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use onecard::db::schema::settlement_files;
    let mut conn = app.ctx.conn().expect("conn");
    settlement_files::table
        .count()
        .get_result(&mut *conn)
        .expect("count")
}

#[actix_web::test]
async fn the_morning_through_the_pages() {
    let app = spawn_app().await;
    app.load_demo().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
    app.capture_night_sales(day).await;
    let mut finance = WebSession::signed_in(&app, Role::Finance).await;
    let mut supervisor = WebSession::signed_in(&app, Role::Supervisor).await;
    let mut auditor = WebSession::signed_in(&app, Role::Auditor).await;

    // Nothing imported yet; finance sees the upload and run forms, an auditor neither.
    let page = finance.get(RECON).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("尚未导入该日的清算文件或对账单"));
    assert!(page.body.contains("id=\"no-run\""));
    for form in ["id=\"upload-form\"", "id=\"run-form\""] {
        assert!(page.body.contains(form), "{form}");
    }
    assert!(page.body.contains("<label for=\"upload-file\">"));
    assert!(page.body.contains("enctype=\"multipart/form-data\""));
    let read_only = auditor.get(RECON).await;
    assert_eq!(read_only.status, 200);
    assert!(
        !read_only.body.contains("id=\"upload-form\"")
            && !read_only.body.contains("id=\"run-form\"")
    );

    // An upload without the token, or with another session's, or by a role that may not
    // import, stores nothing.
    let pos = fixture("pos-settlement-fixed-width/ok/POS_898440379930001_20261124.txt");
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let no_token = finance
        .post_body(
            "/web/reconciliation/upload",
            &content_type,
            multipart(&[("date", DAY), ("spec", "")], Some(("POS.txt", &pos))),
        )
        .await;
    assert_eq!(no_token.status, 403);
    assert!(no_token.body.contains("form_expired"));
    let theirs = auditor.get(RECON).await.csrf().expect("csrf");
    let cross = finance
        .post_body(
            "/web/reconciliation/upload",
            &content_type,
            multipart(&[("csrf", &theirs)], Some(("POS.txt", &pos))),
        )
        .await;
    assert_eq!(cross.status, 403);
    let refused = upload(&mut auditor, "", "POS_898440379930001_20261124.txt", &pos).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("无权操作"));
    assert_eq!(imported_files(&app).await, 0);
    // A file whose format cannot be told from its name must name it.
    let unknown = upload(&mut finance, "", "settlement.bin", &pos).await;
    assert_eq!(unknown.status, 422);
    assert!(unknown.body.contains("spec"));

    // The three files of the night: two recognised by name, one with the format chosen. Each
    // import runs as a task whose page ends with what was read and a link back.
    for (spec, path, records) in [
        (
            "",
            "pos-settlement-fixed-width/ok/POS_898440379930001_20261124.txt",
            5,
        ),
        (
            "onecard-settlement-csv",
            "onecard-settlement-csv/ok/YKT_310000000000021_20261124.csv",
            4,
        ),
        (
            "",
            "collection-account-statement-csv/ok/33050161234500001234_20261125_20261125.csv",
            4,
        ),
    ] {
        let name = path.rsplit('/').next().expect("name");
        let started = upload(&mut finance, spec, name, &fixture(path)).await;
        let done = follow(&mut finance, &started).await;
        assert!(done.body.contains("id=\"job-done\""), "{}", done.body);
        assert!(
            done.body.contains(&format!("：{records} 条记录")),
            "{name}: {}",
            done.body
        );
        assert!(done.body.contains(&format!("href=\"{RECON}\"")));
    }
    assert_eq!(imported_files(&app).await, 3);
    // The same bytes again are recognised, not stored twice; a corrupt file is refused whole.
    let again = upload(&mut finance, "", "POS_898440379930001_20261124.txt", &pos).await;
    let again = follow(&mut finance, &again).await;
    assert!(again.body.contains("此前已导入"), "{}", again.body);
    let corrupt = upload(
        &mut finance,
        "collection-account-statement-csv",
        "footers-missing.csv",
        &fixture("collection-account-statement-csv/bad/footers-missing.csv"),
    )
    .await;
    let corrupt = follow(&mut finance, &corrupt).await;
    assert!(
        corrupt.body.contains("id=\"job-failed\""),
        "{}",
        corrupt.body
    );
    assert!(corrupt.body.contains("<code>file_corrupt</code>"));
    assert_eq!(imported_files(&app).await, 3);

    let files = csv(&mut finance, &format!("{RECON}&csv=files")).await;
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files
        .iter()
        .any(|f| f[0] == "POS_898440379930001_20261124.txt" && f[3] == "5"));

    // Run the reconciliation from the page: a task reporting its phases, ending with the
    // summary; an auditor may not, and a run without the token does not start.
    let run_form = [("date", DAY)];
    assert_eq!(
        auditor
            .post(RECON, "/web/reconciliation/run", &run_form)
            .await
            .status,
        403
    );
    assert_eq!(
        finance
            .post_raw("/web/reconciliation/run", &run_form)
            .await
            .status,
        403
    );
    assert!(finance.get(RECON).await.body.contains("id=\"no-run\""));
    let started = finance
        .post(RECON, "/web/reconciliation/run", &run_form)
        .await;
    let done = follow(&mut finance, &started).await;
    assert!(done.body.contains("对账完成 2026-11-24"), "{}", done.body);
    assert!(done.body.contains("已匹配 1"), "{}", done.body);

    // The tiers, and the exceptions blocking the close.
    let page = finance.get(RECON).await;
    assert!(page.body.contains("id=\"run-id\""));
    assert!(
        page.body.contains("交易层")
            && page.body.contains("资金层")
            && page.body.contains("余额层")
    );
    assert!(
        page.body.contains("data-code=\"open_exceptions\""),
        "the close is blocked"
    );
    let tiers = csv(&mut finance, &format!("{RECON}&csv=tiers")).await;
    let count = |cat: &str| {
        tiers
            .iter()
            .find(|r| r[1] == cat)
            .map(|r| r[2].clone())
            .unwrap_or_default()
    };
    let (_, api_runs) = app
        .get(
            Role::Finance,
            &format!("/v1/reconciliations/{}", run_id(&page)),
        )
        .await;
    assert_eq!(count("已匹配"), api_runs["summary"]["matched"].to_string());
    assert_eq!(
        count("资金已到账"),
        api_runs["summary"]["cash_matched"].to_string()
    );
    let exceptions = csv(&mut finance, &format!("{RECON}&csv=exceptions")).await;
    assert!(exceptions.len() >= 3, "{exceptions:?}");
    assert_eq!(
        exceptions.len() as i64,
        api_runs["open_exceptions"].as_i64().expect("open")
    );
    // Filters narrow the list.
    let open_only = csv(
        &mut finance,
        &format!("{RECON}&status=resolved&csv=exceptions"),
    )
    .await;
    assert!(open_only.is_empty());
    let missing = csv(
        &mut finance,
        &format!("{RECON}&kind=missing_in_ledger&csv=exceptions"),
    )
    .await;
    assert!(
        missing.iter().all(|r| r[1] == "账簿缺失（单有账无）"),
        "{missing:?}"
    );

    // The day cannot close yet: the page says why, and the close is refused with the code.
    let days_page = finance.get(DAYS).await;
    assert!(days_page.body.contains("data-code=\"open_exceptions\""));
    assert!(days_page.body.contains("id=\"close-form\""));
    assert_eq!(
        every_csv(&mut finance, &days_page).await,
        1,
        "the open exceptions"
    );
    let refused = finance
        .post(DAYS, "/web/days/close", &[("date", DAY)])
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("<code>open_exceptions</code>"));
    let (_, state) = app.get(Role::Auditor, &format!("/v1/days/{DAY}")).await;
    assert_eq!(state["status"], "open");

    // Work every exception through its form. Without the token, or as an auditor, nothing
    // changes; a wrong action is a clear 422.
    let first = exceptions[0][0].clone();
    let resolve = format!("/web/exceptions/{first}/resolve");
    let fields = [
        ("action", "accept_timing"),
        ("note", "web: timing"),
        ("back", RECON),
    ];
    assert_eq!(finance.post_raw(&resolve, &fields).await.status, 403);
    assert_eq!(auditor.post(RECON, &resolve, &fields).await.status, 403);
    let bad = finance
        .post(RECON, &resolve, &[("action", "shrug"), ("note", "x")])
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("action"));
    let still = csv(&mut finance, &format!("{RECON}&status=open&csv=exceptions")).await;
    assert_eq!(still.len(), exceptions.len());

    // A sale the acquirer settled short is a shortfall: the first is written off (two
    // people); a missing payment clears on a later day; anything else is claimed.
    let mut write_off = None;
    for e in exceptions.iter() {
        let action = if e[1] == "金额不符" && write_off.is_none() {
            "write_off"
        } else if e[1] == "清算缺失（账有单无）" {
            "accept_timing"
        } else {
            "bank_claim"
        };
        let done = finance
            .post(
                RECON,
                &format!("/web/exceptions/{}/resolve", e[0]),
                &[("action", action), ("note", "web: worked"), ("back", RECON)],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(done.location.as_deref(), Some(RECON));
        if action == "write_off" {
            write_off = Some(e[0].clone());
            // The next page says once what happened.
            let shown = finance.get(RECON).await;
            assert!(shown.body.contains("已提交，待另一人审批"), "the message");
            assert!(
                !finance
                    .get(RECON)
                    .await
                    .body
                    .contains("已提交，待另一人审批"),
                "once"
            );
        }
    }
    let write_off = write_off.unwrap_or_else(|| panic!("a write-off among {exceptions:?}"));
    // The write-off waits for a second person: its proposer sees no approve button (and is
    // refused if they post one anyway); the second person sees it.
    let approve_form = format!("action=\"/web/exceptions/{write_off}/approve\"");
    assert!(!finance.get(RECON).await.body.contains(&approve_form));
    assert!(supervisor.get(RECON).await.body.contains(&approve_form));
    let approve = format!("/web/exceptions/{write_off}/approve");
    let same = finance.post(RECON, &approve, &[("back", RECON)]).await;
    assert_eq!(same.status, 403);
    assert!(same.body.contains("<code>same_person</code>"));
    let ok = supervisor.post(RECON, &approve, &[("back", RECON)]).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let worked = csv(&mut finance, &format!("{RECON}&csv=exceptions")).await;
    assert!(
        worked
            .iter()
            .all(|r| r[6] == "已处理" || r[6] == "已索赔，待银行付款"),
        "{worked:?}"
    );
    let approved = worked.iter().find(|r| r[0] == write_off).expect("row");
    assert!(
        approved[9].contains("supervisor:web-supervisor"),
        "{approved:?}"
    );
    assert!(finance.get(RECON).await.body.contains("没有阻止结账的事项"));

    // Close the day from the page; the seal shows with how to check it, and it verifies.
    assert_eq!(
        auditor
            .post(DAYS, "/web/days/close", &[("date", DAY)])
            .await
            .status,
        403
    );
    assert_eq!(
        finance
            .post_raw("/web/days/close", &[("date", DAY)])
            .await
            .status,
        403
    );
    let closed = finance
        .post(DAYS, "/web/days/close", &[("date", DAY)])
        .await;
    assert_eq!(closed.status, 303, "{}", closed.body);
    assert_eq!(closed.location.as_deref(), Some(DAYS));
    let days_page = finance.get(DAYS).await;
    assert!(days_page.body.contains("已结账并签章"));
    assert!(days_page.body.contains("openssl pkeyutl -verify"));
    // The commands the page gives, run as a stranger would: OpenSSL agrees the seal is genuine.
    let script = {
        let at = days_page
            .body
            .find("<pre id=\"verify-script\">")
            .expect("script")
            + "<pre id=\"verify-script\">".len();
        let end = at + days_page.body[at..].find("</pre>").expect("end");
        unescape_html(&days_page.body[at..end])
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .output()
        .expect("bash");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("Signature Verified Successfully"),
        "{script}\n{said}"
    );
    let (_, sealed) = app.get(Role::Auditor, &format!("/v1/days/{DAY}")).await;
    assert_eq!(sealed["status"], "closed");
    let seal = sealed["seal"].as_str().expect("seal");
    assert!(days_page.body.contains(seal));
    assert!(days_page
        .body
        .contains(sealed["last_entry_hash"].as_str().expect("hash")));
    assert!(
        app.seal_verifies(
            day,
            sealed["last_entry_hash"].as_str().expect("hash"),
            sealed["entries"].as_i64().expect("entries"),
            seal
        )
        .await
    );
    assert!(!days_page.body.contains("id=\"close-form\""));
    assert!(!finance.get(RECON).await.body.contains("id=\"run-form\""));

    // Prepare the remittance: finance only, with the token.
    let list = finance.get("/web/remittances").await;
    assert!(list.body.contains("id=\"prepare-form\""));
    assert!(!supervisor
        .get("/web/remittances")
        .await
        .body
        .contains("id=\"prepare-form\""));
    let prepare = [("date", DAY)];
    assert_eq!(
        supervisor
            .post("/web/remittances", "/web/remittances", &prepare)
            .await
            .status,
        403
    );
    assert_eq!(
        finance.post_raw("/web/remittances", &prepare).await.status,
        403
    );
    let (_, none) = app.get(Role::Auditor, "/v1/remittances").await;
    assert_eq!(none["items"].as_array().map(Vec::len), Some(0));
    let prepared = finance
        .post("/web/remittances", "/web/remittances", &prepare)
        .await;
    assert_eq!(prepared.status, 303, "{}", prepared.body);
    let batch_page = prepared.location.clone().expect("location");
    assert_eq!(batch_page, "/web/remittances/rem_20261124");
    let twice = finance
        .post("/web/remittances", "/web/remittances", &prepare)
        .await;
    assert_eq!(twice.status, 409);
    assert!(twice.body.contains("<code>already_remitted</code>"));

    let page = finance.get(&batch_page).await;
    assert!(page.body.contains("已编制，待审批"));
    assert!(
        !page.body.contains("id=\"approve-form\""),
        "finance may not approve"
    );
    assert!(!page.body.contains("id=\"file-link\""));
    let receipts = csv(&mut finance, &format!("{batch_page}?csv=receipts")).await;
    assert_eq!(receipts.len(), 2, "the two receipts: {receipts:?}");
    let subjects = csv(&mut finance, &format!("{batch_page}?csv=subjects")).await;
    let (_, api_batch) = app.get(Role::Finance, "/v1/remittances/rem_20261124").await;
    assert_eq!(
        subjects.last().map(|r| r[3].clone()),
        api_batch["amount"].as_str().map(str::to_string),
        "{subjects:?}"
    );
    // The preparer cannot approve (not a supervisor), nor can a form without the token.
    let approve = format!("{batch_page}/approve");
    assert_eq!(finance.post(&batch_page, &approve, &[]).await.status, 403);
    assert_eq!(supervisor.post_raw(&approve, &[]).await.status, 403);
    let file_path = format!("{batch_page}/file");
    assert_eq!(finance.get(&file_path).await.status, 404);
    let (_, still) = app.get(Role::Auditor, "/v1/remittances/rem_20261124").await;
    assert_eq!(still["status"], "prepared");
    let approved = supervisor.post(&batch_page, &approve, &[]).await;
    assert_eq!(approved.status, 303, "{}", approved.body);
    let page = supervisor.get(&batch_page).await;
    assert!(page.body.contains("已审批，待国库确认"));
    assert!(page.body.contains("id=\"file-link\""));

    // The file is the API's, byte for byte, with the same digest and signature headers.
    let file = finance.get(&file_path).await;
    assert_eq!(file.status, 200);
    assert!(file.content_type.starts_with("application/xml"));
    let mut res = app
        .client
        .get(app.url("/v1/remittances/rem_20261124/file"))
        .bearer_auth(app.token(Role::Finance))
        .send()
        .await
        .expect("request");
    let api_bytes = res.body().await.expect("body");
    assert_eq!(file.bytes, api_bytes.to_vec());
    let web_file = finance
        .client
        .get(app.url(&file_path))
        .insert_header((
            "cookie",
            format!("onecard_session={}", finance.cookies["onecard_session"]),
        ))
        .send()
        .await
        .expect("request");
    for h in ["digest", "x-onecard-signature", "content-disposition"] {
        assert_eq!(web_file.headers().get(h), res.headers().get(h), "{h}");
    }

    // The daily report shows the day's figures, for print.
    let report = finance.get("/web/report?date=2026-11-24").await;
    assert_eq!(report.status, 200, "{}", report.body);
    for text in [
        "¥750.00",
        "使用浏览器的打印功能（Ctrl+P）",
        "class=\"print-only report-head\"",
        "制表",
        "复核",
        "已审批，待国库确认",
        "已结账",
        seal,
        "平衡",
    ] {
        assert!(report.body.contains(text), "{text}");
    }
    let trial = csv(
        &mut finance,
        "/web/report?date=2026-11-24&csv=trial_balance",
    )
    .await;
    assert_eq!(trial.len(), 2, "{trial:?}");
    assert!(trial.iter().all(|r| r[1] == r[2]), "{trial:?}");
    let by_channel = csv(&mut finance, "/web/report?date=2026-11-24&csv=by_channel").await;
    assert_eq!(by_channel[0], ["银行卡", "2", "750.00"]);

    // Every table on every page downloads as CSV; an unknown table is a 404.
    for path in [
        RECON,
        "/web/remittances",
        &batch_page,
        "/web/report?date=2026-11-24",
    ] {
        let page = finance.get(path).await;
        assert!(every_csv(&mut finance, &page).await >= 1, "{path}");
    }
    assert_eq!(finance.get(&format!("{RECON}&csv=nope")).await.status, 404);

    // Roles without the pages: a clerk sees none of them.
    let mut clerk = WebSession::signed_in(&app, Role::Clerk).await;
    for path in [RECON, DAYS, "/web/remittances", &batch_page, "/web/report"] {
        assert_eq!(clerk.get(path).await.status, 403, "{path}");
    }
    // And in English.
    finance.get("/web/lang?to=en&back=/web/report").await;
    let en = finance.get(RECON).await;
    assert!(en.body.contains("Reconciliation") && en.body.contains("The three tiers"));
    app.stop().await;
}

fn run_id(page: &Page) -> String {
    let at = page.body.find("id=\"run-id\">").expect("run id") + "id=\"run-id\">".len();
    page.body[at..].split('<').next().expect("id").to_string()
}

#[actix_web::test]
async fn bad_input_on_the_morning_pages_is_a_clear_page_never_a_500() {
    let app = spawn_app_with(|c| c.upload_limit_bytes = 4096).await;
    let mut finance = WebSession::signed_in(&app, Role::Finance).await;
    for path in [
        "/web/reconciliation?date=24.11.2026",
        "/web/days?date=yesterday",
        "/web/report?date=2026-02-30",
        "/web/remittances?after=nope",
    ] {
        let page = finance.get(path).await;
        assert_eq!(page.status, 422, "{path}: {}", page.body);
    }
    assert_eq!(finance.get("/web/remittances/rem_nope").await.status, 404);
    assert_eq!(
        finance.get("/web/remittances/rem_nope/file").await.status,
        404
    );
    // Not a multipart form, an empty file part, an unknown spec: each says what is wrong.
    let csrf = finance.get(RECON).await.csrf().expect("csrf");
    let plain = finance
        .post_raw("/web/reconciliation/upload", &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(plain.status, 400, "{}", plain.body);
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let empty = finance
        .post_body(
            "/web/reconciliation/upload",
            &content_type,
            multipart(&[("csrf", &csrf), ("date", DAY)], Some(("", b""))),
        )
        .await;
    assert_eq!(empty.status, 422, "{}", empty.body);
    assert!(empty.body.contains("file"));
    let unknown = finance
        .post_body(
            "/web/reconciliation/upload",
            &content_type,
            multipart(
                &[("csrf", &csrf), ("spec", "no-such-spec")],
                Some(("x.txt", b"x")),
            ),
        )
        .await;
    assert_eq!(unknown.status, 422);
    assert!(unknown.body.contains("<code>unknown_spec</code>"));
    // The token is checked before the file is read; the file is held to the upload limit; no
    // spooled part is left behind either way.
    let big = vec![b'x'; 8 * 1024];
    let unsigned = finance
        .post_body(
            "/web/reconciliation/upload",
            &content_type,
            multipart(&[("date", DAY)], Some(("big.txt", &big))),
        )
        .await;
    assert_eq!(unsigned.status, 403, "{}", unsigned.body);
    assert!(unsigned.body.contains("form_expired"));
    let too_big = finance
        .post_body(
            "/web/reconciliation/upload",
            &content_type,
            multipart(
                &[("csrf", &csrf), ("spec", "mt940")],
                Some(("big.sta", &big)),
            ),
        )
        .await;
    assert_eq!(too_big.status, 413, "{}", too_big.body);
    assert!(too_big.body.contains("<code>payload_too_large</code>"));
    let spooled = std::fs::read_dir(app.db.dir.path().join("uploads"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(spooled, 0);
    assert_eq!(imported_files(&app).await, 0);
    // A day that is not over cannot close; a day without anything to remit cannot be remitted.
    let today = onecard::clock::today().to_string();
    let early = finance
        .post("/web/days", "/web/days/close", &[("date", &today)])
        .await;
    assert_eq!(early.status, 409);
    assert!(early.body.contains("<code>day_not_over</code>"));
    let not_closed = finance
        .post("/web/remittances", "/web/remittances", &[("date", DAY)])
        .await;
    assert_eq!(not_closed.status, 409);
    assert!(not_closed.body.contains("<code>day_not_closed</code>"));
    app.stop().await;
}

/// Undoes HTML escaping: named `&lt; &gt; &quot; &amp;` and numeric `&#NN;` / `&#xNN;`.
fn unescape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let Some(end) = tail.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..end];
        let ch = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "amp" => Some('&'),
            "apos" => Some('\''),
            e => e
                .strip_prefix("#x")
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| e.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
