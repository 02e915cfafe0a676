//! `/v1/payments`: counter payments. Clerks capture; clerks, finance, supervisors and auditors
//! read.

use crate::auth::may;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::blocking::with_conn;
use super::extract::ApiQuery;
use super::extract::{parse_json, read_body, Caller};
use super::paging::Paged;
use super::problem::ApiError;
use crate::app::AppContext;
use crate::payments::intake::{self, IntakeError};
use crate::payments::query::{self, QueryError};
use crate::payments::refunds::{self, refund_amount, RefundError};
use crate::payments::{self, CaptureError, Counter, VoidError};

pub use crate::payments::query::PaymentFilter;

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/payments", web::post().to(create))
        .route("/v1/payments", web::get().to(list))
        .route("/v1/payments/{id}", web::get().to(get))
        .route("/v1/payments/{id}/void", web::post().to(void))
        .route("/v1/payments/{id}/refunds", web::post().to(request_refund))
        .route("/v1/refunds/{id}/approve", web::post().to(approve_refund));
}

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> Self {
        let detail = e.to_string();
        let unprocessable = |code, title| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                title,
                detail.clone(),
            )
        };
        match e {
            IntakeError::Invalid { field, .. } => ApiError::invalid(field, detail),
            IntakeError::FullCardNumber(path) => {
                unprocessable("full_card_number", "Full card number refused").with("field", path)
            }
            IntakeError::UnknownFeeItem { line, code, .. } => {
                unprocessable("unknown_fee_item", "Unknown or inactive fee item")
                    .with("field", format!("lines[{line}].fee_code"))
                    .with("fee_code", code)
            }
            IntakeError::AmountMismatch { field, .. } => {
                unprocessable("amount_mismatch", "Not the statutory amount").with("field", field)
            }
            IntakeError::UnknownConcession { line, code, .. } => {
                unprocessable("unknown_concession", "Unknown concession")
                    .with("field", format!("lines[{line}].concession"))
                    .with("concession", code)
            }
            IntakeError::UnknownPlace(place) => place.into(),
            IntakeError::NothingToCharge => {
                unprocessable("nothing_to_charge", "Nothing to charge").with("field", "amount")
            }
        }
    }
}

impl From<CaptureError> for ApiError {
    fn from(e: CaptureError) -> Self {
        match e {
            CaptureError::KeyReused => ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key_reused",
                "Idempotency key reused",
                e.to_string(),
            ),
            CaptureError::Intake(i) => i.into(),
            CaptureError::Post(p) => p.into(),
            CaptureError::Interrupted(_) => ApiError::internal(&e),
            CaptureError::TokenRevoked => crate::auth::tokens::Refusal::Revoked.into(),
            CaptureError::ReceiptSeries(_) => {
                tracing::error!(error = %e, "receipt series");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "receipt_series_unavailable",
                    "No receipt numbers",
                    e.to_string(),
                )
            }
        }
    }
}

/// A capture's answer as sent; a status that is no HTTP status is an internal error, not a 200
/// ([`payments::take`] only answers 100–999).
fn answer(status: u16, body: String) -> Result<HttpResponse, ApiError> {
    let status = StatusCode::from_u16(status).map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(body))
}

/// The request's Idempotency-Key: present, 1–64 of [A-Za-z0-9_-], no card number in it.
fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    match req.headers().get("idempotency-key").map(|v| v.to_str()) {
        None => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_required",
            "Idempotency-Key required",
            "send an Idempotency-Key header (1–64 of A–Z a–z 0–9 _ -) with every payment and refund request",
        )
        .with("field", "Idempotency-Key")),
        // The key is stored to answer retries: a card number in it would be card data at rest.
        Some(Ok(k)) if crate::payments::card::contains_card_number(k) => {
            Err(IntakeError::FullCardNumber("Idempotency-Key".into()).into())
        }
        Some(Ok(k)) if intake::valid_idempotency_key(k) => Ok(k.to_string()),
        Some(_) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_idempotency_key",
            "Invalid Idempotency-Key",
            "an Idempotency-Key is 1–64 of A–Z a–z 0–9 _ -",
        )
        .with("field", "Idempotency-Key")),
    }
}

/// Captures a card payment. Requires `Idempotency-Key`; the same key and body returns the
/// original answer, the same key with another body is a 409.
#[utoipa::path(post, path = "/v1/payments", tag = "payments",
    params(("Idempotency-Key" = String, Header, description = "1–64 of [A-Za-z0-9_-]", pattern = "^[A-Za-z0-9_-]{1,64}$", example = "window3-0001")),
    request_body = intake::PaymentInput,
    responses((status = 201, body = payments::PaymentView, description = "captured; a retry with the same key and body answers the same"), (status = 409, description = "idempotency_key_reused"),
        (status = 422, description = "unknown_fee_item, unknown_department, unknown_window (the window must be one of the department's), amount_mismatch, unknown_concession (a line names a concession its fee item's version does not carry), nothing_to_charge (every line is exempt: 0.00 cannot go through a card), full_card_number, day_closed, invalid_request, idempotency_key_required"), (status = 403, description = "forbidden: only clerk may do this")),
    security(("bearer" = [])))]
pub async fn create(
    ctx: web::Data<AppContext>,
    caller: Caller,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.require(may::TAKE_PAYMENT)?.clone();
    let key = idempotency_key(&req)?;
    let body = read_body(
        &mut payload,
        ctx.config.json_limit_bytes,
        std::time::Duration::from_secs(ctx.config.request_timeout_secs),
    )
    .await?;
    let counter = Counter {
        pool: &ctx.pool,
        writer: &ctx.writer,
        keys: &ctx.keys,
        series: &ctx.config.receipt_series,
    };
    let captured = payments::take_by(
        counter,
        Some(principal.token_id.clone()),
        key,
        &body,
        principal.actor(),
        ctx.business_today(),
    )
    .await?;
    answer(captured.status, captured.body)
}

/// One payment with its lines, card data (masked), receipt and refunds.
#[utoipa::path(get, path = "/v1/payments/{id}", tag = "payments", params(("id" = String, Path)), responses((status = 200, body = payments::PaymentDetail), (status = 404), (status = 403, description = "forbidden: only clerk, finance, supervisor, auditor may do this")), security(("bearer" = [])))]
pub async fn get(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_PAYMENTS)?;
    let id = id.into_inner();
    let lookup = id.clone();
    let found = with_conn(&ctx, move |conn, _| {
        Ok(match payments::load(conn, &lookup)? {
            Some(p) => Some((refunds::refunds_of(conn, &lookup)?, p)),
            None => None,
        })
    })
    .await?;
    let (refunds, p) = found.ok_or_else(|| ApiError::not_found(format!("no payment '{id}'")))?;
    Ok(HttpResponse::Ok().json(payments::PaymentDetail {
        payment: payments::PaymentView::from(&p),
        refunds: refunds.iter().map(refunds::RefundView::from).collect(),
    }))
}

impl From<VoidError> for ApiError {
    fn from(e: VoidError) -> Self {
        match e {
            VoidError::NotFound(_) => ApiError::not_found(e.to_string()),
            VoidError::NotAllowed(_) => ApiError::new(
                StatusCode::CONFLICT,
                "void_not_allowed",
                "Cannot be voided",
                e.to_string(),
            ),
            VoidError::Post(p) => p.into(),
        }
    }
}

/// Voids a payment on its business date, before settlement: reversal entry, receipt
/// red-reversed (冲红). 409 `void_not_allowed` otherwise.
#[utoipa::path(post, path = "/v1/payments/{id}/void", tag = "payments", params(("id" = String, Path)),
    responses((status = 200, body = payments::PaymentView, description = "voided"), (status = 404), (status = 409, description = "void_not_allowed"), (status = 403, description = "forbidden: only clerk, supervisor may do this")), security(("bearer" = [])))]
pub async fn void(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.require(may::VOID_PAYMENT)?;
    let today = ctx.business_today();
    let voided = payments::void(&ctx.writer, id.into_inner(), principal.actor(), today).await?;
    Ok(HttpResponse::Ok().json(payments::view(&voided)?))
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Invalid { field, message } => {
                ApiError::invalid(Some(field.into()), message)
            }
            QueryError::Db(db) => db.into(),
        }
    }
}

/// Payments by business date and status, paged.
#[utoipa::path(get, path = "/v1/payments", tag = "payments", params(PaymentFilter), responses((status = 200, body = inline(Paged<payments::PaymentView>)), (status = 403, description = "forbidden: only clerk, finance, supervisor, auditor may do this")), security(("bearer" = [])))]
pub async fn list(
    ctx: web::Data<AppContext>,
    caller: Caller,
    ApiQuery(f): ApiQuery<PaymentFilter>,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_PAYMENTS)?;
    let page = with_conn(&ctx, move |conn, _| Ok(query::list(conn, &f)?)).await?;
    let page = Paged {
        items: page.items,
        next: page.next,
    };
    Ok(HttpResponse::Ok().json(page.map(|p| payments::PaymentView::from(&p))))
}

impl From<RefundError> for ApiError {
    fn from(e: RefundError) -> Self {
        match e {
            RefundError::NotFound(_) => ApiError::not_found(e.to_string()),
            RefundError::NotAllowed(_) => ApiError::new(
                StatusCode::CONFLICT,
                "refund_not_allowed",
                "Refund not allowed",
                e.to_string(),
            ),
            RefundError::ExceedsPayment(_) => ApiError::new(
                StatusCode::CONFLICT,
                "refund_exceeds_payment",
                "Refund exceeds the payment",
                e.to_string(),
            ),
            RefundError::SamePerson => ApiError::new(
                StatusCode::FORBIDDEN,
                "same_person",
                "Four eyes",
                e.to_string(),
            ),
            RefundError::AlreadyRemitted { ref remittance, .. } => ApiError::new(
                StatusCode::CONFLICT,
                "already_remitted",
                "Already remitted",
                e.to_string(),
            )
            .with("remittance_id", remittance.clone()),
            RefundError::KeyReused => ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key_reused",
                "Idempotency key reused",
                e.to_string(),
            ),
            RefundError::NotRequester => ApiError::new(
                StatusCode::FORBIDDEN,
                "not_requester",
                "Not the requester",
                e.to_string(),
            ),
            RefundError::BadNote => ApiError::invalid(Some("note".into()), e.to_string()),
            RefundError::BadReason => ApiError::invalid(Some("reason".into()), e.to_string()),
            RefundError::BadAmount(_) => ApiError::invalid(Some("amount".into()), e.to_string()),
            RefundError::Post(p) => p.into(),
        }
    }
}

/// A refund request.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundInput {
    /// Decimal string, two places.
    #[schema(pattern = "^[0-9]{1,15}(\\.[0-9]{1,2})?$")]
    amount: String,
    /// Why (1–500 characters).
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

/// Requests a refund. Requires `Idempotency-Key`, as a payment does: the same key and body
/// (for the same payment) returns the original answer, the same key with another request is a
/// 409. The live refunds of a payment (neither rejected nor cancelled) never add up to more
/// than the payment.
#[utoipa::path(post, path = "/v1/payments/{id}/refunds", tag = "payments",
    params(("id" = String, Path), ("Idempotency-Key" = String, Header, description = "1–64 of [A-Za-z0-9_-]", pattern = "^[A-Za-z0-9_-]{1,64}$", example = "window3-r-0001")),
    request_body = RefundInput,
    responses((status = 201, body = refunds::RefundView, description = "requested; a retry with the same key and body answers the same"), (status = 404),
        (status = 409, description = "refund_exceeds_payment, refund_not_allowed, idempotency_key_reused"),
        (status = 422, description = "invalid_request (naming amount or reason), idempotency_key_required, invalid_idempotency_key, full_card_number"),
        (status = 403, description = "forbidden: only clerk, supervisor may do this")), security(("bearer" = [])))]
pub async fn request_refund(
    ctx: web::Data<AppContext>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.require(may::REQUEST_REFUND)?.clone();
    let key = idempotency_key(&req)?;
    let body = read_body(
        &mut payload,
        ctx.config.json_limit_bytes,
        std::time::Duration::from_secs(ctx.config.request_timeout_secs),
    )
    .await?;
    // A card number is refused wherever it is, before anything else is read.
    let (value, _) = intake::read_json(&body)?;
    let input: RefundInput = parse_json(&body)?;
    let payment_id = id.into_inner();
    let request = refunds::RefundRequest {
        key,
        request_hash: refunds::request_hash(&ctx.keys, &payment_id, &value),
        payment_id,
        amount_minor: refund_amount(&input.amount)?,
        reason: input.reason,
        business_date: ctx.business_today(),
    };
    let answered = refunds::request(&ctx.writer, request, principal).await?;
    answer(answered.status, answered.body)
}

/// Approves a refund (a supervisor who did not request it) and posts it.
#[utoipa::path(post, path = "/v1/refunds/{id}/approve", tag = "payments", params(("id" = String, Path)),
    responses((status = 200, body = refunds::RefundView, description = "approved"), (status = 403, description = "forbidden: only supervisor may do this; same_person"), (status = 404), (status = 409, description = "refund_not_allowed")), security(("bearer" = [])))]
pub async fn approve_refund(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.require(may::APPROVE_REFUND)?.clone();
    let business_date = ctx.business_today();
    let refund = refunds::approve(
        &ctx.writer,
        id.into_inner(),
        principal,
        business_date,
        std::sync::Arc::new(crate::treasury::service::RefundRemittances),
    )
    .await?;
    Ok(HttpResponse::Ok().json(refunds::view(&refund)?))
}
