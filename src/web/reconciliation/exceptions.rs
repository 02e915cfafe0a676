//! A run's exceptions: the list (with how each was worked, for the exports) and its status and
//! kind filters, the resolve and approve routes (`recon::exceptions`), and the matcher's
//! suggested actions in the page language. The rows the page draws are [`super::workspace`]'s.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::{ReconWords, CASH_TIER, STATEMENT_TIER, TRANSACTION_TIER};
use crate::auth::may;
use crate::http::blocking::with_conn;
use crate::http::problem::ApiError;
use crate::recon::exceptions::{self, Action, ExceptionState, ExceptionStatus, Resolve};
use crate::recon::runs::{self, Report};
use crate::web::i18n::Lang;
use crate::web::table::{Cell, Table};
use crate::web::{OrPage, PostForm, Staff, WebError};

const STATUSES: [ExceptionStatus; 4] = [
    ExceptionStatus::Open,
    ExceptionStatus::AwaitingApproval,
    ExceptionStatus::Claimed,
    ExceptionStatus::Resolved,
];

/// A run's exceptions as a table, with how each was worked.
pub(in crate::web) fn exceptions_table(
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
        let tone = match e.status {
            ExceptionStatus::Resolved => "ok",
            ExceptionStatus::AwaitingApproval | ExceptionStatus::Claimed => "warn",
            ExceptionStatus::Open => "bad",
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
            Cell::text(t.category(e.kind)),
            text(e.payment_id.as_ref()),
            Cell::Text(line),
            e.ledger_minor.map_or(Cell::Empty, Cell::Money),
            e.settlement_minor.map_or(Cell::Empty, Cell::Money),
            Cell::status(tone, t.status(e.status)),
            state
                .and_then(|s| s.resolution)
                .map_or(Cell::Empty, |r| Cell::text(t.action(r))),
            text(state.and_then(|s| s.resolved_by.as_ref())),
            text(state.and_then(|s| s.approved_by.as_ref())),
            text(state.and_then(|s| s.note.as_ref())),
            Cell::Prose(e.suggestion(lang).to_string()),
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

fn options<T: Copy + Into<&'static str>>(
    codes: &[T],
    label: impl Fn(T) -> &'static str,
    chosen: &str,
) -> Vec<Opt> {
    codes
        .iter()
        .map(|&c| {
            let code: &'static str = c.into();
            Opt {
                code,
                label: label(c),
                selected: code == chosen,
            }
        })
        .collect()
}

/// The selects of the page: the status and kind filters (with what was chosen).
pub(super) struct Selects {
    pub statuses: Vec<Opt>,
    pub kinds: Vec<Opt>,
}

impl Selects {
    pub(super) fn new(t: &'static ReconWords, status: &str, kind: &str) -> Selects {
        Selects {
            statuses: options(&STATUSES, |s| t.status(s), status),
            kinds: options(
                &TRANSACTION_TIER
                    .iter()
                    .chain(CASH_TIER.iter())
                    .chain(STATEMENT_TIER.iter())
                    .copied()
                    .filter(|c| c.is_exception())
                    .collect::<Vec<_>>(),
                |c| t.category(c),
                kind,
            ),
        }
    }
}

/// The resolve form: the fields `POST /v1/exceptions/{id}/resolve` takes, and where to go back.
#[derive(Debug, Deserialize)]
pub(super) struct ResolveForm {
    action: Action,
    note: String,
    #[serde(default)]
    payment_id: Option<String>,
    #[serde(default)]
    settlement_record_id: Option<String>,
    #[serde(default)]
    booking_id: Option<String>,
    #[serde(default)]
    back: Option<String>,
}

/// An optional whole number from a form field (blank is none), or a 422 naming the field.
fn form_id(field: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(n) => n.parse::<i64>().map(Some).map_err(|_| {
            ApiError::invalid(
                Some(field.into()),
                format!("{field}: '{n}' is not a whole number"),
            )
        }),
    }
}

pub(super) fn back_to(back: Option<&str>) -> String {
    crate::web::session::local_page(back.or(Some("/web/reconciliation")))
}

pub(super) async fn resolve(
    staff: Staff,
    id: web::Path<String>,
    form: PostForm<ResolveForm>,
) -> Result<HttpResponse, WebError> {
    let by = staff.require(may::RESOLVE_EXCEPTION)?.clone();
    let lang = staff.lang;
    let f = staff.form(form)?;
    let settlement_record_id =
        form_id("settlement_record_id", f.settlement_record_id.as_deref()).or_page(lang)?;
    let booking_id = form_id("booking_id", f.booking_id.as_deref()).or_page(lang)?;
    let request = Resolve {
        action: f.action,
        note: f.note,
        payment_id: f
            .payment_id
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty()),
        settlement_record_id,
        booking_id,
    };
    let id = id.into_inner();
    let state = with_conn(&staff.ctx, move |conn, _| {
        Ok(exceptions::resolve(conn, &id, &request, &by)?)
    })
    .await
    .or_page(lang)?;
    let t = ReconWords::of(lang);
    let message = match state.status {
        ExceptionStatus::AwaitingApproval => format!("{}{}", t.proposed_message, state.id),
        ExceptionStatus::Claimed => format!("{}{}", t.claimed_message, state.id),
        _ => {
            let amounts = match (
                &state.matched_payment_amount,
                &state.matched_settlement_amount,
            ) {
                (Some(p), Some(r)) => format!(
                    "{}{}{}{}{r}",
                    t.semicolon, t.matched_amounts, p, t.settlement_amount_sep
                ),
                _ => String::new(),
            };
            format!(
                "{}{}{}{}{}{}",
                t.resolved_message,
                state.id,
                t.open_paren,
                state.resolution.map_or("", |a| t.action(a)),
                amounts,
                t.close_paren
            )
        }
    };
    Ok(staff.done(&back_to(f.back.as_deref()), &message))
}

/// Where to go back after a form that only confirms.
#[derive(Debug, Deserialize)]
pub(super) struct BackForm {
    #[serde(default)]
    back: Option<String>,
}

pub(super) async fn approve(
    staff: Staff,
    id: web::Path<String>,
    form: PostForm<BackForm>,
) -> Result<HttpResponse, WebError> {
    let by = staff.require(may::RESOLVE_EXCEPTION)?.clone();
    let lang = staff.lang;
    let f = staff.form(form)?;
    let today = staff.ctx.business_today();
    let state = exceptions::approve(&staff.ctx.writer, id.into_inner(), by, today)
        .await
        .or_page(lang)?;
    let t = ReconWords::of(lang);
    let entry = state
        .entry_seq
        .map(|seq| format!("{}{}{seq}{}", t.open_paren, t.entry_word, t.close_paren))
        .unwrap_or_default();
    Ok(staff.done(
        &back_to(f.back.as_deref()),
        &format!("{}{}{entry}", t.approved_message, state.id),
    ))
}
