//! `/v1/days/{date}`: a business day's state, and closing (sealing) it. Finance and
//! supervisors close; finance, supervisors and auditors read.

use crate::auth::may;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;

use super::blocking::with_conn;
use super::extract::Caller;
use super::problem::ApiError;
use crate::app::AppContext;
use crate::recon::days::{self, CloseError};

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/days/{date}", web::get().to(get))
        .route("/v1/days/{date}/close", web::post().to(close));
}

impl From<CloseError> for ApiError {
    fn from(e: CloseError) -> Self {
        match e {
            CloseError::NotOver(_) => ApiError::new(
                StatusCode::CONFLICT,
                "day_not_over",
                "The day is not over",
                e.to_string(),
            ),
            CloseError::NotReconciled(_) => ApiError::new(
                StatusCode::CONFLICT,
                "not_reconciled",
                "The day has not been reconciled",
                e.to_string(),
            ),
            CloseError::OpenExceptions(ref ids) => ApiError::new(
                StatusCode::CONFLICT,
                "open_exceptions",
                "Open reconciliation exceptions",
                e.to_string(),
            )
            .with("open_exceptions", ids.clone())
            .with("open_count", ids.len()),
            CloseError::Db(db) => db.into(),
            CloseError::Audit(e) => ApiError::internal(&e),
        }
    }
}

fn parse_date(text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        ApiError::invalid(
            Some("date".into()),
            format!("'{text}' is not a date YYYY-MM-DD"),
        )
    })
}

/// A day: `{date, status, entries, last_entry_hash, seal, seal_kid}`. For an open day the figures are
/// live; for a closed day they are the sealed ones.
#[utoipa::path(get, path = "/v1/days/{date}", tag = "days", params(("date" = String, Path, format = Date, description = "YYYY-MM-DD")),
    responses((status = 200, body = days::Day), (status = 422, description = "invalid_request: the date is not YYYY-MM-DD"), (status = 403, description = "forbidden: only finance, supervisor, auditor may do this")), security(("bearer" = [])))]
pub async fn get(
    ctx: web::Data<AppContext>,
    caller: Caller,
    date: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_DAYS)?;
    let date = parse_date(&date)?;
    let day = with_conn(&ctx, move |conn, _| Ok(days::get(conn, date)?)).await?;
    Ok(HttpResponse::Ok().json(day))
}

/// Closes and seals a day that is over and reconciled (a stored run covers it, and none of
/// its exceptions is open or awaiting approval): no entry dated in it is accepted afterwards. The seal
/// is the base64 Ed25519 signature of `onecard-day-seal\n<date>\n<last_entry_hash>\n<entries>`,
/// checkable with the key from `GET /v1/signing-key`. Closing a closed day answers it unchanged.
#[utoipa::path(post, path = "/v1/days/{date}/close", tag = "days", params(("date" = String, Path, format = Date, description = "YYYY-MM-DD")),
    responses((status = 200, body = days::Day), (status = 409, description = "day_not_over; not_reconciled: no reconciliation run covers the day; open_exceptions: exceptions open or awaiting a second person (claimed ones do not hold the day)"), (status = 422, description = "invalid_request: the date is not YYYY-MM-DD"), (status = 403, description = "forbidden: only finance, supervisor may do this")),
    security(("bearer" = [])))]
pub async fn close(
    ctx: web::Data<AppContext>,
    caller: Caller,
    date: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.require(may::CLOSE_DAY)?.actor();
    let date = parse_date(&date)?;
    let today = ctx.business_today();
    let day = days::close(&ctx.writer, ctx.keys.clone(), date, today, actor).await?;
    Ok(HttpResponse::Ok().json(day))
}
