//! 对账: a business date's imported files and the upload of more (multipart, spooled and
//! imported by the same functions as `POST /v1/settlement-files`, as a task with progress), the
//! run of the reconciliation (`recon::runs`, as a task reporting its phases), the latest run's
//! three tiers, its exceptions with filters and the forms that resolve and approve them
//! (`recon::exceptions`), and what still stops the day from closing (`recon::days`).

use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDate;
use futures_util::StreamExt;
use serde::Deserialize;

use super::i18n::{Common, Lang};
use super::jobs::{self, Jobs, Outcome};
use super::table::{link_csv, Cell, Table};
use super::{csv_download, Chrome, OrPage, Staff, WebError, BASE};
use crate::app::AppContext;
use crate::auth::may;
use crate::bankfiles::store::{self, Imported};
use crate::bankfiles::SpecInfo;
use crate::http::problem::ApiError;
use crate::http::upload;
use crate::recon::days;
use crate::recon::exceptions::{self, Action, ExceptionState, Resolve};
use crate::recon::runs::{self, Phase, Report, Run};
use crate::words;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/reconciliation", web::get().to(show))
        .route("/reconciliation/upload", web::post().to(upload))
        .route("/reconciliation/run", web::post().to(run))
        .route("/exceptions/{id}/resolve", web::post().to(resolve))
        .route("/exceptions/{id}/approve", web::post().to(approve));
}

words! {
    /// Labels of the reconciliation page (and of the reconciliation parts of the daily report).
    pub struct ReconWords {
        title: "对账" / "Reconciliation",
        files: "参与对账的文件" / "Files this date's reconciliation reads",
        no_files: "尚未导入该日的清算文件或对账单。" / "No settlement file or statement of this date has been imported.",
        file_name: "文件名" / "File name",
        spec: "格式" / "Format",
        produces: "类型" / "Type",
        produces_settlement: "清算文件" / "Settlement file",
        produces_statement: "银行对账单" / "Bank statement",
        records: "记录数" / "Records",
        gross_or_credits: "交易额/贷方合计" / "Gross / credits",
        fee: "手续费" / "Fee",
        net_or_debits: "净额/借方合计" / "Net / debits",
        imported_at: "导入时间（北京时间）" / "Imported at (Beijing time)",
        imported_by: "导入人" / "Imported by",
        upload: "导入清算文件或对账单" / "Import a settlement file or statement",
        upload_file: "文件" / "File",
        upload_spec: "文件格式" / "File format",
        spec_by_name: "按文件名自动识别" / "Recognise from the file name",
        upload_button: "上传并导入" / "Upload and import",
        upload_hint: "同一文件重复导入不会重复记账；格式有误的文件整体拒收。" / "A file imported twice is recognised, not doubled; a corrupt file is refused whole.",
        importing: "导入" / "Import",
        reading_records: "读取记录" / "Reading records",
        imported_done: "已导入" / "Imported",
        already_imported: "此前已导入（未重复记录）" / "Imported before (nothing stored twice)",
        records_unit: "条记录" / "records",
        no_spec_fits: "无法从文件名识别格式，请选择文件格式。" / "No format fits this file name; choose the file format.",
        choose_file: "请选择要上传的文件。" / "Choose a file to upload.",
        run: "运行对账" / "Run the reconciliation",
        run_button: "运行对账" / "Run",
        run_hint: "重新运行会以最新数据替换该日的对账结果；已处理的相同差异保持已处理。" / "Running again replaces the date's results with the latest data; differences already worked stay worked.",
        run_title: "对账" / "Reconcile",
        phase_load: "读取缴费、清算明细和银行流水" / "Loading payments, settlement lines and bookings",
        phase_match: "三层匹配" / "Matching the three tiers",
        phase_store: "保存结果和差异" / "Storing outcomes and exceptions",
        phase_post: "为已到账文件记结算分录" / "Posting the settlement entries of paid files",
        run_done: "对账完成" / "Reconciled",
        open_unit: "条差异待处理" / "exceptions open",
        posted_entries: "本次记账的结算分录" / "Settlement entries posted now",
        latest_run: "最近一次对账" / "Latest run",
        no_run: "该日尚未对账。" / "This date has not been reconciled.",
        run_id: "对账编号" / "Run",
        run_at: "运行时间（北京时间）" / "Run at (Beijing time)",
        run_by: "运行人" / "Run by",
        open_exceptions: "未处理差异" / "Open exceptions",
        tiers: "三层对账结果" / "The three tiers",
        tier: "层级" / "Tier",
        category: "结果" / "Outcome",
        tier_transaction: "交易层（账簿 ↔ 清算明细）" / "Transaction (ledger ↔ settlement lines)",
        tier_cash: "资金层（清算净额 ↔ 银行入账）" / "Cash (file net ↔ bank credit)",
        tier_balance: "余额层（对账单余额 ↔ 账簿 1002.01）" / "Balance (statement ↔ ledger 1002.01)",
        balance: "余额核对" / "Balance check",
        statement_balance: "对账单期末余额" / "Statement closing balance",
        ledger_balance: "账簿 1002.01 余额" / "Ledger 1002.01 balance",
        difference: "差额" / "Difference",
        balance_agree: "一致" / "Agree",
        balance_differ: "不一致" / "Differ",
        balance_no_statement: "未导入对账单" / "No statement imported",
        by_channel: "按渠道" / "By channel",
        by_department: "按部门" / "By department",
        key_channel: "渠道" / "Channel",
        key_department: "部门" / "Department",
        payments: "缴费笔数" / "Payments",
        matched_count: "已匹配" / "Matched",
        exception_count: "有差异" / "With exceptions",
        netting: "清算文件轧差与结算分录" / "Settlement files: netting and settlement entries",
        merchant: "商户号" / "Merchant",
        settlement_date: "清算日期" / "Settlement date",
        lines: "明细笔数" / "Lines",
        gross: "交易额" / "Gross",
        net: "净额" / "Net",
        entry: "结算分录" / "Settlement entry",
        not_posted: "未记账（资金未到账）" / "Not posted (cash not arrived)",
        exceptions: "差异" / "Exceptions",
        no_exceptions: "没有符合条件的差异。" / "No exceptions match.",
        filter_status: "状态" / "Status",
        filter_kind: "类别" / "Kind",
        filter_all: "全部" / "All",
        filter_button: "筛选" / "Filter",
        exception_id: "差异编号" / "Exception",
        payment: "缴费" / "Payment",
        settlement_line: "清算明细/文件/流水" / "Settlement line / file / booking",
        booking: "银行流水" / "booking",
        ledger_amount: "账簿金额" / "Ledger amount",
        settlement_amount: "清算/银行金额" / "Settlement / bank amount",
        resolution: "处理方式" / "Resolution",
        resolved_by: "处理人" / "Resolved by",
        approved_by: "审批人" / "Approved by",
        note: "说明" / "Note",
        suggested_action: "建议操作" / "Suggested action",
        status_open: "待处理" / "Open",
        status_awaiting_approval: "待审批" / "Awaiting approval",
        status_resolved: "已处理" / "Resolved",
        work: "处理差异" / "Work the exceptions",
        resolve: "处理" / "Resolve",
        resolve_action: "处理方式" / "Action",
        resolve_note: "说明（必填）" / "Why (required)",
        resolve_payment: "对应缴费编号（人工匹配时）" / "Payment id (for a manual match)",
        resolve_record: "对应清算明细编号（人工匹配时）" / "Settlement line id (for a manual match)",
        resolve_button: "提交处理" / "Submit",
        action_manual_match: "人工匹配" / "Manual match",
        action_write_off: "核销（需另一人审批）" / "Write off (a second person approves)",
        action_bank_claim: "向银行/收单机构索赔" / "Claim from the bank or acquirer",
        action_accept_timing: "确认为时间差" / "Accept as a timing difference",
        approve: "审批核销" / "Approve the write-off",
        approve_hint: "核销须由提出人以外的另一人审批。" / "A write-off is approved by someone other than who proposed it.",
        proposed_by: "提出人" / "Proposed by",
        resolved_message: "差异已处理：" / "Exception resolved: ",
        proposed_message: "核销已提交，待另一人审批：" / "Write-off proposed, awaiting a second person: ",
        approved_message: "核销已审批：" / "Write-off approved: ",
        close_blocked: "该日暂不能结账：" / "This day cannot be closed yet: ",
        close_ready: "没有阻止结账的事项，可以去日结。" / "Nothing stops this day from closing; go to the day close.",
        day_closed: "该日已结账，对账结果已随签章固定。" / "This day is closed; its reconciliation is fixed with the seal.",
        go_days: "去日结" / "Go to the day close",
        cat_matched: "已匹配" / "Matched",
        cat_amount_mismatch: "金额不符" / "Amount mismatch",
        cat_missing_in_settlement: "清算缺失（账有单无）" / "Missing in settlement",
        cat_missing_in_ledger: "账簿缺失（单有账无）" / "Missing in ledger",
        cat_duplicate_in_settlement: "重复清算" / "Settled twice",
        cat_void_settled: "已撤销仍被清算" / "Voided but settled",
        cat_cash_matched: "资金已到账" / "Cash arrived",
        cat_cash_mismatch: "到账金额不符" / "Cash mismatch",
        cat_cash_missing: "资金未到账" / "Cash missing",
        colon: "：" / ": ",
        comma: "，" / ", ",
        semicolon: "；" / "; ",
        open_paren: "（" / " (",
        close_paren: "）" / ")",
    }
}

/// The outcome categories of each tier, in the API's names and order.
const TRANSACTION_TIER: [&str; 6] = [
    "matched",
    "amount_mismatch",
    "missing_in_settlement",
    "missing_in_ledger",
    "duplicate_in_settlement",
    "void_settled",
];
const CASH_TIER: [&str; 3] = ["cash_matched", "cash_mismatch", "cash_missing"];
const STATUSES: [&str; 3] = ["open", "awaiting_approval", "resolved"];
const ACTIONS: [&str; 4] = ["accept_timing", "bank_claim", "manual_match", "write_off"];

impl ReconWords {
    /// An outcome category in words (the API's name when unknown).
    pub fn category<'a>(&self, code: &'a str) -> &'a str {
        match code {
            "matched" => self.cat_matched,
            "amount_mismatch" => self.cat_amount_mismatch,
            "missing_in_settlement" => self.cat_missing_in_settlement,
            "missing_in_ledger" => self.cat_missing_in_ledger,
            "duplicate_in_settlement" => self.cat_duplicate_in_settlement,
            "void_settled" => self.cat_void_settled,
            "cash_matched" => self.cat_cash_matched,
            "cash_mismatch" => self.cat_cash_mismatch,
            "cash_missing" => self.cat_cash_missing,
            other => other,
        }
    }

    /// An exception's status in words.
    pub fn status<'a>(&self, code: &'a str) -> &'a str {
        match code {
            "open" => self.status_open,
            "awaiting_approval" => self.status_awaiting_approval,
            "resolved" => self.status_resolved,
            other => other,
        }
    }

    /// A resolution in words.
    pub fn action<'a>(&self, code: &'a str) -> &'a str {
        match code {
            "manual_match" => self.action_manual_match,
            "write_off" => self.action_write_off,
            "bank_claim" => self.action_bank_claim,
            "accept_timing" => self.action_accept_timing,
            other => other,
        }
    }

    fn phase(&self, phase: Phase) -> &'static str {
        match phase {
            Phase::Load => self.phase_load,
            Phase::Match => self.phase_match,
            Phase::Store => self.phase_store,
            Phase::Post => self.phase_post,
        }
    }
}

/// A reason the day close would be refused now, as the pages show it: the problem code the
/// close answers, its title in the page language, and the detail.
pub(super) struct Blocker {
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
}

/// The close use case's refusals as [`Blocker`]s in `lang`.
pub(super) fn blockers(found: Vec<days::CloseError>, lang: Lang) -> Vec<Blocker> {
    found
        .into_iter()
        .map(ApiError::from)
        .map(|p| Blocker {
            code: p.code,
            title: match lang {
                Lang::Zh => super::i18n::problem_title_zh(p.code).unwrap_or(p.title),
                Lang::En => p.title,
            },
            detail: p.detail,
        })
        .collect()
}

/// The business date a morning page shows: `?date=`, or yesterday (the day the morning's work
/// is about); a malformed date is a 422 naming `date`.
pub(super) fn morning_date(date: Option<&str>, ctx: &AppContext) -> Result<NaiveDate, ApiError> {
    Ok(super::params::date("date", &date.map(str::to_string))?
        .unwrap_or_else(|| ctx.business_today() - chrono::Duration::days(1)))
}

/// A decimal amount as the API gives it, as a money cell (empty when absent).
pub(super) fn amount_cell(text: Option<&str>) -> Cell {
    match text.map(crate::money::parse_signed_amount) {
        Some(Ok(minor)) => Cell::Money(minor),
        Some(Err(_)) => Cell::text(text.unwrap_or_default()),
        None => Cell::Empty,
    }
}

/// The run's three tiers as a table: count per outcome category (the run's summary), with the
/// balance tier's result.
pub(super) fn tiers_table(run: &Run, t: &ReconWords, w: &Common) -> Table {
    let mut table = Table::new("tiers", t.tiers, t.no_run)
        .col(t.tier)
        .col(t.category)
        .num(w.count);
    let count = |c: &str| run.summary.get(c).and_then(|v| v.as_i64()).unwrap_or(0);
    for (tier, cats) in [
        (t.tier_transaction, &TRANSACTION_TIER[..]),
        (t.tier_cash, &CASH_TIER[..]),
    ] {
        for c in cats {
            let n = count(c);
            let label = t.category(c).to_string();
            let cell = match (*c, n) {
                ("matched" | "cash_matched", _) | (_, 0) => Cell::Text(label),
                _ => Cell::status("bad", label),
            };
            table.push(vec![Cell::text(tier), cell, Cell::Int(n)]);
        }
    }
    let (tone, text) = balance_result(run, t);
    table.push(vec![
        Cell::text(t.tier_balance),
        Cell::status(tone, text),
        Cell::Empty,
    ]);
    table
}

fn balance_result(run: &Run, t: &ReconWords) -> (&'static str, &'static str) {
    match run.balance.get("result").and_then(|v| v.as_str()) {
        Some("agree") => ("ok", t.balance_agree),
        Some("differ") => ("bad", t.balance_differ),
        _ => ("warn", t.balance_no_statement),
    }
}

/// The balance tier's figures.
pub(super) fn balance_table(run: &Run, t: &ReconWords) -> Table {
    let mut table = Table::new("balance", t.balance, t.no_run)
        .col(t.category)
        .num(t.statement_balance)
        .num(t.ledger_balance)
        .num(t.difference);
    let minor = |k: &str| run.balance.get(k).and_then(|v| v.as_i64());
    let cell = |v: Option<i64>| v.map_or(Cell::Empty, Cell::Money);
    let (tone, text) = balance_result(run, t);
    let (statement, ledger) = match minor("balance_minor") {
        Some(b) => (Some(b), Some(b)),
        None => (minor("statement_minor"), minor("ledger_minor")),
    };
    let difference = statement.zip(ledger).map(|(s, l)| s - l);
    table.push(vec![
        Cell::status(tone, text),
        cell(statement),
        cell(ledger),
        cell(difference),
    ]);
    table
}

/// A run's exceptions as a table, with how each was worked.
pub(super) fn exceptions_table(
    id: &'static str,
    caption: &str,
    report: &Report,
    states: &[ExceptionState],
    keep: impl Fn(&runs::ExceptionRow) -> bool,
    t: &ReconWords,
    lang: Lang,
) -> Table {
    let mut table = Table::new(id, caption, t.no_exceptions)
        .col(t.exception_id)
        .col(t.filter_kind)
        .col(t.payment)
        .col(t.settlement_line)
        .num(t.ledger_amount)
        .num(t.settlement_amount)
        .col(t.filter_status)
        .col(t.resolution)
        .col(t.resolved_by)
        .col(t.approved_by)
        .col(t.note)
        .col(t.suggested_action);
    for e in report.exceptions.iter().filter(|e| keep(e)) {
        let state = states.iter().find(|s| s.id == e.id);
        let tone = match e.status.as_str() {
            "resolved" => "ok",
            "awaiting_approval" => "warn",
            _ => "bad",
        };
        let line = [
            e.settlement_record_id.map(|r| format!("#{r}")),
            e.file_id.clone(),
            e.booking_id.map(|b| format!("{} #{b}", t.booking)),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
        let text = |v: Option<&String>| v.map_or(Cell::Empty, |s| Cell::text(s.clone()));
        table.push(vec![
            Cell::text(&e.id),
            Cell::text(t.category(&e.kind)),
            text(e.payment_id.as_ref()),
            Cell::Text(line),
            e.ledger_minor.map_or(Cell::Empty, Cell::Money),
            e.settlement_minor.map_or(Cell::Empty, Cell::Money),
            Cell::status(tone, t.status(&e.status)),
            state
                .and_then(|s| s.resolution.as_deref())
                .map_or(Cell::Empty, |r| Cell::text(t.action(r))),
            text(state.and_then(|s| s.resolved_by.as_ref())),
            text(state.and_then(|s| s.approved_by.as_ref())),
            text(state.and_then(|s| s.note.as_ref())),
            Cell::Prose(suggestion(&e.suggested_action, lang).to_string()),
        ]);
    }
    table
}

/// What the page needs to know about the date, read in one go.
struct Loaded {
    files: Vec<Imported>,
    report: Option<Report>,
    states: Vec<ExceptionState>,
    day: days::Day,
    blockers: Vec<days::CloseError>,
}

fn load(ctx: &crate::app::AppContext, date: NaiveDate) -> Result<Loaded, ApiError> {
    let conn = &mut *ctx.conn()?;
    let mut files = Vec::new();
    for id in runs::input_files(conn, date)? {
        files.extend(store::get(conn, &id)?);
    }
    let report = match runs::latest(conn, date)? {
        Some(run) => runs::report(conn, &run.id)?,
        None => None,
    };
    let states = match &report {
        Some(r) => exceptions::of_run(conn, &r.run.id)?,
        None => Vec::new(),
    };
    let today = ctx.business_today();
    let blockers = days::close_blockers(conn, date, today)?;
    Ok(Loaded {
        files,
        report,
        states,
        day: days::get(conn, date)?,
        blockers,
    })
}

/// The date's reconciliation state for other pages (the daily report).
pub(super) async fn load_for(staff: &Staff, date: NaiveDate) -> Result<ReconState, WebError> {
    let ctx = staff.ctx.clone();
    let loaded = web::block(move || load(&ctx, date))
        .await
        .or_page(staff.lang)?
        .or_page(staff.lang)?;
    Ok(ReconState {
        report: loaded.report,
        states: loaded.states,
    })
}

/// A date's latest run, with how its exceptions were worked.
pub(super) struct ReconState {
    pub report: Option<Report>,
    pub states: Vec<ExceptionState>,
}

/// An open exception with its forms' field ids.
struct Workable {
    id: String,
    kind: String,
    status: String,
    status_label: &'static str,
    suggested_action: String,
    proposed_by: Option<String>,
}

#[derive(Template)]
#[template(path = "reconciliation.html", config = "src/web/askama.toml")]
struct ReconPage {
    c: Chrome,
    t: &'static ReconWords,
    date: NaiveDate,
    here: String,
    specs: Vec<SpecInfo>,
    may_import: bool,
    may_run: bool,
    may_resolve: bool,
    run: Option<Run>,
    day_closed: bool,
    blockers: Vec<Blocker>,
    statuses: Vec<Opt>,
    kinds: Vec<Opt>,
    actions: Vec<Opt>,
    files: Table,
    summary: Vec<Table>,
    groups: Vec<Table>,
    exceptions: Table,
    workable: Vec<Workable>,
}

/// `?date=&status=&kind=&csv=`.
#[derive(Debug, Deserialize)]
struct ReconQuery {
    date: Option<String>,
    status: Option<String>,
    kind: Option<String>,
    csv: Option<String>,
}

fn produces_label(t: &ReconWords, p: &str) -> String {
    match p {
        "settlement" => t.produces_settlement.into(),
        "statement" => t.produces_statement.into(),
        other => other.into(),
    }
}

fn files_table(files: &[Imported], t: &ReconWords) -> Table {
    let mut table = Table::new("files", t.files, t.no_files)
        .col(t.file_name)
        .col(t.spec)
        .col(t.produces)
        .num(t.records)
        .num(t.gross_or_credits)
        .num(t.fee)
        .num(t.net_or_debits)
        .col(t.imported_at)
        .col(t.imported_by);
    for f in files {
        let statement = f.produces == "statement";
        let (a, b) = if statement {
            (f.totals.credits.as_deref(), f.totals.debits.as_deref())
        } else {
            (f.totals.gross.as_deref(), f.totals.net.as_deref())
        };
        table.push(vec![
            Cell::text(f.file_name.clone().unwrap_or_else(|| f.id.clone())),
            Cell::text(&f.spec),
            Cell::Text(produces_label(t, &f.produces)),
            Cell::Int(i64::try_from(f.records).unwrap_or(i64::MAX)),
            amount_cell(a),
            amount_cell(f.totals.fee.as_deref()),
            amount_cell(b),
            Cell::Text(super::local_time(&f.imported_at.naive_utc())),
            Cell::text(&f.imported_by),
        ]);
    }
    table
}

fn group_table(
    id: &'static str,
    caption: &str,
    key: &str,
    groups: &[runs::Group],
    t: &ReconWords,
    w: &Common,
) -> Table {
    let mut table = Table::new(id, caption, t.no_run)
        .col(key)
        .num(t.payments)
        .num(w.amount)
        .num(t.matched_count)
        .num(t.exception_count);
    let int = |n: u64| Cell::Int(i64::try_from(n).unwrap_or(i64::MAX));
    for g in groups {
        table.push(vec![
            Cell::text(w.channel(&g.key)),
            int(g.payments),
            amount_cell(Some(&g.amount)),
            int(g.matched),
            int(g.exceptions),
        ]);
    }
    table
}

fn netting_table(report: &Report, t: &ReconWords) -> Table {
    let mut table = Table::new("netting", t.netting, t.no_files)
        .col(t.file_name)
        .col(t.spec)
        .col(t.merchant)
        .col(t.settlement_date)
        .num(t.lines)
        .num(t.gross)
        .num(t.fee)
        .num(t.net)
        .col(t.entry);
    for n in &report.netting {
        table.push(vec![
            Cell::text(&n.file_id),
            Cell::text(&n.spec),
            Cell::text(n.merchant.clone().unwrap_or_default()),
            n.settlement_date.map_or(Cell::Empty, Cell::Date),
            Cell::Int(n.lines),
            amount_cell(Some(&n.gross)),
            amount_cell(Some(&n.fee)),
            amount_cell(Some(&n.net)),
            match n.entry_seq {
                Some(seq) => Cell::status("ok", format!("#{seq}")),
                None => Cell::status("warn", t.not_posted),
            },
        ]);
    }
    table
}

/// One `<option>` of a select.
pub(super) struct Opt {
    pub code: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

fn options(
    codes: &[&'static str],
    label: impl Fn(&'static str) -> &'static str,
    chosen: &str,
) -> Vec<Opt> {
    codes
        .iter()
        .map(|c| Opt {
            code: c,
            label: label(c),
            selected: *c == chosen,
        })
        .collect()
}

async fn show(staff: Staff, query: web::Query<ReconQuery>) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_RECONCILIATION)?;
    let lang = staff.lang;
    let date = morning_date(query.date.as_deref(), &staff.ctx).or_page(lang)?;
    let ctx = staff.ctx.clone();
    let loaded = web::block(move || load(&ctx, date))
        .await
        .or_page(lang)?
        .or_page(lang)?;
    let (t, w) = (ReconWords::of(lang), staff.w);
    let status = query.status.clone().unwrap_or_default();
    let kind = query.kind.clone().unwrap_or_default();
    let mut files = files_table(&loaded.files, t);
    let (mut summary, mut groups, mut exceptions_list, workable) = match &loaded.report {
        Some(report) => {
            let keep = |e: &runs::ExceptionRow| {
                (status.is_empty() || e.status == status) && (kind.is_empty() || e.kind == kind)
            };
            let workable = report
                .exceptions
                .iter()
                .filter(|e| e.status != "resolved" && keep(e))
                .map(|e| Workable {
                    id: e.id.clone(),
                    kind: t.category(&e.kind).to_string(),
                    status: e.status.clone(),
                    status_label: match e.status.as_str() {
                        "open" => t.status_open,
                        _ => t.status_awaiting_approval,
                    },
                    suggested_action: e.suggested_action.clone(),
                    proposed_by: loaded
                        .states
                        .iter()
                        .find(|s| s.id == e.id)
                        .and_then(|s| s.resolved_by.clone()),
                })
                .collect();
            (
                vec![
                    tiers_table(&report.run, t, w),
                    balance_table(&report.run, t),
                ],
                vec![
                    group_table(
                        "by_channel",
                        t.by_channel,
                        t.key_channel,
                        &report.by_channel,
                        t,
                        w,
                    ),
                    group_table(
                        "by_department",
                        t.by_department,
                        t.key_department,
                        &report.by_department,
                        t,
                        w,
                    ),
                    netting_table(report, t),
                ],
                exceptions_table(
                    "exceptions",
                    t.exceptions,
                    report,
                    &loaded.states,
                    keep,
                    t,
                    lang,
                ),
                workable,
            )
        }
        None => (
            Vec::new(),
            Vec::new(),
            Table::new("exceptions", t.exceptions, t.no_exceptions),
            Vec::new(),
        ),
    };
    if let Some(id) = &query.csv {
        let mut all: Vec<&Table> = vec![&files, &exceptions_list];
        all.extend(summary.iter());
        all.extend(groups.iter());
        return csv_download(&all, id, &format!("reconciliation-{date}"), lang);
    }
    let (path, qs) = (
        staff.request().path().to_string(),
        staff.request().query_string().to_string(),
    );
    {
        let mut refs: Vec<&mut Table> = vec![&mut files, &mut exceptions_list];
        refs.extend(summary.iter_mut());
        refs.extend(groups.iter_mut());
        link_csv(&mut refs, &path, &qs);
    }
    let page = ReconPage {
        c: staff.chrome(format!("{} · {date}", t.title), "reconciliation"),
        t,
        date,
        here: super::here(staff.request()),
        specs: staff.ctx.bank_specs.list(),
        may_import: staff.may(may::IMPORT_FILES),
        may_run: staff.may(may::RECONCILE),
        may_resolve: staff.may(may::RESOLVE_EXCEPTION),
        run: loaded.report.as_ref().map(|r| r.run.clone()),
        day_closed: loaded.day.status == "closed",
        blockers: blockers(loaded.blockers, lang),
        statuses: options(&STATUSES, |c| t.status(c), &status),
        kinds: options(
            &[&TRANSACTION_TIER[1..], &CASH_TIER[1..]].concat(),
            |c| t.category(c),
            &kind,
        ),
        actions: options(&ACTIONS, |c| t.action(c), ""),
        files,
        summary,
        groups,
        exceptions: exceptions_list,
        workable,
    };
    staff.page(&page)
}

fn bad_form(detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "Bad request",
        format!("the form could not be read: {detail}"),
    )
}

/// The upload form has four parts; a request with many more is not one of ours.
const MAX_PARTS: usize = 16;

/// A short text field of a multipart form (at most 1 KiB).
async fn text_field(
    field: &mut actix_multipart::Field,
    idle: Duration,
) -> Result<String, ApiError> {
    let name = field.name().map(str::to_string);
    let bytes = actix_web::rt::time::timeout(idle, field.bytes(1024))
        .await
        .map_err(|_| crate::http::extract::body_timed_out(idle))?
        .map_err(|_| ApiError::invalid(name.clone(), "the field is too long"))?
        .map_err(bad_form)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::invalid(name, "not UTF-8 text"))
}

/// The upload form: `csrf` (first), `date`, `spec` (empty: from the file name), `file`. The
/// token is checked before the file is read; the file is spooled as the API spools it, then
/// imported as a task.
async fn upload(
    staff: Staff,
    jobs: web::Data<Jobs>,
    mut form: Multipart,
) -> Result<HttpResponse, WebError> {
    staff.require(may::IMPORT_FILES)?;
    let lang = staff.lang;
    let t = ReconWords::of(lang);
    let ctx = staff.ctx.clone();
    let idle = Duration::from_secs(ctx.config.request_timeout_secs);
    let mut csrf_ok = false;
    let mut spec: Option<String> = None;
    let mut date: Option<String> = None;
    let mut file: Option<(upload::Spooled, String)> = None;
    let mut parts = 0;
    loop {
        let next = actix_web::rt::time::timeout(idle, form.next())
            .await
            .map_err(|_| crate::http::extract::body_timed_out(idle))
            .or_page(lang)?;
        let Some(field) = next else { break };
        parts += 1;
        if parts > MAX_PARTS {
            return Err(WebError::Problem(
                bad_form(format!("more than {MAX_PARTS} parts")),
                lang,
            ));
        }
        let mut field = field.map_err(bad_form).or_page(lang)?;
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            if !csrf_ok {
                return Err(staff.form_expired());
            }
            let file_name = field
                .content_disposition()
                .and_then(|d| d.get_filename())
                .unwrap_or_default()
                .to_string();
            let spooled = upload::spool(
                &ctx.config.data_dir,
                &mut field,
                ctx.config.upload_limit_bytes,
                idle,
            )
            .await
            .or_page(lang)?;
            if !file_name.is_empty() || spooled.size > 0 {
                file = Some((spooled, file_name));
            }
            continue;
        }
        let value = text_field(&mut field, idle).await.or_page(lang)?;
        match name.as_str() {
            "csrf" => csrf_ok = staff.csrf_ok(&value),
            "spec" => spec = Some(value).filter(|s| !s.is_empty()),
            "date" => date = Some(value),
            _ => {}
        }
    }
    if !csrf_ok {
        return Err(staff.form_expired());
    }
    let date = morning_date(date.as_deref(), &staff.ctx).or_page(lang)?;
    let Some((spooled, file_name)) = file else {
        return Err(WebError::Problem(
            ApiError::invalid(Some("file".into()), t.choose_file),
            lang,
        ));
    };
    let name = Some(file_name.as_str()).filter(|n| !n.is_empty());
    let spec = match spec {
        Some(s) => Some(s),
        None => Some(
            name.and_then(|n| ctx.bank_specs.for_file_name(n))
                .ok_or_else(|| ApiError::invalid(Some("spec".into()), t.no_spec_fits))
                .or_page(lang)?
                .to_string(),
        ),
    };
    let (spec, name) = upload::upload_target(&ctx, spec, name).or_page(lang)?;
    let actor = staff.actor();
    let back = format!("{BASE}/reconciliation?date={date}");
    let shown = name.clone().unwrap_or_else(|| spec.clone());
    let id = jobs
        .start(
            format!("{} {shown}", t.importing),
            staff.principal.token_id.clone(),
            move |progress| {
                progress.phase(t.reading_records, None);
                match upload::import_spooled(
                    &ctx,
                    spooled,
                    &spec,
                    name.as_deref(),
                    &actor,
                    &mut |n| progress.done(n),
                ) {
                    Ok(f) => Outcome::Done {
                        summary: format!(
                            "{} {shown}{}{spec}{}{}{} {}{}",
                            t.imported_done,
                            t.open_paren,
                            t.close_paren,
                            t.colon,
                            f.records,
                            t.records_unit,
                            if f.duplicate {
                                format!("{}{}", t.semicolon, t.already_imported)
                            } else {
                                String::new()
                            }
                        ),
                        href: back,
                    },
                    Err(e) => Outcome::Failed(e),
                }
            },
        )
        .or_page(lang)?;
    Ok(jobs::follow(&id))
}

/// A form naming a business date.
#[derive(Debug, Deserialize)]
pub(super) struct DateForm {
    /// `YYYY-MM-DD`.
    pub date: String,
}

async fn run(
    staff: Staff,
    jobs: web::Data<Jobs>,
    form: super::PostForm<DateForm>,
) -> Result<HttpResponse, WebError> {
    staff.require(may::RECONCILE)?;
    let lang = staff.lang;
    let f = staff.form(form)?;
    let date = morning_date(Some(&f.date), &staff.ctx).or_page(lang)?;
    let t = ReconWords::of(lang);
    let ctx = staff.ctx.clone();
    let actor = staff.actor();
    let href = format!("{BASE}/reconciliation?date={date}");
    let id = jobs
        .start(
            format!("{} {date}", t.run_title),
            staff.principal.token_id.clone(),
            move |progress| {
                let outcome = ctx.conn().map_err(ApiError::from).and_then(|mut conn| {
                    runs::run_with_progress(&mut conn, &ctx.writer, date, &actor, &mut |p| {
                        progress.phase(t.phase(p), None)
                    })
                    .map_err(ApiError::from)
                });
                match outcome {
                    Ok(run) => {
                        let count =
                            |c: &str| run.summary.get(c).and_then(|v| v.as_i64()).unwrap_or(0);
                        let entries: Vec<String> = run
                            .settlement_entries
                            .iter()
                            .map(|s| format!("#{s}"))
                            .collect();
                        Outcome::Done {
                            summary: format!(
                                "{} {date}{}{} {}{}{} {}{}{}{}{}",
                                t.run_done,
                                t.colon,
                                t.cat_matched,
                                count("matched"),
                                t.comma,
                                run.open_exceptions,
                                t.open_unit,
                                t.semicolon,
                                t.posted_entries,
                                t.colon,
                                if entries.is_empty() {
                                    "—".to_string()
                                } else {
                                    entries.join(", ")
                                }
                            ),
                            href,
                        }
                    }
                    Err(e) => Outcome::Failed(e),
                }
            },
        )
        .or_page(lang)?;
    Ok(jobs::follow(&id))
}

/// The resolve form: the fields `POST /v1/exceptions/{id}/resolve` takes, and where to go back.
#[derive(Debug, Deserialize)]
struct ResolveForm {
    action: Action,
    note: String,
    #[serde(default)]
    payment_id: Option<String>,
    #[serde(default)]
    settlement_record_id: Option<String>,
    #[serde(default)]
    back: Option<String>,
}

fn back_to(back: Option<&str>) -> String {
    super::session::local_page(back.or(Some("/web/reconciliation")))
}

async fn resolve(
    staff: Staff,
    id: web::Path<String>,
    form: super::PostForm<ResolveForm>,
) -> Result<HttpResponse, WebError> {
    let by = staff.require(may::RESOLVE_EXCEPTION)?.clone();
    let lang = staff.lang;
    let f = staff.form(form)?;
    let settlement_record_id = match f.settlement_record_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) => Some(n.parse::<i64>().map_err(|_| {
            ApiError::invalid(
                Some("settlement_record_id".into()),
                format!("settlement_record_id: '{n}' is not a whole number"),
            )
        }))
        .transpose()
        .or_page(lang)?,
    };
    let request = Resolve {
        action: f.action,
        note: f.note,
        payment_id: f
            .payment_id
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty()),
        settlement_record_id,
    };
    let ctx = staff.ctx.clone();
    let id = id.into_inner();
    let state = web::block(move || -> Result<_, ApiError> {
        Ok(exceptions::resolve(&mut *ctx.conn()?, &id, &request, &by)?)
    })
    .await
    .or_page(lang)?
    .or_page(lang)?;
    let t = ReconWords::of(lang);
    let message = if state.status == "awaiting_approval" {
        format!("{}{}", t.proposed_message, state.id)
    } else {
        format!(
            "{}{}{}{}{}",
            t.resolved_message,
            state.id,
            t.open_paren,
            t.action(state.resolution.as_deref().unwrap_or_default()),
            t.close_paren
        )
    };
    Ok(staff.done(&back_to(f.back.as_deref()), &message))
}

/// Where to go back after a form that only confirms.
#[derive(Debug, Deserialize)]
struct BackForm {
    #[serde(default)]
    back: Option<String>,
}

async fn approve(
    staff: Staff,
    id: web::Path<String>,
    form: super::PostForm<BackForm>,
) -> Result<HttpResponse, WebError> {
    let by = staff.require(may::RESOLVE_EXCEPTION)?.clone();
    let lang = staff.lang;
    let f = staff.form(form)?;
    let ctx = staff.ctx.clone();
    let id = id.into_inner();
    let state = web::block(move || -> Result<_, ApiError> {
        Ok(exceptions::approve(&mut *ctx.conn()?, &id, &by)?)
    })
    .await
    .or_page(lang)?
    .or_page(lang)?;
    let t = ReconWords::of(lang);
    Ok(staff.done(
        &back_to(f.back.as_deref()),
        &format!("{}{}", t.approved_message, state.id),
    ))
}

/// A suggested action in the page language: the matcher stores English sentences; Chinese
/// pages show their translation (anything unknown as stored).
pub fn suggestion(stored: &str, lang: Lang) -> &str {
    use crate::recon::matcher as m;
    if lang == Lang::En {
        return stored;
    }
    match stored {
        m::ACT_AMOUNT => "核对票据和终端签购单与收单机构明细；若账簿有误，以冲正分录更正，否则向收单机构追索差额（bank_claim）。",
        m::ACT_MISSING_SETTLEMENT => "当日及次日清算文件均无此笔：核实终端批次已结算并询问收单机构；若持卡人未被扣款，冲销该笔缴费。",
        m::ACT_MISSING_LEDGER => "收单机构清算了账簿中没有的交易：查找窗口记录并手工匹配（manual_match），或补记缴费；若非本中心交易，向收单机构追索（bank_claim）。",
        m::ACT_REFUND_MISSING => "收单机构清算了账簿未审批的退款：查找退款申请并审批，或向收单机构追索（bank_claim）。",
        m::ACT_ADJUSTMENT => "收单机构调账：向收单机构询问原因，然后入账或追索（bank_claim）。",
        m::ACT_DUPLICATE => "收单机构重复清算同一笔交易：向收单机构追索重复款项（bank_claim）。",
        m::ACT_VOID_SETTLED => "账簿已作废但收单机构仍清算了该笔消费：请收单机构冲正（bank_claim），或向持卡人退款。",
        m::ACT_CASH_MISMATCH => "入账金额与文件净额不符：与收单机构核对手续费和调整，追索差额（bank_claim）。",
        m::ACT_CASH_MISSING => "收款账户未收到该文件的款项：核对下一期对账单（accept_timing）或催收收单机构。",
        m::ACT_CASH_UNCLAIMED => "一笔不对应任何已导入文件的清算入账：导入其所指文件，或查明付款人并退回款项。",
        "investigate" => "调查核实",
        other => other,
    }
}

#[cfg(test)]
mod suggestion_tests {
    use super::*;
    use crate::recon::matcher as m;

    #[test]
    fn every_stored_suggestion_reads_in_chinese() {
        for stored in [
            m::ACT_AMOUNT,
            m::ACT_MISSING_SETTLEMENT,
            m::ACT_MISSING_LEDGER,
            m::ACT_REFUND_MISSING,
            m::ACT_ADJUSTMENT,
            m::ACT_DUPLICATE,
            m::ACT_VOID_SETTLED,
            m::ACT_CASH_MISMATCH,
            m::ACT_CASH_MISSING,
            m::ACT_CASH_UNCLAIMED,
        ] {
            let zh = suggestion(stored, Lang::Zh);
            assert_ne!(zh, stored);
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{zh}"
            );
            assert_eq!(suggestion(stored, Lang::En), stored);
        }
    }
}
