//! 缴费查询: payments by business date and status (paged with the API's cursor), or found by
//! payment id, reference or receipt number; one payment with its receipt, lines, masked card
//! data and refunds, and the forms the role may use on it — void, request a refund, approve a
//! refund. Every list and every action is the API's own use case ([`crate::payments`]).

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::departments::{department_cell, directory, window_cell};
use super::i18n::{Common, Lang};
use super::params::{self, with_param};
use super::table::{link_csv, Cell, Table};
use super::{download, Chrome, Export, OrPage, PostForm, Staff, WebError, BASE};
use crate::auth::may;
use crate::catalogue::departments::Directory;
use crate::http::blocking::with_conn;
use crate::http::problem::ApiError;
use crate::payments::card;
use crate::payments::intake::{self, IntakeError};
use crate::payments::query::{self, PaymentFilter};
use crate::payments::refunds::{self, refund_amount};
use crate::payments::{
    self, PaymentStatus, PaymentView, ReceiptStatus, RefundStatus, StoredPayment,
};
use crate::words;
use strum::VariantArray;

mod detail;
mod refunds_page;

/// Payments per page unless `?limit=` says otherwise.
const PAGE_SIZE: i64 = 50;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/payments", web::get().to(list))
        .route("/payments/{id}", web::get().to(detail::detail))
        .route("/payments/{id}/void", web::post().to(void))
        .route("/payments/{id}/refunds", web::post().to(request_refund))
        .route("/refunds/{id}/approve", web::post().to(approve_refund))
        .configure(refunds_page::routes);
}

words! {
    /// Labels of the payment pages.
    pub struct PaymentWords {
        title: "缴费查询" / "Payments",
        search: "支付编号、参考号或票据号" / "Payment id, reference or receipt number",
        search_hint: "票据号可写作“票据代码/号码”或只写号码。" / "A receipt number may be given as code/number or the number alone.",
        any_status: "全部状态" / "Any status",
        any_date: "留空为全部日期" / "Leave empty for every date",
        find: "查询" / "Search",
        results: "缴费记录" / "Payments",
        payments_unit: "笔" / "payments",
        no_results: "没有符合条件的缴费。" / "No payments match.",
        payment_id: "支付编号" / "Payment id",
        receipt_no: "票据号" / "Receipt no.",
        department: "部门" / "Department",
        department_name: "部门名称" / "Department name",
        window: "窗口" / "Window",
        window_name: "窗口名称" / "Window name",
        channel: "渠道" / "Channel",
        captured: "已收款" / "Captured",
        settled: "已结算" / "Settled",
        reconciled: "已对账" / "Reconciled",
        voided: "已作废" / "Voided",
        detail_title: "缴费详情" / "Payment",
        receipt: "票据" / "Receipt",
        receipt_issued: "已开具" / "Issued",
        receipt_red_reversed: "已冲红" / "Red-reversed",
        reference: "支付参考号" / "Payment reference",
        payer: "缴款人" / "Payer",
        payer_id: "证件号（脱敏）" / "Identity number (masked)",
        captured_at: "收款时间（北京时间）" / "Captured at (Beijing time)",
        entry: "记账分录" / "Ledger entry",
        card: "卡信息（脱敏）" / "Card data (masked)",
        masked_card: "卡号" / "Card number",
        merchant: "商户号" / "Merchant",
        terminal: "终端号" / "Terminal",
        batch: "批次号" / "Batch",
        trace: "凭证号" / "Trace",
        rrn: "参考号" / "RRN",
        auth_code: "授权码" / "Auth code",
        serial: "交易流水号" / "Serial",
        txn_time: "交易时间" / "Transaction time",
        lines: "收费明细" / "Lines",
        fee_code: "项目编码" / "Fee code",
        fee_name: "收费项目" / "Fee item",
        fee_version: "版本" / "Version",
        revenue_subject: "收入科目" / "Revenue subject",
        quantity: "数量" / "Quantity",
        concession: "优惠政策" / "Concession",
        concession_basis: "优惠依据" / "Legal basis of the concession",
        forgone: "减免金额（元）" / "Forgone (CNY)",
        exempt: "免收" / "exempt",
        reduced: "减收" / "reduced",
        refunds: "退款" / "Refunds",
        no_refunds: "没有退款。" / "No refunds.",
        refund_id: "退款编号" / "Refund id",
        reason: "退款原因" / "Reason",
        requested_by: "申请人" / "Requested by",
        approved_by: "批准人" / "Approved by",
        refund_requested: "待批准" / "Awaiting approval",
        refund_approved: "已批准" / "Approved",
        refund_rejected: "已驳回" / "Rejected",
        refund_cancelled: "已撤销" / "Cancelled",
        refund_awaiting_treasury: "已批准，待国库退库" / "Approved, awaiting the treasury's return",
        refund_refunded: "国库已退库，已退款" / "Returned by the treasury and refunded",
        closed_by: "驳回/撤销人" / "Rejected or cancelled by",
        note: "驳回意见" / "Rejection note",
        cancel_legend: "撤销退款申请（申请人本人或财务）" / "Cancel a refund request (its requester, or finance)",
        cancel_button: "撤销申请" / "Cancel the request",
        cancel_done: "退款申请已撤销，金额可重新申请退款。" / "Refund request cancelled; its amount may be refunded again.",
        reject_legend: "驳回退款申请" / "Reject a refund request",
        reject_button: "驳回" / "Reject",
        reject_done: "退款申请已驳回。" / "Refund request rejected.",
        queue_title: "退款审批" / "Refunds",
        queue_results: "退款申请" / "Refund requests",
        no_queue: "没有符合条件的退款申请。" / "No refund requests match.",
        payment: "原缴费" / "Payment",
        requested_at: "申请时间（北京时间）" / "Requested at (Beijing time)",
        requested_on: "申请业务日" / "Requested on",
        refunds_unit: "笔" / "refunds",
        void_legend: "作废（仅限收款当日、结算之前）" / "Void (only on the day of capture, before settlement)",
        void_confirm: "确认作废此笔缴费并冲红票据" / "Void this payment and red-reverse its receipt",
        void_button: "作废" / "Void",
        void_done: "已作废，票据已冲红。" / "Voided; the receipt is red-reversed.",
        refund_legend: "申请退款" / "Request a refund",
        refund_amount: "退款金额（元）" / "Amount (CNY)",
        refund_button: "提交退款申请" / "Request the refund",
        refund_done: "退款申请已提交，待主管批准。" / "Refund requested; a supervisor approves it.",
        approve_legend: "批准退款（须由申请人以外的主管批准）" / "Approve a refund (a supervisor other than the requester)",
        approve_button: "批准退款" / "Approve refund",
        approve_done: "退款已批准并记账。" / "Refund approved and posted.",
        audit_trail: "该笔缴费的审计记录" / "This payment's audit records",
    }
}

impl PaymentWords {
    /// A payment status's marker and words.
    pub fn status_label(&self, status: PaymentStatus) -> (&'static str, &'static str) {
        match status {
            PaymentStatus::Captured => ("warn", self.captured),
            PaymentStatus::Settled => ("ok", self.settled),
            PaymentStatus::Reconciled => ("ok", self.reconciled),
            PaymentStatus::Voided => ("bad", self.voided),
        }
    }

    /// A payment status in words, with its marker.
    pub fn status(&self, status: PaymentStatus) -> Cell {
        let (tone, words) = self.status_label(status);
        Cell::status(tone, words)
    }

    fn receipt_status(&self, status: ReceiptStatus) -> Cell {
        match status {
            ReceiptStatus::Issued => Cell::status("ok", self.receipt_issued),
            ReceiptStatus::RedReversed => Cell::status("bad", self.receipt_red_reversed),
        }
    }

    /// A refund status's marker and words.
    pub fn refund_status_label(&self, status: RefundStatus) -> (&'static str, &'static str) {
        match status {
            RefundStatus::Requested => ("warn", self.refund_requested),
            RefundStatus::Approved => ("ok", self.refund_approved),
            RefundStatus::AwaitingTreasury => ("warn", self.refund_awaiting_treasury),
            RefundStatus::Refunded => ("ok", self.refund_refunded),
            RefundStatus::Rejected => ("bad", self.refund_rejected),
            RefundStatus::Cancelled => ("bad", self.refund_cancelled),
        }
    }

    /// A refund status in words, with its marker.
    pub fn refund_status(&self, status: RefundStatus) -> Cell {
        let (tone, words) = self.refund_status_label(status);
        Cell::status(tone, words)
    }
}

/// `?q=&date=&status=&after=&limit=&csv=`, all as text.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    date: Option<String>,
    status: Option<String>,
    after: Option<String>,
    limit: Option<String>,
    csv: Option<String>,
    xlsx: Option<String>,
}

/// `?csv=<table>`.
#[derive(Debug, Default, Deserialize)]
pub struct CsvQuery {
    csv: Option<String>,
    xlsx: Option<String>,
}

/// A choice of a `<select>`.
#[derive(Debug)]
pub struct Choice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "payments.html", config = "src/web/askama.toml")]
struct ListPage {
    c: Chrome,
    t: &'static PaymentWords,
    q: String,
    date: String,
    statuses: Vec<Choice>,
    table: Table,
    next_href: Option<String>,
}

/// A row of the payment list.
fn payment_row(
    (t, w): (&PaymentWords, &Common),
    p: &StoredPayment,
    directory: &Directory,
    lang: Lang,
) -> Vec<Cell> {
    let view = PaymentView::from(p);
    vec![
        Cell::link(&p.id, format!("{BASE}/payments/{}", p.id)),
        Cell::Text(view.receipt_no),
        Cell::Date(p.business_date),
        Cell::text(&p.department),
        department_cell(directory, &p.department, lang),
        Cell::text(&p.window),
        window_cell(directory, &p.department, &p.window, lang),
        Cell::text(w.channel(p.channel.as_ref())),
        Cell::Money(p.amount_minor),
        t.status(p.status),
    ]
}

/// The listed payments, with their count and sum.
fn payments_table(
    (t, w): (&PaymentWords, &Common),
    items: &[StoredPayment],
    directory: &Directory,
    lang: Lang,
) -> Table {
    let mut table = Table::new("payments", t.results, t.no_results)
        .col(t.payment_id)
        .col(t.receipt_no)
        .col(w.business_date)
        .col(t.department)
        .col(t.department_name)
        .col(t.window)
        .col(t.window_name)
        .col(t.channel)
        .num(w.amount)
        .col(w.status);
    for p in items {
        table.push(payment_row((t, w), p, directory, lang));
    }
    table.foot = Some(vec![
        Cell::Text(format!("{} {} {}", w.total, items.len(), t.payments_unit)),
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Money(items.iter().map(|p| p.amount_minor).sum()),
        Cell::Empty,
    ]);
    table
}

async fn list(staff: Staff, query: web::Query<ListQuery>) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_PAYMENTS)?;
    let lang = staff.lang;
    let (t, w) = (PaymentWords::of(lang), staff.w);
    let req = staff.request();
    // First visit (no filter given, as from the navigation or its CSV link): today's
    // payments. A submitted form with the date left empty: every date.
    let first_visit = query.q.is_none() && query.date.is_none() && query.status.is_none();
    let date = if first_visit {
        Some(staff.ctx.business_today())
    } else {
        params::date("date", &query.date).or_page(lang)?
    };
    let filter = PaymentFilter {
        business_date: date,
        status: params::text(&query.status).map(str::to_string),
        limit: Some(
            params::int("limit", &query.limit)
                .or_page(lang)?
                .unwrap_or(PAGE_SIZE),
        ),
        after: params::text(&query.after).map(str::to_string),
    };
    let needle = params::text(&query.q).map(str::to_string);
    let page = with_conn(&staff.ctx, move |conn, _| {
        Ok(match needle {
            // A search names a handful of payments; the date and status still narrow them.
            Some(needle) => query::search(conn, &needle, &filter)?,
            None => query::list(conn, &filter)?,
        })
    })
    .await
    .or_page(lang)?;

    let directory = directory(&staff).await?;
    let mut table = payments_table((t, w), &page.items, &directory, lang);
    if let Some(id) = Export::asked(&query.csv, &query.xlsx) {
        return download(&[&table], id, "payments", lang);
    }
    let (path, qs) = (req.path().to_string(), req.query_string().to_string());
    link_csv(&mut [&mut table], &path, &qs);
    // No status asked for: none of the choices is selected.
    let status = params::text(&query.status).unwrap_or_default();
    let statuses = PaymentStatus::VARIANTS
        .iter()
        .map(|s| Choice {
            value: (*s).into(),
            label: t.status_label(*s).1,
            selected: s.as_ref() == status,
        })
        .collect();
    let page = ListPage {
        c: staff.chrome(t.title, "payments"),
        t,
        // The form shows what was asked for: empty when nothing was.
        q: params::text(&query.q).unwrap_or_default().to_string(),
        date: date.map(|d| d.to_string()).unwrap_or_default(),
        statuses,
        table,
        next_href: page
            .next
            .as_deref()
            .map(|n| with_param(&path, &qs, "after", n)),
    };
    staff.page(&page)
}

/// The void form: a box to tick, so a stray click voids nothing.
#[derive(Debug, Deserialize)]
struct VoidForm {
    confirm: Option<String>,
}

async fn void(
    staff: Staff,
    id: web::Path<String>,
    form: PostForm<VoidForm>,
) -> Result<HttpResponse, WebError> {
    let actor = staff.require(may::VOID_PAYMENT)?.actor();
    let f = staff.form(form)?;
    let lang = staff.lang;
    if f.confirm.as_deref() != Some("yes") {
        return Err(WebError::Problem(
            ApiError::invalid(
                Some("confirm".into()),
                "confirm: tick the box to void the payment",
            ),
            lang,
        ));
    }
    let today = staff.ctx.business_today();
    let voided = payments::void(&staff.ctx.writer, id.into_inner(), actor, today)
        .await
        .or_page(lang)?;
    let t = PaymentWords::of(lang);
    Ok(staff.done(&format!("{BASE}/payments/{}", voided.id), t.void_done))
}

/// The refund request form; `key` is the Idempotency-Key the page made for it, so a form sent
/// twice makes one refund.
#[derive(Debug, Deserialize)]
struct RefundForm {
    amount: String,
    reason: String,
    key: String,
}

async fn request_refund(
    staff: Staff,
    id: web::Path<String>,
    form: PostForm<RefundForm>,
) -> Result<HttpResponse, WebError> {
    let principal = staff.require(may::REQUEST_REFUND)?.clone();
    let f = staff.form(form)?;
    let lang = staff.lang;
    if !intake::valid_idempotency_key(&f.key) {
        return Err(WebError::Problem(
            ApiError::invalid(
                Some("key".into()),
                "key: reload the page and send the form again",
            ),
            lang,
        ));
    }
    let body = serde_json::json!({ "amount": f.amount.trim(), "reason": f.reason });
    if let Some(field) = card::find_card_number(&body) {
        return Err(IntakeError::FullCardNumber(field)).or_page(lang);
    }
    let payment_id = id.into_inner();
    let request = refunds::RefundRequest {
        key: f.key,
        request_hash: refunds::request_hash(&staff.ctx.keys, &payment_id, &body),
        payment_id: payment_id.clone(),
        amount_minor: refund_amount(f.amount.trim()).or_page(lang)?,
        reason: f.reason,
        business_date: staff.ctx.business_today(),
    };
    refunds::request(&staff.ctx.writer, request, principal)
        .await
        .or_page(lang)?;
    let t = PaymentWords::of(lang);
    Ok(staff.done(&format!("{BASE}/payments/{payment_id}"), t.refund_done))
}

/// The approve form: its token, and the page to go back to (the payment's when none).
#[derive(Debug, Deserialize)]
struct ApproveForm {
    #[serde(default)]
    back: Option<String>,
}

async fn approve_refund(
    staff: Staff,
    id: web::Path<String>,
    form: PostForm<ApproveForm>,
) -> Result<HttpResponse, WebError> {
    let principal = staff.require(may::APPROVE_REFUND)?.clone();
    let f = staff.form(form)?;
    let lang = staff.lang;
    let business_date = staff.ctx.business_today();
    let refund = refunds::approve(
        &staff.ctx.writer,
        id.into_inner(),
        principal,
        business_date,
        std::sync::Arc::new(crate::treasury::service::RefundRemittances),
    )
    .await
    .or_page(lang)?;
    let t = PaymentWords::of(lang);
    let back = match f.back {
        Some(page) => crate::web::session::local_page(Some(page.as_str())),
        None => format!("{BASE}/payments/{}", refund.payment_id),
    };
    Ok(staff.done(&back, t.approve_done))
}
