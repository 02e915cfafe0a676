//! The reconciliation workspace (issue 20, item 3), on both databases: a morning with every
//! exception kind (a payment the acquirer did not settle beside a line nobody took, a sale
//! settled short, a line settled twice, a voided sale settled anyway, a file's credit short,
//! an old file's credit missing past the horizon beside a credit nothing explains) is cleared
//! from the reconciliation page alone, posting only the forms its rows show: the pair matched
//! in one action, the old file settled by the credit (a second person approves), the short
//! sale written off (a second person approves), the rest claimed; then the day closes. The
//! Chinese page holds no English sentence and no bare department code.
//!
//! The payments are captured through the use case (a past business day cannot be paid at the
//! counter today); everything else goes over HTTP.

use chrono::NaiveDate;
use onecard::auth::Role;
use serde_json::Value;

use crate::reconciliation::pos_file;
use crate::support::{spawn_app, TestApp};
use crate::web_support::{other_language, WebSession};

/// Tuesday 24 November 2026.
pub(crate) const DAY: &str = "2026-11-24";
/// Its department, D04, by name.
const DEPARTMENT: &str = "市场监督管理局";
/// The RRN of the line nobody took (trace 99).
const STRAY_RRN: &str = "000000000549";

/// The collection account's statement of 24–25 November (GBK): two credits of 119.90 on the
/// 24th that name nothing (two, so the matcher's fallback by amount does not guess which pays
/// the old file: a person does), and the acquirer's credit on the 25th for the file of the
/// 24th, one yuan short (397.75 of 398.75).
fn statement() -> Vec<u8> {
    let text = "账号,33050161234500001234\r\n户名,某市财政局非税收入汇缴结算户\r\n币种,人民币\r\n\
         起止日期,20261124,20261125\r\n\
         交易日期,交易时间,摘要,借方发生额,贷方发生额,余额,对方账号,对方户名,交易流水号,附言\r\n\
         20261124,101500,转账,,119.90,119.90,6222020000001234,某区财政局,B202611240002,补付款项\r\n\
         20261124,143000,转账,,119.90,239.80,6222020000005678,某街道办事处,B202611240003,退回款项\r\n\
         20261125,061502,POS清算,,397.75,637.55,898440379930001,某收单机构清算户,B202611250001,POS清算 898440379930001 20261124\r\n\
         借方合计,0,\r\n贷方合计,3,637.55\r\n";
    encoding_rs::GBK.encode(text).0.into_owned()
}

/// The morning of [`DAY`]: four 80.00 sales at terminal 11002001 (the third voided); the
/// acquirer's file settles the first twice, the second at 79.00, the voided third, and a
/// stray 80.00 sale (trace 99) but not the fourth; a file of Monday the 16th (119.90 net)
/// whose credit never came (119.90 net); the statement above. Reconciled through the API: returns the run.
pub(crate) async fn a_morning_with_every_kind(app: &TestApp) -> Value {
    app.load_demo().await;
    let day = NaiveDate::parse_from_str(DAY, "%Y-%m-%d").expect("date");
    let mut ids = Vec::new();
    for n in 1..=4u32 {
        let (trace, rrn) = (format!("{n:06}"), format!("000000000{}", 450 + n));
        ids.push(
            app.capture_on(day, "ZR-BDC-01", "80.00", &trace, &rrn)
                .await,
        );
    }
    onecard::payments::void(&app.ctx.writer, ids[2].clone(), "clerk:e2e".into(), day)
        .await
        .expect("voided the same day");
    let old = NaiveDate::from_ymd_opt(2026, 11, 16).expect("date");
    assert_eq!(
        onecard::recon::matcher::business_days_between(old, day),
        6,
        "past the five-day horizon"
    );
    for file in [
        pos_file(
            day,
            &[
                (1, 8000, 5),
                (1, 8000, 5),
                (2, 7900, 5),
                (3, 8000, 5),
                (99, 8000, 5),
            ],
        ),
        pos_file(old, &[(50, 12000, 10)]),
    ] {
        let (status, body) = app
            .upload(Role::Finance, "spec=pos-settlement-fixed-width", file)
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=collection-account-statement-csv",
            statement(),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let run = app.reconcile(day).await;
    for kind in [
        "amount_mismatch",
        "missing_in_settlement",
        "missing_in_ledger",
        "duplicate_in_settlement",
        "void_settled",
        "cash_mismatch",
        "cash_missing",
        "unexpected_statement_line",
    ] {
        let want = if kind == "unexpected_statement_line" {
            2
        } else {
            1
        };
        assert_eq!(run["summary"][kind], want, "{kind}: {run}");
    }
    run
}

/// One row of the workspace as the page draws it.
#[derive(Debug)]
pub(crate) struct Row {
    pub id: String,
    pub html: String,
}

impl Row {
    /// Is the row of this kind (its label in Chinese)?
    pub fn is(&self, kind: &str) -> bool {
        self.html.contains(&format!("class=\"ws-what\">{kind}"))
    }

    /// Its status tag's words.
    pub fn status(&self) -> String {
        let at = self.html.find("<span class=\"tag").expect("a status tag");
        let from = at + self.html[at..].find('>').expect("tag") + 1;
        self.html[from..]
            .split('<')
            .next()
            .unwrap_or("")
            .to_string()
    }

    /// The actions its buttons offer (`bank_claim`, …).
    pub fn actions(&self) -> Vec<String> {
        values_after(&self.html, "name=\"action\" value=\"")
    }

    /// The candidates its match buttons name, with the candidate's line of HTML.
    pub fn matches(&self) -> Vec<(String, String)> {
        self.html
            .split("<li>")
            .skip(1)
            .filter_map(|li| {
                let v = values_after(li, "name=\"with\" value=\"");
                v.first().map(|v| (v.clone(), li.to_string()))
            })
            .collect()
    }

    /// Does it show an approve button?
    pub fn approvable(&self) -> bool {
        self.html
            .contains(&format!("action=\"/web/exceptions/{}/approve\"", self.id))
    }
}

fn values_after(html: &str, marker: &str) -> Vec<String> {
    html.split(marker)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

/// The workspace's rows on a page.
pub(crate) fn rows(html: &str) -> Vec<Row> {
    let Some(start) = html.find("id=\"ws-rows\"") else {
        return Vec::new();
    };
    let end = start + html[start..].find("</ol>").expect("end of rows");
    html[start..end]
        .split("<li class=\"ws-row\" id=\"x-")
        .skip(1)
        .map(|chunk| Row {
            id: chunk.split('"').next().expect("id").to_string(),
            html: chunk.to_string(),
        })
        .collect()
}

fn only<'a>(rows: &'a [Row], kind: &str) -> &'a Row {
    let of: Vec<&Row> = rows.iter().filter(|r| r.is(kind)).collect();
    assert_eq!(of.len(), 1, "one {kind}: {rows:#?}");
    of[0]
}

/// The workspace section of a page.
fn workspace_html(html: &str) -> &str {
    let at = html.find("id=\"workspace\"").expect("the workspace");
    let end = at + html[at..].find("</section>").expect("end");
    &html[at..end]
}

#[actix_web::test]
async fn a_morning_with_every_exception_kind_is_cleared_from_the_workspace() {
    let app = spawn_app().await;
    a_morning_with_every_kind(&app).await;
    let recon = format!("/web/reconciliation?date={DAY}");
    let mut finance = WebSession::signed_in(&app, Role::Finance).await;
    let mut supervisor = WebSession::signed_in(&app, Role::Supervisor).await;
    let page = finance.get(&recon).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let all = rows(&page.body);
    assert_eq!(all.len(), 9, "{all:#?}");

    // In Chinese, with names: no English sentence, no bare department code, no random id as
    // the label (it is a small code marked as data).
    assert_eq!(other_language(&page.body, "zh"), None);
    let ws = workspace_html(&page.body);
    assert!(ws.contains(DEPARTMENT), "the department by name");
    assert!(!ws.contains("D04") && !ws.contains("W01"), "{ws}");
    assert!(all.iter().all(|r| r.status() == "待处理"), "{all:#?}");
    assert!(all
        .iter()
        .all(|r| r.html.contains("<code class=\"ws-id\" translate=\"no\"")));

    // Each row offers only what its kind allows: no write-off in the centre's favour, timing
    // only where a later day clears it.
    let duplicate = only(&all, "重复清算");
    assert_eq!(duplicate.actions(), ["bank_claim"]);
    let short = only(&all, "金额不符");
    assert_eq!(short.actions(), ["write_off", "bank_claim"]);
    let missing = only(&all, "清算缺失（账有单无）");
    assert_eq!(
        missing.actions(),
        ["accept_timing", "write_off", "bank_claim"]
    );

    // The payment the acquirer did not settle, beside the line nobody took: one click
    // resolves both.
    // The line nobody took comes first; the line settled twice after it.
    let stray = missing
        .matches()
        .into_iter()
        .next()
        .filter(|(_, li)| li.contains(STRAY_RRN))
        .unwrap_or_else(|| panic!("the stray line first among {:?}", missing.matches()));
    assert!(
        stray.1.contains("金额相同") && stray.1.contains("同日") && stray.1.contains("同终端"),
        "{}",
        stray.1
    );
    let done = finance
        .post(
            &recon,
            &format!("/web/exceptions/{}/match", missing.id),
            &[("with", stray.0.as_str()), ("back", recon.as_str())],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let page = finance.get(&recon).await;
    assert!(page.body.contains("已匹配："), "the message says so");
    let now = rows(&page.body);
    assert_eq!(only(&now, "清算缺失（账有单无）").status(), "已处理");
    assert_eq!(only(&now, "账簿缺失（单有账无）").status(), "已处理");

    // The old file whose credit never came, beside the credit nothing explains: settled by
    // it, awaiting a second person; the credit is explained.
    let unpaid = only(&now, "资金未到账（已超期）");
    let (credit, li) = unpaid.matches().into_iter().next().expect("the credit");
    assert!(credit.starts_with("booking:"), "{credit}");
    assert!(li.contains("金额相同"), "{li}");
    let done = finance
        .post(
            &recon,
            &format!("/web/exceptions/{}/match", unpaid.id),
            &[("with", credit.as_str()), ("back", recon.as_str())],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let now = rows(&finance.get(&recon).await.body);
    assert_eq!(only(&now, "资金未到账（已超期）").status(), "待审批");
    let mut credits: Vec<String> = now
        .iter()
        .filter(|r| r.is("无法解释的银行流水"))
        .map(Row::status)
        .collect();
    credits.sort();
    assert_eq!(credits, ["已处理", "待处理"], "the one chosen is explained");

    // The short sale is written off (proposed); the rest is claimed, each with a note.
    for row in now.iter().filter(|r| r.status() == "待处理") {
        let action = if row.is("金额不符") {
            "write_off"
        } else {
            "bank_claim"
        };
        assert!(
            row.actions().iter().any(|a| a == action),
            "{action}: {row:?}"
        );
        // Without a note a claim or a write-off is refused, and nothing changes.
        let refused = finance
            .post(
                &recon,
                &format!("/web/exceptions/{}/resolve", row.id),
                &[("action", action), ("note", ""), ("back", recon.as_str())],
            )
            .await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        let done = finance
            .post(
                &recon,
                &format!("/web/exceptions/{}/resolve", row.id),
                &[
                    ("action", action),
                    ("note", "晨间对账：已联系收单机构"),
                    ("back", recon.as_str()),
                ],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
    }

    // Four eyes: the proposer sees no approve button; a second person does and approves.
    let page = finance.get(&recon).await;
    let now = rows(&page.body);
    let awaiting: Vec<&Row> = now.iter().filter(|r| r.status() == "待审批").collect();
    assert_eq!(awaiting.len(), 2, "{now:#?}");
    assert!(
        awaiting.iter().all(|r| !r.approvable()),
        "no button for the proposer"
    );
    assert!(page.body.contains("由您提出，须由另一人审批"));
    let page = supervisor.get(&recon).await;
    for row in rows(&page.body).iter().filter(|r| r.status() == "待审批") {
        assert!(row.approvable(), "{row:?}");
        let done = supervisor
            .post(
                &recon,
                &format!("/web/exceptions/{}/approve", row.id),
                &[("back", recon.as_str())],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
    }
    let page = finance.get(&recon).await;
    let now = rows(&page.body);
    assert!(
        now.iter()
            .all(|r| r.status() == "已处理" || r.status() == "已索赔，待银行付款"),
        "{now:#?}"
    );
    assert!(
        page.body.contains("没有阻止结账的事项"),
        "the close is free"
    );
    assert_eq!(other_language(&page.body, "zh"), None);

    // The old file's settlement posted on the approval; the day closes.
    let settled = {
        let mut conn = app.ctx.conn().expect("conn");
        onecard::recon::exceptions::get(&mut conn, &only(&now, "资金未到账（已超期）").id)
            .expect("read")
            .expect("the exception")
    };
    assert!(settled.entry_seq.is_some(), "{settled:?}");
    assert!(settled.matched_booking_id.is_some(), "{settled:?}");
    let days = format!("/web/days?date={DAY}");
    let closed = finance
        .post(&days, "/web/days/close", &[("date", DAY)])
        .await;
    assert_eq!(closed.status, 303, "{}", closed.body);
    let (_, day) = app.get(Role::Auditor, &format!("/v1/days/{DAY}")).await;
    assert_eq!(day["status"], "closed", "{day}");
    assert!(
        finance.get(&days).await.body.contains("已结账并签章"),
        "said once"
    );

    // And in English: no Chinese outside names and data.
    finance.get("/web/lang?to=en&back=/web/today").await;
    let en = finance.get(&recon).await;
    assert_eq!(other_language(&en.body, "en"), None);
    assert!(en.body.contains("Reconciliation workspace"));
    app.stop().await;
}

/// A match that cannot stand (the candidate's amount differs, or it is matched already)
/// changes neither side.
#[actix_web::test]
async fn a_refused_match_leaves_both_untouched() {
    let app = spawn_app().await;
    let run = a_morning_with_every_kind(&app).await;
    let recon = format!("/web/reconciliation?date={DAY}");
    let mut finance = WebSession::signed_in(&app, Role::Finance).await;
    let all = rows(&finance.get(&recon).await.body);
    let missing = only(&all, "清算缺失（账有单无）");
    let (_, listed) = app
        .get(
            Role::Finance,
            &format!(
                "/v1/reconciliations/{}/exceptions?limit=100",
                run["id"].as_str().expect("run")
            ),
        )
        .await;
    let line_of_short = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|x| x["kind"] == "amount_mismatch")
        .and_then(|x| x["settlement_record_id"].as_i64())
        .expect("the short line");
    // The 79.00 line is not the 80.00 payment's.
    let with = format!("line:{line_of_short}");
    let refused = finance
        .post(
            &recon,
            &format!("/web/exceptions/{}/match", missing.id),
            &[("with", with.as_str()), ("back", recon.as_str())],
        )
        .await;
    assert!(
        refused.status >= 400 && refused.status < 500,
        "{}",
        refused.body
    );
    let bad = finance
        .post(
            &recon,
            &format!("/web/exceptions/{}/match", missing.id),
            &[("with", "ledger:1"), ("back", recon.as_str())],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("with"));
    // Two steps, both or neither: a credit of 119.90 named as paying the file one yuan short
    // is first resolved as explained, the file is claimed, and then the settlement is refused
    // (the amounts differ) — so neither the credit nor the file has moved.
    let short_file = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|x| x["kind"] == "cash_mismatch")
        .and_then(|x| x["file_id"].as_str())
        .expect("the short file")
        .to_string();
    let credit = all
        .iter()
        .find(|r| r.is("无法解释的银行流水"))
        .expect("a credit");
    let refused = finance
        .post(
            &recon,
            &format!("/web/exceptions/{}/match", credit.id),
            &[
                ("with", format!("file:{short_file}").as_str()),
                ("back", recon.as_str()),
            ],
        )
        .await;
    assert!(
        refused.status >= 400 && refused.status < 500,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("match_amounts_differ"),
        "{}",
        refused.body
    );
    let now = rows(&finance.get(&recon).await.body);
    assert!(now.iter().all(|r| r.status() == "待处理"), "{now:#?}");
    // An auditor may not match.
    let mut auditor = WebSession::signed_in(&app, Role::Auditor).await;
    let page = auditor.get(&recon).await;
    assert!(
        !page.body.contains("/match\""),
        "no match buttons for an auditor"
    );
    let stray = missing.matches().into_iter().next().expect("a candidate").0;
    let denied = auditor
        .post(
            &recon,
            &format!("/web/exceptions/{}/match", missing.id),
            &[("with", stray.as_str())],
        )
        .await;
    assert_eq!(denied.status, 403);
    app.stop().await;
}
