//! `/v1/refunds`: a refund's lifecycle after its request (`POST /v1/payments/{id}/refunds`, in
//! [`super::payments`], with its approval): reading one or a page of them, rejecting (a
//! supervisor) and cancelling (the requester, or finance) while it waits.

use actix_web::{web, HttpResponse};

use super::blocking::with_conn;
use super::extract::{ApiJson, ApiQuery, Caller};
use super::paging::Paged;
use super::problem::ApiError;
use crate::app::AppContext;
use crate::auth::may;
use crate::payments::refunds::{self, list, RefundFilter, RefundView};

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/refunds", web::get().to(list_refunds))
        .route("/v1/refunds/{id}", web::get().to(get))
        .route("/v1/refunds/{id}/reject", web::post().to(reject))
        .route("/v1/refunds/{id}/cancel", web::post().to(cancel));
}

/// One refund.
#[utoipa::path(get, path = "/v1/refunds/{id}", tag = "payments", params(("id" = String, Path)),
    responses((status = 200, body = RefundView), (status = 404), (status = 403, description = "forbidden: only clerk, finance, supervisor, auditor may do this")), security(("bearer" = [])))]
pub async fn get(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_REFUNDS)?;
    let id = id.into_inner();
    let lookup = id.clone();
    let found = with_conn(&ctx, move |conn, _| Ok(list::get(conn, &lookup)?)).await?;
    let r = found.ok_or_else(|| ApiError::not_found(format!("no refund '{id}'")))?;
    Ok(HttpResponse::Ok().json(RefundView::from(&r)))
}

/// Refunds by status and by the business day they were requested on (not their payment's
/// day), oldest request first, paged.
#[utoipa::path(get, path = "/v1/refunds", tag = "payments", params(RefundFilter),
    responses((status = 200, body = inline(Paged<RefundView>)), (status = 422, description = "invalid_request (naming status, business_date, limit or after)"), (status = 403, description = "forbidden: only clerk, finance, supervisor, auditor may do this")), security(("bearer" = [])))]
pub async fn list_refunds(
    ctx: web::Data<AppContext>,
    caller: Caller,
    ApiQuery(f): ApiQuery<RefundFilter>,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_REFUNDS)?;
    let page = with_conn(&ctx, move |conn, _| Ok(list::list(conn, &f)?)).await?;
    let page = Paged {
        items: page.items,
        next: page.next,
    };
    Ok(HttpResponse::Ok().json(page.map(|r| RefundView::from(&r))))
}

/// A rejection.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectInput {
    /// Why the refund is refused (1–500 characters).
    #[schema(min_length = 1, max_length = 500)]
    note: String,
}

/// Rejects a refund that waits for approval (a supervisor), with a note; its amount is free
/// again. 409 `refund_not_allowed` once it is no longer `requested`.
#[utoipa::path(post, path = "/v1/refunds/{id}/reject", tag = "payments", params(("id" = String, Path)), request_body = RejectInput,
    responses((status = 200, body = RefundView, description = "rejected"), (status = 404), (status = 409, description = "refund_not_allowed"), (status = 422, description = "invalid_request (naming note)"),
        (status = 403, description = "forbidden: only supervisor may do this")), security(("bearer" = [])))]
pub async fn reject(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
    body: ApiJson<RejectInput>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.require(may::REJECT_REFUND)?.clone();
    let input = body.into_inner()?;
    let today = ctx.business_today();
    let refund =
        refunds::reject(&ctx.writer, id.into_inner(), input.note, principal, today).await?;
    Ok(HttpResponse::Ok().json(RefundView::from(&refund)))
}

/// Cancels a refund that waits for approval: the person who requested it, or finance (403
/// `not_requester` for anyone else); its amount is free again. 409 `refund_not_allowed` once
/// it is no longer `requested`.
#[utoipa::path(post, path = "/v1/refunds/{id}/cancel", tag = "payments", params(("id" = String, Path)),
    responses((status = 200, body = RefundView, description = "cancelled"), (status = 404), (status = 409, description = "refund_not_allowed"),
        (status = 403, description = "forbidden: only clerk, supervisor, finance may do this; not_requester")), security(("bearer" = [])))]
pub async fn cancel(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.require(may::CANCEL_REFUND)?.clone();
    let today = ctx.business_today();
    let refund = refunds::cancel(&ctx.writer, id.into_inner(), principal, today).await?;
    Ok(HttpResponse::Ok().json(RefundView::from(&refund)))
}
