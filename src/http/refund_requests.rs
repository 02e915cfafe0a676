//! 退库 (API.md §Remittance): the treasury pulls refund requests for revenue it already
//! received, fetches each one's signed pain.001 credit transfer, and acknowledges (the return
//! and the payer's refund post) or rejects it — with the same HMAC-signed requests as for
//! remittances. A request is offered only once the batch that carried its revenue is
//! acknowledged: money that has not reached the treasury cannot be returned.

use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::blocking::with_conn;
use super::extract::{ApiQuery, Caller};
use super::paging::{page_limit, parse_cursor, Page, Paged};
use super::problem::ApiError;
use super::remittances::{signed_treasury_caller, signed_treasury_json, treasury_amount};
use crate::app::AppContext;
use crate::treasury::service::{self, returns, RefundRequestView};

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/treasury/refund-requests", web::get().to(list))
        .route(
            "/v1/treasury/refund-requests/{id}/file",
            web::get().to(file),
        )
        .route("/v1/treasury/refund-requests/{id}/ack", web::post().to(ack))
        .route(
            "/v1/treasury/refund-requests/{id}/reject",
            web::post().to(reject),
        );
}

/// Refund requests offered to the treasury, oldest offer first (`after` = the last `cursor`
/// seen). A request appears once the remittance that carried its revenue is acknowledged.
#[utoipa::path(get, path = "/v1/treasury/refund-requests", tag = "treasury", params(Page),
    responses((status = 200, body = inline(Paged<RefundRequestView>)), (status = 401, description = "signature_required, stale_request, bad_signature, replayed_request"), (status = 403, description = "forbidden: only treasury may do this")),
    security(("bearer" = [])))]
pub async fn list(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    signed_treasury_caller(&ctx, &req, &caller, b"").await?;
    let ApiQuery(q) = ApiQuery::<Page>::extract(&req).await?;
    let limit = page_limit(q.limit)?;
    let after = parse_cursor(q.after.as_deref())?;
    let (items, next) = with_conn(&ctx, move |conn, _| {
        Ok(returns::list_for_treasury(conn, after, limit)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Paged { items, next }))
}

/// The request's pain.001.001.10 credit transfer (treasury account → collection account),
/// fixed, hashed and signed the first time it is pulled, byte-identical on every pull, with
/// `Digest: sha-256=<base64>` and `X-Onecard-Signature: ed25519=<base64 signature of the body>`.
#[utoipa::path(get, path = "/v1/treasury/refund-requests/{id}/file", tag = "treasury", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/xml", body = String, description = "the pain.001.001.10 document",
        headers(("Digest" = String, description = "sha-256=<base64 of the body's SHA-256>"),
            ("X-Onecard-Signature" = String, description = "ed25519=<base64 signature of the body>"),
            ("X-Onecard-Key-Id" = String, description = "the id of the key that made the signature (GET /v1/signing-keys)"))), (status = 401), (status = 404), (status = 403, description = "forbidden: only treasury may do this")),
    security(("bearer" = [])))]
pub async fn file(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    signed_treasury_caller(&ctx, &req, &caller, b"").await?;
    let id = id.into_inner();
    let signed = service::returns_file::fixed_file(
        &ctx.writer,
        ctx.keys.clone(),
        ctx.treasury.as_ref().clone(),
        id,
    )
    .await?;
    Ok(super::signed_file::signed_response(
        signed.bytes,
        &signed.sha256,
        &signed.signature,
        signed.kid.as_deref(),
        &signed.message_id,
    ))
}

/// The treasury's acknowledgement of a return.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnAckInput {
    /// The treasury's own reference for the return (1–64 characters).
    treasury_reference: String,
    /// The amount returned, decimal string; must be the request's.
    #[schema(pattern = "^[0-9]{1,15}(\\.[0-9]{1,2})?$")]
    amount: String,
}

/// The request after an acknowledgement.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReturnAckOutput {
    /// The request.
    #[serde(flatten)]
    request: RefundRequestView,
    /// False when this acknowledgement had been made before (nothing posted again).
    posted: bool,
}

/// Acknowledges a return: posts `Dr 1002.01 / Cr 2307.02` (the treasury's money back) and
/// then the payer's refund `Dr 2307.02 / Cr 1218.01 or 1002.01`; the refund becomes `refunded`.
/// The same acknowledgement again is a no-op; another reference, or another amount, is a 409.
#[utoipa::path(post, path = "/v1/treasury/refund-requests/{id}/ack", tag = "treasury", params(("id" = String, Path)),
    request_body = ReturnAckInput,
    responses((status = 200, body = ReturnAckOutput), (status = 401), (status = 404),
        (status = 409, description = "already_acknowledged, amount_mismatch, remittance_rejected"), (status = 403, description = "forbidden: only treasury may do this")),
    security(("bearer" = [])))]
pub async fn ack(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (by, input): (_, ReturnAckInput) =
        signed_treasury_json(&ctx, &req, &caller, payload).await?;
    let amount = treasury_amount(&input.amount)?;
    let today = ctx.business_today();
    let done = service::acknowledge_return(
        &ctx.writer,
        id.into_inner(),
        by,
        input.treasury_reference,
        amount,
        today,
    )
    .await?;
    Ok(HttpResponse::Ok().json(ReturnAckOutput {
        request: done.request,
        posted: done.posted,
    }))
}

/// Why the treasury refuses a return.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRejectInput {
    /// Why (1–500 characters).
    reason: String,
}

/// Rejects a return: nothing posts, the refund becomes `rejected` (the payment may be refunded
/// again). Rejecting it again answers it unchanged; an acknowledged one is a 409.
#[utoipa::path(post, path = "/v1/treasury/refund-requests/{id}/reject", tag = "treasury", params(("id" = String, Path)),
    request_body = ReturnRejectInput,
    responses((status = 200, body = RefundRequestView), (status = 401), (status = 404),
        (status = 409, description = "already_acknowledged, refund_partly_returned"), (status = 422, description = "reason"), (status = 403, description = "forbidden: only treasury may do this")),
    security(("bearer" = [])))]
pub async fn reject(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (by, input): (_, ReturnRejectInput) =
        signed_treasury_json(&ctx, &req, &caller, payload).await?;
    let request = service::reject_return(&ctx.writer, id.into_inner(), by, input.reason).await?;
    Ok(HttpResponse::Ok().json(request))
}
