//! 日报表: one printable page (A4; the print stylesheet hides navigation and forms) for a
//! business date — collections by department, window and channel (the 今日 tables) and the
//! concessions granted (优惠减免), the reconciliation's tiers and open exceptions, the day's close and seal, the remittance, and the
//! trial balance by fund as of the date — with a header and signature lines only on paper.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;

use super::concessions::{table as concessions_table, ConcessionWords};
use super::days::{day_state, DaysWords};
use super::i18n::{Common, Lang};
use super::reconciliation::{
    balance_table, blockers as blocker_views, exceptions_table, load_for, morning_date,
    tiers_table, Blocker, ReconWords,
};
use super::remittances::{subjects_table, RemitWords};
use super::table::{link_csv, Cell, Table};
use super::today::{collection_tables, TodayWords};
use super::{download, Chrome, Export, OrPage, Staff, WebError};
use crate::auth::may;
use crate::http::blocking::with_read_conn;
use crate::ledger::repo::FundTrialBalance;
use crate::ledger::Fund;
use crate::payments::collections::{self, Tally};
use crate::payments::concessions::GrantedSummary;
use crate::payments::refunds::{self, list::RefundDay};
use crate::recon::days::{CloseError, Day};
use crate::recon::exceptions::ExceptionState;
use crate::recon::runs::{Report, Run};
use crate::treasury::service::{self, Remittance};
use crate::words;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/report", web::get().to(show));
}

words! {
    /// Labels of the daily report.
    pub struct ReportWords {
        title: "日报表" / "Daily report",
        print_hint: "使用浏览器的打印功能（Ctrl+P）打印本页；导航和表单不会打印。" / "Use the browser's print function (Ctrl+P) to print this page; navigation and forms are not printed.",
        printed_at: "打印时间（北京时间）" / "Printed at (Beijing time)",
        prepared_sign: "制表" / "Prepared by",
        reviewed_sign: "复核" / "Reviewed by",
        sign_date: "日期" / "Date",
        collections: "一、收费情况" / "1. Collections",
        reconciliation: "二、对账情况" / "2. Reconciliation",
        day: "三、日结" / "3. Day close",
        remittance: "四、缴库" / "4. Remittance",
        trial_balance: "五、试算平衡（截至当日，按资金）" / "5. Trial balance by fund (as of the date)",
        fund: "资金" / "Fund",
        fund_collection: "收入线（代收资金）" / "Collection fund",
        fund_budget: "支出线（单位预算资金）" / "Budget fund",
        debit_total: "借方余额合计" / "Debit balances",
        credit_total: "贷方余额合计" / "Credit balances",
        balanced: "平衡" / "Balanced",
        unbalanced: "不平衡" / "Not balanced",
        no_remittance: "该日尚未编制缴库单。" / "No remittance has been prepared for this day.",
        open_exceptions: "未处理的对账差异" / "Open reconciliation exceptions",
        refunds: "当日退款" / "Refunds of the day",
        refund_event: "事项" / "Event",
        refunds_requested: "申请" / "Requested",
        refunds_approved: "批准" / "Approved",
        refunds_rejected: "驳回" / "Rejected",
        refunds_cancelled: "撤销" / "Cancelled",
    }
}

#[derive(Template)]
#[template(path = "report.html", config = "src/web/askama.toml")]
struct ReportPage {
    c: Chrome,
    t: &'static ReportWords,
    today: &'static TodayWords,
    rw: &'static ReconWords,
    dw: &'static DaysWords,
    mw: &'static RemitWords,
    date: NaiveDate,
    printed_at: String,
    collected: Tally,
    voided: Tally,
    collection: Vec<Table>,
    concessions: Table,
    run: Option<Run>,
    recon: Vec<Table>,
    blockers: Vec<Blocker>,
    day: Day,
    remittance: Option<Remittance>,
    remittance_status: Option<Cell>,
    remittance_tables: Vec<Table>,
    trial: Table,
}

/// `?date=&csv=`.
#[derive(Debug, Deserialize)]
struct ReportQuery {
    date: Option<String>,
    csv: Option<String>,
    xlsx: Option<String>,
}

/// The report shows the ledger and every part of the morning: only who reads each part may
/// see it (the month page too).
pub(super) fn require_readers(staff: &Staff) -> Result<(), WebError> {
    for roles in [
        may::READ_LEDGER,
        may::READ_PAYMENTS,
        may::READ_RECONCILIATION,
        may::READ_DAYS,
        may::READ_REMITTANCES,
    ] {
        staff.require(roles)?;
    }
    Ok(())
}

async fn show(staff: Staff, query: web::Query<ReportQuery>) -> Result<HttpResponse, WebError> {
    require_readers(&staff)?;
    let lang = staff.lang;
    let date = morning_date(query.date.as_deref(), &staff.ctx).or_page(lang)?;
    let (t, rw, mw, w) = (
        ReportWords::of(lang),
        ReconWords::of(lang),
        RemitWords::of(lang),
        staff.w,
    );
    let facts = load(&staff, date).await?;

    let directory = super::departments::directory(&staff).await?;
    let mut collection = collection_tables(&facts.day_sums, &directory, lang).to_vec();
    let mut concessions = concessions_table(
        ConcessionWords::of(lang),
        &facts.concessions,
        &directory,
        lang,
    );
    collection.push(refunds_table(&facts.refunds, t, w));
    let mut recon_tables = recon_tables(&facts, t, rw, w, lang);
    let mut remittance_tables: Vec<Table> = facts
        .remittance
        .iter()
        .map(|r| subjects_table(r, mw, w))
        .collect();
    let mut trial = trial_table(&facts.funds, t, w);

    if let Some(id) = Export::asked(&query.csv, &query.xlsx) {
        let mut all: Vec<&Table> = collection.iter().collect();
        all.push(&concessions);
        all.extend(recon_tables.iter());
        all.extend(remittance_tables.iter());
        all.push(&trial);
        return download(&all, id, &format!("daily-report-{date}"), lang);
    }
    {
        let mut refs: Vec<&mut Table> = collection.iter_mut().collect();
        refs.push(&mut concessions);
        refs.extend(recon_tables.iter_mut());
        refs.extend(remittance_tables.iter_mut());
        refs.push(&mut trial);
        link_csv(
            &mut refs,
            staff.request().path(),
            staff.request().query_string(),
        );
    }
    let page = ReportPage {
        c: staff.chrome(format!("{} · {date}", t.title), "report"),
        t,
        today: TodayWords::of(lang),
        rw,
        dw: DaysWords::of(lang),
        mw,
        date,
        printed_at: Utc::now()
            .with_timezone(&crate::clock::SHANGHAI)
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        collected: facts.day_sums.collected,
        voided: facts.day_sums.voided,
        collection,
        concessions,
        run: facts.report.map(|r| r.run),
        recon: recon_tables,
        blockers: blocker_views(facts.blockers, lang),
        day: facts.day,
        remittance_status: facts.remittance.as_ref().map(|r| mw.status(r.status)),
        remittance: facts.remittance,
        remittance_tables,
        trial,
    };
    staff.page(&page)
}

/// What the report shows for a date, as loaded.
struct Facts {
    /// The day's collections (zero sums on a day without any).
    day_sums: collections::Day,
    /// The concessions granted on the day.
    concessions: GrantedSummary,
    /// The trial balance by fund as of the date.
    funds: Vec<FundTrialBalance>,
    /// The day's remittance, once prepared.
    remittance: Option<Remittance>,
    /// The day's reconciliation run, once run, and its exceptions' states.
    report: Option<Report>,
    states: Vec<ExceptionState>,
    /// The day's close and what still stands in its way.
    day: Day,
    blockers: Vec<CloseError>,
    /// What the day did with refunds.
    refunds: RefundDay,
}

async fn load(staff: &Staff, date: NaiveDate) -> Result<Facts, WebError> {
    let (facts, funds, remittance, granted, refunds) =
        with_read_conn(&staff.ctx, move |conn, ctx| {
            let facts = collections::load(conn, date, date)?;
            let granted = crate::payments::concessions::granted(conn, date, date)?;
            let refunds = refunds::list::of_day(conn, date)?;
            let funds = crate::ledger::repo::trial_balance(conn, &ctx.chart.current(), Some(date))?;
            let remittance = match service::batch_of_day(conn, date)? {
                Some((id, _)) => service::get(conn, &id)?,
                None => None,
            };
            Ok((facts, funds, remittance, granted, refunds))
        })
        .await
        .or_page(staff.lang)?;
    let recon = load_for(staff, date).await?;
    let (day, blockers) = day_state(staff, date).await?;
    Ok(Facts {
        // A day without collections has zero sums.
        day_sums: collections::by_day(&facts)
            .remove(&date)
            .unwrap_or_default(),
        concessions: granted,
        funds,
        remittance,
        report: recon.report,
        states: recon.states,
        day,
        blockers,
        refunds,
    })
}

/// The day's refunds: requested, approved, rejected and cancelled, each with count and amount.
fn refunds_table(day: &RefundDay, t: &ReportWords, w: &Common) -> Table {
    let mut table = Table::new("refunds_of_day", t.refunds, w.nothing_here)
        .col(t.refund_event)
        .num(w.count)
        .num(w.amount);
    for (event, sum) in [
        (t.refunds_requested, day.requested),
        (t.refunds_approved, day.approved),
        (t.refunds_rejected, day.rejected),
        (t.refunds_cancelled, day.cancelled),
    ] {
        table.push(vec![
            Cell::text(event),
            Cell::Int(i64::try_from(sum.count).unwrap_or(i64::MAX)),
            Cell::Money(sum.amount_minor),
        ]);
    }
    table
}

/// The reconciliation's tiers, balance and open exceptions; none before the day's run.
fn recon_tables(
    facts: &Facts,
    t: &ReportWords,
    rw: &ReconWords,
    w: &Common,
    lang: Lang,
) -> Vec<Table> {
    match &facts.report {
        Some(report) => vec![
            tiers_table(&report.run, rw, w),
            balance_table(&report.run, rw),
            super::reconciliation::awaiting_table(report, rw),
            exceptions_table(
                "open_exceptions",
                t.open_exceptions,
                report,
                &facts.states,
                |e| e.status != crate::recon::exceptions::ExceptionStatus::Resolved,
                rw,
                lang,
            ),
        ],
        None => Vec::new(),
    }
}

/// The trial balance by fund, each fund's debit and credit totals and whether they balance.
fn trial_table(funds: &[FundTrialBalance], t: &ReportWords, w: &Common) -> Table {
    let mut trial = Table::new("trial_balance", t.trial_balance, w.nothing_here)
        .col(t.fund)
        .num(t.debit_total)
        .num(t.credit_total)
        .col(w.status);
    for f in funds {
        let balanced = f.debit_total_minor == f.credit_total_minor;
        trial.push(vec![
            Cell::text(match f.fund {
                Fund::Collection => t.fund_collection,
                Fund::Budget => t.fund_budget,
            }),
            Cell::Money(f.debit_total_minor),
            Cell::Money(f.credit_total_minor),
            if balanced {
                Cell::status("ok", t.balanced)
            } else {
                Cell::status("bad", t.unbalanced)
            },
        ]);
    }
    trial
}
