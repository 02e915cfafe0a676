//! 对账: a business date's imported files and the upload of more (multipart, spooled and
//! imported by the same functions as `POST /v1/settlement-files`, as a task with progress), the
//! run of the reconciliation (`recon::runs`, as a task reporting its phases), the latest run's
//! three tiers, its exceptions with filters and the forms that resolve and approve them
//! (`recon::exceptions`), and what still stops the day from closing (`recon::days`).
//!
//! This file holds the routes, the labels every part shares and the small helpers the other
//! morning pages (days, remittances, the daily report) borrow. The parts:
//! - [`page`]: the page itself — the date's state read in one go, laid out with its forms;
//! - [`files`]: the date's files and the multipart upload, imported as a task;
//! - [`run`]: starting a run as a task that reports its phases;
//! - [`results`]: the run's tiers, balance, groups, netting and settlement entries;
//! - [`exceptions`]: the exceptions list and filters, the resolve and approve forms;
//! - [`workspace`]: the workspace's rows (each item with its candidates and its one form) and
//!   the match of an item with a candidate;
//! - [`blockers`]: what still stops the day from closing.
//!
//! May depend on: `recon`, `bankfiles::store`, the shared HTTP pieces (`http::upload`,
//! `http::extract`, `http::problem`) and the rest of `web`; never on an API handler file.

mod blockers;
mod exceptions;
mod files;
mod page;
mod results;
mod run;
mod workspace;

use actix_web::web;
use chrono::NaiveDate;
use serde::Deserialize;

use super::table::Cell;
use crate::app::AppContext;
use crate::http::problem::ApiError;
use crate::recon::exceptions::{Action, ExceptionStatus};
use crate::recon::matcher::Category;
use crate::words;

pub(super) use blockers::{blockers, Blocker};
pub(super) use exceptions::exceptions_table;
pub(super) use page::load_for;
pub(super) use results::{awaiting_table, balance_table, tiers_table};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/reconciliation", web::get().to(page::show))
        .route("/reconciliation/upload", web::post().to(files::upload))
        .route(
            "/settlement-files/{id}/withdraw",
            web::post().to(files::withdraw),
        )
        .route("/reconciliation/run", web::post().to(run::run))
        .route(
            "/exceptions/{id}/resolve",
            web::post().to(exceptions::resolve),
        )
        .route(
            "/exceptions/{id}/approve",
            web::post().to(exceptions::approve),
        )
        .route(
            "/exceptions/{id}/match",
            web::post().to(workspace::match_pair),
        );
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
        department_name: "部门名称" / "Department name",
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
        status_claimed: "已索赔，待银行付款" / "Claimed, awaiting the bank's money",
        claimed_hint: "已向银行/收单机构索赔：不影响日结，银行款项到账并被对账匹配后自动结清；也可填写支付该索赔的银行流水编号，由另一人审批后记账。" / "Claimed from the bank or acquirer: it does not hold the day; it is settled when a run matches the bank's money, or name the statement booking that paid it and a second person approves the entry.",
        resolve_booking: "支付索赔的银行流水编号（已索赔时）" / "Statement booking that paid the claim (for a claim)",
        resolved_amount: "处理金额" / "Amount of the resolution",
        matched_amounts: "匹配金额：缴费 " / "matched amounts: payment ",
        settlement_amount_sep: "，清算明细 " / ", settlement line ",
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
        approve: "审批并记账" / "Approve and post",
        approve_hint: "核销或索赔结清须由提出人以外的另一人审批，审批时记账。" / "A write-off or a claim's settlement is approved by someone other than who proposed it; the approval posts the entry.",
        proposed_by: "提出人" / "Proposed by",
        resolved_message: "差异已处理：" / "Exception resolved: ",
        proposed_message: "已提交，待另一人审批：" / "Proposed, awaiting a second person: ",
        claimed_message: "已索赔，待银行付款：" / "Claimed, awaiting the bank's money: ",
        approved_message: "已审批并记账：" / "Approved and posted: ",
        entry_word: "分录 #" / "entry #",
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
        cat_cash_missing: "资金未到账（已超期）" / "Cash missing (past the horizon)",
        cat_awaiting_credit: "待到账" / "Awaiting credit",
        awaiting: "待到账" / "Awaiting credit",
        no_awaiting: "没有待到账的清算文件。" / "No settlement file is awaiting its credit.",
        age_business_days: "已等待（工作日）" / "Age (business days)",
        in_transit: "在途（1218.01）" / "In transit (1218.01)",
        cat_unexpected_statement_line: "无法解释的银行流水" / "Unexplained statement line",
        tier_statement: "流水层（对账单每一笔 ↔ 清算、缴库、补足、退库）" / "Statement (every line ↔ settlement, remittance, top-up, treasury return)",
        findings: "监督发现：无法解释的收入户支出（疑似坐支）" / "Supervision findings: unexplained debits from the collection account (possible spending of revenue before remittance)",
        no_findings: "没有无法解释的支出。" / "No unexplained debit.",
        withdraw: "撤回导入" / "Withdraw",
        withdraw_reason: "撤回原因（必填）" / "Reason (required)",
        withdraw_button: "撤回" / "Withdraw",
        withdraw_hint: "只能撤回尚未被对账使用的导入；撤回后文件保留备查，但不再参与对账，可重新导入。" / "Only an import no reconciliation has used can be withdrawn; it stays on record but no run reads it again, and it can be imported again.",
        withdrawn: "已撤回" / "Withdrawn",
        withdrawn_message: "导入已撤回：" / "Import withdrawn: ",
        lines_known: "条流水此前已导入（未重复记录）" / "statement lines imported before (not stored twice)",
        ws_title: "差异工作台" / "Reconciliation workspace",
        ws_hint: "每行一笔差异，可能的对应记录列在其下；匹配、索赔、核销、确认时间差都在本行完成。核销和以到账结清索赔须由另一人审批。" / "One exception per row, its possible counterparts beneath it; match, claim, write off or accept timing from the row. A write-off or a claim settled by a credit is approved by a second person.",
        ws_note: "说明" / "Note",
        ws_note_hint: "索赔、核销、时间差须填写说明；匹配可不填，自动记下所匹配的两笔。" / "Required to claim, write off or accept timing; a match may leave it empty and records the pair.",
        ws_candidates: "可能的对应记录" / "Possible counterparts",
        ws_weak: "金额不同，仅供参考" / "amounts differ; for reference only",
        ws_receipt: "收据 " / "Receipt ",
        ws_terminal: "终端 " / "Terminal ",
        ws_reference: "参考号 " / "Ref. ",
        ws_merchant: "商户号 " / "Merchant ",
        ws_line: "清算明细" / "Settlement line",
        ws_credit: "入账" / "Credit",
        ws_debit: "支出" / "Debit",
        ws_match: "匹配" / "Match",
        ws_settle: "以此到账结清（待审批）" / "Settle with this credit (to be approved)",
        ws_same_amount: "金额相同" / "same amount",
        ws_other_amount: "金额不同" / "another amount",
        ws_same_day: "同日" / "same day",
        ws_days_before: "相差 " / "",
        ws_days_after: " 天" / " days apart",
        ws_same_terminal: "同终端" / "same terminal",
        ws_same_reference: "参考号相同 " / "same reference ",
        ws_matched_note: "在工作台匹配：" / "Matched in the workspace: ",
        ws_matched_message: "已匹配：" / "Matched: ",
        ws_your_proposal: "由您提出，须由另一人审批。" / "You proposed it; a second person approves it.",
        ws_code: "差异编号" / "Exception code",
        colon: "：" / ": ",
        comma: "，" / ", ",
        semicolon: "；" / "; ",
        open_paren: "（" / " (",
        close_paren: "）" / ")",
    }
}

/// The outcome categories of each tier, in the API's order.
const TRANSACTION_TIER: [Category; 6] = [
    Category::Matched,
    Category::AmountMismatch,
    Category::MissingInSettlement,
    Category::MissingInLedger,
    Category::DuplicateInSettlement,
    Category::VoidSettled,
];
const CASH_TIER: [Category; 4] = [
    Category::CashMatched,
    Category::AwaitingCredit,
    Category::CashMismatch,
    Category::CashMissing,
];
const STATEMENT_TIER: [Category; 1] = [Category::UnexpectedStatementLine];

impl ReconWords {
    /// An outcome category in words.
    pub fn category(&self, c: Category) -> &'static str {
        match c {
            Category::Matched => self.cat_matched,
            Category::AmountMismatch => self.cat_amount_mismatch,
            Category::MissingInSettlement => self.cat_missing_in_settlement,
            Category::MissingInLedger => self.cat_missing_in_ledger,
            Category::DuplicateInSettlement => self.cat_duplicate_in_settlement,
            Category::VoidSettled => self.cat_void_settled,
            Category::CashMatched => self.cat_cash_matched,
            Category::CashMismatch => self.cat_cash_mismatch,
            Category::CashMissing => self.cat_cash_missing,
            Category::AwaitingCredit => self.cat_awaiting_credit,
            Category::UnexpectedStatementLine => self.cat_unexpected_statement_line,
        }
    }

    /// An exception's status in words.
    pub fn status(&self, s: ExceptionStatus) -> &'static str {
        match s {
            ExceptionStatus::Open => self.status_open,
            ExceptionStatus::AwaitingApproval => self.status_awaiting_approval,
            ExceptionStatus::Claimed => self.status_claimed,
            ExceptionStatus::Resolved => self.status_resolved,
        }
    }

    /// A resolution in words.
    pub fn action(&self, a: Action) -> &'static str {
        match a {
            Action::ManualMatch => self.action_manual_match,
            Action::WriteOff => self.action_write_off,
            Action::BankClaim => self.action_bank_claim,
            Action::AcceptTiming => self.action_accept_timing,
        }
    }
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

/// A form naming a business date.
#[derive(Debug, Deserialize)]
pub(super) struct DateForm {
    /// `YYYY-MM-DD`.
    pub date: String,
}
