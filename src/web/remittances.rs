//! 缴库: remittance batches with their status, the prepare form for a closed day, one batch's
//! subjects and receipts with the approve form, and the signed remt.001 file once approved —
//! all through `treasury::service`, the file through the API's own response.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use super::i18n::Common;
use super::reconciliation::{amount_cell, morning_date, DateForm};
use super::table::{link_csv, Cell, Table};
use super::{download, Chrome, Export, OrPage, PostForm, Staff, WebError, BASE};
use crate::auth::may;
use crate::http::blocking::with_conn;
use crate::http::problem::ApiError;
use crate::ledger::days::RemittanceStatus;
use crate::treasury::batch::{BatchSubject, DocumentKind};
use crate::treasury::service::{self, Remittance};
use crate::words;

/// Batches per page of the list.
const PAGE: i64 = 50;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/remittances", web::get().to(list))
        .route("/remittances", web::post().to(prepare))
        .route("/remittances/{id}", web::get().to(show))
        .route("/remittances/{id}/approve", web::post().to(approve))
        .route("/remittances/{id}/cancel", web::post().to(cancel))
        .route("/remittances/{id}/file", web::get().to(file));
}

words! {
    /// Labels of the remittance pages (and of the remittance part of the daily report).
    pub struct RemitWords {
        title: "缴库" / "Remittances",
        batches: "缴库批次" / "Remittance batches",
        no_batches: "尚无缴库批次。" / "No remittance batch yet.",
        batch: "批次" / "Batch",
        business_date: "业务日期" / "Business date",
        amount: "金额（元）" / "Amount (CNY)",
        status: "状态" / "Status",
        prepared_by: "编制人" / "Prepared by",
        prepared_at: "编制时间（北京时间）" / "Prepared at (Beijing time)",
        approved_by: "审批人" / "Approved by",
        approved_at: "审批时间（北京时间）" / "Approved at (Beijing time)",
        acknowledged_at: "国库确认时间（北京时间）" / "Acknowledged at (Beijing time)",
        treasury_reference: "国库回执号" / "Treasury reference",
        entry: "缴库分录" / "Remittance entry",
        message_id: "报文标识" / "Message id",
        sha256: "文件 SHA-256" / "File SHA-256",
        signature: "文件签名（Base64，Ed25519）" / "File signature (base64, Ed25519)",
        status_prepared: "已编制，待审批" / "Prepared, awaiting approval",
        status_approved: "已审批，待国库确认" / "Approved, awaiting the treasury",
        status_acknowledged: "国库已确认" / "Acknowledged by the treasury",
        prepare: "编制缴库单" / "Prepare a remittance",
        prepare_date: "已结账的业务日期" / "Closed business date",
        prepare_button: "编制" / "Prepare",
        prepare_hint: "只能为已结账的日期编制，每日一批。" / "Only a closed day can be remitted, one batch per day.",
        prepared_message: "缴库单已编制：" / "Remittance prepared: ",
        subjects: "按收入科目" / "By revenue subject",
        subject: "收入科目" / "Revenue subject",
        subject_name: "名称" / "Name",
        account: "应缴科目" / "Payable account",
        documents: "票据数" / "Documents",
        receipts: "票据明细" / "Receipts and entries",
        document: "票据号/分录" / "Receipt / entry",
        kind: "类型" / "Kind",
        kind_receipt: "收据" / "Receipt",
        kind_entry: "分录" / "Entry",
        payment: "缴费编号" / "Payment",
        approve: "审批缴库单" / "Approve the remittance",
        approve_button: "审批并签发文件" / "Approve and sign the file",
        approve_hint: "审批人须为编制人以外的主管；审批时重新核对应缴数，并生成、签名 remt.001 文件。" / "The approver must be a supervisor other than who prepared it; approving checks the payable again and writes and signs the remt.001 file.",
        approved_message: "缴库单已审批：" / "Remittance approved: ",
        cancel: "作废缴库单" / "Cancel the remittance",
        cancel_reason: "作废原因" / "Reason",
        cancel_button: "作废" / "Cancel the batch",
        cancel_hint: "仅可作废待审批的缴库单；作废后可重新编制当日缴库单。" / "Only a batch awaiting approval can be cancelled; the day can then be prepared again.",
        cancelled_message: "缴库单已作废：" / "Remittance cancelled: ",
        withdrawn_by: "作废/退回人" / "Cancelled or rejected by",
        withdrawn_at: "作废/退回时间（北京时间）" / "Cancelled or rejected at (Beijing time)",
        withdrawn_reason: "作废/退回原因" / "Reason",
        status_cancelled: "已作废" / "Cancelled",
        status_rejected: "国库已退回" / "Rejected by the treasury",
        download: "下载已签名的 remt.001 文件" / "Download the signed remt.001 file",
        file_pending: "审批后才有文件。" / "The file exists once the batch is approved.",
        next_page: "更早的批次" / "Earlier batches",
    }
}

impl RemitWords {
    /// A batch status in words, with its tone.
    pub fn status(&self, status: RemittanceStatus) -> Cell {
        match status {
            RemittanceStatus::Prepared => Cell::status("warn", self.status_prepared),
            RemittanceStatus::Approved => Cell::status("warn", self.status_approved),
            RemittanceStatus::Acknowledged => Cell::status("ok", self.status_acknowledged),
            RemittanceStatus::Cancelled => Cell::status("muted", self.status_cancelled),
            RemittanceStatus::Rejected => Cell::status("bad", self.status_rejected),
        }
    }
}

fn batches_table(items: &[Remittance], t: &RemitWords) -> Table {
    let mut table = Table::new("remittances", t.batches, t.no_batches)
        .col(t.batch)
        .col(t.business_date)
        .num(t.amount)
        .col(t.status)
        .col(t.prepared_by)
        .col(t.approved_by)
        .col(t.treasury_reference);
    for r in items {
        table.push(vec![
            Cell::link(&r.id, format!("{BASE}/remittances/{}", r.id)),
            Cell::Date(r.business_date),
            amount_cell(Some(&r.amount)),
            t.status(r.status),
            Cell::text(&r.prepared_by),
            // Not approved (or not acknowledged) yet: an empty cell.
            Cell::text(r.approved_by.clone().unwrap_or_default()),
            Cell::text(r.treasury_reference.clone().unwrap_or_default()),
        ]);
    }
    table
}

#[derive(Template)]
#[template(path = "remittances.html", config = "src/web/askama.toml")]
struct ListPage {
    c: Chrome,
    t: &'static RemitWords,
    batches: Table,
    next: Option<String>,
    may_prepare: bool,
    default_date: NaiveDate,
}

/// `?after=&csv=`.
#[derive(Debug, Deserialize)]
struct ListQuery {
    after: Option<String>,
    csv: Option<String>,
    xlsx: Option<String>,
}

async fn list(staff: Staff, query: web::Query<ListQuery>) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_REMITTANCES)?;
    let lang = staff.lang;
    let after = match query.after.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(morning_date(Some(a), &staff.ctx).or_page(lang)?),
    };
    let (items, next) = with_conn(&staff.ctx, move |conn, _| {
        Ok(service::list(conn, after, PAGE)?)
    })
    .await
    .or_page(lang)?;
    let t = RemitWords::of(lang);
    let mut batches = batches_table(&items, t);
    if let Some(id) = Export::asked(&query.csv, &query.xlsx) {
        return download(&[&batches], id, "remittances", lang);
    }
    link_csv(
        &mut [&mut batches],
        staff.request().path(),
        staff.request().query_string(),
    );
    let page = ListPage {
        c: staff.chrome(t.title, "remittances"),
        t,
        batches,
        next,
        may_prepare: staff.may(may::PREPARE_REMITTANCE),
        default_date: staff.ctx.business_today() - chrono::Duration::days(1),
    };
    staff.page(&page)
}

async fn prepare(staff: Staff, form: PostForm<DateForm>) -> Result<HttpResponse, WebError> {
    let by = staff.require(may::PREPARE_REMITTANCE)?.clone();
    let lang = staff.lang;
    let f = staff.form(form)?;
    let date = morning_date(Some(&f.date), &staff.ctx).or_page(lang)?;
    let batch = service::prepare(
        &staff.ctx.writer,
        staff.ctx.treasury.as_ref().clone(),
        date,
        by.actor(),
        Some(by.person_id),
    )
    .await
    .or_page(lang)?;
    let t = RemitWords::of(lang);
    Ok(staff.done(
        &format!("{BASE}/remittances/{}", batch.id),
        &format!("{}{} ({})", t.prepared_message, batch.id, batch.amount),
    ))
}

#[derive(Template)]
#[template(path = "remittance.html", config = "src/web/askama.toml")]
struct BatchPage {
    c: Chrome,
    t: &'static RemitWords,
    batch: Remittance,
    status: Cell,
    amount_shown: String,
    tables: Vec<Table>,
    may_approve: bool,
    may_cancel: bool,
}

/// `?csv=`.
#[derive(Debug, Deserialize)]
struct CsvQuery {
    csv: Option<String>,
    xlsx: Option<String>,
}

/// A batch's subjects with their totals.
pub(super) fn subjects_table(batch: &Remittance, t: &RemitWords, w: &Common) -> Table {
    let mut subjects = Table::new("subjects", t.subjects, t.no_batches)
        .col(t.subject)
        .col(t.subject_name)
        .col(t.account)
        .num(t.amount)
        .num(t.documents);
    for s in &batch.subjects {
        subjects.push(vec![
            Cell::text(&s.revenue_subject),
            Cell::text(&s.name),
            Cell::text(&s.account),
            amount_cell(Some(&s.amount)),
            Cell::Int(s.documents),
        ]);
    }
    subjects.foot = Some(vec![
        Cell::text(w.total),
        Cell::Empty,
        Cell::Empty,
        amount_cell(Some(&batch.amount)),
        Cell::Int(batch.subjects.iter().map(|s| s.documents).sum()),
    ]);
    subjects
}

/// The receipts (and entries) behind each subject of a batch.
fn receipts_table(stored: &[BatchSubject], t: &RemitWords) -> Table {
    let mut receipts = Table::new("receipts", t.receipts, t.no_batches)
        .col(t.subject)
        .col(t.document)
        .col(t.kind)
        .col(t.payment)
        .num(t.amount);
    for s in stored {
        for d in &s.documents {
            receipts.push(vec![
                Cell::text(&s.revenue_subject),
                Cell::text(&d.document),
                Cell::text(match d.kind {
                    DocumentKind::Entry => t.kind_entry,
                    DocumentKind::Receipt => t.kind_receipt,
                }),
                // An entry has no payment: an empty cell.
                Cell::text(d.payment_id.clone().unwrap_or_default()),
                Cell::Money(d.amount_minor),
            ]);
        }
    }
    receipts
}

async fn show(
    staff: Staff,
    id: web::Path<String>,
    query: web::Query<CsvQuery>,
) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_REMITTANCES)?;
    let lang = staff.lang;
    let id = id.into_inner();
    let lookup = id.clone();
    let found = with_conn(&staff.ctx, move |conn, _| {
        Ok(match service::get(conn, &lookup)? {
            Some(batch) => Some((service::stored_subjects(conn, &lookup)?, batch)),
            None => None,
        })
    })
    .await
    .or_page(lang)?;
    let (stored, batch) = found
        .ok_or_else(|| ApiError::not_found(format!("no remittance '{id}'")))
        .or_page(lang)?;
    let t = RemitWords::of(lang);
    let mut subjects = subjects_table(&batch, t, staff.w);
    let mut receipts = receipts_table(&stored, t);
    if let Some(csv) = Export::asked(&query.csv, &query.xlsx) {
        return download(&[&subjects, &receipts], csv, &batch.id, lang);
    }
    link_csv(
        &mut [&mut subjects, &mut receipts],
        staff.request().path(),
        staff.request().query_string(),
    );
    let page = BatchPage {
        c: staff.chrome(format!("{} · {}", t.batch, batch.id), "remittances"),
        t,
        status: t.status(batch.status),
        amount_shown: amount_cell(Some(&batch.amount)).shown(),
        tables: vec![subjects, receipts],
        may_approve: staff.may(may::APPROVE_REMITTANCE),
        may_cancel: staff.may(may::PREPARE_REMITTANCE),
        batch,
    };
    staff.page(&page)
}

/// The approve form: its token, and the page to go back to (the batch's when none).
#[derive(Debug, Deserialize)]
struct ApproveForm {
    #[serde(default)]
    back: Option<String>,
}

async fn approve(
    staff: Staff,
    id: web::Path<String>,
    form: PostForm<ApproveForm>,
) -> Result<HttpResponse, WebError> {
    let by = staff.require(may::APPROVE_REMITTANCE)?.clone();
    let lang = staff.lang;
    let f = staff.form(form)?;
    let ctx = &staff.ctx;
    let batch = service::approve(
        &ctx.writer,
        ctx.keys.clone(),
        ctx.treasury.as_ref().clone(),
        id.into_inner(),
        by,
    )
    .await
    .or_page(lang)?;
    let t = RemitWords::of(lang);
    let back = match f.back {
        Some(page) => super::session::local_page(Some(page.as_str())),
        None => format!("{BASE}/remittances/{}", batch.id),
    };
    Ok(staff.done(&back, &format!("{}{}", t.approved_message, batch.id)))
}

/// Why a batch is cancelled.
#[derive(Debug, Deserialize)]
struct CancelForm {
    reason: String,
}

async fn cancel(
    staff: Staff,
    id: web::Path<String>,
    form: PostForm<CancelForm>,
) -> Result<HttpResponse, WebError> {
    let by = staff.require(may::PREPARE_REMITTANCE)?.clone();
    let lang = staff.lang;
    let f = staff.form(form)?;
    let batch = service::cancel(&staff.ctx.writer, id.into_inner(), by, f.reason)
        .await
        .or_page(lang)?;
    let t = RemitWords::of(lang);
    Ok(staff.done(
        &format!("{BASE}/remittances/{}", batch.id),
        &format!("{}{}", t.cancelled_message, batch.id),
    ))
}

/// The signed file: the same response as `GET /v1/remittances/{id}/file`.
async fn file(staff: Staff, id: web::Path<String>) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_REMITTANCES)?;
    crate::http::signed_file::signed_file(&staff.ctx, id.into_inner())
        .await
        .or_page(staff.lang)
}
