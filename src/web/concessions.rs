//! 优惠减免: the concessions (优惠政策) granted in a range of business dates, by fee item,
//! concession, window and clerk, with the standard amount forgone — what `GET /v1/concessions`
//! answers, for the supervisor and the auditor. Read-only.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use super::departments::{directory, window_cell};
use super::i18n::Lang;
use super::params;
use super::table::{link_csv, Cell, Table};
use super::{download, Chrome, Export, OrPage, Staff, WebError};
use crate::auth::may;
use crate::catalogue::departments::Directory;
use crate::http::blocking::with_conn;
use crate::payments::concessions::{self, GrantedSummary};
use crate::words;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/concessions", web::get().to(show));
}

words! {
    /// Labels of the concessions page.
    pub struct ConcessionWords {
        title: "优惠减免" / "Concessions granted",
        from: "起始业务日期" / "From (business date)",
        to: "截止业务日期" / "To (business date)",
        granted: "减免明细（按收费项目、优惠政策、窗口、收费员）" / "By fee item, concession, window and clerk",
        none: "该期间没有减免。" / "No concessions were granted in this period.",
        lines: "减免笔数" / "Lines granted",
        charged: "实收金额（元）" / "Charged (CNY)",
        forgone: "减免金额（元）" / "Forgone (CNY)",
        fee_code: "项目编码" / "Fee code",
        fee_name: "收费项目" / "Fee item",
        concession: "优惠政策" / "Concession",
        kind: "方式" / "Kind",
        exempt: "免收" / "exempt",
        reduced: "减收" / "reduced",
        window: "窗口" / "Window",
        window_name: "窗口名称" / "Window name",
        clerk: "收费员" / "Clerk",
        legal_basis: "优惠依据" / "Legal basis",
        voided_note: "已作废的缴费不计入。" / "Voided payments are not counted.",
    }
}

#[derive(Template)]
#[template(path = "concessions.html", config = "src/web/askama.toml")]
struct ConcessionsPage {
    c: Chrome,
    t: &'static ConcessionWords,
    from: NaiveDate,
    to: NaiveDate,
    summary: GrantedSummary,
    table: Table,
}

/// `?from=&to=&date=&csv=`, as text.
#[derive(Debug, Deserialize)]
struct ConcessionsQuery {
    date: Option<String>,
    from: Option<String>,
    to: Option<String>,
    csv: Option<String>,
    xlsx: Option<String>,
}

/// The concessions granted, with their totals (also on the daily report).
pub(super) fn table(
    t: &ConcessionWords,
    s: &GrantedSummary,
    directory: &Directory,
    lang: Lang,
) -> Table {
    let mut table = Table::new("concessions", t.granted, t.none)
        .col(t.fee_code)
        .col(t.fee_name)
        .col(t.concession)
        .col(t.kind)
        .col(t.window)
        .col(t.window_name)
        .col(t.clerk)
        .num(t.lines)
        .num(t.charged)
        .num(t.forgone)
        .col(t.legal_basis);
    for g in &s.items {
        table.push(vec![
            Cell::text(&g.fee_code),
            Cell::text(&g.fee_name),
            Cell::Text(format!("{}（{}）", g.concession_name, g.concession)),
            Cell::text(if g.kind == "exempt" {
                t.exempt
            } else {
                t.reduced
            }),
            Cell::text(&g.window),
            window_cell(directory, &g.department, &g.window, lang),
            Cell::text(&g.clerk),
            Cell::Int(i64::try_from(g.count).unwrap_or(i64::MAX)),
            Cell::Money(g.charged_minor),
            Cell::Money(g.forgone_minor),
            Cell::Prose(g.legal_basis.clone()),
        ]);
    }
    table.foot = Some(vec![
        Cell::text(t.lines),
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Int(i64::try_from(s.count).unwrap_or(i64::MAX)),
        Cell::Money(s.charged_minor),
        Cell::Money(s.forgone_minor),
        Cell::Empty,
    ]);
    table
}

async fn show(staff: Staff, query: web::Query<ConcessionsQuery>) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_CONCESSIONS)?;
    let lang = staff.lang;
    let t = ConcessionWords::of(lang);
    let date = params::date("date", &query.date).or_page(lang)?;
    let from = params::date("from", &query.from).or_page(lang)?;
    let to = params::date("to", &query.to).or_page(lang)?;
    let (from, to) =
        concessions::resolve_range(date, from, to, staff.ctx.business_today()).or_page(lang)?;
    let summary = with_conn(&staff.ctx, move |conn, _| {
        Ok(concessions::granted(conn, from, to)?)
    })
    .await
    .or_page(lang)?;
    let directory = directory(&staff).await?;
    let mut table = table(t, &summary, &directory, lang);
    if let Some(id) = Export::asked(&query.csv, &query.xlsx) {
        return download(&[&table], id, &format!("concessions-{from}-{to}"), lang);
    }
    let req = staff.request();
    let (path, qs) = (req.path().to_string(), req.query_string().to_string());
    link_csv(&mut [&mut table], &path, &qs);
    let page = ConcessionsPage {
        c: staff.chrome(t.title, "concessions"),
        t,
        from,
        to,
        summary,
        table,
    };
    staff.page(&page)
}
