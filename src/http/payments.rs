//! `/v1/payments`: counter payments. Clerks capture; clerks, finance, supervisors and auditors
//! read.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;

use super::extract::{read_body, Caller};
use super::problem::ApiError;
use crate::app::AppContext;
use crate::auth::Role;
use crate::payments::intake::{self, IntakeError};
use crate::payments::{self, card, Capture, CaptureError};

/// Who may read payments.
pub const PAYMENT_READERS: [Role; 4] =
    [Role::Clerk, Role::Finance, Role::Supervisor, Role::Auditor];

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/payments", web::post().to(create))
        .route("/v1/payments/{id}", web::get().to(get));
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
            CaptureError::Post(p) => p.into(),
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

fn answer(status: u16, body: String) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(body)
}

/// Captures a card payment. Requires `Idempotency-Key`; the same key and body returns the
/// original answer, the same key with another body is a 409.
#[utoipa::path(post, path = "/v1/payments", tag = "payments",
    params(("Idempotency-Key" = String, Header, description = "1–64 of [A-Za-z0-9_-]")),
    responses((status = 201, description = "captured"), (status = 409, description = "idempotency_key_reused"),
        (status = 422, description = "unknown_fee_item, amount_mismatch, full_card_number, day_closed, invalid_request, idempotency_key_required")),
    security(("bearer" = [])))]
pub async fn create(
    ctx: web::Data<AppContext>,
    caller: Caller,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.require(&[Role::Clerk])?.clone();
    let key = match req.headers().get("idempotency-key").map(|v| v.to_str()) {
        None => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_required",
                "Idempotency-Key required",
                "send an Idempotency-Key header (1–64 of A–Z a–z 0–9 _ -) with every payment",
            )
            .with("field", "Idempotency-Key"))
        }
        Some(Ok(k)) if intake::valid_idempotency_key(k) => k.to_string(),
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_idempotency_key",
                "Invalid Idempotency-Key",
                "an Idempotency-Key is 1–64 of A–Z a–z 0–9 _ -",
            )
            .with("field", "Idempotency-Key"))
        }
    };
    let body = read_body(&mut payload, ctx.config.json_limit_bytes).await?;
    let (value, request_hash) = intake::read_json(&body)?;
    // A retry is answered from the stored answer before anything else is checked, so it gets
    // exactly what the first attempt got even if, say, the fee item has since ended.
    let stored = {
        let ctx = ctx.clone().into_inner();
        let key = key.clone();
        web::block(move || -> Result<_, ApiError> {
            Ok(payments::stored_answer(&mut *ctx.conn()?, &key)?)
        })
        .await??
    };
    if let Some((hash, status, body)) = stored {
        return if hash == request_hash {
            Ok(answer(u16::try_from(status).unwrap_or(200), body))
        } else {
            Err(CaptureError::KeyReused.into())
        };
    }
    let request = intake::parse_value(value)?;
    let business_date = crate::clock::business_date(Utc::now(), ctx.config.business_day_cutoff);
    let versions = {
        let ctx = ctx.clone().into_inner();
        let request = request.clone();
        web::block(move || -> Result<_, ApiError> {
            Ok(payments::versions_for(&mut *ctx.conn()?, &request)?)
        })
        .await??
    };
    let lines = intake::price(&request, &versions, business_date)?;
    let (payer_id_hmac, payer_id_masked) =
        match request.payer.as_ref().and_then(|p| p.id_number.as_deref()) {
            Some(id) => (
                Some(ctx.keys.keyed_hash("payer-id", &id.to_ascii_uppercase())),
                Some(card::mask_id(id)),
            ),
            None => (None, None),
        };
    let mut request = request;
    if let Some(p) = request.payer.as_mut() {
        // The clear identity number goes no further than this point.
        p.id_number = None;
    }
    let captured = payments::capture(
        &ctx.writer,
        Capture {
            key,
            request_hash,
            request,
            lines,
            business_date,
            payer_id_hmac,
            payer_id_masked,
            actor: principal.actor(),
            series: ctx.config.receipt_series.clone(),
        },
    )
    .await?;
    Ok(answer(captured.status, captured.body))
}

/// One payment with its lines, card data (masked) and receipt.
#[utoipa::path(get, path = "/v1/payments/{id}", tag = "payments", params(("id" = String, Path)), responses((status = 200), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&PAYMENT_READERS)?;
    let id = id.into_inner();
    let ctx = ctx.into_inner();
    let lookup = id.clone();
    let found = web::block(move || -> Result<_, ApiError> {
        Ok(payments::load(&mut *ctx.conn()?, &lookup)?)
    })
    .await??;
    found
        .map(|p| HttpResponse::Ok().json(payments::view(&p)))
        .ok_or_else(|| ApiError::not_found(format!("no payment '{id}'")))
}
