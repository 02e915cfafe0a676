//! 科目设置 (admin): the chart of accounts as the service holds it now — no balances, which are
//! the ledger readers' — and a form that opens a sub-account under a grouping account that
//! takes them, as `POST /v1/ledger/accounts` does. A fee item's revenue subject needs its
//! `2103.<subject>` account before the item can be added.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::i18n::Lang;
use super::table::{link_csv, Cell, Table};
use super::{download, Chrome, Export, OrPage, PostForm, Staff, WebError, BASE};
use crate::auth::may;
use crate::http::blocking::with_conn;
use crate::ledger::accounts::{self, NewSubAccount};
use crate::ledger::{Account, Chart, Fund};
use crate::words;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/accounts", web::get().to(list))
        .route("/accounts", web::post().to(open));
}

words! {
    /// Labels of the accounts page.
    pub struct AccountsWords {
        title: "科目设置" / "Chart of accounts",
        accounts: "会计科目" / "Accounts",
        no_accounts: "没有科目。" / "No accounts.",
        code: "科目代码" / "Code",
        name: "科目名称" / "Name",
        name_en: "英文名称" / "English name",
        name_en_hint: "留空则与中文名称相同" / "Leave empty to use the Chinese name",
        fund: "资金" / "Fund",
        fund_collection: "收入线" / "Collection",
        fund_budget: "支出线" / "Budget",
        kind: "类别" / "Kind",
        parent: "上级科目" / "Parent",
        postable: "可记账" / "Postable",
        yes: "是" / "yes",
        no: "否（汇总）" / "no (groups)",
        open_title: "开设明细科目" / "Open a sub-account",
        open_hint: "在 2103 下按收入科目开设（如 2103.1030499），或在费用科目下开设；资金、类别和余额方向随上级科目。" / "Under 2103 one per revenue subject (e.g. 2103.1030499), or under the expense parent; fund, kind and normal side follow the parent.",
        open_button: "开设科目" / "Open the account",
        opened: "已开设科目 " / "Opened account ",
    }
}

impl AccountsWords {
    fn fund(&self, fund: Fund) -> &'static str {
        match fund {
            Fund::Collection => self.fund_collection,
            Fund::Budget => self.fund_budget,
        }
    }

    fn table(&self, chart: &Chart, lang: Lang) -> Table {
        let mut t = Table::new("accounts", self.accounts, self.no_accounts)
            .col(self.code)
            .col(self.name)
            .col(self.fund)
            .col(self.kind)
            .col(self.parent)
            .col(self.postable);
        for a in chart.accounts() {
            t.push(vec![
                Cell::text(&a.code),
                Cell::text(name_of(a, lang)),
                Cell::text(self.fund(a.fund)),
                Cell::text(a.kind.as_ref()),
                Cell::text(a.parent.as_deref().unwrap_or("")),
                Cell::text(if a.postable { self.yes } else { self.no }),
            ]);
        }
        t
    }
}

fn name_of(a: &Account, lang: Lang) -> &str {
    match lang {
        Lang::Zh => &a.name,
        Lang::En => &a.name_en,
    }
}

/// `?csv=`.
#[derive(Debug, Deserialize)]
pub struct AccountsQuery {
    csv: Option<String>,
    xlsx: Option<String>,
}

#[derive(Template)]
#[template(path = "accounts.html", config = "src/web/askama.toml")]
struct AccountsPage {
    c: Chrome,
    t: &'static AccountsWords,
    table: Table,
    /// The grouping accounts that take sub-accounts: (code, name).
    parents: Vec<(String, String)>,
}

async fn list(staff: Staff, query: web::Query<AccountsQuery>) -> Result<HttpResponse, WebError> {
    staff.require(may::OPEN_ACCOUNT)?;
    let lang = staff.lang;
    let t = AccountsWords::of(lang);
    let chart = with_conn(&staff.ctx, |conn, ctx| Ok(ctx.chart.fresh(conn)?))
        .await
        .or_page(lang)?;
    let mut table = t.table(&chart, lang);
    if let Some(id) = Export::asked(&query.csv, &query.xlsx) {
        return download(&[&table], id, "accounts", lang);
    }
    let req = staff.request();
    let (path, qs) = (req.path().to_string(), req.query_string().to_string());
    link_csv(&mut [&mut table], &path, &qs);
    let parents = chart
        .accounts()
        .filter(|a| chart.sub_account_role(&a.code).is_some())
        .map(|a| (a.code.clone(), name_of(a, lang).to_string()))
        .collect();
    let page = AccountsPage {
        c: staff.chrome(t.title, "accounts"),
        t,
        table,
        parents,
    };
    staff.page(&page)
}

#[derive(Debug, Deserialize)]
struct OpenForm {
    code: String,
    name: String,
    #[serde(default)]
    name_en: String,
    parent: String,
}

async fn open(staff: Staff, form: PostForm<OpenForm>) -> Result<HttpResponse, WebError> {
    let actor = staff.require(may::OPEN_ACCOUNT)?.actor();
    let lang = staff.lang;
    let f = staff.form(form)?;
    let req = NewSubAccount {
        code: f.code,
        name: f.name,
        name_en: Some(f.name_en).filter(|n| !n.trim().is_empty()),
        parent: f.parent,
    };
    let account = with_conn(&staff.ctx, move |conn, ctx| {
        Ok(accounts::open(conn, &ctx.chart, &req, &actor)?)
    })
    .await
    .or_page(lang)?;
    let t = AccountsWords::of(lang);
    Ok(staff.done(
        &format!("{BASE}/accounts"),
        &format!("{}{} {}", t.opened, account.code, name_of(&account, lang)),
    ))
}
