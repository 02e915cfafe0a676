//! 退款审批: the refunds waiting for approval (or of another status, or requested on a given
//! business day), paged with the API's cursor, each with the forms the user may use on it —
//! approve and reject (a supervisor), cancel (its requester, or finance). Rejection and
//! cancellation are posted here; every action is the API's own use case.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use strum::VariantArray;

use super::{Choice, PaymentWords};
use crate::auth::may;
use crate::http::blocking::with_conn;
use crate::payments::refunds::{self, list, may_cancel, Refund, RefundFilter};
use crate::payments::RefundStatus;
use crate::web::i18n::Common;
use crate::web::params::{self, with_param};
use crate::web::table::{link_csv, Cell, Table};
use crate::web::{download, local_time, Chrome, Export, OrPage, PostForm, Staff, WebError, BASE};

/// Refunds per page unless `?limit=` says otherwise.
const PAGE_SIZE: i64 = 50;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/refunds", web::get().to(queue))
        .route("/refunds/{id}/reject", web::post().to(reject))
        .route("/refunds/{id}/cancel", web::post().to(cancel));
}

/// What may be done to one waiting refund, and where its forms post.
#[derive(Debug)]
pub struct Actions {
    pub(super) id: String,
    pub(super) amount: String,
    pub(super) requested_by: String,
    pub(super) approve: Option<String>,
    pub(super) reject: Option<String>,
    pub(super) cancel: Option<String>,
}

/// The forms `staff` may use on each refund that waits for approval.
pub(super) fn actions(staff: &Staff, refunds: &[Refund]) -> Vec<Actions> {
    refunds
        .iter()
        .filter(|r| r.status == RefundStatus::Requested)
        .map(|r| Actions {
            id: r.id.clone(),
            amount: Cell::Money(r.amount_minor).shown(),
            requested_by: r.requested_by.clone(),
            approve: staff
                .may(may::APPROVE_REFUND)
                .then(|| format!("{BASE}/refunds/{}/approve", r.id)),
            reject: staff
                .may(may::REJECT_REFUND)
                .then(|| format!("{BASE}/refunds/{}/reject", r.id)),
            cancel: (staff.may(may::CANCEL_REFUND) && may_cancel(r, &staff.principal))
                .then(|| format!("{BASE}/refunds/{}/cancel", r.id)),
        })
        .filter(|a| a.approve.is_some() || a.reject.is_some() || a.cancel.is_some())
        .collect()
}

#[derive(Template)]
#[template(path = "refunds.html", config = "src/web/askama.toml")]
struct QueuePage {
    c: Chrome,
    t: &'static PaymentWords,
    date: String,
    statuses: Vec<Choice>,
    table: Table,
    actions: Vec<Actions>,
    next_href: Option<String>,
}

/// `?status=&date=&after=&limit=&csv=`, all as text.
#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    status: Option<String>,
    date: Option<String>,
    after: Option<String>,
    limit: Option<String>,
    csv: Option<String>,
    xlsx: Option<String>,
}

/// The listed refunds, with their count and sum.
fn queue_table(t: &PaymentWords, w: &Common, items: &[Refund]) -> Table {
    let mut table = Table::new("refunds", t.queue_results, t.no_queue)
        .col(t.refund_id)
        .col(t.payment)
        .num(w.amount)
        .col(t.reason)
        .col(w.status)
        .col(t.requested_by)
        .col(t.requested_at)
        .col(t.requested_on)
        .col(t.closed_by)
        .col(t.note);
    for r in items {
        table.push(vec![
            Cell::text(&r.id),
            Cell::link(&r.payment_id, format!("{BASE}/payments/{}", r.payment_id)),
            Cell::Money(r.amount_minor),
            Cell::Prose(r.reason.clone()),
            t.refund_status(r.status),
            Cell::text(&r.requested_by),
            Cell::Text(local_time(&r.created_at)),
            Cell::Date(r.business_date),
            r.closed_by.as_ref().map_or(Cell::Empty, Cell::text),
            r.closed_note
                .as_ref()
                .map_or(Cell::Empty, |n| Cell::Prose(n.clone())),
        ]);
    }
    table.foot = Some(vec![
        Cell::Text(format!("{} {} {}", w.total, items.len(), t.refunds_unit)),
        Cell::Empty,
        Cell::Money(items.iter().map(|r| r.amount_minor).sum()),
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
    ]);
    table
}

async fn queue(staff: Staff, query: web::Query<QueueQuery>) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_REFUNDS)?;
    let lang = staff.lang;
    let (t, w) = (PaymentWords::of(lang), staff.w);
    // First visit (no filter given, as from the navigation): what waits for approval.
    let first_visit = query.status.is_none() && query.date.is_none();
    let status = if first_visit {
        RefundStatus::Requested.as_ref().to_string()
    } else {
        params::text(&query.status).unwrap_or_default().to_string()
    };
    let date = params::date("date", &query.date).or_page(lang)?;
    let filter = RefundFilter {
        status: (!status.is_empty()).then(|| status.clone()),
        business_date: date,
        limit: Some(
            params::int("limit", &query.limit)
                .or_page(lang)?
                .unwrap_or(PAGE_SIZE),
        ),
        after: params::text(&query.after).map(str::to_string),
    };
    let page = with_conn(&staff.ctx, move |conn, _| Ok(list::list(conn, &filter)?))
        .await
        .or_page(lang)?;
    let mut table = queue_table(t, w, &page.items);
    if let Some(id) = Export::asked(&query.csv, &query.xlsx) {
        return download(&[&table], id, "refunds", lang);
    }
    let req = staff.request();
    let (path, qs) = (req.path().to_string(), req.query_string().to_string());
    link_csv(&mut [&mut table], &path, &qs);
    let statuses = RefundStatus::VARIANTS
        .iter()
        .map(|s| Choice {
            value: (*s).into(),
            label: t.refund_status_label(*s).1,
            selected: s.as_ref() == status,
        })
        .collect();
    let page = QueuePage {
        c: staff.chrome(t.queue_title, "refunds"),
        t,
        date: date.map(|d| d.to_string()).unwrap_or_default(),
        statuses,
        actions: actions(&staff, &page.items),
        table,
        next_href: page
            .next
            .as_deref()
            .map(|n| with_param(&path, &qs, "after", n)),
    };
    staff.page(&page)
}

/// Where a form came from: `queue` (the refunds page) or the payment's page.
fn back_to(back: Option<&str>, refund: &Refund) -> String {
    match back {
        Some("queue") => format!("{BASE}/refunds"),
        _ => format!("{BASE}/payments/{}", refund.payment_id),
    }
}

/// The reject form.
#[derive(Debug, Deserialize)]
struct RejectForm {
    note: String,
    back: Option<String>,
}

async fn reject(
    staff: Staff,
    id: web::Path<String>,
    form: PostForm<RejectForm>,
) -> Result<HttpResponse, WebError> {
    let principal = staff.require(may::REJECT_REFUND)?.clone();
    let f = staff.form(form)?;
    let lang = staff.lang;
    let today = staff.ctx.business_today();
    let refund = refunds::reject(&staff.ctx.writer, id.into_inner(), f.note, principal, today)
        .await
        .or_page(lang)?;
    let t = PaymentWords::of(lang);
    Ok(staff.done(&back_to(f.back.as_deref(), &refund), t.reject_done))
}

/// The cancel form (its token, and where to go back to).
#[derive(Debug, Deserialize)]
struct CancelForm {
    back: Option<String>,
}

async fn cancel(
    staff: Staff,
    id: web::Path<String>,
    form: PostForm<CancelForm>,
) -> Result<HttpResponse, WebError> {
    let principal = staff.require(may::CANCEL_REFUND)?.clone();
    let f = staff.form(form)?;
    let lang = staff.lang;
    let today = staff.ctx.business_today();
    let refund = refunds::cancel(&staff.ctx.writer, id.into_inner(), principal, today)
        .await
        .or_page(lang)?;
    let t = PaymentWords::of(lang);
    Ok(staff.done(&back_to(f.back.as_deref(), &refund), t.cancel_done))
}
