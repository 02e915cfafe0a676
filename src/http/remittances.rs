//! Remittance (API.md §Remittance): finance prepares a closed day's batch, a supervisor
//! approves it (the file is fixed and signed), the treasury pulls and acknowledges with
//! HMAC-signed requests. Also the supervision check of DESIGN §2 rule 6.

use crate::auth::may;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use chrono::{Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::blocking::with_conn;
use super::extract::{parse_json, ApiJson, ApiQuery, Caller};
use super::paging::{page_limit, parse_cursor, Page, Paged};
use super::problem::ApiError;
use super::signed_file::signed_file;
use crate::app::AppContext;
use crate::auth::request_signing::{self, SignatureError, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::auth::{self, Principal};
use crate::treasury::batch::{AckError, BatchError, WithdrawError};
use crate::treasury::refund_request::RequestError;
use crate::treasury::service::{self, RemitError, Remittance, SupervisionReport};

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/remittances", web::post().to(prepare))
        .route("/v1/remittances", web::get().to(list))
        .route("/v1/remittances/{id}", web::get().to(get))
        .route("/v1/remittances/{id}/file", web::get().to(staff_file))
        .route("/v1/remittances/{id}/approve", web::post().to(approve))
        .route("/v1/remittances/{id}/cancel", web::post().to(cancel))
        .route("/v1/treasury/remittances", web::get().to(treasury_list))
        .route(
            "/v1/treasury/remittances/{id}/file",
            web::get().to(treasury_file),
        )
        .route(
            "/v1/treasury/remittances/{id}/ack",
            web::post().to(treasury_ack),
        )
        .route(
            "/v1/treasury/remittances/{id}/reject",
            web::post().to(treasury_reject),
        )
        .route(
            "/v1/supervision/treasury-payable",
            web::get().to(supervision),
        );
}

impl From<RemitError> for ApiError {
    fn from(e: RemitError) -> Self {
        let detail = e.to_string();
        let conflict =
            |code, title| ApiError::new(StatusCode::CONFLICT, code, title, detail.clone());
        match e {
            RemitError::NotFound(_) => ApiError::not_found(detail),
            RemitError::DayNotClosed(_) => conflict("day_not_closed", "Day not closed"),
            RemitError::AlreadyRemitted { id, .. } => {
                conflict("already_remitted", "Already remitted").with("remittance_id", id)
            }
            RemitError::Batch(BatchError::NothingToRemit(_)) => {
                conflict("nothing_to_remit", "Nothing to remit")
            }
            RemitError::Batch(_) => conflict("payable_inconsistent", "Payable inconsistent"),
            RemitError::SamePerson => {
                ApiError::new(StatusCode::FORBIDDEN, "same_person", "Four eyes", detail)
            }
            RemitError::Stale(_) => conflict("remittance_stale", "Remittance out of date"),
            RemitError::Ack(AckError::NotApproved) => {
                conflict("remittance_not_approved", "Remittance not approved")
            }
            RemitError::Ack(AckError::AmountMismatch { .. }) => {
                conflict("amount_mismatch", "Amount mismatch")
            }
            RemitError::Ack(AckError::OtherReference(_)) => {
                conflict("already_acknowledged", "Already acknowledged")
            }
            RemitError::Ack(AckError::BadReference) => {
                ApiError::invalid(Some("treasury_reference".into()), detail)
            }
            RemitError::Ack(AckError::Rejected) => {
                conflict("remittance_rejected", "Remittance rejected")
            }
            RemitError::Withdraw(WithdrawError::NotPrepared(_)) => {
                conflict("remittance_not_prepared", "Remittance not prepared")
            }
            RemitError::Withdraw(WithdrawError::NotRejectable(status)) => {
                if status == crate::ledger::days::RemittanceStatus::Acknowledged {
                    conflict("already_acknowledged", "Already acknowledged")
                } else {
                    conflict("remittance_not_approved", "Remittance not approved")
                }
            }
            RemitError::Withdraw(WithdrawError::BadReason)
            | RemitError::Return(RequestError::BadReason) => {
                ApiError::invalid(Some("reason".into()), detail)
            }
            RemitError::Return(RequestError::AlreadyAcknowledged(_)) => {
                conflict("already_acknowledged", "Already acknowledged")
            }
            RemitError::Return(RequestError::PartlyReturned(_)) => {
                conflict("refund_partly_returned", "Refund partly returned")
            }
            RemitError::Return(RequestError::Ack(_)) => {
                conflict("refund_request_not_offered", "Refund request not offered")
            }
            RemitError::File(f) => ApiError::internal(&f),
            RemitError::ReturnFile(f) => ApiError::internal(&f),
            RemitError::Audit(e) => ApiError::internal(&e),
            RemitError::Post(p) => p.into(),
        }
    }
}

impl From<SignatureError> for ApiError {
    fn from(e: SignatureError) -> Self {
        let code = match e {
            SignatureError::Missing(_) | SignatureError::Malformed(_) => "signature_required",
            SignatureError::Stale { .. } => "stale_request",
            SignatureError::Mismatch => "bad_signature",
            SignatureError::Replayed => "replayed_request",
        };
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            code,
            "Signed request refused",
            e.to_string(),
        )
    }
}

/// A batch to prepare.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrepareInput {
    /// The closed day to remit.
    #[schema(value_type = String, example = "2026-11-24")]
    business_date: NaiveDate,
}

/// Prepares the batch of a closed day: its payable to the treasury by revenue subject, with the
/// receipts behind each. One batch per day.
#[utoipa::path(post, path = "/v1/remittances", tag = "remittance", request_body = PrepareInput,
    responses((status = 201, body = Remittance),
        (status = 409, description = "day_not_closed, already_remitted, nothing_to_remit"), (status = 403, description = "forbidden: only finance may do this")),
    security(("bearer" = [])))]
pub async fn prepare(
    ctx: web::Data<AppContext>,
    caller: Caller,
    body: ApiJson<PrepareInput>,
) -> Result<HttpResponse, ApiError> {
    let by = caller.require(may::PREPARE_REMITTANCE)?;
    let input = body.into_inner()?;
    let batch = service::prepare(
        &ctx.writer,
        ctx.treasury.as_ref().clone(),
        input.business_date,
        by.actor(),
        Some(by.person_id.clone()),
    )
    .await?;
    Ok(HttpResponse::Created().json(batch))
}

/// Batches, newest day first.
#[utoipa::path(get, path = "/v1/remittances", tag = "remittance", params(Page),
    responses((status = 200, body = inline(Paged<Remittance>)), (status = 403, description = "forbidden: only finance, supervisor, auditor may do this")), security(("bearer" = [])))]
pub async fn list(
    ctx: web::Data<AppContext>,
    caller: Caller,
    ApiQuery(q): ApiQuery<Page>,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_REMITTANCES)?;
    let limit = page_limit(q.limit)?;
    let after = match q.after.as_deref() {
        None | Some("") => None,
        Some(s) => Some(NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            ApiError::invalid(
                Some("after".into()),
                "after must be a cursor returned as `next`",
            )
        })?),
    };
    let (items, next) =
        with_conn(&ctx, move |conn, _| Ok(service::list(conn, after, limit)?)).await?;
    Ok(HttpResponse::Ok().json(Paged { items, next }))
}

/// One batch.
#[utoipa::path(get, path = "/v1/remittances/{id}", tag = "remittance", params(("id" = String, Path)),
    responses((status = 200, body = Remittance), (status = 404), (status = 403, description = "forbidden: only finance, supervisor, auditor may do this")), security(("bearer" = [])))]
pub async fn get(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_REMITTANCES)?;
    let id = id.into_inner();
    let batch = with_conn(&ctx, {
        let id = id.clone();
        move |conn, _| Ok(service::get(conn, &id)?)
    })
    .await?;
    let batch = batch.ok_or_else(|| ApiError::not_found(format!("no remittance '{id}'")))?;
    Ok(HttpResponse::Ok().json(batch))
}

/// Approves a prepared batch (a supervisor who did not prepare it): the payable is checked
/// again, the remt.001 file written, hashed, signed and stored. Approving again answers the
/// batch unchanged.
#[utoipa::path(post, path = "/v1/remittances/{id}/approve", tag = "remittance", params(("id" = String, Path)),
    responses((status = 200, body = Remittance), (status = 403, description = "forbidden: only supervisor may do this; same_person"), (status = 404),
        (status = 409, description = "remittance_stale")), security(("bearer" = [])))]
pub async fn approve(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let by = caller.require(may::APPROVE_REMITTANCE)?.clone();
    let batch = service::approve(
        &ctx.writer,
        ctx.keys.clone(),
        ctx.treasury.as_ref().clone(),
        id.into_inner(),
        by,
    )
    .await?;
    Ok(HttpResponse::Ok().json(batch))
}

/// Why a batch is cancelled or rejected.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawInput {
    /// Why (1–500 characters). Optional when finance cancels.
    #[serde(default)]
    reason: Option<String>,
}

/// Cancels a prepared batch (finance): it ends without an entry and the day can be prepared
/// again. Any other status is a 409.
#[utoipa::path(post, path = "/v1/remittances/{id}/cancel", tag = "remittance", params(("id" = String, Path)),
    request_body = WithdrawInput,
    responses((status = 200, body = Remittance), (status = 404),
        (status = 409, description = "remittance_not_prepared"), (status = 403, description = "forbidden: only finance may do this")),
    security(("bearer" = [])))]
pub async fn cancel(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
    body: ApiJson<WithdrawInput>,
) -> Result<HttpResponse, ApiError> {
    let by = caller.require(may::PREPARE_REMITTANCE)?.clone();
    let input = body.into_inner()?;
    let reason = input
        .reason
        .unwrap_or_else(|| "cancelled by finance".to_string());
    let batch = service::cancel(&ctx.writer, id.into_inner(), by, reason).await?;
    Ok(HttpResponse::Ok().json(batch))
}

/// Checks a treasury request: the role, then the HMAC signature over method, path and query,
/// timestamp and body; a stale timestamp or a signature seen before is refused.
/// A signed treasury request with a JSON body: the body read within the limits, the caller and
/// the signature over the body checked, then the body parsed (422 naming a bad field).
pub(super) async fn signed_treasury_json<T: serde::de::DeserializeOwned>(
    ctx: &web::Data<AppContext>,
    req: &HttpRequest,
    caller: &Caller,
    mut payload: web::Payload,
) -> Result<(Principal, T), ApiError> {
    let body = super::extract::read_body(
        &mut payload,
        ctx.config.json_limit_bytes,
        std::time::Duration::from_secs(ctx.config.request_timeout_secs),
    )
    .await?;
    let by = signed_treasury_caller(ctx, req, caller, &body).await?;
    Ok((by, parse_json(&body)?))
}

/// The amount a treasury acknowledgement states, as minor units (422 naming `amount`).
pub(super) fn treasury_amount(text: &str) -> Result<i64, ApiError> {
    crate::money::parse_amount(text)
        .map_err(|e| ApiError::invalid(Some("amount".into()), format!("amount: {e}")))
}

pub(super) async fn signed_treasury_caller(
    ctx: &web::Data<AppContext>,
    req: &HttpRequest,
    caller: &Caller,
    body: &[u8],
) -> Result<Principal, ApiError> {
    let principal = caller.require(may::TREASURY)?.clone();
    let header = |name: &'static str| {
        req.headers()
            .get(name)
            // A header that is not visible ASCII carries no signature we could check.
            .and_then(|v| v.to_str().ok())
            .ok_or(SignatureError::Missing(name))
    };
    let timestamp = header(TIMESTAMP_HEADER)?;
    let presented = header(SIGNATURE_HEADER)?;
    request_signing::check_timestamp(timestamp, Utc::now().timestamp())?;
    let canonical = request_signing::canonical_request(
        req.method().as_str(),
        req.path(),
        req.query_string(),
        timestamp,
        body,
    );
    let token_id = principal.token_id.clone();
    let secrets = with_conn(ctx, move |conn, ctx| {
        let now = Utc::now().naive_utc();
        Ok(auth::treasury_secrets::accepted(
            conn, &ctx.keys, &token_id, now,
        )?)
    })
    .await?;
    // The newest secret first; during a rotation's overlap, the one before it too.
    let mut checked = Err(SignatureError::Mismatch);
    for secret in &secrets {
        checked = request_signing::verify(secret, &canonical, presented);
        if !matches!(checked, Err(SignatureError::Mismatch)) {
            break;
        }
    }
    let tag = checked?;
    let token_id = principal.token_id.clone();
    let fresh = with_conn(ctx, move |conn, _| {
        Ok(auth::remember_request_signature(conn, &token_id, &tag)?)
    })
    .await?;
    if !fresh {
        return Err(SignatureError::Replayed.into());
    }
    Ok(principal)
}

/// Approved batches for the treasury, oldest approval first (`after` = the last `cursor` seen).
#[utoipa::path(get, path = "/v1/treasury/remittances", tag = "treasury", params(Page),
    responses((status = 200, body = inline(Paged<Remittance>)), (status = 401, description = "signature_required, stale_request, bad_signature, replayed_request"), (status = 403, description = "forbidden: only treasury may do this")),
    security(("bearer" = [])))]
pub async fn treasury_list(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    signed_treasury_caller(&ctx, &req, &caller, b"").await?;
    let ApiQuery(q) = ApiQuery::<Page>::extract(&req).await?;
    let limit = page_limit(q.limit)?;
    let after = parse_cursor(q.after.as_deref())?;
    let (items, next) = with_conn(&ctx, move |conn, _| {
        Ok(service::list_for_treasury(conn, after, limit)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Paged { items, next }))
}

/// The approved batch's remt.001.001.04 file, byte-identical on every pull, with
/// `Digest: sha-256=<base64>` and `X-Onecard-Signature: ed25519=<base64 signature of the body>`.
#[utoipa::path(get, path = "/v1/treasury/remittances/{id}/file", tag = "treasury", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/xml", body = String, description = "the remt.001.001.04 document",
        headers(("Digest" = String, description = "sha-256=<base64 of the body's SHA-256>"),
            ("X-Onecard-Signature" = String, description = "ed25519=<base64 signature of the body>"),
            ("X-Onecard-Key-Id" = String, description = "the id of the key that made the signature (GET /v1/signing-keys)"))), (status = 401), (status = 404), (status = 403, description = "forbidden: only treasury may do this")),
    security(("bearer" = [])))]
pub async fn treasury_file(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    signed_treasury_caller(&ctx, &req, &caller, b"").await?;
    signed_file(&ctx, id.into_inner()).await
}

/// The same file for staff (finance, supervisors, auditors), with the same headers.
#[utoipa::path(get, path = "/v1/remittances/{id}/file", tag = "remittance", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/xml", body = String, description = "the remt.001.001.04 document",
        headers(("Digest" = String, description = "sha-256=<base64 of the body's SHA-256>"),
            ("X-Onecard-Signature" = String, description = "ed25519=<base64 signature of the body>"),
            ("X-Onecard-Key-Id" = String, description = "the id of the key that made the signature (GET /v1/signing-keys)"))), (status = 404), (status = 403, description = "forbidden: only finance, supervisor, auditor may do this")),
    security(("bearer" = [])))]
pub async fn staff_file(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_REMITTANCES)?;
    signed_file(&ctx, id.into_inner()).await
}

/// The treasury's acknowledgement.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckInput {
    /// The treasury's own reference for the receipt of funds (1–64 characters).
    treasury_reference: String,
    /// The amount received, decimal string; must be the batch's.
    #[schema(pattern = "^[0-9]{1,15}(\\.[0-9]{1,2})?$")]
    amount: String,
}

/// The batch after an acknowledgement.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AckOutput {
    /// The batch.
    #[serde(flatten)]
    remittance: Remittance,
    /// False when this acknowledgement had been made before (nothing posted again).
    posted: bool,
}

/// Acknowledges an approved batch: posts `Dr 2103.<subject> / Cr 1002.01`. The same
/// acknowledgement again is a no-op; another reference, or another amount, is a 409.
#[utoipa::path(post, path = "/v1/treasury/remittances/{id}/ack", tag = "treasury", params(("id" = String, Path)),
    request_body = AckInput,
    responses((status = 200, body = AckOutput), (status = 401), (status = 404),
        (status = 409, description = "already_acknowledged, amount_mismatch"), (status = 403, description = "forbidden: only treasury may do this")),
    security(("bearer" = [])))]
pub async fn treasury_ack(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (by, input): (_, AckInput) = signed_treasury_json(&ctx, &req, &caller, payload).await?;
    let amount = treasury_amount(&input.amount)?;
    let today = ctx.business_today();
    let done = service::acknowledge(
        &ctx.writer,
        id.into_inner(),
        by,
        input.treasury_reference,
        amount,
        today,
    )
    .await?;
    Ok(HttpResponse::Ok().json(AckOutput {
        remittance: done.remittance,
        posted: done.posted,
    }))
}

/// Why the treasury rejects a batch.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectInput {
    /// Why (1–500 characters).
    reason: String,
}

/// The treasury rejects an approved batch it pulled and has not acknowledged: nothing is
/// posted, the day can be prepared again. Rejecting it again answers it unchanged.
#[utoipa::path(post, path = "/v1/treasury/remittances/{id}/reject", tag = "treasury", params(("id" = String, Path)),
    request_body = RejectInput,
    responses((status = 200, body = Remittance), (status = 401), (status = 404),
        (status = 409, description = "already_acknowledged"), (status = 422, description = "reason"), (status = 403, description = "forbidden: only treasury may do this")),
    security(("bearer" = [])))]
pub async fn treasury_reject(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (by, input): (_, RejectInput) = signed_treasury_json(&ctx, &req, &caller, payload).await?;
    let batch = service::reject(&ctx.writer, id.into_inner(), by, input.reason).await?;
    Ok(HttpResponse::Ok().json(batch))
}

/// The supervision check's range.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SupervisionQuery {
    /// First day (default: 90 days ago).
    #[param(value_type = Option<String>, format = Date)]
    from: Option<NaiveDate>,
    /// Last day (default: today).
    #[param(value_type = Option<String>, format = Date)]
    to: Option<NaiveDate>,
}

/// DESIGN §2 rule 6: days whose payable to the treasury is not zero after acknowledgement,
/// below zero, or not acknowledged within `ONECARD_REMIT_LIMIT_DAYS`.
#[utoipa::path(get, path = "/v1/supervision/treasury-payable", tag = "remittance", params(SupervisionQuery),
    responses((status = 200, body = SupervisionReport), (status = 403, description = "forbidden: only finance, supervisor, auditor may do this")), security(("bearer" = [])))]
pub async fn supervision(
    ctx: web::Data<AppContext>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SupervisionQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_REMITTANCES)?;
    let today = ctx.business_today();
    let to = q.to.unwrap_or(today);
    let from = q.from.unwrap_or(today - Duration::days(90));
    if from > to || (to - from).num_days() > 3660 {
        return Err(ApiError::invalid(
            Some("from".into()),
            "from must be on or before to, at most ten years apart",
        ));
    }
    let limit = ctx.config.remit_limit_days;
    let report = with_conn(&ctx, move |conn, ctx| {
        Ok(service::supervise(
            conn,
            &ctx.chart.current(),
            from,
            to,
            today,
            limit,
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}
