//! 月度报表: one month's collections, concessions, refunds and remittances by revenue subject,
//! by department and by both (non-tax revenue reporting), each table downloadable as CSV and
//! XLSX, and a check against the ledger's movements on the treasury payable (2103.*) that
//! shows any difference in red. The sums are [`crate::treasury::month`]'s.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::departments::{department_cell, directory};
use super::i18n::Lang;
use super::table::{link_csv, Cell, Table};
use super::{download, Chrome, Export, OrPage, Staff, WebError};
use crate::catalogue::departments::Directory;
use crate::http::blocking::with_read_conn;
use crate::http::problem::ApiError;
use crate::ledger::Chart;
use crate::treasury::month::{self, Figures, Month};
use crate::words;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/month", web::get().to(show));
}

words! {
    /// Labels of the month page.
    pub struct MonthWords {
        title: "月度报表" / "Monthly report",
        month: "月份" / "Month",
        intro: "按收入科目和执收部门汇总本月收费、优惠减免、退款和缴库，供非税收入报表使用；合计与总账“应缴财政款”（2103）本月发生额核对。" / "The month's collections, concessions, refunds and remittances by revenue subject and collecting department, for non-tax revenue reporting; the totals are checked against the month's movements on the ledger's treasury payable (2103).",
        by_subject: "按收入科目" / "By revenue subject",
        by_department: "按执收部门" / "By department",
        by_both: "按收入科目和部门" / "By revenue subject and department",
        check: "与总账核对（应缴财政款 2103 本月发生额）" / "Check against the ledger (treasury payable 2103, the month's movements)",
        none: "本月没有收费、退款或缴库。" / "Nothing was collected, refunded or remitted this month.",
        subject: "收入科目" / "Revenue subject",
        subject_name: "科目名称" / "Subject name",
        department: "执收部门" / "Department",
        department_name: "部门名称" / "Department name",
        no_department: "（非缴费单据）" / "(not a payment)",
        collected_n: "收费笔数" / "Lines collected",
        collected: "收费金额（元）" / "Collected (CNY)",
        concession_n: "减免笔数" / "Lines with concession",
        waived: "减免金额（元）" / "Waived (CNY)",
        refunded_n: "退款笔数" / "Refunds",
        refunded: "退款金额（元）" / "Refunded (CNY)",
        remitted_n: "缴库单据数" / "Documents remitted",
        remitted: "缴库金额（元）" / "Remitted (CNY)",
        net: "本月应缴净额（元）" / "Net payable this month (CNY)",
        item: "项目" / "Item",
        ours: "本表（元）" / "This report (CNY)",
        ledger: "总账（元）" / "Ledger (CNY)",
        difference: "差额（元）" / "Difference (CNY)",
        row_collected: "收费（账：收费入账贷方减作废冲回）" / "Collections (ledger: capture credits less void reversals)",
        row_refunded: "退款（账：退款分录借方）" / "Refunds (ledger: refund entry debits)",
        row_remitted: "缴库（账：缴库分录借方）" / "Remittances (ledger: remittance entry debits)",
        row_net: "应缴财政款本月净发生额（账：全部分录，含调整）" / "Net change of the payable (ledger: every entry, adjustments included)",
        agrees: "一致" / "Agrees",
        differs: "不一致" / "Differs",
        all_agree: "本月合计与总账一致。" / "The month's totals agree with the ledger.",
        disagree: "本月合计与总账不一致，差额见下表；请核查后再报送。" / "The month's totals do not agree with the ledger; the differences are below. Check them before reporting.",
        notes: "收费、减免按缴费的业务日期计（已作废的不计）；退款按退款分录的业务日期计，仅含由本中心直接退付（借记 2103）的退款，退库退款经国库退回、不经 2103；缴库按国库回执入账的业务日期计。笔数为缴费明细行数。" / "Collections and concessions count by the payment's business date (voided payments excluded); refunds by their entry's business date, only those paid by the centre (debiting 2103) — refunds of remitted revenue come back through the treasury, not 2103; remittances by the business date their acknowledgement was posted. Counts are payment lines.",
    }
}

#[derive(Template)]
#[template(path = "month.html", config = "src/web/askama.toml")]
struct MonthPage {
    c: Chrome,
    t: &'static MonthWords,
    month: String,
    agrees: bool,
    tables: Vec<Table>,
    check: Table,
}

/// `?month=YYYY-MM` (default: this month) and `?csv=` / `?xlsx=`.
#[derive(Debug, Deserialize)]
struct MonthQuery {
    month: Option<String>,
    csv: Option<String>,
    xlsx: Option<String>,
}

/// How a department shows on the month's tables: its code and its name in the page's
/// language, or a note for documents of no payment.
fn department_cells(code: Option<&str>, t: &MonthWords, places: (&Directory, Lang)) -> [Cell; 2] {
    match code {
        Some(code) => [Cell::text(code), department_cell(places.0, code, places.1)],
        None => [Cell::text(t.no_department), Cell::Empty],
    }
}

/// The revenue subject's name (its payable sub-account's), in the page's language.
fn subject_name(chart: &Chart, subject: &str, lang: Lang) -> String {
    chart
        .treasury_payable_for(subject)
        .map(|a| match lang {
            Lang::Zh => a.name.clone(),
            Lang::En => a.name_en.clone(),
        })
        .unwrap_or_default()
}

/// The figure columns, after the `keys` columns.
fn figures_table(id: &'static str, caption: &str, keys: &[&str], t: &MonthWords) -> Table {
    let mut table = Table::new(id, caption, t.none);
    for k in keys {
        table = table.col(*k);
    }
    table
        .num(t.collected_n)
        .num(t.collected)
        .num(t.concession_n)
        .num(t.waived)
        .num(t.refunded_n)
        .num(t.refunded)
        .num(t.remitted_n)
        .num(t.remitted)
        .num(t.net)
}

/// `keys` cells then the figures.
fn figures_row(keys: Vec<Cell>, f: &Figures) -> Vec<Cell> {
    let mut row = keys;
    row.extend([
        Cell::Int(f.collected.count),
        Cell::Money(f.collected.amount_minor),
        Cell::Int(f.concessions.count),
        Cell::Money(f.concessions.amount_minor),
        Cell::Int(f.refunded.count),
        Cell::Money(f.refunded.amount_minor),
        Cell::Int(f.remitted.count),
        Cell::Money(f.remitted.amount_minor),
        Cell::Money(f.net_minor()),
    ]);
    row
}

/// The totals row under `keys` key columns.
fn foot(keys: usize, m: &Month, w: &str) -> Vec<Cell> {
    let mut cells = vec![Cell::text(w)];
    cells.extend(std::iter::repeat_n(Cell::Empty, keys - 1));
    figures_row(cells, &m.total())
}

/// The month's three tables: by subject, by department, by both.
fn tables(
    m: &Month,
    (chart, directory): (&Chart, &Directory),
    t: &MonthWords,
    total: &str,
    lang: Lang,
) -> Vec<Table> {
    let mut by_subject = figures_table("by_subject", t.by_subject, &[t.subject, t.subject_name], t);
    for (subject, f) in m.by_subject() {
        let keys = vec![
            Cell::text(subject),
            Cell::Text(subject_name(chart, subject, lang)),
        ];
        by_subject.push(figures_row(keys, &f));
    }
    let mut by_department = figures_table(
        "by_department",
        t.by_department,
        &[t.department, t.department_name],
        t,
    );
    for (department, f) in m.by_department() {
        let keys = department_cells(department, t, (directory, lang)).into();
        by_department.push(figures_row(keys, &f));
    }
    let mut by_both = figures_table(
        "by_subject_department",
        t.by_both,
        &[t.subject, t.subject_name, t.department, t.department_name],
        t,
    );
    for ((subject, department), f) in &m.cells {
        let mut keys = vec![
            Cell::text(subject),
            Cell::Text(subject_name(chart, subject, lang)),
        ];
        keys.extend(department_cells(
            department.as_deref(),
            t,
            (directory, lang),
        ));
        by_both.push(figures_row(keys, f));
    }
    let mut out = [by_subject, by_department, by_both];
    for (table, keys) in out.iter_mut().zip([2, 2, 4]) {
        if !table.rows.is_empty() {
            table.foot = Some(foot(keys, m, total));
        }
    }
    out.into()
}

/// The check against the ledger: each line's figure, the ledger's, and the difference.
fn check_table(m: &Month, t: &MonthWords) -> Table {
    let mut table = Table::new("ledger_check", t.check, t.none)
        .col(t.item)
        .num(t.ours)
        .num(t.ledger)
        .num(t.difference)
        .col(t.check);
    let total = m.total();
    let lines = [
        (
            t.row_collected,
            total.collected.amount_minor,
            m.ledger.collected_minor(),
        ),
        (
            t.row_refunded,
            total.refunded.amount_minor,
            m.ledger.refunded_minor,
        ),
        (
            t.row_remitted,
            total.remitted.amount_minor,
            m.ledger.remitted_minor,
        ),
        (t.row_net, total.net_minor(), m.ledger.net_minor()),
    ];
    for (item, ours, ledger) in lines {
        let status = if ours == ledger {
            Cell::status("ok", t.agrees)
        } else {
            Cell::status("bad", t.differs)
        };
        table.push(vec![
            Cell::text(item),
            Cell::Money(ours),
            Cell::Money(ledger),
            Cell::Money(ours - ledger),
            status,
        ]);
    }
    table
}

async fn show(staff: Staff, query: web::Query<MonthQuery>) -> Result<HttpResponse, WebError> {
    // The month shows payments, concessions, refunds, remittances and the ledger: the same
    // readers as the daily report.
    super::report::require_readers(&staff)?;
    let lang = staff.lang;
    let t = MonthWords::of(lang);
    let asked = super::params::text(&query.month)
        .map(str::to_string)
        .unwrap_or_else(|| month::month_of(staff.ctx.business_today()));
    let (first, last) = month::parse_month(&asked)
        .ok_or_else(|| {
            ApiError::invalid(
                Some("month".into()),
                format!("month: '{asked}' is not a month like 2026-11"),
            )
        })
        .or_page(lang)?;
    let (m, chart) = with_read_conn(&staff.ctx, move |conn, ctx| {
        let chart = ctx.chart.current();
        Ok((month::month(conn, &chart, first, last)?, chart))
    })
    .await
    .or_page(lang)?;
    let directory = directory(&staff).await?;
    let mut tables = tables(&m, (&chart, &directory), t, staff.w.total, lang);
    let mut check = check_table(&m, t);
    let label = month::month_of(first);
    if let Some(ask) = Export::asked(&query.csv, &query.xlsx) {
        let mut all: Vec<&Table> = tables.iter().collect();
        all.push(&check);
        return download(&all, ask, &format!("month-{label}"), lang);
    }
    {
        let mut refs: Vec<&mut Table> = tables.iter_mut().collect();
        refs.push(&mut check);
        let req = staff.request();
        link_csv(&mut refs, req.path(), req.query_string());
    }
    let page = MonthPage {
        c: staff.chrome(format!("{} · {label}", t.title), "month"),
        t,
        agrees: m.agrees(),
        month: label,
        tables,
        check,
    };
    staff.page(&page)
}
