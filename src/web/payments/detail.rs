//! 缴费详情: one payment with its receipt, lines, masked card data and refunds, and the forms
//! the role may use on it (void, request a refund; approve, reject or cancel a waiting one).

use actix_web::{web, HttpResponse};
use askama::Template;

use super::refunds_page::{actions, Actions};
use super::{CsvQuery, PaymentWords};
use crate::auth::may;
use crate::catalogue::ConcessionKind;
use crate::http::blocking::with_conn;
use crate::http::problem::ApiError;
use crate::payments::refunds::{self, Refund};
use crate::payments::{self, CardView, PaymentView, StoredPayment};
use crate::web::i18n::Common;
use crate::web::table::{link_csv, Cell, Table};
use crate::web::{download, Chrome, Export, OrPage, Staff, WebError, BASE};

/// One line of `label: value` facts.
#[derive(Debug)]
pub struct Fact {
    label: &'static str,
    value: String,
    tone: Option<&'static str>,
    /// The value's language where it is not the page's (a Chinese name on an English page).
    lang: Option<&'static str>,
}

fn fact(label: &'static str, value: impl Into<String>) -> Fact {
    Fact {
        label,
        value: value.into(),
        tone: None,
        lang: None,
    }
}

/// A department or window: its code, then its name (a [`Cell`] from
/// [`super::super::departments`], marked when in another language).
fn named_fact(label: &'static str, code: &str, name: Cell) -> Fact {
    Fact {
        label,
        value: format!("{code} {}", name.shown()),
        tone: None,
        lang: name.lang().and(Some(crate::web::i18n::Lang::Zh.tag())),
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
        lang: None,
    }
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
    refund_key: String,
    actions: Vec<Actions>,
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

pub(super) async fn detail(
    staff: Staff,
    id: web::Path<String>,
    query: web::Query<CsvQuery>,
) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_PAYMENTS)?;
    let lang = staff.lang;
    let (t, w) = (PaymentWords::of(lang), staff.w);
    let id = id.into_inner();
    let lookup = id.clone();
    let (payment, refunds) = with_conn(&staff.ctx, move |conn, _| {
        let Some(p) = payments::load(conn, &lookup)? else {
            return Err(ApiError::not_found(format!("no payment '{lookup}'")));
        };
        let refunds = refunds::refunds_of(conn, &lookup)?;
        Ok((p, refunds))
    })
    .await
    .or_page(lang)?;
    let view = PaymentView::from(&payment);

    let directory = super::super::departments::directory(&staff).await?;
    let places = [
        super::super::departments::department_cell(&directory, &payment.department, lang),
        super::super::departments::window_cell(
            &directory,
            &payment.department,
            &payment.window,
            lang,
        ),
    ];
    let facts = payment_facts(t, w, &payment, &view, places);
    let mut tables = vec![lines_table(t, w, &payment), refunds_table(t, w, &refunds)];
    if let Some(table) = Export::asked(&query.csv, &query.xlsx) {
        let refs: Vec<&Table> = tables.iter().collect();
        return download(&refs, table, &format!("payment-{}", payment.id), lang);
    }
    let req = staff.request();
    let (path, qs) = (req.path().to_string(), req.query_string().to_string());
    link_csv(&mut tables.iter_mut().collect::<Vec<_>>(), &path, &qs);
    let actions = actions(&staff, &refunds);
    // The refund form's Idempotency-Key: the same form sent twice makes one refund.
    let refund_key = crate::keys::random_bytes::<16>()
        .map(hex::encode)
        .map_err(|e| WebError::Problem(ApiError::internal(&e), lang))?;
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
        refund_key,
        actions,
        audit_href: staff
            .may(may::READ_AUDIT_LOG)
            .then(|| format!("{BASE}/audit?subject=payment:{}", payment.id)),
    };
    staff.page(&page)
}

/// The payment's facts: receipt, status, amount, where and when, the payer, the entry.
fn payment_facts(
    t: &PaymentWords,
    w: &Common,
    payment: &StoredPayment,
    view: &PaymentView,
    [department, window]: [Cell; 2],
) -> Vec<Fact> {
    let mut facts = vec![
        fact(t.receipt_no, view.receipt_no.clone()),
        status_fact(t.receipt, t.receipt_status(payment.receipt_status)),
        status_fact(w.status, t.status(payment.status)),
        fact(
            w.amount,
            format!("¥{}", Cell::Money(payment.amount_minor).shown()),
        ),
        fact(w.business_date, payment.business_date.to_string()),
        named_fact(t.department, &payment.department, department),
        named_fact(t.window, &payment.window, window),
        fact(t.channel, w.channel(payment.channel.as_ref())),
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
        crate::web::local_time_rfc3339(&view.captured_at),
    ));
    facts.push(fact(t.entry, payment.entry_seq.to_string()));
    facts
}

/// The lines as charged, with their total; a line under a concession (优惠政策) shows it, the
/// standard amount forgone and the concession's legal basis.
fn lines_table(t: &PaymentWords, w: &Common, payment: &StoredPayment) -> Table {
    let mut lines = Table::new("lines", t.lines, w.nothing_here)
        .col(t.fee_code)
        .col(t.fee_name)
        .num(t.fee_version)
        .col(t.revenue_subject)
        .num(t.quantity)
        .num(w.amount)
        .col(t.concession)
        .num(t.forgone)
        .col(t.concession_basis);
    let mut forgone = 0;
    for l in &payment.lines {
        let (concession, forgone_cell, basis) = match &l.concession {
            Some(c) => {
                forgone += c.forgone_minor;
                let kind = match c.kind {
                    ConcessionKind::Exempt => t.exempt,
                    ConcessionKind::Reduced => t.reduced,
                };
                (
                    Cell::Text(format!("{}（{kind}，{}）", c.name, c.code)),
                    Cell::Money(c.forgone_minor),
                    Cell::Prose(c.legal_basis.clone()),
                )
            }
            None => (Cell::Empty, Cell::Empty, Cell::Empty),
        };
        lines.push(vec![
            Cell::text(&l.fee_code),
            Cell::text(&l.name),
            Cell::Int(l.fee_version),
            Cell::text(&l.revenue_subject),
            Cell::Int(l.quantity),
            Cell::Money(l.amount_minor),
            concession,
            forgone_cell,
            basis,
        ]);
    }
    lines.foot = Some(vec![
        Cell::text(w.total),
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Money(payment.amount_minor),
        Cell::Empty,
        if forgone > 0 {
            Cell::Money(forgone)
        } else {
            Cell::Empty
        },
        Cell::Empty,
    ]);
    lines
}

/// The payment's refunds, oldest first.
fn refunds_table(t: &PaymentWords, w: &Common, refunds: &[Refund]) -> Table {
    let mut refund_table = Table::new("refunds", t.refunds, t.no_refunds)
        .col(t.refund_id)
        .num(w.amount)
        .col(t.reason)
        .col(w.status)
        .col(t.requested_by)
        .col(t.approved_by)
        .num(t.entry)
        .col(t.closed_by)
        .col(t.note);
    for r in refunds {
        refund_table.push(vec![
            Cell::text(&r.id),
            Cell::Money(r.amount_minor),
            Cell::text(&r.reason),
            t.refund_status(r.status),
            Cell::text(&r.requested_by),
            r.approved_by.as_ref().map_or(Cell::Empty, Cell::text),
            r.entry_seq.map_or(Cell::Empty, Cell::Int),
            r.closed_by.as_ref().map_or(Cell::Empty, Cell::text),
            r.closed_note
                .as_ref()
                .map_or(Cell::Empty, |n| Cell::Prose(n.clone())),
        ]);
    }
    refund_table
}
