//! 今日: what the counters collected on a business date (by department, window and channel)
//! and a chart of the thirty days up to it.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{Duration, NaiveDate};
use serde::Deserialize;

use super::chart::{self, Series};
use super::departments::{department_cell, directory, window_cell};
use super::i18n::{Common, Lang};
use super::table::{link_csv, Cell, Table};
use super::{download, Chrome, Export, OrPage, Staff, WebError};
use crate::auth::may;
use crate::catalogue::departments::Directory;
use crate::http::blocking::with_conn;
use crate::http::problem::ApiError;
use crate::payments::collections::{self, Tally};
use crate::payments::Channel;
use crate::words;

/// Days in the chart.
const CHART_DAYS: i64 = 30;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/today", web::get().to(today));
}

words! {
    /// Labels of the today page.
    pub struct TodayWords {
        title: "今日收费" / "Today's collections",
        collected: "已收" / "Collected",
        voided: "已作废" / "Voided",
        payments_unit: "笔" / "payments",
        by_department: "按部门" / "By department",
        by_window: "按窗口" / "By window",
        by_channel: "按支付渠道" / "By channel",
        department: "部门" / "Department",
        department_name: "部门名称" / "Department name",
        window: "窗口" / "Window",
        window_name: "窗口名称" / "Window name",
        channel: "渠道" / "Channel",
        last_days: "近30天收费（元）" / "Collections over the last 30 days (CNY)",
        last_days_table: "近30天收费明细" / "Collections over the last 30 days, by day",
        chart_summary: "按日堆叠柱状图：黑色为银行卡，灰色为一卡通。" / "Stacked bars per day: black is bank card, grey is one-card.",
        yuan: "元" / "CNY",
        no_payments: "该日没有收费。" / "No payments on this day.",
    }
}

/// `?date=` (default: today) and `?csv=<table>`.
#[derive(Debug, Deserialize)]
pub struct DateQuery {
    /// The business date.
    pub date: Option<String>,
    /// A table to download as CSV.
    pub csv: Option<String>,
    /// A table to download as XLSX.
    pub xlsx: Option<String>,
}

impl DateQuery {
    /// The date asked for, or `default`; a malformed date is a 422 naming `date`.
    pub fn date_or(&self, default: NaiveDate) -> Result<NaiveDate, ApiError> {
        Ok(super::params::date("date", &self.date)?.unwrap_or(default))
    }
}

#[derive(Template)]
#[template(path = "today.html", config = "src/web/askama.toml")]
struct TodayPage {
    c: Chrome,
    t: &'static TodayWords,
    date: NaiveDate,
    collected: Tally,
    voided: Tally,
    tables: Vec<Table>,
    chart_svg: String,
}

fn tally_table(
    id: &'static str,
    caption: &str,
    keys: &[&str],
    rows: impl Iterator<Item = (Vec<Cell>, Tally)>,
    total: Tally,
    w: &Common,
    empty: &str,
) -> Table {
    let mut t = Table::new(id, caption, empty);
    for key in keys {
        t = t.col(*key);
    }
    t = t.num(w.count).num(w.amount);
    for (mut cells, v) in rows {
        cells.push(Cell::Int(v.count));
        cells.push(Cell::Money(v.amount_minor));
        t.push(cells);
    }
    let mut foot = vec![Cell::text(w.total)];
    foot.resize(keys.len(), Cell::Empty);
    foot.extend([Cell::Int(total.count), Cell::Money(total.amount_minor)]);
    t.foot = Some(foot);
    t
}

/// A day's collections as three tables — by department, by window, by channel — each with
/// its total (the 今日 page and the daily report show the same); departments and windows by
/// code and name (in `lang`, from `directory`).
pub fn collection_tables(day: &collections::Day, directory: &Directory, lang: Lang) -> [Table; 3] {
    let (t, w) = (TodayWords::of(lang), Common::of(lang));
    [
        tally_table(
            "by_department",
            t.by_department,
            &[t.department, t.department_name],
            day.by_department.iter().map(|(code, v)| {
                let name = department_cell(directory, code, lang);
                (vec![Cell::text(code), name], *v)
            }),
            day.collected,
            w,
            t.no_payments,
        ),
        tally_table(
            "by_window",
            t.by_window,
            &[t.department, t.department_name, t.window, t.window_name],
            day.by_window.iter().map(|((department, window), v)| {
                let cells = vec![
                    Cell::text(department),
                    department_cell(directory, department, lang),
                    Cell::text(window),
                    window_cell(directory, department, window, lang),
                ];
                (cells, *v)
            }),
            day.collected,
            w,
            t.no_payments,
        ),
        tally_table(
            "by_channel",
            t.by_channel,
            &[t.channel],
            day.by_channel
                .iter()
                .map(|(k, v)| (vec![Cell::text(w.channel(k.as_ref()))], *v)),
            day.collected,
            w,
            t.no_payments,
        ),
    ]
}

async fn today(staff: Staff, query: web::Query<DateQuery>) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_PAYMENTS)?;
    let lang = staff.lang;
    let date = query.date_or(staff.ctx.business_today()).or_page(lang)?;
    let from = date - Duration::days(CHART_DAYS - 1);
    let facts = with_conn(&staff.ctx, move |conn, _| {
        Ok(collections::load(conn, from, date)?)
    })
    .await
    .or_page(lang)?;
    let days = collections::by_day(&facts);
    let directory = directory(&staff).await?;
    let t = TodayWords::of(lang);
    let w = staff.w;
    // A date with no payments has no entry: nothing collected.
    let day = days.get(&date).cloned().unwrap_or_default();
    let [by_department, by_window, by_channel] = collection_tables(&day, &directory, lang);
    let dates: Vec<NaiveDate> = (0..CHART_DAYS).map(|i| from + Duration::days(i)).collect();
    let (card, one) = (
        channel_series(&days, &dates, Channel::BankCard),
        channel_series(&days, &dates, Channel::OneCard),
    );
    let month = month_table(&days, &dates, (&card, &one), t, w);
    let mut tables = vec![by_department, by_window, by_channel, month];
    if let Some(id) = Export::asked(&query.csv, &query.xlsx) {
        let refs: Vec<&Table> = tables.iter().collect();
        return download(&refs, id, &format!("today-{date}"), lang);
    }
    let chart_svg = chart::stacked_daily(
        &dates,
        &[
            Series {
                label: w.channel_bank_card.into(),
                values: card,
            },
            Series {
                label: w.channel_one_card.into(),
                values: one,
            },
        ],
        t.yuan,
        (880, 320),
    )
    .map_err(|e| WebError::Problem(ApiError::internal(&e), lang))?;
    let (path, qs) = (
        staff.request().path().to_string(),
        staff.request().query_string().to_string(),
    );
    link_csv(&mut tables.iter_mut().collect::<Vec<_>>(), &path, &qs);
    let page = TodayPage {
        c: staff.chrome(format!("{} · {date}", t.title), "today"),
        t,
        date,
        collected: day.collected,
        voided: day.voided,
        tables,
        chart_svg,
    };
    staff.page(&page)
}

/// What `channel` collected on each of `dates` (zero on a day without payments).
fn channel_series(
    days: &BTreeMap<NaiveDate, collections::Day>,
    dates: &[NaiveDate],
    channel: Channel,
) -> Vec<i64> {
    dates
        .iter()
        .map(|d| {
            days.get(d)
                .and_then(|x| x.by_channel.get(&channel))
                .map_or(0, |v| v.amount_minor)
        })
        .collect()
}

/// The chart's days as a table, newest first: bank card, one-card, total and count per day.
fn month_table(
    days: &BTreeMap<NaiveDate, collections::Day>,
    dates: &[NaiveDate],
    (card, one): (&[i64], &[i64]),
    t: &TodayWords,
    w: &Common,
) -> Table {
    let mut month = Table::new("last_30_days", t.last_days_table, t.no_payments)
        .col(w.date)
        .num(w.channel_bank_card)
        .num(w.channel_one_card)
        .num(w.total)
        .num(w.count);
    for (i, d) in dates.iter().enumerate().rev() {
        // No entry for a day without payments: nothing collected.
        let collected = days.get(d).map(|x| x.collected).unwrap_or_default();
        month.push(vec![
            Cell::Date(*d),
            Cell::Money(card[i]),
            Cell::Money(one[i]),
            Cell::Money(collected.amount_minor),
            Cell::Int(collected.count),
        ]);
    }
    month
}
