//! 收费目录: the fee items as `GET /v1/fee-items` lists them (latest version of each, in code
//! order), and every version of one item as `GET /v1/fee-items/{code}` gives it. Read-only.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::departments::{department_cell, directory};
use super::params::{self, with_param};
use super::table::{link_csv, Cell, Table};
use super::{download, Chrome, Export, OrPage, Staff, WebError, BASE};
use crate::auth::may;
use crate::catalogue::departments::Directory;
use crate::catalogue::{self, ConcessionKind, FeeItem, Pricing};
use crate::http::blocking::with_conn;
use crate::http::paging::{Page, MAX_LIMIT};
use crate::http::problem::ApiError;
use crate::http::queries::list_fee_items;
use crate::words;
use crate::words::Lang;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/catalogue", web::get().to(list))
        .route("/catalogue/{code}", web::get().to(versions));
}

words! {
    /// Labels of the catalogue pages.
    pub struct CatalogueWords {
        title: "收费目录" / "Fee catalogue",
        items: "收费项目（现行版本）" / "Fee items (latest version)",
        no_items: "目录中没有收费项目。" / "The catalogue has no items.",
        versions: "全部版本" / "Every version",
        code: "项目编码" / "Code",
        name: "项目名称" / "Name",
        department: "执收部门" / "Department",
        department_name: "部门名称" / "Department name",
        revenue_subject: "收入科目" / "Revenue subject",
        legal_basis: "收费依据" / "Legal basis",
        pricing: "计价方式" / "Pricing",
        fixed: "定额" / "Fixed",
        per_unit: "按单位" / "Per unit",
        range: "区间" / "Range",
        standard: "收费标准（元）" / "Standard (CNY)",
        effective_from: "生效日期" / "Effective from",
        effective_to: "截止日期" / "Effective to",
        open_ended: "长期" / "open",
        version: "版本" / "Version",
        concessions: "优惠政策（各版本）" / "Concessions (every version)",
        no_concessions: "该项目没有优惠政策。" / "This item has no concessions.",
        concession_code: "政策编码" / "Concession code",
        concession_name: "政策名称" / "Concession",
        concession_kind: "方式" / "Kind",
        exempt: "免收" / "exempt",
        reduced: "减收" / "reduced",
        concession_amount: "优惠后标准（元）" / "Charged instead (CNY)",
    }
}

impl CatalogueWords {
    /// The pricing kind and the standard as shown (`80.00`, `3.50/m²`, `10.00–50.00`).
    fn pricing(&self, p: &Pricing) -> (&'static str, Cell) {
        match p {
            Pricing::Fixed { amount_minor } => (self.fixed, Cell::Money(*amount_minor)),
            Pricing::PerUnit {
                unit_amount_minor,
                unit,
            } => (
                self.per_unit,
                Cell::Text(format!(
                    "{}/{unit}",
                    Cell::Money(*unit_amount_minor).shown()
                )),
            ),
            Pricing::Range {
                min_minor,
                max_minor,
            } => (
                self.range,
                Cell::Text(format!(
                    "{}–{}",
                    Cell::Money(*min_minor).shown(),
                    Cell::Money(*max_minor).shown()
                )),
            ),
        }
    }

    fn table(
        &self,
        (id, caption): (&'static str, &str),
        items: &[FeeItem],
        link: bool,
        (directory, lang): (&Directory, Lang),
    ) -> Table {
        let mut t = Table::new(id, caption, self.no_items)
            .col(self.code)
            .col(self.name)
            .col(self.department)
            .col(self.department_name)
            .col(self.revenue_subject)
            .col(self.legal_basis)
            .col(self.pricing)
            .num(self.standard)
            .col(self.effective_from)
            .col(self.effective_to)
            .num(self.version);
        for i in items {
            let (kind, standard) = self.pricing(&i.pricing);
            let basis = match &i.legal_article {
                Some(a) => format!("{} {a}", i.legal_document),
                None => i.legal_document.clone(),
            };
            t.push(vec![
                if link {
                    Cell::link(&i.code, format!("{BASE}/catalogue/{}", i.code))
                } else {
                    Cell::text(&i.code)
                },
                Cell::text(&i.name),
                Cell::text(&i.department),
                department_cell(directory, &i.department, lang),
                Cell::text(&i.revenue_subject),
                Cell::Text(basis),
                Cell::text(kind),
                standard,
                Cell::Date(i.effective_from),
                i.effective_to
                    .map_or_else(|| Cell::text(self.open_ended), Cell::Date),
                Cell::Int(i.version),
            ]);
        }
        t
    }
}

impl CatalogueWords {
    /// Every version's concessions: what is charged instead and on what legal basis.
    fn concessions_table(&self, items: &[FeeItem]) -> Table {
        let mut t = Table::new("concessions", self.concessions, self.no_concessions)
            .num(self.version)
            .col(self.concession_code)
            .col(self.concession_name)
            .col(self.concession_kind)
            .num(self.concession_amount)
            .col(self.legal_basis);
        for i in items {
            for c in &i.concessions {
                t.push(vec![
                    Cell::Int(i.version),
                    Cell::text(&c.code),
                    Cell::text(&c.name),
                    Cell::text(match c.kind {
                        ConcessionKind::Exempt => self.exempt,
                        ConcessionKind::Reduced => self.reduced,
                    }),
                    Cell::Money(c.amount_minor),
                    Cell::Prose(c.legal_basis.clone()),
                ]);
            }
        }
        t
    }
}

/// `?after=&limit=&csv=`.
#[derive(Debug, Deserialize)]
pub struct CatalogueQuery {
    after: Option<String>,
    limit: Option<String>,
    csv: Option<String>,
    xlsx: Option<String>,
}

#[derive(Template)]
#[template(path = "catalogue.html", config = "src/web/askama.toml")]
struct CataloguePage {
    c: Chrome,
    table: Table,
    concessions: Option<Table>,
    next_href: Option<String>,
    back: bool,
}

async fn list(staff: Staff, query: web::Query<CatalogueQuery>) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_CATALOGUE)?;
    let lang = staff.lang;
    let t = CatalogueWords::of(lang);
    let page = Page {
        limit: Some(
            params::int("limit", &query.limit)
                .or_page(lang)?
                .unwrap_or(MAX_LIMIT),
        ),
        after: params::text(&query.after).map(str::to_string),
    };
    let items = with_conn(&staff.ctx, move |conn, _| list_fee_items(conn, &page))
        .await
        .or_page(lang)?;
    let directory = directory(&staff).await?;
    let mut table = t.table(
        ("fee_items", t.items),
        &items.items,
        true,
        (&directory, lang),
    );
    if let Some(id) = Export::asked(&query.csv, &query.xlsx) {
        return download(&[&table], id, "catalogue", lang);
    }
    let req = staff.request();
    let (path, qs) = (req.path().to_string(), req.query_string().to_string());
    link_csv(&mut [&mut table], &path, &qs);
    let page = CataloguePage {
        c: staff.chrome(t.title, "catalogue"),
        table,
        concessions: None,
        next_href: items
            .next
            .as_deref()
            .map(|n| with_param(&path, &qs, "after", n)),
        back: false,
    };
    staff.page(&page)
}

/// `?csv=`.
#[derive(Debug, Deserialize)]
pub struct CsvQuery {
    csv: Option<String>,
    xlsx: Option<String>,
}

async fn versions(
    staff: Staff,
    code: web::Path<String>,
    query: web::Query<CsvQuery>,
) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_CATALOGUE)?;
    let lang = staff.lang;
    let t = CatalogueWords::of(lang);
    let code = code.into_inner();
    let lookup = code.clone();
    let versions = with_conn(&staff.ctx, move |conn, _| {
        Ok(catalogue::versions(conn, &lookup)?)
    })
    .await
    .or_page(lang)?;
    let Some(latest) = versions.last() else {
        return Err(WebError::Problem(
            ApiError::not_found(format!("no fee item '{code}'")),
            lang,
        ));
    };
    // The item's name is data, written in Chinese: an English heading names the code only
    // (the versions below show the name, marked as Chinese).
    let title = match lang {
        Lang::Zh => format!("{} · {} {}", t.title, latest.code, latest.name),
        Lang::En => format!("{} · {}", t.title, latest.code),
    };
    let directory = directory(&staff).await?;
    let mut table = t.table(
        ("versions", t.versions),
        &versions,
        false,
        (&directory, lang),
    );
    let mut concessions = t.concessions_table(&versions);
    if let Some(id) = Export::asked(&query.csv, &query.xlsx) {
        return download(
            &[&table, &concessions],
            id,
            &format!("fee-item-{code}"),
            lang,
        );
    }
    let req = staff.request();
    let (path, qs) = (req.path().to_string(), req.query_string().to_string());
    link_csv(&mut [&mut table, &mut concessions], &path, &qs);
    let page = CataloguePage {
        c: staff.chrome(title, "catalogue"),
        table,
        concessions: Some(concessions),
        next_href: None,
        back: true,
    };
    staff.page(&page)
}
