//! The month page (月度报表) and the XLSX exports, on both databases: a month with payments, a
//! refund and a remittance sums by revenue subject and department to what the ledger moved on
//! the treasury payable, the page says they agree, and every table's XLSX opens in a
//! spreadsheet reader with Chinese headings and the CSV's amounts as numbers.

use std::collections::BTreeSet;
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::{NaiveDate, Utc};
use onecard::auth::Role;
use serde_json::json;

use crate::support::spawn_app;
use crate::web_support::WebSession;

/// The first sheet of an XLSX download.
pub(crate) fn sheet(bytes: &[u8]) -> calamine::Range<Data> {
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec()))
        .unwrap_or_else(|e| panic!("not an XLSX workbook: {e}"));
    let name = book.sheet_names().first().cloned().expect("a sheet");
    book.worksheet_range(&name).expect("the sheet")
}

/// The first row of a sheet: its headings, as text.
pub(crate) fn headings(range: &calamine::Range<Data>) -> Vec<String> {
    range
        .rows()
        .next()
        .expect("headings")
        .iter()
        .map(|c| c.to_string())
        .collect()
}

/// The last row's (the totals') numbers under the headings `cols`, from an XLSX sheet.
fn totals(range: &calamine::Range<Data>, cols: &[&str]) -> Vec<f64> {
    let rows: Vec<_> = range.rows().collect();
    let head = rows.first().expect("headings");
    let last = rows.last().expect("totals");
    cols.iter()
        .map(|c| {
            let at = head
                .iter()
                .position(|h| matches!(h, Data::String(s) if s == c))
                .unwrap_or_else(|| panic!("no column {c}: {head:?}"));
            match &last[at] {
                Data::Float(v) => *v,
                Data::Int(v) => *v as f64,
                other => panic!("{c}: not a number: {other:?}"),
            }
        })
        .collect()
}

fn month_of(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

#[actix_web::test]
async fn a_months_totals_agree_with_the_ledger_and_download_as_xlsx() {
    let app = spawn_app().await;
    app.load_demo().await;
    let d = NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
    app.capture_on(d, "SC-JL-01", "200.00", "000012", "000451234567")
        .await;
    let b = app
        .capture_on(d, "ZR-BDC-02", "550.00", "000013", "000451234568")
        .await;
    app.capture_on(d, "SC-JL-01", "200.00", "000014", "000451234569")
        .await;
    // A refund before remittance: Dr 2103 on the day it is approved.
    let (status, _, asked) = app
        .post_keyed(
            Role::Clerk,
            &format!("/v1/payments/{b}/refunds"),
            "month-refund",
            &json!({"amount": "50.00", "reason": "fee charged twice"}),
        )
        .await;
    assert_eq!(status, 201, "{asked}");
    let (status, _, body) = app
        .post(
            Role::Supervisor,
            &format!("/v1/refunds/{}/approve", asked["id"].as_str().expect("id")),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The day closed, remitted, pulled and acknowledged: Dr 2103 on the day of the receipt.
    app.close_worked(d).await;
    let (status, batch) = app.prepare_remittance(d).await;
    assert_eq!(status, 201, "{batch}");
    let id = batch["id"].as_str().expect("id").to_string();
    app.approve_remittance(&id).await;
    let path = format!("/v1/treasury/remittances/{id}/file");
    let (status, _, _) = app
        .signed(
            Role::Treasury,
            "GET",
            &path,
            b"",
            Utc::now().timestamp(),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .treasury(
            "POST",
            &format!("/v1/treasury/remittances/{id}/ack"),
            &json!({"treasury_reference": "GK20261125001", "amount": "900.00"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // The payments' month and the month the refund and the remittance were posted in.
    let months: BTreeSet<String> = [month_of(d), month_of(onecard::clock::today())].into();
    let mut s = WebSession::signed_in(&app, Role::Finance).await;
    let cols = ["收费金额（元）", "退款金额（元）", "缴库金额（元）"];
    let mut summed = [0.0; 3];
    for month in &months {
        let page = s.get(&format!("/web/month?month={month}")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(
            page.body.contains("本月合计与总账一致"),
            "{month}: the month disagrees with the ledger: {}",
            page.body
        );
        assert!(page.body.contains("xlsx=by_subject"), "an XLSX link");
        let xlsx = s
            .get(&format!("/web/month?month={month}&xlsx=by_subject"))
            .await;
        assert_eq!(xlsx.status, 200, "{}", xlsx.body);
        assert_eq!(
            xlsx.content_type,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        let range = sheet(&xlsx.bytes);
        let head = headings(&range);
        assert_eq!(head[0], "收入科目", "Chinese headings: {head:?}");
        let got = totals(&range, &cols);
        for (sum, v) in summed.iter_mut().zip(&got) {
            *sum += v;
        }
        // The CSV's totals row says the same amounts.
        let csv = s
            .get(&format!("/web/month?month={month}&csv=by_subject"))
            .await;
        assert_eq!(csv.status, 200);
        let last = csv.body.lines().last().expect("totals row");
        for v in &got {
            assert!(last.contains(&format!("{v:.2}")), "{last} lacks {v:.2}");
        }
    }
    assert_eq!(
        summed,
        [950.0, 50.0, 900.0],
        "collected, refunded, remitted"
    );

    // A bad month is a problem naming the field, never a 500.
    let page = s.get("/web/month?month=2026-13").await;
    assert_eq!(page.status, 422, "{}", page.body);
    // A clerk does not see the month.
    let mut clerk = WebSession::signed_in(&app, Role::Clerk).await;
    assert_eq!(clerk.get("/web/month").await.status, 403);
}

#[actix_web::test]
async fn a_month_is_read_in_a_few_grouped_queries_whatever_it_holds() {
    use diesel::connection::{Connection, InstrumentationEvent};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let app = spawn_app().await;
    app.load_demo().await;
    let d = NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
    let chart = app.ctx.chart.current();
    let (first, last) = onecard::treasury::month::parse_month("2026-11").expect("month");
    let mut counts = Vec::new();
    for n in [1u32, 20] {
        for i in counts.len() as u32 * 100..counts.len() as u32 * 100 + n {
            app.capture_on(
                d,
                "SC-JL-01",
                "200.00",
                &format!("{:06}", 200_000 + i),
                &format!("{:012}", 800_000_000 + i),
            )
            .await;
        }
        let mut conn = crate::support::books::connect(&app.db);
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if matches!(event, InstrumentationEvent::StartQuery { .. }) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        let m = onecard::treasury::month::month(&mut conn, &chart, first, last).expect("month");
        assert!(m.agrees(), "{m:?}");
        counts.push(count.load(Ordering::Relaxed));
    }
    assert_eq!(counts[0], counts[1], "statements for 1 and 21 payments");
    assert!(counts[0] <= 5, "{counts:?}");
}
