//! 缴费查询: payments by business date and status (paged with the API's cursor), or found by
//! payment id, reference or receipt number; one payment with its receipt, lines, masked card
//! data and refunds, and the forms the role may use on it — void, request a refund, approve a
//! refund. Every list and every action is the API's own use case ([`crate::http::payments`]).

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::params::{self, with_param};
use super::table::{link_csv, Cell, Table};
use super::{csv_download, Chrome, OrPage, PostForm, Staff, WebError, BASE};
use crate::auth::may;
use crate::http::payments::{list_payments, refund_amount, PaymentFilter};
use crate::http::problem::ApiError;
use crate::payments::refunds::{self, Refund};
use crate::payments::{self, CardView, PaymentView, StoredPayment};
use crate::words;

/// Payments per page unless `?limit=` says otherwise.
const PAGE_SIZE: i64 = 50;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/payments", web::get().to(list))
        .route("/payments/{id}", web::get().to(detail))
        .route("/payments/{id}/void", web::post().to(void))
        .route("/payments/{id}/refunds", web::post().to(request_refund))
        .route("/refunds/{id}/approve", web::post().to(approve_refund));
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
        window: "窗口" / "Window",
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
        refunds: "退款" / "Refunds",
        no_refunds: "没有退款。" / "No refunds.",
        refund_id: "退款编号" / "Refund id",
        reason: "退款原因" / "Reason",
        requested_by: "申请人" / "Requested by",
        approved_by: "批准人" / "Approved by",
        refund_requested: "待批准" / "Awaiting approval",
        refund_approved: "已批准" / "Approved",
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
    /// A payment status's marker and words, if it is one of [`payments::STATUSES`].
    pub fn status_label(&self, status: &str) -> Option<(&'static str, &'static str)> {
        Some(match status {
            "captured" => ("warn", self.captured),
            "settled" => ("ok", self.settled),
            "reconciled" => ("ok", self.reconciled),
            "voided" => ("bad", self.voided),
            _ => return None,
        })
    }

    /// A payment status in words, with its marker.
    pub fn status(&self, status: &str) -> Cell {
        match self.status_label(status) {
            Some((tone, words)) => Cell::status(tone, words),
            None => Cell::status("warn", status),
        }
    }

    fn receipt_status(&self, status: &str) -> Cell {
        match status {
            "issued" => Cell::status("ok", self.receipt_issued),
            "red_reversed" => Cell::status("bad", self.receipt_red_reversed),
            other => Cell::status("warn", other),
        }
    }

    fn refund_status(&self, status: &str) -> Cell {
        match status {
            "requested" => Cell::status("warn", self.refund_requested),
            "approved" => Cell::status("ok", self.refund_approved),
            other => Cell::status("warn", other),
        }
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
}

/// `?csv=<table>`.
#[derive(Debug, Default, Deserialize)]
pub struct CsvQuery {
    csv: Option<String>,
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
fn payment_row(t: &PaymentWords, w: &super::i18n::Common, p: &StoredPayment) -> Vec<Cell> {
    let view = PaymentView::from(p);
    vec![
        Cell::link(&p.id, format!("{BASE}/payments/{}", p.id)),
        Cell::Text(view.receipt_no),
        Cell::Date(p.business_date),
        Cell::text(&p.department),
        Cell::text(&p.window),
        Cell::text(w.channel(&p.channel)),
        Cell::Money(p.amount_minor),
        t.status(&p.status),
    ]
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
    let ctx = staff.ctx.clone();
    let page = web::block(move || -> Result<_, ApiError> {
        let mut conn = ctx.conn()?;
        let Some(needle) = needle else {
            return list_payments(&mut conn, &filter);
        };
        // A search names a handful of payments; the date and status still narrow them.
        let mut items = Vec::new();
        for id in payments::find(&mut conn, &needle)? {
            if let Some(p) = payments::load(&mut conn, &id)? {
                let date_ok = filter.business_date.is_none_or(|d| d == p.business_date);
                let status_ok = filter.status.as_ref().is_none_or(|s| *s == p.status);
                if date_ok && status_ok {
                    items.push(p);
                }
            }
        }
        Ok(crate::http::paging::Paged { items, next: None })
    })
    .await
    .or_page(lang)?
    .or_page(lang)?;

    let mut table = Table::new("payments", t.results, t.no_results)
        .col(t.payment_id)
        .col(t.receipt_no)
        .col(w.business_date)
        .col(t.department)
        .col(t.window)
        .col(t.channel)
        .num(w.amount)
        .col(w.status);
    for p in &page.items {
        table.push(payment_row(t, w, p));
    }
    table.foot = Some(vec![
        Cell::Text(format!(
            "{} {} {}",
            w.total,
            page.items.len(),
            t.payments_unit
        )),
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Money(page.items.iter().map(|p| p.amount_minor).sum()),
        Cell::Empty,
    ]);
    if let Some(id) = &query.csv {
        return csv_download(&[&table], id, "payments", lang);
    }
    let (path, qs) = (req.path().to_string(), req.query_string().to_string());
    link_csv(&mut [&mut table], &path, &qs);
    let status = params::text(&query.status).unwrap_or_default();
    let statuses = payments::STATUSES
        .iter()
        .map(|s| Choice {
            value: s,
            label: t.status_label(s).map_or(*s, |(_, words)| words),
            selected: *s == status,
        })
        .collect();
    let page = ListPage {
        c: staff.chrome(t.title, "payments"),
        t,
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

/// One line of `label: value` facts.
#[derive(Debug)]
pub struct Fact {
    label: &'static str,
    value: String,
    tone: Option<&'static str>,
}

fn fact(label: &'static str, value: impl Into<String>) -> Fact {
    Fact {
        label,
        value: value.into(),
        tone: None,
    }
}

fn status_fact(label: &'static str, cell: Cell) -> Fact {
    Fact {
        label,
        value: cell.shown(),
        tone: cell.tone().map(|t| match t {
            "ok" => "ok",
            "bad" => "bad",
            _ => "warn",
        }),
    }
}

/// A refund waiting for approval, with its approve form's address.
#[derive(Debug)]
pub struct Pending {
    id: String,
    amount: String,
    requested_by: String,
    action: String,
}

#[derive(Template)]
#[template(path = "payment.html", config = "src/web/askama.toml")]
struct DetailPage {
    c: Chrome,
    t: &'static PaymentWords,
    id: String,
    facts: Vec<Fact>,
    card: Vec<Fact>,
    tables: Vec<Table>,
    may_void: bool,
    may_refund: bool,
    pending: Vec<Pending>,
    audit_href: Option<String>,
}

fn card_facts(t: &PaymentWords, card: CardView) -> Vec<Fact> {
    let opt = |label, v: Option<String>| v.map(|v| fact(label, v));
    match card {
        CardView::BankCard {
            merchant_id,
            terminal_id,
            batch_no,
            trace_no,
            rrn,
            auth_code,
            masked_pan,
            txn_time,
        } => [
            Some(fact(t.masked_card, masked_pan)),
            Some(fact(t.merchant, merchant_id)),
            Some(fact(t.terminal, terminal_id)),
            opt(t.batch, batch_no),
            opt(t.trace, trace_no),
            opt(t.rrn, rrn),
            opt(t.auth_code, auth_code),
            Some(fact(t.txn_time, txn_time)),
        ]
        .into_iter()
        .flatten()
        .collect(),
        CardView::OneCard {
            merchant_id,
            terminal_id,
            serial,
            masked_card,
            txn_time,
        } => [
            Some(fact(t.masked_card, masked_card)),
            Some(fact(t.merchant, merchant_id)),
            Some(fact(t.terminal, terminal_id)),
            opt(t.serial, serial),
            Some(fact(t.txn_time, txn_time)),
        ]
        .into_iter()
        .flatten()
        .collect(),
    }
}

async fn detail(
    staff: Staff,
    id: web::Path<String>,
    query: web::Query<CsvQuery>,
) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_PAYMENTS)?;
    let lang = staff.lang;
    let (t, w) = (PaymentWords::of(lang), staff.w);
    let id = id.into_inner();
    let ctx = staff.ctx.clone();
    let lookup = id.clone();
    let (payment, refunds) = web::block(move || -> Result<_, ApiError> {
        let mut conn = ctx.conn()?;
        let Some(p) = payments::load(&mut conn, &lookup)? else {
            return Err(ApiError::not_found(format!("no payment '{lookup}'")));
        };
        let refunds = refunds::refunds_of(&mut conn, &lookup)?;
        Ok((p, refunds))
    })
    .await
    .or_page(lang)?
    .or_page(lang)?;
    let view = PaymentView::from(&payment);

    let mut facts = vec![
        fact(t.receipt_no, view.receipt_no.clone()),
        status_fact(t.receipt, t.receipt_status(&payment.receipt_status)),
        status_fact(w.status, t.status(&payment.status)),
        fact(
            w.amount,
            format!("¥{}", Cell::Money(payment.amount_minor).shown()),
        ),
        fact(w.business_date, payment.business_date.to_string()),
        fact(t.department, payment.department.clone()),
        fact(t.window, payment.window.clone()),
        fact(t.channel, w.channel(&payment.channel)),
        fact(t.reference, payment.reference.clone()),
    ];
    if let Some(payer) = &view.payer {
        facts.push(fact(t.payer, payer.name.clone()));
        if let Some(masked) = &payer.id_number_masked {
            facts.push(fact(t.payer_id, masked.clone()));
        }
    }
    facts.push(fact(
        t.captured_at,
        super::local_time_rfc3339(&view.captured_at),
    ));
    facts.push(fact(t.entry, payment.entry_seq.to_string()));

    let mut lines = Table::new("lines", t.lines, w.nothing_here)
        .col(t.fee_code)
        .col(t.fee_name)
        .num(t.fee_version)
        .col(t.revenue_subject)
        .num(t.quantity)
        .num(w.amount);
    for l in &payment.lines {
        lines.push(vec![
            Cell::text(&l.fee_code),
            Cell::text(&l.name),
            Cell::Int(l.fee_version),
            Cell::text(&l.revenue_subject),
            Cell::Int(l.quantity),
            Cell::Money(l.amount_minor),
        ]);
    }
    lines.foot = Some(vec![
        Cell::text(w.total),
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Money(payment.amount_minor),
    ]);
    let mut refund_table = Table::new("refunds", t.refunds, t.no_refunds)
        .col(t.refund_id)
        .num(w.amount)
        .col(t.reason)
        .col(w.status)
        .col(t.requested_by)
        .col(t.approved_by)
        .num(t.entry);
    for r in &refunds {
        refund_table.push(vec![
            Cell::text(&r.id),
            Cell::Money(r.amount_minor),
            Cell::text(&r.reason),
            t.refund_status(&r.status),
            Cell::text(&r.requested_by),
            r.approved_by.as_ref().map_or(Cell::Empty, Cell::text),
            r.entry_seq.map_or(Cell::Empty, Cell::Int),
        ]);
    }
    let mut tables = vec![lines, refund_table];
    if let Some(table) = &query.csv {
        let refs: Vec<&Table> = tables.iter().collect();
        return csv_download(&refs, table, &format!("payment-{}", payment.id), lang);
    }
    let req = staff.request();
    let (path, qs) = (req.path().to_string(), req.query_string().to_string());
    link_csv(&mut tables.iter_mut().collect::<Vec<_>>(), &path, &qs);
    let pending = if staff.may(may::APPROVE_REFUND) {
        refunds
            .iter()
            .filter(|r| r.status == "requested")
            .map(|r: &Refund| Pending {
                id: r.id.clone(),
                amount: Cell::Money(r.amount_minor).shown(),
                requested_by: r.requested_by.clone(),
                action: format!("{BASE}/refunds/{}/approve", r.id),
            })
            .collect()
    } else {
        Vec::new()
    };
    let page = DetailPage {
        c: staff.chrome(
            format!("{} · {}", t.detail_title, view.receipt_no),
            "payments",
        ),
        t,
        id: payment.id.clone(),
        facts,
        card: card_facts(t, view.card),
        tables,
        may_void: staff.may(may::VOID_PAYMENT),
        may_refund: staff.may(may::REQUEST_REFUND),
        pending,
        audit_href: staff
            .may(may::READ_AUDIT_LOG)
            .then(|| format!("{BASE}/audit?subject=payment:{}", payment.id)),
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

/// The refund request form.
#[derive(Debug, Deserialize)]
struct RefundForm {
    amount: String,
    reason: String,
}

async fn request_refund(
    staff: Staff,
    id: web::Path<String>,
    form: PostForm<RefundForm>,
) -> Result<HttpResponse, WebError> {
    let principal = staff.require(may::REQUEST_REFUND)?.clone();
    let f = staff.form(form)?;
    let lang = staff.lang;
    let amount = refund_amount(f.amount.trim()).or_page(lang)?;
    let refund = refunds::request(
        &staff.ctx.writer,
        id.into_inner(),
        amount,
        f.reason,
        principal,
    )
    .await
    .or_page(lang)?;
    let t = PaymentWords::of(lang);
    Ok(staff.done(
        &format!("{BASE}/payments/{}", refund.payment_id),
        t.refund_done,
    ))
}

/// The approve form (nothing but its token).
#[derive(Debug, Deserialize)]
struct ApproveForm {}

async fn approve_refund(
    staff: Staff,
    id: web::Path<String>,
    form: PostForm<ApproveForm>,
) -> Result<HttpResponse, WebError> {
    let principal = staff.require(may::APPROVE_REFUND)?.clone();
    staff.form(form)?;
    let lang = staff.lang;
    let business_date = staff.ctx.business_today();
    let refund = refunds::approve(&staff.ctx.writer, id.into_inner(), principal, business_date)
        .await
        .or_page(lang)?;
    let t = PaymentWords::of(lang);
    Ok(staff.done(
        &format!("{BASE}/payments/{}", refund.payment_id),
        t.approve_done,
    ))
}
