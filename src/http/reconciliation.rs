//! `/v1/reconciliations`: run the nightly matching for a date, read a run and its exceptions.
//! Finance runs; finance, supervisors and auditors read.

use crate::auth::may;
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;

use super::blocking::{with_conn, with_read_conn};
use super::extract::{AcceptLang, ApiJson, ApiQuery, Caller};
use super::paging::{page_limit, Page, Paged};
use super::problem::ApiError;
use crate::app::AppContext;
use crate::recon::exceptions::{self, ExceptionError, Resolve};
use crate::recon::runs::{self, ExceptionRow};
use actix_web::http::StatusCode;

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/reconciliations", web::post().to(create))
        .route("/v1/reconciliations/{id}", web::get().to(get))
        .route(
            "/v1/reconciliations/{id}/exceptions",
            web::get().to(exceptions),
        )
        .route("/v1/reconciliations/{id}/report", web::get().to(report))
        .route("/v1/exceptions/{id}/resolve", web::post().to(resolve))
        .route("/v1/exceptions/{id}/approve", web::post().to(approve));
}

impl From<runs::RunError> for ApiError {
    fn from(e: runs::RunError) -> Self {
        match e {
            runs::RunError::Db(db) => db.into(),
            runs::RunError::DayClosed(_) => ApiError::new(
                StatusCode::CONFLICT,
                "day_closed",
                "Day closed",
                e.to_string(),
            ),
            runs::RunError::Post(_) => ApiError::new(
                StatusCode::CONFLICT,
                "settlement_not_posted",
                "Settlement entry not posted",
                e.to_string(),
            ),
        }
    }
}

impl From<ExceptionError> for ApiError {
    fn from(e: ExceptionError) -> Self {
        let detail = e.to_string();
        let conflict = |code: &'static str, title: &'static str| {
            ApiError::new(StatusCode::CONFLICT, code, title, detail.clone())
        };
        let unprocessable = |code: &'static str, title: &'static str, field: &str| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                title,
                detail.clone(),
            )
            .with("field", field)
        };
        match e {
            ExceptionError::NotFound(_) => ApiError::not_found(detail),
            ExceptionError::Invalid(_) => ApiError::invalid(None, detail),
            ExceptionError::NotAllowed(_) => {
                conflict("exception_not_open", "Exception not in a state for this")
            }
            ExceptionError::SamePerson => ApiError::new(
                StatusCode::FORBIDDEN,
                "same_person",
                "A second person is needed",
                detail,
            ),
            ExceptionError::UnknownPayment(_) => {
                unprocessable("unknown_payment", "Unknown payment", "payment_id")
            }
            ExceptionError::UnknownRecord(_) => unprocessable(
                "unknown_settlement_record",
                "Unknown settlement line",
                "settlement_record_id",
            ),
            ExceptionError::UnknownBooking(_) => {
                unprocessable("unknown_booking", "Unknown statement booking", "booking_id")
            }
            ExceptionError::NotOfThisDay(_) => {
                conflict("not_of_this_day", "Not of the exception's day")
            }
            ExceptionError::AlreadyMatched(_) => conflict("already_matched", "Matched already"),
            ExceptionError::AmountsDiffer {
                ledger_minor,
                other_minor,
            } => conflict("match_amounts_differ", "The amounts differ")
                .with("ledger_amount", crate::money::format_minor(ledger_minor))
                .with("other_amount", crate::money::format_minor(other_minor)),
            ExceptionError::WriteOffNotAllowed(_) => {
                conflict("write_off_not_allowed", "Cannot be written off")
            }
            ExceptionError::CarriedAutomatically => {
                conflict("carried_automatically", "Carried forward automatically")
            }
            ExceptionError::NotATimingDifference(_) => {
                conflict("not_a_timing_difference", "Not a timing difference")
            }
            ExceptionError::NotACredit(_) => conflict(
                "booking_not_a_credit",
                "Not a credit to the collection account",
            ),
            ExceptionError::AlreadySettled(_) => conflict("already_settled", "Settled already"),
            ExceptionError::Ledger(l) => l.into(),
            ExceptionError::Db(db) => db.into(),
        }
    }
}

/// Resolves an exception: `{action, note}` with `action` one of `manual_match` (with
/// `payment_id` / `settlement_record_id`: both must exist, be of the exception's day or a
/// carried item, be matched nowhere else, and carry the same amount; the answer shows both
/// amounts), `write_off` (a shortfall only; then awaiting a second person's approval, which
/// posts the entry), `bank_claim` (the exception becomes `claimed`: tracked until the bank's
/// money arrives, and no longer holding the day), `accept_timing` (only a payment or line whose
/// other side comes on a later day). On a `claimed` exception, `manual_match` with `booking_id`
/// names the collection-account credit that paid the claim (exactly the claimed amount); a
/// second person approves it and the settlement posts.
#[utoipa::path(post, path = "/v1/exceptions/{id}/resolve", tag = "reconciliation", params(("id" = String, Path)),
    request_body = Resolve,
    responses((status = 200, body = exceptions::ExceptionState), (status = 404),
        (status = 409, description = "exception_not_open, write_off_not_allowed (a difference in the centre's favour: return or claim it), carried_automatically (a file's credit: the runs carry it), not_a_timing_difference, already_matched, match_amounts_differ (with ledger_amount and other_amount), not_of_this_day, booking_not_a_credit, already_settled"),
        (status = 422, description = "invalid_request, unknown_payment, unknown_settlement_record, unknown_booking"),
        (status = 403, description = "forbidden: only finance, supervisor may do this")),
    security(("bearer" = [])))]
pub async fn resolve(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
    body: ApiJson<Resolve>,
) -> Result<HttpResponse, ApiError> {
    let by = caller.require(may::RESOLVE_EXCEPTION)?.clone();
    let request = body.into_inner()?;
    let state = with_conn(&ctx, move |conn, _| {
        Ok(exceptions::resolve(conn, &id, &request, &by)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(state))
}

/// Approves a proposed write-off or claim settlement and posts its entry in the same step,
/// dated the current business date (DESIGN §2: a write-off moves the shortfall out of transit
/// into what the budget owes, never touching 2103). The approver must not be the proposer
/// (403 `same_person`). Approving again answers the exception unchanged and posts nothing.
#[utoipa::path(post, path = "/v1/exceptions/{id}/approve", tag = "reconciliation", params(("id" = String, Path)),
    responses((status = 200, body = exceptions::ExceptionState), (status = 403, description = "forbidden: only finance, supervisor may do this; same_person"), (status = 404),
        (status = 409, description = "exception_not_open, write_off_not_allowed, already_settled, day_closed")),
    security(("bearer" = [])))]
pub async fn approve(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let by = caller.require(may::RESOLVE_EXCEPTION)?.clone();
    let today = ctx.business_today();
    let state = exceptions::approve(&ctx.writer, id.into_inner(), by, today).await?;
    Ok(HttpResponse::Ok().json(state))
}

/// `{business_date}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The business date to reconcile.
    #[schema(value_type = String, example = "2026-11-24")]
    pub business_date: NaiveDate,
}

/// Runs the reconciliation of a business date: matches the ledger's payments against the
/// imported settlement files and the collection account's statement, stores the outcomes and
/// opens an exception for each disagreement. Running it again for the same date and inputs
/// gives the same summary (and replaces the previous run's outcomes).
#[utoipa::path(post, path = "/v1/reconciliations", tag = "reconciliation", request_body = RunRequest,
    responses((status = 201, body = runs::Run), (status = 422), (status = 403, description = "forbidden: only finance may do this")), security(("bearer" = [])))]
pub async fn create(
    ctx: web::Data<AppContext>,
    caller: Caller,
    body: ApiJson<RunRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.require(may::RECONCILE)?.actor();
    let request = body.into_inner()?;
    let run = with_conn(&ctx, move |conn, ctx| {
        Ok(runs::run(
            conn,
            &ctx.writer,
            &ctx.recon_settings(),
            request.business_date,
            &actor,
        )?)
    })
    .await?;
    Ok(HttpResponse::Created().json(run))
}

/// One run: `{id, business_date, summary, balance, open_exceptions}`.
#[utoipa::path(get, path = "/v1/reconciliations/{id}", tag = "reconciliation", params(("id" = String, Path)),
    responses((status = 200, body = runs::Run), (status = 404), (status = 403, description = "forbidden: only finance, supervisor, auditor may do this")), security(("bearer" = [])))]
pub async fn get(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_RECONCILIATION)?;
    let id = id.into_inner();
    let lookup = id.clone();
    let found = with_conn(&ctx, move |conn, _| Ok(runs::get(conn, &lookup)?)).await?;
    found
        .map(|run| HttpResponse::Ok().json(run))
        .ok_or_else(|| ApiError::not_found(format!("no reconciliation {id}")))
}

/// One exception of a run, as listed.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ExceptionItem {
    /// `ex_…`.
    id: String,
    /// The outcome category (`amount_mismatch`, `missing_in_settlement`, …).
    kind: String,
    /// The payment concerned, if any.
    payment_id: Option<String>,
    /// The settlement line concerned, if any.
    settlement_record_id: Option<i64>,
    /// The settlement file concerned (cash tier), if any.
    file_id: Option<String>,
    /// The bank booking concerned (cash tier), if any.
    booking_id: Option<i64>,
    /// The ledger's amount, decimal string, where one applies.
    ledger_amount: Option<String>,
    /// The settlement's or bank's amount, where one applies.
    settlement_amount: Option<String>,
    /// `open`, `awaiting_approval`, `claimed` or `resolved`.
    status: String,
    /// What the operator should do, in the request's language (`Accept-Language`).
    suggested_action: String,
    /// The suggested action's stable code (`claim_missing_credit`, `check_terminal_batch`…);
    /// null only for a sentence stored before the codes that names no known action.
    suggested_action_code: Option<String>,
}

impl From<ExceptionRow> for ExceptionItem {
    fn from(e: ExceptionRow) -> Self {
        ExceptionItem {
            id: e.id,
            kind: e.kind.to_string(),
            payment_id: e.payment_id,
            settlement_record_id: e.settlement_record_id,
            file_id: e.file_id,
            booking_id: e.booking_id,
            ledger_amount: e.ledger_minor.map(crate::money::format_minor),
            settlement_amount: e.settlement_minor.map(crate::money::format_minor),
            status: e.status.to_string(),
            suggested_action_code: e.suggested_action_code.map(|s| s.code().to_string()),
            suggested_action: e.suggested_action,
        }
    }
}

/// A run's exceptions, paged: `{id, kind, payment_id, settlement_record_id, ledger_amount,
/// settlement_amount, status, suggested_action, suggested_action_code}`; the suggested action
/// in the request's `Accept-Language`.
#[utoipa::path(get, path = "/v1/reconciliations/{id}/exceptions", tag = "reconciliation",
    params(("id" = String, Path), Page),
    responses((status = 200, body = inline(Paged<ExceptionItem>)), (status = 404), (status = 403, description = "forbidden: only finance, supervisor, auditor may do this")), security(("bearer" = [])))]
pub async fn exceptions(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
    page: ApiQuery<Page>,
    lang: AcceptLang,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_RECONCILIATION)?;
    let limit = page_limit(page.0.limit)?;
    let after = page.0.after;
    let id = id.into_inner();
    let lookup = id.clone();
    let found = with_conn(&ctx, move |conn, _| {
        if runs::get(conn, &lookup)?.is_none() {
            return Ok(None);
        }
        Ok(Some(runs::exceptions(
            conn,
            &lookup,
            after.as_deref(),
            limit,
        )?))
    })
    .await?;
    let items: Vec<ExceptionRow> =
        found.ok_or_else(|| ApiError::not_found(format!("no reconciliation {id}")))?;
    let next = (items.len() as i64 == limit)
        .then(|| items.last().map(|e| e.id.clone()))
        .flatten();
    let items: Vec<ExceptionItem> = items
        .into_iter()
        .map(|e| ExceptionItem::from(e.in_lang(lang.0)))
        .collect();
    Ok(HttpResponse::Ok().json(Paged { items, next }))
}

/// The report's formats, for the document (the query is read as text and checked by hand).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ReportFormat {
    /// `application/json` (the default).
    Json,
    /// `text/csv`.
    Csv,
}

/// `?format=json` (default) or `csv`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `json` or `csv`.
    pub format: Option<String>,
}

/// The run's report: the summary per tier, totals per channel and per department, each
/// settlement file's netting (gross, fee, net), and every exception with its suggested action.
/// `?format=csv` gives the same as CSV, one section after another. Suggested actions and the
/// CSV's headers are in the request's `Accept-Language` (zh-CN by default).
#[utoipa::path(get, path = "/v1/reconciliations/{id}/report", tag = "reconciliation",
    params(("id" = String, Path), ("format" = Option<ReportFormat>, Query, description = "json (default) or csv")),
    responses((status = 200, content((runs::Report = "application/json"), (String = "text/csv")),
        description = "the report, as JSON or (`?format=csv`) as CSV, one section after another"), (status = 404), (status = 403, description = "forbidden: only finance, supervisor, auditor may do this")), security(("bearer" = [])))]
pub async fn report(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
    query: ApiQuery<ReportQuery>,
    lang: AcceptLang,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_RECONCILIATION)?;
    let csv = match query.0.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                Some("format".into()),
                format!("format '{other}' is not json or csv"),
            ))
        }
    };
    let id = id.into_inner();
    let lookup = id.clone();
    let found = with_read_conn(&ctx, move |conn, _| Ok(runs::report(conn, &lookup)?)).await?;
    let report = found
        .ok_or_else(|| ApiError::not_found(format!("no reconciliation {id}")))?
        .in_lang(lang.0);
    if !csv {
        return Ok(HttpResponse::Ok().json(report));
    }
    let bytes = runs::report_csv(&report, lang.0).map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::CONTENT_TYPE,
            "text/csv; charset=utf-8",
        ))
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"reconciliation-{}-{}.csv\"",
                report.run.business_date, report.run.id
            ),
        ))
        .body(bytes))
}
