//! 待审批, the supervisor's queue (issue 20, item 3), on both databases: a write-off proposed
//! by finance on the reconciliation page, a remittance batch prepared by finance and a refund
//! requested by a supervisor wait together, oldest first, with names for places; each proposer
//! sees their own row without an approve button; the queue's own forms approve each one (a
//! second supervisor the refund), come back to the queue, and leave it empty; the API shows
//! each approved.

use chrono::NaiveDate;
use onecard::auth::Role;
use serde_json::json;

use crate::reconciliation::{pay, pos_file};
use crate::support::{spawn_app, TestApp};
use crate::web_support::other_language;
use crate::web_support::{create_staff, refund_key, Page, WebSession, PASSWORD};

const QUEUE: &str = "/web/approvals";
/// Where the written-off payment was taken (D03, W03 of the demo directory), by name.
const PLACE: (&str, &str) = ("自然资源和规划局（不动产登记中心）", "不动产登记3号窗口");

/// The actions of the page's approve forms, in page order.
fn approve_actions(page: &Page) -> Vec<String> {
    page.body
        .split("<form method=\"post\" action=\"")
        .skip(1)
        .filter(|f| f.split('>').next().unwrap_or("").contains("approve-form"))
        .map(|f| f.split('"').next().unwrap_or("").to_string())
        .collect()
}

/// The `<tr>` of item `id` on the queue page.
fn row<'p>(page: &'p Page, id: &str) -> &'p str {
    let start = page
        .body
        .find(&format!("<tr id=\"approval-{id}\""))
        .unwrap_or_else(|| panic!("no row for {id}:\n{}", page.body));
    let rest = &page.body[start..];
    &rest[..rest.find("</tr>").unwrap_or(rest.len())]
}

/// What waits in the queue after [`a_batch_and_a_write_off_wait`].
pub(crate) struct Waiting {
    /// The remittance batch of 2026-11-24.
    pub batch: String,
    /// The exception proposed for write-off.
    pub write_off: String,
    /// Its run.
    pub run: String,
}

/// 2026-11-24 worked, closed and its batch prepared (finance, through the API); then today two
/// 80.00 sales, the acquirer's file settling the first and one sale we never took, reconciled,
/// and the unsettled payment proposed for write-off — by `finance` through the reconciliation
/// page when given, else through the API.
pub(crate) async fn a_batch_and_a_write_off_wait(
    app: &TestApp,
    finance: Option<&mut WebSession<'_>>,
) -> Waiting {
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    app.worked_day(day, false).await;
    let today = onecard::clock::today();
    for n in [1, 2] {
        pay(
            app,
            &format!("0000{n:02}"),
            &format!("00000000045{n}"),
            today,
        )
        .await;
    }
    let file = pos_file(today, &[(1, 8000, 5), (99, 8000, 5)]);
    let (status, body) = app
        .upload(Role::Finance, "spec=pos-settlement-fixed-width", file)
        .await;
    assert_eq!(status, 201, "{body}");
    let run = app.reconcile(today).await["id"]
        .as_str()
        .expect("run id")
        .to_string();
    let (_, listed) = app
        .get(
            Role::Finance,
            &format!("/v1/reconciliations/{run}/exceptions?limit=1000"),
        )
        .await;
    let items = listed["items"].as_array().expect("exceptions");
    let missing = items
        .iter()
        .find(|x| x["kind"] == "missing_in_settlement")
        .unwrap_or_else(|| panic!("a payment missing in settlement among {items:?}"));
    let write_off = missing["id"].as_str().expect("id").to_string();
    let resolve = format!("/web/exceptions/{write_off}/resolve");
    let note = "刷卡后被拒付，核销差额";
    match finance {
        Some(finance) => {
            let recon = format!("/web/reconciliation?date={today}");
            let fields = [("action", "write_off"), ("note", note), ("back", &recon)];
            let proposed = finance.post(&recon, &resolve, &fields).await;
            assert_eq!(proposed.status, 303, "{}", proposed.body);
        }
        None => {
            let (status, _, body) = app
                .post(
                    Role::Finance,
                    &format!("/v1/exceptions/{write_off}/resolve"),
                    &json!({"action": "write_off", "note": note}),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
    }
    Waiting {
        batch: format!("rem_{}", day.format("%Y%m%d")),
        write_off,
        run,
    }
}

/// A 550.00 payment today and a 50.00 refund of it requested — by `requester` on the
/// payment's page when given, else by a clerk through the API. Returns the refund's id.
pub(crate) async fn a_refund_waits(
    app: &TestApp,
    requester: Option<&mut WebSession<'_>>,
) -> String {
    let today = onecard::clock::today();
    let payment = app
        .capture_on(today, "ZR-BDC-02", "550.00", "000099", "000451234599")
        .await;
    match requester {
        Some(s) => {
            let page = format!("/web/payments/{payment}");
            let key = refund_key(&s.get(&page).await.body);
            let fields = [("amount", "50.00"), ("reason", "重复收费"), ("key", &key)];
            let asked = s.post(&page, &format!("{page}/refunds"), &fields).await;
            assert_eq!(asked.status, 303, "{}", asked.body);
        }
        None => {
            let (status, _, body) = app
                .post_keyed(
                    Role::Clerk,
                    &format!("/v1/payments/{payment}/refunds"),
                    "queue-refund",
                    &json!({"amount": "50.00", "reason": "重复收费"}),
                )
                .await;
            assert_eq!(status, 201, "{body}");
        }
    }
    let (_, refunds) = app.get(Role::Auditor, "/v1/refunds?status=requested").await;
    refunds["items"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a requested refund: {refunds}"))
        .to_string()
}

#[actix_web::test]
async fn the_supervisors_queue_approves_refunds_write_offs_and_batches_from_the_row() {
    let app = spawn_app().await;
    app.load_demo().await;
    let mut finance = WebSession::signed_in(&app, Role::Finance).await;
    let mut supervisor = WebSession::signed_in(&app, Role::Supervisor).await;
    let mut auditor = WebSession::signed_in(&app, Role::Auditor).await;
    let mut clerk = WebSession::signed_in(&app, Role::Clerk).await;

    // Nothing waits yet: the queue says so, and has nothing to export.
    let empty = supervisor.get(QUEUE).await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert!(empty.body.contains("id=\"queue-empty\""), "{}", empty.body);
    assert!(empty.body.contains("没有等待审批的事项"));
    assert!(approve_actions(&empty).is_empty());
    // In the navigation of those who approve or audit, not of a clerk.
    assert!(empty.body.contains("href=\"/web/approvals\""));
    let clerk_home = clerk.get("/web/today").await;
    assert!(!clerk_home.body.contains("href=\"/web/approvals\""));
    assert_eq!(clerk.get(QUEUE).await.status, 403);

    // One of each kind, in this order: a batch (finance, API), a write-off (finance, on the
    // page), a refund (a supervisor, on the payment's page).
    let Waiting {
        batch,
        write_off,
        run,
    } = a_batch_and_a_write_off_wait(&app, Some(&mut finance)).await;
    let batch = batch.as_str();
    let refund = a_refund_waits(&app, Some(&mut supervisor)).await;

    // The supervisor's view: three rows, oldest first, in words and names; the write-off and
    // the batch with approve forms that come back here, the own refund without one.
    let page = supervisor.get(QUEUE).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>待审批（3）</h1>"), "{}", page.body);
    let at = |id: &str| page.body.find(&format!("id=\"approval-{id}\"")).unwrap();
    assert!(
        at(batch) < at(&write_off) && at(&write_off) < at(&refund),
        "oldest first"
    );
    let x = row(&page, &write_off);
    assert!(x.contains("对账核销：清算缺失（账有单无）"), "{x}");
    assert!(x.contains(PLACE.0) && x.contains(PLACE.1), "{x}");
    assert!(!x.contains(">D03<"), "no bare code: {x}");
    assert!(
        x.contains("刷卡后被拒付") && x.contains("finance:web-finance"),
        "{x}"
    );
    assert!(row(&page, batch).contains("缴库批次"));
    let own = row(&page, &refund);
    assert!(own.contains("由您提出，须由他人审批"), "{own}");
    assert!(own.contains("重复收费") && own.contains("50.00"), "{own}");
    assert_eq!(
        approve_actions(&page),
        vec![
            format!("/web/remittances/{batch}/approve"),
            format!("/web/exceptions/{write_off}/approve"),
        ]
    );
    assert_eq!(
        page.body
            .matches("name=\"back\" value=\"/web/approvals\"")
            .count(),
        2
    );

    // Finance proposed the write-off and approves none of the three; the auditor reads only.
    let seen = finance.get(QUEUE).await;
    assert!(approve_actions(&seen).is_empty(), "{}", seen.body);
    assert!(row(&seen, &write_off).contains("由您提出，须由他人审批"));
    assert!(row(&seen, batch).contains("须由主管审批"));
    assert!(row(&seen, &refund).contains("须由主管审批"));
    let audited = auditor.get(QUEUE).await;
    assert_eq!(audited.status, 200);
    assert!(approve_actions(&audited).is_empty());
    // The server refuses the proposer all the same.
    let same = finance
        .post(
            QUEUE,
            &format!("/web/exceptions/{write_off}/approve"),
            &[("back", QUEUE)],
        )
        .await;
    assert_eq!(same.status, 403, "{}", same.body);

    // The queue downloads like every table: a row per item.
    let csv = auditor.get("/web/approvals?csv=approvals").await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    assert_eq!(csv.body.lines().count(), 4, "{}", csv.body);
    assert!(csv.body.contains(PLACE.0), "{}", csv.body);
    let xlsx = auditor.get("/web/approvals?xlsx=approvals").await;
    assert!(xlsx.bytes.starts_with(b"PK"));

    // Approve from the rows: back to the queue each time, the item gone.
    for action in approve_actions(&page) {
        let done = supervisor.post(QUEUE, &action, &[("back", QUEUE)]).await;
        assert_eq!(done.status, 303, "{action}: {}", done.body);
        assert_eq!(done.location.as_deref(), Some(QUEUE), "{action}");
    }
    // The refund by a second supervisor, from the queue.
    create_staff(&app, Role::Supervisor, "王主管").await;
    let mut second = WebSession::anonymous(&app);
    assert_eq!(second.sign_in("王主管", PASSWORD).await.status, 303);
    let left = second.get(QUEUE).await;
    assert!(left.body.contains("<h1>待审批（1）</h1>"), "{}", left.body);
    let actions = approve_actions(&left);
    assert_eq!(actions, vec![format!("/web/refunds/{refund}/approve")]);
    let done = second.post(QUEUE, &actions[0], &[("back", QUEUE)]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some(QUEUE));
    let after = second.get(QUEUE).await;
    assert!(
        after.body.contains("退款已批准"),
        "the message: {}",
        after.body
    );
    assert!(after.body.contains("id=\"queue-empty\""), "{}", after.body);

    // Each is approved, as the API tells.
    let (_, batch_now) = app
        .get(Role::Auditor, &format!("/v1/remittances/{batch}"))
        .await;
    assert_eq!(batch_now["status"], "approved", "{batch_now}");
    assert_eq!(batch_now["approved_by"], "supervisor:web-supervisor");
    let (_, refund_now) = app
        .get(Role::Auditor, &format!("/v1/refunds/{refund}"))
        .await;
    assert_eq!(refund_now["status"], "approved", "{refund_now}");
    let (_, listed) = app
        .get(
            Role::Auditor,
            &format!("/v1/reconciliations/{run}/exceptions?limit=1000"),
        )
        .await;
    let exception_now = listed["items"]
        .as_array()
        .expect("exceptions")
        .iter()
        .find(|x| x["id"] == write_off.as_str())
        .cloned()
        .expect("the write-off");
    assert_eq!(exception_now["status"], "resolved", "{exception_now}");
}

/// The queue with rows in both languages: nothing of the other language outside what is
/// marked as data (the languages test walks it empty).
#[actix_web::test]
async fn the_queue_speaks_one_language_at_a_time() {
    let app = spawn_app().await;
    app.load_demo().await;
    let waiting = a_batch_and_a_write_off_wait(&app, None).await;
    a_refund_waits(&app, None).await;
    let mut supervisor = WebSession::signed_in(&app, Role::Supervisor).await;
    let page = supervisor.get(QUEUE).await;
    assert_eq!(other_language(&page.body, "zh"), None, "{}", page.body);
    supervisor.get("/web/lang?to=en&back=/web/approvals").await;
    let page = supervisor.get(QUEUE).await;
    assert_eq!(other_language(&page.body, "en"), None, "{}", page.body);
    assert!(
        page.body.contains("<h1>Awaiting approval (3)</h1>"),
        "{}",
        page.body
    );
    let x = row(&page, &waiting.write_off);
    assert!(x.contains("Write-off: "), "{x}");
    assert!(x.contains("Natural Resources and Planning Bureau"), "{x}");
    assert!(row(&page, &waiting.batch).contains("Remittance batch"));
    assert!(x.contains(">Approve<"), "{x}");
}
