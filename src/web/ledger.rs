//! 账簿: the trial balance of each fund as of a date (the figures of
//! `GET /v1/ledger/trial-balance`), whether each fund's debits equal its credits, the chain
//! head, and a full chain check (the `/v1/ledger/verify` use case) run as a task with
//! progress; and one account's statement over a date range — opening balance, the postings
//! (`GET /v1/ledger/accounts/{code}/entries`), closing balance.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::i18n::{Common, Lang};
use super::jobs::{self, Jobs, Outcome};
use super::params::{self, with_param};
use super::table::{link_csv, Cell, Table};
use super::{download, Chrome, Export, OrPage, PostForm, Staff, WebError, BASE};
use crate::auth::may;
use crate::http::blocking::with_conn;
use crate::http::paging::MAX_LIMIT;
use crate::http::problem::ApiError;
use crate::http::queries::{statement_lines, EntriesQuery};
use crate::ledger::repo::{self, AccountLine, FundTrialBalance, PeriodTotals};
use crate::ledger::{Account, EntryKind, Fund, Side};
use crate::words;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ledger", web::get().to(trial_balance))
        .route("/ledger/verify", web::post().to(verify))
        .route("/ledger/accounts/{code}", web::get().to(statement));
}

words! {
    /// Labels of the ledger pages.
    pub struct LedgerWords {
        title: "账簿" / "Ledger",
        as_of: "截至业务日期" / "As of business date",
        as_of_hint: "留空为全部已记账分录" / "Leave empty for every entry posted",
        everything: "全部" / "everything",
        funds: "试算平衡" / "Trial balance",
        fund: "资金" / "Fund",
        fund_collection: "收入线（代收资金）" / "Collection fund",
        fund_budget: "支出线（预算资金）" / "Budget fund",
        debit_total: "借方余额合计" / "Debit balances",
        credit_total: "贷方余额合计" / "Credit balances",
        balanced: "借贷平衡" / "Balanced",
        unbalanced: "借贷不平衡" / "Out of balance",
        account: "科目代码" / "Account",
        account_name: "科目名称" / "Name",
        debit: "借方发生额" / "Debits",
        credit: "贷方发生额" / "Credits",
        balance: "余额（元）" / "Balance (CNY)",
        balance_hint: "余额按科目的正常方向计。" / "Balances are signed in each account's normal direction.",
        no_accounts: "该资金没有科目。" / "No accounts in this fund.",
        chain: "账链" / "Hash chain",
        chain_entries: "分录数" / "Entries",
        chain_head: "链头哈希" / "Head hash",
        verify_button: "完整校验账链" / "Check the whole chain",
        verify_hint: "逐笔重算哈希链和全部余额，分录多时需要一些时间。" / "Recomputes the hash chain and every balance; takes a while on a large ledger.",
        verify_title: "校验账链" / "Chain check",
        verify_phase: "校验分录" / "Checking entries",
        verify_ok: "账链完整，余额一致；已校验分录" / "The chain and every balance agree; entries checked",
        statement: "科目明细账" / "Account statement",
        from: "起始日期" / "From",
        to: "截止日期" / "To",
        normal_side: "余额方向" / "Normal side",
        side_debit: "借" / "Debit",
        side_credit: "贷" / "Credit",
        opening: "期初余额" / "Opening balance",
        closing: "期末余额" / "Closing balance",
        period_debit: "本期借方" / "Debits in period",
        period_credit: "本期贷方" / "Credits in period",
        lines: "分录明细" / "Postings",
        no_lines: "该期间没有分录。" / "No postings in this period.",
        seq: "分录号" / "Entry",
        kind: "类型" / "Kind",
        memo: "摘要" / "Memo",
        reference: "关联" / "Reference",
        grouping: "这是汇总科目，分录记在其明细科目上。" / "This account only groups sub-accounts; postings go to them.",
        kind_capture: "收款" / "capture",
        kind_settlement: "结算" / "settlement",
        kind_fee_top_up: "手续费补足" / "fee top-up",
        kind_remittance: "缴库" / "remittance",
        kind_refund: "退款" / "refund",
        kind_reversal: "冲销" / "reversal",
        kind_appropriation: "拨款" / "appropriation",
        kind_adjustment: "调整" / "adjustment",
        kind_write_off: "差异核销" / "write-off",
        kind_treasury_return: "退库返还" / "treasury return",
        more_lines: "本页只列出部分分录；期初、本期和期末合计为整个期间的数字。" / "This page lists part of the postings; opening, period and closing figures cover the whole period.",
    }
}

impl LedgerWords {
    fn fund(&self, fund: Fund) -> &'static str {
        match fund {
            Fund::Collection => self.fund_collection,
            Fund::Budget => self.fund_budget,
        }
    }

    /// An entry kind in words.
    fn kind(&self, kind: EntryKind) -> &'static str {
        match kind {
            EntryKind::Capture => self.kind_capture,
            EntryKind::Settlement => self.kind_settlement,
            EntryKind::FeeTopUp => self.kind_fee_top_up,
            EntryKind::Remittance => self.kind_remittance,
            EntryKind::Refund => self.kind_refund,
            EntryKind::Reversal => self.kind_reversal,
            EntryKind::Appropriation => self.kind_appropriation,
            EntryKind::Adjustment => self.kind_adjustment,
            EntryKind::WriteOff => self.kind_write_off,
            EntryKind::TreasuryReturn => self.kind_treasury_return,
        }
    }

    fn side(&self, side: Side) -> &'static str {
        match side {
            Side::Debit => self.side_debit,
            Side::Credit => self.side_credit,
        }
    }
}

fn account_name(a: &Account, lang: Lang) -> &str {
    match lang {
        Lang::Zh => &a.name,
        Lang::En => &a.name_en,
    }
}

/// `?date=&csv=`.
#[derive(Debug, Deserialize)]
pub struct TrialQuery {
    date: Option<String>,
    csv: Option<String>,
    xlsx: Option<String>,
}

#[derive(Template)]
#[template(path = "ledger.html", config = "src/web/askama.toml")]
struct TrialPage {
    c: Chrome,
    t: &'static LedgerWords,
    date: String,
    chain_entries: i64,
    chain_head: String,
    tables: Vec<Table>,
}

async fn trial_balance(
    staff: Staff,
    query: web::Query<TrialQuery>,
) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_LEDGER)?;
    let lang = staff.lang;
    let (t, w) = (LedgerWords::of(lang), staff.w);
    let as_of = params::date("date", &query.date).or_page(lang)?;
    let (funds, (head_seq, head_hash)) = with_conn(&staff.ctx, move |conn, ctx| {
        Ok((
            repo::trial_balance(conn, &ctx.chart.current(), as_of)?,
            repo::chain_head(conn)?,
        ))
    })
    .await
    .or_page(lang)?;

    let mut tables = fund_tables(&funds, t, w, lang);
    let date_text = as_of.map(|d| d.to_string());
    if let Some(id) = Export::asked(&query.csv, &query.xlsx) {
        let refs: Vec<&Table> = tables.iter().collect();
        let stem = format!(
            "trial-balance-{}",
            date_text.as_deref().unwrap_or(t.everything)
        );
        return download(&refs, id, &stem, lang);
    }
    let req = staff.request();
    let (path, qs) = (req.path().to_string(), req.query_string().to_string());
    link_csv(&mut tables.iter_mut().collect::<Vec<_>>(), &path, &qs);
    let title = format!(
        "{} · {}",
        t.title,
        date_text
            .clone()
            .unwrap_or_else(|| t.everything.to_string())
    );
    let page = TrialPage {
        c: staff.chrome(title, "ledger"),
        t,
        date: date_text.unwrap_or_default(),
        chain_entries: head_seq,
        chain_head: hex::encode(head_hash),
        tables,
    };
    staff.page(&page)
}

/// The trial balance as tables: the funds' summary first, then each fund's accounts.
fn fund_tables(funds: &[FundTrialBalance], t: &LedgerWords, w: &Common, lang: Lang) -> Vec<Table> {
    let mut summary = Table::new("funds", t.funds, w.nothing_here)
        .col(t.fund)
        .num(t.debit_total)
        .num(t.credit_total)
        .col(w.status);
    let mut tables = Vec::new();
    for f in funds {
        let difference = f.debit_total_minor - f.credit_total_minor;
        summary.push(vec![
            Cell::text(t.fund(f.fund)),
            Cell::Money(f.debit_total_minor),
            Cell::Money(f.credit_total_minor),
            if difference == 0 {
                Cell::status("ok", t.balanced)
            } else {
                Cell::status(
                    "bad",
                    format!("{} ({})", t.unbalanced, Cell::Money(difference).shown()),
                )
            },
        ]);
        let mut accounts = Table::new(f.fund.as_str(), t.fund(f.fund), t.no_accounts)
            .col(t.account)
            .col(t.account_name)
            .num(t.debit)
            .num(t.credit)
            .num(t.balance);
        for b in &f.accounts {
            let a = &b.account;
            accounts.push(vec![
                Cell::link(&a.code, format!("{BASE}/ledger/accounts/{}", a.code)),
                Cell::text(account_name(a, lang)),
                Cell::Money(b.debit_minor),
                Cell::Money(b.credit_minor),
                Cell::Money(b.balance_minor()),
            ]);
        }
        accounts.foot = Some(vec![
            Cell::text(w.total),
            Cell::Empty,
            Cell::Money(f.accounts.iter().map(|b| b.debit_minor).sum()),
            Cell::Money(f.accounts.iter().map(|b| b.credit_minor).sum()),
            Cell::Empty,
        ]);
        tables.push(accounts);
    }
    tables.insert(0, summary);
    tables
}

#[derive(Debug, Deserialize)]
struct VerifyForm {}

/// Starts the chain check as a task and sends the browser to its progress page.
async fn verify(
    staff: Staff,
    jobs: web::Data<Jobs>,
    form: PostForm<VerifyForm>,
) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_LEDGER)?;
    staff.form(form)?;
    let lang = staff.lang;
    let t = LedgerWords::of(lang);
    let ctx = staff.ctx.clone();
    let id = jobs
        .start(
            t.verify_title.to_string(),
            staff.principal.token_id.clone(),
            move |progress| {
                let checked = (|| -> Result<repo::VerifyReport, ApiError> {
                    let mut conn = ctx.read_conn()?;
                    let (head, _) = repo::chain_head(&mut conn)?;
                    progress.phase(t.verify_phase, u64::try_from(head).ok());
                    Ok(repo::verify(&mut conn, &ctx.chart.current(), |done, _| {
                        progress.done(u64::try_from(done).unwrap_or(0));
                    })?)
                })();
                match checked {
                    Ok(r) if r.ok => Outcome::Done {
                        summary: format!("{} {}", t.verify_ok, r.entries),
                        href: format!("{BASE}/ledger"),
                    },
                    Ok(r) => Outcome::Failed(
                        ApiError::new(
                            StatusCode::CONFLICT,
                            "chain_broken",
                            "The ledger does not verify",
                            r.problems.join("; "),
                        )
                        .with("first_bad_entry", r.first_bad_entry),
                    ),
                    Err(e) => Outcome::Failed(e),
                }
            },
        )
        .await
        .or_page(lang)?;
    Ok(jobs::follow(&id))
}

/// `?from=&to=&after=&limit=&csv=`.
#[derive(Debug, Deserialize)]
pub struct StatementQuery {
    from: Option<String>,
    to: Option<String>,
    after: Option<String>,
    limit: Option<String>,
    csv: Option<String>,
    xlsx: Option<String>,
}

#[derive(Template)]
#[template(path = "account.html", config = "src/web/askama.toml")]
struct StatementPage {
    c: Chrome,
    t: &'static LedgerWords,
    code: String,
    fund: &'static str,
    normal_side: &'static str,
    grouping: bool,
    from: String,
    to: String,
    opening: i64,
    debit: i64,
    credit: i64,
    closing: i64,
    table: Table,
    next_href: Option<String>,
}

/// The statement's lines as a table.
fn statement_table(lines: &[AccountLine], t: &LedgerWords, w: &Common) -> Table {
    let mut table = Table::new("statement", t.lines, t.no_lines)
        .col(w.business_date)
        .num(t.seq)
        .col(t.kind)
        .record(t.memo)
        .col(t.reference)
        .num(t.debit)
        .num(t.credit);
    for l in lines {
        let (debit, credit) = match l.side {
            Side::Debit => (Cell::Money(l.amount_minor), Cell::Empty),
            Side::Credit => (Cell::Empty, Cell::Money(l.amount_minor)),
        };
        let reference = match &l.reference {
            Some(r) if r.starts_with("pay_") => Cell::link(r, format!("{BASE}/payments/{r}")),
            Some(r) => Cell::text(r),
            None => Cell::Empty,
        };
        table.push(vec![
            Cell::Date(l.business_date),
            Cell::Int(l.seq),
            Cell::text(t.kind(l.kind)),
            Cell::text(&l.memo),
            reference,
            debit,
            credit,
        ]);
    }
    table
}

async fn statement(
    staff: Staff,
    code: web::Path<String>,
    query: web::Query<StatementQuery>,
) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_LEDGER)?;
    let lang = staff.lang;
    let (t, w) = (LedgerWords::of(lang), staff.w);
    let code = code.into_inner();
    let q = EntriesQuery {
        from: params::date("from", &query.from).or_page(lang)?,
        to: params::date("to", &query.to).or_page(lang)?,
        limit: Some(
            params::int("limit", &query.limit)
                .or_page(lang)?
                .unwrap_or(MAX_LIMIT),
        ),
        after: params::text(&query.after).map(str::to_string),
    };
    let (from, to) = (q.from, q.to);
    let lookup = code.clone();
    let (account, lines, totals) = with_conn(&staff.ctx, move |conn, ctx| {
        let lines = statement_lines(conn, &ctx.chart.current(), &lookup, &q)?;
        let totals = repo::account_period_totals(conn, &lookup, from, to)?;
        let account = ctx
            .chart
            .current()
            .get(&lookup)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("no account '{lookup}'")))?;
        Ok((account, lines, totals))
    })
    .await
    .or_page(lang)?;
    let PeriodTotals {
        opening_debit_minor,
        opening_credit_minor,
        debit_minor,
        credit_minor,
    } = totals;
    let opening = account.signed_balance(opening_debit_minor, opening_credit_minor);
    let closing = account.signed_balance(
        opening_debit_minor + debit_minor,
        opening_credit_minor + credit_minor,
    );
    let mut table = statement_table(&lines.items, t, w);
    if let Some(id) = Export::asked(&query.csv, &query.xlsx) {
        return download(&[&table], id, &format!("account-{code}"), lang);
    }
    let req = staff.request();
    let (path, qs) = (req.path().to_string(), req.query_string().to_string());
    link_csv(&mut [&mut table], &path, &qs);
    let page = StatementPage {
        c: staff.chrome(
            format!(
                "{} · {} {}",
                t.statement,
                account.code,
                account_name(&account, lang)
            ),
            "ledger",
        ),
        t,
        fund: t.fund(account.fund),
        normal_side: t.side(account.normal_side()),
        grouping: !account.postable,
        code: account.code.clone(),
        from: from.map(|d| d.to_string()).unwrap_or_default(),
        to: to.map(|d| d.to_string()).unwrap_or_default(),
        opening,
        debit: debit_minor,
        credit: credit_minor,
        closing,
        table,
        next_href: lines
            .next
            .as_deref()
            .map(|n| with_param(&path, &qs, "after", n)),
    };
    staff.page(&page)
}
